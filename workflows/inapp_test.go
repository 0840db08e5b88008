package workflows_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// inAppSteps stands in, in this test only, for a journey registered under
// an existing name, so no journey is added to the catalog.
func inAppSteps(ctx workflow.Context, in workflows.JourneyInput) error {
	j := workflows.Begin(ctx, in)
	j.InApp("tour", workflows.InAppAction("https://app.example.com/tour"), workflows.InAppExpires(7*workflows.Day))
	j.InApp("tour") // the same step again: already in the inbox, not put twice
	j.InApp("tip")
	j.InApp("more")
	j.InApp("again") // over the in-app cap of 3 a day
	j.InApp("receipt", workflows.InAppWith(workflows.Transactional()))
	return j.End()
}

// inAppTemplates are the test's in-app templates.
func inAppTemplates(t *testing.T) *activities.InAppTemplates {
	t.Helper()
	md := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tmpls, err := activities.ParseInAppTemplates(fstest.MapFS{
		"inapp/welcome_b2b/tour":       md("not a template: no .md"),
		"inapp/welcome_b2b/tour.md":    md("# Welcome, {{.Contact.FirstName}}\n\nTake the **tour**. <script>alert(1)</script> [x](javascript:alert(1))\n"),
		"inapp/welcome_b2b/tip.md":     md("A tip\nUse *filters*."),
		"inapp/welcome_b2b/more.md":    md("More\nMore."),
		"inapp/welcome_b2b/again.md":   md("Again\nAgain."),
		"inapp/welcome_b2b/receipt.md": md("Receipt\nThanks."),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tmpls
}

func runInApp(t *testing.T, c models.Contact) (*harness, []models.Message) {
	h := newHarness(t, c)
	h.acts.InAppTemplates = inAppTemplates(t)
	h.acts.Caps = config.Caps{Email: config.Cap{Max: 1, Window: 24 * time.Hour}, InApp: config.Cap{Max: 3, Window: 24 * time.Hour}}
	h.env.RegisterWorkflowWithOptions(inAppSteps, workflow.RegisterOptions{Name: "welcome_b2b", DisableAlreadyRegisteredCheck: true})
	h.env.ExecuteWorkflow("welcome_b2b", workflows.JourneyInput{ContactID: c.ID, Trigger: trackEvent(workflows.EventSignedUp, nil, h.start),
		Settings: workflows.DefaultSettings(), Version: workflows.CurrentVersion})
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("journey did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("journey failed: %v", err)
	}
	var rows []models.Message
	if err := h.store.DB().Where("channel = ?", models.ChannelInApp).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return h, rows
}

func TestJourneyPutsMessagesInTheInbox(t *testing.T) {
	h, rows := runInApp(t, models.Contact{ID: "dana", FirstName: "Dana"})
	var got []string
	for _, r := range rows {
		got = append(got, r.Step+" "+r.Status+" "+r.Reason)
	}
	status := map[string]string{}
	for _, r := range rows {
		status[r.Step] = r.Status + " " + r.Reason
	}
	if len(rows) != 5 || status["tour"] != "sent " || status["tip"] != "sent " || status["more"] != "sent " ||
		status["again"] != "skipped frequency cap: 3 marketing in-app messages already in the last 24h" || status["receipt"] != "sent " {
		t.Fatalf("rows:\n%s", strings.Join(got, "\n"))
	}
	tour := rows[0]
	if tour.Subject != "Welcome, Dana" || tour.To != "dana" || !tour.Marketing ||
		!strings.Contains(tour.HTML, "<strong>tour</strong>") || strings.Contains(tour.HTML, "<script") || strings.Contains(tour.HTML, "javascript:") {
		t.Errorf("tour row = %+v", tour)
	}
	entries, err := h.store.Inbox(t.Context(), "dana", h.start.Add(time.Hour), 30*24*time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Fatalf("inbox has %d messages, want 4", len(entries))
	}
	var first models.InboxEntry
	for _, e := range entries {
		if e.MessageID == tour.ID {
			first = e
		}
	}
	if first.ActionURL != "https://app.example.com/tour" || first.ExpiresAt == nil || !first.ExpiresAt.Equal(h.start.Add(7*workflows.Day)) {
		t.Errorf("tour item = %+v", first.InboxItem)
	}
}

func TestInAppFollowsUnsubscribes(t *testing.T) {
	at := testStart.Add(-time.Hour)
	h, rows := runInApp(t, models.Contact{ID: "eve", UnsubscribedAt: &at})
	for _, r := range rows {
		want := workflows.StatusSkipped
		if r.Step == "receipt" {
			want = workflows.StatusSent // transactional reaches an unsubscribed contact
		}
		if r.Status != want {
			t.Errorf("%s: %s %s, want %s", r.Step, r.Status, r.Reason, want)
		}
	}
	entries, _ := h.store.Inbox(t.Context(), "eve", h.start.Add(time.Hour), 30*24*time.Hour, 10)
	if len(entries) != 1 {
		t.Errorf("inbox has %d messages, want the receipt only", len(entries))
	}
}
