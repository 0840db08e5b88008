package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Ad rules are Go values like journeys: each file registers one AdRule,
// whose Decide looks at figures and proposes changes. Everything a rule
// must not get wrong on its own (minimum data, the settle window,
// cooldowns, daily caps, budget limits, conflicts with other rules) is
// applied around Decide by planAdRules, the same for every rule.

// Ad actions: what a decision does to a campaign or an ad set.
const (
	AdActionPause     = "pause"
	AdActionEnable    = "enable" // only an undo of a pause
	AdActionSetBudget = "set_budget"
)

// Ad action outcomes, as the audit log (ad_actions) records them.
const (
	AdOutcomeDryRun   = "dry_run"  // recorded, not applied (checked with validate-only where the platform has it)
	AdOutcomeApplied  = "applied"  // applied in apply mode
	AdOutcomeApproved = "approved" // applied after an Approve click
	AdOutcomeRejected = "rejected" // a Reject click: nothing done
	AdOutcomeExpired  = "expired"  // nobody answered in time: nothing done
	AdOutcomeFailed   = "failed"   // the platform refused, or could not be reached
	AdOutcomeConflict = "conflict" // another rule's safer action on the object won
	AdOutcomeUndone   = "undone"   // applied, then reversed by an undo (UndoOf on the undo's row)
	AdOutcomePending  = "pending"  // waiting for an approval
)

// Platforms and their statuses, as the pull stores them (models.AdObject).
const (
	AdPlatformMeta   = "meta"
	AdPlatformGoogle = "google"
)

// SlackActionAdApprove and SlackActionAdReject are the action_ids of an
// approval request's buttons; each button's value is the ad_actions row ID
// in decimal, which the gateway signals back as AdApproval.ActionID.
const (
	SlackActionAdApprove = "ad_approve"
	SlackActionAdReject  = "ad_reject"
)

// AdRule is one rule: what it is, its settings, and its decision.
type AdRule struct {
	Name string
	// Version goes on every audit row, so a change in a rule's logic shows
	// which decisions it made. Bump it when Decide changes.
	Version     int
	Description string
	Defaults    AdRuleSettings
	// Urgent rules act at once in approve mode too, and tell Slack: a
	// spend spike at 2 AM cannot wait for a click.
	Urgent bool
	// Decide proposes changes from the figures. It is pure: no clock but
	// in.Now, no I/O, and its output order is its priority (the daily cap
	// keeps the first).
	Decide func(s AdRuleSettings, in AdRuleInput) []AdProposal
}

// AdRuleSettings are one rule's thresholds and guards. Money is in micros
// of the account currency; 0 turns a minimum, a ceiling or a cap off.
type AdRuleSettings struct {
	// Days is the window the rule reads: the last Days settled days.
	Days int `json:"days"`
	// Settle leaves out the most recent hours, whose conversions are not
	// all reported yet. Figures come as whole days, so it works in days: a
	// day counts once it ended at least Settle ago, on the ad account's
	// clock. With a 3-hour settle at 02:00, yesterday ended 2 hours ago and
	// is left out, so a 3-day window is the three days before yesterday;
	// from 03:00 it is yesterday and the two days before. Today never
	// counts in a window (it has not ended); the spend spike rule reads it
	// separately.
	Settle time.Duration `json:"settle"`
	// Levels the rule acts on: campaign, adset.
	Levels []string `json:"levels"`

	// Minimum data over the window, below which the rule says nothing.
	MinSpend       int64   `json:"min_spend"`
	MinConversions float64 `json:"min_conversions"`
	MinImpressions int64   `json:"min_impressions"`
	MinDays        int     `json:"min_days"` // days in the window with figures

	// Thresholds: what each rule compares with (see the rule's file).
	ROASBelow   float64 `json:"roas_below,omitempty"`
	ROASAbove   float64 `json:"roas_above,omitempty"`
	BudgetStep  float64 `json:"budget_step,omitempty"`  // a budget change as a fraction: 0.2 is 20%
	SpikeFactor float64 `json:"spike_factor,omitempty"` // today's spend over the average day
	// Movers is how many of the worst and of the best a rebalance takes.
	Movers int `json:"movers,omitempty"`
	// AccountDailyCap bounds the sum of an account's daily budgets after
	// a rebalance.
	AccountDailyCap int64 `json:"account_daily_cap,omitempty"`

	// Guards.
	Cooldown        time.Duration `json:"cooldown"`          // per object and action, from the audit log
	MaxActionsDay   int           `json:"max_actions_day"`   // per ad account and day (the account's day)
	BudgetFloor     int64         `json:"budget_floor"`      // no budget set below
	BudgetCeiling   int64         `json:"budget_ceiling"`    // no budget set above
	MaxBudgetChange float64       `json:"max_budget_change"` // per step, as a fraction of the budget
}

// Dollars is an amount in micros, for writing settings: Dollars(50) is $50
// (or 50 of the account's currency).
func Dollars(n float64) int64 { return int64(n * 1e6) }

// Check says what is wrong with settings, naming the field.
func (s AdRuleSettings) Check() error {
	var errs []string
	bad := func(f string, args ...any) { errs = append(errs, fmt.Sprintf(f, args...)) }
	if s.Days < 1 {
		bad("days %d: want at least 1", s.Days)
	}
	if s.Settle < 0 {
		bad("settle %s is negative", s.Settle)
	}
	if s.Cooldown < 0 {
		bad("cooldown %s is negative", s.Cooldown)
	}
	if s.MinDays > s.Days {
		bad("min_days %d is more than days %d", s.MinDays, s.Days)
	}
	if s.MaxBudgetChange < 0 || s.MaxBudgetChange > 1 {
		bad("max_budget_change %v: want a fraction between 0 and 1", s.MaxBudgetChange)
	}
	if s.BudgetStep < 0 || s.BudgetStep > 1 {
		bad("budget_step %v: want a fraction between 0 and 1", s.BudgetStep)
	}
	if s.BudgetCeiling > 0 && s.BudgetFloor > s.BudgetCeiling {
		bad("budget_floor %d is above budget_ceiling %d", s.BudgetFloor, s.BudgetCeiling)
	}
	for _, l := range s.Levels {
		if l != "campaign" && l != "adset" {
			bad("level %q: want campaign or adset", l)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

var adRules []AdRule

func registerAdRule(r AdRule) {
	if _, ok := LookupAdRule(r.Name); ok {
		panic("ad rule registered twice: " + r.Name)
	}
	if !slices.Contains(AdRuleNames, r.Name) {
		panic("ad rule " + r.Name + " is not in AdRuleNames")
	}
	if err := r.Defaults.Check(); err != nil {
		panic("ad rule " + r.Name + ": " + err.Error())
	}
	adRules = append(adRules, r)
}

// AdRules lists every rule in AdRuleNames order.
func AdRules() []AdRule {
	out := slices.Clone(adRules)
	slices.SortFunc(out, func(a, b AdRule) int {
		return slices.Index(AdRuleNames, a.Name) - slices.Index(AdRuleNames, b.Name)
	})
	return out
}

// LookupAdRule finds a rule by name.
func LookupAdRule(name string) (AdRule, bool) {
	for _, r := range adRules {
		if r.Name == name {
			return r, true
		}
	}
	return AdRule{}, false
}

// AdFigures are what one evaluation reads (ReadAdFiguresActivity).
type AdFigures struct {
	Accounts []AdAccountClock `json:"accounts"`
	// Objects are the active campaigns and ad sets, by platform and ID.
	Objects []AdObjectFigures `json:"objects"`
	// Last is the latest counted action per object and action since the
	// longest cooldown began.
	Last []AdLastAction `json:"last"`
	// Counts are the counted actions per rule and account since the
	// account's day began.
	Counts []AdActionCount `json:"counts"`
}

// AdAccountClock is an ad account's day: the date its figures call today,
// and the moment that day began.
type AdAccountClock struct {
	Platform   string    `json:"platform"`
	Account    string    `json:"account"`
	Today      string    `json:"today"` // YYYY-MM-DD
	TodayStart time.Time `json:"today_start"`
}

// AdObjectFigures is a campaign or an ad set now, and its recent days.
type AdObjectFigures struct {
	Platform    string `json:"platform"`
	Account     string `json:"account"`
	ID          string `json:"id"`
	Level       string `json:"level"`
	CampaignID  string `json:"campaign_id,omitempty"`
	Name        string `json:"name"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
	DailyBudget int64  `json:"daily_budget"` // micros; 0 when set elsewhere
	BudgetID    string `json:"budget_id,omitempty"`
	// BudgetUnit is the smallest budget step in micros (a cent: 10,000).
	BudgetUnit int64   `json:"budget_unit"`
	Days       []AdDay `json:"days"` // oldest first
}

// AdDay is one object's day.
type AdDay struct {
	Day         string  `json:"day"`
	Spend       int64   `json:"spend"`
	Value       int64   `json:"value"`
	Impressions int64   `json:"impressions"`
	Clicks      int64   `json:"clicks"`
	Conversions float64 `json:"conversions"`
}

// AdLastAction is when an object last had an action.
type AdLastAction struct {
	Platform string    `json:"platform"`
	ObjectID string    `json:"object_id"`
	Action   string    `json:"action"`
	At       time.Time `json:"at"`
}

// AdActionCount is how many actions a rule took on an account today.
type AdActionCount struct {
	Rule     string `json:"rule"`
	Platform string `json:"platform"`
	Account  string `json:"account"`
	Count    int    `json:"count"`
}

// AdRuleInput is what Decide sees: the objects on the levels the rule acts
// on that have the minimum data, each with its window and today.
type AdRuleInput struct {
	Now     time.Time
	Objects []AdCandidate
	// Pool is every active object on the rule's levels, enough data or
	// not: what an account's budgets add up to.
	Pool []AdObjectFigures
}

// Budgets adds up the daily budgets of an account's objects in the pool.
func (in AdRuleInput) Budgets(platform, account string) int64 {
	var total int64
	for _, o := range in.Pool {
		if o.Platform == platform && o.Account == account {
			total += o.DailyBudget
		}
	}
	return total
}

// AdCandidate is one object with the totals a rule decides on.
type AdCandidate struct {
	Object AdObjectFigures
	Window AdTotals // the settled window
	Today  AdTotals // the account's today so far
}

// AdTotals add up days.
type AdTotals struct {
	From        string  `json:"from,omitempty"`
	To          string  `json:"to,omitempty"`
	Days        int     `json:"days"` // days with figures
	Spend       int64   `json:"spend"`
	Value       int64   `json:"value"`
	Impressions int64   `json:"impressions"`
	Clicks      int64   `json:"clicks"`
	Conversions float64 `json:"conversions"`
}

// ROAS is value over spend; 0 without spend.
func (t AdTotals) ROAS() float64 {
	if t.Spend <= 0 {
		return 0
	}
	return float64(t.Value) / float64(t.Spend)
}

// AdFigureSet is what a decision was made on, for its audit row.
type AdFigureSet struct {
	Window     AdTotals  `json:"window"`
	ROAS       float64   `json:"roas"`
	Today      *AdTotals `json:"today,omitempty"`
	AverageDay int64     `json:"average_day_spend,omitempty"`
}

// AdProposal is a change a rule's Decide asks for.
type AdProposal struct {
	Object  AdObjectFigures
	Action  string // AdActionPause or AdActionSetBudget
	Budget  int64  // the new daily budget, for AdActionSetBudget
	Reason  string
	Figures AdFigureSet
	// Plan groups proposals that stand or fall together (a rebalance).
	Plan string
}

// AdDecision is one decision of an evaluation: its audit row and what
// became of it. It is what the API returns.
type AdDecision struct {
	ID           uint64      `json:"id"` // the ad_actions row
	Key          string      `json:"key"`
	Rule         string      `json:"rule"`
	RuleVersion  int         `json:"rule_version"`
	Platform     string      `json:"platform"`
	Account      string      `json:"account"`
	ObjectID     string      `json:"object_id"`
	Level        string      `json:"level"`
	ObjectName   string      `json:"object_name"`
	BudgetID     string      `json:"budget_id,omitempty"`
	Currency     string      `json:"currency,omitempty"`
	Action       string      `json:"action"`
	StatusBefore string      `json:"status_before,omitempty"`
	StatusAfter  string      `json:"status_after,omitempty"`
	BudgetBefore int64       `json:"budget_before,omitempty"`
	BudgetAfter  int64       `json:"budget_after,omitempty"`
	Reason       string      `json:"reason"`
	Figures      AdFigureSet `json:"figures"`
	Plan         string      `json:"plan,omitempty"`
	Mode         string      `json:"mode"`
	Outcome      string      `json:"outcome"`
	Response     string      `json:"response,omitempty"`
	DecidedBy    string      `json:"decided_by,omitempty"`
	// ConflictWith is the winning decision of a conflict this one lost
	// (its row ID once recorded; its key before).
	ConflictWith    uint64 `json:"conflict_with,omitempty"`
	ConflictWithKey string `json:"conflict_with_key,omitempty"`
	UndoOf          uint64 `json:"undo_of,omitempty"`
	// UndoneAt and UndoneBy: when an undo reversed it, and the undo's row.
	UndoneAt *time.Time `json:"undone_at,omitempty"`
	UndoneBy uint64     `json:"undone_by,omitempty"`
	// WorkflowID and RunID are the run that decided it, which an approval
	// is signalled to.
	WorkflowID string `json:"workflow_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
}

// AdSkip is a proposal a guard held back. It is no audit row (nothing was
// decided); the run's result lists it so a person sees why nothing
// happened.
type AdSkip struct {
	Rule     string `json:"rule"`
	Platform string `json:"platform"`
	ObjectID string `json:"object_id"`
	Action   string `json:"action,omitempty"`
	Reason   string `json:"reason"`
}

// AdPlan is what planAdRules decided.
type AdPlan struct {
	Decisions []AdDecision // winners first, in rule order; then conflicts
	Skipped   []AdSkip
}

// adRuleRun is one rule with the settings it runs with.
type adRuleRun struct {
	rule     AdRule
	settings AdRuleSettings
}

// planAdRules decides, in pure code, what the rules do with the figures
// at now: each rule's proposals, held to its guards, then conflicts
// between rules settled. Decisions come out without mode, outcome or
// keys; the workflow adds them.
func planAdRules(now time.Time, runs []adRuleRun, f AdFigures) AdPlan {
	clocks := map[string]AdAccountClock{}
	for _, c := range f.Accounts {
		clocks[c.Platform+"/"+c.Account] = c
	}
	last := map[string]time.Time{}
	for _, l := range f.Last {
		k := l.Platform + "/" + l.ObjectID + "/" + l.Action
		if l.At.After(last[k]) {
			last[k] = l.At
		}
	}
	counts := map[string]int{}
	for _, c := range f.Counts {
		counts[c.Rule+"/"+c.Platform+"/"+c.Account] += c.Count
	}
	// A Google budget shared by several campaigns would change for all of
	// them; no rule changes one.
	sharedBudget := map[string]int{}
	for _, o := range f.Objects {
		if o.Platform == AdPlatformGoogle && o.BudgetID != "" {
			sharedBudget[o.BudgetID]++
		}
	}

	var plan AdPlan
	var proposed []AdDecision
	for _, run := range runs {
		r, s := run.rule, run.settings
		in := AdRuleInput{Now: now}
		for _, o := range f.Objects {
			if !slices.Contains(s.Levels, o.Level) {
				continue
			}
			clock, ok := clocks[o.Platform+"/"+o.Account]
			if !ok {
				continue
			}
			in.Pool = append(in.Pool, o)
			c := AdCandidate{Object: o, Window: adWindow(o.Days, clock, now, s), Today: adToday(o.Days, clock)}
			if why := adMinimum(c.Window, s); why != "" {
				plan.Skipped = append(plan.Skipped, AdSkip{Rule: r.Name, Platform: o.Platform, ObjectID: o.ID, Reason: why})
				continue
			}
			in.Objects = append(in.Objects, c)
		}
		taken := map[string]int{} // this run's actions per account
		var kept []AdDecision
		dropped := map[string]string{} // plan → why a member was held back
		for _, p := range r.Decide(s, in) {
			d, why := adGuard(r, s, p, now, last)
			if why == "" && d.Action == AdActionSetBudget && d.Platform == AdPlatformGoogle && sharedBudget[d.BudgetID] > 1 {
				why = fmt.Sprintf("its budget %s is shared with other campaigns", d.BudgetID)
			}
			acct := d.Platform + "/" + d.Account
			if why == "" && s.MaxActionsDay > 0 && counts[r.Name+"/"+acct]+taken[acct] >= s.MaxActionsDay {
				why = fmt.Sprintf("the rule took %d actions on account %s today, its daily cap", s.MaxActionsDay, d.Account)
			}
			if why != "" {
				plan.Skipped = append(plan.Skipped, AdSkip{Rule: r.Name, Platform: p.Object.Platform, ObjectID: p.Object.ID, Action: p.Action, Reason: why})
				if p.Plan != "" && dropped[p.Plan] == "" {
					dropped[p.Plan] = fmt.Sprintf("%s %s: %s", p.Object.Level, p.Object.ID, why)
				}
				continue
			}
			taken[acct]++
			kept = append(kept, d)
		}
		// A plan stands or falls whole: money taken from one object pays
		// for another.
		for _, d := range kept {
			if why := dropped[d.Plan]; d.Plan != "" && why != "" {
				plan.Skipped = append(plan.Skipped, AdSkip{Rule: r.Name, Platform: d.Platform, ObjectID: d.ObjectID, Action: d.Action,
					Reason: "its plan " + d.Plan + " was held back (" + why + ")"})
				continue
			}
			proposed = append(proposed, d)
		}
	}
	plan.Decisions = adResolveConflicts(proposed)
	return plan
}

// adWindow adds up the last s.Days settled days (see Settle).
func adWindow(days []AdDay, clock AdAccountClock, now time.Time, s AdRuleSettings) AdTotals {
	today, err := time.Parse(time.DateOnly, clock.Today)
	if err != nil {
		return AdTotals{}
	}
	// Yesterday ended when today began; each day before, a day earlier.
	last, end := today.AddDate(0, 0, -1), clock.TodayStart
	for end.Add(s.Settle).After(now) {
		last, end = last.AddDate(0, 0, -1), end.Add(-Day)
	}
	first := last.AddDate(0, 0, -(s.Days - 1))
	t := AdTotals{From: first.Format(time.DateOnly), To: last.Format(time.DateOnly)}
	for _, d := range days {
		if d.Day < t.From || d.Day > t.To {
			continue
		}
		t.add(d)
	}
	return t
}

func adToday(days []AdDay, clock AdAccountClock) AdTotals {
	t := AdTotals{From: clock.Today, To: clock.Today}
	for _, d := range days {
		if d.Day == clock.Today {
			t.add(d)
		}
	}
	return t
}

func (t *AdTotals) add(d AdDay) {
	t.Days++
	t.Spend += d.Spend
	t.Value += d.Value
	t.Impressions += d.Impressions
	t.Clicks += d.Clicks
	t.Conversions += d.Conversions
}

// adMinimum says why a window has too little data, or "".
func adMinimum(w AdTotals, s AdRuleSettings) string {
	switch {
	case w.Days < s.MinDays:
		return fmt.Sprintf("too little data: %d days with figures in %s..%s, the rule needs %d", w.Days, w.From, w.To, s.MinDays)
	case w.Spend < s.MinSpend:
		return fmt.Sprintf("too little data: %s spent in %s..%s, the rule needs %s", adMoney(w.Spend), w.From, w.To, adMoney(s.MinSpend))
	case w.Conversions < s.MinConversions:
		return fmt.Sprintf("too little data: %g conversions in %s..%s, the rule needs %g", w.Conversions, w.From, w.To, s.MinConversions)
	case w.Impressions < s.MinImpressions:
		return fmt.Sprintf("too little data: %d impressions in %s..%s, the rule needs %d", w.Impressions, w.From, w.To, s.MinImpressions)
	}
	return ""
}

// adGuard turns a proposal into a decision within the rule's budget limits
// and cooldown, or says why not.
func adGuard(r AdRule, s AdRuleSettings, p AdProposal, now time.Time, last map[string]time.Time) (AdDecision, string) {
	o := p.Object
	d := AdDecision{
		Rule: r.Name, RuleVersion: r.Version, Platform: o.Platform, Account: o.Account, ObjectID: o.ID, Level: o.Level,
		ObjectName: o.Name, BudgetID: o.BudgetID, Currency: o.Currency, Action: p.Action, Reason: p.Reason,
		Figures: p.Figures, Plan: p.Plan,
	}
	switch p.Action {
	case AdActionPause:
		d.StatusBefore, d.StatusAfter = o.Status, "PAUSED"
	case AdActionSetBudget:
		before := o.DailyBudget
		if before <= 0 {
			return d, "its budget is set elsewhere (on the campaign, or as a lifetime budget)"
		}
		after, why := adLimitBudget(before, p.Budget, o.BudgetUnit, s)
		if why != "" {
			return d, why
		}
		d.BudgetBefore, d.BudgetAfter = before, after
	default:
		return d, fmt.Sprintf("unknown action %q", p.Action)
	}
	if at, ok := last[o.Platform+"/"+o.ID+"/"+p.Action]; ok && s.Cooldown > 0 && now.Before(at.Add(s.Cooldown)) {
		return d, fmt.Sprintf("cooling down: last %s at %s, the cooldown is %s", p.Action, at.UTC().Format(time.RFC3339), s.Cooldown)
	}
	return d, ""
}

// adLimitBudget holds a new budget to the maximum change per step, the
// floor and the ceiling, rounded down to the currency's smallest unit. A
// limit never turns an increase into a decrease or the other way round.
func adLimitBudget(before, want, unit int64, s AdRuleSettings) (int64, string) {
	if unit <= 0 {
		unit = 10_000
	}
	after := want
	if s.MaxBudgetChange > 0 {
		step := int64(float64(before) * s.MaxBudgetChange)
		after = max(min(after, before+step), before-step)
	}
	switch {
	case after > before && s.BudgetCeiling > 0:
		after = min(after, s.BudgetCeiling)
	case after < before:
		after = max(after, s.BudgetFloor)
	}
	after -= after % unit
	switch {
	case want > before && after <= before:
		return 0, fmt.Sprintf("the budget %s is at the ceiling %s", adMoney(before), adMoney(s.BudgetCeiling))
	case want < before && after >= before:
		return 0, fmt.Sprintf("the budget %s is at the floor %s", adMoney(before), adMoney(s.BudgetFloor))
	case after == before:
		return 0, "the budget would not change"
	}
	return after, ""
}

// adSafety ranks actions: the lowest wins a conflict. Pausing stops the
// spend, a smaller budget lowers it, a larger one raises it.
func adSafety(d AdDecision) (rank int, amount int64) {
	switch {
	case d.Action == AdActionPause:
		return 0, 0
	case d.BudgetAfter < d.BudgetBefore:
		return 1, d.BudgetAfter
	}
	return 2, d.BudgetAfter
}

// adResolveConflicts keeps, per object, the safest decision (ties: the
// smaller budget, then the earlier rule); the others become conflict
// decisions naming the winner. A plan with a member that lost loses whole,
// which may leave another decision it had beaten the winner: so it goes
// round until no more plans fall.
func adResolveConflicts(ds []AdDecision) []AdDecision {
	fallen := map[string]int{} // plan → the decision that beat one of its members
	var winner map[string]int  // object → index of its safest standing decision
	for {
		winner = map[string]int{}
		for i, d := range ds {
			if _, gone := fallen[d.Plan]; d.Plan != "" && gone {
				continue
			}
			k := d.Platform + "/" + d.ObjectID
			w, ok := winner[k]
			if !ok {
				winner[k] = i
				continue
			}
			ri, ai := adSafety(d)
			rw, aw := adSafety(ds[w])
			if ri < rw || ri == rw && ai < aw {
				winner[k] = i
			}
		}
		more := false
		for i, d := range ds {
			if _, gone := fallen[d.Plan]; d.Plan == "" || gone {
				continue
			}
			if w := winner[d.Platform+"/"+d.ObjectID]; w != i {
				fallen[d.Plan] = w
				more = true
			}
		}
		if !more {
			break
		}
	}
	var out, conflicts []AdDecision
	for i, d := range ds {
		w := winner[d.Platform+"/"+d.ObjectID]
		if by, gone := fallen[d.Plan]; d.Plan != "" && gone {
			w = by
		}
		if w == i {
			out = append(out, d)
			continue
		}
		win := ds[w]
		d.Outcome = AdOutcomeConflict
		d.ConflictWithKey = adObjectAction(win)
		d.Reason += fmt.Sprintf("; held back: %s's %s on %s %s is safer", win.Rule, adDescribe(win), win.Level, win.ObjectID)
		conflicts = append(conflicts, d)
	}
	return append(out, conflicts...)
}

// adObjectAction names a decision within an evaluation; its audit key adds
// the run.
func adObjectAction(d AdDecision) string {
	return d.Rule + "/" + d.Platform + "/" + d.ObjectID + "/" + d.Action
}

// adDescribe says what a decision does, such as "pause" or "budget 50.00 → 60.00".
func adDescribe(d AdDecision) string {
	switch d.Action {
	case AdActionSetBudget:
		return fmt.Sprintf("budget %s → %s", adMoney(d.BudgetBefore), adMoney(d.BudgetAfter))
	case AdActionEnable:
		return "enable"
	}
	return d.Action
}

// money writes micros as units with two decimals (cents rounded down).
func adMoney(m int64) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/1_000_000, m%1_000_000/10_000)
}
