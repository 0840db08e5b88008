package workflows_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/workflows"
)

func orderCompleted(id string, products ...any) workflows.Event {
	return trackEvent(workflows.EventOrderCompleted, map[string]any{
		"order_id": id, "total": 89.0, "currency": "USD", "products": products,
	}, testStart)
}

var knit = map[string]any{"product_id": "sku-merino", "name": "Merino crew", "price": 120.0, "quantity": 1.0, "category": "knitwear"}

func TestPostPurchaseShippedAndDelivered(t *testing.T) {
	h := newHarness(t, sam)
	h.track(20*hour, workflows.EventOrderShipped, map[string]any{"order_id": "1001", "tracking_number": "1Z999AA10123456784", "carrier": "UPS", "tracking_url": "https://ups.example/1Z999"})
	h.track(3*24*hour, workflows.EventOrderDelivered, map[string]any{"order_id": "1001"})
	st := h.runJourney("post_purchase", sam.ID, orderCompleted("1001", tote))

	h.assertSent(
		"+0h post_purchase/confirmation recorded",
		"+20h post_purchase/shipping recorded",
		"+144h post_purchase/review_request recorded",
		"+336h post_purchase/cross_sell recorded",
		"+720h post_purchase/loyalty recorded",
	)
	want := []string{
		"Order 1001 confirmed: thank you, Sam",
		"Order 1001 has shipped",
		"How are you finding your order, Sam?",
		"The zip pouch goes well with your last order",
		"You are invited to Acme Rewards",
	}
	for i, subject := range want {
		if h.emails[i].Subject != subject {
			t.Errorf("email %d subject = %q, want %q", i, h.emails[i].Subject, subject)
		}
	}
	if text := h.message("post_purchase", "confirmation").Text; !strings.Contains(text, "It will ship within 2 to 4 business days") {
		t.Errorf("confirmation lacks the shipping window:\n%s", text)
	}
	if text := h.message("post_purchase", "shipping").Text; !strings.Contains(text, "Tracking number: 1Z999AA10123456784") || !strings.Contains(text, "with UPS") {
		t.Errorf("shipping email lacks tracking:\n%s", text)
	}
	if text := h.message("post_purchase", "review_request").Text; !strings.Contains(text, "/reviews/new?order=1001&photo=1") {
		t.Errorf("review request lacks the photo option:\n%s", text)
	}
	if st.Step != "ended" {
		t.Errorf("step = %q", st.Step)
	}
}

// No shipping news in two days: the shipping email goes anyway, without
// tracking. Never delivered by day 11: no review request.
func TestPostPurchaseNoNews(t *testing.T) {
	h := newHarness(t, sam)
	st := h.runJourney("post_purchase", sam.ID, orderCompleted("1001", knit))
	h.assertSent(
		"+0h post_purchase/confirmation recorded",
		"+48h post_purchase/shipping recorded",
		"+336h post_purchase/cross_sell recorded",
		"+720h post_purchase/loyalty recorded",
	)
	if got := h.emails[1].Subject; got != "Order 1001 is on its way" {
		t.Errorf("shipping subject = %q", got)
	}
	if got := h.emails[2].Subject; got != "Wool wash goes well with your last order" {
		t.Errorf("cross-sell for knitwear = %q", got)
	}
	if !hasEntry(st, "check", "Order Delivered not received") {
		t.Errorf("timeline does not say why there was no review request:\n%v", st.Timeline)
	}
}

func TestPostPurchaseRefundEndsIt(t *testing.T) {
	for _, goal := range []string{workflows.EventOrderRefunded, workflows.EventOrderCancelled} {
		t.Run(goal, func(t *testing.T) {
			h := newHarness(t, sam)
			h.track(5*24*hour, goal, map[string]any{"order_id": "1001"})
			st := h.runJourney("post_purchase", sam.ID, orderCompleted("1001", tote))
			h.assertSent("+0h post_purchase/confirmation recorded", "+48h post_purchase/shipping recorded")
			if st.Step != "goal: "+goal {
				t.Errorf("step = %q", st.Step)
			}
			h.assertRun("post_purchase", workflows.OutcomeExited, goal) // a goal, but no conversion
		})
	}
}

// News about another order is not this order's.
func TestPostPurchaseIgnoresOtherOrders(t *testing.T) {
	h := newHarness(t, sam)
	h.track(10*hour, workflows.EventOrderShipped, map[string]any{"order_id": "9999", "tracking_number": "X"})
	h.track(11*hour, workflows.EventOrderRefunded, map[string]any{"order_id": "9999"})
	h.runJourney("post_purchase", sam.ID, orderCompleted("1001", tote))
	if len(h.emails) != 4 || h.emails[1].Offset != 48*hour {
		t.Errorf("emails: %v", h.sent())
	}
}

// Receipts reach a contact who unsubscribed from marketing; the review
// request and the offers do not.
func TestPostPurchaseUnsubscribed(t *testing.T) {
	h := newHarness(t, sam)
	if _, err := h.store.Unsubscribe(context.Background(), sam.ID, testStart); err != nil {
		t.Fatal(err)
	}
	h.track(3*24*hour, workflows.EventOrderDelivered, map[string]any{"order_id": "1001"})
	h.runJourney("post_purchase", sam.ID, orderCompleted("1001", tote))
	h.assertSent(
		"+0h post_purchase/confirmation recorded",
		"+48h post_purchase/shipping recorded",
		"+144h post_purchase/review_request skipped",
		"+336h post_purchase/cross_sell skipped",
		"+720h post_purchase/loyalty skipped",
	)
}
