package workflows_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var dana = models.Contact{
	ID: "u-dana", Email: "dana@ledgerly.example", FirstName: "Dana", LastName: "Kim",
	Company: "Ledgerly", Industry: "Fintech", LifecycleStage: models.StageSubscriber,
}

var signedUpB2B = trackEvent(workflows.EventSignedUp, map[string]any{"plan": "b2b"}, testStart)

func TestWelcomeB2BWithoutSetup(t *testing.T) {
	h := newHarness(t, dana)
	st := h.runJourney("welcome_b2b", dana.ID, signedUpB2B)

	h.assertSent(
		"+0h welcome_b2b/welcome recorded",
		"+24h welcome_b2b/quick_win recorded",
		"+72h welcome_b2b/finish_setup recorded",
		"+168h welcome_b2b/feature_highlight recorded",
		"+240h welcome_b2b/case_study recorded",
		"+336h welcome_b2b/check_in recorded",
	)
	want := []string{
		"Welcome to Acme, Dana: one step to get started",
		"Your first win with Acme takes five minutes",
		"Dana, your Acme setup is almost done",
		"The Acme feature most teams find too late",
		"How Ledgerly onboarded 3x more business accounts without adding headcount",
		"Two weeks in: how is Acme working for Ledgerly?",
	}
	for i, subject := range want {
		if h.emails[i].Subject != subject {
			t.Errorf("email %d subject = %q, want %q", i, h.emails[i].Subject, subject)
		}
		if h.emails[i].To != `"Dana Kim" <dana@ledgerly.example>` {
			t.Errorf("email %d to = %q", i, h.emails[i].To)
		}
	}
	if h.emails[5].Sender != workflows.SenderOwner {
		t.Errorf("check-in sender = %q, want the account owner", h.emails[5].Sender)
	}
	if !hasEntry(st, "check", "Setup Completed not received") {
		t.Errorf("timeline does not say why the day-3 branch was taken:\n%v", st.Timeline)
	}
	if st.Step != "ended" || !st.Ended {
		t.Errorf("state = %q ended=%v, want ended", st.Step, st.Ended)
	}

	// Beside the welcome email, the getting-started checklist in the app,
	// there for the two weeks of the welcome.
	if got, want := inAppSent(h), []string{"+0h inapp:welcome_b2b/getting_started sent Welcome to Acme, Dana"}; !slices.Equal(got, want) {
		t.Errorf("in-app = %v, want %v", got, want)
	}
	entries, err := h.store.Inbox(t.Context(), dana.ID, h.start.Add(time.Hour), 30*24*time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].ExpiresAt == nil || !entries[0].ExpiresAt.Equal(h.start.Add(14*workflows.Day)) ||
		!strings.Contains(entries[0].HTML, "<strong>Connect your data</strong>") {
		t.Errorf("inbox = %+v", entries)
	}
	if !hasEntry(st, "inapp", workflows.StatusSent) {
		t.Errorf("timeline does not show the in-app message:\n%v", st.Timeline)
	}
}

// Runs from before version 5 put nothing in the inbox: the emails alone, as recorded.
func TestWelcomeB2BBeforeVersion5(t *testing.T) {
	h := newHarness(t, dana)
	h.version = 4
	h.runJourney("welcome_b2b", dana.ID, signedUpB2B)
	h.assertSent(
		"+0h welcome_b2b/welcome recorded",
		"+24h welcome_b2b/quick_win recorded",
		"+72h welcome_b2b/finish_setup recorded",
		"+168h welcome_b2b/feature_highlight recorded",
		"+240h welcome_b2b/case_study recorded",
		"+336h welcome_b2b/check_in recorded",
	)
	if len(h.inApp) != 0 {
		t.Errorf("in-app = %v, want none", inAppSent(h))
	}
	var n int64
	if err := h.store.DB().Model(&models.Message{}).Where("channel = ?", models.ChannelInApp).Count(&n).Error; err != nil || n != 0 {
		t.Errorf("%d in-app rows (%v), want none", n, err)
	}
}

// inAppSent lists "+<hours>h <template> <status> <title>" for each in-app message.
func inAppSent(h *harness) []string {
	var out []string
	for _, m := range h.inApp {
		out = append(out, offset(m.Offset)+" "+m.Template+" "+m.Status+" "+m.Subject)
	}
	return out
}

func TestWelcomeB2BSetupCompleted(t *testing.T) {
	h := newHarness(t, dana)
	h.track(50*hour, workflows.EventSetupCompleted, nil)
	st := h.runJourney("welcome_b2b", dana.ID, signedUpB2B)

	h.assertSent(
		"+0h welcome_b2b/welcome recorded",
		"+24h welcome_b2b/quick_win recorded",
		"+72h welcome_b2b/next_milestone recorded",
		"+168h welcome_b2b/feature_highlight recorded",
		"+240h welcome_b2b/case_study recorded",
		"+336h welcome_b2b/check_in recorded",
	)
	if got := h.emails[2].Subject; got != "Setup done. Here is your next milestone, Dana" {
		t.Errorf("day 3 subject = %q", got)
	}
	if !hasEntry(st, "check", "Setup Completed received at +50h") {
		t.Errorf("timeline does not say why the day-3 branch was taken:\n%v", st.Timeline)
	}
	// Setup Completed is the welcome's conversion; it keeps going after it.
	h.assertRun("welcome_b2b", workflows.OutcomeConverted, workflows.EventSetupCompleted)
}

// Setup completed after day 3 is too late for the branch: the contact already got help finishing.
func TestWelcomeB2BSetupAfterDay3(t *testing.T) {
	h := newHarness(t, dana)
	h.track(73*hour, workflows.EventSetupCompleted, nil)
	h.runJourney("welcome_b2b", dana.ID, signedUpB2B)
	if got := h.emails[2].Template; got != "welcome_b2b/finish_setup" {
		t.Errorf("day 3 email = %s, want finish_setup", got)
	}
}

func TestWelcomeB2BCaseStudyByIndustry(t *testing.T) {
	for industry, headline := range map[string]string{
		"healthcare": "How Caremark Clinics gave 40 sites one view of patient follow-ups",
		"Retail":     "How Oak & Thread grew repeat orders by 22% in one season",
		"":           "How Northwind cut weekly reporting from a day to twenty minutes",
		"mining":     "How Northwind cut weekly reporting from a day to twenty minutes",
	} {
		t.Run(industry, func(t *testing.T) {
			c := dana
			c.Industry = industry
			h := newHarness(t, c)
			h.runJourney("welcome_b2b", c.ID, signedUpB2B)
			if got := h.emails[4]; got.Template != "welcome_b2b/case_study" || got.Subject != headline {
				t.Errorf("day 10 = %s %q, want case_study %q", got.Template, got.Subject, headline)
			}
		})
	}
}

// A contact who gave no name is greeted with "there", and one with no company is not told about it.
func TestWelcomeB2BFallbacks(t *testing.T) {
	c := models.Contact{ID: "u-anon", Email: "someone@example.com", LifecycleStage: models.StageSubscriber}
	h := newHarness(t, c)
	h.runJourney("welcome_b2b", c.ID, signedUpB2B)
	if got := h.emails[0].Subject; got != "Welcome to Acme, there: one step to get started" {
		t.Errorf("subject = %q", got)
	}
	if got := h.emails[5].Subject; got != "Two weeks in: how is Acme working for you?" {
		t.Errorf("check-in subject = %q", got)
	}
	if got := h.emails[0].To; got != "<someone@example.com>" {
		t.Errorf("to = %q", got)
	}
}

func hasEntry(st workflows.JourneyState, kind, detail string) bool {
	for _, e := range st.Timeline {
		if e.Kind == kind && e.Detail == detail {
			return true
		}
	}
	return false
}
