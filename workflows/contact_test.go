package workflows_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// contactRun drives a ContactWorkflow: events at offsets, a state query at
// each offset asked for, and a cancel at the end so the entity workflow stops.
type contactRun struct {
	*harness
	started []string // child workflow IDs, in start order
	states  map[time.Duration]workflows.ContactState
}

func newContactRun(t *testing.T, h *harness) *contactRun {
	r := &contactRun{harness: h, states: map[time.Duration]workflows.ContactState{}}
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		r.started = append(r.started, info.WorkflowExecution.ID)
	})
	return r
}

func (r *contactRun) send(offset time.Duration, ev workflows.Event) {
	r.at(offset, func() { r.env.SignalWorkflow(workflows.SignalEvent, ev) })
}

func (r *contactRun) queryAt(offset time.Duration) {
	r.at(offset, func() {
		v, err := r.env.QueryWorkflow(workflows.QueryState)
		if err != nil {
			r.t.Error(err)
			return
		}
		var st workflows.ContactState
		if err := v.Get(&st); err != nil {
			r.t.Error(err)
		}
		r.states[offset] = st
	})
}

func (r *contactRun) run(contactID string, until time.Duration) {
	r.t.Helper()
	r.at(until, r.env.CancelWorkflow)
	r.env.ExecuteWorkflow(workflows.ContactWorkflowName, workflows.NewContact(contactID))
	if err := r.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		r.t.Fatalf("contact workflow ended with %v, want cancelled", err)
	}
}

// welcomeHarness routes into the welcomes and post-purchase only.
func welcomeHarness(t *testing.T, contacts ...models.Contact) *harness {
	return newHarnessFor(t, []string{"welcome_b2b", "welcome_ecommerce", "post_purchase"}, contacts...)
}

func identify(traits map[string]any, at time.Time) workflows.Event {
	return workflows.Event{MessageID: "identify@" + at.Format(time.RFC3339), Kind: workflows.KindIdentify, Traits: traits, Timestamp: at}
}

func TestContactRoutesB2BSignUp(t *testing.T) {
	r := newContactRun(t, welcomeHarness(t, dana))
	r.send(0, identify(map[string]any{"account_type": "b2b", "email": dana.Email}, testStart))
	r.send(time.Second, trackEvent(workflows.EventSignedUp, nil, testStart))
	r.queryAt(time.Hour)
	r.queryAt(15 * 24 * hour)
	r.run(dana.ID, 16*24*hour)

	if want := []string{"journey/welcome_b2b/u-dana"}; !slices.Equal(r.started, want) {
		t.Fatalf("started %v, want %v", r.started, want)
	}
	if len(r.emails) != 6 || r.emails[0].Template != "welcome_b2b/welcome" {
		t.Errorf("emails: %v", r.sent())
	}
	if running := r.states[time.Hour].Running; len(running) != 1 || running[0].WorkflowID != "journey/welcome_b2b/u-dana" {
		t.Errorf("running at +1h = %+v", running)
	}
	if running := r.states[15*24*hour].Running; len(running) != 0 {
		t.Errorf("running after the journey ended = %+v", running)
	}
	if st := r.states[time.Hour]; st.Traits["account_type"] != "b2b" || st.Events != 2 {
		t.Errorf("state = %+v", st)
	}
}

func TestContactRoutesShopperAndForwardsGoal(t *testing.T) {
	r := newContactRun(t, welcomeHarness(t, maya))
	r.send(0, trackEvent(workflows.EventSignedUp, map[string]any{"plan": "free"}, testStart))
	r.send(30*hour, trackEvent(workflows.EventOrderCompleted, map[string]any{"order_id": "o-1"}, testStart.Add(30*hour)))
	r.queryAt(31 * hour)
	r.run(maya.ID, 32*24*hour)

	// The order ends the welcome and starts the post-purchase journey for that order.
	if want := []string{"journey/welcome_ecommerce/u-maya", "journey/post_purchase/u-maya/o-1"}; !slices.Equal(r.started, want) {
		t.Fatalf("started %v, want %v", r.started, want)
	}
	r.assertSent(
		"+0h welcome_ecommerce/welcome recorded",
		"+30h post_purchase/confirmation recorded",
		"+78h post_purchase/shipping recorded",
		"+366h post_purchase/cross_sell recorded",
		"+750h post_purchase/loyalty recorded",
	)
	if running := r.states[31*hour].Running; len(running) != 1 || running[0].WorkflowID != "journey/post_purchase/u-maya/o-1" {
		t.Errorf("running after the goal = %+v", running)
	}
}

// A conversion event that is not a goal (a trial, for the B2B welcome)
// reaches the running journey from version 3, which records its run as
// converted and goes on with its plan.
func TestContactForwardsConversions(t *testing.T) {
	r := newContactRun(t, welcomeHarness(t, dana))
	r.send(0, identify(map[string]any{"account_type": "b2b", "email": dana.Email}, testStart))
	r.send(time.Second, trackEvent(workflows.EventSignedUp, nil, testStart))
	r.send(40*hour, trackEvent(workflows.EventTrialStarted, nil, testStart.Add(40*hour)))
	r.run(dana.ID, 16*24*hour)

	if len(r.emails) != 6 {
		t.Errorf("the welcome did not go on after the trial: %v", r.sent())
	}
	var runs []models.JourneyRun
	if err := r.store.DB().Find(&runs).Error; err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Journey != "welcome_b2b" || runs[0].Outcome != workflows.OutcomeConverted || runs[0].Reason != workflows.EventTrialStarted ||
		runs[0].WorkflowID != "journey/welcome_b2b/u-dana" || runs[0].ContactID != dana.ID {
		t.Errorf("runs = %+v", runs)
	}
}

// The gateway folds a contact's queued events into one "events" signal; the
// workflow handles them one by one, in order, as if they came apart: here
// the sign-up starts the welcome and the order in the same signal ends it.
func TestContactHandlesFoldedEventsInOrder(t *testing.T) {
	r := newContactRun(t, welcomeHarness(t, maya))
	signup := trackEvent(workflows.EventSignedUp, nil, testStart)
	order := trackEvent(workflows.EventOrderCompleted, map[string]any{"order_id": "o-1"}, testStart)
	order.MessageID = "m-order"
	r.at(0, func() { r.env.SignalWorkflow(workflows.SignalEvents, []workflows.Event{signup, order, signup}) })
	r.queryAt(time.Hour)
	r.run(maya.ID, 2*hour)

	if want := []string{"journey/welcome_ecommerce/u-maya", "journey/post_purchase/u-maya/o-1"}; !slices.Equal(r.started, want) {
		t.Fatalf("started %v, want %v", r.started, want)
	}
	if got := r.states[time.Hour].Events; got != 2 {
		t.Errorf("events counted = %d, want 2 (the repeated sign-up is a duplicate)", got)
	}
}

// The welcome runs once per contact: a second Signed Up, during or after it, starts nothing.
func TestContactWelcomeOnlyOnce(t *testing.T) {
	r := newContactRun(t, welcomeHarness(t, maya))
	r.send(0, trackEvent(workflows.EventSignedUp, nil, testStart))
	r.send(hour, trackEvent(workflows.EventSignedUp, nil, testStart.Add(hour)))
	r.send(20*24*hour, trackEvent(workflows.EventSignedUp, nil, testStart.Add(20*24*hour)))
	r.run(maya.ID, 30*24*hour)

	if len(r.started) != 1 {
		t.Errorf("started %v, want one welcome", r.started)
	}
	if len(r.emails) != 3 {
		t.Errorf("emails: %v", r.sent())
	}
}

// An event delivered twice (the relay retrying) is handled once.
func TestContactDropsDuplicateEvents(t *testing.T) {
	r := newContactRun(t, welcomeHarness(t, maya))
	ev := trackEvent("Product Viewed", nil, testStart)
	r.send(0, ev)
	r.send(time.Minute, ev)
	r.queryAt(time.Hour)
	r.run(maya.ID, 2*hour)
	if got := r.states[time.Hour].Events; got != 1 {
		t.Errorf("events counted = %d, want 1", got)
	}
}

// NUDGE_JOURNEYS decides which journeys may start.
func TestContactOnlyStartsEnabledJourneys(t *testing.T) {
	h := newHarness(t, maya)
	router := &workflows.Router{Enabled: []string{"welcome_b2b"}, Settings: workflows.DefaultSettings()}
	h.env.RegisterWorkflowWithOptions(router.ContactWorkflow, workflow.RegisterOptions{Name: "ContactWorkflowB2BOnly"})
	r := newContactRun(t, h)
	r.send(0, trackEvent(workflows.EventSignedUp, nil, testStart))
	r.at(time.Hour, r.env.CancelWorkflow)
	r.env.ExecuteWorkflow("ContactWorkflowB2BOnly", workflows.NewContact(maya.ID))
	if len(r.started) != 0 || len(r.emails) != 0 {
		t.Errorf("started %v and sent %v with welcome_ecommerce disabled", r.started, r.sent())
	}
}

// When Temporal suggests it, the workflow continues as new, carrying its
// state, after handling what it had received.
func TestContactContinuesAsNew(t *testing.T) {
	h := welcomeHarness(t, maya)
	h.env.SetContinueAsNewSuggested(true)
	r := newContactRun(t, h)
	r.send(0, trackEvent(workflows.EventSignedUp, nil, testStart))
	h.env.ExecuteWorkflow(workflows.ContactWorkflowName, workflows.NewContact(maya.ID))

	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	if can.WorkflowType.Name != workflows.ContactWorkflowName {
		t.Errorf("continued as %q", can.WorkflowType.Name)
	}
	var next workflows.ContactState
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.ContactID != maya.ID || next.Events != 1 || len(next.Running) != 1 ||
		next.Running[0].WorkflowID != "journey/welcome_ecommerce/u-maya" || next.Entered["welcome_ecommerce"].IsZero() {
		t.Errorf("carried state = %+v", next)
	}
}
