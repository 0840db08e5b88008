package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/workflows"
)

// adClick is a page view that landed from a Google ad.
func adClick() workflows.Event {
	ev := workflows.Event{Kind: workflows.KindPage, Name: "Boots", Timestamp: testStart,
		Properties: map[string]any{"url": "https://shop.example.com/boots?gclid=Cj0KCQ"},
		AdClick:    &workflows.AdClick{ClickIDType: "gclid", Campaign: "spring", URL: "https://shop.example.com/boots?gclid=Cj0KCQ"}}
	return ev
}

func TestAdClickFollowupNoConversion(t *testing.T) {
	h := newHarness(t, sam)
	st := h.runJourney("ad_click_followup", sam.ID, adClick())
	h.assertSent("+4h ad_click_followup/come_back recorded")
	if got := h.emails[0].Subject; got != "Still thinking it over, Sam?" {
		t.Errorf("subject = %q", got)
	}
	if text := h.message("ad_click_followup", "come_back").Text; !strings.Contains(text, "Pick up where you left off: https://shop.example.com/boots?gclid=Cj0KCQ") {
		t.Errorf("the email does not lead back to the landing page:\n%s", text)
	}
	if !hasEntry(st, "check", "in the retarget segment until an order, or 30 days: the retargeting audience follows it") {
		t.Errorf("timeline does not say where the contact went:\n%v", st.Timeline)
	}
	h.assertRun("ad_click_followup", workflows.OutcomeCompleted, "")
}

// A sign-up or an order within 4 hours is what the ad was for: no email.
func TestAdClickFollowupConverted(t *testing.T) {
	for _, goal := range []string{workflows.EventSignedUp, workflows.EventOrderCompleted} {
		t.Run(goal, func(t *testing.T) {
			h := newHarness(t, sam)
			h.track(3*hour, goal, map[string]any{"order_id": "1001", "total": 64.0})
			st := h.runJourney("ad_click_followup", sam.ID, adClick())
			h.assertSent()
			if st.Step != "goal: "+goal {
				t.Errorf("step = %q", st.Step)
			}
			h.assertRun("ad_click_followup", workflows.OutcomeConverted, goal)
		})
	}
}

func productViewed() workflows.Event {
	return trackEvent(workflows.EventProductViewed, map[string]any{
		"product_id": "sku-boot", "name": "Trail boot", "price": 149.0, "currency": "USD",
		"url": "https://shop.example.com/p/trail-boot", "image_url": "https://cdn.example.com/boot.jpg",
	}, testStart)
}

func TestBrowseAbandonment(t *testing.T) {
	h := newHarness(t, sam)
	h.runJourney("browse_abandonment", sam.ID, productViewed())
	h.assertSent("+2h browse_abandonment/still_looking recorded")
	if got := h.emails[0].Subject; got != "Still have your eye on Trail boot?" {
		t.Errorf("subject = %q", got)
	}
	text := h.message("browse_abandonment", "still_looking").Text
	for _, want := range []string{"Trail boot", "Take another look: https://shop.example.com/p/trail-boot"} {
		if !strings.Contains(text, want) {
			t.Errorf("the email lacks %q:\n%s", want, text)
		}
	}
	h.assertRun("browse_abandonment", workflows.OutcomeCompleted, "")
}

// Adding it to the cart within 2 hours ends it without an email; the
// abandoned cart takes over from there.
func TestBrowseAbandonmentEndsAtTheCart(t *testing.T) {
	h := newHarness(t, sam)
	h.track(90*time.Minute, workflows.EventProductAdded, map[string]any{"product_id": "sku-boot"})
	st := h.runJourney("browse_abandonment", sam.ID, productViewed())
	h.assertSent()
	if st.Step != "goal: "+workflows.EventProductAdded {
		t.Errorf("step = %q", st.Step)
	}
}

// Once a week at most; an ad click once a month.
func TestAdJourneysReentry(t *testing.T) {
	for name, want := range map[string]string{"browse_abandonment": "168h0m0s", "ad_click_followup": "720h0m0s"} {
		j, ok := workflows.Lookup(name)
		if !ok {
			t.Fatalf("no journey %s", name)
		}
		if got := j.Reentry.Window.String(); got != want {
			t.Errorf("%s re-entry window = %s, want %s", name, got, want)
		}
	}
}
