package workflows_test

import (
	"context"
	"fmt"
	"net/mail"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// harness runs journeys in the SDK's time-skipping test environment with the
// real activities, on a real SQLite store, recording email instead of
// delivering it. Every email is captured with the offset it went out at.
type harness struct {
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	store  *models.Store
	acts   *activities.Activities
	start  time.Time
	emails []email
	// inApp are the SendInApp calls, apart from emails so the plans' email
	// indexes stay as written.
	inApp  []email
	router *workflows.Router
	// version is the run version journeys start with; 0 is the current one.
	version int
}

// email is one SendEmail call as a journey made it.
type email struct {
	Offset   time.Duration
	Template string
	Sender   string
	Status   string
	Reason   string
	Subject  string
	To       string
}

var testStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, contacts ...models.Contact) *harness {
	t.Helper()
	return newHarnessFor(t, workflows.JourneyNames(), contacts...)
}

// newHarnessFor lets only the named journeys start from ContactWorkflow,
// so a routing test sees only the journeys it is about.
func newHarnessFor(t *testing.T, enabled []string, contacts ...models.Contact) *harness {
	t.Helper()
	store, err := models.Open("sqlite://" + filepath.Join(t.TempDir(), "nudge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range contacts {
		if err := store.SaveContact(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	renderer, err := activities.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{
		Store:        store,
		Renderer:     renderer,
		Links:        links.NewSigner("test-secret-0123456789", "https://nudge.example.com"),
		Brand:        activities.Brand{Name: "Acme", Address: "Acme Inc., 1 Main St, Springfield", SiteURL: "https://acme.example.com"},
		From:         mail.Address{Name: "Acme", Address: "hello@acme.example.com"},
		Owner:        mail.Address{Name: "Sam Lee", Address: "sam@acme.example.com"},
		SalesChannel: "#sales",
		SalesReps: []models.Rep{
			{Name: "Sam Lee", Email: "sam@acme.example.com", SlackID: "U0SAM"},
			{Name: "Ana Ruiz", Email: "ana@acme.example.com", SlackID: "U0ANA"},
		},
		// No marketing SMS from 21:00 to 08:00, in the contact's zone or else UTC.
		QuietHours: config.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour},
		Timezone:   time.UTC,
	}

	h := &harness{t: t, store: store, acts: acts, start: testStart}
	var suite testsuite.WorkflowTestSuite
	h.env = suite.NewTestWorkflowEnvironment()
	h.env.SetStartTime(testStart)
	acts.Register(h.env)
	h.router = &workflows.Router{Enabled: enabled, Settings: workflows.DefaultSettings()}
	worker.RegisterWorkflows(h.env, h.router)
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		switch info.ActivityType.Name {
		case workflows.SendEmailActivity:
			var req workflows.EmailRequest
			if err := args.Get(&req); err != nil {
				t.Error(err)
			}
			h.emails = append(h.emails, email{Offset: h.env.Now().Sub(h.start), Template: req.Template, Sender: req.Sender})
		case workflows.SendSMSActivity:
			var req workflows.SMSRequest
			if err := args.Get(&req); err != nil {
				t.Error(err)
			}
			h.emails = append(h.emails, email{Offset: h.env.Now().Sub(h.start), Template: "sms:" + req.Template})
		case workflows.SendInAppActivity:
			var req workflows.InAppRequest
			if err := args.Get(&req); err != nil {
				t.Error(err)
			}
			h.inApp = append(h.inApp, email{Offset: h.env.Now().Sub(h.start), Template: "inapp:" + req.Template})
		}
	})
	h.env.SetOnActivityCompletedListener(func(info *activity.Info, result converter.EncodedValue, err error) {
		sends := &h.emails
		switch info.ActivityType.Name {
		case workflows.SendEmailActivity, workflows.SendSMSActivity:
		case workflows.SendInAppActivity:
			sends = &h.inApp
		default:
			return
		}
		if err != nil {
			return
		}
		var res workflows.SendResult
		if err := result.Get(&res); err != nil {
			t.Error(err)
		}
		if res.Status == workflows.StatusPaused || res.Status == workflows.StatusHeld {
			*sends = (*sends)[:len(*sends)-1] // held, not sent: it is asked again
			return
		}
		last := &(*sends)[len(*sends)-1]
		last.Status, last.Reason, last.Subject, last.To = res.Status, res.Reason, res.Subject, res.To
	})
	return h
}

// at runs fn when the test clock reaches offset from the start.
func (h *harness) at(offset time.Duration, fn func()) {
	h.env.RegisterDelayedCallback(fn, offset)
}

// message returns the stored email for a journey step.
func (h *harness) message(journey, step string) models.Message {
	h.t.Helper()
	var m models.Message
	if err := h.store.DB().Where("journey = ? AND step = ? AND channel = ?", journey, step, "email").Take(&m).Error; err != nil {
		h.t.Fatalf("no message for %s/%s: %v", journey, step, err)
	}
	return m
}

// signal sends a track event to the workflow under test at offset.
func (h *harness) track(offset time.Duration, name string, props map[string]any) {
	h.at(offset, func() {
		h.env.SignalWorkflow(workflows.SignalEvent, trackEvent(name, props, h.start.Add(offset)))
	})
}

func trackEvent(name string, props map[string]any, at time.Time) workflows.Event {
	return workflows.Event{MessageID: name + "@" + at.Format(time.RFC3339), Kind: workflows.KindTrack, Name: name, Properties: props, Timestamp: at}
}

// runJourney runs one journey for contactID, triggered by trigger, to its
// end, with the default settings.
func (h *harness) runJourney(name, contactID string, trigger workflows.Event) workflows.JourneyState {
	h.t.Helper()
	return h.runJourneyWith(workflows.DefaultSettings(), name, contactID, trigger)
}

func (h *harness) runJourneyWith(settings workflows.Settings, name, contactID string, trigger workflows.Event) workflows.JourneyState {
	h.t.Helper()
	j, ok := workflows.Lookup(name)
	if !ok {
		h.t.Fatalf("no journey %q", name)
	}
	in := workflows.JourneyInput{ContactID: contactID, Trigger: trigger, Settings: settings, Version: workflows.CurrentVersion}
	if h.version != 0 {
		in.Version = h.version
	}
	if j.Key != nil {
		in.Key = j.Key(trigger)
	}
	h.env.ExecuteWorkflow(j.Workflow, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("journey did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("journey failed: %v", err)
	}
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		h.t.Fatal(err)
	}
	var st workflows.JourneyState
	if err := v.Get(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

// assertRun checks the row the journey run recorded for its results: one
// run, of that journey, started at the test's start, ended with outcome
// for reason.
func (h *harness) assertRun(journey, outcome, reason string) {
	h.t.Helper()
	var runs []models.JourneyRun
	if err := h.store.DB().Find(&runs).Error; err != nil {
		h.t.Fatal(err)
	}
	if len(runs) != 1 {
		h.t.Fatalf("journey runs = %+v, want one", runs)
	}
	r := runs[0]
	if r.Journey != journey || r.Outcome != outcome || r.Reason != reason || !r.StartedAt.Equal(h.start) || r.EndedAt == nil || r.RunID == "" {
		h.t.Errorf("journey run = %+v, want %s ended %s (%q), started %s", r, journey, outcome, reason, h.start)
	}
}

// sent lists "+<hours>h <template>" for each email, the shape plans are written in.
func (h *harness) sent() []string {
	var out []string
	for _, e := range h.emails {
		out = append(out, offset(e.Offset)+" "+e.Template+" "+e.Status)
	}
	return out
}

// offset writes a duration as plans do: +72h, or +1h30m.
func offset(d time.Duration) string {
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	if m == 0 {
		return fmt.Sprintf("+%dh", h)
	}
	return fmt.Sprintf("+%dh%dm", h, m)
}

func (h *harness) assertSent(want ...string) {
	h.t.Helper()
	got := h.sent()
	if len(got) != len(want) {
		h.t.Fatalf("sent %d emails:\n%s\nwant %d:\n%s", len(got), lines(got), len(want), lines(want))
	}
	for i := range want {
		if got[i] != want[i] {
			h.t.Errorf("email %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func lines(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}

const hour = time.Hour
