package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activities of the ad rules (activities/adrules.go).
const (
	ReadAdFiguresActivity   = "ReadAdFigures"   // AdFiguresRequest → AdFigures
	RecordAdActionsActivity = "RecordAdActions" // AdActionsRecord → []uint64, the rows' IDs
	ApplyAdActionActivity   = "ApplyAdAction"   // AdApplyRequest → AdApplyResult
	SetAdOutcomeActivity    = "SetAdOutcome"    // AdOutcomeRequest
	PostAdNoticeActivity    = "PostAdNotice"    // AdNotice → SendResult
	ReadAdActionActivity    = "ReadAdAction"    // uint64 → AdDecision
	MarkAdUndoneActivity    = "MarkAdUndone"    // AdUndoMark
)

// DefaultAdApprovalTimeout is how long an approval request waits for a
// click when the request names no timeout.
const DefaultAdApprovalTimeout = 2 * time.Hour

// AdFiguresRequest asks for what an evaluation at At decides on.
type AdFiguresRequest struct {
	At time.Time `json:"at"`
	// Days is how many days back from the accounts' today to read.
	Days int `json:"days"`
	// Since is how far back the latest action per object and action is
	// looked for (the longest cooldown).
	Since time.Time `json:"since"`
	// Counted are the outcomes that count as an action for cooldowns and
	// daily caps.
	Counted []string `json:"counted"`
}

// AdActionsRecord writes decisions to the audit log, once per key.
type AdActionsRecord struct {
	WorkflowID string       `json:"workflow_id"`
	RunID      string       `json:"run_id"`
	At         time.Time    `json:"at"`
	Decisions  []AdDecision `json:"decisions"`
}

// AdApplyRequest makes one recorded decision on its platform. On success
// the row's outcome becomes Outcome; a refusal makes it failed.
type AdApplyRequest struct {
	ID           uint64 `json:"id"`
	ValidateOnly bool   `json:"validate_only"`
	Outcome      string `json:"outcome"`
	By           string `json:"by,omitempty"`
}

// AdApplyResult is the row's outcome and the platform's answer.
type AdApplyResult struct {
	Outcome  string `json:"outcome"`
	Response string `json:"response"`
}

// AdOutcomeRequest sets the outcome of rows still in one of From (any
// outcome when From is empty).
type AdOutcomeRequest struct {
	IDs      []uint64 `json:"ids"`
	Outcome  string   `json:"outcome"`
	By       string   `json:"by,omitempty"`
	Response string   `json:"response,omitempty"`
	From     []string `json:"from,omitempty"`
}

// Kinds of Slack notice about ad actions.
const (
	AdNoticeApplied  = "applied"  // one action made
	AdNoticeFailed   = "failed"   // one action refused or not reached
	AdNoticeApproval = "approval" // Approve and Reject buttons for a group of actions
	AdNoticeExpired  = "expired"  // an approval nobody answered: nothing done
)

// AdNotice posts about ad actions to Slack, at most once per kind and
// first action ID.
type AdNotice struct {
	Kind string   `json:"kind"`
	IDs  []uint64 `json:"ids"`
	// Channel is where it goes; "" means the worker's ads channel
	// (NUDGE_SLACK_ADS_CHANNEL).
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
	// Expires is when an approval request stops waiting.
	Expires time.Time `json:"expires,omitempty"`
}

// AdUndoMark marks an action undone by another.
type AdUndoMark struct {
	ID     uint64    `json:"id"`
	UndoID uint64    `json:"undo_id"`
	At     time.Time `json:"at"`
}

// AdRuleResult is what an evaluation decided and what became of it.
type AdRuleResult struct {
	Mode      string       `json:"mode"`
	At        time.Time    `json:"at"`
	Rules     []string     `json:"rules"`
	Decisions []AdDecision `json:"decisions"`
	Skipped   []AdSkip     `json:"skipped"`
}

// AdUndoResult is an undone action and the action that undid it.
type AdUndoResult struct {
	Original AdDecision `json:"original"`
	Undo     AdDecision `json:"undo"`
}

// AdUndoWorkflowID is the workflow ID of the undo of an action: one at a
// time per action.
func AdUndoWorkflowID(actionID uint64) string {
	return "ad-undo/" + strconv.FormatUint(actionID, 10)
}

var adActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 2 * time.Minute,
	// A platform or the database down for a while delays an action; past
	// this it is recorded as failed.
	ScheduleToCloseTimeout: 15 * time.Minute,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute},
}

// AdRuleWorkflow evaluates rules once: it reads the figures, decides in
// workflow code, records every decision, then acts as the mode says.
func AdRuleWorkflow(ctx workflow.Context, req AdRuleRequest) (AdRuleResult, error) {
	runs, mode, err := adRuleRuns(req)
	if err != nil {
		return AdRuleResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadAdRuleRequest", nil)
	}
	now := workflow.Now(ctx).UTC()
	ctx = workflow.WithActivityOptions(ctx, adActivityOptions)
	res := AdRuleResult{Mode: mode, At: now, Decisions: []AdDecision{}, Skipped: []AdSkip{}}
	for _, r := range runs {
		res.Rules = append(res.Rules, r.rule.Name)
	}

	var figures AdFigures
	if err := workflow.ExecuteActivity(ctx, ReadAdFiguresActivity, adFiguresRequest(now, mode, runs)).Get(ctx, &figures); err != nil {
		return res, err
	}
	plan := planAdRules(now, runs, figures)
	res.Skipped = append(res.Skipped, plan.Skipped...)
	if len(plan.Decisions) == 0 {
		return res, nil
	}

	info := workflow.GetInfo(ctx)
	ds := plan.Decisions
	for i := range ds {
		ds[i].Mode = mode
		ds[i].Key = info.WorkflowExecution.RunID + "/" + adObjectAction(ds[i])
		if ds[i].ConflictWithKey != "" {
			ds[i].ConflictWithKey = info.WorkflowExecution.RunID + "/" + ds[i].ConflictWithKey
		}
		if ds[i].Outcome == "" {
			ds[i].Outcome = AdOutcomePending
		}
	}
	if err := adRecord(ctx, now, ds); err != nil {
		return res, err
	}
	res.Decisions = ds

	a := adActor{ctx: ctx, channel: req.Channel, at: now}
	var asks [][]int // groups of decisions waiting for a click
	for _, g := range adGroups(ds) {
		d := ds[g[0]]
		switch {
		case d.Outcome == AdOutcomeConflict:
		case mode == AdModeDryRun:
			a.apply(ds, g, AdOutcomeDryRun, "", true)
		case mode == AdModeApply || adUrgent(d.Rule):
			a.apply(ds, g, AdOutcomeApplied, "", false)
		default:
			asks = append(asks, g)
		}
	}
	if len(asks) > 0 {
		timeout := req.ApprovalTimeout
		if timeout <= 0 {
			timeout = DefaultAdApprovalTimeout
		}
		if err := a.askAndWait(ds, asks, timeout); err != nil {
			return res, err
		}
	}
	return res, a.err
}

// adRuleRuns checks the request and pairs each rule with its settings.
func adRuleRuns(req AdRuleRequest) ([]adRuleRun, string, error) {
	mode := req.Mode
	if mode == "" {
		mode = AdModeDryRun
	}
	if mode != AdModeDryRun && mode != AdModeApply && mode != AdModeApprove {
		return nil, "", fmt.Errorf("mode %q is not %s, %s or %s", req.Mode, AdModeDryRun, AdModeApply, AdModeApprove)
	}
	if len(req.Rules) == 0 {
		return nil, "", fmt.Errorf("no rules to evaluate (rules: %v)", AdRuleNames)
	}
	var runs []adRuleRun
	for _, name := range req.Rules {
		r, ok := LookupAdRule(name)
		if !ok {
			return nil, "", fmt.Errorf("no ad rule %q (rules: %v)", name, AdRuleNames)
		}
		s := r.Defaults
		if o, ok := req.Settings[name]; ok {
			if err := o.Check(); err != nil {
				return nil, "", fmt.Errorf("settings of %s: %w", name, err)
			}
			s = o
		}
		runs = append(runs, adRuleRun{rule: r, settings: s})
	}
	// Rules run in catalog order whatever order the request names them,
	// so ties in a conflict always go the same way.
	slices.SortStableFunc(runs, func(a, b adRuleRun) int {
		return slices.Index(AdRuleNames, a.rule.Name) - slices.Index(AdRuleNames, b.rule.Name)
	})
	return runs, mode, nil
}

// adFiguresRequest reads enough days for the longest window and its settle
// window, and the actions that count in this mode. In a dry run the dry
// run's own decisions count too, so the log shows what applying would have
// done over time, cooldowns and caps included.
func adFiguresRequest(now time.Time, mode string, runs []adRuleRun) AdFiguresRequest {
	req := AdFiguresRequest{At: now, Since: now.Add(-Day),
		Counted: []string{AdOutcomeApplied, AdOutcomeApproved, AdOutcomePending, AdOutcomeFailed, AdOutcomeRejected, AdOutcomeUndone}}
	if mode == AdModeDryRun {
		req.Counted = append(req.Counted, AdOutcomeDryRun)
	}
	for _, r := range runs {
		s := r.settings
		req.Days = max(req.Days, s.Days+int(s.Settle/Day)+2)
		if t := now.Add(-s.Cooldown); t.Before(req.Since) {
			req.Since = t
		}
	}
	return req
}

func adUrgent(rule string) bool {
	r, ok := LookupAdRule(rule)
	return ok && r.Urgent
}

// adGroups groups decisions that stand together: a plan's, else each alone,
// in the order of their first decision.
func adGroups(ds []AdDecision) [][]int {
	var groups [][]int
	plans := map[string]int{}
	for i, d := range ds {
		if d.Plan == "" || d.Outcome == AdOutcomeConflict {
			groups = append(groups, []int{i})
			continue
		}
		g, ok := plans[d.Plan]
		if !ok {
			g = len(groups)
			plans[d.Plan] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// adRecord writes the decisions and fills in their row IDs and the IDs of
// the decisions conflicts lost to.
func adRecord(ctx workflow.Context, now time.Time, ds []AdDecision) error {
	info := workflow.GetInfo(ctx)
	var ids []uint64
	rec := AdActionsRecord{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, At: now, Decisions: ds}
	if err := workflow.ExecuteActivity(ctx, RecordAdActionsActivity, rec).Get(ctx, &ids); err != nil {
		return err
	}
	if len(ids) != len(ds) {
		return fmt.Errorf("recorded %d ad actions, got %d IDs back", len(ds), len(ids))
	}
	byKey := map[string]uint64{}
	for i := range ds {
		ds[i].ID = ids[i]
		byKey[ds[i].Key] = ids[i]
	}
	for i := range ds {
		ds[i].ConflictWith = byKey[ds[i].ConflictWithKey]
	}
	return nil
}

// adActor makes recorded decisions and tells Slack. A failure of its own
// activities (not the platform's refusal, which is an outcome) is kept in
// err and ends the run once the rest is done.
type adActor struct {
	ctx     workflow.Context
	channel string
	at      time.Time
	err     error
}

// apply makes a group's decisions, in order, and posts each applied action
// and each failure.
func (a *adActor) apply(ds []AdDecision, group []int, outcome, by string, validateOnly bool) {
	for _, i := range group {
		var r AdApplyResult
		req := AdApplyRequest{ID: ds[i].ID, ValidateOnly: validateOnly, Outcome: outcome, By: by}
		err := workflow.ExecuteActivity(a.ctx, ApplyAdActionActivity, req).Get(a.ctx, &r)
		if err != nil {
			// Retries ran out (the platform or the database down for
			// long): the action is failed, and says why.
			r = AdApplyResult{Outcome: AdOutcomeFailed, Response: err.Error()}
			a.setOutcome(AdOutcomeRequest{IDs: []uint64{ds[i].ID}, Outcome: AdOutcomeFailed, Response: r.Response})
		}
		ds[i].Outcome, ds[i].Response = r.Outcome, r.Response
		if by != "" {
			ds[i].DecidedBy = by
		}
		switch {
		case r.Outcome == AdOutcomeFailed:
			a.notice(AdNotice{Kind: AdNoticeFailed, IDs: []uint64{ds[i].ID}})
		case !validateOnly:
			a.notice(AdNotice{Kind: AdNoticeApplied, IDs: []uint64{ds[i].ID}})
		}
	}
}

func (a *adActor) setOutcome(req AdOutcomeRequest) {
	if err := workflow.ExecuteActivity(a.ctx, SetAdOutcomeActivity, req).Get(a.ctx, nil); err != nil && a.err == nil {
		a.err = err
	}
}

// notice posts to Slack; a post that cannot be made is logged, not a
// failure of the run: the audit row holds the action either way.
func (a *adActor) notice(n AdNotice) bool {
	n.Channel, n.At = a.channel, a.at
	var sent SendResult
	if err := workflow.ExecuteActivity(a.ctx, PostAdNoticeActivity, n).Get(a.ctx, &sent); err != nil {
		workflow.GetLogger(a.ctx).Warn("ad notice not posted", "kind", n.Kind, "ids", n.IDs, "error", err)
		return false
	}
	return true
}

// askAndWait asks in Slack for each group and applies what is approved as
// answers come, until every group is answered or the timeout passes; what
// is left expires and Slack is told.
func (a *adActor) askAndWait(ds []AdDecision, asks [][]int, timeout time.Duration) error {
	ctx := a.ctx
	approvals := collectAnswers[AdApproval](ctx, AdApprovalSignal)

	expires := workflow.Now(ctx).Add(timeout)
	var open [][]int
	for _, g := range asks {
		ids := adIDs(ds, g)
		if !a.notice(AdNotice{Kind: AdNoticeApproval, IDs: ids, Expires: expires}) {
			// Nobody can approve what was never asked.
			a.setOutcome(AdOutcomeRequest{IDs: ids, Outcome: AdOutcomeFailed, Response: "the approval request could not be posted to Slack",
				From: []string{AdOutcomePending}})
			for _, i := range g {
				ds[i].Outcome, ds[i].Response = AdOutcomeFailed, "the approval request could not be posted to Slack"
			}
			continue
		}
		open = append(open, g)
	}
	for len(open) > 0 {
		left := expires.Sub(workflow.Now(ctx))
		if left <= 0 {
			break
		}
		ap, got, err := approvals.next(ctx, left)
		if err != nil {
			return err
		}
		if !got {
			break
		}
		k := slices.IndexFunc(open, func(g []int) bool { return slices.Contains(adIDs(ds, g), ap.ActionID) })
		if k < 0 {
			workflow.GetLogger(ctx).Info("approval for no open ad action ignored", "action_id", ap.ActionID, "by", ap.By)
			continue
		}
		g := open[k]
		open = slices.Delete(open, k, k+1)
		if ap.Approved {
			a.apply(ds, g, AdOutcomeApproved, ap.By, false)
			continue
		}
		a.setOutcome(AdOutcomeRequest{IDs: adIDs(ds, g), Outcome: AdOutcomeRejected, By: ap.By, From: []string{AdOutcomePending}})
		for _, i := range g {
			ds[i].Outcome, ds[i].DecidedBy = AdOutcomeRejected, ap.By
		}
	}
	for _, g := range open {
		why := fmt.Sprintf("no answer within %s: nothing was done", timeout)
		a.setOutcome(AdOutcomeRequest{IDs: adIDs(ds, g), Outcome: AdOutcomeExpired, Response: why, From: []string{AdOutcomePending}})
		for _, i := range g {
			ds[i].Outcome, ds[i].Response = AdOutcomeExpired, why
		}
		a.notice(AdNotice{Kind: AdNoticeExpired, IDs: adIDs(ds, g), Expires: expires})
	}
	return nil
}

func adIDs(ds []AdDecision, group []int) []uint64 {
	ids := make([]uint64, len(group))
	for j, i := range group {
		ids[j] = ds[i].ID
	}
	return ids
}

// AdUndoWorkflow reverses an applied action: it sets the value from before
// it back, records that as a new action (UndoOf the original) and marks
// the original undone. An action that was not applied, or was undone
// already, is refused.
func AdUndoWorkflow(ctx workflow.Context, actionID uint64) (AdUndoResult, error) {
	now := workflow.Now(ctx).UTC()
	ctx = workflow.WithActivityOptions(ctx, adActivityOptions)
	var orig AdDecision
	if err := workflow.ExecuteActivity(ctx, ReadAdActionActivity, actionID).Get(ctx, &orig); err != nil {
		return AdUndoResult{}, err
	}
	if err := adUndoable(orig); err != nil {
		return AdUndoResult{Original: orig}, temporal.NewNonRetryableApplicationError(err.Error(), "AdActionNotUndoable", nil)
	}

	undo := orig
	undo.ID, undo.ConflictWith, undo.ConflictWithKey, undo.DecidedBy, undo.Response = 0, 0, "", "", ""
	undo.Key = "undo/" + strconv.FormatUint(orig.ID, 10) + "/" + workflow.GetInfo(ctx).WorkflowExecution.RunID
	undo.Mode, undo.Outcome, undo.UndoOf, undo.UndoneAt, undo.UndoneBy = AdModeApply, AdOutcomePending, orig.ID, nil, 0
	undo.Reason = fmt.Sprintf("undo of action %d (%s: %s)", orig.ID, orig.Rule, orig.Reason)
	undo.StatusBefore, undo.StatusAfter = orig.StatusAfter, orig.StatusBefore
	undo.BudgetBefore, undo.BudgetAfter = orig.BudgetAfter, orig.BudgetBefore
	switch orig.Action {
	case AdActionPause:
		undo.Action = AdActionEnable
	case AdActionEnable:
		undo.Action = AdActionPause
	}
	ds := []AdDecision{undo}
	if err := adRecord(ctx, now, ds); err != nil {
		return AdUndoResult{Original: orig}, err
	}
	// No channel: the notice goes to the worker's (NUDGE_SLACK_ADS_CHANNEL).
	a := adActor{ctx: ctx, at: now}
	a.apply(ds, []int{0}, AdOutcomeApplied, "", false)
	if a.err != nil {
		return AdUndoResult{Original: orig, Undo: ds[0]}, a.err
	}
	if ds[0].Outcome == AdOutcomeApplied {
		mark := AdUndoMark{ID: orig.ID, UndoID: ds[0].ID, At: now}
		if err := workflow.ExecuteActivity(ctx, MarkAdUndoneActivity, mark).Get(ctx, nil); err != nil {
			return AdUndoResult{Original: orig, Undo: ds[0]}, err
		}
		orig.Outcome, orig.UndoneAt, orig.UndoneBy = AdOutcomeUndone, &now, ds[0].ID
	}
	return AdUndoResult{Original: orig, Undo: ds[0]}, nil
}

// adUndoable says why an action cannot be undone, or nil.
func adUndoable(d AdDecision) error {
	switch {
	case d.UndoneAt != nil || d.Outcome == AdOutcomeUndone:
		return fmt.Errorf("ad action %d was undone already (by action %d)", d.ID, d.UndoneBy)
	case d.Outcome != AdOutcomeApplied && d.Outcome != AdOutcomeApproved:
		return fmt.Errorf("ad action %d was not applied (its outcome is %s): there is nothing to undo", d.ID, d.Outcome)
	case d.Action != AdActionPause && d.Action != AdActionEnable && d.Action != AdActionSetBudget:
		return fmt.Errorf("ad action %d: cannot undo a %q", d.ID, d.Action)
	}
	return nil
}
