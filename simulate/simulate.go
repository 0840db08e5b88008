package simulate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// Start is the simulated clock's start; any fixed time will do.
var Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// contactID is the made-up contact's ID.
const contactID = "simulated-contact"

// Run plays the script with the given journey settings and writes the
// journey's timeline to out. dc, when not nil, is the data converter every
// payload goes through, as on the worker (the encrypting one when
// NUDGE_ENCRYPTION_KEYS is set), so a journey that only works unencrypted
// fails here too.
func Run(ctx context.Context, s *Script, acts *activities.Activities, settings workflows.Settings, dc converter.DataConverter, out io.Writer) error {
	journey, _ := workflows.Lookup(s.Journey)
	contact := models.Contact{ID: contactID, LifecycleStage: models.StageSubscriber}
	traits := s.Contact
	if traits == nil {
		traits = map[string]any{"firstName": "Alex", "lastName": "Rivera", "email": "alex@example.com"}
	}
	contact.ApplyTraits(traits, "")

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
	if err := store.SaveContact(ctx, &contact); err != nil {
		return err
	}
	sim := *acts
	sim.Store, sim.Mailer = store, nil // record, never deliver
	if sim.Links == nil {
		sim.Links = links.NewSigner("simulation-only-secret", "http://localhost:8080")
	}

	events := make([]workflows.Event, len(s.Events))
	for i, e := range s.Events {
		events[i] = workflows.Event{
			MessageID: fmt.Sprintf("simulated-%d", i), Kind: workflows.KindTrack, Name: e.Event,
			Properties: e.Properties, Timestamp: Start.Add(e.At),
		}
	}
	if journey.Starts == nil || !journey.Starts(events[0], contact.Traits) {
		return fmt.Errorf("%q at +0h does not start %s for this contact: check the journey's trigger in workflows/%s.go", events[0].Name, journey.Name, journey.Name)
	}

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(Start)
	if dc != nil {
		env.SetDataConverter(dc)
	}
	worker.RegisterWorkflows(env, &workflows.Router{Enabled: []string{journey.Name}, Settings: settings})
	sim.Register(env)

	// Later events reach the journey as ContactWorkflow would forward them:
	// only those it waits for.
	var notes []workflows.Entry
	for i, e := range s.Events[1:] {
		ev := events[i+1]
		if !journey.ListensTo(ev) {
			notes = append(notes, workflows.Entry{Offset: e.At, Kind: "event", Detail: ev.Name + " (not forwarded: " + journey.Name + " does not wait for it)"})
			continue
		}
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalEvent, ev) }, e.At)
	}
	in := workflows.JourneyInput{ContactID: contactID, Trigger: events[0], Settings: settings, Version: workflows.CurrentVersion}
	if journey.Key != nil {
		in.Key = journey.Key(events[0])
	}
	env.ExecuteWorkflow(journey.Name, in)
	if !env.IsWorkflowCompleted() {
		return fmt.Errorf("%s did not finish", journey.Name)
	}
	v, err := env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		return err
	}
	var st workflows.JourneyState
	if err := v.Get(&st); err != nil {
		return err
	}
	timeline := append(st.Timeline, notes...)
	sort.SliceStable(timeline, func(i, j int) bool { return timeline[i].Offset < timeline[j].Offset })

	fmt.Fprintf(out, "Simulating %s for %s. Nothing is delivered.\n\n", journey.Name, describeContact(&contact))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	var emails, sms, skipped int
	for _, e := range timeline {
		switch e.Kind {
		case "email":
			emails++
		case "sms":
			sms++
		case "skip":
			skipped++
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", offsetLabel(e.Offset), e.Kind, e.Step, e.Detail)
	}
	tw.Flush()
	end := env.Now().Sub(Start)
	result := "completed"
	if err := env.GetWorkflowError(); err != nil {
		result = "failed: " + err.Error()
	}
	fmt.Fprintf(out, "\n%s %s at %s: %d emails, %d SMS, %d skipped.\n", journey.Name, result, offsetLabel(end), emails, sms, skipped)
	return env.GetWorkflowError()
}

func describeContact(c *models.Contact) string {
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
