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
	if _, err := g.setPaused(c.Request.Context(), name, true, body.Reason, "admin"); err != nil {
		g.serverError(c, "pause the journey", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"journey": name, "paused": true, "reason": body.Reason})
}

func (g *Gateway) resumeJourney(c *gin.Context) {
	name, ok := journeyName(c)
	if !ok {
		return
	}
	signalled, err := g.setPaused(c.Request.Context(), name, false, "", "admin")
	var notTold *signalError
	body := gin.H{"journey": name, "paused": false, "signalled": signalled}
	switch {
	case errors.As(err, &notTold):
		// Resumed all the same: runs the signal missed check within the hour.
		body["signal_error"] = err.Error()
	case err != nil:
		g.serverError(c, "resume the journey", err)
		return
	}
	c.JSON(http.StatusOK, body)
}

// signalError says a resume could not tell every run; it is resumed.
type signalError struct{ err error }

func (e *signalError) Error() string { return e.err.Error() }
func (e *signalError) Unwrap() error { return e.err }

// setPaused pauses or resumes a journey for whoever asked (by), and on a
// resume signals its running runs, returning how many. A *signalError
// means the resume stands but not every run was told.
func (g *Gateway) setPaused(ctx context.Context, name string, pause bool, reason, by string) (int, error) {
	if err := g.Store.SetJourneyPaused(ctx, name, pause, reason, by, time.Now()); err != nil {
		return 0, err
	}
	if pause {
		g.log().Warn("journey paused", "journey", name, "by", by, "reason", reason)
		return 0, nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resumeSignalTime)
	defer cancel()
	n, err := g.signalRuns(sctx, name)
	g.log().Warn("journey resumed", "journey", name, "by", by, "signalled", n, "error", err)
	if err != nil {
		return n, &signalError{err: err}
	}
	return n, nil
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
