package models_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
)

func metaDay(id, level, campaign, name, day string, spend, value int64, conv float64) models.AdStat {
	return models.AdStat{Platform: "meta", ObjectID: id, Day: day, Account: "act_1", Level: level, CampaignID: campaign,
		Name: name, Currency: "USD", Spend: spend, Impressions: 1000, Clicks: 10, Conversions: conv, Value: value}
}

// The campaigns' figures over a range: the platform's sums and ROAS, and
// Nudge's own from the orders whose utm_campaign names the campaign by ID
// or by name, refunds and other days left out.
func TestAdCampaignsSumsAndCreditsOrders(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		meta := []models.AdStat{
			metaDay("111", "campaign", "111", "Spring Sale", "2026-03-01", 10_000_000, 25_000_000, 1),
			metaDay("111", "campaign", "111", "Spring Sale", "2026-03-02", 20_000_000, 30_500_000, 1.5),
			metaDay("111", "campaign", "111", "Spring Sale", "2026-03-04", 99_000_000, 0, 0), // after the range
			metaDay("5001", "adset", "111", "Lookalikes", "2026-03-02", 20_000_000, 30_500_000, 1.5),
		}
		if err := s.ReplaceAdStats(ctx, "meta", "act_1", "2026-02-28", "2026-03-04", meta); err != nil {
			t.Fatal(err)
		}
		google := []models.AdStat{{Platform: "google", ObjectID: "222", Day: "2026-03-03", Account: "1234567890", Level: "campaign",
			CampaignID: "222", Name: "Brand", Spend: 12_340_000, Impressions: 500, Clicks: 7, Conversions: 2, Value: 61_700_000}}
		if err := s.ReplaceAdStats(ctx, "google", "1234567890", "2026-03-01", "2026-03-04", google); err != nil {
			t.Fatal(err)
		}
		err := s.SaveAdObjects(ctx, []models.AdObject{
			{Platform: "meta", ID: "111", Account: "act_1", Level: "campaign", CampaignID: "111", Name: "Spring Sale", Status: "ACTIVE", DailyBudget: 50_000_000, Currency: "USD"},
			{Platform: "meta", ID: "333", Account: "act_1", Level: "campaign", CampaignID: "333", Name: "Dormant", Status: "PAUSED", Currency: "USD"},
			{Platform: "meta", ID: "5001", Account: "act_1", Level: "adset", CampaignID: "111", Name: "Lookalikes", Status: "ACTIVE"},
			{Platform: "google", ID: "222", Account: "1234567890", Level: "campaign", CampaignID: "222", Name: "Brand", Status: "ENABLED", DailyBudget: 20_000_000, BudgetID: "9"},
		})
		if err != nil {
			t.Fatal(err)
		}
		day := func(d int, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
		for _, o := range []models.Order{
			{ID: "o1", OrderID: "o1", ContactID: "c1", Total: 100.5, Status: "completed", UTMCampaign: "111", OrderedAt: day(2, 10)},
			{ID: "o2", OrderID: "o2", ContactID: "c2", Total: 49.5, Status: "shipped", UTMCampaign: "Spring Sale", OrderedAt: day(3, 23)},
			{ID: "o3", OrderID: "o3", ContactID: "c3", Total: 1000, Status: "refunded", UTMCampaign: "111", OrderedAt: day(2, 11)},
			{ID: "o4", OrderID: "o4", ContactID: "c4", Total: 70, Status: "completed", UTMCampaign: "111", OrderedAt: day(4, 0)}, // after the range
			{ID: "o5", OrderID: "o5", ContactID: "c5", Total: 30, Status: "completed", UTMCampaign: "Brand", OrderedAt: day(1, 0)},
			{ID: "o6", OrderID: "o6", ContactID: "c6", Total: 5, Status: "completed", UTMCampaign: "", OrderedAt: day(1, 0)},
		} {
			if err := s.DB().Create(&o).Error; err != nil {
				t.Fatal(err)
			}
		}

		got, err := s.AdCampaigns(ctx, models.AdRange{From: "2026-03-01", To: "2026-03-03"})
		if err != nil {
			t.Fatal(err)
		}
		want := []models.AdCampaign{
			{Platform: "meta", Account: "act_1", ID: "111", Name: "Spring Sale", Status: "ACTIVE", Currency: "USD", DailyBudget: 50_000_000,
				Spend: 30_000_000, Impressions: 2000, Clicks: 20, Conversions: 2.5, Value: 55_500_000, ROAS: 1.85,
				Orders: 2, Revenue: 150_000_000, NudgeROAS: 5},
			{Platform: "google", Account: "1234567890", ID: "222", Name: "Brand", Status: "ENABLED", DailyBudget: 20_000_000,
				Spend: 12_340_000, Impressions: 500, Clicks: 7, Conversions: 2, Value: 61_700_000, ROAS: 5,
				Orders: 1, Revenue: 30_000_000, NudgeROAS: 30_000_000.0 / 12_340_000},
			{Platform: "meta", Account: "act_1", ID: "333", Name: "Dormant", Status: "PAUSED", Currency: "USD"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("campaigns\n got %+v\nwant %+v", got, want)
		}

		days, err := s.AdCampaignDays(ctx, models.AdRange{From: "2026-03-01", To: "2026-03-03"})
		if err != nil {
			t.Fatal(err)
		}
		wantDays := []models.AdCampaignDay{
			{Platform: "meta", CampaignID: "111", Day: "2026-03-01", Spend: 10_000_000, Value: 25_000_000},
			{Platform: "meta", CampaignID: "111", Day: "2026-03-02", Spend: 20_000_000, Value: 30_500_000},
			{Platform: "google", CampaignID: "222", Day: "2026-03-03", Spend: 12_340_000, Value: 61_700_000},
		}
		if !reflect.DeepEqual(days, wantDays) {
			t.Errorf("days\n got %+v\nwant %+v", days, wantDays)
		}

		if _, err := s.AdCampaigns(ctx, models.AdRange{From: "2026-03-03", To: "2026-03-01"}); err == nil {
			t.Error("a range that ends before it starts was accepted")
		}
	})
}

// A pull replaces its window whole: run twice it leaves the same rows, and
// a day that lost its figures loses its row; days outside the window and
// other accounts are untouched.
func TestReplaceAdStatsIsIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		first := []models.AdStat{
			metaDay("111", "campaign", "111", "A", "2026-03-01", 1_000_000, 0, 0),
			metaDay("111", "campaign", "111", "A", "2026-03-02", 2_000_000, 0, 0),
			metaDay("111", "campaign", "111", "A", "2026-03-05", 5_000_000, 0, 0),
		}
		if err := s.ReplaceAdStats(ctx, "meta", "act_1", "2026-03-01", "2026-03-05", first); err != nil {
			t.Fatal(err)
		}
		other := metaDay("999", "campaign", "999", "B", "2026-03-02", 9_000_000, 0, 0)
		other.Account = "act_2"
		if err := s.ReplaceAdStats(ctx, "meta", "act_2", "2026-03-02", "2026-03-02", []models.AdStat{other}); err != nil {
			t.Fatal(err)
		}
		// The next pull: 03-02 changed (a late conversion), 03-03 is new,
		// 03-01 has no row any more; 03-05 is outside this window.
		second := []models.AdStat{
			metaDay("111", "campaign", "111", "A", "2026-03-02", 2_500_000, 4_000_000, 1),
			metaDay("111", "campaign", "111", "A", "2026-03-03", 3_000_000, 0, 0),
		}
		for range 2 {
			if err := s.ReplaceAdStats(ctx, "meta", "act_1", "2026-03-01", "2026-03-04", second); err != nil {
				t.Fatal(err)
			}
		}
		var rows []models.AdStat
		if err := s.DB().Order("account, day").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Account+" "+r.Day+" "+time.Duration(r.Spend).String())
		}
		want := []string{"act_1 2026-03-02 2.5ms", "act_1 2026-03-03 3ms", "act_1 2026-03-05 5ms", "act_2 2026-03-02 9ms"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("rows %v, want %v", got, want)
		}
		bad := metaDay("111", "campaign", "111", "A", "2026-03-09", 1, 0, 0)
		if err := s.ReplaceAdStats(ctx, "meta", "act_1", "2026-03-01", "2026-03-04", []models.AdStat{bad}); err == nil {
			t.Error("a row outside the window was accepted")
		}
	})
}
