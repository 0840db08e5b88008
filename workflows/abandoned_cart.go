package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
)

func init() {
	register(Journey{
		Name:     "abandoned_cart",
		Workflow: AbandonedCart,
		Starts:   func(ev Event, _ map[string]any) bool { return ev.Is(EventCheckoutStarted) && checkoutID(ev) != "" },
		// One run per checkout: a later update of the same checkout reaches
		// the running one and refreshes its contents.
		Key:        checkoutID,
		KeyName:    "checkout",
		Reentry:    EnterOnce,
		Waits:      []string{EventCheckoutStarted},
		Goals:      []string{EventOrderCompleted},
		Converts:   []string{EventOrderCompleted}, // the checkout's order
		AnyKeyGoal: func(s Settings) bool { return s.CartEndsOnAnyOrder },
	})
}

// AbandonedCart wins back a checkout that did not become an order: a
// reminder, then social proof, then (for big carts) an SMS, then an
// incentive. The order ends it the moment it arrives.
func AbandonedCart(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	settings := in.Settings

	// 1 hour: no order yet, so the cart counts as abandoned. Remind them of
	// what they left, with a way straight back to it; no discount yet.
	j.WaitUntil(time.Hour)
	cart := func() Option { return WithCart(latestCart(j)) }
	j.Step(RecordCartActivity, "record abandoned cart", cartRecord(j, workflow.Now(ctx)), nil)
	j.Email("reminder", cart())

	// 24 hours: what other buyers say about these products, and answers to
	// the questions that stop people at checkout.
	j.WaitUntil(24 * time.Hour)
	j.Email("social_proof", cart())

	// Right after that, an SMS for a cart over the threshold (consent and
	// quiet hours permitting). Runs before version 4 also sent one to a
	// cart of exactly the threshold.
	if c := latestCart(j); c.Value > settings.CartSMSThreshold || (in.Version < 4 && c.Value == settings.CartSMSThreshold) {
		j.SMS("reminder", cart())
	} else {
		j.Note(fmt.Sprintf("cart of %s is not over the %s SMS threshold: no SMS", Money(c.Value, c.Currency), Money(settings.CartSMSThreshold, c.Currency)))
	}

	// 72 hours: the incentive, unless margin matters more.
	j.WaitUntil(72 * time.Hour)
	incentive := settings.CartIncentive
	if incentive == IncentiveExperiment {
		incentive = cartIncentive(j) // the contact's arm (split.go)
	}
	switch incentive {
	case IncentiveFreeShipping:
		j.Email("incentive", cart(), WithIncentive(IncentiveFreeShipping))
	case IncentiveDiscount:
		code := j.DiscountCode(settings.CartDiscountPercent)
		j.Email("incentive", cart(), WithIncentive(IncentiveDiscount), WithDiscount(code, settings.CartDiscountPercent))
	case HoldoutArm:
		// Held out of the experiment: Split noted it on the timeline.
	default:
		j.Note("no incentive email: NUDGE_CART_INCENTIVE is none")
	}

	return j.End()
}

// checkoutID is the key of a checkout event: checkout_id, or Segment's cart_id.
func checkoutID(ev Event) string {
	if id := ev.Property("checkout_id"); id != "" {
		return id
	}
	return ev.Property("cart_id")
}

// latestCart is the checkout as the latest Checkout Started tells it, under
// the run's key.
func latestCart(j *Run) Cart {
	ev, _ := j.Latest(EventCheckoutStarted)
	c := ev.Cart()
	c.CheckoutID = j.Input().Key
	return c
}

// cartRecord notes that the checkout was abandoned, for recovery reporting
// and for attributing its order to this journey.
func cartRecord(j *Run, now time.Time) CartRequest {
	c := latestCart(j)
	return CartRequest{
		ContactID: j.Input().ContactID, CheckoutID: c.CheckoutID, Value: c.Value, Currency: c.Currency,
		Products: c.Products, At: now,
	}
}

// Money writes an amount the way a receipt does: $129.00, €45.50, 80.00 CAD.
func Money(v float64, currency string) string {
	symbols := map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$", "JPY": "¥"}
	if sym, ok := symbols[currency]; ok {
		if currency == "JPY" {
			return fmt.Sprintf("%s%.0f", sym, v)
		}
		return fmt.Sprintf("%s%.2f", sym, v)
	}
	return fmt.Sprintf("%.2f %s", v, currency)
}
