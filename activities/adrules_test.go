package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/ads/adstest"
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
