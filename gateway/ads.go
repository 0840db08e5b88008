package gateway

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/ads"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Advertising (admin key):
//
//	GET  /v1/ads/campaigns?from=&to=[&format=csv]  spend, results and ROAS per campaign, the platforms' and Nudge's own
//	GET  /v1/ads/actions[?rule=&outcome=&object=&limit=&offset=]  the rules' audit log, newest first
//	POST /v1/ads/actions/:id/undo                 reverse an applied change
//	POST /v1/ads/rules/:name/run                  evaluate one rule now; its decisions
//	POST /v1/audiences/:segment/sync              sync the segment's audiences now
//
// The runs are Temporal workflows, as on their schedules; the handlers
// start one and wait for it a while (adRunWait). A run that takes longer
// (an approval waiting for its click) goes on: the answer says where.

// adRunWait is how long a handler waits for the run it started.
const adRunWait = 60 * time.Second

const msgAdsOff = "ads are off: set NUDGE_META_ACCESS_TOKEN and NUDGE_META_AD_ACCOUNTS, or the NUDGE_GOOGLE_* credentials (see the README's Advertising section)"

func (g *Gateway) adRoutes(admin *gin.RouterGroup) {
	admin.GET("/ads/campaigns", g.getAdCampaigns)
	admin.GET("/ads/actions", g.listAdActions)
	admin.POST("/ads/actions/:id/undo", g.undoAdAction)
	admin.POST("/ads/rules/:name/run", g.runAdRule)
	admin.POST("/audiences/:segment/sync", g.syncAudience)
}

func (g *Gateway) runAdRule(c *gin.Context) {
	name := c.Param("name")
	if !slices.Contains(workflows.AdRuleNames, name) {
		fail(c, http.StatusNotFound, fmt.Sprintf("no ad rule %q (rules: %s)", clip(name), strings.Join(workflows.AdRuleNames, ", ")))
		return
	}
	if !g.Config.AdsEnabled() {
		fail(c, http.StatusConflict, msgAdsOff)
		return
	}
	id := "ads-rules/now/" + name + "/" + strings.ToLower(rand.Text()[:10])
	var res workflows.AdRuleResult
	g.runAdWorkflow(c, client.StartWorkflowOptions{ID: id}, workflows.AdRuleWorkflowName, g.Config.AdRuleRequest([]string{name}), &res, func() {
		c.JSON(http.StatusOK, gin.H{"rule": name, "mode": g.Config.AdMode(), "workflow_id": id, "result": res})
	})
}

func (g *Gateway) undoAdAction(c *gin.Context) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		fail(c, http.StatusBadRequest, fmt.Sprintf("action ID %q is not a positive number", clip(c.Param("id"))))
		return
	}
	if !g.Config.AdsEnabled() {
		fail(c, http.StatusConflict, msgAdsOff)
		return
	}
	// One undo per action: a second request joins the first's run.
	opts := client.StartWorkflowOptions{ID: workflows.AdUndoWorkflowID(id),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}
	var res workflows.AdUndoResult
	g.runAdWorkflow(c, opts, workflows.AdUndoWorkflowName, id, &res, func() {
		c.JSON(http.StatusOK, gin.H{"undo": res})
	})
}

func (g *Gateway) syncAudience(c *gin.Context) {
	seg := c.Param("segment")
	var mine []config.Audience
	for _, a := range g.Config.AllAudiences() {
		if a.Segment == seg {
			mine = append(mine, a)
		}
	}
	if len(mine) == 0 {
		fail(c, http.StatusNotFound, fmt.Sprintf("segment %q is synced to no audience (NUDGE_AUDIENCES, NUDGE_RETARGET_AUDIENCE)", clip(seg)))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), adRunWait)
	defer cancel()
	out := []gin.H{}
	for _, a := range mine {
		// A sync already under way for the audience is joined, not doubled.
		opts := client.StartWorkflowOptions{ID: a.WorkflowID() + "/now", TaskQueue: g.Config.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}
		run, err := g.Temporal.ExecuteWorkflow(ctx, opts, workflows.AudienceSyncWorkflowName, g.Config.AudienceSyncRequest(a))
		if err != nil {
			g.serverError(c, "start the audience sync", err)
			return
		}
		var res workflows.AudienceSyncResult
		err = run.Get(ctx, &res)
		entry := gin.H{"audience": a.Key(), "platform": a.Platform, "audience_id": a.ID, "workflow_id": run.GetID()}
		switch {
		case err == nil:
			entry["result"] = res
		case ctx.Err() != nil:
			entry["status"] = "running"
		default:
			entry["error"] = workflowError(err)
		}
		out = append(out, entry)
	}
	c.JSON(http.StatusOK, gin.H{"segment": seg, "audiences": out})
}

// runAdWorkflow starts a workflow on the task queue and waits for it:
// done answers with its result; a run that refused its input answers 409
// with the reason, one still going 202 with its ID.
func (g *Gateway) runAdWorkflow(c *gin.Context, opts client.StartWorkflowOptions, workflow string, arg, result any, done func()) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), adRunWait)
	defer cancel()
	opts.TaskQueue = g.Config.TaskQueue
	run, err := g.Temporal.ExecuteWorkflow(ctx, opts, workflow, arg)
	if err != nil {
		g.serverError(c, "start "+workflow, err)
		return
	}
	err = run.Get(ctx, result)
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		done()
	case ctx.Err() != nil:
		c.JSON(http.StatusAccepted, gin.H{"workflow_id": run.GetID(), "status": "running",
			"message": "still running (an approval waits for its Slack click); the Temporal UI and GET /v1/ads/actions show how it ends"})
	case errors.As(err, &app) && app.NonRetryable():
		fail(c, http.StatusConflict, app.Message())
	default:
		g.serverError(c, "run "+workflow, err)
	}
}

// workflowError is the message a failed run ended with.
func workflowError(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

func (g *Gateway) getAdCampaigns(c *gin.Context) {
	p, format, ok := metricsQuery(c)
	if !ok {
		return
	}
	// Ad platforms report whole days: the period's days, its last one
	// included.
	r := models.AdRange{From: p.From.Format(time.DateOnly), To: p.To.Add(-time.Nanosecond).Format(time.DateOnly)}
	ctx := c.Request.Context()
	campaigns, err := g.Store.AdCampaigns(ctx, r)
	if err != nil {
		g.serverError(c, "read ad campaigns", err)
		return
	}
	if format == "csv" {
		writeCSV(c, "ad-campaigns", []string{"platform", "account", "campaign_id", "name", "status", "currency", "daily_budget", "spend",
			"impressions", "clicks", "conversions", "conversion_value", "roas", "orders", "revenue", "nudge_roas"}, func(w *csv.Writer) {
			for _, a := range campaigns {
				_ = w.Write([]string{a.Platform, a.Account, a.ID, a.Name, a.Status, a.Currency, ads.Micros(a.DailyBudget).String(),
					ads.Micros(a.Spend).String(), count(a.Impressions), count(a.Clicks), strconv.FormatFloat(a.Conversions, 'f', -1, 64),
					ads.Micros(a.Value).String(), strconv.FormatFloat(a.ROAS, 'f', 2, 64), count(a.Orders), ads.Micros(a.Revenue).String(),
					strconv.FormatFloat(a.NudgeROAS, 'f', 2, 64)})
			}
		})
		return
	}
	days, err := g.Store.AdCampaignDays(ctx, r)
	if err != nil {
		g.serverError(c, "read ad campaign days", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": r.From, "to": r.To, "ads_enabled": g.Config.AdsEnabled(), "campaigns": campaigns, "daily": days,
		"attribution": "nudge_roas credits a campaign with the orders whose last touch's utm_campaign is its ID or name"})
}

func (g *Gateway) listAdActions(c *gin.Context) {
	f := models.AdActionFilter{Rule: c.Query("rule"), Outcome: c.Query("outcome"), Platform: c.Query("platform"), ObjectID: c.Query("object")}
	var errs []string
	for _, q := range []struct {
		name string
		v    *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if s := c.Query(q.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Sprintf("%s: want a whole number from 0, got %q", q.name, clip(s)))
			}
			*q.v = n
		}
	}
	if f.Rule != "" && !slices.Contains(workflows.AdRuleNames, f.Rule) {
		errs = append(errs, fmt.Sprintf("rule: no ad rule %q (rules: %s)", clip(f.Rule), strings.Join(workflows.AdRuleNames, ", ")))
	}
	if f.Limit > 500 {
		errs = append(errs, fmt.Sprintf("limit: at most 500, got %d", f.Limit))
	}
	if len(errs) > 0 {
		fail(c, http.StatusBadRequest, strings.Join(errs, "; "))
		return
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	rows, total, err := g.Store.AdActions(c.Request.Context(), f)
	if err != nil {
		g.serverError(c, "read the ad actions", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"actions": rows, "total": total, "limit": f.Limit, "offset": f.Offset})
}
