package models

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Ad statistics levels.
const (
	AdLevelCampaign = "campaign"
	AdLevelAdSet    = "adset"
)

// ReplaceAdStats makes rows the whole truth about one account's days from
// since to until (YYYY-MM-DD, both included): in one transaction the days'
// old rows go and rows come in. A pull that runs twice (an activity retry)
// leaves the same rows, and a day that lost its figures (a refund of a
// whole day's spend, a campaign deleted) loses its row instead of keeping
// the old one.
func (s *Store) ReplaceAdStats(ctx context.Context, platform, account, since, until string, rows []AdStat) error {
	if err := checkDays(since, until); err != nil {
		return err
	}
	for i, r := range rows {
		if r.Platform != platform || r.Account != account || r.Day < since || r.Day > until {
			return fmt.Errorf("ad stats: row %d (%s %s %s on %s) is not %s %s between %s and %s", i, r.Platform, r.Account, r.ObjectID, r.Day, platform, account, since, until)
		}
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("platform = ? AND account = ? AND day >= ? AND day <= ?", platform, account, since, until).Delete(&AdStat{}).Error; err != nil {
			return fmt.Errorf("ad stats: clear %s %s %s..%s: %w", platform, account, since, until, err)
		}
		if len(rows) == 0 {
			return nil
		}
		// Upsert rather than insert: a platform that lists a row twice
		// must not fail the pull.
		if err := tx.Clauses(clause.OnConflict{UpdateAll: true}).CreateInBatches(rows, 500).Error; err != nil {
			return fmt.Errorf("ad stats: write %s %s: %w", platform, account, err)
		}
		return nil
	})
}

// SaveAdObjects writes campaigns and ad sets as just read from their
// platform, replacing what was known of them.
func (s *Store) SaveAdObjects(ctx context.Context, objs []AdObject) error {
	if len(objs) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).CreateInBatches(objs, 500).Error
	if err != nil {
		return fmt.Errorf("ad objects: %w", err)
	}
	return nil
}

// AdRange is a span of days, both included, as YYYY-MM-DD. Platforms report
// days in the ad account's time zone; orders are counted by UTC day.
type AdRange struct {
	From, To string
}

func checkDays(from, to string) error {
	a, err1 := time.Parse(time.DateOnly, from)
	b, err2 := time.Parse(time.DateOnly, to)
	switch {
	case err1 != nil:
		return fmt.Errorf("from %q is not a day like 2006-01-02", from)
	case err2 != nil:
		return fmt.Errorf("to %q is not a day like 2006-01-02", to)
	case b.Before(a):
		return fmt.Errorf("to %s is before from %s", to, from)
	}
	return nil
}

// AdCampaign is one campaign over a range of days: its platform's figures
// and Nudge's own view of what it earned. Money is in micros of the
// account currency.
type AdCampaign struct {
	Platform string `json:"platform"`
	Account  string `json:"account"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	// Status and DailyBudget are as last pulled (ad_objects); empty and 0
	// for a campaign whose object was never read.
	Status      string  `json:"status,omitempty"`
	Currency    string  `json:"currency,omitempty"`
	DailyBudget int64   `json:"daily_budget_micros"`
	Spend       int64   `json:"spend_micros"`
	Impressions int64   `json:"impressions"`
	Clicks      int64   `json:"clicks"`
	Conversions float64 `json:"conversions"`
	Value       int64   `json:"conversion_value_micros"`
	// ROAS is the platform's: conversion value over spend.
	ROAS float64 `json:"roas"`
	// Orders and Revenue are the orders whose utm_campaign is the
	// campaign's ID or name (not refunded or cancelled), placed in the
	// range; NudgeROAS is Revenue over Spend.
	Orders    int64   `json:"orders"`
	Revenue   int64   `json:"revenue_micros"`
	NudgeROAS float64 `json:"nudge_roas"`
}

// AdCampaigns lists every campaign with figures in the range or known from
// a pull, most spend first. An order credits each campaign its
// utm_campaign names, by ID or by name: two campaigns with one name (on
// two platforms, say) are both credited with its orders.
func (s *Store) AdCampaigns(ctx context.Context, r AdRange) ([]AdCampaign, error) {
	if err := checkDays(r.From, r.To); err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	var sums []struct {
		Platform, ObjectID, Account, Name, Currency string
		Spend, Impressions, Clicks, Value           int64
		Conversions                                 float64
	}
	err := db.Model(&AdStat{}).
		Select("platform, object_id, MAX(account) AS account, MAX(name) AS name, MAX(currency) AS currency, "+
			"SUM(spend) AS spend, SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(value) AS value, SUM(conversions) AS conversions").
		Where("level = ? AND day >= ? AND day <= ?", AdLevelCampaign, r.From, r.To).
		Group("platform, object_id").Scan(&sums).Error
	if err != nil {
		return nil, fmt.Errorf("ad campaigns: %w", err)
	}
	var objs []AdObject
	if err := db.Where("level = ?", AdLevelCampaign).Find(&objs).Error; err != nil {
		return nil, fmt.Errorf("ad campaigns: objects: %w", err)
	}
	byKey := map[[2]string]*AdCampaign{}
	var out []*AdCampaign
	get := func(platform, id string) *AdCampaign {
		k := [2]string{platform, id}
		if c, ok := byKey[k]; ok {
			return c
		}
		c := &AdCampaign{Platform: platform, ID: id}
		byKey[k] = c
		out = append(out, c)
		return c
	}
	for _, o := range objs {
		c := get(o.Platform, o.ID)
		c.Account, c.Name, c.Status, c.Currency, c.DailyBudget = o.Account, o.Name, o.Status, o.Currency, o.DailyBudget
	}
	for _, sm := range sums {
		c := get(sm.Platform, sm.ObjectID)
		c.Spend, c.Impressions, c.Clicks, c.Value, c.Conversions = sm.Spend, sm.Impressions, sm.Clicks, sm.Value, sm.Conversions
		c.Account = cmp.Or(c.Account, sm.Account)
		c.Name = cmp.Or(c.Name, sm.Name)
		c.Currency = cmp.Or(c.Currency, sm.Currency)
	}

	from, _ := time.Parse(time.DateOnly, r.From)
	to, _ := time.Parse(time.DateOnly, r.To)
	var credited []struct {
		UTMCampaign string
		Orders      int64
		Revenue     float64
	}
	err = db.Model(&Order{}).Select("utm_campaign, COUNT(*) AS orders, COALESCE(SUM(total), 0) AS revenue").
		Where("utm_campaign <> '' AND status NOT IN ? AND ordered_at >= ? AND ordered_at < ?",
			[]string{"refunded", "cancelled"}, from.UTC(), to.AddDate(0, 0, 1).UTC()).
		Group("utm_campaign").Scan(&credited).Error
	if err != nil {
		return nil, fmt.Errorf("ad campaigns: orders: %w", err)
	}
	type credit struct {
		orders  int64
		revenue float64
	}
	byUTM := make(map[string]credit, len(credited))
	for _, c := range credited {
		byUTM[c.UTMCampaign] = credit{c.Orders, c.Revenue}
	}

	res := make([]AdCampaign, len(out))
	for i, c := range out {
		keys := []string{c.ID}
		if c.Name != "" && c.Name != c.ID {
			keys = append(keys, c.Name)
		}
		var revenue float64
		for _, k := range keys {
			cr := byUTM[k]
			c.Orders += cr.orders
			revenue += cr.revenue
		}
		c.Revenue = int64(math.Round(revenue * 1e6))
		c.ROAS = roas(c.Value, c.Spend)
		c.NudgeROAS = roas(c.Revenue, c.Spend)
		res[i] = *c
	}
	slices.SortFunc(res, func(a, b AdCampaign) int {
		return cmp.Or(cmp.Compare(b.Spend, a.Spend), cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.ID, b.ID))
	})
	return res, nil
}

// roas is value over spend, 0 without spend (as ads.ROAS, which models
// does not import).
func roas(value, spend int64) float64 {
	if spend <= 0 {
		return 0
	}
	return float64(value) / float64(spend)
}

// AdCampaignDay is one campaign's spend and conversion value on one day,
// for a chart of ROAS over time.
type AdCampaignDay struct {
	Platform   string `json:"platform"`
	CampaignID string `json:"campaign_id"`
	Day        string `json:"day"`
	Spend      int64  `json:"spend_micros"`
	Value      int64  `json:"conversion_value_micros"`
}

// AdCampaignDays lists each campaign's days in the range that have
// figures, by day, then platform and campaign.
func (s *Store) AdCampaignDays(ctx context.Context, r AdRange) ([]AdCampaignDay, error) {
	if err := checkDays(r.From, r.To); err != nil {
		return nil, err
	}
	out := []AdCampaignDay{}
	err := s.db.WithContext(ctx).Model(&AdStat{}).
		Select("platform, object_id AS campaign_id, day, spend, value").
		Where("level = ? AND day >= ? AND day <= ?", AdLevelCampaign, r.From, r.To).
		Order("day, platform, object_id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("ad campaign days: %w", err)
	}
	return out, nil
}
