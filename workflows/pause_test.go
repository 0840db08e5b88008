package workflows_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nudgehq/nudge/workflows"
)

func (h *harness) setPaused(journey string, paused bool) {
	h.t.Helper()
	if err := h.store.SetJourneyPaused(context.Background(), journey, paused, "test", "admin", h.env.Now()); err != nil {
		h.t.Fatal(err)
	}
}

// A paused journey's run holds before its send; the resume signal lets it
// send what is due, once, and go on with its plan from there.
func TestPausedJourneyHoldsItsSend(t *testing.T) {
	h := newHarness(t, maya)
	h.setPaused("welcome_ecommerce", true)
	h.at(90*time.Minute, func() {
		h.setPaused("welcome_ecommerce", false)
		h.env.SignalWorkflow(workflows.SignalJourneyResumed, nil)
	})
	st := h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	h.assertSent(
		"+1h30m welcome_ecommerce/welcome recorded", // at the signal, not the next hourly check
		"+48h welcome_ecommerce/brand_story recorded",
		"+120h welcome_ecommerce/still_thinking recorded",
	)
	if !hasEntry(st, "wait", "the journey is paused: email: welcome_ecommerce/welcome waits until it resumes") {
		t.Errorf("the timeline hides the hold:\n%v", st.Timeline)
	}
	var n int64
	h.store.DB().Table("messages").Where("step = ?", "welcome").Count(&n)
	if n != 1 {
		t.Errorf("%d welcome rows, want 1", n)
	}
}

// A run the resume signal misses asks again within the hour.
func TestPausedJourneyChecksAgainHourly(t *testing.T) {
	h := newHarness(t, maya)
	h.setPaused("welcome_ecommerce", true)
	h.at(90*time.Minute, func() { h.setPaused("welcome_ecommerce", false) }) // no signal
	h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	if got := h.sent(); len(got) == 0 || got[0] != "+2h welcome_ecommerce/welcome recorded" {
		t.Errorf("sent %v, want the welcome at the second hourly check, +2h", got)
	}
}

// A goal reached while the run holds ends it without the send.
func TestPausedJourneyEndsOnGoal(t *testing.T) {
	h := newHarness(t, maya)
	h.setPaused("welcome_ecommerce", true)
	h.track(30*time.Minute, workflows.EventOrderCompleted, order("1001", ""))
	h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	if got := h.sent(); len(got) != 0 {
		t.Errorf("sent %v while paused", got)
	}
	h.assertRun("welcome_ecommerce", workflows.OutcomeConverted, workflows.EventOrderCompleted)
}

// No contact enters a paused journey.
func TestPausedJourneyTakesNoNewContacts(t *testing.T) {
	r := newContactRun(t, welcomeHarness(t, maya))
	r.router.SetPaused([]string{"welcome_ecommerce"})
	r.send(0, trackEvent(workflows.EventSignedUp, map[string]any{"plan": "free"}, testStart))
	r.at(time.Hour, func() { r.router.SetPaused(nil) })
	r.send(2*time.Hour, trackEvent(workflows.EventOrderCompleted, map[string]any{"order_id": "o-1"}, testStart.Add(2*time.Hour)))
	r.run(maya.ID, 3*time.Hour)
	if slices.Contains(r.started, "journey/welcome_ecommerce/u-maya") || !slices.Contains(r.started, "journey/post_purchase/u-maya/o-1") {
		t.Errorf("started %v: the welcome was paused at the sign-up, post-purchase was not", r.started)
	}
}
