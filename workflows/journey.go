package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// QueryState is the query every Nudge workflow answers with its state.
const QueryState = "state"

// Run is one contact's pass through a journey. Its methods are the words a
// journey is written in: Email, WaitUntil, WaitFor, Received. Once the
// contact reaches the journey's goal (or the run is cancelled), every later
// step is skipped, so a journey reads top to bottom like its plan and never
// checks for exits itself.
type Run struct {
	ctx     workflow.Context
	journey Journey
	in      JourneyInput
	start   time.Time
	id      string
	runID   string

	received map[string]time.Time // event name → first arrival; looked up, never ranged over
	endedBy  string               // the goal event that ended the run
	err      error                // cancellation or a failed step: stops the run
	state    JourneyState
}

// JourneyState is what the `state` query returns.
type JourneyState struct {
	Journey   string
	ContactID string
	Key       string `json:",omitempty"`
	StartedAt time.Time
	Step      string
	// NextWakeUp is when the journey's current wait ends at the latest.
	NextWakeUp *time.Time `json:",omitempty"`
	Ended      bool
	Timeline   []Entry
}

// Entry is one line of a run's timeline: what happened, when, and why.
type Entry struct {
	Offset time.Duration // since the journey started
	At     time.Time
	Kind   string // email, skip, wait, check, event, exit, fail
	Step   string `json:",omitempty"`
	Detail string `json:",omitempty"`
}

// Begin starts a run of the journey registered under this workflow's type
// name. It answers the `state` query and listens for forwarded events.
func Begin(ctx workflow.Context, in JourneyInput) *Run {
	info := workflow.GetInfo(ctx)
	journey, ok := Lookup(info.WorkflowType.Name)
	if !ok {
		panic(fmt.Sprintf("workflow type %q is not a registered journey", info.WorkflowType.Name))
	}
	now := workflow.Now(ctx)
	j := &Run{
		ctx:      ctx,
		journey:  journey,
		in:       in,
		start:    now,
		id:       info.WorkflowExecution.ID,
		runID:    info.WorkflowExecution.RunID,
		received: map[string]time.Time{},
		state:    JourneyState{Journey: journey.Name, ContactID: in.ContactID, Key: in.Key, StartedAt: now, Step: "start"},
	}
	j.ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// A provider outage delays email; it does not drop it. After a day
		// the step fails and the run shows it.
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	})
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (JourneyState, error) { return j.state, nil }); err != nil {
		j.err = err
	}
	events := workflow.GetSignalChannel(ctx, SignalEvent)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var ev Event
			events.Receive(ctx, &ev)
			j.onEvent(ev)
		}
	})
	j.log("start", "", "entered on "+describe(in.Trigger))
	return j
}

func (j *Run) onEvent(ev Event) {
	if _, seen := j.received[ev.Name]; !seen {
		j.received[ev.Name] = workflow.Now(j.ctx)
	}
	if j.endedBy == "" && slices.Contains(j.journey.Goals, ev.Name) {
		j.endedBy = ev.Name
		j.log("exit", "", ev.Name+" arrived: goal reached, no further steps")
		return
	}
	j.log("event", "", describe(ev))
}

// active reports whether steps should still run.
func (j *Run) active() bool { return j.endedBy == "" && j.err == nil }

// Email sends the journey's email template named step to the contact:
// templates/email/<journey>/<step>.{txt,html}. It is a marketing email unless
// Transactional is given.
func (j *Run) Email(step string, opts ...EmailOption) {
	if !j.active() {
		return
	}
	req := EmailRequest{
		Key:       j.id + "/" + j.runID + "/" + step,
		ContactID: j.in.ContactID,
		Journey:   j.journey.Name,
		Step:      step,
		Template:  j.journey.Name + "/" + step,
		Marketing: true,
		At:        workflow.Now(j.ctx),
	}
	for _, o := range opts {
		o(&req)
	}
	j.setStep(step, nil)
	ctx := workflow.WithActivityOptions(j.ctx, withSummary(j.ctx, "email: "+req.Template))
	var res SendResult
	if err := workflow.ExecuteActivity(ctx, SendEmailActivity, req).Get(ctx, &res); err != nil {
		j.fail(step, err)
		return
	}
	switch res.Status {
	case StatusSkipped:
		j.log("skip", step, res.Reason)
	default:
		j.log("email", step, fmt.Sprintf("%s to %s: %q", res.Status, res.To, res.Subject))
	}
}

// EmailOption adjusts one email.
type EmailOption func(*EmailRequest)

// With adds a value for the template, such as a discount code.
func With(key string, value any) EmailOption {
	return func(r *EmailRequest) {
		if r.Data == nil {
			r.Data = map[string]any{}
		}
		r.Data[key] = value
	}
}

// FromOwner sends the email from the contact's account owner, a real person
// whose address takes replies.
func FromOwner() EmailOption { return func(r *EmailRequest) { r.Sender = SenderOwner } }

// Transactional marks an email the contact needs whatever their marketing
// preferences (a receipt, a password reset).
func Transactional() EmailOption { return func(r *EmailRequest) { r.Marketing = false } }

// DiscountCode returns the contact's code for this journey, creating it once.
func (j *Run) DiscountCode(percent int) string {
	if !j.active() {
		return ""
	}
	req := DiscountRequest{ContactID: j.in.ContactID, Campaign: j.journey.Name, Percent: percent}
	summary := fmt.Sprintf("discount code: %d%%", percent)
	var code string
	var err error
	// Version 1 issues the code in a local activity, a quick database write
	// inside the workflow task: one round trip fewer before the first email.
	// Runs that started before it replay the way they were recorded.
	if workflow.GetVersion(j.ctx, "discount-code-local-activity", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		ctx := workflow.WithActivityOptions(j.ctx, withSummary(j.ctx, summary))
		err = workflow.ExecuteActivity(ctx, IssueDiscountCodeActivity, req).Get(ctx, &code)
	} else {
		ctx := workflow.WithLocalActivityOptions(j.ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: 10 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
			Summary:             summary,
		})
		err = workflow.ExecuteLocalActivity(ctx, IssueDiscountCodeActivity, req).Get(ctx, &code)
	}
	if err != nil {
		j.fail("discount-code", err)
	}
	return code
}

// WaitUntil sleeps until offset after the journey started (Day 3 is
// WaitUntil(3*Day)). A goal reached meanwhile ends the wait at once.
func (j *Run) WaitUntil(offset time.Duration) {
	if !j.active() {
		return
	}
	d := j.start.Add(offset).Sub(workflow.Now(j.ctx))
	if d <= 0 {
		return
	}
	label := "until " + dayLabel(offset)
	j.wait(d, label, func() bool { return !j.active() })
}

// WaitFor waits up to timeout for event and reports whether it came (now or
// earlier in the run).
func (j *Run) WaitFor(event string, timeout time.Duration) bool {
	if !j.active() {
		return false
	}
	if _, ok := j.received[event]; !ok {
		j.wait(timeout, fmt.Sprintf("for %s, up to %s", event, timeout), func() bool {
			_, ok := j.received[event]
			return ok || !j.active()
		})
	}
	return j.Received(event)
}

func (j *Run) wait(d time.Duration, label string, done func() bool) {
	wake := workflow.Now(j.ctx).Add(d)
	j.setStep("wait "+label, &wake)
	j.log("wait", "", label)
	_, err := workflow.AwaitWithOptions(j.ctx, workflow.AwaitOptions{
		Timeout:      d,
		TimerOptions: workflow.TimerOptions{Summary: label},
	}, done)
	if err != nil {
		j.fail("wait", err)
	}
	j.state.NextWakeUp = nil
}

// Received reports whether event has arrived since the journey started, and
// notes the check on the timeline so a reader sees why a branch was taken.
func (j *Run) Received(event string) bool {
	at, ok := j.received[event]
	switch {
	case !j.active():
	case ok:
		j.log("check", "", fmt.Sprintf("%s received at +%s", event, offsetLabel(at.Sub(j.start))))
	default:
		j.log("check", "", event+" not received")
	}
	return ok
}

// End finishes the run: nil when it completed or reached its goal, the
// error when it was cancelled or a step failed. It tells the contact's
// workflow that this journey is over.
func (j *Run) End() error {
	j.state.Ended = true
	j.state.Step = "ended"
	if j.endedBy != "" {
		j.state.Step = "goal: " + j.endedBy
	}
	j.upsertStep()
	if parent := workflow.GetInfo(j.ctx).ParentWorkflowExecution; parent != nil {
		ctx, _ := workflow.NewDisconnectedContext(j.ctx)
		// The contact may have moved on to a new run: address it by ID only.
		_ = workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalJourneyEnded, JourneyEnded{WorkflowID: j.id}).Get(ctx, nil)
	}
	return j.err
}

// State is the run's state, as the `state` query returns it.
func (j *Run) State() JourneyState { return j.state }

func (j *Run) fail(step string, err error) {
	if temporal.IsCanceledError(err) {
		j.log("exit", step, "cancelled")
	} else {
		j.log("fail", step, err.Error())
	}
	if j.err == nil {
		j.err = err
	}
}

func (j *Run) setStep(step string, wake *time.Time) {
	j.state.Step = step
	j.state.NextWakeUp = wake
	j.upsertStep()
}

func (j *Run) upsertStep() {
	// A failed upsert (an unregistered attribute, say) must not stop email.
	if err := workflow.UpsertTypedSearchAttributes(j.ctx, JourneyStepKey.ValueSet(j.state.Step)); err != nil {
		workflow.GetLogger(j.ctx).Warn("could not set JourneyStep", "error", err)
	}
}

func (j *Run) log(kind, step, detail string) {
	now := workflow.Now(j.ctx)
	j.state.Timeline = append(j.state.Timeline, Entry{Offset: now.Sub(j.start), At: now, Kind: kind, Step: step, Detail: detail})
}

func withSummary(ctx workflow.Context, summary string) workflow.ActivityOptions {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = summary
	return opts
}

func describe(ev Event) string {
	if ev.Kind == KindTrack {
		return ev.Name
	}
	if ev.Name != "" {
		return ev.Kind + " " + ev.Name
	}
	return ev.Kind
}

func dayLabel(offset time.Duration) string {
	if offset%Day == 0 {
		return fmt.Sprintf("day %d", offset/Day)
	}
	return "+" + offsetLabel(offset)
}

// offsetLabel writes an offset in hours (and minutes when there are any).
func offsetLabel(d time.Duration) string {
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	if m == 0 {
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}
