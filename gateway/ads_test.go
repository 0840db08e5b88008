package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// adsOn turns Meta on in the gateway's settings (no client is called: the
// runs are the fake Temporal's).
func adsOn(e *env) {
	e.gw.Config.MetaAccessToken = "token"
	e.gw.Config.MetaAdAccounts = []string{"act_101"}
	e.gw.Config.AdsDryRun = true
	e.gw.Config.AdsApprovalTimeout = 2 * time.Hour
	e.gw.Config.SlackAdsChannel = "#ads"
}

func TestRunAdRule(t *testing.T) {
	e := newEnv(t)
	admin := bearer(adminKey)

	rec := e.do(http.MethodPost, "/v1/ads/rules/pause_everything/run", "", admin)
	requireJSON(t, rec, http.StatusNotFound, `{"success":false,"error":"no ad rule \"pause_everything\" (rules: pause_low_roas, scale_winners, rebalance, spend_spike)"}`)
	rec = e.do(http.MethodPost, "/v1/ads/rules/pause_low_roas/run", "", admin)
	requireJSON(t, rec, http.StatusConflict, `{"success":false,"error":"`+msgAdsOff+`"}`)
	require.Empty(t, e.tc.executed)

	adsOn(e)
	e.tc.runResult = workflows.AdRuleResult{Mode: workflows.AdModeDryRun, Rules: []string{"pause_low_roas"}}
	rec = e.do(http.MethodPost, "/v1/ads/rules/pause_low_roas/run", "", admin)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, e.tc.executed, 1)
	run := e.tc.executed[0]
	require.Equal(t, workflows.AdRuleWorkflowName, run.Workflow)
	require.Equal(t, "nudge-test", run.Options.TaskQueue)
	require.Regexp(t, `^ads-rules/now/pause_low_roas/[a-z2-7]{10}$`, run.Options.ID)
	require.Equal(t, []any{workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}, Mode: workflows.AdModeDryRun,
		ApprovalTimeout: 2 * time.Hour, Channel: "#ads"}}, run.Args)
	var ran struct {
		Rule, Mode string
		WorkflowID string `json:"workflow_id"`
		Result     workflows.AdRuleResult
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ran))
	require.Equal(t, "pause_low_roas", ran.Rule)
	require.Equal(t, workflows.AdModeDryRun, ran.Mode)
	require.Equal(t, run.Options.ID, ran.WorkflowID)
	require.Equal(t, []string{"pause_low_roas"}, ran.Result.Rules)

	// A run that refuses (an undo of an action never applied) is a 409
	// with its reason.
	e.tc.runErr = temporal.NewNonRetryableApplicationError("action 7 was a dry run: nothing to undo", "AdUndo", nil)
	rec = e.do(http.MethodPost, "/v1/ads/actions/7/undo", "", admin)
	requireJSON(t, rec, http.StatusConflict, `{"success":false,"error":"action 7 was a dry run: nothing to undo"}`)
	require.Equal(t, workflows.AdUndoWorkflowID(7), e.tc.executed[1].Options.ID)
	require.Equal(t, []any{uint64(7)}, e.tc.executed[1].Args)

	rec = e.do(http.MethodPost, "/v1/ads/actions/x7/undo", "", admin)
	requireJSON(t, rec, http.StatusBadRequest, `{"success":false,"error":"action ID \"x7\" is not a positive number"}`)
	// The write key reaches none of it.
	rec = e.do(http.MethodPost, "/v1/ads/rules/pause_low_roas/run", "", bearer(writeKey))
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	require.Len(t, e.tc.executed, 2)
}

func TestSyncAudienceNow(t *testing.T) {
	e := newEnv(t)
	adsOn(e)
	e.gw.Config.Audiences = []config.Audience{{Segment: "active", Platform: "meta", ID: "2385"}}
	admin := bearer(adminKey)

	rec := e.do(http.MethodPost, "/v1/audiences/dormant/sync", "", admin)
	requireJSON(t, rec, http.StatusNotFound, `{"success":false,"error":"segment \"dormant\" is synced to no audience (NUDGE_AUDIENCES, NUDGE_RETARGET_AUDIENCE)"}`)

	e.tc.runResult = workflows.AudienceSyncResult{Key: "active/meta/2385", Added: 3, Batches: 1, Members: 3}
	rec = e.do(http.MethodPost, "/v1/audiences/active/sync", "", admin)
	requireJSON(t, rec, http.StatusOK, `{"segment":"active","audiences":[{"audience":"active/meta/2385","platform":"meta","audience_id":"2385",
		"workflow_id":"audience/active/meta/2385/now","result":{"key":"active/meta/2385","added":3,"removed":0,"batches":1,"members":3}}]}`)
	require.Equal(t, workflows.AudienceSyncWorkflowName, e.tc.executed[0].Workflow)
}

func TestListAdActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	require.NoError(t, e.store.RecordAdActions(ctx, []*models.AdAction{
		{Key: "k1", Rule: "pause_low_roas", Platform: "meta", ObjectID: "120", Action: "pause", Mode: "apply", Outcome: "applied", At: at},
		{Key: "k2", Rule: "spend_spike", Platform: "meta", ObjectID: "121", Action: "pause", Mode: "dry_run", Outcome: "dry_run", At: at},
		{Key: "k3", Rule: "pause_low_roas", Platform: "google", ObjectID: "990", Action: "pause", Mode: "apply", Outcome: "failed", At: at},
	}))
	admin := bearer(adminKey)
	rec := e.do(http.MethodGet, "/v1/ads/actions?rule=pause_low_roas&limit=1", "", admin)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		Actions []models.AdAction
		Total   int64
		Limit   int
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, int64(2), got.Total)
	require.Equal(t, 1, got.Limit)
	require.Len(t, got.Actions, 1)
	require.Equal(t, "k3", got.Actions[0].Key) // newest first

	rec = e.do(http.MethodGet, "/v1/ads/actions?rule=nope&limit=-1&offset=x", "", admin)
	requireJSON(t, rec, http.StatusBadRequest, `{"success":false,"error":"limit: want a whole number from 0, got \"-1\"; offset: want a whole number from 0, got \"x\"; rule: no ad rule \"nope\" (rules: pause_low_roas, scale_winners, rebalance, spend_spike)"}`)
}

// An Approve click reaches the run that asked, by the row's workflow and
// run IDs; a click on an unknown action changes nothing.
func TestSlackApprovesAnAdAction(t *testing.T) {
	e := newSlackEnv(t)
	ctx := context.Background()
	row := &models.AdAction{Key: "k9", Rule: "scale_winners", Platform: "meta", ObjectID: "120", Action: "set_budget",
		Mode: "approve", Outcome: "pending", WorkflowID: "ads-rules-2026-03-01T02:00:00Z", RunID: "r-1", At: time.Now()}
	require.NoError(t, e.store.RecordAdActions(ctx, []*models.AdAction{row}))

	rec := e.postSlack(slackClick(t, workflows.SlackActionAdApprove, "999"), time.Now().Unix())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Empty(t, e.tc.signalled)

	rec = e.postSlack(slackClick(t, workflows.SlackActionAdReject, "1"), time.Now().Unix())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []string{"ads-rules-2026-03-01T02:00:00Z r-1 " + workflows.AdApprovalSignal}, e.tc.signalled)
	require.Equal(t, []any{workflows.AdApproval{ActionID: 1, Approved: false, By: "sam.rep"}}, e.tc.signalArgs)
}

// The Ads page: spend and both ROAS figures, the campaign table, ROAS by
// campaign as a chart, and the rules' actions.
func TestDashboardAdsPage(t *testing.T) {
	e := newEnv(t)
	adsOn(e)
	ctx := context.Background()
	stat := func(id, name, day string, spend, value int64) models.AdStat {
		return models.AdStat{Platform: "meta", ObjectID: id, Day: day, Account: "act_101", Level: "campaign", CampaignID: id, Name: name,
			Currency: "USD", Spend: spend, Value: value, Impressions: 1000, Clicks: 40, Conversions: 2}
	}
	require.NoError(t, e.store.ReplaceAdStats(ctx, "meta", "act_101", "2026-03-01", "2026-03-02", []models.AdStat{
		stat("120", "Spring boots", "2026-03-01", 50_000_000, 150_000_000),
		stat("120", "Spring boots", "2026-03-02", 30_000_000, 30_000_000),
		stat("121", "Retarget", "2026-03-02", 20_000_000, 0),
	}))
	require.NoError(t, e.store.SaveAdObjects(ctx, []models.AdObject{{Platform: "meta", ID: "120", Account: "act_101", Level: "campaign",
		Name: "Spring boots", Status: "ACTIVE", DailyBudget: 60_000_000, Currency: "USD"}}))
	require.NoError(t, e.store.RecordAdActions(ctx, []*models.AdAction{{Key: "k1", Rule: "pause_low_roas", Platform: "meta", ObjectID: "121",
		ObjectName: "Retarget", Action: "pause", StatusBefore: "ACTIVE", StatusAfter: "PAUSED", Mode: "dry_run", Outcome: "dry_run",
		Reason: "ROAS 0.00 over 3 days on $20.00 spend", At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}))

	rec := e.do(http.MethodGet, "/dashboard/ads?from=2026-03-01&to=2026-03-02", "", e.signIn(t))
	require.Equal(t, http.StatusOK, rec.Code)
	page := rec.Body.String()
	for _, want := range []string{
		`<div class="tile" data-kpi="spend"><span class="muted">Spend</span><b>100.00</b>`,
		`<div class="tile" data-kpi="roas"><span class="muted">ROAS, as the platforms report it</span><b>1.80</b>`,
		`<div class="tile" data-kpi="mode"><span class="muted">Rules</span><b>dry_run</b>`,
		`<tr data-campaign="meta/120"><td>Spring boots</td><td>meta</td><td>ACTIVE</td><td>60.00</td><td>80.00</td><td>4.0</td><td>180.00</td><td>2.25</td>`,
		`<tr data-action="1"><td>2026-03-02 09:00</td><td>pause_low_roas</td><td>meta Retarget (121)</td><td>pause</td><td>ACTIVE → PAUSED</td><td>dry_run</td><td>dry_run</td><td>ROAS 0.00 over 3 days on $20.00 spend</td>`,
		`<svg xmlns="http://www.w3.org/2000/svg"`, ">ROAS by campaign (conversion value / spend)<", ">Spring boots<", ">Retarget<",
	} {
		require.Contains(t, page, want)
	}
	require.NotContains(t, page, `data-ads="off"`)
}
