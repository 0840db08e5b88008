package platform

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/ads/google"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/workflows"
)

// Advertising runs on three kinds of Temporal Schedule, all skipping a run
// while the last is still going:
//   - nudge-ads-pull reads spend and results every NUDGE_ADS_EVERY;
//   - nudge-ads-rules evaluates the enabled rules (NUDGE_AD_RULES) at the
//     same interval, a third of it after the pull, so they read fresh
//     figures;
//   - nudge-ads-audience-… syncs each audience every NUDGE_AUDIENCE_SYNC_EVERY.
//
// Without ad credentials there are none: the worker deletes any left from
// an earlier configuration.
const (
	adsPullSchedule     = "nudge-ads-pull"
	adsRulesSchedule    = "nudge-ads-rules"
	audienceSchedule    = "nudge-ads-audience-"
	adsPullWorkflowID   = "ads-pull"
	adsRulesWorkflowID  = "ads-rules"
	adsPullDays         = 7
	adsScheduleCatchup  = 30 * time.Minute
	audienceSyncCatchup = 2 * time.Hour
)

// adClients builds the ad platforms' clients from the settings; a platform
// without credentials stays nil.
func adClients(cfg *config.Config) (activities.AdClients, error) {
	c := activities.AdClients{Channel: cfg.SlackAdsChannel, MetaAccounts: cfg.MetaAdAccounts}
	if cfg.MetaEnabled() {
		m, err := meta.New(meta.Config{AccessToken: cfg.MetaAccessToken, APIURL: cfg.MetaAPIURL})
		if err != nil {
			return c, fmt.Errorf("NUDGE_META_*: %w", err)
		}
		c.Meta = m
	}
	if cfg.GoogleAdsEnabled() {
		tokens := google.OAuth{ClientID: cfg.GoogleOAuthClientID, ClientSecret: cfg.GoogleOAuthClientSecret,
			RefreshToken: cfg.GoogleOAuthRefreshToken, TokenURL: cfg.GoogleOAuthTokenURL}.TokenSource(nil)
		g, err := google.New(google.Config{DeveloperToken: cfg.GoogleAdsDeveloperToken, CustomerID: cfg.GoogleAdsCustomerID,
			LoginCustomerID: cfg.GoogleAdsLoginCustomerID, APIURL: cfg.GoogleAdsAPIURL, Tokens: tokens})
		if err != nil {
			return c, fmt.Errorf("NUDGE_GOOGLE_*: %w", err)
		}
		cm, err := google.NewCustomerMatch(google.CustomerMatchConfig{CustomerID: cfg.GoogleAdsCustomerID,
			LoginCustomerID: cfg.GoogleAdsLoginCustomerID, APIURL: cfg.GoogleDataManagerURL, Tokens: tokens,
			TermsAccepted: cfg.GoogleCustomerMatchTerms})
		if err != nil {
			return c, fmt.Errorf("NUDGE_GOOGLE_*: %w", err)
		}
		c.Google, c.GoogleCustomerID, c.CustomerMatch = g, cfg.GoogleAdsCustomerID, cm
	}
	return c, nil
}

// ReconcileAds makes the ad schedules match the settings, like
// ReconcileReports.
func (p *Platform) ReconcileAds(ctx context.Context) (created, updated, deleted []string, err error) {
	cfg := p.Config
	var want []schedule
	action := func(id, workflow string, arg any) *client.ScheduleWorkflowAction {
		return &client.ScheduleWorkflowAction{ID: id, Workflow: workflow, Args: []any{arg}, TaskQueue: cfg.TaskQueue}
	}
	if cfg.AdsEnabled() {
		want = append(want, schedule{ID: adsPullSchedule, Spec: every(cfg.AdsEvery), Catchup: adsScheduleCatchup,
			Action: action(adsPullWorkflowID, workflows.AdPullWorkflowName, workflows.AdPullRequest{Days: adsPullDays}),
			Note:   "NUDGE_ADS_EVERY: spend and results from the ad platforms"})
		if len(cfg.AdRules) > 0 {
			spec := every(cfg.AdsEvery)
			spec.Intervals[0].Offset = cfg.AdsEvery / 3
			want = append(want, schedule{ID: adsRulesSchedule, Spec: spec, Catchup: adsScheduleCatchup,
				Action: action(adsRulesWorkflowID, workflows.AdRuleWorkflowName, cfg.AdRuleRequest(cfg.AdRules)),
				Note:   "NUDGE_AD_RULES: " + strings.Join(cfg.AdRules, ", ") + " (" + cfg.AdMode() + ")"})
		}
	}
	for _, a := range cfg.AllAudiences() {
		want = append(want, schedule{ID: audienceSchedule + scheduleSlug(a.Key()), Spec: every(cfg.AudienceSyncEvery), Catchup: audienceSyncCatchup,
			Action: action(a.WorkflowID(), workflows.AudienceSyncWorkflowName, cfg.AudienceSyncRequest(a)),
			Note:   "NUDGE_AUDIENCES: " + a.Segment + "=" + a.Platform + ":" + a.ID})
	}
	return p.reconcile(ctx, "nudge-ads-", want)
}

// scheduleSlug makes an audience key fit a schedule ID.
func scheduleSlug(s string) string { return strings.ReplaceAll(s, "/", "-") }
