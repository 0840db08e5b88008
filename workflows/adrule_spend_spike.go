package workflows

import (
	"fmt"
	"slices"
	"time"
)

// Spend spike: a campaign that has spent today, at whatever hour, more than
// twice what it spends on an average day is paused at once and Slack is
// told: the 2 AM Saturday case. It is urgent, so approve mode does not wait
// for a click (an undo is one request away).
//
// Spend is reported without the delay conversions have, so the settle
// window is 0: the average is over the 7 days before today, as soon as
// today begins.
func init() {
	registerAdRule(AdRule{
		Name:        "spend_spike",
		Version:     1,
		Description: "Pause a campaign at once when today's spend is above 2x its average daily spend over the last 7 days.",
		Urgent:      true,
		Defaults: AdRuleSettings{
			Days: 7, Settle: 0, Levels: []string{"campaign"},
			MinSpend: Dollars(20), MinDays: 3,
			SpikeFactor: 2,
			Cooldown:    24 * time.Hour, MaxActionsDay: 20, MaxBudgetChange: 0.3,
		},
		Decide: spendSpike,
	})
}

func spendSpike(s AdRuleSettings, in AdRuleInput) []AdProposal {
	var out []AdProposal
	for _, c := range in.Objects {
		// The average over the days with figures: a campaign younger than
		// the window is not made to look cheap by days it did not run.
		avg := c.Window.Spend / int64(max(c.Window.Days, 1))
		if float64(c.Today.Spend) <= s.SpikeFactor*float64(avg) {
			continue
		}
		today := c.Today
		out = append(out, AdProposal{
			Object: c.Object, Action: AdActionPause,
			Reason: fmt.Sprintf("spent %s today (%s), more than %.1fx the average day of %s over %s..%s",
				adMoney(today.Spend), today.From, s.SpikeFactor, adMoney(avg), c.Window.From, c.Window.To),
			Figures: AdFigureSet{Window: c.Window, ROAS: c.Window.ROAS(), Today: &today, AverageDay: avg},
		})
	}
	// The largest overspend first.
	slices.SortStableFunc(out, func(a, b AdProposal) int {
		return cmpFloat(float64(b.Figures.Today.Spend)/float64(max(b.Figures.AverageDay, 1)),
			float64(a.Figures.Today.Spend)/float64(max(a.Figures.AverageDay, 1)))
	})
	return out
}
