package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var becameLead = trackEvent(workflows.EventBecameLead, nil, testStart)

// openEach opens every nurture email an hour after it goes out (the plan
// sends every 4 days), with the topic of what it carried.
func openEach(h *harness, topic string, sends int) {
	for i := 1; i <= sends; i++ {
		at := time.Duration(i)*4*24*hour + time.Hour
		h.at(at, func() {
			h.env.SignalWorkflow(workflows.SignalEvent, trackEvent(workflows.EventEmailOpened,
				map[string]any{"journey": "nurture", "topic": topic}, testStart.Add(at)))
		})
	}
}

func contents(t *testing.T, h *harness) []string {
	t.Helper()
	var ms []models.Message
	h.store.DB().Where("journey = ?", "nurture").Order("id").Find(&ms)
	var out []string
	for _, m := range ms {
		out = append(out, m.Template+":"+m.Content)
	}
	return out
}

// A lead who reads along gets the whole drip, every 4 days, from education
// to the trial offer.
func TestNurtureFullDrip(t *testing.T) {
	h := newHarness(t, lee)
	openEach(h, "", 8)
	st := h.runJourney("nurture", lee.ID, becameLead)
	h.assertSent(
		"+96h nurture/educational recorded",
		"+192h nurture/educational recorded",
		"+288h nurture/use_case recorded",
		"+384h nurture/roi recorded",
		"+480h nurture/case_study recorded",
		"+576h nurture/comparison recorded",
		"+672h nurture/demo recorded",
		"+768h nurture/trial recorded",
	)
	want := []string{"nurture/educational:guide-automation", "nurture/educational:guide-analytics", "nurture/use_case:usecase-automation",
		"nurture/roi:roi-calculator", "nurture/case_study:", "nurture/comparison:comparison", "nurture/demo:demo", "nurture/trial:trial"}
	if got := contents(t, h); !slices.Equal(got, want) {
		t.Errorf("content %v, want %v", got, want)
	}
	if h.emails[0].Subject != "Five reports your team should never build by hand again" {
		t.Errorf("first subject = %q", h.emails[0].Subject)
	}
	if st.Step != "ended" {
		t.Errorf("step %q", st.Step)
	}
}

// Three emails in a row without an open, a click, a visit or an in-app
// read: nurture stops writing. Runs before version 4 said (and counted)
// opens only, before version 5 no in-app reads.
func TestNurtureStopsWhenIgnored(t *testing.T) {
	for version, reason := range map[int]string{
		workflows.CurrentVersion: "no opens, clicks, visits or in-app reads since the last 3 nurture emails: stopping",
		4:                        "no opens, clicks or visits since the last 3 nurture emails: stopping",
		3:                        "no opens in the last 3 nurture emails: stopping",
	} {
		h := newHarness(t, lee)
		h.version = version
		st := h.runJourney("nurture", lee.ID, becameLead)
		h.assertSent(
			"+96h nurture/educational recorded",
			"+192h nurture/educational recorded",
			"+288h nurture/use_case recorded",
		)
		h.assertRun("nurture", workflows.OutcomeExited, reason)
		if !hasEntry(st, "exit", reason) {
			t.Errorf("version %d timeline:\n%v", version, st.Timeline)
		}
	}
}

// A lead whose mail client blocks images never opens, but clicks and
// visits the site: that is engagement, and the drip goes on. Before
// version 4 the same lead was dropped after three emails.
func TestNurtureCountsClicksAndVisits(t *testing.T) {
	engage := func(h *harness) {
		for i := 1; i <= 8; i++ {
			at := time.Duration(i)*4*24*hour + time.Hour
			if i%2 == 1 {
				h.track(at, workflows.EventEmailClicked, map[string]any{"journey": "nurture", "url": "https://acme.example.com/blog"})
			} else {
				h.at(at, func() {
					h.env.SignalWorkflow(workflows.SignalEvent, workflows.Event{MessageID: fmt.Sprintf("page-%d", i), Kind: workflows.KindPage,
						Name: "Blog", Properties: map[string]any{"url": "https://acme.example.com/blog"}, Timestamp: testStart.Add(at)})
				})
			}
		}
	}
	h := newHarness(t, lee)
	engage(h)
	h.runJourney("nurture", lee.ID, becameLead)
	if n := len(h.emails); n != 8 {
		t.Errorf("version %d: %d nurture emails, want all 8", workflows.CurrentVersion, n)
	}

	old := newHarness(t, lee)
	old.version = 3
	engage(old)
	old.runJourney("nurture", lee.ID, becameLead)
	old.assertRun("nurture", workflows.OutcomeExited, "no opens in the last 3 nurture emails: stopping")
}

// A lead who reads and clicks in-app messages (here the B2B welcome's)
// but no email is still engaged from version 5: the drip goes on. A
// version 4 run does not hear them and stops after three emails.
func TestNurtureCountsInAppReads(t *testing.T) {
	engage := func(h *harness) {
		for i := 1; i <= 8; i++ {
			name := workflows.EventInAppRead
			if i%2 == 0 {
				name = workflows.EventInAppClicked
			}
			h.track(time.Duration(i)*4*24*hour+time.Hour, name, map[string]any{"journey": "welcome_b2b", "step": "getting_started"})
		}
	}
	h := newHarness(t, lee)
	engage(h)
	h.runJourney("nurture", lee.ID, becameLead)
	if n := len(h.emails); n != 8 {
		t.Errorf("version %d: %d nurture emails, want all 8", workflows.CurrentVersion, n)
	}
	h.assertRun("nurture", workflows.OutcomeCompleted, "")

	old := newHarness(t, lee)
	old.version = 4
	engage(old)
	old.runJourney("nurture", lee.ID, becameLead)
	old.assertRun("nurture", workflows.OutcomeExited, "no opens, clicks or visits since the last 3 nurture emails: stopping")
}

// Repeated opens on one topic bring more of that topic.
func TestNurtureFollowsTopic(t *testing.T) {
	h := newHarness(t, lee)
	openEach(h, "integrations", 8)
	h.at(5*24*hour, func() {
		h.env.SignalWorkflow(workflows.SignalEvent, trackEvent(workflows.EventEmailClicked,
			map[string]any{"journey": "nurture", "topic": "integrations", "tag": "integrations"}, testStart.Add(5*24*hour)))
	})
	h.runJourney("nurture", lee.ID, becameLead)
	got := contents(t, h)
	if got[1] != "nurture/educational:guide-integrations" || got[2] != "nurture/use_case:usecase-integrations" {
		t.Errorf("content %v: want integrations pieces after two integrations engagements", got)
	}
}

// A click on a pricing link moves the lead to the pricing track.
func TestNurturePricingTrack(t *testing.T) {
	h := newHarness(t, lee)
	openEach(h, "", 8)
	h.at(5*24*hour, func() {
		h.env.SignalWorkflow(workflows.SignalEvent, trackEvent(workflows.EventEmailClicked,
			map[string]any{"journey": "nurture", "tag": "pricing", "url": "https://acme.example.com/pricing"}, testStart.Add(5*24*hour)))
	})
	st := h.runJourney("nurture", lee.ID, becameLead)
	h.assertSent(
		"+96h nurture/educational recorded",
		"+192h nurture/pricing recorded",
		"+288h nurture/roi recorded",
		"+384h nurture/demo recorded",
		"+480h nurture/trial recorded",
	)
	if !hasEntry(st, "check", "clicked a pricing link: moved to the pricing track") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
}

func TestNurtureEndsOnConversion(t *testing.T) {
	for _, goal := range []string{workflows.EventDemoRequested, workflows.EventTrialStarted, workflows.EventOrderCompleted, workflows.EventLeadAccepted} {
		t.Run(goal, func(t *testing.T) {
			h := newHarness(t, lee)
			openEach(h, "", 8)
			h.track(10*24*hour, goal, nil)
			st := h.runJourney("nurture", lee.ID, becameLead)
			h.assertSent("+96h nurture/educational recorded", "+192h nurture/educational recorded")
			if st.Step != "goal: "+goal {
				t.Errorf("step %q", st.Step)
			}
		})
	}
}

// While a sales rep has the lead, the drip holds; it resumes when the task
// is closed without a sale.
func TestNurturePausesWhileHandedOff(t *testing.T) {
	h := newHarness(t, lee)
	openEach(h, "", 8)
	h.track(5*24*hour, workflows.EventHandedOff, map[string]any{"task_id": 1.0})
	h.track(20*24*hour, workflows.EventSalesTaskClosed, nil)
	st := h.runJourney("nurture", lee.ID, becameLead)
	if len(h.emails) < 3 || h.emails[1].Offset != 20*24*hour || h.emails[2].Offset != 24*24*hour {
		t.Errorf("emails: %v", h.sent())
	}
	if !hasEntry(st, "wait", "while a sales rep has the lead") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
}

// A lead who signed up gets the welcome series first: the drip starts after it.
func TestNurtureWaitsForTheWelcome(t *testing.T) {
	h := newHarness(t, lee)
	st := h.runJourney("nurture", lee.ID, trackEvent(workflows.EventBecameLead, map[string]any{"via": workflows.EventSignedUp}, testStart))
	if len(h.emails) == 0 || h.emails[0].Offset != 18*24*hour {
		t.Errorf("emails: %v", h.sent())
	}
	if !hasEntry(st, "wait", "until day 14") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
}

// Three chances, then the contact is let go: unengaged, no more marketing.
func TestWinBackUnanswered(t *testing.T) {
	h := newHarness(t, lee)
	st := h.runJourney("winback", lee.ID, trackEvent(workflows.EventEngagementLapsed, nil, testStart))
	h.assertSent(
		"+0h winback/we_miss_you recorded",
		"+168h winback/what_would_help recorded",
		"+336h winback/last_email recorded",
	)
	if got := h.emails[2].Subject; got != "This is our last email, Lee" {
		t.Errorf("last subject = %q", got)
	}
	c, _ := h.store.Contact(context.Background(), lee.ID)
	if c.UnengagedAt == nil || !c.UnengagedAt.Equal(testStart.Add(21*24*hour)) {
		t.Errorf("unengaged at %v", c.UnengagedAt)
	}
	if !hasEntry(st, "check", "no engagement after three emails: marked unengaged, no more marketing email") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
	h.assertRun("winback", workflows.OutcomeCompleted, "")
	// From now on, marketing email skips them.
	res, err := h.acts.SendEmail(context.Background(), workflows.EmailRequest{Message: workflows.Message{Key: "k", ContactID: lee.ID, Template: "welcome_b2b/welcome", Marketing: true, At: testStart.Add(30 * 24 * hour)}})
	if err != nil || res.Reason != "unengaged: no response to the win-back emails" {
		t.Errorf("after win-back: %+v, %v", res, err)
	}
}

// Any engagement is a win.
func TestWinBackSucceeds(t *testing.T) {
	for _, ev := range []workflows.Event{
		trackEvent(workflows.EventEmailOpened, nil, testStart.Add(3*24*hour)),
		page("Home", "/", testStart.Add(3*24*hour)),
	} {
		t.Run(ev.Action(), func(t *testing.T) {
			h := newHarness(t, lee)
			h.at(3*24*hour, func() { h.env.SignalWorkflow(workflows.SignalEvent, ev) })
			st := h.runJourney("winback", lee.ID, trackEvent(workflows.EventEngagementLapsed, nil, testStart))
			h.assertSent("+0h winback/we_miss_you recorded")
			c, _ := h.store.Contact(context.Background(), lee.ID)
			if st.Step != "goal: "+ev.Action() || c.UnengagedAt != nil {
				t.Errorf("step %q, unengaged %v", st.Step, c.UnengagedAt)
			}
			h.assertRun("winback", workflows.OutcomeConverted, ev.Action())
		})
	}
}
