package workflows

import (
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// PullAdStatsActivity reads one ad platform's figures into ad_stats and
// ad_objects.
const PullAdStatsActivity = "PullAdStats"

// DefaultAdPullDays is how many past days each pull reads again: late
// conversions change them for about a week.
const DefaultAdPullDays = 7

// adPullPlatforms are pulled side by side, in this order in the result.
var adPullPlatforms = []string{"meta", "google"}

// AdPullRun asks one platform for today and the Days before, as of At.
type AdPullRun struct {
	Platform string    `json:"platform"`
	Days     int       `json:"days"`
	At       time.Time `json:"at"`
}

// AdPlatformPull is what one platform's pull did.
type AdPlatformPull struct {
	Platform string `json:"platform"`
	// Off: the platform has no credentials, so it was skipped.
	Off      bool     `json:"off,omitempty"`
	Accounts []string `json:"accounts,omitempty"`
	// Since and Until are the days read (in UTC terms, a day wider on
	// each side than asked, for accounts in other time zones).
	Since   string `json:"since,omitempty"`
	Until   string `json:"until,omitempty"`
	Stats   int    `json:"stats"`   // day rows written (campaigns and ad sets)
	Objects int    `json:"objects"` // campaigns and ad sets whose status and budget were read
	Error   string `json:"error,omitempty"`
}

// AdPullResult is one pull, platform by platform.
type AdPullResult struct {
	Platforms []AdPlatformPull `json:"platforms"`
}

// AdPullWorkflow pulls spend and results from every ad platform, each in
// its own activity so one platform's outage does not hold back the other's
// figures. It fails when any platform failed, after the others are stored.
func AdPullWorkflow(ctx workflow.Context, req AdPullRequest) (AdPullResult, error) {
	days := req.Days
	if days <= 0 {
		days = DefaultAdPullDays
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		// The schedule pulls again in 15 minutes; a pull still failing by
		// then gives way to the next.
		ScheduleToCloseTimeout: 14 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 2 * time.Minute},
	})
	at := workflow.Now(ctx).UTC()
	futures := make([]workflow.Future, len(adPullPlatforms))
	for i, p := range adPullPlatforms {
		futures[i] = workflow.ExecuteActivity(ctx, PullAdStatsActivity, AdPullRun{Platform: p, Days: days, At: at})
	}
	var res AdPullResult
	var failed []string
	for i, f := range futures {
		var p AdPlatformPull
		if err := f.Get(ctx, &p); err != nil {
			p = AdPlatformPull{Platform: adPullPlatforms[i], Error: err.Error()}
			failed = append(failed, p.Platform+": "+p.Error)
		}
		res.Platforms = append(res.Platforms, p)
	}
	if len(failed) > 0 {
		return res, errors.New("ad pull failed for " + strings.Join(failed, "; "))
	}
	return res, nil
}
