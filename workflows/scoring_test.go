package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var lee = models.Contact{ID: "u-lee", Email: "lee@brightpath.example", FirstName: "Lee", Company: "Brightpath", LifecycleStage: models.StageSubscriber}

// scoringHarness runs ContactWorkflow with no journeys, so only scoring,
// the funnel and the handoff act.
func scoringHarness(t *testing.T, contacts ...models.Contact) *contactRun {
	return newContactRun(t, newHarnessFor(t, nil, contacts...))
}

func page(name, path string, at time.Time) workflows.Event {
	return workflows.Event{MessageID: "page-" + name + "@" + at.Format(time.RFC3339Nano), Kind: workflows.KindPage, Name: name,
		Properties: map[string]any{"path": path, "url": "https://brightpath.example" + path}, Timestamp: at}
}

func ledger(t *testing.T, h *harness, id string) []string {
	t.Helper()
	entries, err := h.store.ScoreLedger(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s %+d = %d", e.Rule, e.Points, e.Score))
	}
	return out
}

// Each rule scores as the table says; the MQL threshold (80) is crossed once:
// the lead gets an owner, a task, and a Slack message to that rep.
func TestScoringRulesAndHandoff(t *testing.T) {
	r := scoringHarness(t, lee)
	at := func(d time.Duration) time.Time { return testStart.Add(d) }
	r.send(0, identify(map[string]any{"title": "VP Operations", "company": map[string]any{"name": "Brightpath", "industry": "Software", "employee_count": 240.0}}, at(0)))
	r.send(time.Minute, trackEvent(workflows.EventEmailOpened, map[string]any{"journey": "nurture"}, at(time.Minute)))
	r.send(2*time.Minute, trackEvent(workflows.EventEmailClicked, map[string]any{"url": "https://x"}, at(2*time.Minute)))
	r.send(3*time.Minute, page("Pricing", "/pricing", at(3*time.Minute)))
	r.send(4*time.Minute, page("Pricing", "/pricing", at(4*time.Minute))) // same day: no more points
	r.send(4*time.Minute+30*time.Second, page("Docs", "/docs", at(4*time.Minute+30*time.Second)))
	r.send(5*time.Minute, trackEvent(workflows.EventContentDownloaded, map[string]any{"content_type": "case_study", "content_id": "northwind"}, at(5*time.Minute)))
	r.queryAt(6 * time.Minute)
	r.send(10*time.Minute, trackEvent(workflows.EventDemoRequested, nil, at(10*time.Minute)))
	r.send(20*time.Minute, trackEvent(workflows.EventEmailClicked, map[string]any{"url": "https://y"}, at(20*time.Minute)))
	r.queryAt(time.Hour)
	r.run(lee.ID, 2*time.Hour)

	// The three pages make an engaged session at the third one, which
	// crosses the threshold.
	want := []string{
		"title +15 = 15", "company_size +10 = 25", "industry +10 = 35",
		"email_opened +2 = 37", "email_clicked +5 = 42", "pricing_page +25 = 67",
		"engaged_session +15 = 82", "case_study +10 = 92",
		"demo_requested +50 = 142", "email_clicked +5 = 147",
	}
	if got := ledger(t, r.harness, lee.ID); !slices.Equal(got, want) {
		t.Errorf("ledger:\n%v\nwant:\n%v", got, want)
	}
	before := r.states[6*time.Minute]
	if before.LeadScore != 92 || before.Stage != workflows.StageMQL || before.MQLAt == nil {
		t.Errorf("after the case study: score %d, stage %s", before.LeadScore, before.Stage)
	}
	st := r.states[time.Hour]
	if st.LeadScore != 147 || st.Owner != "Sam Lee" || st.TaskID == 0 {
		t.Errorf("state = score %d owner %q task %d", st.LeadScore, st.Owner, st.TaskID)
	}

	c, _ := r.store.Contact(context.Background(), lee.ID)
	if c.LeadScore != 147 || c.LifecycleStage != workflows.StageMQL || c.OwnerEmail != "sam@acme.example.com" {
		t.Errorf("contact row = score %d, stage %s, owner %s", c.LeadScore, c.LifecycleStage, c.OwnerEmail)
	}
	tasks, _ := r.store.Tasks(context.Background(), "", "", 10, 0)
	if len(tasks) != 1 || tasks[0].Kind != "mql_follow_up" || tasks[0].RepEmail != "sam@acme.example.com" ||
		tasks[0].Title != "Follow up with Lee (Brightpath): lead score 82" {
		t.Errorf("tasks = %+v", tasks)
	}
	var slack []models.Message
	r.store.DB().Where("channel = ?", "slack").Order("id").Find(&slack)
	var kinds []string
	for _, m := range slack {
		kinds = append(kinds, m.Step+" to "+m.To)
	}
	// The pricing alert goes to the sales channel (no owner yet), once a day;
	// the MQL alert to the rep who got the lead.
	if want := []string{"pricing to #sales", "mql to U0SAM"}; !slices.Equal(kinds, want) {
		t.Errorf("slack alerts = %v, want %v", kinds, want)
	}
}

// Round robin: the next MQL goes to the next rep.
func TestHandoffRoundRobin(t *testing.T) {
	a, b := lee, lee
	a.ID, b.ID = "u-a", "u-b"
	h := newHarnessFor(t, nil, a, b)
	for _, id := range []string{"u-a", "u-b"} {
		if _, err := h.acts.HandOffLead(context.Background(), workflows.HandoffRequest{ContactID: id, Score: 90}); err != nil {
			t.Fatal(err)
		}
	}
	ca, _ := h.store.Contact(context.Background(), "u-a")
	cb, _ := h.store.Contact(context.Background(), "u-b")
	if ca.OwnerName != "Sam Lee" || cb.OwnerName != "Ana Ruiz" {
		t.Errorf("owners %q and %q, want Sam Lee then Ana Ruiz", ca.OwnerName, cb.OwnerName)
	}
	// A retried handoff keeps the owner and the task.
	h1, _ := h.acts.HandOffLead(context.Background(), workflows.HandoffRequest{ContactID: "u-a", Score: 95})
	h2, _ := h.acts.HandOffLead(context.Background(), workflows.HandoffRequest{ContactID: "u-a", Score: 95})
	if h1 != h2 || h1.RepName != "Sam Lee" {
		t.Errorf("retries gave %+v and %+v", h1, h2)
	}
}

// Silence costs 10 points every 30 days, and after 60 days starts win-back.
// The score never goes below zero.
func TestInactivityDecayAndWinBack(t *testing.T) {
	h := newHarnessFor(t, []string{"winback"}, lee)
	r := newContactRun(t, h)
	r.send(0, identify(map[string]any{"title": "Head of Data"}, testStart)) // +15
	r.send(time.Hour, trackEvent(workflows.EventEmailOpened, nil, testStart.Add(time.Hour)))
	r.queryAt(29 * 24 * hour)
	r.queryAt(31 * 24 * hour)
	r.queryAt(62 * 24 * hour)
	r.run(lee.ID, 100*24*hour)

	if st := r.states[29*24*hour]; st.LeadScore != 17 || st.Decays != 0 {
		t.Errorf("day 29: score %d decays %d", st.LeadScore, st.Decays)
	}
	if st := r.states[31*24*hour]; st.LeadScore != 7 || st.Decays != 1 {
		t.Errorf("day 31: score %d decays %d", st.LeadScore, st.Decays)
	}
	if st := r.states[62*24*hour]; st.LeadScore != 0 || !st.Lapsed {
		t.Errorf("day 62: score %d lapsed %v", st.LeadScore, st.Lapsed)
	}
	want := []string{"title +15 = 15", "email_opened +2 = 17", "inactive -10 = 7", "inactive -7 = 0"}
	if got := ledger(t, h, lee.ID); !slices.Equal(got, want) {
		t.Errorf("ledger %v, want %v", got, want)
	}
	if want := []string{"journey/winback/u-lee"}; !slices.Equal(r.started, want) {
		t.Errorf("started %v, want %v", r.started, want)
	}
	// Win-back starts 60 days after the last open.
	if len(r.emails) == 0 || r.emails[0].Template != "winback/we_miss_you" || r.emails[0].Offset != time.Hour+60*24*hour {
		t.Errorf("win-back emails: %v", r.sent())
	}
}

// Funnel stages follow what the contact does; a trial tells the sales channel.
func TestLifecycleStages(t *testing.T) {
	r := scoringHarness(t, lee)
	r.send(0, trackEvent(workflows.EventSignedUp, map[string]any{"plan": "b2b"}, testStart))
	r.queryAt(time.Minute)
	r.send(time.Hour, trackEvent(workflows.EventTrialStarted, nil, testStart.Add(time.Hour)))
	r.queryAt(2 * time.Hour)
	r.send(3*time.Hour, trackEvent(workflows.EventSubscriptionStarted, nil, testStart.Add(3*time.Hour)))
	r.queryAt(4 * time.Hour)
	r.send(5*time.Hour, trackEvent(workflows.EventSubscriptionCancelled, nil, testStart.Add(5*time.Hour)))
	r.queryAt(6 * time.Hour)
	r.run(lee.ID, 7*time.Hour)
	var stages []string
	for _, at := range []time.Duration{time.Minute, 2 * time.Hour, 4 * time.Hour, 6 * time.Hour} {
		stages = append(stages, r.states[at].Stage)
	}
	if want := []string{"lead", "trial", "customer", "churned"}; !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	var trial models.Message
	if err := r.store.DB().Where("channel = ? AND step = ?", "slack", workflows.SlackTrial).Take(&trial).Error; err != nil || trial.To != "#sales" {
		t.Errorf("trial alert = %+v, %v", trial, err)
	}
}

// runAs runs ContactWorkflow for contactID as a run of version, as a run
// started before an upgrade would.
func (r *contactRun) runAs(contactID string, version int, until time.Duration) {
	r.t.Helper()
	st := workflows.NewContact(contactID)
	st.Version = version
	r.at(until, r.env.CancelWorkflow)
	r.env.ExecuteWorkflow(workflows.ContactWorkflowName, st)
	if err := r.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		r.t.Fatalf("contact workflow ended with %v, want cancelled", err)
	}
}

// inAppEngagement reads an in-app message, clicks its action, then reads
// another: what the gateway records (gateway/inbox.go).
func inAppEngagement(r *contactRun) {
	props := func(id int) map[string]any {
		return map[string]any{"message_id": id, "journey": "welcome_b2b", "step": "getting_started"}
	}
	r.send(0, identify(map[string]any{"title": "VP Operations"}, testStart)) // +15
	r.send(time.Minute, trackEvent(workflows.EventInAppRead, props(1), testStart.Add(time.Minute)))
	r.send(2*time.Minute, trackEvent(workflows.EventInAppClicked, map[string]any{"message_id": 1, "url": "https://app.example.com/setup", "tag": "inbox"}, testStart.Add(2*time.Minute)))
	r.send(3*time.Minute, trackEvent(workflows.EventInAppRead, props(2), testStart.Add(3*time.Minute)))
	r.queryAt(time.Hour)
}

// From version 5 an in-app message read scores like an email opened, and
// its action clicked like an email link clicked.
func TestInAppScoring(t *testing.T) {
	r := scoringHarness(t, lee)
	inAppEngagement(r)
	r.run(lee.ID, 2*time.Hour)

	want := []string{"title +15 = 15", "inapp_read +2 = 17", "inapp_clicked +5 = 22", "inapp_read +2 = 24"}
	if got := ledger(t, r.harness, lee.ID); !slices.Equal(got, want) {
		t.Errorf("ledger %v, want %v", got, want)
	}
	st := r.states[time.Hour]
	wantBreakdown := []workflows.ScoreChange{
		{Rule: "title", Points: 15, Reason: "job title matches the ideal customer profile"},
		{Rule: "inapp_read", Points: 4, Reason: "read an in-app message"},
		{Rule: "inapp_clicked", Points: 5, Reason: "clicked the action of an in-app message"},
	}
	if st.LeadScore != 24 || !slices.Equal(st.Breakdown, wantBreakdown) {
		t.Errorf("score %d, breakdown %+v; want 24, %+v", st.LeadScore, st.Breakdown, wantBreakdown)
	}
	entries, err := r.store.ScoreLedger(context.Background(), lee.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 || entries[2].Reason != "clicked the action of an in-app message" {
		t.Errorf("ledger entries = %+v", entries)
	}
	if c, _ := r.store.Contact(context.Background(), lee.ID); c.LeadScore != 24 {
		t.Errorf("contact row score %d, want 24", c.LeadScore)
	}
}

// A version 4 run scores the same events as it did before: the fit alone.
func TestInAppNotScoredBeforeVersion5(t *testing.T) {
	r := scoringHarness(t, lee)
	inAppEngagement(r)
	r.runAs(lee.ID, 4, 2*time.Hour)

	if got, want := ledger(t, r.harness, lee.ID), []string{"title +15 = 15"}; !slices.Equal(got, want) {
		t.Errorf("ledger %v, want %v", got, want)
	}
	if st := r.states[time.Hour]; st.LeadScore != 15 || len(st.Breakdown) != 1 {
		t.Errorf("score %d, breakdown %+v; want the title's 15 alone", st.LeadScore, st.Breakdown)
	}
}

// From version 5 an in-app read is engagement: it restarts the clock, so
// the 60 days of silence that would have lapsed the contact (and started
// win-back) do not pass, and the decay counts again from the read. A
// version 4 run does not count it and lapses as before.
func TestInAppReadResetsTheEngagementClock(t *testing.T) {
	script := func(r *contactRun) {
		r.send(0, identify(map[string]any{"title": "Head of Data"}, testStart)) // +15
		r.send(time.Hour, trackEvent(workflows.EventEmailOpened, nil, testStart.Add(time.Hour)))
		r.queryAt(31 * 24 * hour)
		r.send(50*24*hour, trackEvent(workflows.EventInAppRead, map[string]any{"message_id": 7, "journey": "welcome_b2b"}, testStart.Add(50*24*hour)))
		r.queryAt(50*24*hour + time.Minute)
		r.queryAt(75 * 24 * hour)
	}

	r := newContactRun(t, newHarnessFor(t, []string{"winback"}, lee))
	script(r)
	r.run(lee.ID, 90*24*hour)
	if st := r.states[31*24*hour]; st.Decays != 1 || st.LeadScore != 7 {
		t.Errorf("day 31: score %d decays %d, want 7 and 1", st.LeadScore, st.Decays)
	}
	read := testStart.Add(50 * 24 * hour)
	if st := r.states[50*24*hour+time.Minute]; !st.LastEngagedAt.Equal(read) || st.Decays != 0 || st.Lapsed {
		t.Errorf("after the read: last engaged %s decays %d lapsed %v, want %s, 0, false", st.LastEngagedAt, st.Decays, st.Lapsed, read)
	}
	// Day 75 is 30 days after nothing: 25 days after the read.
	if st := r.states[75*24*hour]; st.Lapsed || st.Decays != 0 || st.LeadScore != 9 {
		t.Errorf("day 75: score %d decays %d lapsed %v, want 9, 0, false", st.LeadScore, st.Decays, st.Lapsed)
	}
	// Day 80 (30 days after the read) decays once more; no lapse by day 90.
	want := []string{"title +15 = 15", "email_opened +2 = 17", "inactive -10 = 7", "inapp_read +2 = 9", "inactive -9 = 0"}
	if got := ledger(t, r.harness, lee.ID); !slices.Equal(got, want) {
		t.Errorf("ledger %v, want %v", got, want)
	}
	if len(r.started) != 0 {
		t.Errorf("started %v, want no win-back", r.started)
	}

	old := newContactRun(t, newHarnessFor(t, []string{"winback"}, lee))
	script(old)
	old.runAs(lee.ID, 4, 90*24*hour)
	if st := old.states[75*24*hour]; !st.Lapsed || !st.LastEngagedAt.Equal(testStart.Add(time.Hour)) {
		t.Errorf("version 4, day 75: lapsed %v, last engaged %s; want lapsed since the open", st.Lapsed, st.LastEngagedAt)
	}
	if want := []string{"journey/winback/u-lee"}; !slices.Equal(old.started, want) {
		t.Errorf("version 4 started %v, want %v", old.started, want)
	}
}
