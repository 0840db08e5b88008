package workflows

import (
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ContactWorkflowName is the workflow type the gateway starts, one per
// contact, with ID ContactWorkflowID(contact).
const ContactWorkflowName = "ContactWorkflow"

// ContactWorkflowID is the readable workflow ID of a contact's workflow,
// with the contact ID encoded as EncodeID says.
func ContactWorkflowID(contactID string) string { return "contact/" + EncodeID(contactID) }

// CurrentVersion is the behaviour new contact and journey runs get.
//
// A run's version is part of its input, so replay sees the one it started
// with, and deciding by it costs nothing in the history. Runs started
// before versions were in the input have version 0: they decide with the
// workflow.GetVersion calls their histories recorded. Version 2 is the same
// behaviour as the latest of those, with less written to Temporal per
// sign-up: no GetVersion markers (each also upserts a search attribute), no
// search-attribute upsert that repeats what the start set, no engagement
// clock before the first event, and JourneyStep upserted for waits only, not
// for the moment a send takes. A change to what runs do gets a new version
// here, and an if on it where the behaviour differs.
//
// Version 3 records each journey run and how it ended (RecordJourney, at
// the start and the end of a run) and forwards conversion events
// (Journey.Converts) to running journeys.
//
// Version 4 sends the cart SMS only to carts over the threshold (not at
// it), holds every marketing send while a sales task is open (not only
// nurture's), forwards Sales Task Closed to every running journey so a
// held send goes at once, and lets nurture count clicks and page views as
// engagement, not opens alone.
//
// Version 5 counts in-app reads and clicks as engagement in scoring and on
// the engagement clock, forwards them to the journeys that read engagement
// (nurture counts them, they end win-back; Journey.Since), puts the B2B
// welcome's getting-started message in the inbox, and hands a merged contact's running journeys to
// the contact it was merged into.
const CurrentVersion = 5

// hasChange reports whether a run has the change that workflow.GetVersion
// marker changeID brought: every run from version 2 has them all; an older
// run asks its history, as it always did.
func hasChange(ctx workflow.Context, version int, changeID string) bool {
	return version >= 2 || workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1) == 1
}

// NewContact is the input of a contact's first run.
func NewContact(contactID string) ContactState {
	return ContactState{ContactID: contactID, Stage: StageSubscriber, Version: CurrentVersion}
}

// StartAttributes are the search attributes a contact's run starts with, so
// that it need not set them itself.
func StartAttributes(contactID string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(ContactIDKey.ValueSet(contactID), LeadScoreKey.ValueSet(0), LifecycleStageKey.ValueSet(StageSubscriber))
}

// ContactState is everything ContactWorkflow remembers about a contact. It is
// the workflow's input, so it carries over when the workflow continues as new.
type ContactState struct {
	ContactID string
	Stage     string
	LeadScore int64
	// Traits are the identify traits so far, for journey triggers.
	Traits  map[string]any `json:",omitempty"`
	Running []RunningJourney
	// Entered is when the contact last entered each journey (name, or
	// name/key for keyed journeys), for re-entry rules.
	Entered map[string]time.Time `json:",omitempty"`
	// Recent holds the last message IDs seen, so an event delivered twice
	// (the relay retrying after a lost acknowledgement) is handled once.
	Recent       []string `json:",omitempty"`
	Events       int
	LastEventAt  time.Time `json:",omitempty"`
	Unsubscribed bool      `json:",omitempty"`

	// Lead scoring (scoring.go, lifecycle.go).
	Breakdown []ScoreChange     `json:",omitempty"` // points by rule
	Scored    map[string]bool   `json:",omitempty"` // fit rules already counted
	ScoredOn  map[string]string `json:",omitempty"` // daily rules: the day last counted
	AlertedOn map[string]string `json:",omitempty"` // daily alerts: the day last sent
	Session   Session           `json:",omitempty"`
	MQLAt     *time.Time        `json:",omitempty"`
	Owner     string            `json:",omitempty"`
	TaskID    uint64            `json:",omitempty"`
	// RecentNames are the last events, for the sales handoff's context.
	RecentNames []string `json:",omitempty"`
	// The engagement clock: the last open, click or page view, the
	// inactivity penalties taken since, and whether win-back has started.
	LastEngagedAt time.Time `json:",omitempty"`
	Decays        int       `json:",omitempty"`
	Lapsed        bool      `json:",omitempty"`

	// MergedInto is the contact this one was merged into (merge.go): its
	// journeys went there, and the events that still come here follow.
	MergedInto string `json:",omitempty"`

	// Version is the behaviour this run has (see CurrentVersion).
	Version int `json:",omitempty"`
}

// RunningJourney is a journey run the contact is in.
type RunningJourney struct {
	Journey    string
	Key        string `json:",omitempty"`
	WorkflowID string
	StartedAt  time.Time
	Settings   *Settings `json:",omitempty"` // as the run got them
}

const (
	recentEvents = 256 // message IDs kept for deduplication
	recentNames  = 10  // events kept for the sales handoff
)

// Router runs ContactWorkflow with the journeys this deployment enables
// (NUDGE_JOURNEYS) and the settings new runs get.
type Router struct {
	Enabled  []string
	Settings Settings
	// paused are the journeys no contact may enter now; the worker keeps
	// them in step with the database (SetPaused).
	paused atomic.Pointer[[]string]
}

// SetPaused sets the journeys that are paused now.
func (r *Router) SetPaused(names []string) { r.paused.Store(&names) }

// open lists the enabled journeys that are not paused. Workflows read it
// through a side effect, so a pause reaches routing without breaking the
// replay of what happened before.
func (r *Router) open() []string {
	p := r.paused.Load()
	if p == nil || len(*p) == 0 {
		return r.Enabled
	}
	return slices.DeleteFunc(slices.Clone(r.Enabled), func(name string) bool { return slices.Contains(*p, name) })
}

// ContactWorkflow is a contact's long-lived entity workflow. Every event the
// contact produces arrives here as a signal; it keeps the traits journeys
// trigger on, forwards events to the journeys that wait for them, and starts
// the journeys an event triggers. It continues as new when Temporal suggests
// it, after handling every signal it has received.
func (r *Router) ContactWorkflow(ctx workflow.Context, st ContactState) error {
	if st.Stage == "" {
		st.Stage = StageSubscriber
	}
	if st.Traits == nil {
		st.Traits = map[string]any{}
	}
	if st.Entered == nil {
		st.Entered = map[string]time.Time{}
	}
	for _, m := range []*map[string]string{&st.ScoredOn, &st.AlertedOn} {
		if *m == nil {
			*m = map[string]string{}
		}
	}
	if st.Scored == nil {
		st.Scored = map[string]bool{}
	}
	c := &contact{ContactState: st, router: r}
	// Scoring leads, moving them through the funnel, handing MQLs to sales
	// and running the engagement clock came with "lead-scoring" version 1.
	// Runs started before it go on without until they continue as new.
	c.scoring = hasChange(ctx, c.Version, "lead-scoring")
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (ContactState, error) { return c.ContactState, nil }); err != nil {
		return err
	}
	c.upsertAttributes(ctx)

	events := workflow.GetSignalChannel(ctx, SignalEvent)
	folded := workflow.GetSignalChannel(ctx, SignalEvents)
	ended := workflow.GetSignalChannel(ctx, SignalJourneyEnded)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(events, func(ch workflow.ReceiveChannel, _ bool) {
		var ev Event
		ch.Receive(ctx, &ev)
		c.handle(ctx, ev, sel)
	})
	// The gateway folds a contact's queued events into one signal: fewer
	// history events and workflow tasks than a signal each.
	sel.AddReceive(folded, func(ch workflow.ReceiveChannel, _ bool) {
		var evs []Event
		ch.Receive(ctx, &evs)
		for _, ev := range evs {
			c.handle(ctx, ev, sel)
		}
	})
	sel.AddReceive(ended, func(ch workflow.ReceiveChannel, _ bool) {
		var e JourneyEnded
		ch.Receive(ctx, &e)
		c.finished(e.WorkflowID)
		if c.MergedInto != "" {
			c.signalKept(ctx, SignalJourneyEnded, e) // a journey it handed over
		}
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalHandover), func(ch workflow.ReceiveChannel, _ bool) {
		var h Handover
		ch.Receive(ctx, &h)
		c.adopt(ctx, h, sel)
	})

	// Cancelling a contact's workflow (from the Temporal UI, say) ends it;
	// its journeys run on unless they are cancelled too.
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})

	for {
		// The clock measures silence from the last engagement; from version
		// 2 it waits for the first event to have something to measure.
		if c.scoring && c.MergedInto == "" && (c.Version < 2 || !c.LastEngagedAt.IsZero()) {
			c.armClock(ctx, sel)
		}
		sel.Select(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			continue
		}
		// Drain what has arrived, then hand the state to a fresh run.
		for sel.HasPending() {
			sel.Select(ctx)
		}
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		c.Version = CurrentVersion // the next run starts with today's behaviour
		return workflow.NewContinueAsNewError(ctx, ContactWorkflowName, c.ContactState)
	}
}

type contact struct {
	ContactState
	router     *Router
	scoring    bool
	clockArmed bool
}

func (c *contact) handle(ctx workflow.Context, ev Event, sel workflow.Selector) {
	if ev.MessageID != "" {
		if slices.Contains(c.Recent, ev.MessageID) {
			return
		}
		c.Recent = append(c.Recent, ev.MessageID)
		if len(c.Recent) > recentEvents {
			c.Recent = slices.Delete(c.Recent, 0, len(c.Recent)-recentEvents)
		}
	}
	if c.MergedInto != "" {
		c.forwardToKept(ctx, ev)
		return
	}
	if into := ev.Property("into"); ev.Is(EventContactMerged) && into != "" && into != c.ContactID {
		c.mergedInto(ctx, into)
		return
	}
	c.Events++
	c.LastEventAt = workflow.Now(ctx)
	if left := MergeTraits(c.Traits, ev.Traits); len(left) > 0 {
		workflow.GetLogger(ctx).Warn("contact has the most traits it keeps; new ones left out", "limit", MaxTraits, "left_out", left)
	}
	if ev.Is(EventUnsubscribed) {
		c.Unsubscribed = true
	}
	var made []Event
	if c.scoring {
		c.RecentNames = append(c.RecentNames, describe(ev))
		if len(c.RecentNames) > recentNames {
			c.RecentNames = slices.Delete(c.RecentNames, 0, len(c.RecentNames)-recentNames)
		}
		made = c.lifecycle(ctx, ev, c.settings(ctx))
	}
	c.route(ctx, ev, sel)
	for _, m := range made {
		c.route(ctx, m, sel)
	}
}

// route passes an event to the running journeys that listen for it, then
// starts the journeys it triggers. Running journeys hear it first, so a goal
// ends a journey before the same event can start another.
func (c *contact) route(ctx workflow.Context, ev Event, sel workflow.Selector) {
	for _, run := range slices.Clone(c.Running) {
		j, ok := Lookup(run.Journey)
		if !ok || !j.listensTo(ev, c.Version) {
			continue
		}
		settings := DefaultSettings()
		if run.Settings != nil {
			settings = *run.Settings
		}
		if j.concerns(run.Key, ev, slices.Contains(j.Goals, ev.Action()), settings) {
			c.forward(ctx, run, ev)
		}
	}
	for _, j := range c.enabledJourneys(ctx) {
		if j.Starts != nil && j.Starts(ev, c.Traits) && c.eligible(j) {
			c.start(ctx, j, ev, sel)
		}
	}
}

// eligible keeps journeys away from contacts they are not for: nurture is
// for leads who are not customers.
func (c *contact) eligible(j Journey) bool {
	return j.ForStages == nil || slices.Contains(j.ForStages, c.Stage)
}

// armClock sets the engagement clock's timer, unless one is set. When it
// fires, the silence may have been broken meanwhile: then it only re-arms.
func (c *contact) armClock(ctx workflow.Context, sel workflow.Selector) {
	if c.clockArmed {
		return
	}
	s := c.settings(ctx)
	d := max(c.nextClock(s).Sub(workflow.Now(ctx)), time.Second)
	c.clockArmed = true
	timer := workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: "engagement clock"})
	sel.AddFuture(timer, func(f workflow.Future) {
		c.clockArmed = false
		if f.Get(ctx, nil) != nil || c.MergedInto != "" || workflow.Now(ctx).Before(c.nextClock(s)) {
			return
		}
		for _, ev := range c.tick(ctx, s) {
			c.route(ctx, ev, sel)
		}
	})
}

// forward signals a running journey; a journey that has closed in the
// meantime is dropped from the running list.
func (c *contact) forward(ctx workflow.Context, run RunningJourney, ev Event) {
	err := workflow.SignalExternalWorkflow(ctx, run.WorkflowID, "", SignalEvent, ev).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Info("journey no longer running", "journey", run.WorkflowID, "error", err)
		c.finished(run.WorkflowID)
	}
}

func (c *contact) start(ctx workflow.Context, j Journey, ev Event, sel workflow.Selector) {
	var key string
	if j.Key != nil {
		if key = j.Key(ev); key == "" {
			return // a keyed journey needs its key
		}
		if err := CheckID(key); err != nil {
			// The gateway checks the keys it knows of; this guards the rest,
			// since a workflow ID Temporal refuses would fail this task forever.
			workflow.GetLogger(ctx).Warn("journey not started: its key cannot be part of a workflow ID", "journey", j.Name, "error", err)
			return
		}
	}
	id := j.WorkflowID(c.ContactID, key)
	if c.running(id) {
		return // already in it; a keyed duplicate trigger was forwarded above if it listens
	}
	entry := j.Name
	if key != "" {
		entry += "/" + key
	}
	now := workflow.Now(ctx)
	if !j.Reentry.allows(c.Entered[entry], now) {
		return
	}
	// "journey-settings" version 1 hands each new run the settings in force
	// (NUDGE_CART_* and friends); runs started before that got none.
	settings := DefaultSettings()
	if hasChange(ctx, c.Version, "journey-settings") {
		settings = c.settings(ctx)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: id,
		// Journeys outlive any one run of the contact workflow.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ContactIDKey.ValueSet(c.ContactID), JourneyKey.ValueSet(j.Name), JourneyStepKey.ValueSet("start"),
		),
		StaticSummary: fmt.Sprintf("%s for %s, entered on %s", j.Name, c.ContactID, describe(ev)),
	})
	child := workflow.ExecuteChildWorkflow(cctx, j.Name, JourneyInput{ContactID: c.ContactID, Key: key, Trigger: ev, Settings: settings, Version: CurrentVersion})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		// Already started (a run from before this one's history): it is running.
		workflow.GetLogger(ctx).Warn("journey did not start", "journey", id, "error", err)
		return
	}
	c.Entered[entry] = now
	c.Running = append(c.Running, RunningJourney{Journey: j.Name, Key: key, WorkflowID: id, StartedAt: now, Settings: &settings})
	sel.AddFuture(child, func(workflow.Future) { c.finished(id) })
}

func (c *contact) running(workflowID string) bool {
	return slices.ContainsFunc(c.Running, func(r RunningJourney) bool { return r.WorkflowID == workflowID })
}

func (c *contact) finished(workflowID string) {
	c.Running = slices.DeleteFunc(c.Running, func(r RunningJourney) bool { return r.WorkflowID == workflowID })
}

// enabledJourneys reads NUDGE_JOURNEYS through a side effect, so a worker
// restarted with another list changes routing from then on without breaking
// the replay of what happened before.
func (c *contact) enabledJourneys(ctx workflow.Context) []Journey {
	var enabled []string
	v := workflow.MutableSideEffect(ctx, "enabled-journeys", func(workflow.Context) any { return c.router.open() }, func(a, b any) bool {
		return slices.Equal(a.([]string), b.([]string))
	})
	if err := v.Get(&enabled); err != nil {
		return nil
	}
	var js []Journey
	for _, j := range Catalog() {
		if slices.Contains(enabled, j.Name) {
			js = append(js, j)
		}
	}
	return js
}

// settings reads the journey settings through a side effect, like
// enabledJourneys.
func (c *contact) settings(ctx workflow.Context) Settings {
	var s Settings
	v := workflow.MutableSideEffect(ctx, "journey-settings", func(workflow.Context) any { return c.router.Settings }, func(a, b any) bool {
		return reflect.DeepEqual(a, b)
	})
	if err := v.Get(&s); err != nil {
		return DefaultSettings()
	}
	return s
}

// upsertAttributes shows the contact's score and stage in the Temporal UI.
// From version 2 it writes only when they differ from what the run has.
func (c *contact) upsertAttributes(ctx workflow.Context) {
	if c.Version >= 2 {
		have := workflow.GetTypedSearchAttributes(ctx)
		id, _ := have.GetKeyword(ContactIDKey)
		score, _ := have.GetInt64(LeadScoreKey)
		stage, _ := have.GetKeyword(LifecycleStageKey)
		if id == c.ContactID && score == c.LeadScore && stage == c.Stage {
			return
		}
	}
	err := workflow.UpsertTypedSearchAttributes(ctx,
		ContactIDKey.ValueSet(c.ContactID), LeadScoreKey.ValueSet(c.LeadScore), LifecycleStageKey.ValueSet(c.Stage))
	if err != nil {
		workflow.GetLogger(ctx).Warn("could not set search attributes", "error", err)
	}
}
