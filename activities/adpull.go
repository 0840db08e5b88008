package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/ads"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// PullAdStats reads one platform's daily figures for today and the
// run.Days before into ad_stats, and the status and daily budget of each
// campaign and ad set it saw into ad_objects. A platform without
// credentials is skipped and says so (Off).
func (a *Activities) PullAdStats(ctx context.Context, run workflows.AdPullRun) (workflows.AdPlatformPull, error) {
	res := workflows.AdPlatformPull{Platform: run.Platform}
	if run.At.IsZero() || run.Days < 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ad pull: At %v and Days %d: pass the workflow's time and a number of days", run.At, run.Days), "BadAdPull", nil)
	}
	// Platforms keep days in the ad account's time zone, from UTC-12 to
	// UTC+14: a day more on each side of the UTC dates covers the
	// account's today and its last Days days, wherever it is.
	now := run.At.UTC()
	res.Since = now.AddDate(0, 0, -run.Days-1).Format(time.DateOnly)
	res.Until = now.AddDate(0, 0, 1).Format(time.DateOnly)
	var err error
	switch run.Platform {
	case "meta":
		if a.Ads.Meta == nil {
			res.Off = true
			return res, nil
		}
		err = a.pullMeta(ctx, &res, now)
	case "google":
		if a.Ads.Google == nil {
			res.Off = true
			return res, nil
		}
		err = a.pullGoogle(ctx, &res, now)
	default:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ad pull: platform %q is not meta or google", run.Platform), "BadAdPull", nil)
	}
	return res, err
}

// refusedOrRetry passes on a platform's failure as Temporal should treat
// it: worth retrying (a timeout, a rate limit, an outage) or not (a bad
// token, a missing permission, a bad request), as ads.Retryable decides.
func refusedOrRetry(err error) error {
	if err == nil || ads.Retryable(err) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), "AdPlatformRefused", err)
}

// pullMeta reads every account: insights at campaign and ad set level,
// then each object seen. An account's days are replaced in one
// transaction, so a retried pull writes the same rows.
func (a *Activities) pullMeta(ctx context.Context, res *workflows.AdPlatformPull, now time.Time) error {
	c := a.Ads.Meta
	type seen struct{ level, campaign, currency string }
	for _, account := range a.Ads.MetaAccounts {
		var rows []models.AdStat
		objects := map[string]seen{}
		var order []string
		for _, level := range []meta.Level{meta.LevelCampaign, meta.LevelAdSet} {
			ins, err := c.Insights(ctx, account, level, res.Since, res.Until)
			if err != nil {
				return refusedOrRetry(err)
			}
			for _, in := range ins {
				id, name := in.CampaignID, in.CampaignName
				if level == meta.LevelAdSet {
					id, name = in.AdSetID, in.AdSetName
				}
				rows = append(rows, models.AdStat{
					Platform: "meta", ObjectID: id, Day: in.Date, Account: account, Level: string(level),
					CampaignID: in.CampaignID, Name: name, Currency: in.Currency,
					Spend: int64(in.Spend), Impressions: in.Impressions, Clicks: in.Clicks,
					Conversions: in.Conversions, Value: int64(in.ConversionValue), PulledAt: now,
				})
				if _, ok := objects[id]; !ok {
					objects[id] = seen{string(level), in.CampaignID, in.Currency}
					order = append(order, id)
				}
			}
		}
		if err := a.Store.ReplaceAdStats(ctx, "meta", account, res.Since, res.Until, rows); err != nil {
			return err
		}
		objs := make([]models.AdObject, 0, len(order))
		for _, id := range order {
			activity.RecordHeartbeat(ctx, id)
			o, err := c.Object(ctx, id)
			if err != nil {
				if ads.Retryable(err) {
					return err
				}
				// One object refused (deleted since, or out of the
				// token's reach) must not stop the others' figures.
				activity.GetLogger(ctx).Warn("ad pull: could not read a Meta object", "id", id, "error", err)
				continue
			}
			s := objects[id]
			objs = append(objs, models.AdObject{
				Platform: "meta", ID: id, Account: account, Level: s.level, CampaignID: s.campaign, Name: o.Name,
				Status: string(o.Status), DailyBudget: int64(ads.FromMetaBudget(o.DailyBudget, s.currency)), Currency: s.currency,
			})
		}
		if err := a.Store.SaveAdObjects(ctx, objs); err != nil {
			return err
		}
		res.Accounts = append(res.Accounts, account)
		res.Stats += len(rows)
		res.Objects += len(objs)
	}
	return nil
}

// pullGoogle reads the campaigns' days; each row carries the campaign's
// status and budget, so the latest row of each campaign is its object.
func (a *Activities) pullGoogle(ctx context.Context, res *workflows.AdPlatformPull, now time.Time) error {
	account := a.Ads.GoogleCustomerID
	days, err := a.Ads.Google.CampaignStats(ctx, res.Since, res.Until)
	if err != nil {
		return refusedOrRetry(err)
	}
	rows := make([]models.AdStat, 0, len(days))
	latest := map[string]int{}
	var order []string
	for i, d := range days {
		rows = append(rows, models.AdStat{
			Platform: "google", ObjectID: d.CampaignID, Day: d.Date, Account: account, Level: models.AdLevelCampaign,
			CampaignID: d.CampaignID, Name: d.CampaignName,
			Spend: int64(d.Cost), Impressions: d.Impressions, Clicks: d.Clicks,
			Conversions: d.Conversions, Value: int64(d.ConversionValue), PulledAt: now,
		})
		j, ok := latest[d.CampaignID]
		if !ok {
			order = append(order, d.CampaignID)
		}
		if !ok || d.Date >= days[j].Date {
			latest[d.CampaignID] = i
		}
	}
	if err := a.Store.ReplaceAdStats(ctx, "google", account, res.Since, res.Until, rows); err != nil {
		return err
	}
	objs := make([]models.AdObject, 0, len(order))
	for _, id := range order {
		d := days[latest[id]]
		objs = append(objs, models.AdObject{
			Platform: "google", ID: id, Account: account, Level: models.AdLevelCampaign, CampaignID: id, Name: d.CampaignName,
			Status: d.Status, DailyBudget: int64(d.BudgetAmount), BudgetID: d.BudgetID,
		})
	}
	if err := a.Store.SaveAdObjects(ctx, objs); err != nil {
		return err
	}
	res.Accounts = []string{account}
	res.Stats, res.Objects = len(rows), len(objs)
	return nil
}
