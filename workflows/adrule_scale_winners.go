package workflows

import (
	"fmt"
	"slices"
	"time"
)

// Scale winners: a budget that returns more than three times its cost over
// a week, on enough conversions to trust it, gets 20% more.
func init() {
	registerAdRule(AdRule{
		Name:        "scale_winners",
		Version:     1,
		Description: "Raise the daily budget by 20% where ROAS over the last 7 settled days is above 3, with at least 10 conversions.",
		Defaults: AdRuleSettings{
			Days: 7, Settle: 3 * time.Hour, Levels: []string{"campaign", "adset"},
			MinConversions: 10,
			ROASAbove:      3, BudgetStep: 0.2,
			Cooldown: 24 * time.Hour, MaxActionsDay: 5,
			BudgetFloor: Dollars(5), BudgetCeiling: Dollars(1000), MaxBudgetChange: 0.3,
		},
		Decide: scaleWinners,
	})
}

func scaleWinners(s AdRuleSettings, in AdRuleInput) []AdProposal {
	var out []AdProposal
	for _, c := range in.Objects {
		roas, budget := c.Window.ROAS(), c.Object.DailyBudget
		if roas <= s.ROASAbove || budget <= 0 {
			continue
		}
		out = append(out, AdProposal{
			Object: c.Object, Action: AdActionSetBudget,
			Budget: budget + int64(float64(budget)*s.BudgetStep),
			Reason: fmt.Sprintf("ROAS %.2f over %s..%s is above %.2f on %g conversions: budget +%.0f%%",
				roas, c.Window.From, c.Window.To, s.ROASAbove, c.Window.Conversions, s.BudgetStep*100),
			Figures: AdFigureSet{Window: c.Window, ROAS: roas},
		})
	}
	// The best first: the daily cap keeps the strongest winners.
	slices.SortStableFunc(out, func(a, b AdProposal) int { return cmpFloat(b.Figures.ROAS, a.Figures.ROAS) })
	return out
}
