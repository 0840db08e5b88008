package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/experiments"
	"github.com/nudgehq/nudge/models"
)

// experimentRoutes serve the results of A/B splits (workflows.Run.Split)
// and promote winners, with an admin key:
//
//	GET  /v1/experiments                 every experiment, with its results
//	GET  /v1/experiments/:name           one: per arm recipients, conversions,
//	                                     rates, revenue per recipient, lift vs
//	                                     the holdout (95% interval), winner
//	                                     (?min_sample=500)
//	POST /v1/experiments/:name/promote   {"arm": "…"}: later entrants get it
//
// and the dashboard's Experiments page. Experiments are known once a
// contact has reached them: their row is written then.
func (g *Gateway) experimentRoutes(admin *gin.RouterGroup, r *gin.Engine) {
	admin.GET("/experiments", g.listExperiments)
	admin.GET("/experiments/:name", g.getExperiment)
	admin.POST("/experiments/:name/promote", g.promoteExperiment)
	r.Group("/dashboard", g.requireDashboard).GET("/experiments", g.dashboardExperiments)
}

// experimentResults is what GET /v1/experiments/:name answers.
type experimentResults struct {
	Experiment string         `json:"experiment"`
	Journey    string         `json:"journey"`
	Weights    map[string]int `json:"weights"`
	experiments.Result
	PromotedWinner *string    `json:"promoted_winner"`
	PromotedAt     *time.Time `json:"promoted_at"`
	PromotedBy     string     `json:"promoted_by,omitempty"`
	// PromotedEntrants got the promoted winner rather than an arm at
	// random; the arms' figures leave them out.
	PromotedEntrants int64 `json:"promoted_entrants"`
}

func (g *Gateway) experimentResults(ctx context.Context, e *models.Experiment, minSample int64) (*experimentResults, error) {
	arms, promoted, err := g.Store.ExperimentCounts(ctx, e)
	if err != nil {
		return nil, err
	}
	out := &experimentResults{Experiment: e.Name, Journey: e.Journey, Weights: map[string]int{}, Result: experiments.Analyze(arms, minSample),
		PromotedAt: e.PromotedAt, PromotedBy: e.PromotedBy, PromotedEntrants: promoted}
	for _, a := range e.Arms {
		out.Weights[a.Name] = a.Weight
	}
	if e.Winner != "" {
		w := e.Winner
		out.PromotedWinner = &w
	}
	return out, nil
}

// minSample reads ?min_sample, a positive whole number (default 500).
func minSample(c *gin.Context) (int64, bool) {
	raw := c.Query("min_sample")
	if raw == "" {
		return experiments.DefaultMinSample, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		fail(c, http.StatusBadRequest, fmt.Sprintf("min_sample: want a positive whole number, got %q", clip(raw)))
		return 0, false
	}
	return n, true
}

// experiment finds the experiment the path names, answering 404 when there
// is none.
func (g *Gateway) experiment(c *gin.Context) (*models.Experiment, bool) {
	name := c.Param("name")
	e, err := g.Store.Experiment(c.Request.Context(), name)
	switch {
	case errors.Is(err, models.ErrNotFound):
		fail(c, http.StatusNotFound, fmt.Sprintf("no experiment %q: an experiment is listed once a contact has reached its split", clip(name)))
		return nil, false
	case err != nil:
		g.serverError(c, "read the experiment", err)
		return nil, false
	}
	return e, true
}

func (g *Gateway) getExperiment(c *gin.Context) {
	n, ok := minSample(c)
	if !ok {
		return
	}
	e, ok := g.experiment(c)
	if !ok {
		return
	}
	res, err := g.experimentResults(c.Request.Context(), e, n)
	if err != nil {
		g.serverError(c, "count the experiment", err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (g *Gateway) listExperiments(c *gin.Context) {
	n, ok := minSample(c)
	if !ok {
		return
	}
	all, err := g.Store.Experiments(c.Request.Context())
	if err != nil {
		g.serverError(c, "read the experiments", err)
		return
	}
	out := []*experimentResults{}
	for i := range all {
		res, err := g.experimentResults(c.Request.Context(), &all[i], n)
		if err != nil {
			g.serverError(c, "count the experiments", err)
			return
		}
		out = append(out, res)
	}
	c.JSON(http.StatusOK, gin.H{"experiments": out})
}

// promoteExperiment sends every contact who reaches the experiment from now
// on down the arm named; contacts already recorded keep theirs. It does not
// ask for a statistical winner: that is the reader's call, and the answer
// carries the verdict beside it.
func (g *Gateway) promoteExperiment(c *gin.Context) {
	var body struct {
		Arm string `json:"arm"`
	}
	if !readOptionalJSON(c, &body) {
		return
	}
	if strings.TrimSpace(body.Arm) == "" {
		fail(c, http.StatusBadRequest, `arm: name the variant to promote, as {"arm": "…"}`)
		return
	}
	if _, ok := g.experiment(c); !ok {
		return
	}
	e, err := g.Store.PromoteExperiment(c.Request.Context(), c.Param("name"), body.Arm, "admin", time.Now())
	switch {
	case errors.Is(err, models.ErrNotAnArm):
		fail(c, http.StatusBadRequest, "arm: "+strings.TrimPrefix(err.Error(), models.ErrNotAnArm.Error()+": "))
		return
	case errors.Is(err, models.ErrNotFound):
		fail(c, http.StatusNotFound, fmt.Sprintf("no experiment %q", clip(c.Param("name"))))
		return
	case err != nil:
		g.serverError(c, "promote the arm", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"experiment": e.Name, "promoted_winner": e.Winner, "promoted_at": e.PromotedAt, "promoted_by": e.PromotedBy})
}
