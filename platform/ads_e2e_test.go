package platform_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nudgehq/nudge/ads/adstest"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// slackStandIn answers chat.postMessage as Slack does and keeps each post's
// channel and text.
type slackStandIn struct {
	*httptest.Server
	mu    sync.Mutex
	posts []url.Values
}

func newSlackStandIn(t *testing.T) *slackStandIn {
	s := &slackStandIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.posts = append(s.posts, form)
		n := len(s.posts)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"channel":"C0ADS","ts":"1717430400.%06d"}`, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackStandIn) postsTo(channel string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []url.Values
	for _, p := range s.posts {
		if p.Get("channel") == channel {
			out = append(out, p)
		}
	}
	return out
}

// The advertiser's day: the schedules exist, a pull stores the Meta
// account's figures, and the low-ROAS rule, applying, pauses the campaign
// on the stand-in, records why in the audit log, and tells Slack.
func TestAdPullRuleAndPause(t *testing.T) {
	meta := adstest.NewMeta()
	defer meta.Close()
	slack := newSlackStandIn(t)
	today := time.Now().UTC()
	for i := 1; i <= 3; i++ {
		meta.AddStats(adstest.MetaStat{Account: "act_101", CampaignID: "120", CampaignName: "Spring boots", AdSetID: "1201", AdSetName: "Lookalike",
			Date: today.AddDate(0, 0, -i).Format(time.DateOnly), Spend: 100_000_000, Impressions: 20_000, Clicks: 300,
			Purchases: 1, PurchaseValue: 20_000_000})
	}
	meta.SetObject(adstest.MetaObject{ID: "120", Name: "Spring boots", Status: "ACTIVE", DailyBudget: 10_000})
	meta.SetObject(adstest.MetaObject{ID: "1201", Name: "Lookalike", Status: "ACTIVE"})

	s := startStackWith(t, map[string]string{
		"NUDGE_META_ACCESS_TOKEN": adstest.MetaToken,
		"NUDGE_META_AD_ACCOUNTS":  "act_101",
		"NUDGE_META_API_URL":      meta.URL,
		"NUDGE_ADS_DRY_RUN":       "false",
		"NUDGE_ADS_MODE":          "apply",
		"NUDGE_AD_RULES":          "pause_low_roas",
		"NUDGE_SLACK_BOT_TOKEN":   "xoxb-test",
		"NUDGE_SLACK_API_URL":     slack.URL + "/api/",
		"NUDGE_SLACK_ADS_CHANNEL": "#ads",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tc := s.Platform.Temporal
	for _, id := range []string{"nudge-ads-pull", "nudge-ads-rules"} {
		d, err := tc.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			t.Fatalf("schedule %s: %v", id, err)
		}
		if got := d.Schedule.Spec.Intervals[0].Every; got != 15*time.Minute {
			t.Errorf("schedule %s every %s, want 15m", id, got)
		}
	}

	// A pull, as the schedule would run it.
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "ads-pull/e2e", TaskQueue: s.Platform.Config.TaskQueue},
		workflows.AdPullWorkflowName, workflows.AdPullRequest{Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	var pulled workflows.AdPullResult
	if err := run.Get(ctx, &pulled); err != nil {
		t.Fatalf("pull: %v", err)
	}
	campaigns, err := s.Platform.Store.AdCampaigns(ctx, models.AdRange{From: today.AddDate(0, 0, -7).Format(time.DateOnly), To: today.Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	if len(campaigns) != 1 || campaigns[0].ID != "120" || campaigns[0].Spend != 300_000_000 || campaigns[0].Value != 60_000_000 || campaigns[0].Status != "ACTIVE" {
		t.Fatalf("campaigns after the pull = %+v, want 120 with 300.00 spent and 60.00 back", campaigns)
	}

	// The rule, now, through the API.
	var ran struct{ Result workflows.AdRuleResult }
	adminJSON(t, s, http.MethodPost, "/v1/ads/rules/pause_low_roas/run", &ran)
	if len(ran.Result.Decisions) != 1 || ran.Result.Decisions[0].Outcome != workflows.AdOutcomeApplied {
		t.Fatalf("decisions = %+v", ran.Result.Decisions)
	}
	if o, _ := meta.Object("120"); o.Status != "PAUSED" {
		t.Errorf("campaign 120 on the stand-in is %s, want PAUSED", o.Status)
	}
	rows, _, err := s.Platform.Store.AdActions(ctx, models.AdActionFilter{Rule: "pause_low_roas"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ObjectID != "120" || rows[0].Outcome != workflows.AdOutcomeApplied || rows[0].StatusBefore != "ACTIVE" ||
		rows[0].StatusAfter != "PAUSED" || rows[0].Mode != workflows.AdModeApply || !strings.Contains(rows[0].Reason, "ROAS 0.20") {
		t.Errorf("audit rows = %+v", rows)
	}
	posts := slack.postsTo("#ads")
	if len(posts) != 1 || !strings.Contains(posts[0].Get("text")+posts[0].Get("blocks"), "Spring boots") {
		t.Errorf("Slack posts to #ads = %v, want one naming the campaign", posts)
	}
}
