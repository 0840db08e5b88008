package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// openTask gives the contact a rep: an open sales task.
func (h *harness) openTask(contactID string) *models.Task {
	h.t.Helper()
	task, err := h.store.OpenTask(context.Background(), &models.Task{ContactID: contactID, Kind: "mql_follow_up", Title: "Follow up", RepName: "Dana"})
	if err != nil {
		h.t.Fatal(err)
	}
	return task
}

// closeTask closes it at offset and tells the run, as the gateway does.
func (h *harness) closeTask(offset time.Duration, task *models.Task) {
	h.at(offset, func() {
		if _, err := h.store.CloseTask(context.Background(), task.ID, "done", "talked", h.env.Now()); err != nil {
			h.t.Fatal(err)
		}
		h.env.SignalWorkflow(workflows.SignalEvent, trackEvent(workflows.EventSalesTaskClosed, nil, h.start.Add(offset)))
	})
}

// While a rep has the contact, every marketing journey holds its sends,
// not only nurture: a person is talking to them. Closing the task lets the
// held send go at once, and the plan goes on from there.
func TestMarketingHoldsWhileASalesTaskIsOpen(t *testing.T) {
	h := newHarness(t, maya)
	h.closeTask(3*time.Hour, h.openTask(maya.ID))
	st := h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	h.assertSent(
		"+3h welcome_ecommerce/welcome recorded", // when the task closed, not the next hourly check
		"+48h welcome_ecommerce/brand_story recorded",
		"+120h welcome_ecommerce/still_thinking recorded",
	)
	if !hasEntry(st, "wait", "a sales task is open: email: welcome_ecommerce/welcome waits until it is closed") {
		t.Errorf("the timeline hides the hold:\n%v", st.Timeline)
	}

	// A run from before version 4 does not hold.
	old := newHarness(t, maya)
	old.version = 3
	old.openTask(maya.ID)
	old.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	if got := old.sent(); len(got) == 0 || got[0] != "+0h welcome_ecommerce/welcome recorded" {
		t.Errorf("version 3 sent %v, want the welcome at once", got)
	}
}

// A task closed without the signal reaching the run (it was not running
// then, say) releases the send at the next hourly check.
func TestSalesHoldChecksAgainHourly(t *testing.T) {
	h := newHarness(t, maya)
	task := h.openTask(maya.ID)
	h.at(150*time.Minute, func() {
		if _, err := h.store.CloseTask(context.Background(), task.ID, "done", "talked", h.env.Now()); err != nil {
			t.Fatal(err)
		}
	})
	h.runJourney("welcome_ecommerce", maya.ID, signedUpShop)
	if got := h.sent(); len(got) == 0 || got[0] != "+3h welcome_ecommerce/welcome recorded" {
		t.Errorf("sent %v, want the welcome at the third hourly check, +3h", got)
	}
}

// Transactional email is not marketing: an order's confirmation and
// shipping notice go out while the rep has the contact; the review request
// and the rest wait for the task to close.
func TestTransactionalEmailGoesDuringASalesTask(t *testing.T) {
	h := newHarness(t, sam)
	h.closeTask(200*time.Hour, h.openTask(sam.ID))
	h.track(20*hour, workflows.EventOrderShipped, map[string]any{"order_id": "1001", "tracking_number": "1Z999AA10123456784", "carrier": "UPS", "tracking_url": "https://ups.example/1Z999"})
	h.track(3*24*hour, workflows.EventOrderDelivered, map[string]any{"order_id": "1001"})
	h.runJourney("post_purchase", sam.ID, orderCompleted("1001", tote))
	h.assertSent(
		"+0h post_purchase/confirmation recorded",
		"+20h post_purchase/shipping recorded",
		"+200h post_purchase/review_request recorded", // due at +144h, held until the task closed
		"+336h post_purchase/cross_sell recorded",
		"+720h post_purchase/loyalty recorded",
	)
}
