package workflows

import (
	"fmt"
	"slices"
	"time"
)

// Pause low ROAS: a campaign that returned less than it cost over the last
// three settled days, once it has spent enough for that to mean something.
func init() {
	registerAdRule(AdRule{
		Name:        "pause_low_roas",
		Version:     1,
		Description: "Pause a campaign whose ROAS over the last 3 settled days is below 1.0, once it spent at least $50 in them.",
		Defaults: AdRuleSettings{
			Days: 3, Settle: 3 * time.Hour, Levels: []string{"campaign"},
			MinSpend:  Dollars(50),
			ROASBelow: 1.0,
			Cooldown:  24 * time.Hour, MaxActionsDay: 10, MaxBudgetChange: 0.3,
		},
		Decide: pauseLowROAS,
	})
}

func pauseLowROAS(s AdRuleSettings, in AdRuleInput) []AdProposal {
	var out []AdProposal
	for _, c := range in.Objects {
		roas := c.Window.ROAS()
		if roas >= s.ROASBelow {
			continue
		}
		out = append(out, AdProposal{
			Object: c.Object, Action: AdActionPause,
			Reason: fmt.Sprintf("ROAS %.2f over %s..%s is below %.2f (%s spent, %s back)",
				roas, c.Window.From, c.Window.To, s.ROASBelow, adMoney(c.Window.Spend), adMoney(c.Window.Value)),
			Figures: AdFigureSet{Window: c.Window, ROAS: roas},
		})
	}
	// The worst first: the daily cap keeps the biggest losers.
	slices.SortStableFunc(out, func(a, b AdProposal) int { return cmpFloat(a.Figures.ROAS, b.Figures.ROAS) })
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
