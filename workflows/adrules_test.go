package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/nudgehq/nudge/workflows"
)

// adNow is when the evaluations run: Wednesday 10:00 on the account's clock
// (UTC), so with a 3-hour settle window yesterday counts.
var adNow = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// adWorld runs AdRuleWorkflow and AdUndoWorkflow on the test clock with
// stand-in activities that keep the audit log in memory.
type adWorld struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	figures workflows.AdFigures
	asked   workflows.AdFiguresRequest
	rows    []workflows.AdDecision // ID is index+1
	applies []workflows.AdApplyRequest
	refuse  map[string]string // object ID → the platform's refusal
	notices []workflows.AdNotice
	sets    []workflows.AdOutcomeRequest
	undone  []workflows.AdUndoMark
}

func newAdWorld(t *testing.T, start time.Time, objs ...workflows.AdObjectFigures) *adWorld {
	var suite testsuite.WorkflowTestSuite
	w := &adWorld{t: t, env: suite.NewTestWorkflowEnvironment(), refuse: map[string]string{}}
	w.env.SetStartTime(start)
	w.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "ad-rules/test"})
	day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	w.figures = workflows.AdFigures{
		Accounts: []workflows.AdAccountClock{
			{Platform: "meta", Account: "act_1", Today: day.Format(time.DateOnly), TodayStart: day},
			{Platform: "google", Account: "1234567890", Today: day.Format(time.DateOnly), TodayStart: day},
		},
		Objects: objs,
	}
	reg := func(name string, fn any) { w.env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(workflows.ReadAdFiguresActivity, func(_ context.Context, req workflows.AdFiguresRequest) (workflows.AdFigures, error) {
		w.asked = req
		return w.figures, nil
	})
	reg(workflows.RecordAdActionsActivity, func(_ context.Context, rec workflows.AdActionsRecord) ([]uint64, error) {
		var ids []uint64
		for _, d := range rec.Decisions {
			id := uint64(0)
			for _, r := range w.rows {
				if r.Key == d.Key {
					id = r.ID
				}
			}
			if id == 0 {
				d.ID, d.WorkflowID, d.RunID = uint64(len(w.rows)+1), rec.WorkflowID, rec.RunID
				w.rows = append(w.rows, d)
				id = d.ID
			}
			ids = append(ids, id)
		}
		return ids, nil
	})
	reg(workflows.ApplyAdActionActivity, func(_ context.Context, req workflows.AdApplyRequest) (workflows.AdApplyResult, error) {
		w.applies = append(w.applies, req)
		r := &w.rows[req.ID-1]
		if why, ok := w.refuse[r.ObjectID]; ok {
			r.Outcome, r.Response = workflows.AdOutcomeFailed, why
		} else {
			r.Outcome, r.Response = req.Outcome, "ok"
		}
		return workflows.AdApplyResult{Outcome: r.Outcome, Response: r.Response}, nil
	})
	reg(workflows.SetAdOutcomeActivity, func(_ context.Context, req workflows.AdOutcomeRequest) error {
		w.sets = append(w.sets, req)
		for _, id := range req.IDs {
			w.rows[id-1].Outcome = req.Outcome
		}
		return nil
	})
	reg(workflows.PostAdNoticeActivity, func(_ context.Context, n workflows.AdNotice) (workflows.SendResult, error) {
		w.notices = append(w.notices, n)
		return workflows.SendResult{Status: workflows.StatusRecorded}, nil
	})
	reg(workflows.ReadAdActionActivity, func(_ context.Context, id uint64) (workflows.AdDecision, error) {
		if id == 0 || int(id) > len(w.rows) {
			return workflows.AdDecision{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no ad action %d", id), "AdActionNotFound", nil)
		}
		return w.rows[id-1], nil
	})
	reg(workflows.MarkAdUndoneActivity, func(_ context.Context, m workflows.AdUndoMark) error {
		w.undone = append(w.undone, m)
		w.rows[m.ID-1].Outcome, w.rows[m.ID-1].UndoneBy = workflows.AdOutcomeUndone, m.UndoID
		return nil
	})
	return w
}

func (w *adWorld) run(req workflows.AdRuleRequest) (workflows.AdRuleResult, error) {
	w.t.Helper()
	w.env.ExecuteWorkflow(workflows.AdRuleWorkflow, req)
	if !w.env.IsWorkflowCompleted() {
		w.t.Fatal("the run did not complete")
	}
	if err := w.env.GetWorkflowError(); err != nil {
		return workflows.AdRuleResult{}, err
	}
	var res workflows.AdRuleResult
	if err := w.env.GetWorkflowResult(&res); err != nil {
		w.t.Fatal(err)
	}
	return res, nil
}

// metaCampaign is an active Meta campaign whose days from first to last
// (inclusive) each have spend and value (dollars), 1,000 impressions and
// conv conversions.
func metaCampaign(id string, budget float64, days ...workflows.AdDay) workflows.AdObjectFigures {
	return workflows.AdObjectFigures{Platform: "meta", Account: "act_1", ID: id, Level: "campaign", Name: "Campaign " + id,
		Currency: "USD", Status: "ACTIVE", DailyBudget: workflows.Dollars(budget), BudgetUnit: 10_000, Days: days}
}

func metaAdSet(id string, budget float64, days ...workflows.AdDay) workflows.AdObjectFigures {
	o := metaCampaign(id, budget, days...)
	o.Level, o.Name = "adset", "Ad set "+id
	return o
}

// adDays are the days from first to last, each the same.
func adDays(first, last string, spend, value, conversions float64) []workflows.AdDay {
	var out []workflows.AdDay
	d, _ := time.Parse(time.DateOnly, first)
	end, _ := time.Parse(time.DateOnly, last)
	for ; !d.After(end); d = d.AddDate(0, 0, 1) {
		out = append(out, workflows.AdDay{Day: d.Format(time.DateOnly), Spend: workflows.Dollars(spend), Value: workflows.Dollars(value),
			Impressions: 1000, Clicks: 50, Conversions: conversions})
	}
	return out
}

func ruleDefaults(t *testing.T, name string) workflows.AdRuleSettings {
	r, ok := workflows.LookupAdRule(name)
	if !ok {
		t.Fatalf("no rule %s", name)
	}
	return r.Defaults
}

func join(parts ...[]workflows.AdDay) []workflows.AdDay {
	var out []workflows.AdDay
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// brief is a decision as the tests compare it.
type brief struct {
	ID                uint64
	Rule, Object      string
	Action            string
	Before, After     string
	Outcome           string
	ConflictWith, Via uint64
}

func briefs(ds []workflows.AdDecision) []brief {
	var out []brief
	for _, d := range ds {
		b := brief{ID: d.ID, Rule: d.Rule, Object: d.ObjectID, Action: d.Action, Outcome: d.Outcome, ConflictWith: d.ConflictWith}
		if d.Action == workflows.AdActionSetBudget {
			b.Before, b.After = fmt.Sprint(d.BudgetBefore), fmt.Sprint(d.BudgetAfter)
		} else {
			b.Before, b.After = d.StatusBefore, d.StatusAfter
		}
		out = append(out, b)
	}
	return out
}

func wantBriefs(t *testing.T, got []workflows.AdDecision, want ...brief) {
	t.Helper()
	if g := briefs(got); !reflect.DeepEqual(g, want) {
		t.Errorf("decisions:\n got %+v\nwant %+v", g, want)
	}
}

func skipsOf(s []workflows.AdSkip) []string {
	var out []string
	for _, k := range s {
		out = append(out, k.Rule+" "+k.ObjectID+": "+k.Reason)
	}
	return out
}

// A dry run records the pause with its figures and checks it with the
// platform's validate-only option; a campaign under the minimum spend and
// one that pays are left alone. At 10:00 with a 3-hour settle, the window
// is yesterday and the two days before.
func TestAdRulePauseLowROASDryRun(t *testing.T) {
	w := newAdWorld(t, adNow,
		metaCampaign("10", 40, adDays("2026-02-24", "2026-03-04", 20, 10, 1)...),
		metaCampaign("11", 40, adDays("2026-02-24", "2026-03-04", 15, 5, 1)...),
		metaCampaign("12", 40, adDays("2026-02-24", "2026-03-04", 20, 24, 1)...),
	)
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions, brief{ID: 1, Rule: "pause_low_roas", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "dry_run"})
	d := res.Decisions[0]
	wantWindow := workflows.AdTotals{From: "2026-03-01", To: "2026-03-03", Days: 3, Spend: 60_000_000, Value: 30_000_000, Impressions: 3000, Clicks: 150, Conversions: 3}
	if d.Reason != "ROAS 0.50 over 2026-03-01..2026-03-03 is below 1.00 (60.00 spent, 30.00 back)" || d.Figures.Window != wantWindow ||
		d.Figures.ROAS != 0.5 || d.Mode != workflows.AdModeDryRun || d.RuleVersion != 1 || d.Account != "act_1" {
		t.Errorf("decision = %+v", d)
	}
	if want := []workflows.AdApplyRequest{{ID: 1, ValidateOnly: true, Outcome: workflows.AdOutcomeDryRun}}; !reflect.DeepEqual(w.applies, want) {
		t.Errorf("applies %+v, want %+v", w.applies, want)
	}
	if len(w.notices) != 0 {
		t.Errorf("a dry run posted %+v", w.notices)
	}
	if want := []string{"pause_low_roas 11: too little data: 45.00 spent in 2026-03-01..2026-03-03, the rule needs 50.00"}; !reflect.DeepEqual(skipsOf(res.Skipped), want) {
		t.Errorf("skipped %q, want %q", skipsOf(res.Skipped), want)
	}
	// The dry run's own decisions count for cooldowns and caps, so its log
	// shows what applying would have done over time.
	if w.asked.Days != 5 || !w.asked.Since.Equal(adNow.Add(-24*time.Hour)) || !strings.Contains(strings.Join(w.asked.Counted, ","), "dry_run") {
		t.Errorf("figures asked with %+v", w.asked)
	}
	if w.rows[0].WorkflowID != "ad-rules/test" || w.rows[0].RunID == "" || !strings.HasPrefix(w.rows[0].Key, w.rows[0].RunID+"/pause_low_roas/meta/10/pause") {
		t.Errorf("row = %+v", w.rows[0])
	}
}

// The settle window leaves out a day until it ended 3 hours ago: at 02:00
// yesterday's terrible day does not count yet; at 03:00 it does.
func TestAdRuleSettleWindow(t *testing.T) {
	days := join(adDays("2026-02-24", "2026-03-02", 20, 30, 1), adDays("2026-03-03", "2026-03-03", 60, 0, 0))
	for _, c := range []struct {
		at   time.Time
		want []brief
		from string
	}{
		{time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC), nil, "2026-02-28"},
		{time.Date(2026, 3, 4, 3, 0, 0, 0, time.UTC), []brief{{ID: 1, Rule: "pause_low_roas", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "applied"}}, "2026-03-01"},
	} {
		w := newAdWorld(t, c.at, metaCampaign("10", 40, days...))
		res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}, Mode: workflows.AdModeApply})
		if err != nil {
			t.Fatal(err)
		}
		wantBriefs(t, res.Decisions, c.want...)
		if c.want != nil && res.Decisions[0].Figures.Window.From != c.from {
			t.Errorf("at %s the window starts %s, want %s", c.at, res.Decisions[0].Figures.Window.From, c.from)
		}
	}
}

// An object acted on less than the cooldown ago is left alone; after it,
// it is acted on again.
func TestAdRuleCooldown(t *testing.T) {
	for _, c := range []struct {
		ago  time.Duration
		want []brief
		skip string
	}{
		{23 * time.Hour, nil, "pause_low_roas 10: cooling down: last pause at 2026-03-03T11:00:00Z, the cooldown is 24h0m0s"},
		{25 * time.Hour, []brief{{ID: 1, Rule: "pause_low_roas", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "applied"}}, ""},
	} {
		w := newAdWorld(t, adNow, metaCampaign("10", 40, adDays("2026-02-24", "2026-03-04", 20, 10, 1)...))
		w.figures.Last = []workflows.AdLastAction{{Platform: "meta", ObjectID: "10", Action: "pause", At: adNow.Add(-c.ago)}}
		res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}, Mode: workflows.AdModeApply})
		if err != nil {
			t.Fatal(err)
		}
		wantBriefs(t, res.Decisions, c.want...)
		if c.skip != "" && !reflect.DeepEqual(skipsOf(res.Skipped), []string{c.skip}) {
			t.Errorf("skipped %q, want %q", skipsOf(res.Skipped), c.skip)
		}
	}
}

// At most N actions per account and day, counting those taken earlier
// today: the worst ROAS goes first.
func TestAdRuleDailyCap(t *testing.T) {
	w := newAdWorld(t, adNow,
		metaCampaign("10", 40, adDays("2026-02-24", "2026-03-04", 20, 15, 1)...),
		metaCampaign("11", 40, adDays("2026-02-24", "2026-03-04", 20, 5, 1)...),
		metaCampaign("12", 40, adDays("2026-02-24", "2026-03-04", 20, 10, 1)...),
	)
	w.figures.Counts = []workflows.AdActionCount{{Rule: "pause_low_roas", Platform: "meta", Account: "act_1", Count: 1}}
	s := ruleDefaults(t, "pause_low_roas")
	s.MaxActionsDay = 2
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}, Mode: workflows.AdModeApply,
		Settings: map[string]workflows.AdRuleSettings{"pause_low_roas": s}})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions, brief{ID: 1, Rule: "pause_low_roas", Object: "11", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "applied"})
	want := []string{
		"pause_low_roas 12: the rule took 2 actions on account act_1 today, its daily cap",
		"pause_low_roas 10: the rule took 2 actions on account act_1 today, its daily cap",
	}
	if !reflect.DeepEqual(skipsOf(res.Skipped), want) {
		t.Errorf("skipped %q, want %q", skipsOf(res.Skipped), want)
	}
}

// Scale winners: +20% within the maximum change per step and the ceiling,
// rounded down to the cent; not below 10 conversions; nothing at the
// ceiling.
func TestAdRuleScaleWinnersBudgetLimits(t *testing.T) {
	winning := adDays("2026-02-24", "2026-03-04", 20, 80, 2) // ROAS 4, 14 conversions a week
	w := newAdWorld(t, adNow,
		metaCampaign("10", 100, winning...),
		metaCampaign("11", 33.33, winning...),
		metaCampaign("12", 1000, winning...),
		metaCampaign("13", 800, winning...),
		metaCampaign("14", 100, adDays("2026-02-24", "2026-03-04", 20, 80, 1.25)...), // 8.75 conversions
	)
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"scale_winners"}, Mode: workflows.AdModeApply})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions,
		brief{ID: 1, Rule: "scale_winners", Object: "10", Action: "set_budget", Before: "100000000", After: "120000000", Outcome: "applied"},
		brief{ID: 2, Rule: "scale_winners", Object: "11", Action: "set_budget", Before: "33330000", After: "39990000", Outcome: "applied"},
		brief{ID: 3, Rule: "scale_winners", Object: "13", Action: "set_budget", Before: "800000000", After: "960000000", Outcome: "applied"},
	)
	if r := res.Decisions[0].Reason; r != "ROAS 4.00 over 2026-02-25..2026-03-03 is above 3.00 on 14 conversions: budget +20%" {
		t.Errorf("reason %q", r)
	}
	want := []string{
		"scale_winners 14: too little data: 8.75 conversions in 2026-02-25..2026-03-03, the rule needs 10",
		"scale_winners 12: the budget 1000.00 is at the ceiling 1000.00",
	}
	if !reflect.DeepEqual(skipsOf(res.Skipped), want) {
		t.Errorf("skipped %q, want %q", skipsOf(res.Skipped), want)
	}
	// Applied actions go to Slack, one notice each.
	if len(w.notices) != 3 || w.notices[0].Kind != workflows.AdNoticeApplied || w.notices[0].IDs[0] != 1 || w.notices[0].Channel != "" {
		t.Errorf("notices %+v", w.notices)
	}
}

// The maximum change per step caps a larger step, and the ceiling caps it
// further.
func TestAdRuleMaxChangeAndCeiling(t *testing.T) {
	winning := adDays("2026-02-24", "2026-03-04", 20, 80, 2)
	w := newAdWorld(t, adNow, metaCampaign("10", 100, winning...), metaCampaign("11", 100, winning...))
	s := ruleDefaults(t, "scale_winners")
	s.BudgetStep = 0.5 // +50% asked; 30% allowed per step
	s.BudgetCeiling = workflows.Dollars(125)
	w.figures.Objects[1].DailyBudget = workflows.Dollars(110)
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"scale_winners"}, Mode: workflows.AdModeApply, Channel: "#ads",
		Settings: map[string]workflows.AdRuleSettings{"scale_winners": s}})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions,
		brief{ID: 1, Rule: "scale_winners", Object: "10", Action: "set_budget", Before: "100000000", After: "125000000", Outcome: "applied"},
		brief{ID: 2, Rule: "scale_winners", Object: "11", Action: "set_budget", Before: "110000000", After: "125000000", Outcome: "applied"},
	)
	if w.notices[0].Channel != "#ads" {
		t.Errorf("notice went to %q", w.notices[0].Channel)
	}
}

// Pause low ROAS and scale winners both want campaign 10 (a great week, a
// bad last three days): the pause is safer and wins; the raise is recorded
// as a conflict naming it, and not applied.
func TestAdRuleConflictSaferWins(t *testing.T) {
	days := join(adDays("2026-02-24", "2026-02-28", 20, 200, 3), adDays("2026-03-01", "2026-03-04", 20, 10, 0))
	w := newAdWorld(t, adNow, metaCampaign("10", 50, days...))
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"scale_winners", "pause_low_roas"}, Mode: workflows.AdModeApply})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions,
		brief{ID: 1, Rule: "pause_low_roas", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "applied"},
		brief{ID: 2, Rule: "scale_winners", Object: "10", Action: "set_budget", Before: "50000000", After: "60000000", Outcome: "conflict", ConflictWith: 1},
	)
	if r := res.Decisions[1].Reason; !strings.HasSuffix(r, "; held back: pause_low_roas's pause on campaign 10 is safer") {
		t.Errorf("conflict reason %q", r)
	}
	if len(w.applies) != 1 || w.applies[0].ID != 1 {
		t.Errorf("applied %+v, want the pause only", w.applies)
	}
	if w.rows[1].Outcome != workflows.AdOutcomeConflict || w.rows[1].ConflictWithKey != w.rows[0].Key {
		t.Errorf("conflict row %+v", w.rows[1])
	}
}

// A rebalance is one plan: the two worst ad sets give 20% each, the two
// best share it within the step limit, and one approval covers the plan.
func TestAdRuleRebalanceApprovedAsOnePlan(t *testing.T) {
	w := newAdWorld(t, adNow,
		metaAdSet("20", 100, adDays("2026-02-24", "2026-03-04", 20, 16, 1)...), // ROAS 0.8
		metaAdSet("21", 50, adDays("2026-02-24", "2026-03-04", 20, 24, 1)...),  // 1.2
		metaAdSet("22", 100, adDays("2026-02-24", "2026-03-04", 20, 60, 1)...), // 3.0
		metaAdSet("23", 80, adDays("2026-02-24", "2026-03-04", 20, 80, 1)...),  // 4.0
		metaAdSet("24", 80, adDays("2026-02-24", "2026-03-04", 20, 40, 1)...),  // 2.0: neither
	)
	w.env.RegisterDelayedCallback(func() {
		w.env.SignalWorkflow(workflows.AdApprovalSignal, workflows.AdApproval{ActionID: 1, Approved: true, By: "U42 (ada)"})
	}, 20*time.Minute)
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"rebalance"}, Mode: workflows.AdModeApprove, Channel: "#ads"})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions,
		brief{ID: 1, Rule: "rebalance", Object: "20", Action: "set_budget", Before: "100000000", After: "80000000", Outcome: "approved"},
		brief{ID: 2, Rule: "rebalance", Object: "21", Action: "set_budget", Before: "50000000", After: "40000000", Outcome: "approved"},
		brief{ID: 3, Rule: "rebalance", Object: "23", Action: "set_budget", Before: "80000000", After: "95000000", Outcome: "approved"},
		brief{ID: 4, Rule: "rebalance", Object: "22", Action: "set_budget", Before: "100000000", After: "115000000", Outcome: "approved"},
	)
	for _, d := range res.Decisions {
		if d.Plan != "rebalance/meta/act_1" || d.DecidedBy != "U42 (ada)" {
			t.Errorf("decision %d: plan %q, by %q", d.ID, d.Plan, d.DecidedBy)
		}
	}
	if r := res.Decisions[0].Reason; r != "ROAS 0.80 over 2026-02-25..2026-03-03 is below 1.50: budget to 80.00 for 23, 22" {
		t.Errorf("reason %q", r)
	}
	ask := w.notices[0]
	if ask.Kind != workflows.AdNoticeApproval || !reflect.DeepEqual(ask.IDs, []uint64{1, 2, 3, 4}) || !ask.Expires.Equal(adNow.Add(2*time.Hour)) || ask.Channel != "#ads" {
		t.Errorf("approval request %+v", ask)
	}
	if len(w.applies) != 4 || w.applies[0] != (workflows.AdApplyRequest{ID: 1, Outcome: workflows.AdOutcomeApproved, By: "U42 (ada)"}) {
		t.Errorf("applies %+v", w.applies)
	}
	if len(w.notices) != 5 {
		t.Errorf("%d notices, want the request and 4 applied", len(w.notices))
	}
}

// When another rule pauses one ad set of a rebalance plan, the whole plan
// is held back: each of its changes is a conflict row naming the pause.
func TestAdRulePlanFallsWhole(t *testing.T) {
	w := newAdWorld(t, adNow,
		metaAdSet("20", 100, adDays("2026-02-24", "2026-03-04", 20, 16, 1)...),
		metaAdSet("23", 80, adDays("2026-02-24", "2026-03-04", 20, 80, 1)...),
	)
	pause := ruleDefaults(t, "pause_low_roas")
	pause.Levels = []string{"adset"}
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas", "rebalance"}, Mode: workflows.AdModeApply,
		Settings: map[string]workflows.AdRuleSettings{"pause_low_roas": pause}})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions,
		brief{ID: 1, Rule: "pause_low_roas", Object: "20", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "applied"},
		brief{ID: 2, Rule: "rebalance", Object: "20", Action: "set_budget", Before: "100000000", After: "80000000", Outcome: "conflict", ConflictWith: 1},
		brief{ID: 3, Rule: "rebalance", Object: "23", Action: "set_budget", Before: "80000000", After: "100000000", Outcome: "conflict", ConflictWith: 1},
	)
}

// A spend spike pauses at once even in approve mode, and Slack hears of
// it: nobody clicks at 2 AM.
func TestAdRuleSpendSpikeActsAtOnceInApproveMode(t *testing.T) {
	at := time.Date(2026, 3, 7, 2, 0, 0, 0, time.UTC) // Saturday, 2 AM
	days := join(adDays("2026-02-28", "2026-03-06", 10, 30, 1), adDays("2026-03-07", "2026-03-07", 25, 0, 0))
	w := newAdWorld(t, at, metaCampaign("10", 40, days...), metaCampaign("11", 40, adDays("2026-02-28", "2026-03-07", 10, 30, 1)...))
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"spend_spike"}, Mode: workflows.AdModeApprove})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions, brief{ID: 1, Rule: "spend_spike", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "applied"})
	d := res.Decisions[0]
	if d.Reason != "spent 25.00 today (2026-03-07), more than 2.0x the average day of 10.00 over 2026-02-28..2026-03-06" ||
		d.Figures.AverageDay != workflows.Dollars(10) || d.Figures.Today == nil || d.Figures.Today.Spend != workflows.Dollars(25) {
		t.Errorf("decision %+v", d)
	}
	if len(w.notices) != 1 || w.notices[0].Kind != workflows.AdNoticeApplied {
		t.Errorf("notices %+v, want one applied", w.notices)
	}
}

// An approval nobody answers expires: nothing is done, and Slack is told.
func TestAdRuleApprovalTimeout(t *testing.T) {
	w := newAdWorld(t, adNow, metaCampaign("10", 40, adDays("2026-02-24", "2026-03-04", 20, 10, 1)...))
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}, Mode: workflows.AdModeApprove, ApprovalTimeout: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions, brief{ID: 1, Rule: "pause_low_roas", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "expired"})
	if res.Decisions[0].Response != "no answer within 30m0s: nothing was done" || len(w.applies) != 0 {
		t.Errorf("response %q, applies %+v", res.Decisions[0].Response, w.applies)
	}
	kinds := []string{}
	for _, n := range w.notices {
		kinds = append(kinds, n.Kind)
	}
	if !reflect.DeepEqual(kinds, []string{workflows.AdNoticeApproval, workflows.AdNoticeExpired}) {
		t.Errorf("notices %v", kinds)
	}
	want := workflows.AdOutcomeRequest{IDs: []uint64{1}, Outcome: workflows.AdOutcomeExpired, Response: "no answer within 30m0s: nothing was done", From: []string{workflows.AdOutcomePending}}
	if len(w.sets) != 1 || !reflect.DeepEqual(w.sets[0], want) {
		t.Errorf("outcomes set %+v, want %+v", w.sets, want)
	}
	if got := w.env.Now(); !got.Equal(adNow.Add(30 * time.Minute)) {
		t.Errorf("the run ended at %s, want after the 30 minutes", got)
	}
}

// A Reject click does nothing and records who; an answer for another
// action is ignored.
func TestAdRuleRejected(t *testing.T) {
	w := newAdWorld(t, adNow, metaCampaign("10", 40, adDays("2026-02-24", "2026-03-04", 20, 10, 1)...))
	w.env.RegisterDelayedCallback(func() {
		w.env.SignalWorkflow(workflows.AdApprovalSignal, workflows.AdApproval{ActionID: 99, Approved: true, By: "U1"})
		w.env.SignalWorkflow(workflows.AdApprovalSignal, workflows.AdApproval{ActionID: 1, Approved: false, By: "U42 (ada)"})
	}, 5*time.Minute)
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}, Mode: workflows.AdModeApprove})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions, brief{ID: 1, Rule: "pause_low_roas", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "rejected"})
	if res.Decisions[0].DecidedBy != "U42 (ada)" || len(w.applies) != 0 || len(w.notices) != 1 {
		t.Errorf("by %q, applies %+v, notices %+v", res.Decisions[0].DecidedBy, w.applies, w.notices)
	}
}

// A platform refusal is an outcome, posted to Slack; the run goes on with
// the next action.
func TestAdRuleFailureGoesToSlack(t *testing.T) {
	w := newAdWorld(t, adNow,
		metaCampaign("10", 40, adDays("2026-02-24", "2026-03-04", 20, 10, 1)...),
		metaCampaign("11", 40, adDays("2026-02-24", "2026-03-04", 20, 12, 1)...),
	)
	w.refuse["10"] = "meta: POST /10: Invalid parameter (code 100, HTTP 400)"
	res, err := w.run(workflows.AdRuleRequest{Rules: []string{"pause_low_roas"}, Mode: workflows.AdModeApply})
	if err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, res.Decisions,
		brief{ID: 1, Rule: "pause_low_roas", Object: "10", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "failed"},
		brief{ID: 2, Rule: "pause_low_roas", Object: "11", Action: "pause", Before: "ACTIVE", After: "PAUSED", Outcome: "applied"},
	)
	if res.Decisions[0].Response != w.refuse["10"] {
		t.Errorf("response %q", res.Decisions[0].Response)
	}
	if len(w.notices) != 2 || w.notices[0].Kind != workflows.AdNoticeFailed || w.notices[1].Kind != workflows.AdNoticeApplied {
		t.Errorf("notices %+v", w.notices)
	}
}

// Bad requests fail at once, naming what was wrong.
func TestAdRuleBadRequest(t *testing.T) {
	for _, c := range []struct {
		req  workflows.AdRuleRequest
		want string
	}{
		{workflows.AdRuleRequest{Rules: []string{"pause_everything"}}, `no ad rule "pause_everything"`},
		{workflows.AdRuleRequest{Rules: []string{"rebalance"}, Mode: "yolo"}, `mode "yolo" is not dry_run, apply or approve`},
		{workflows.AdRuleRequest{}, "no rules to evaluate"},
		{workflows.AdRuleRequest{Rules: []string{"rebalance"}, Settings: map[string]workflows.AdRuleSettings{"rebalance": {Days: 0}}}, "settings of rebalance: days 0: want at least 1"},
	} {
		w := newAdWorld(t, adNow)
		_, err := w.run(c.req)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a non-retryable error with %q", c.req, err, c.want)
		}
	}
}

// Undo sets the value from before back as a new action, marks the
// original undone, and tells Slack; an action not applied, or undone
// already, is refused.
func TestAdUndo(t *testing.T) {
	w := newAdWorld(t, adNow)
	w.rows = []workflows.AdDecision{
		{ID: 1, Key: "r/scale_winners/meta/10/set_budget", Rule: "scale_winners", Platform: "meta", Account: "act_1", ObjectID: "10", Level: "campaign",
			Action: workflows.AdActionSetBudget, BudgetBefore: 50_000_000, BudgetAfter: 60_000_000, Mode: workflows.AdModeApply, Outcome: workflows.AdOutcomeApplied, Reason: "ROAS 4.00"},
		{ID: 2, Key: "r/pause_low_roas/meta/11/pause", Rule: "pause_low_roas", Platform: "meta", ObjectID: "11", Action: workflows.AdActionPause,
			StatusBefore: "ACTIVE", StatusAfter: "PAUSED", Mode: workflows.AdModeDryRun, Outcome: workflows.AdOutcomeDryRun},
	}
	w.env.ExecuteWorkflow(workflows.AdUndoWorkflow, uint64(1))
	var res workflows.AdUndoResult
	if err := w.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	wantBriefs(t, []workflows.AdDecision{res.Original, res.Undo},
		brief{ID: 1, Rule: "scale_winners", Object: "10", Action: "set_budget", Before: "50000000", After: "60000000", Outcome: "undone"},
		brief{ID: 3, Rule: "scale_winners", Object: "10", Action: "set_budget", Before: "60000000", After: "50000000", Outcome: "applied"},
	)
	if res.Undo.UndoOf != 1 || res.Undo.Reason != "undo of action 1 (scale_winners: ROAS 4.00)" || res.Original.UndoneBy != 3 {
		t.Errorf("undo %+v", res)
	}
	if want := []workflows.AdUndoMark{{ID: 1, UndoID: 3, At: adNow}}; !reflect.DeepEqual(w.undone, want) {
		t.Errorf("marked %+v, want %+v", w.undone, want)
	}
	if len(w.notices) != 1 || w.notices[0].Kind != workflows.AdNoticeApplied || w.notices[0].IDs[0] != 3 {
		t.Errorf("notices %+v", w.notices)
	}

	for _, c := range []struct {
		id   uint64
		want string
	}{
		{1, "ad action 1 was undone already (by action 3)"},
		{2, "ad action 2 was not applied (its outcome is dry_run): there is nothing to undo"},
		{9, "no ad action 9"},
	} {
		again := newAdWorld(t, adNow)
		again.rows = w.rows
		again.env.ExecuteWorkflow(workflows.AdUndoWorkflow, c.id)
		err := again.env.GetWorkflowError()
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() || !strings.Contains(err.Error(), c.want) {
			t.Errorf("undo %d: %v, want a non-retryable error with %q", c.id, err, c.want)
		}
	}
}

// An undo the activity refuses (the platform no longer holds what the
// action set) ends the run without an error: the undo row is failed with
// the reason, Slack hears of the failure, and the original stays applied.
func TestAdUndoRefused(t *testing.T) {
	w := newAdWorld(t, adNow)
	w.rows = []workflows.AdDecision{
		{ID: 1, Key: "r/scale_winners/meta/10/set_budget", Rule: "scale_winners", Platform: "meta", Account: "act_1", ObjectID: "10", Level: "campaign",
			Action: workflows.AdActionSetBudget, BudgetBefore: 50_000_000, BudgetAfter: 60_000_000, Mode: workflows.AdModeApply, Outcome: workflows.AdOutcomeApplied},
	}
	why := "not undone: campaign 10's daily budget on Meta is now 75.00 USD, not the 60.00 USD that action 1 set; " +
		"it was changed elsewhere since, and an undo only reverses Nudge's own change"
	w.refuse["10"] = why
	w.env.ExecuteWorkflow(workflows.AdUndoWorkflow, uint64(1))
	var res workflows.AdUndoResult
	if err := w.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Undo.Outcome != workflows.AdOutcomeFailed || res.Undo.Response != why || res.Original.Outcome != workflows.AdOutcomeApplied ||
		res.Original.UndoneBy != 0 {
		t.Errorf("undo %+v", res)
	}
	if len(w.undone) != 0 || w.rows[0].Outcome != workflows.AdOutcomeApplied {
		t.Errorf("marked %+v; the original is %s", w.undone, w.rows[0].Outcome)
	}
	if len(w.notices) != 1 || w.notices[0].Kind != workflows.AdNoticeFailed || w.notices[0].IDs[0] != 2 {
		t.Errorf("notices %+v", w.notices)
	}
}

// Every shipped rule is registered, in AdRuleNames order, with settings
// that pass their own check.
func TestAdRulesCatalog(t *testing.T) {
	var names []string
	for _, r := range workflows.AdRules() {
		names = append(names, r.Name)
		if r.Version < 1 || r.Description == "" || r.Decide == nil || r.Defaults.Check() != nil {
			t.Errorf("rule %s is incomplete: %+v", r.Name, r)
		}
	}
	if !reflect.DeepEqual(names, workflows.AdRuleNames) {
		t.Errorf("rules %v, want %v", names, workflows.AdRuleNames)
	}
}
