package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/ads/adstest"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// A pull reads both levels of every Meta account over today and the last
// days, a day wider on each side, and Google's campaigns; budgets come in
// micros whatever the currency's minor unit; a second pull (a retry, the
// next schedule) leaves the same rows.
func TestAdPullStoresBothPlatforms(t *testing.T) {
	b := newAdsBed(t)
	b.acts.Ads.MetaAccounts = []string{"act_1", "act_2"}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	b.meta.AddStats(
		adstest.MetaStat{Account: "act_1", CampaignID: "11", CampaignName: "Spring", AdSetID: "111", AdSetName: "Lookalike", Date: "2026-03-10",
			Spend: 12_340_000, Impressions: 1000, Clicks: 40, Purchases: 2, PurchaseValue: 80_000_000},
		adstest.MetaStat{Account: "act_1", CampaignID: "11", CampaignName: "Spring", AdSetID: "112", AdSetName: "Retarget", Date: "2026-03-10",
			Spend: 1_000_000, Impressions: 100, Clicks: 4},
		adstest.MetaStat{Account: "act_1", CampaignID: "11", CampaignName: "Spring", AdSetID: "111", AdSetName: "Lookalike", Date: "2026-03-02",
			Spend: 5_000_000, Impressions: 500, Clicks: 5}, // 8 days back: the account may be a day behind UTC
		adstest.MetaStat{Account: "act_1", CampaignID: "11", CampaignName: "Spring", AdSetID: "111", AdSetName: "Lookalike", Date: "2026-03-01",
			Spend: 9_000_000}, // outside the window
		adstest.MetaStat{Account: "act_2", Currency: "JPY", CampaignID: "21", CampaignName: "Tokyo", AdSetID: "211", AdSetName: "All", Date: "2026-03-11",
			Spend: 5000_000_000, Impressions: 3000, Clicks: 30}, // the account is a day ahead of UTC
	)
	b.meta.SetObject(adstest.MetaObject{ID: "11", Name: "Spring", Status: "ACTIVE", DailyBudget: 5000}) // $50.00
	b.meta.SetObject(adstest.MetaObject{ID: "111", Name: "Lookalike", Status: "ACTIVE"})
	b.meta.SetObject(adstest.MetaObject{ID: "112", Name: "Retarget", Status: "PAUSED"})
	b.meta.SetObject(adstest.MetaObject{ID: "21", Name: "Tokyo", Status: "ACTIVE", DailyBudget: 3000}) // ¥3,000
	// 211 is gone: its figures stay, its object is skipped.
	b.google.AddCampaign(adstest.GoogleCampaign{ID: "31", Name: "Brand", Status: "ENABLED", BudgetID: "9", Budget: 20_000_000})
	b.google.AddStats(adstest.GoogleStat{CampaignID: "31", Date: "2026-03-09", Cost: 7_500_000, Impressions: 900, Clicks: 12, Conversions: 1.5, ConversionValue: 45_250_000})

	for range 2 {
		env := b.env(t)
		env.SetStartTime(now)
		env.ExecuteWorkflow(workflows.AdPullWorkflowName, workflows.AdPullRequest{Days: 7})
		var res workflows.AdPullResult
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		m, g := res.Platforms[0], res.Platforms[1]
		if m.Platform != "meta" || m.Since != "2026-03-02" || m.Until != "2026-03-11" || m.Stats != 7 || m.Objects != 4 || len(m.Accounts) != 2 {
			t.Errorf("meta pull %+v", m)
		}
		if g.Platform != "google" || g.Stats != 1 || g.Objects != 1 || g.Off {
			t.Errorf("google pull %+v", g)
		}
	}
	ctx := context.Background()
	var n int64
	b.store.DB().Model(&models.AdStat{}).Count(&n)
	if n != 8 {
		t.Errorf("%d stat rows, want 8 (7 Meta, 1 Google)", n)
	}
	var spring models.AdStat
	if err := b.store.DB().Where("platform = ? AND object_id = ? AND day = ?", "meta", "11", "2026-03-10").Take(&spring).Error; err != nil {
		t.Fatal(err)
	}
	if spring.Level != "campaign" || spring.Spend != 13_340_000 || spring.Conversions != 2 || spring.Value != 80_000_000 || spring.Account != "act_1" || spring.Currency != "USD" {
		t.Errorf("campaign day %+v", spring)
	}
	var objs []models.AdObject
	b.store.DB().Order("platform, id").Find(&objs)
	budgets := map[string]int64{}
	for _, o := range objs {
		budgets[o.Platform+"/"+o.ID+"/"+o.Status] = o.DailyBudget
	}
	want := map[string]int64{"google/31/ENABLED": 20_000_000, "meta/11/ACTIVE": 50_000_000, "meta/111/ACTIVE": 0, "meta/112/PAUSED": 0, "meta/21/ACTIVE": 3000_000_000}
	if len(budgets) != len(want) {
		t.Errorf("objects %v, want %v", budgets, want)
	}
	for k, v := range want {
		if budgets[k] != v {
			t.Errorf("object %s budget %d, want %d", k, budgets[k], v)
		}
	}
	campaigns, err := b.store.AdCampaigns(ctx, models.AdRange{From: "2026-03-02", To: "2026-03-11"})
	if err != nil || len(campaigns) != 3 {
		t.Errorf("campaigns %+v, %v", campaigns, err)
	}
}

// A platform without credentials is skipped and says so.
func TestAdPullSkipsPlatformsThatAreOff(t *testing.T) {
	b := newAdsBed(t)
	b.acts.Ads.Google, b.acts.Ads.Meta = nil, nil
	env := b.env(t)
	env.ExecuteWorkflow(workflows.AdPullWorkflowName, workflows.AdPullRequest{})
	var res workflows.AdPullResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Platforms) != 2 || !res.Platforms[0].Off || !res.Platforms[1].Off {
		t.Errorf("result %+v", res)
	}
}

// A refusal (a bad token) fails the pull at once, after the other
// platform's figures are stored.
func TestAdPullRefusalFailsWithoutRetry(t *testing.T) {
	b := newAdsBed(t)
	b.meta.Fail(adstest.GraphError(400, 190, 0, "Invalid OAuth access token").On("/insights").Repeat(5))
	b.google.AddCampaign(adstest.GoogleCampaign{ID: "31", Name: "Brand", Status: "ENABLED", BudgetID: "9", Budget: 20_000_000})
	b.google.AddStats(adstest.GoogleStat{CampaignID: "31", Date: time.Now().UTC().Format(time.DateOnly), Cost: 1_000_000})
	env := b.env(t)
	env.ExecuteWorkflow(workflows.AdPullWorkflowName, workflows.AdPullRequest{Days: 1})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("the pull succeeded with Meta refusing")
	}
	if n := len(b.meta.RequestsTo("/insights")); n != 1 {
		t.Errorf("%d insights requests, want 1 (no retry of a refusal)", n)
	}
	var n int64
	b.store.DB().Model(&models.AdStat{}).Where("platform = ?", "google").Count(&n)
	if n != 1 {
		t.Errorf("%d Google rows, want 1", n)
	}
}
