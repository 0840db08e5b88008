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
	j.RecordCart()
	j.Email("reminder", cart(j)...)

	// 24 hours: what other buyers say about these products, and answers to
	// the questions that stop people at checkout.
	j.WaitUntil(24 * time.Hour)
	j.Email("social_proof", cart(j)...)

	// Right after that, an SMS for a big cart (consent and quiet hours
	// permitting).
	if value, currency := cartValue(j); value >= settings.CartSMSThreshold {
		j.SMS("reminder", cart(j)...)
	} else {
		j.Note(fmt.Sprintf("cart of %s is under the %s SMS threshold: no SMS", Money(value, currency), Money(settings.CartSMSThreshold, currency)))
	}

	// 72 hours: the incentive, unless margin matters more.
	j.WaitUntil(72 * time.Hour)
	switch settings.CartIncentive {
	case IncentiveFreeShipping:
		j.Email("incentive", append(cart(j), With("incentive", IncentiveFreeShipping))...)
	case IncentiveDiscount:
		code := j.DiscountCode(settings.CartDiscountPercent)
		j.Email("incentive", append(cart(j), With("incentive", IncentiveDiscount),
			With("discount_code", code), With("discount_percent", settings.CartDiscountPercent))...)
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

// cart is what every cart message shows, from the latest Checkout Started.
func cart(j *Run) []Option {
	ev, _ := j.Latest(EventCheckoutStarted)
	value, currency := cartValue(j)
	url := ev.Property("cart_url")
	if url == "" {
		url = ev.Property("url")
	}
	return []Option{
		With("checkout_id", j.Input().Key),
		With("products", ev.Products()),
		With("value", value),
		With("value_display", Money(value, currency)),
		With("currency", currency),
		With("cart_url", url),
	}
}

// cartValue is the cart's value: the event's value (or total, or revenue),
// else the sum of its products.
func cartValue(j *Run) (float64, string) {
	ev, _ := j.Latest(EventCheckoutStarted)
	currency := ev.Property("currency")
	if currency == "" {
		currency = "USD"
	}
	for _, key := range []string{"value", "total", "revenue"} {
		if v, ok := ev.Number(key); ok {
			return v, currency
		}
	}
	var sum float64
	for _, p := range ev.Products() {
		item := Event{Properties: asMap(p)}
		price, _ := item.Number("price")
		qty, ok := item.Number("quantity")
		if !ok {
			qty = 1
		}
		sum += price * qty
	}
	return sum, currency
}

// RecordCart notes that the checkout was abandoned, for recovery reporting
// and for attributing its order to this journey.
func (j *Run) RecordCart() {
	if !j.active() {
		return
	}
	ev, _ := j.Latest(EventCheckoutStarted)
	value, currency := cartValue(j)
	j.localActivity(RecordCartActivity, "record abandoned cart", CartRequest{
		ContactID: j.in.ContactID, CheckoutID: j.in.Key, Value: value, Currency: currency,
		Products: ev.Products(), At: workflow.Now(j.ctx),
	}, nil)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
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
