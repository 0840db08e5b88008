package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
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

	// received maps event names to when each first arrived (looked up,
	// never ranged over); events are all the run has heard, in order.
	received map[string]time.Time
	events   []Event
	endedBy  string // the goal event that ended the run
	exitedBy string // why the journey chose to stop (Exit)
	// converted is the first conversion event the run heard, unsubscribed
	// whether it heard Unsubscribed: how it ended, for its results.
	converted    string
	unsubscribed bool
	resumes      int   // resume signals heard
	err          error // cancellation or a failed step: stops the run
	state        JourneyState
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
		// Sends heartbeat while a provider answers, so a worker that dies
		// mid-send is noticed, and the send retried, within seconds.
		HeartbeatTimeout: 15 * time.Second,
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
	resumed := workflow.GetSignalChannel(ctx, SignalJourneyResumed)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			resumed.Receive(ctx, nil)
			j.resumes++
		}
	})
	j.log("start", "", "entered on "+describe(in.Trigger))
	j.metrics().Counter("nudge_journeys_started").Inc(1)
	if in.Version >= 3 {
		j.record(JourneyRun{StartedAt: now})
	}
	return j
}

// metrics is where the run counts itself; the SDK counts nothing while a
// workflow replays, so each run counts once.
func (j *Run) metrics() client.MetricsHandler {
	return workflow.GetMetricsHandler(j.ctx).WithTags(map[string]string{"journey": j.journey.Name})
}

// record writes the run's row for its results (version 3 on). It uses a
// disconnected context, so a cancelled run still records how it ended, and
// a failure to record never stops the journey.
func (j *Run) record(r JourneyRun) {
	r.RunID, r.WorkflowID, r.Journey, r.Key, r.ContactID = j.runID, j.id, j.journey.Name, j.in.Key, j.in.ContactID
	ctx, _ := workflow.NewDisconnectedContext(j.ctx)
	ctx = workflow.WithLocalActivityOptions(ctx, localActivityOptions("record the journey run"))
	if err := workflow.ExecuteLocalActivity(ctx, RecordJourneyActivity, r).Get(ctx, nil); err != nil {
		workflow.GetLogger(j.ctx).Error("could not record the journey run", "error", err)
	}
}

// result is how the run ended and why, for its results: converted (a
// conversion event came), unsubscribed, exited (a goal that is no
// conversion, an Exit, or cancelled), failed, or completed.
func (j *Run) result() (outcome, reason string) {
	switch {
	case j.converted != "":
		return OutcomeConverted, j.converted
	case j.unsubscribed:
		return OutcomeUnsubscribed, EventUnsubscribed
	case j.endedBy != "":
		return OutcomeExited, j.endedBy
	case j.exitedBy != "":
		return OutcomeExited, j.exitedBy
	case j.err != nil && temporal.IsCanceledError(j.err):
		return OutcomeExited, "cancelled"
	case j.err != nil:
		return OutcomeFailed, j.err.Error()
	}
	return OutcomeCompleted, ""
}

func (j *Run) onEvent(ev Event) {
	name := ev.Action()
	if j.in.Version < j.journey.Since[name] {
		// A newer contact run forwarded what this run's version does not
		// hear: it must go on as it would have without it.
		return
	}
	goal := slices.Contains(j.journey.Goals, name)
	if !j.journey.concerns(j.in.Key, ev, goal, j.in.Settings) {
		j.log("event", "", describe(ev)+" for another "+j.journey.keyName()+": ignored")
		return
	}
	if _, seen := j.received[name]; !seen {
		j.received[name] = workflow.Now(j.ctx)
	}
	if j.converted == "" && j.endedBy == "" && slices.Contains(j.journey.Converts, name) {
		j.converted = name
	}
	if name == EventUnsubscribed && j.endedBy == "" {
		j.unsubscribed = true
	}
	j.events = append(j.events, ev)
	if j.endedBy == "" && goal {
		j.endedBy = name
		j.log("exit", "", name+" arrived: goal reached, no further steps")
		return
	}
	j.log("event", "", describe(ev))
}

// Latest is the most recent event of that name the run has seen, the
// trigger included; ok is false when there is none.
func (j *Run) Latest(name string) (Event, bool) {
	for i := len(j.events) - 1; i >= 0; i-- {
		if j.events[i].Action() == name {
			return j.events[i], true
		}
	}
	return j.in.Trigger, j.in.Trigger.Action() == name
}

// Events are the events forwarded to the run so far, oldest first.
func (j *Run) Events() []Event { return j.events }

// Count is how many events of that name the run has heard.
func (j *Run) Count(name string) int {
	n := 0
	for _, ev := range j.events {
		if ev.Action() == name {
			n++
		}
	}
	return n
}

// Wait sleeps for d before what comes next ("the next email"), which the
// timeline and the timer's summary show: "4 days before the next email".
// A goal reached meanwhile ends the wait at once.
func (j *Run) Wait(d time.Duration, next string) {
	if j.active() && d > 0 {
		j.wait(d, durationLabel(d)+" before "+next, func() bool { return !j.active() })
	}
}

// Hold waits, with no time limit, until release says so or the run ends:
// for a human, say, however long they take.
func (j *Run) Hold(label string, release func() bool) {
	if !j.active() || release() {
		return
	}
	j.setStep("hold "+label, nil)
	j.log("wait", "", label)
	if err := workflow.Await(j.ctx, func() bool { return release() || !j.active() }); err != nil {
		j.fail("hold", err)
	}
}

// Input is what the run was started with: the contact, the key, the
// trigger, and the settings in force then.
func (j *Run) Input() JourneyInput { return j.in }

// Note puts a decision on the timeline, so a reader sees why a step did not
// happen.
func (j *Run) Note(detail string) {
	if j.active() {
		j.log("check", "", detail)
	}
}

// Active reports whether steps still run: no goal reached, no step failed,
// not cancelled.
func (j *Run) Active() bool { return j.active() }

func (j *Run) active() bool { return j.endedBy == "" && j.exitedBy == "" && j.err == nil }

// Exit ends the run early, for the reason given, which its timeline and
// results show: every later step is skipped, as after a goal.
func (j *Run) Exit(reason string) {
	if j.active() {
		j.exitedBy = reason
		j.log("exit", "", reason)
	}
}

// Journey is the journey this run is of.
func (j *Run) Journey() Journey { return j.journey }

// Email sends the journey's email template named step to the contact:
// templates/email/<journey>/<step>.{txt,html}. It is a marketing email unless
// Transactional is given.
func (j *Run) Email(step string, opts ...Option) SendResult {
	if !j.active() {
		return SendResult{}
	}
	m := j.message(step, opts)
	req := EmailRequest{Message: j.envelope(step, m), Sender: m.sender, Data: m.data}
	j.sending(step)
	summary := "email: " + req.Template
	res, err := j.send(SendEmailActivity, summary, req)
	switch {
	case err != nil:
		j.fail(summary, err)
	case res.Status != "":
		j.logSend("email", step, res)
	}
	return res
}

// SMS sends the journey's SMS template named step (templates/sms/<journey>/
// <step>.txt). A marketing SMS waits for the end of the contact's quiet
// hours rather than being dropped; consent, opt-outs and caps are checked
// when it goes out, so a STOP during the wait still stops it.
func (j *Run) SMS(step string, opts ...Option) {
	if !j.active() {
		return
	}
	m := j.message(step, opts)
	m.key = j.id + "/" + j.runID + "/sms/" + step // apart from an email step of the same name
	if m.marketing {
		var window SMSWindow
		if !j.localActivity(SMSWindowActivity, "SMS quiet hours", SMSWindowRequest{ContactID: j.in.ContactID, At: m.at}, &window) {
			return
		}
		if d := window.NotBefore.Sub(workflow.Now(j.ctx)); d > 0 {
			j.wait(d, "for quiet hours to end ("+window.Local+")", func() bool { return !j.active() })
			if !j.active() {
				return
			}
			m.at = workflow.Now(j.ctx)
		}
	}
	req := SMSRequest{Message: j.envelope(step, m), Data: m.data}
	j.sending("sms " + step)
	res, err := j.send(SendSMSActivity, "sms: "+req.Template, req)
	switch {
	case err == nil && res.Status == "":
		// The run ended while the journey was paused.
	case err == nil:
		j.logSend("sms", step, res)
	case temporal.IsCanceledError(err):
		j.fail(step, err)
	default:
		// An SMS the provider refuses for good (a number that cannot take
		// SMS, say) is one lost touch, not the end of the journey.
		j.log("skip", step+" (sms)", "not sent: "+err.Error())
	}
}

func (j *Run) logSend(channel, step string, res SendResult) {
	skipped := step
	if channel == "sms" {
		skipped += " (sms)"
	}
	switch {
	case res.Status == StatusSkipped:
		j.log("skip", skipped, res.Reason)
	case res.Status == StatusRefused || res.Status == StatusUnknown:
		j.log("skip", skipped, res.Status+": "+res.Reason)
	case channel == "sms":
		j.log("sms", step, fmt.Sprintf("%s to %s", res.Status, res.To))
	default:
		j.log("email", step, fmt.Sprintf("%s to %s: %q", res.Status, res.To, res.Subject))
	}
}

// message is what Email and SMS share: key, template, options.
type message struct {
	key, template, sender string
	marketing             bool
	data                  MessageData
	at                    time.Time
}

func (j *Run) message(step string, opts []Option) message {
	m := message{
		key:       j.id + "/" + j.runID + "/" + step,
		template:  j.journey.Name + "/" + step,
		marketing: true,
		at:        workflow.Now(j.ctx),
	}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func (j *Run) envelope(step string, m message) Message {
	return Message{Key: m.key, ContactID: j.in.ContactID, Journey: j.journey.Name, Step: step, Template: m.template, Marketing: m.marketing, At: m.at, RunID: j.runID,
		HoldForSales: m.marketing && j.in.Version >= 4}
}

// Option adjusts one email or SMS. Options compose: a journey keeps the
// ones every step shares in a variable and adds to them.
type Option func(*message)

// Options makes one option of several.
func Options(opts ...Option) Option {
	return func(m *message) {
		for _, o := range opts {
			o(m)
		}
	}
}

// WithCart shows a cart the contact left: its products, value and the link
// back to it.
func WithCart(c Cart) Option {
	return func(m *message) {
		d := &m.data
		d.CheckoutID, d.CartURL, d.Products, d.Currency = c.CheckoutID, c.URL, c.Products, c.Currency
		d.Value, d.ValueDisplay = c.Value, Money(c.Value, c.Currency)
	}
}

// WithOrder shows an order: its number, products and total.
func WithOrder(o Order) Option {
	return func(m *message) {
		d := &m.data
		d.OrderID, d.OrderNumber, d.Products, d.Currency = o.ID, o.Number, o.Products, o.Currency
		d.Total, d.TotalDisplay = o.Total, Money(o.Total, o.Currency)
	}
}

// WithProducts shows products the contact looked at.
func WithProducts(ps ...Product) Option {
	return func(m *message) { m.data.Products = ps }
}

// WithLanding links back to the page an ad brought the contact to.
func WithLanding(url string) Option {
	return func(m *message) { m.data.LandingURL = url }
}

// WithShipment shows the parcel: carrier and tracking.
func WithShipment(s Shipment) Option {
	return func(m *message) {
		d := &m.data
		d.Shipped, d.TrackingNumber, d.Carrier, d.TrackingURL = true, s.TrackingNumber, s.Carrier, s.TrackingURL
	}
}

// WithDiscount offers a discount code worth percent.
func WithDiscount(code string, percent int) Option {
	return func(m *message) {
		m.data.DiscountCode, m.data.DiscountPercent = code, Percent(percent)
	}
}

// WithIncentive says which incentive the message makes
// (IncentiveFreeShipping, IncentiveDiscount).
func WithIncentive(kind string) Option {
	return func(m *message) { m.data.Incentive = kind }
}

// WithContent has the email carry a piece from the content catalog for
// stage, preferring topic (when not ""), never one of sent.
func WithContent(stage, topic string, sent []string) Option {
	return func(m *message) {
		m.data.ContentStage, m.data.FavoriteTopic, m.data.SentContent = stage, topic, sent
	}
}

// Template sends the journey's template called name instead of the one
// named like the step, for steps that repeat a template.
func Template(name string) Option {
	return func(m *message) { m.template = strings.SplitN(m.template, "/", 2)[0] + "/" + name }
}

// FromOwner sends the email from the contact's account owner, a real person
// whose address takes replies.
func FromOwner() Option { return func(m *message) { m.sender = SenderOwner } }

// Transactional marks a message the contact needs whatever their marketing
// preferences (a receipt, a shipping notice): no unsubscribe link, no cap,
// no quiet hours.
func Transactional() Option { return func(m *message) { m.marketing = false } }

// Step runs a one-off step a journey needs beside its messages, such as
// recording a cart or marking a contact unengaged: the named activity,
// with in, its result in out (nil for none). It is a local activity, for
// quick database work inside the workflow task, retried like a send. A
// failure stops the run; after a goal it does nothing and reports false.
func (j *Run) Step(activity, summary string, in, out any) bool {
	return j.active() && j.localActivity(activity, summary, in, out)
}

// send runs a send activity. While the journey is paused the activity
// answers StatusPaused without sending; the run then holds until a resume
// signal comes (or an hour passes, in case it was missed) and asks again,
// so a resumed journey sends what is due, once (the send's key sees to
// that). A marketing send while a sales rep has the contact (an open sales
// task) is held the same way, until Sales Task Closed arrives or an hour
// passes: a person is talking to them, and the drip should not talk over
// them. A run that ends while it holds returns an empty result.
func (j *Run) send(activity, summary string, req any) (SendResult, error) {
	ctx := workflow.WithActivityOptions(j.ctx, withSummary(j.ctx, summary))
	for {
		var res SendResult
		if err := workflow.ExecuteActivity(ctx, activity, req).Get(ctx, &res); err != nil || (res.Status != StatusPaused && res.Status != StatusHeld) {
			return res, err
		}
		label, timer, why := "paused", "journey paused", "the journey is paused: "+summary+" waits until it resumes"
		resumes, closed := j.resumes, j.Count(EventSalesTaskClosed)
		released := func() bool { return j.resumes > resumes }
		if res.Status == StatusHeld {
			label, timer, why = "held for sales", "sales task open", "a sales task is open: "+summary+" waits until it is closed"
			released = func() bool { return j.Count(EventSalesTaskClosed) > closed }
		}
		step := j.state.Step
		j.setStep(label, nil)
		j.log("wait", "", why)
		_, err := workflow.AwaitWithOptions(j.ctx, workflow.AwaitOptions{
			Timeout:      time.Hour,
			TimerOptions: workflow.TimerOptions{Summary: timer},
		}, func() bool { return released() || !j.active() })
		j.state.Step = step
		if err != nil {
			return SendResult{}, err
		}
		if !j.active() {
			return SendResult{}, nil
		}
	}
}

// activity runs a journey activity and reports whether it succeeded; a
// failure stops the run.
func (j *Run) activity(name, summary string, in, out any) bool {
	ctx := workflow.WithActivityOptions(j.ctx, withSummary(j.ctx, summary))
	if err := workflow.ExecuteActivity(ctx, name, in).Get(ctx, out); err != nil {
		j.fail(summary, err)
		return false
	}
	return true
}

// localActivity runs a quick database step inside the workflow task.
func (j *Run) localActivity(name, summary string, in, out any) bool {
	ctx := workflow.WithLocalActivityOptions(j.ctx, localActivityOptions(summary))
	if err := workflow.ExecuteLocalActivity(ctx, name, in).Get(ctx, out); err != nil {
		j.fail(summary, err)
		return false
	}
	return true
}

// localActivityOptions are for quick database steps inside a workflow task.
// They retry for a day, as sends do: a database outage delays the step, it
// does not end the run.
func localActivityOptions(summary string) workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		Summary:                summary,
	}
}

// DiscountCode returns the contact's code for this journey, creating it once.
func (j *Run) DiscountCode(percent int) string {
	if !j.active() {
		return ""
	}
	req := DiscountRequest{ContactID: j.in.ContactID, Campaign: j.journey.Name, Percent: percent}
	summary := fmt.Sprintf("discount code: %d%%", percent)
	var code string
	// "discount-code-local-activity" version 1 issues the code in a local
	// activity, a quick database write inside the workflow task: one round
	// trip fewer before the first email. Runs that started before it replay
	// the way they were recorded.
	if !hasChange(j.ctx, j.in.Version, "discount-code-local-activity") {
		j.activity(IssueDiscountCodeActivity, summary, req, &code)
	} else {
		j.localActivity(IssueDiscountCodeActivity, summary, req, &code)
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

// Until is the time left until offset after the journey started, for a
// wait bounded by a day of the plan: j.WaitFor(EventOrderDelivered, j.Until(11*Day)).
func (j *Run) Until(offset time.Duration) time.Duration {
	return max(0, j.start.Add(offset).Sub(workflow.Now(j.ctx)))
}

// WaitAfter sleeps until d after event first arrived: three days after
// delivery is WaitAfter(EventOrderDelivered, 3*Day).
func (j *Run) WaitAfter(event string, d time.Duration) {
	at, ok := j.received[event]
	if !j.active() || !ok {
		return
	}
	if wait := at.Add(d).Sub(workflow.Now(j.ctx)); wait > 0 {
		j.wait(wait, fmt.Sprintf("until %s after %s", durationLabel(d), event), func() bool { return !j.active() })
	}
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
	outcome, reason := j.result()
	j.metrics().WithTags(map[string]string{"outcome": outcome}).Counter("nudge_journeys_ended").Inc(1)
	if j.in.Version >= 3 {
		now := workflow.Now(j.ctx)
		j.record(JourneyRun{StartedAt: j.start, EndedAt: &now, Outcome: outcome, Reason: reason})
	}
	if parent := workflow.GetInfo(j.ctx).ParentWorkflowExecution; parent != nil {
		ctx, _ := workflow.NewDisconnectedContext(j.ctx)
		// The contact may have moved on to a new run: address it by ID only.
		_ = workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalJourneyEnded, JourneyEnded{WorkflowID: j.id}).Get(ctx, nil)
	}
	return j.err
}

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

// sending notes a send on the run's state. From version 2 the JourneyStep
// search attribute keeps the wait it came from: a send lasts a moment, and
// each upsert is a write to Temporal's visibility store.
func (j *Run) sending(step string) {
	if j.in.Version < 2 {
		j.setStep(step, nil)
		return
	}
	j.state.Step, j.state.NextWakeUp = step, nil
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

func durationLabel(d time.Duration) string {
	if d%Day == 0 {
		if d == Day {
			return "1 day"
		}
		return fmt.Sprintf("%d days", d/Day)
	}
	return offsetLabel(d)
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
