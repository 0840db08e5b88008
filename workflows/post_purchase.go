package workflows

import (
	"go.temporal.io/sdk/workflow"
)

func init() {
	register(Journey{
		Name:     "post_purchase",
		Workflow: PostPurchase,
		Starts:   func(ev Event, _ map[string]any) bool { return ev.Is(EventOrderCompleted) && orderID(ev) != "" },
		Key:      orderID,
		KeyName:  "order",
		Reentry:  EnterOnce,
		Waits:    []string{EventOrderShipped, EventOrderDelivered},
		Goals:    []string{EventOrderRefunded, EventOrderCancelled}, // exits: it has no conversion of its own
	})
}

// PostPurchase turns a first order into the next one: a receipt, shipping
// news, a review request once it has been used for a few days, something
// that goes with it, and an invitation to the loyalty program. A refund or
// cancellation ends it.
func PostPurchase(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	order := WithOrder(in.Trigger.Order())

	// Right away: the order confirmation, with when to expect it to ship.
	j.Email("confirmation", order, Transactional())

	// When it ships, or after 2 days if no shipping news comes: the
	// shipping confirmation, with tracking when we have it.
	j.WaitFor(EventOrderShipped, 2*Day)
	j.Email("shipping", order, tracking(j), Transactional())

	// 3 days after delivery: a review request, photos welcome. An order not
	// delivered by day 11 gets no review request.
	if j.WaitFor(EventOrderDelivered, j.Until(11*Day)) {
		j.WaitAfter(EventOrderDelivered, 3*Day)
		j.Email("review_request", order)
	}

	// Day 14: something that goes with what they bought.
	j.WaitUntil(14 * Day)
	j.Email("cross_sell", order)

	// Day 30: the loyalty and referral program.
	j.WaitUntil(30 * Day)
	j.Email("loyalty", order)

	return j.End()
}

// orderID is the key of an order event.
func orderID(ev Event) string { return ev.Property("order_id") }

// tracking is what the latest Order Shipped says about the parcel; nothing
// before it has shipped.
func tracking(j *Run) Option {
	ev, ok := j.Latest(EventOrderShipped)
	if !ok {
		return Options()
	}
	return WithShipment(ev.Shipment())
}
