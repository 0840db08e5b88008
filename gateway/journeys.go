package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Pausing a journey (admin key), for when its copy is wrong or its list
// health is poor:
//
//	GET  /v1/journeys                 every journey, and whether it is paused
//	POST /v1/journeys/:name/pause     {"reason": "…"} (optional)
//	POST /v1/journeys/:name/resume
//
// While a journey is paused no contact enters it, and its runs hold before
// their next send (the send activity answers "paused"). Resuming signals
// the runs that hold, which send what is due, once; a run the signal
// misses checks again within the hour.

// resumeSignalTime bounds how long a resume spends signalling runs.
const resumeSignalTime = 30 * time.Second

func (g *Gateway) journeyRoutes(admin *gin.RouterGroup) {
	admin.GET("/journeys", g.listJourneys)
	admin.POST("/journeys/:name/pause", g.pauseJourney)
	admin.POST("/journeys/:name/resume", g.resumeJourney)
}

func (g *Gateway) listJourneys(c *gin.Context) {
	pauses, err := g.Store.JourneyPauses(c.Request.Context())
	if err != nil {
		g.serverError(c, "read journey pauses", err)
		return
	}
	out := []models.JourneyPause{}
	for _, name := range workflows.JourneyNames() {
		p := models.JourneyPause{Journey: name}
		if i := slices.IndexFunc(pauses, func(p models.JourneyPause) bool { return p.Journey == name }); i >= 0 {
			p = pauses[i]
		}
		out = append(out, p)
	}
	c.JSON(http.StatusOK, gin.H{"journeys": out})
}

// journeyName reads :name, answering 404 for a journey that does not exist.
func journeyName(c *gin.Context) (string, bool) {
	name := c.Param("name")
	if !slices.Contains(workflows.JourneyNames(), name) {
		fail(c, http.StatusNotFound, fmt.Sprintf("no journey %q (journeys: %s)", clip(name), strings.Join(workflows.JourneyNames(), ", ")))
		return "", false
	}
	return name, true
}

func (g *Gateway) pauseJourney(c *gin.Context) {
	name, ok := journeyName(c)
	if !ok {
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if !readOptionalJSON(c, &body) {
		return
	}
	if len(body.Reason) > 500 {
		fail(c, http.StatusBadRequest, fmt.Sprintf("reason: at most 500 bytes, got %d", len(body.Reason)))
		return
	}
	if err := g.Store.SetJourneyPaused(c.Request.Context(), name, true, body.Reason, "admin", time.Now()); err != nil {
		g.serverError(c, "pause the journey", err)
		return
	}
	g.log().Warn("journey paused", "journey", name, "reason", body.Reason)
	c.JSON(http.StatusOK, gin.H{"journey": name, "paused": true, "reason": body.Reason})
}

func (g *Gateway) resumeJourney(c *gin.Context) {
	name, ok := journeyName(c)
	if !ok {
		return
	}
	if err := g.Store.SetJourneyPaused(c.Request.Context(), name, false, "", "admin", time.Now()); err != nil {
		g.serverError(c, "resume the journey", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), resumeSignalTime)
	defer cancel()
	signalled, err := g.signalRuns(ctx, name)
	body := gin.H{"journey": name, "paused": false, "signalled": signalled}
	if err != nil {
		// Resumed all the same: runs the signal missed check within the hour.
		g.log().Warn("journey resumed; not every run was told", "journey", name, "signalled", signalled, "error", err)
		body["signal_error"] = err.Error()
	}
	g.log().Warn("journey resumed", "journey", name, "signalled", signalled)
	c.JSON(http.StatusOK, body)
}

// signalRuns tells every running run of the journey that it was resumed.
func (g *Gateway) signalRuns(ctx context.Context, journey string) (int, error) {
	query := fmt.Sprintf("%s = %q AND ExecutionStatus = 'Running'", workflows.JourneyKey.GetName(), journey)
	var token []byte
	n := 0
	for {
		page, err := g.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return n, fmt.Errorf("list the runs of %s: %w", journey, err)
		}
		for _, ex := range page.GetExecutions() {
			err := g.Temporal.SignalWorkflow(ctx, ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId(), workflows.SignalJourneyResumed, nil)
			var gone *serviceerror.NotFound
			switch {
			case err == nil:
				n++
			case errors.As(err, &gone):
				// It ended meanwhile.
			default:
				return n, fmt.Errorf("signal %s: %w", ex.GetExecution().GetWorkflowId(), err)
			}
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			return n, nil
		}
	}
}
