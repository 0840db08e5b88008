package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/ads/adstest"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var adAt = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// adFixture is the activities with Meta's and Google's stand-ins, and a
// fake Slack.
type adFixture struct {
	testbed
	meta   *adstest.Meta
	google *adstest.Google
	slack  *fakeSlack
}

func newAdFixture(t *testing.T) *adFixture {
	t.Helper()
	m, g, clients := adStandIns(t)
	clients.Channel = "#ads"
	fake := newFakeSlack(t)
	sc, err := activities.NewSlackClient(slackToken, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := &adFixture{meta: m, google: g, slack: fake, testbed: newTestbed(t, &activities.Activities{
		Slack: sc,
		Ads:   clients,
	})}
	m.SetObject(adstest.MetaObject{ID: "100", Name: "Spring sale", Status: "ACTIVE", DailyBudget: 5000})
	g.AddCampaign(adstest.GoogleCampaign{ID: "555", Name: "Brand search", Status: "ENABLED", BudgetID: "777", Budget: 50_000_000})
	if err := f.store.SaveAdObjects(context.Background(), []models.AdObject{
		{Platform: "meta", ID: "100", Account: "act_1", Level: "campaign", Name: "Spring sale", Status: "ACTIVE", DailyBudget: 50_000_000, Currency: "USD"},
		{Platform: "google", ID: "555", Account: adstest.GoogleCustomerID, Level: "campaign", Name: "Brand search", Status: "ENABLED", DailyBudget: 50_000_000, BudgetID: "777", Currency: "USD"},
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// record writes one pending decision and returns its ID.
func (f *adFixture) record(t *testing.T, d workflows.AdDecision) uint64 {
	t.Helper()
	if d.Key == "" {
		d.Key = "run/" + d.Rule + "/" + d.Platform + "/" + d.ObjectID + "/" + d.Action + "/" + d.Mode
	}
	if d.Outcome == "" {
		d.Outcome = workflows.AdOutcomePending
	}
	var ids []uint64
	if err := f.run(t, workflows.RecordAdActionsActivity, workflows.AdActionsRecord{WorkflowID: "ad-rules/test", RunID: "run", At: adAt,
		Decisions: []workflows.AdDecision{d}}, &ids); err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

func (f *adFixture) apply(t *testing.T, req workflows.AdApplyRequest) (workflows.AdApplyResult, error) {
	t.Helper()
	var res workflows.AdApplyResult
	err := f.run(t, workflows.ApplyAdActionActivity, req, &res)
	return res, err
}

func metaPause(mode string) workflows.AdDecision {
	return workflows.AdDecision{Rule: "pause_low_roas", RuleVersion: 1, Platform: "meta", Account: "act_1", ObjectID: "100", Level: "campaign",
		ObjectName: "Spring sale", Currency: "USD", Action: workflows.AdActionPause, StatusBefore: "ACTIVE", StatusAfter: "PAUSED", Mode: mode,
		Reason: "ROAS 0.50"}
}

func metaBudget(mode string, after int64) workflows.AdDecision {
	return workflows.AdDecision{Rule: "scale_winners", RuleVersion: 1, Platform: "meta", Account: "act_1", ObjectID: "100", Level: "campaign",
		ObjectName: "Spring sale", Currency: "USD", Action: workflows.AdActionSetBudget, BudgetBefore: 50_000_000, BudgetAfter: after, Mode: mode,
		Reason: "ROAS 4.00"}
}

// Meta: a pause and a budget change go out as Graph's form updates, the
// budget in cents; the row records the outcome and the object row follows.
func TestApplyAdActionMeta(t *testing.T) {
	f := newAdFixture(t)
	pause := f.record(t, metaPause(workflows.AdModeApply))
	res, err := f.apply(t, workflows.AdApplyRequest{ID: pause, Outcome: workflows.AdOutcomeApplied})
	if err != nil || res != (workflows.AdApplyResult{Outcome: "applied", Response: `Meta answered {"success": true}`}) {
		t.Fatalf("pause: %+v, %v", res, err)
	}
	budget := f.record(t, metaBudget(workflows.AdModeApply, 60_000_000))
	if res, err := f.apply(t, workflows.AdApplyRequest{ID: budget, Outcome: workflows.AdOutcomeApproved, By: "U42 (ada)"}); err != nil || res.Outcome != "approved" {
		t.Fatalf("budget: %+v, %v", res, err)
	}
	reqs := f.meta.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests to Meta, want 2", len(reqs))
	}
	for i, want := range []url.Values{{"status": {"PAUSED"}}, {"daily_budget": {"6000"}}} {
		if reqs[i].Method != "POST" || reqs[i].Path != "/v25.0/100" || !reflect.DeepEqual(reqs[i].Form, want) {
			t.Errorf("request %d: %s %s %v, want POST /v25.0/100 %v", i, reqs[i].Method, reqs[i].Path, reqs[i].Form, want)
		}
	}
	if o, _ := f.meta.Object("100"); o.Status != "PAUSED" || o.DailyBudget != 6000 {
		t.Errorf("Meta's object is %+v", o)
	}
	row, _ := f.store.AdActionByID(context.Background(), budget)
	if row.Outcome != "approved" || row.DecidedBy != "U42 (ada)" || row.Response != `Meta answered {"success": true}` {
		t.Errorf("row %+v", row)
	}
	var obj models.AdObject
	f.store.DB().Where("platform = ? AND id = ?", "meta", "100").Take(&obj)
	if obj.Status != "PAUSED" || obj.DailyBudget != 60_000_000 {
		t.Errorf("ad object row %+v", obj)
	}
	// A retry of a settled action asks Meta nothing.
	if res, err := f.apply(t, workflows.AdApplyRequest{ID: pause, Outcome: workflows.AdOutcomeApplied}); err != nil || res.Outcome != "applied" || len(f.meta.Requests()) != 2 {
		t.Errorf("retry: %+v, %v, %d requests", res, err, len(f.meta.Requests()))
	}
}

// A dry run asks Meta with execution_options=["validate_only"]: nothing
// changes, and a refusal Meta would give still shows.
func TestApplyAdActionMetaValidateOnly(t *testing.T) {
	f := newAdFixture(t)
	id := f.record(t, metaPause(workflows.AdModeDryRun))
	res, err := f.apply(t, workflows.AdApplyRequest{ID: id, ValidateOnly: true, Outcome: workflows.AdOutcomeDryRun})
	if err != nil || res.Outcome != "dry_run" || !strings.Contains(res.Response, "validate_only") {
		t.Fatalf("%+v, %v", res, err)
	}
	want := url.Values{"status": {"PAUSED"}, "execution_options": {`["validate_only"]`}}
	if reqs := f.meta.Requests(); len(reqs) != 1 || !reflect.DeepEqual(reqs[0].Form, want) {
		t.Errorf("requests %+v, want one with %v", reqs, want)
	}
	if o, _ := f.meta.Object("100"); o.Status != "ACTIVE" {
		t.Errorf("a validate-only pause paused the campaign")
	}
	var obj models.AdObject
	f.store.DB().Where("platform = ? AND id = ?", "meta", "100").Take(&obj)
	if obj.Status != "ACTIVE" {
		t.Errorf("a dry run changed the object row: %+v", obj)
	}

	low := f.record(t, metaBudget(workflows.AdModeDryRun, 500_000)) // $0.50, under Meta's minimum
	res, err = f.apply(t, workflows.AdApplyRequest{ID: low, ValidateOnly: true, Outcome: workflows.AdOutcomeDryRun})
	if err != nil || res.Outcome != "failed" || !strings.Contains(res.Response, "Your Budget Is Too Low") {
		t.Errorf("too low a budget: %+v, %v", res, err)
	}
}

// A refusal for good is the outcome failed; a failure worth retrying is an
// error, and the row waits, pending, for the retry.
func TestApplyAdActionMetaFailures(t *testing.T) {
	f := newAdFixture(t)
	id := f.record(t, metaPause(workflows.AdModeApply))
	f.meta.Fail(adstest.GraphError(500, 2, 0, "Service temporarily unavailable"))
	_, err := f.apply(t, workflows.AdApplyRequest{ID: id, Outcome: workflows.AdOutcomeApplied})
	if err == nil || !strings.Contains(err.Error(), "Service temporarily unavailable") {
		t.Fatalf("transient failure: %v", err)
	}
	if row, _ := f.store.AdActionByID(context.Background(), id); row.Outcome != "pending" {
		t.Errorf("after a transient failure the row is %s", row.Outcome)
	}
	f.meta.Fail(adstest.GraphError(400, 100, 33, "Object with ID '100' does not exist"))
	res, err := f.apply(t, workflows.AdApplyRequest{ID: id, Outcome: workflows.AdOutcomeApplied})
	if err != nil || res.Outcome != "failed" || !strings.Contains(res.Response, "code 100, subcode 33") {
		t.Errorf("refusal: %+v, %v", res, err)
	}
	if _, err := f.apply(t, workflows.AdApplyRequest{ID: 999, Outcome: workflows.AdOutcomeApplied}); !nonRetryable(err) {
		t.Errorf("no such action: %v, want a non-retryable error", err)
	}
}

func nonRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// Google: the budget goes to campaignBudgets:mutate in micros, the status
// to campaigns:mutate, each with validateOnly as the mode says.
func TestApplyAdActionGoogle(t *testing.T) {
	f := newAdFixture(t)
	base := workflows.AdDecision{Rule: "scale_winners", RuleVersion: 1, Platform: "google", Account: adstest.GoogleCustomerID, ObjectID: "555",
		Level: "campaign", ObjectName: "Brand search", BudgetID: "777", Currency: "USD", Reason: "ROAS 4.00"}
	dry := base
	dry.Action, dry.BudgetBefore, dry.BudgetAfter, dry.Mode = workflows.AdActionSetBudget, 50_000_000, 60_000_000, workflows.AdModeDryRun
	if res, err := f.apply(t, workflows.AdApplyRequest{ID: f.record(t, dry), ValidateOnly: true, Outcome: workflows.AdOutcomeDryRun}); err != nil || res.Outcome != "dry_run" {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if c, _ := f.google.Campaign("555"); c.Budget != 50_000_000 {
		t.Errorf("a validate-only change set the budget to %d", c.Budget)
	}
	budget := dry
	budget.Mode = workflows.AdModeApply
	if res, err := f.apply(t, workflows.AdApplyRequest{ID: f.record(t, budget), Outcome: workflows.AdOutcomeApplied}); err != nil ||
		res.Outcome != "applied" || !strings.HasPrefix(res.Response, "Google changed customers/1234567890/campaignBudgets/777; request-id ") {
		t.Fatalf("budget: %+v, %v", res, err)
	}
	pause := base
	pause.Rule, pause.Action, pause.StatusBefore, pause.StatusAfter, pause.Mode = "spend_spike", workflows.AdActionPause, "ENABLED", "PAUSED", workflows.AdModeApply
	if res, err := f.apply(t, workflows.AdApplyRequest{ID: f.record(t, pause), Outcome: workflows.AdOutcomeApplied}); err != nil || res.Outcome != "applied" {
		t.Fatalf("pause: %+v, %v", res, err)
	}
	reqs := f.google.RequestsTo(":mutate")
	want := []struct {
		path string
		body map[string]any
	}{
		{"/v26/customers/1234567890/campaignBudgets:mutate", map[string]any{"validateOnly": true, "operations": []any{map[string]any{
			"updateMask": "amountMicros", "update": map[string]any{"resourceName": "customers/1234567890/campaignBudgets/777", "amountMicros": "60000000"}}}}},
		{"/v26/customers/1234567890/campaignBudgets:mutate", map[string]any{"validateOnly": false, "operations": []any{map[string]any{
			"updateMask": "amountMicros", "update": map[string]any{"resourceName": "customers/1234567890/campaignBudgets/777", "amountMicros": "60000000"}}}}},
		{"/v26/customers/1234567890/campaigns:mutate", map[string]any{"validateOnly": false, "operations": []any{map[string]any{
			"updateMask": "status", "update": map[string]any{"resourceName": "customers/1234567890/campaigns/555", "status": "PAUSED"}}}}},
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d mutates, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		if reqs[i].Path != w.path || !reflect.DeepEqual(reqs[i].JSON, w.body) {
			t.Errorf("mutate %d: %s %v\nwant %s %v", i, reqs[i].Path, reqs[i].JSON, w.path, w.body)
		}
	}
	if c, _ := f.google.Campaign("555"); c.Budget != 60_000_000 || c.Status != "PAUSED" {
		t.Errorf("campaign %+v", c)
	}
}

// The figures: active objects with their days since the window's start,
// the accounts' day, the latest counted action per object and action, and
// today's counts per rule and account.
func TestReadAdFigures(t *testing.T) {
	f := newAdFixture(t)
	ctx := context.Background()
	if err := f.store.SaveAdObjects(ctx, []models.AdObject{
		{Platform: "meta", ID: "101", Account: "act_1", Level: "adset", CampaignID: "100", Name: "Paused", Status: "PAUSED", DailyBudget: 1_000_000, Currency: "USD"},
	}); err != nil {
		t.Fatal(err)
	}
	stat := func(object, day string, spend int64) models.AdStat {
		return models.AdStat{Platform: "meta", ObjectID: object, Day: day, Account: "act_1", Level: "campaign", Name: "x", Currency: "USD",
			Spend: spend, Value: 2 * spend, Impressions: 100, Clicks: 5, Conversions: 1.5, PulledAt: adAt}
	}
	if err := f.store.ReplaceAdStats(ctx, "meta", "act_1", "2026-02-20", "2026-03-04", []models.AdStat{
		stat("100", "2026-02-20", 1), stat("100", "2026-02-27", 2), stat("100", "2026-03-04", 3), stat("101", "2026-03-04", 4),
	}); err != nil {
		t.Fatal(err)
	}
	f.record(t, workflows.AdDecision{Key: "a", Rule: "pause_low_roas", Platform: "meta", Account: "act_1", ObjectID: "100", Action: "pause",
		Mode: "apply", Outcome: workflows.AdOutcomeApplied})
	f.record(t, workflows.AdDecision{Key: "b", Rule: "pause_low_roas", Platform: "meta", Account: "act_1", ObjectID: "100", Action: "pause",
		Mode: "dry_run", Outcome: workflows.AdOutcomeDryRun})
	var got workflows.AdFigures
	if err := f.run(t, workflows.ReadAdFiguresActivity, workflows.AdFiguresRequest{At: adAt, Days: 7, Since: adAt.Add(-time.Hour),
		Counted: []string{workflows.AdOutcomeApplied}}, &got); err != nil {
		t.Fatal(err)
	}
	today := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	want := workflows.AdFigures{
		Accounts: []workflows.AdAccountClock{
			{Platform: "google", Account: adstest.GoogleCustomerID, Today: "2026-03-04", TodayStart: today},
			{Platform: "meta", Account: "act_1", Today: "2026-03-04", TodayStart: today},
		},
		Objects: []workflows.AdObjectFigures{
			{Platform: "google", Account: adstest.GoogleCustomerID, ID: "555", Level: "campaign", Name: "Brand search", Currency: "USD", Status: "ENABLED",
				DailyBudget: 50_000_000, BudgetID: "777", BudgetUnit: 10_000},
			{Platform: "meta", Account: "act_1", ID: "100", Level: "campaign", Name: "Spring sale", Currency: "USD", Status: "ACTIVE",
				DailyBudget: 50_000_000, BudgetUnit: 10_000, Days: []workflows.AdDay{
					{Day: "2026-02-27", Spend: 2, Value: 4, Impressions: 100, Clicks: 5, Conversions: 1.5},
					{Day: "2026-03-04", Spend: 3, Value: 6, Impressions: 100, Clicks: 5, Conversions: 1.5},
				}},
		},
		Last:   []workflows.AdLastAction{{Platform: "meta", ObjectID: "100", Action: "pause", At: adAt}},
		Counts: []workflows.AdActionCount{{Rule: "pause_low_roas", Platform: "meta", Account: "act_1", Count: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		t.Errorf("figures:\n%s", gj)
	}
}

// Notices go through the alert send protocol: an approval request carries
// Approve and Reject buttons whose value is the row ID, to the ads
// channel, and is posted once however often the activity runs.
func TestPostAdNotice(t *testing.T) {
	f := newAdFixture(t)
	id := f.record(t, metaPause(workflows.AdModeApprove))
	n := workflows.AdNotice{Kind: workflows.AdNoticeApproval, IDs: []uint64{id}, At: adAt, Expires: adAt.Add(2 * time.Hour)}
	for range 2 {
		var res workflows.SendResult
		if err := f.run(t, workflows.PostAdNoticeActivity, n, &res); err != nil || res.Status != workflows.StatusSent || res.To != "#ads" {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	reqs := f.slack.requests()
	if len(reqs) != 1 || reqs[0].Form.Get("channel") != "#ads" {
		t.Fatalf("Slack requests %+v, want one to #ads", reqs)
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(reqs[0].Form.Get("blocks")), &blocks); err != nil {
		t.Fatal(err)
	}
	actions := blocks[len(blocks)-1]["elements"].([]any)
	var buttons []string
	for _, e := range actions {
		b := e.(map[string]any)
		buttons = append(buttons, b["action_id"].(string)+"="+b["value"].(string))
	}
	if want := []string{"ad_approve=1", "ad_reject=1"}; !reflect.DeepEqual(buttons, want) {
		t.Errorf("buttons %v, want %v", buttons, want)
	}
	if text := reqs[0].Form.Get("text"); text != "Approve? pause_low_roas: pause campaign Spring sale\n#1 pause_low_roas: campaign 100, ACTIVE → PAUSED" {
		t.Errorf("fallback %q", text)
	}
	if m := f.row(t, "ads/1/approval"); m.Channel != models.ChannelSlack || m.Status != workflows.StatusSent || !strings.Contains(m.Text, "ACTIVE → PAUSED") {
		t.Errorf("message row %+v", m)
	}

	f.acts.Ads.Channel = ""
	var res workflows.SendResult
	if err := f.run(t, workflows.PostAdNoticeActivity, workflows.AdNotice{Kind: workflows.AdNoticeFailed, IDs: []uint64{id}, At: adAt}, &res); err != nil ||
		res.Status != workflows.StatusSkipped || !strings.Contains(res.Reason, "NUDGE_SLACK_ADS_CHANNEL") {
		t.Errorf("without a channel: %+v, %v", res, err)
	}
}

// The undo's own activities: a missing action and a second mark are
// refused for good.
func TestAdUndoActivities(t *testing.T) {
	f := newAdFixture(t)
	if err := f.run(t, workflows.ReadAdActionActivity, uint64(42), nil); !nonRetryable(err) || !strings.Contains(err.Error(), "no ad action 42") {
		t.Errorf("missing action: %v", err)
	}
	id := f.record(t, metaPause(workflows.AdModeApply))
	if _, err := f.apply(t, workflows.AdApplyRequest{ID: id, Outcome: workflows.AdOutcomeApplied}); err != nil {
		t.Fatal(err)
	}
	var d workflows.AdDecision
	if err := f.run(t, workflows.ReadAdActionActivity, id, &d); err != nil || d.Outcome != "applied" || d.StatusBefore != "ACTIVE" || d.WorkflowID != "ad-rules/test" {
		t.Fatalf("%+v, %v", d, err)
	}
	if err := f.run(t, workflows.MarkAdUndoneActivity, workflows.AdUndoMark{ID: id, UndoID: 9, At: adAt}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.run(t, workflows.MarkAdUndoneActivity, workflows.AdUndoMark{ID: id, UndoID: 10, At: adAt}, nil); !nonRetryable(err) {
		t.Errorf("second mark: %v", err)
	}
}

// undo runs the real AdUndoWorkflow on the fixture's activities, on the
// test clock, and returns its result.
func (f *adFixture) undo(t *testing.T, id uint64) workflows.AdUndoResult {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	f.acts.Register(env)
	env.RegisterWorkflowWithOptions(workflows.AdUndoWorkflow, workflow.RegisterOptions{Name: workflows.AdUndoWorkflowName})
	env.ExecuteWorkflow(workflows.AdUndoWorkflowName, id)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the undo did not complete")
	}
	var res workflows.AdUndoResult
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("undo of %d: %v", id, err)
	}
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// applied records a decision in apply mode and makes it on its platform.
func (f *adFixture) applied(t *testing.T, d workflows.AdDecision) uint64 {
	t.Helper()
	d.Mode = workflows.AdModeApply
	id := f.record(t, d)
	if res, err := f.apply(t, workflows.AdApplyRequest{ID: id, Outcome: workflows.AdOutcomeApplied}); err != nil || res.Outcome != "applied" {
		t.Fatalf("applying %s: %+v, %v", d.Action, res, err)
	}
	return id
}

func (f *adFixture) outcome(t *testing.T, id uint64) string {
	t.Helper()
	row, err := f.store.AdActionByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return row.Outcome
}

// An undo reverses Nudge's own change only: while Meta still holds the
// budget the action set, the undo sets the one from before back; once
// someone changed it in Ads Manager, the undo is refused, says both
// values, sends nothing, and the action stays applied.
func TestAdUndoMetaBudgetChecksWhatMetaHolds(t *testing.T) {
	t.Run("unchanged", func(t *testing.T) {
		f := newAdFixture(t)
		id := f.applied(t, metaBudget(workflows.AdModeApply, 60_000_000)) // Meta: 6000 cents
		res := f.undo(t, id)
		if res.Undo.Outcome != "applied" || res.Undo.Response != `Meta answered {"success": true}` || res.Original.Outcome != "undone" {
			t.Fatalf("undo %+v", res)
		}
		if o, _ := f.meta.Object("100"); o.DailyBudget != 5000 {
			t.Errorf("Meta's budget is %d cents, want 5000 back", o.DailyBudget)
		}
		reqs := f.meta.Requests()
		if n := len(reqs); n != 3 || reqs[1].Method != "GET" || reqs[1].Query.Get("fields") != "id,name,status,effective_status,daily_budget" ||
			reqs[2].Method != "POST" || reqs[2].Form.Get("daily_budget") != "5000" {
			t.Errorf("requests to Meta: %+v", reqs)
		}
		if got := f.outcome(t, id); got != "undone" {
			t.Errorf("the original is %s", got)
		}
	})
	t.Run("changed in Ads Manager", func(t *testing.T) {
		f := newAdFixture(t)
		id := f.applied(t, metaBudget(workflows.AdModeApply, 60_000_000))
		f.meta.SetObject(adstest.MetaObject{ID: "100", Name: "Spring sale", Status: "ACTIVE", DailyBudget: 7500})
		res := f.undo(t, id)
		want := fmt.Sprintf("not undone: campaign 100's daily budget on Meta is now 75.00 USD, not the 60.00 USD that action %d set; "+
			"it was changed elsewhere since, and an undo only reverses Nudge's own change", id)
		if res.Undo.Outcome != "failed" || res.Undo.Response != want || res.Original.Outcome != "applied" {
			t.Fatalf("undo %+v\nwant response %s", res, want)
		}
		if posts := len(f.meta.RequestsTo("/100")) - 2; posts != 0 { // the action's POST and the undo's GET
			t.Errorf("%d more requests to Meta's object", posts)
		}
		if reqs := f.meta.Requests(); reqs[len(reqs)-1].Method != "GET" {
			t.Errorf("the undo's last request to Meta was %s", reqs[len(reqs)-1].Method)
		}
		if o, _ := f.meta.Object("100"); o.DailyBudget != 7500 {
			t.Errorf("Meta's budget is %d cents, want the person's 7500 kept", o.DailyBudget)
		}
		if got := f.outcome(t, id); got != "applied" {
			t.Errorf("the original is %s, want applied", got)
		}
		row, _ := f.store.AdActionByID(context.Background(), res.Undo.ID)
		if row.Outcome != "failed" || row.Response != want {
			t.Errorf("undo row %s %q", row.Outcome, row.Response)
		}
		// Slack hears of the failure, with the reason.
		if m := f.row(t, fmt.Sprintf("ads/%d/failed", res.Undo.ID)); !strings.Contains(m.Text+m.HTML, "changed elsewhere since") {
			t.Errorf("failure notice %q", m.HTML)
		}
	})
	t.Run("budget moved off the object", func(t *testing.T) {
		f := newAdFixture(t)
		id := f.applied(t, metaBudget(workflows.AdModeApply, 60_000_000))
		f.meta.SetObject(adstest.MetaObject{ID: "100", Name: "Spring sale", Status: "ACTIVE"})
		undo := metaBudget(workflows.AdModeApply, 50_000_000)
		undo.Key, undo.UndoOf, undo.BudgetBefore = "undo/1", id, 60_000_000
		res, err := f.apply(t, workflows.AdApplyRequest{ID: f.record(t, undo), Outcome: workflows.AdOutcomeApplied})
		if err != nil || res.Outcome != "failed" || !strings.HasPrefix(res.Response, "not undone: campaign 100's daily budget on Meta is now unset, not the 60.00 USD") {
			t.Errorf("%+v, %v", res, err)
		}
	})
}

// Google: the undo reads the campaign through searchStream first.
func TestAdUndoGoogleChecksWhatGoogleHolds(t *testing.T) {
	pause := workflows.AdDecision{Rule: "spend_spike", RuleVersion: 1, Platform: "google", Account: adstest.GoogleCustomerID, ObjectID: "555",
		Level: "campaign", ObjectName: "Brand search", BudgetID: "777", Currency: "USD", Action: workflows.AdActionPause,
		StatusBefore: "ENABLED", StatusAfter: "PAUSED", Reason: "spend 3x"}
	budget := pause
	budget.Rule, budget.Action, budget.StatusBefore, budget.StatusAfter = "scale_winners", workflows.AdActionSetBudget, "", ""
	budget.BudgetBefore, budget.BudgetAfter = 50_000_000, 60_000_000
	wantQuery := map[string]any{"query": "SELECT campaign.id, campaign.status, campaign.campaign_budget, campaign_budget.amount_micros, " +
		"campaign_budget.resource_name FROM campaign WHERE campaign.id = 555"}

	t.Run("status unchanged", func(t *testing.T) {
		f := newAdFixture(t)
		id := f.applied(t, pause)
		res := f.undo(t, id)
		if res.Undo.Outcome != "applied" || res.Original.Outcome != "undone" {
			t.Fatalf("undo %+v", res)
		}
		if c, _ := f.google.Campaign("555"); c.Status != "ENABLED" {
			t.Errorf("campaign %+v, want enabled again", c)
		}
		searches := f.google.RequestsTo(":searchStream")
		if len(searches) != 1 || !reflect.DeepEqual(searches[0].JSON, wantQuery) {
			t.Errorf("searches %+v", searches)
		}
		if n := len(f.google.RequestsTo("campaigns:mutate")); n != 2 {
			t.Errorf("%d campaign mutates, want the pause and the undo", n)
		}
	})
	t.Run("status changed in Google Ads", func(t *testing.T) {
		f := newAdFixture(t)
		id := f.applied(t, pause)
		f.google.AddCampaign(adstest.GoogleCampaign{ID: "555", Name: "Brand search", Status: "REMOVED", BudgetID: "777"})
		res := f.undo(t, id)
		want := fmt.Sprintf("not undone: campaign 555's status on Google Ads is now REMOVED, not the PAUSED that action %d set; "+
			"it was changed elsewhere since, and an undo only reverses Nudge's own change", id)
		if res.Undo.Outcome != "failed" || res.Undo.Response != want || res.Original.Outcome != "applied" {
			t.Fatalf("undo %+v\nwant response %s", res, want)
		}
		if n := len(f.google.RequestsTo("campaigns:mutate")); n != 1 {
			t.Errorf("%d campaign mutates, want only the pause", n)
		}
		if c, _ := f.google.Campaign("555"); c.Status != "REMOVED" {
			t.Errorf("campaign %+v", c)
		}
		if got := f.outcome(t, id); got != "applied" {
			t.Errorf("the original is %s, want applied", got)
		}
	})
	t.Run("budget changed in Google Ads", func(t *testing.T) {
		f := newAdFixture(t)
		id := f.applied(t, budget)
		f.google.SetBudget("777", 75_000_000)
		res := f.undo(t, id)
		want := fmt.Sprintf("not undone: campaign 555's daily budget on Google Ads is now 75.00 USD, not the 60.00 USD that action %d set; "+
			"it was changed elsewhere since, and an undo only reverses Nudge's own change", id)
		if res.Undo.Outcome != "failed" || res.Undo.Response != want || res.Original.Outcome != "applied" {
			t.Fatalf("undo %+v\nwant response %s", res, want)
		}
		if n := len(f.google.RequestsTo("campaignBudgets:mutate")); n != 1 {
			t.Errorf("%d budget mutates, want only the action's", n)
		}
		if c, _ := f.google.Campaign("555"); c.Budget != 75_000_000 {
			t.Errorf("campaign %+v", c)
		}
	})
	t.Run("budget unchanged", func(t *testing.T) {
		f := newAdFixture(t)
		res := f.undo(t, f.applied(t, budget))
		if c, _ := f.google.Campaign("555"); res.Undo.Outcome != "applied" || c.Budget != 50_000_000 {
			t.Errorf("undo %+v, campaign %+v", res, c)
		}
	})
	t.Run("campaign moved to another budget", func(t *testing.T) {
		f := newAdFixture(t)
		id := f.applied(t, budget)
		f.google.AddCampaign(adstest.GoogleCampaign{ID: "555", Name: "Brand search", Status: "ENABLED", BudgetID: "888", Budget: 60_000_000})
		res := f.undo(t, id)
		want := fmt.Sprintf("not undone: campaign 555 now draws on campaign budget 888 on Google Ads, not budget 777 that action %d changed; "+
			"it was changed elsewhere since, and an undo only reverses Nudge's own change", id)
		if res.Undo.Outcome != "failed" || res.Undo.Response != want {
			t.Errorf("undo %+v\nwant response %s", res, want)
		}
	})
}

// A read that fails for now is an error Temporal retries, with nothing
// sent and the undo still pending; one that fails for good fails the undo
// with the platform's answer. A dry run of an undo checks the same way.
func TestAdUndoReadFailures(t *testing.T) {
	f := newAdFixture(t)
	orig := f.applied(t, metaPause(workflows.AdModeApply))
	undo := metaPause(workflows.AdModeApply)
	undo.Key, undo.UndoOf, undo.Action, undo.StatusBefore, undo.StatusAfter = "undo/meta", orig, workflows.AdActionEnable, "PAUSED", "ACTIVE"
	id := f.record(t, undo)

	f.meta.Fail(adstest.HTTPError(503).On("/100"))
	_, err := f.apply(t, workflows.AdApplyRequest{ID: id, Outcome: workflows.AdOutcomeApplied})
	if err == nil || nonRetryable(err) || !strings.Contains(err.Error(), "campaign 100 could not be read on Meta before the undo") ||
		!strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("503: %v, want a retryable error", err)
	}
	if got := f.outcome(t, id); got != "pending" {
		t.Errorf("after a 503 the undo is %s", got)
	}
	if reqs := f.meta.Requests(); len(reqs) != 2 || reqs[1].Method != "GET" {
		t.Errorf("requests to Meta %+v, want the pause and the read", reqs)
	}

	g := workflows.AdDecision{Rule: "spend_spike", Platform: "google", Account: adstest.GoogleCustomerID, ObjectID: "555", Level: "campaign",
		BudgetID: "777", Currency: "USD", Action: workflows.AdActionEnable, StatusBefore: "PAUSED", StatusAfter: "ENABLED",
		Mode: workflows.AdModeApply, UndoOf: orig, Key: "undo/google"}
	gid := f.record(t, g)
	f.google.Fail(adstest.HTTPError(503).On(":searchStream"))
	if _, err := f.apply(t, workflows.AdApplyRequest{ID: gid, Outcome: workflows.AdOutcomeApplied}); err == nil || nonRetryable(err) ||
		!strings.Contains(err.Error(), "campaign 555 could not be read on Google Ads before the undo") {
		t.Errorf("Google 503: %v, want a retryable error", err)
	}

	f.meta.Fail(adstest.GraphError(400, 100, 33, "Object with ID '100' does not exist").On("/100"))
	res, err := f.apply(t, workflows.AdApplyRequest{ID: id, Outcome: workflows.AdOutcomeApplied})
	if err != nil || res.Outcome != "failed" || !strings.HasPrefix(res.Response, "campaign 100 could not be read on Meta before the undo: ") ||
		!strings.Contains(res.Response, "code 100, subcode 33") {
		t.Errorf("refused read: %+v, %v", res, err)
	}

	// Validate-only: Meta holds ACTIVE (set back by hand), not the PAUSED
	// the action set.
	f.meta.SetObject(adstest.MetaObject{ID: "100", Name: "Spring sale", Status: "ACTIVE", DailyBudget: 5000})
	dry := undo
	dry.Key, dry.Mode = "undo/dry", workflows.AdModeDryRun
	before := len(f.meta.Requests())
	res, err = f.apply(t, workflows.AdApplyRequest{ID: f.record(t, dry), ValidateOnly: true, Outcome: workflows.AdOutcomeDryRun})
	want := fmt.Sprintf("not undone: campaign 100's status on Meta is now ACTIVE, not the PAUSED that action %d set; "+
		"it was changed elsewhere since, and an undo only reverses Nudge's own change", orig)
	if err != nil || res.Outcome != "failed" || res.Response != want {
		t.Errorf("dry run: %+v, %v\nwant %s", res, err, want)
	}
	if reqs := f.meta.Requests()[before:]; len(reqs) != 1 || reqs[0].Method != "GET" {
		t.Errorf("a dry run's requests %+v, want one read", reqs)
	}
}

// An undo whose change went through but whose answer was lost is retried;
// the retry finds the undo's own value on Meta and completes, rather than
// taking it for someone else's change.
func TestAdUndoRetryAfterLostAnswer(t *testing.T) {
	f := newAdFixture(t)
	id := f.applied(t, metaPause(workflows.AdModeApply))
	lose := &loseFirstPost{next: http.DefaultTransport}
	mc, err := meta.New(meta.Config{AccessToken: adstest.MetaToken, APIURL: f.meta.URL, HTTPClient: &http.Client{Transport: lose}})
	if err != nil {
		t.Fatal(err)
	}
	f.acts.Ads.Meta = mc
	res := f.undo(t, id)
	if res.Undo.Outcome != "applied" || res.Original.Outcome != "undone" || !lose.lost {
		t.Fatalf("undo %+v (answer lost: %v)", res, lose.lost)
	}
	var methods []string
	for _, r := range f.meta.Requests() {
		methods = append(methods, r.Method+" "+r.Form.Get("status"))
	}
	if want := []string{"POST PAUSED", "GET ", "POST ACTIVE", "GET ", "POST ACTIVE"}; !reflect.DeepEqual(methods, want) {
		t.Errorf("requests to Meta %v, want %v", methods, want)
	}
	if o, _ := f.meta.Object("100"); o.Status != "ACTIVE" {
		t.Errorf("Meta's object %+v", o)
	}
}

// loseFirstPost delivers the first POST and then reports the connection
// lost, as a timeout after the platform made the change would.
type loseFirstPost struct {
	next http.RoundTripper
	lost bool
}

func (l *loseFirstPost) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil || r.Method != "POST" || l.lost {
		return resp, err
	}
	resp.Body.Close()
	l.lost = true
	return nil, errors.New("connection reset by peer")
}
