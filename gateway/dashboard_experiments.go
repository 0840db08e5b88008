package gateway

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/experiments"
)

type experimentsPage struct {
	dashPage
	MinSample   int64
	Experiments []experimentCard
}

type experimentCard struct {
	*experimentResults
	Rows []experimentRow
}

// experimentRow is one arm as the page writes it; the figures are
// formatted here, as the page's functions know rates but not lifts.
type experimentRow struct {
	experiments.ArmResult
	Weight         int
	Lift, CI, P    string
	Leader, Winner bool
	PromotedWinner bool
}

// dashboardExperiments shows every experiment's arms, lifts and verdict.
// The figures count every contact ever assigned, whatever the period.
func (g *Gateway) dashboardExperiments(c *gin.Context) {
	d, ok := g.dashPeriod(c, "Experiments", "experiments")
	if !ok {
		return
	}
	n, ok := minSample(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	all, err := g.Store.Experiments(ctx)
	if err != nil {
		g.serverError(c, "read the experiments", err)
		return
	}
	p := experimentsPage{dashPage: d, MinSample: n}
	for i := range all {
		res, err := g.experimentResults(ctx, &all[i], n)
		if err != nil {
			g.serverError(c, "count the experiments", err)
			return
		}
		card := experimentCard{experimentResults: res}
		for _, a := range res.Arms {
			row := experimentRow{ArmResult: a, Weight: res.Weights[a.Arm], Lift: "—", CI: "—", P: "—", Leader: a.Arm == res.Leader,
				Winner: res.Winner != nil && *res.Winner == a.Arm, PromotedWinner: res.PromotedWinner != nil && *res.PromotedWinner == a.Arm}
			if l := a.Lift; l != nil {
				row.Lift = points(l.Absolute)
				if l.Relative != nil {
					row.Lift += " (" + signed(*l.Relative*100) + "%)"
				}
				row.CI = points(l.Low) + " to " + points(l.High)
			}
			if a.PValue != nil {
				row.P = strconv.FormatFloat(*a.PValue, 'f', 3, 64)
			}
			card.Rows = append(card.Rows, row)
		}
		p.Experiments = append(p.Experiments, card)
	}
	g.page(c, http.StatusOK, "dashboard_experiments.html", p)
}

// points writes a difference of rates in percentage points: +2.4 pts.
func points(v float64) string { return signed(v*100) + " pts" }

func signed(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if v >= 0 {
		s = "+" + s
	}
	return s
}
