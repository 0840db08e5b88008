package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// Start is the simulated clock's start; any fixed time will do.
var Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Options are what a simulation runs with, besides its script.
type Options struct {
	// Activities are the activities as configured. The run uses
	// Activities.Offline on a throwaway database: nothing is delivered.
	Activities *activities.Activities
	Settings   workflows.Settings
	// Enabled are the journeys NUDGE_JOURNEYS enables, for scripts that do
	// not name theirs; nil is every journey.
	Enabled []string
	// DataConverter, when set, carries every payload, as on the worker (the
	// encrypting one with NUDGE_ENCRYPTION_KEYS).
	DataConverter converter.DataConverter
	// OutDir, when set, receives every rendered message and an index.html.
	OutDir string
	// SendTo, when set, gets each rendered email once, through the
	// configured mailer, marked [TEST] (Activities.TestSend).
	SendTo *mail.Address
}

// ErrBrokenLinks fails a run whose messages hold a link that does not work.
var ErrBrokenLinks = errors.New("broken links")

// run is one simulation under way.
type run struct {
	ctx       context.Context
	script    *Script
	opts      Options
	env       *testsuite.TestWorkflowEnvironment
	store     *models.Store
	acts      *activities.Activities
	contactID string
	lines     []line
	journeys  []*journeyRun
	problems  []string
}

// line is one row of the timeline.
type line struct {
	At     time.Duration
	Who    string // contact, or the journey
	Kind   string
	Step   string
	Detail string
}

type journeyRun struct {
	ID, Name string
	Ended    time.Duration
	Done     bool
	Err      error
	State    workflows.JourneyState
}

// Run plays the script for one contact and writes its timeline to out.
func Run(ctx context.Context, s *Script, o Options, out io.Writer) error {
	if s.Journey != "" {
		j, _ := workflows.Lookup(s.Journey)
		first := s.Events[0]
		ev := (&models.Event{Kind: first.Kind, Name: first.Event, Properties: first.Properties}).Signal()
		if j.Starts == nil || !j.Starts(ev, contactTraits(s)) {
			return fmt.Errorf("%q at +0h does not start %s for this contact: check the journey's trigger in workflows/%s.go", first.Event, j.Name, j.Name)
		}
	}
	dir, err := os.MkdirTemp("", "nudge-simulate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := models.Open("sqlite://" + filepath.Join(dir, "simulate.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	r := &run{ctx: ctx, script: s, opts: o, store: store}
	r.acts = o.Activities.Offline()
	r.acts.Store = store
	if r.acts.Links == nil {
		r.acts.Links = links.NewSigner("simulation-only-secret", "http://localhost:8080")
	}

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	r.env = suite.NewTestWorkflowEnvironment()
	r.env.SetStartTime(Start)
	r.env.SetDetachedChildWait(false) // the run ends at "until", journeys or not
	r.env.SetTestTimeout(time.Minute)
	if o.DataConverter != nil {
		r.env.SetDataConverter(o.DataConverter)
	}
	enabled := o.Enabled
	if s.Journeys != nil {
		enabled = s.Journeys
	}
	if enabled == nil {
		enabled = workflows.JourneyNames()
	}
	worker.RegisterWorkflows(r.env, &workflows.Router{Enabled: enabled, Settings: o.Settings})
	r.acts.Register(r.env)
	r.listen()

	// The contact exists, with its traits, before the first call.
	evs, err := r.accept(models.Incoming{UserID: s.UserID, Event: models.Event{
		MessageID: "sim-contact", Kind: workflows.KindIdentify, Traits: contactTraits(s), Timestamp: Start,
	}})
	if err != nil {
		return err
	}
	r.contactID = evs[0].ContactID
	r.env.RegisterDelayedCallback(func() { r.signal(evs) }, 0)
	for i, call := range s.Events {
		r.env.RegisterDelayedCallback(func() { r.play(i, call) }, call.At)
	}
	var final workflows.ContactState
	r.env.RegisterDelayedCallback(func() {
		r.collectStates()
		if v, err := r.env.QueryWorkflow(workflows.QueryState); err == nil {
			_ = v.Get(&final)
		}
		r.env.CancelWorkflow()
	}, s.until)
	r.env.ExecuteWorkflow(workflows.ContactWorkflowName, workflows.NewContact(r.contactID))
	if err := r.env.GetWorkflowError(); err != nil && !temporal.IsCanceledError(err) {
		return fmt.Errorf("ContactWorkflow failed: %w", err)
	}

	msgs, err := r.messages()
	if err != nil {
		return err
	}
	r.print(out, msgs, final)
	broken := r.checkLinks(msgs)
	if o.OutDir != "" {
		if err := writeOut(o.OutDir, msgs, r.offset); err != nil {
			return err
		}
		fmt.Fprintf(out, "Messages written to %s (open index.html).\n", o.OutDir)
	}
	if o.SendTo != nil {
		n, err := r.testSend(msgs)
		if err != nil {
			return fmt.Errorf("test send to %s: %w", o.SendTo.Address, err)
		}
		fmt.Fprintf(out, "Sent %d test emails to %s.\n", n, o.SendTo.Address)
	}
	if len(broken) > 0 {
		fmt.Fprintf(out, "\nBroken links:\n")
		for _, b := range broken {
			fmt.Fprintf(out, "  %s\n", b)
		}
	}
	if len(r.problems) > 0 {
		return fmt.Errorf("script: %s", strings.Join(r.problems, "; "))
	}
	if len(broken) > 0 {
		return fmt.Errorf("%w: %d", ErrBrokenLinks, len(broken))
	}
	for _, j := range r.journeys {
		if j.Err != nil && !temporal.IsCanceledError(j.Err) {
			return fmt.Errorf("%s failed: %w", j.Name, j.Err)
		}
	}
	return nil
}

func contactTraits(s *Script) map[string]any {
	if s.Contact != nil {
		return s.Contact
	}
	return map[string]any{"firstName": "Alex", "lastName": "Rivera", "email": "alex@example.com"}
}

func (r *run) offset(t time.Time) time.Duration { return t.Sub(Start) }
func (r *run) now() time.Duration               { return r.env.Now().Sub(Start) }

// listen follows the journeys ContactWorkflow starts and ends.
func (r *run) listen() {
	r.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		// The journey's own timeline opens with why it was entered.
		r.journeys = append(r.journeys, &journeyRun{ID: info.WorkflowExecution.ID, Name: info.WorkflowType.Name})
	})
	r.env.SetOnChildWorkflowCompletedListener(func(info *workflow.Info, _ converter.EncodedValue, err error) {
		for _, j := range r.journeys {
			if j.ID == info.WorkflowExecution.ID && !j.Done {
				j.Done, j.Ended, j.Err = true, r.now(), err
				r.queryJourney(j)
			}
		}
	})
}

// queryJourney reads a journey's own timeline: what it did and why.
func (r *run) queryJourney(j *journeyRun) {
	v, err := r.env.QueryWorkflowByID(j.ID, workflows.QueryState)
	if err != nil {
		return
	}
	var st workflows.JourneyState
	if v.Get(&st) == nil {
		j.State = st
	}
}

func (r *run) collectStates() {
	for _, j := range r.journeys {
		if !j.Done {
			r.queryJourney(j)
		}
	}
}

// accept stores calls in the throwaway database as the gateway would, so
// segments and attribution see them.
func (r *run) accept(calls ...models.Incoming) ([]*models.Event, error) {
	return r.store.Accept(r.ctx, calls, models.Lease{})
}

// signal hands stored events to ContactWorkflow, as the relay would.
func (r *run) signal(evs []*models.Event) {
	for _, ev := range evs {
		r.env.SignalWorkflow(workflows.SignalEvent, ev.Signal())
	}
}

// play makes the contact do one scripted thing.
func (r *run) play(i int, call ScriptEvent) {
	at := r.env.Now()
	in := models.Incoming{UserID: r.script.UserID, Event: models.Event{
		MessageID: fmt.Sprintf("sim-%d", i), Kind: call.Kind, Name: call.Event, Properties: call.Properties, Traits: call.Traits, Timestamp: at,
	}}
	l := line{At: call.At, Who: "contact", Kind: call.Kind, Detail: call.Event}
	switch call.Kind {
	case workflows.KindIdentify:
		l.Detail = "traits " + strings.Join(sortedKeys(call.Traits), ", ")
	case "open", "click":
		m, err := r.emailFor(call.Step)
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("%s at %s: %v", call.Kind, offsetLabel(call.At), err))
			return
		}
		in.Kind, in.Name, in.Properties = workflows.KindTrack, workflows.EventEmailOpened, m.EngagementProperties()
		in.MessageID = workflows.OwnID("sim-open", fmt.Sprint(m.ID), fmt.Sprint(i))
		l.Detail = fmt.Sprintf("opens %s/%s", m.Journey, m.Step)
		if call.Kind == "click" {
			click, err := r.clickIn(m, call.URL)
			if err != nil {
				r.problems = append(r.problems, fmt.Sprintf("click at %s: %v", offsetLabel(call.At), err))
				return
			}
			in.Name = workflows.EventEmailClicked
			in.Properties["url"], in.Properties["tag"] = click.URL, click.Tag
			in.MessageID = workflows.OwnID("sim-click", fmt.Sprint(m.ID), fmt.Sprint(i))
			l.Detail = fmt.Sprintf("clicks %s in %s/%s", click.URL, m.Journey, m.Step)
		}
	}
	evs, err := r.accept(in)
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s at %s: %v", call.Kind, offsetLabel(call.At), err))
		return
	}
	r.lines = append(r.lines, l)
	r.signal(evs)
}

// emailFor finds the latest email sent so far for a step ("welcome", or
// "welcome_b2b/welcome" when two journeys share a step name).
func (r *run) emailFor(step string) (*models.Message, error) {
	q := r.store.DB().Where("contact_id = ? AND channel = ? AND status IN ?", r.contactID, models.ChannelEmail, []string{"sent", "recorded"})
	if journey, s, ok := strings.Cut(step, "/"); ok {
		q = q.Where("journey = ? AND step = ?", journey, s)
	} else {
		q = q.Where("step = ?", step)
	}
	var m models.Message
	if err := q.Order("id DESC").Take(&m).Error; err != nil {
		return nil, fmt.Errorf("no email for step %q was sent before it", step)
	}
	return &m, nil
}

// clickIn picks the tracked link a click follows: the one to url, or the
// first in the email.
func (r *run) clickIn(m *models.Message, url string) (links.Click, error) {
	for _, u := range linksIn(m.HTML) {
		if !strings.Contains(u, links.ClickPrefix) {
			continue
		}
		c, err := r.acts.Links.Click(u[strings.LastIndex(u, "/")+1:])
		if err == nil && (url == "" || c.URL == url) {
			return c, nil
		}
	}
	if url == "" {
		return links.Click{}, fmt.Errorf("%s/%s has no tracked link", m.Journey, m.Step)
	}
	return links.Click{}, fmt.Errorf("%s/%s has no link to %s", m.Journey, m.Step, url)
}

// messages are every message of the run, in the order sent.
func (r *run) messages() ([]models.Message, error) {
	var msgs []models.Message
	err := r.store.DB().Where("contact_id = ?", r.contactID).Order("at, id").Find(&msgs).Error
	return msgs, err
}

func (r *run) testSend(msgs []models.Message) (int, error) {
	n := 0
	for _, m := range msgs {
		if m.Channel != models.ChannelEmail || m.HTML == "" {
			continue
		}
		// The configured mailer, for this one address only.
		if err := r.opts.Activities.TestSend(r.ctx, m, *r.opts.SendTo, offsetLabel(r.offset(m.At))); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// print writes the timeline: the contact's calls, the journeys entered, each
// journey's own steps with the reason for each branch, the contact-level
// messages (alerts) and score changes; then a summary.
func (r *run) print(out io.Writer, msgs []models.Message, final workflows.ContactState) {
	lines := slices.Clone(r.lines)
	for _, j := range r.journeys {
		for _, e := range j.State.Timeline {
			lines = append(lines, line{At: r.offset(e.At), Who: j.Name, Kind: e.Kind, Step: e.Step, Detail: e.Detail})
		}
	}
	for _, m := range msgs {
		if m.Journey == "" { // sent by ContactWorkflow itself: alerts, handoffs
			lines = append(lines, line{At: r.offset(m.At), Who: "contact", Kind: m.Channel, Step: m.Step, Detail: m.Status + " to " + m.To + ": " + quote(m.Subject)})
		}
	}
	var ledger []models.ScoreEntry
	r.store.DB().Where("contact_id = ?", r.contactID).Order("at, id").Find(&ledger)
	for _, e := range ledger {
		lines = append(lines, line{At: r.offset(e.At), Who: "contact", Kind: "score", Step: e.Rule, Detail: fmt.Sprintf("%+d: %s (score %d)", e.Points, e.Reason, e.Score)})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].At < lines[j].At })

	fmt.Fprintf(out, "Simulating %s, journeys: %s. Nothing is delivered.\n\n", describeContact(contactTraits(r.script)), journeysLabel(r.script))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", offsetLabel(l.At), l.Who, l.Kind, l.Step, l.Detail)
	}
	tw.Flush()
	fmt.Fprintln(out)
	for _, j := range r.journeys {
		status := "still running at " + offsetLabel(r.script.until)
		if j.Done {
			status = "completed at " + offsetLabel(j.Ended)
			if j.Err != nil {
				status = "failed at " + offsetLabel(j.Ended) + ": " + j.Err.Error()
			}
		}
		fmt.Fprintf(out, "%s %s: %s.\n", j.Name, status, sendCounts(j.State.Timeline))
	}
	if len(r.journeys) == 0 {
		fmt.Fprintln(out, "No journey started.")
	}
	alerts := 0
	for _, m := range msgs {
		if m.Channel == models.ChannelSlack {
			alerts++
		}
	}
	fmt.Fprintf(out, "Contact: stage %s, lead score %d, %d Slack alerts.\n", final.Stage, final.LeadScore, alerts)
}

func journeysLabel(s *Script) string {
	if s.Journeys == nil {
		return "all enabled"
	}
	return strings.Join(s.Journeys, ", ")
}

func quote(s string) string { return `"` + s + `"` }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func describeContact(traits map[string]any) string {
	c := models.Contact{}
	c.ApplyTraits(traits, "")
	parts := []string{}
	if n := c.Name(); n != "" {
		parts = append(parts, n)
	}
	if c.Email != "" {
		parts = append(parts, "<"+c.Email+">")
	}
	if c.Company != "" {
		parts = append(parts, "at "+c.Company)
	}
	if c.Industry != "" {
		parts = append(parts, "("+c.Industry+")")
	}
	if len(parts) == 0 {
		return "a contact with no traits"
	}
	return strings.Join(parts, " ")
}

// offsetLabel writes +50h, or +74h30m, with the day for long journeys: +72h (day 3).
func offsetLabel(d time.Duration) string {
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	s := fmt.Sprintf("+%dh", h)
	if m != 0 {
		s = fmt.Sprintf("+%dh%02dm", h, m)
	}
	if d >= workflows.Day && d%workflows.Day == 0 {
		s += fmt.Sprintf(" (day %d)", d/workflows.Day)
	}
	return s
}

// sendCounts counts what a journey's timeline shows went out, by channel,
// and what was skipped: "6 emails, 0 SMS, 0 webhooks, 1 in-app, 0 skipped".
func sendCounts(timeline []workflows.Entry) string {
	var emails, sms, webhooks, inApp, skipped int
	for _, e := range timeline {
		switch e.Kind {
		case "email":
			emails++
		case "sms":
			sms++
		case "webhook":
			webhooks++
		case "inapp":
			inApp++
		case "skip":
			skipped++
		}
	}
	return fmt.Sprintf("%d emails, %d SMS, %d webhooks, %d in-app, %d skipped", emails, sms, webhooks, inApp, skipped)
}
