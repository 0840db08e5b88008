package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rebalance: in each ad account, take a share of the budget of the worst
// performers and give it to the best, as one plan: every change of it is
// made, or none (a cut that pays for a raise must not be dropped alone).
// The money moved never raises the account's total, and when
// AccountDailyCap is set the total after stays within it.
func init() {
	registerAdRule(AdRule{
		Name:        "rebalance",
		Version:     1,
		Description: "Move 20% of the budget of the 2 worst campaigns or ad sets of an account (ROAS below 1.5 over 7 settled days) to its 2 best (ROAS above 2.5).",
		Defaults: AdRuleSettings{
			Days: 7, Settle: 3 * time.Hour, Levels: []string{"campaign", "adset"},
			MinSpend: Dollars(50), MinImpressions: 1000,
			ROASBelow: 1.5, ROASAbove: 2.5, BudgetStep: 0.2, Movers: 2,
			Cooldown: 24 * time.Hour, MaxActionsDay: 10,
			BudgetFloor: Dollars(5), BudgetCeiling: Dollars(1000), MaxBudgetChange: 0.3,
		},
		Decide: rebalance,
	})
}

func rebalance(s AdRuleSettings, in AdRuleInput) []AdProposal {
	var out []AdProposal
	for _, pool := range adAccountPools(in) {
		out = append(out, rebalanceAccount(s, pool, in.Budgets(pool[0].Object.Platform, pool[0].Object.Account))...)
	}
	return out
}

// rebalanceAccount plans one account's moves; total is the sum of its
// daily budgets now.
func rebalanceAccount(s AdRuleSettings, pool []AdCandidate, total int64) []AdProposal {
	slices.SortStableFunc(pool, func(a, b AdCandidate) int {
		if c := cmpFloat(a.Window.ROAS(), b.Window.ROAS()); c != 0 {
			return c
		}
		return strings.Compare(a.Object.ID, b.Object.ID)
	})
	var donors, takers []AdCandidate
	for _, c := range pool {
		if c.Window.ROAS() < s.ROASBelow && len(donors) < s.Movers {
			donors = append(donors, c)
		}
	}
	for i := len(pool) - 1; i >= 0 && len(takers) < s.Movers; i-- {
		if c := pool[i]; c.Window.ROAS() > s.ROASAbove {
			takers = append(takers, c)
		}
	}
	if len(donors) == 0 || len(takers) == 0 {
		return nil
	}
	plan := "rebalance/" + pool[0].Object.Platform + "/" + pool[0].Object.Account
	var cuts, raises []AdProposal
	var freed int64
	for _, c := range donors {
		o := c.Object
		unit := adUnit(o)
		after := o.DailyBudget - int64(float64(o.DailyBudget)*min(s.BudgetStep, adMaxChange(s)))
		after = max(after, s.BudgetFloor)
		after = (after + unit - 1) / unit * unit // up, so the cut is whole units
		if after >= o.DailyBudget {
			continue
		}
		freed += o.DailyBudget - after
		cuts = append(cuts, AdProposal{Object: o, Action: AdActionSetBudget, Budget: after, Plan: plan,
			Figures: AdFigureSet{Window: c.Window, ROAS: c.Window.ROAS()}})
	}
	room := freed
	if s.AccountDailyCap > 0 {
		room = max(0, min(freed, s.AccountDailyCap-(total-freed)))
	}
	share := room / int64(len(takers))
	for _, c := range takers {
		o := c.Object
		unit := adUnit(o)
		raise := min(share, int64(float64(o.DailyBudget)*adMaxChange(s)))
		after := o.DailyBudget + raise
		if s.BudgetCeiling > 0 {
			after = min(after, s.BudgetCeiling)
		}
		after -= after % unit
		if after <= o.DailyBudget {
			continue
		}
		raises = append(raises, AdProposal{Object: o, Action: AdActionSetBudget, Budget: after, Plan: plan,
			Figures: AdFigureSet{Window: c.Window, ROAS: c.Window.ROAS()}})
	}
	if len(cuts) == 0 || len(raises) == 0 {
		return nil
	}
	ids := func(ps []AdProposal) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Object.ID)
		}
		return strings.Join(out, ", ")
	}
	for i := range cuts {
		w := cuts[i].Figures.Window
		cuts[i].Reason = fmt.Sprintf("ROAS %.2f over %s..%s is below %.2f: budget to %s for %s", cuts[i].Figures.ROAS, w.From, w.To,
			s.ROASBelow, adMoney(cuts[i].Budget), ids(raises))
	}
	for i := range raises {
		w := raises[i].Figures.Window
		raises[i].Reason = fmt.Sprintf("ROAS %.2f over %s..%s is above %.2f: budget to %s from %s", raises[i].Figures.ROAS, w.From, w.To,
			s.ROASAbove, adMoney(raises[i].Budget), ids(cuts))
	}
	return append(cuts, raises...)
}

// adAccountPools groups the candidates with a daily budget by account, in
// the order the accounts first appear.
func adAccountPools(in AdRuleInput) [][]AdCandidate {
	var pools [][]AdCandidate
	index := map[string]int{}
	for _, c := range in.Objects {
		if c.Object.DailyBudget <= 0 {
			continue
		}
		k := c.Object.Platform + "/" + c.Object.Account
		i, ok := index[k]
		if !ok {
			i = len(pools)
			index[k] = i
			pools = append(pools, nil)
		}
		pools[i] = append(pools[i], c)
	}
	return pools
}

func adUnit(o AdObjectFigures) int64 {
	if o.BudgetUnit > 0 {
		return o.BudgetUnit
	}
	return 10_000
}

func adMaxChange(s AdRuleSettings) float64 {
	if s.MaxBudgetChange > 0 {
		return s.MaxBudgetChange
	}
	return 1
}
