package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/nudgehq/nudge/ads"
	"github.com/nudgehq/nudge/ads/google"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The ad rules' side of the boundary (workflows/adrules.go decides): read
// the figures, record decisions in ad_actions, make them on Meta or Google,
// and tell Slack.

// registerAdRules adds the ad rules' activities under the names workflows
// use.
func (a *Activities) registerAdRules(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.ReadAdFigures, activity.RegisterOptions{Name: workflows.ReadAdFiguresActivity})
	r.RegisterActivityWithOptions(a.RecordAdActions, activity.RegisterOptions{Name: workflows.RecordAdActionsActivity})
	r.RegisterActivityWithOptions(a.ApplyAdAction, activity.RegisterOptions{Name: workflows.ApplyAdActionActivity})
	r.RegisterActivityWithOptions(a.SetAdOutcome, activity.RegisterOptions{Name: workflows.SetAdOutcomeActivity})
	r.RegisterActivityWithOptions(a.PostAdNotice, activity.RegisterOptions{Name: workflows.PostAdNoticeActivity})
	r.RegisterActivityWithOptions(a.ReadAdAction, activity.RegisterOptions{Name: workflows.ReadAdActionActivity})
	r.RegisterActivityWithOptions(a.MarkAdUndone, activity.RegisterOptions{Name: workflows.MarkAdUndoneActivity})
}

// ReadAdFigures reads the active campaigns and ad sets with their recent
// days, and the recent actions cooldowns and caps count.
//
// The platforms report days in each ad account's time zone; Nudge reads
// the accounts' "today" in NUDGE_DEFAULT_TIMEZONE (Activities.Timezone,
// UTC when unset), which should be the zone the ad accounts are set to.
func (a *Activities) ReadAdFigures(ctx context.Context, req workflows.AdFiguresRequest) (workflows.AdFigures, error) {
	zone := a.Timezone
	if zone == nil {
		zone = time.UTC
	}
	now := req.At.In(zone)
	todayStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, zone)
	today := todayStart.Format(time.DateOnly)
	since := todayStart.AddDate(0, 0, -req.Days).Format(time.DateOnly)
	objs, stats, err := a.Store.AdRuleFigures(ctx, since)
	if err != nil {
		return workflows.AdFigures{}, err
	}
	f := workflows.AdFigures{Accounts: []workflows.AdAccountClock{}, Objects: []workflows.AdObjectFigures{}}
	days := map[string][]workflows.AdDay{}
	for _, s := range stats {
		k := s.Platform + "/" + s.ObjectID
		days[k] = append(days[k], workflows.AdDay{Day: s.Day, Spend: s.Spend, Value: s.Value,
			Impressions: s.Impressions, Clicks: s.Clicks, Conversions: s.Conversions})
	}
	seen := map[string]bool{}
	for _, o := range objs {
		f.Objects = append(f.Objects, workflows.AdObjectFigures{
			Platform: o.Platform, Account: o.Account, ID: o.ID, Level: o.Level, CampaignID: o.CampaignID, Name: o.Name,
			Currency: o.Currency, Status: o.Status, DailyBudget: o.DailyBudget, BudgetID: o.BudgetID,
			BudgetUnit: adBudgetUnit(o.Currency), Days: days[o.Platform+"/"+o.ID],
		})
		if k := o.Platform + "/" + o.Account; !seen[k] {
			seen[k] = true
			f.Accounts = append(f.Accounts, workflows.AdAccountClock{Platform: o.Platform, Account: o.Account, Today: today, TodayStart: todayStart.UTC()})
		}
	}
	last, err := a.Store.LastAdActions(ctx, req.Since, req.Counted)
	if err != nil {
		return workflows.AdFigures{}, err
	}
	for _, l := range last {
		f.Last = append(f.Last, workflows.AdLastAction{Platform: l.Platform, ObjectID: l.ObjectID, Action: l.Action, At: l.At})
	}
	counts, err := a.Store.CountAdActions(ctx, todayStart, req.Counted)
	if err != nil {
		return workflows.AdFigures{}, err
	}
	for _, c := range counts {
		f.Counts = append(f.Counts, workflows.AdActionCount{Rule: c.Rule, Platform: c.Platform, Account: c.Account, Count: c.Count})
	}
	return f, nil
}

// RecordAdActions writes decisions to the audit log, once per key, and
// returns their row IDs in order.
func (a *Activities) RecordAdActions(ctx context.Context, rec workflows.AdActionsRecord) ([]uint64, error) {
	rows := make([]*models.AdAction, len(rec.Decisions))
	for i, d := range rec.Decisions {
		rows[i] = &models.AdAction{
			Key: d.Key, Rule: d.Rule, RuleVersion: d.RuleVersion, Platform: d.Platform, Account: d.Account,
			ObjectID: d.ObjectID, Level: d.Level, ObjectName: d.ObjectName, BudgetID: d.BudgetID, Currency: d.Currency,
			Action: d.Action, Figures: d.Figures, Reason: d.Reason, StatusBefore: d.StatusBefore, StatusAfter: d.StatusAfter,
			BudgetBefore: d.BudgetBefore, BudgetAfter: d.BudgetAfter, Plan: d.Plan, Mode: d.Mode, Outcome: d.Outcome,
			WorkflowID: rec.WorkflowID, RunID: rec.RunID, At: rec.At, ConflictKey: d.ConflictWithKey,
		}
		if d.UndoOf != 0 {
			undoOf := d.UndoOf
			rows[i].UndoOf = &undoOf
		}
	}
	if err := a.Store.RecordAdActions(ctx, rows); err != nil {
		return nil, err
	}
	ids := make([]uint64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

// ApplyAdAction makes one recorded decision on its platform (or checks it
// with validate-only) and records the outcome. A refusal is an outcome
// (failed, with the platform's answer), not an error; only a failure worth
// retrying (a timeout, a rate limit, the platform's own trouble) is
// returned, and Temporal retries it. A retry after an unknown answer sends
// the same absolute status or budget again, which changes nothing twice.
func (a *Activities) ApplyAdAction(ctx context.Context, req workflows.AdApplyRequest) (workflows.AdApplyResult, error) {
	row, err := a.Store.AdActionByID(ctx, req.ID)
	if errors.Is(err, models.ErrNotFound) {
		return workflows.AdApplyResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no ad action %d", req.ID), "AdActionNotFound", err)
	}
	if err != nil {
		return workflows.AdApplyResult{}, err
	}
	if row.Outcome != workflows.AdOutcomePending {
		// An earlier attempt settled it.
		return workflows.AdApplyResult{Outcome: row.Outcome, Response: row.Response}, nil
	}
	response, err := a.changeAdObject(ctx, row, req.ValidateOnly)
	outcome := req.Outcome
	switch {
	case err != nil && ads.Retryable(err):
		return workflows.AdApplyResult{}, err
	case err != nil:
		outcome, response = workflows.AdOutcomeFailed, err.Error()
		activity.GetLogger(ctx).Warn("ad action refused", "id", row.ID, "error", err)
	}
	if _, err := a.Store.SetAdActionOutcome(ctx, []uint64{row.ID}, models.AdActionUpdate{Outcome: outcome, Response: response, By: req.By,
		From: []string{workflows.AdOutcomePending}}); err != nil {
		return workflows.AdApplyResult{}, err
	}
	if outcome != workflows.AdOutcomeFailed && !req.ValidateOnly {
		if err := a.Store.NoteAdObjectChange(ctx, row.Platform, row.ObjectID, row.StatusAfter, row.BudgetAfter); err != nil {
			activity.GetLogger(ctx).Warn("ad object not updated after its change; the next pull will", "id", row.ID, "error", err)
		}
	}
	return workflows.AdApplyResult{Outcome: outcome, Response: response}, nil
}

// adBudgetUnit is the smallest step of a daily budget in micros: a cent
// (10,000) for most currencies, a whole unit for those Meta counts whole
// (JPY, KRW, …; ads.MetaOffset). Google wants budgets in the same steps.
func adBudgetUnit(currency string) int64 { return 1_000_000 / ads.MetaOffset(currency) }

// errAdPlatformOff is a change for a platform Nudge has no client for.
var errAdPlatformOff = errors.New("is not configured")

// changeAdObject sends the row's change to its platform and returns what
// the platform answered, for the audit row. An undo (UndoOf set) first
// reads the object and goes ahead only if the platform still holds what
// the undone action set (checkUndo).
func (a *Activities) changeAdObject(ctx context.Context, row *models.AdAction, validateOnly bool) (string, error) {
	switch row.Platform {
	case workflows.AdPlatformMeta:
		if a.Ads.Meta == nil {
			return "", fmt.Errorf("Meta %w: set NUDGE_META_ACCESS_TOKEN", errAdPlatformOff)
		}
		if row.UndoOf != nil {
			o, err := a.Ads.Meta.Object(ctx, row.ObjectID)
			if err != nil {
				return "", fmt.Errorf("%s %s could not be read on Meta before the undo: %w", row.Level, row.ObjectID, err)
			}
			now := adHeld{status: string(o.Status), budget: o.DailyBudget * adBudgetUnit(row.Currency), budgetID: row.BudgetID}
			if err := checkUndo(ctx, row, "Meta", now); err != nil {
				return "", err
			}
		}
		ch := meta.Change{ValidateOnly: validateOnly}
		switch row.Action {
		case workflows.AdActionPause, workflows.AdActionEnable:
			ch.Status = meta.Status(row.StatusAfter)
		case workflows.AdActionSetBudget:
			unit := adBudgetUnit(row.Currency)
			if row.BudgetAfter%unit != 0 {
				return "", fmt.Errorf("budget %s %s is not a whole number of Meta's budget units", ads.Micros(row.BudgetAfter), row.Currency)
			}
			ch.DailyBudget = row.BudgetAfter / unit
		default:
			return "", fmt.Errorf("unknown ad action %q", row.Action)
		}
		if err := a.Ads.Meta.Update(ctx, row.ObjectID, ch); err != nil {
			return "", err
		}
		if validateOnly {
			return `Meta validated the change (execution_options ["validate_only"]); nothing changed`, nil
		}
		return `Meta answered {"success": true}`, nil

	case workflows.AdPlatformGoogle:
		if a.Ads.Google == nil {
			return "", fmt.Errorf("Google Ads %w: set NUDGE_GOOGLE_ADS_DEVELOPER_TOKEN, NUDGE_GOOGLE_ADS_CUSTOMER_ID and the OAuth settings", errAdPlatformOff)
		}
		if a.Ads.GoogleCustomerID != "" && row.Account != "" && row.Account != a.Ads.GoogleCustomerID {
			return "", fmt.Errorf("Google Ads account %s is not NUDGE_GOOGLE_ADS_CUSTOMER_ID (%s)", row.Account, a.Ads.GoogleCustomerID)
		}
		if row.UndoOf != nil {
			c, err := a.Ads.Google.Campaign(ctx, row.ObjectID)
			if err != nil {
				return "", fmt.Errorf("%s %s could not be read on Google Ads before the undo: %w", row.Level, row.ObjectID, err)
			}
			if err := checkUndo(ctx, row, "Google Ads", adHeld{status: c.Status, budget: int64(c.BudgetAmount), budgetID: c.BudgetID}); err != nil {
				return "", err
			}
		}
		var m google.Mutation
		var err error
		switch row.Action {
		case workflows.AdActionPause, workflows.AdActionEnable:
			m, err = a.Ads.Google.SetCampaignStatus(ctx, row.ObjectID, google.CampaignStatus(row.StatusAfter), validateOnly)
		case workflows.AdActionSetBudget:
			if row.BudgetID == "" {
				return "", fmt.Errorf("campaign %s has no campaign budget to change", row.ObjectID)
			}
			m, err = a.Ads.Google.SetBudget(ctx, row.BudgetID, ads.Micros(row.BudgetAfter), validateOnly)
		default:
			return "", fmt.Errorf("unknown ad action %q", row.Action)
		}
		if err != nil {
			return "", err
		}
		if validateOnly {
			return "Google validated the change (validateOnly); nothing changed; request-id " + m.RequestID, nil
		}
		return "Google changed " + m.ResourceName + "; request-id " + m.RequestID, nil
	}
	return "", fmt.Errorf("unknown ad platform %q", row.Platform)
}

// adHeld is what a platform holds now for an object: its status, its
// daily budget in micros (0: none, the budget is set elsewhere) and, on
// Google, the campaign budget it draws on.
type adHeld struct {
	status   string
	budget   int64
	budgetID string
}

// errAdChangedElsewhere is an undo refused because the object no longer
// holds what the undone action set: a person (in Ads Manager or the Google
// Ads UI) or another tool changed it since, and setting the value from
// before the action back would silently overwrite that change.
var errAdChangedElsewhere = errors.New("it was changed elsewhere since, and an undo only reverses Nudge's own change")

// checkUndo compares what the platform holds now with what the undone
// action set, which is the undo row's before value (AdUndoWorkflow swaps
// them): the status for a pause or enable, the daily budget (and, on
// Google, which campaign budget) for a budget change. A difference refuses
// the undo, naming both values; nothing is sent.
//
// A retry of the activity may find the undo's own value there: an earlier
// attempt's change went through but its answer was lost. That attempt's
// change is let through (it is sent again, which changes nothing twice);
// on a first attempt the same value means someone set it back by hand, and
// the undo is refused like any other difference.
func checkUndo(ctx context.Context, row *models.AdAction, platform string, now adHeld) error {
	retry := activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt > 1
	what := fmt.Sprintf("%s %s", row.Level, row.ObjectID)
	switch row.Action {
	case workflows.AdActionPause, workflows.AdActionEnable:
		if now.status == row.StatusBefore || retry && now.status == row.StatusAfter {
			return nil
		}
		return fmt.Errorf("not undone: %s's status on %s is now %s, not the %s that action %d set; %w",
			what, platform, now.status, row.StatusBefore, *row.UndoOf, errAdChangedElsewhere)
	case workflows.AdActionSetBudget:
		if row.BudgetID != "" && now.budgetID != row.BudgetID {
			held := "campaign budget " + now.budgetID
			if now.budgetID == "" {
				held = "no campaign budget"
			}
			return fmt.Errorf("not undone: %s now draws on %s on %s, not budget %s that action %d changed; %w",
				what, held, platform, row.BudgetID, *row.UndoOf, errAdChangedElsewhere)
		}
		if now.budget == row.BudgetBefore || retry && now.budget == row.BudgetAfter {
			return nil
		}
		held := "unset"
		if now.budget > 0 {
			held = ads.Micros(now.budget).String() + " " + row.Currency
		}
		return fmt.Errorf("not undone: %s's daily budget on %s is now %s, not the %s %s that action %d set; %w",
			what, platform, held, ads.Micros(row.BudgetBefore), row.Currency, *row.UndoOf, errAdChangedElsewhere)
	}
	return fmt.Errorf("unknown ad action %q", row.Action)
}

// SetAdOutcome records what became of decisions: rejected, expired, or
// failed when the workflow gave up on them.
func (a *Activities) SetAdOutcome(ctx context.Context, req workflows.AdOutcomeRequest) error {
	_, err := a.Store.SetAdActionOutcome(ctx, req.IDs, models.AdActionUpdate{Outcome: req.Outcome, Response: req.Response, By: req.By, From: req.From})
	return err
}

// ReadAdAction returns one audit row as a decision.
func (a *Activities) ReadAdAction(ctx context.Context, id uint64) (workflows.AdDecision, error) {
	row, err := a.Store.AdActionByID(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return workflows.AdDecision{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no ad action %d", id), "AdActionNotFound", err)
	}
	if err != nil {
		return workflows.AdDecision{}, err
	}
	return AdDecisionOf(row), nil
}

// AdDecisionOf is an audit row as the workflows and the API read it.
func AdDecisionOf(r *models.AdAction) workflows.AdDecision {
	d := workflows.AdDecision{
		ID: r.ID, Key: r.Key, Rule: r.Rule, RuleVersion: r.RuleVersion, Platform: r.Platform, Account: r.Account,
		ObjectID: r.ObjectID, Level: r.Level, ObjectName: r.ObjectName, BudgetID: r.BudgetID, Currency: r.Currency,
		Action: r.Action, StatusBefore: r.StatusBefore, StatusAfter: r.StatusAfter, BudgetBefore: r.BudgetBefore,
		BudgetAfter: r.BudgetAfter, Reason: r.Reason, Figures: r.Figures, Plan: r.Plan, Mode: r.Mode, Outcome: r.Outcome,
		Response: r.Response, DecidedBy: r.DecidedBy, UndoneAt: r.UndoneAt, WorkflowID: r.WorkflowID, RunID: r.RunID,
	}
	if r.ConflictWith != nil {
		d.ConflictWith = *r.ConflictWith
	}
	if r.UndoOf != nil {
		d.UndoOf = *r.UndoOf
	}
	if r.UndoneBy != nil {
		d.UndoneBy = *r.UndoneBy
	}
	return d
}

// MarkAdUndone marks an action undone by another; an action no longer
// applied (another undo came first) is refused for good.
func (a *Activities) MarkAdUndone(ctx context.Context, m workflows.AdUndoMark) error {
	ok, err := a.Store.MarkAdActionUndone(ctx, m.ID, m.UndoID, m.At)
	if err != nil {
		return err
	}
	if !ok {
		msg := fmt.Sprintf("ad action %d is no longer applied (undone meanwhile?); undo %d was made", m.ID, m.UndoID)
		return temporal.NewNonRetryableApplicationError(msg, "AdActionNotUndoable", nil)
	}
	return nil
}

// PostAdNotice tells Slack about ad actions, through the same send
// protocol as every alert (outbox.go): one messages row on the channel
// "slack", keyed ads/<first action ID>/<kind>, so it is posted at most once.
func (a *Activities) PostAdNotice(ctx context.Context, n workflows.AdNotice) (workflows.SendResult, error) {
	if len(n.IDs) == 0 {
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError("an ad notice names no action", "BadAdNotice", nil)
	}
	rows := make([]*models.AdAction, len(n.IDs))
	for i, id := range n.IDs {
		r, err := a.Store.AdActionByID(ctx, id)
		if errors.Is(err, models.ErrNotFound) {
			return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no ad action %d", id), "AdActionNotFound", err)
		}
		if err != nil {
			return workflows.SendResult{}, err
		}
		rows[i] = r
	}
	alert, err := adNoticeAlert(n, rows)
	if err != nil {
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadAdNotice", err)
	}
	to := strings.TrimSpace(n.Channel)
	if to == "" {
		to = strings.TrimSpace(a.Ads.Channel)
	}
	row := models.Message{
		Key: fmt.Sprintf("ads/%d/%s", n.IDs[0], n.Kind), Step: "ad_" + n.Kind, Channel: models.ChannelSlack,
		At: n.At.UTC(), Template: "slack/ad_" + n.Kind, To: to,
		Subject: slackClip(alert.headline, 500), Text: alert.fallback,
	}
	if to == "" {
		return a.skip(ctx, row, "no Slack channel for ad actions: NUDGE_SLACK_ADS_CHANNEL is empty")
	}
	if payload, err := json.Marshal(map[string]any{"text": alert.fallback, "blocks": alert.blocks}); err == nil {
		row.HTML = string(payload)
	}
	out := outgoing{row: row, result: workflows.SendResult{To: to, Subject: row.Subject}}
	if a.Slack != nil {
		out.deliver = oneRequest(fmt.Sprintf("post ad %s notice to %s", n.Kind, to), func(ctx context.Context) (string, error) {
			return a.Slack.Post(ctx, to, alert.blocks, alert.fallback)
		})
	}
	return a.send(ctx, out)
}

// adNoticeAlert renders a notice.
func adNoticeAlert(n workflows.AdNotice, rows []*models.AdAction) (slackAlert, error) {
	first := rows[0]
	var headline, icon string
	switch n.Kind {
	case workflows.AdNoticeApplied:
		icon, headline = ":white_check_mark:", adHeadline(first)
		if first.UndoOf != nil {
			headline = fmt.Sprintf("Undone: action %d (%s)", *first.UndoOf, adHeadline(first))
		}
	case workflows.AdNoticeFailed:
		icon, headline = ":x:", "Failed: "+adHeadline(first)
	case workflows.AdNoticeApproval:
		icon, headline = ":raising_hand:", "Approve? "+adHeadline(first)
		if len(rows) > 1 {
			headline = fmt.Sprintf("Approve? %s plan: %d changes", first.Rule, len(rows))
		}
	case workflows.AdNoticeExpired:
		icon, headline = ":hourglass:", "No answer, nothing done: "+adHeadline(first)
		if len(rows) > 1 {
			headline = fmt.Sprintf("No answer, nothing done: %s plan of %d changes", first.Rule, len(rows))
		}
	default:
		return slackAlert{}, fmt.Errorf("unknown ad notice kind %q (want %s, %s, %s or %s)", n.Kind,
			workflows.AdNoticeApplied, workflows.AdNoticeFailed, workflows.AdNoticeApproval, workflows.AdNoticeExpired)
	}
	blocks := []slack.Block{slackSection(icon + " *" + slackEscape(headline) + "*")}
	lines := []string{headline}
	for _, r := range rows {
		text := fmt.Sprintf("*%s*%s · %s *%s* (%s %s, account %s)\n%s", slackEscape(r.Rule), adMode(r),
			r.Level, slackEscape(r.ObjectName), r.Platform, slackEscape(r.ObjectID), slackEscape(r.Account), slackEscape(adChange(r)))
		text += "\n_" + slackEscape(r.Reason) + "_"
		if n.Kind == workflows.AdNoticeFailed && r.Response != "" {
			text += "\n" + slackEscape(r.Response)
		}
		blocks = append(blocks, slackSection(text))
		lines = append(lines, fmt.Sprintf("#%d %s: %s %s, %s", r.ID, r.Rule, r.Level, r.ObjectID, adChange(r)))
	}
	var refs []string
	for _, r := range rows {
		refs = append(refs, "#"+strconv.FormatUint(r.ID, 10))
	}
	footer := "Ad action " + strings.Join(refs, ", ")
	switch n.Kind {
	case workflows.AdNoticeApplied:
		if first.UndoOf == nil {
			footer += fmt.Sprintf(" · undo: POST /v1/ads/actions/%d/undo", first.ID)
		}
	case workflows.AdNoticeApproval:
		footer += " · waits until " + n.Expires.UTC().Format("2006-01-02 15:04 MST") + ", then nothing is done"
	}
	blocks = append(blocks, slack.NewContextBlock("", slackMrkdwn(footer)))
	if n.Kind == workflows.AdNoticeApproval {
		value := strconv.FormatUint(first.ID, 10)
		blocks = append(blocks, slack.NewActionBlock("ad_approval_"+value,
			slack.NewButtonBlockElement(workflows.SlackActionAdApprove, value, slackPlain("Approve")).WithStyle(slack.StylePrimary),
			slack.NewButtonBlockElement(workflows.SlackActionAdReject, value, slackPlain("Reject")).WithStyle(slack.StyleDanger),
		))
	}
	return slackAlert{headline: headline, fallback: strings.Join(lines, "\n"), blocks: blocks}, nil
}

// adHeadline says what an action does, such as "pause_low_roas paused
// campaign Spring sale".
func adHeadline(r *models.AdAction) string {
	verb := map[string]string{workflows.AdActionPause: "pause", workflows.AdActionEnable: "enable", workflows.AdActionSetBudget: "set the budget of"}[r.Action]
	return fmt.Sprintf("%s: %s %s %s", r.Rule, verb, r.Level, r.ObjectName)
}

func adMode(r *models.AdAction) string {
	if r.Mode == workflows.AdModeDryRun {
		return " (dry run)"
	}
	return ""
}

// adChange is a row's before and after, such as "ACTIVE → PAUSED" or
// "budget 50.00 → 60.00 USD".
func adChange(r *models.AdAction) string {
	if r.Action == workflows.AdActionSetBudget {
		return fmt.Sprintf("budget %s → %s %s", ads.Micros(r.BudgetBefore), ads.Micros(r.BudgetAfter), r.Currency)
	}
	return r.StatusBefore + " → " + r.StatusAfter
}
