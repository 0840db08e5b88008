package workflows_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var maya = models.Contact{ID: "u-maya", Email: "maya@example.com", FirstName: "Maya", LifecycleStage: models.StageSubscriber}

var signedUpShop = trackEvent(workflows.EventSignedUp, nil, testStart)

var codePattern = regexp.MustCompile(`^HELLO-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$`)

func TestWelcomeEcommerceNoPurchase(t *testing.T) {
	h := newHarness(t, maya)
	st := h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)

	h.assertSent(
		"+0h welcome_ecommerce/welcome recorded",
		"+48h welcome_ecommerce/brand_story recorded",
		"+120h welcome_ecommerce/still_thinking recorded",
	)
	if got := h.emails[0].Subject; got != "Welcome to Acme, Maya: 10% off your first order" {
		t.Errorf("welcome subject = %q", got)
	}
	if got := h.emails[2].Subject; got != "Still thinking it over? Your 10% is waiting" {
		t.Errorf("day 5 subject = %q", got)
	}

	// The code is the contact's own, and both emails carry the same one.
	var code models.DiscountCode
	if err := h.store.DB().Where("contact_id = ?", maya.ID).Take(&code).Error; err != nil {
		t.Fatal(err)
	}
	if !codePattern.MatchString(code.Code) || code.Percent != 10 || code.Campaign != "welcome_ecommerce" {
		t.Errorf("discount code = %+v", code)
	}
	msgs, err := h.store.Messages(context.Background(), maya.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		hasCode := regexp.MustCompile(regexp.QuoteMeta(code.Code)).MatchString(m.Text)
		if want := m.Step != "brand_story"; hasCode != want {
			t.Errorf("%s mentions the code: %v, want %v", m.Step, hasCode, want)
		}
	}
	if st.Step != "ended" {
		t.Errorf("step = %q", st.Step)
	}
}

func TestWelcomeEcommerceEndsOnFirstOrder(t *testing.T) {
	h := newHarness(t, maya)
	h.track(30*hour, workflows.EventOrderCompleted, map[string]any{"order_id": "o-1", "total": 42.5})
	st := h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)

	h.assertSent("+0h welcome_ecommerce/welcome recorded")
	if got := h.env.Now().Sub(h.start); got != 30*hour {
		t.Errorf("journey ended at +%s, want +30h, the moment of the order", got)
	}
	if st.Step != "goal: Order Completed" || !hasEntry(st, "exit", "Order Completed arrived: goal reached, no further steps") {
		t.Errorf("state = %q, timeline:\n%v", st.Step, st.Timeline)
	}
}

func TestWelcomeEcommerceOrderOnDay5(t *testing.T) {
	h := newHarness(t, maya)
	h.track(5*24*hour-time.Minute, workflows.EventOrderCompleted, nil)
	h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	h.assertSent(
		"+0h welcome_ecommerce/welcome recorded",
		"+48h welcome_ecommerce/brand_story recorded",
	)
}

// Unsubscribing stops marketing email even for a journey already waiting on
// its timer; each skipped step says why.
// A contact who unsubscribes while in the journey ends it unsubscribed in
// its results; an order ends it converted.
func TestWelcomeEcommerceOutcomes(t *testing.T) {
	h := newHarness(t, maya)
	h.track(30*hour, workflows.EventUnsubscribed, nil)
	h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	h.assertRun("welcome_ecommerce", workflows.OutcomeUnsubscribed, workflows.EventUnsubscribed)

	h = newHarness(t, maya)
	h.track(30*hour, workflows.EventOrderCompleted, order("1001", ""))
	h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	h.assertRun("welcome_ecommerce", workflows.OutcomeConverted, workflows.EventOrderCompleted)
}

func TestWelcomeEcommerceUnsubscribedMidway(t *testing.T) {
	h := newHarness(t, maya)
	h.at(24*hour, func() {
		if _, err := h.store.Unsubscribe(context.Background(), maya.ID, h.env.Now()); err != nil {
			t.Error(err)
		}
	})
	st := h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	h.assertSent(
		"+0h welcome_ecommerce/welcome recorded",
		"+48h welcome_ecommerce/brand_story skipped",
		"+120h welcome_ecommerce/still_thinking skipped",
	)
	for _, e := range h.emails[1:] {
		if e.Reason != "unsubscribed from marketing email" {
			t.Errorf("%s skipped for %q", e.Template, e.Reason)
		}
	}
	if !hasEntry(st, "skip", "unsubscribed from marketing email") {
		t.Errorf("timeline hides the skip:\n%v", st.Timeline)
	}
}

func TestWelcomeEcommerceNoEmailAddress(t *testing.T) {
	c := models.Contact{ID: "u-noemail", FirstName: "Ana", LifecycleStage: models.StageSubscriber}
	h := newHarness(t, c)
	h.runJourney("welcome_ecommerce", c.ID, signedUpShop)
	h.assertSent(
		"+0h welcome_ecommerce/welcome skipped",
		"+48h welcome_ecommerce/brand_story skipped",
		"+120h welcome_ecommerce/still_thinking skipped",
	)
	if h.emails[0].Reason != "no email address" {
		t.Errorf("reason = %q", h.emails[0].Reason)
	}
}
