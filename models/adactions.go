package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/workflows"
)

// AdAction is one decision of an ad rule, or an undo: the audit log behind
// GET /v1/ads/actions. A rule run records each decision before it acts
// (outcome pending), then sets what became of it. Key makes the write
// idempotent: a retried activity finds its row.
type AdAction struct {
	ID          uint64 `gorm:"primaryKey" json:"id"`
	Key         string `gorm:"size:191;uniqueIndex;not null" json:"key"`
	Rule        string `gorm:"size:64;not null;index:idx_ad_actions_rule_day,priority:1" json:"rule"`
	RuleVersion int    `json:"rule_version"`
	Platform    string `gorm:"size:16;not null;index:idx_ad_actions_object,priority:1;index:idx_ad_actions_rule_day,priority:2" json:"platform"`
	Account     string `gorm:"size:64;index:idx_ad_actions_rule_day,priority:3" json:"account"`
	ObjectID    string `gorm:"size:64;not null;index:idx_ad_actions_object,priority:2" json:"object_id"`
	Level       string `gorm:"size:16" json:"level"`
	ObjectName  string `gorm:"size:255" json:"object_name"`
	BudgetID    string `gorm:"size:64" json:"budget_id,omitempty"` // Google's campaign budget a set_budget changes
	Currency    string `gorm:"size:3" json:"currency,omitempty"`
	Action      string `gorm:"size:16;not null;index:idx_ad_actions_object,priority:3" json:"action"` // pause, enable, set_budget
	// Figures are the inputs the rule decided on (workflows.AdFigureSet),
	// as JSON text.
	Figures workflows.AdFigureSet `gorm:"serializer:json;type:text" json:"figures"`
	Reason  string                `gorm:"size:1000" json:"reason"`
	// Before and after: a status for pause and enable, a daily budget in
	// micros for set_budget.
	StatusBefore string `gorm:"size:32" json:"status_before,omitempty"`
	StatusAfter  string `gorm:"size:32" json:"status_after,omitempty"`
	BudgetBefore int64  `json:"budget_before,omitempty"`
	BudgetAfter  int64  `json:"budget_after,omitempty"`
	Plan         string `gorm:"size:191" json:"plan,omitempty"` // decisions that stand or fall together
	Mode         string `gorm:"size:16;not null" json:"mode"`
	Outcome      string `gorm:"size:16;not null;index" json:"outcome"`
	// Response is the platform's answer, or the error.
	Response     string  `gorm:"type:text" json:"response,omitempty"`
	ConflictWith *uint64 `json:"conflict_with,omitempty"`
	// WorkflowID and RunID are the run that decided, which approvals are
	// signalled to.
	WorkflowID string `gorm:"size:191" json:"workflow_id"`
	RunID      string `gorm:"size:64" json:"run_id"`
	DecidedBy  string `gorm:"size:191" json:"decided_by,omitempty"` // who approved or rejected
	// At is when the run decided, on the workflow's clock: cooldowns and
	// daily caps count by it.
	At        time.Time  `gorm:"index:idx_ad_actions_object,priority:4;index:idx_ad_actions_rule_day,priority:4" json:"at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	UndoneAt  *time.Time `json:"undone_at,omitempty"`
	UndoneBy  *uint64    `json:"undone_by,omitempty"` // the undo's row
	UndoOf    *uint64    `gorm:"index" json:"undo_of,omitempty"`

	// ConflictKey names, when recording, the row ConflictWith is: the
	// winner may be recorded in the same call.
	ConflictKey string `gorm:"-" json:"-"`
}

// RecordAdActions writes rows, skipping keys already written, and fills in
// every row's ID (and ConflictWith from ConflictKey). A retry reads back
// the rows the first attempt wrote, as they are now.
func (s *Store) RecordAdActions(ctx context.Context, rows []*AdAction) error {
	if len(rows) == 0 {
		return nil
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		if r.Key == "" || r.Rule == "" || r.Platform == "" || r.ObjectID == "" || r.Action == "" || r.Mode == "" || r.Outcome == "" {
			return fmt.Errorf("ad action %d: key, rule, platform, object ID, action, mode and outcome are required (got %q %q %q %q %q %q %q)",
				i, r.Key, r.Rule, r.Platform, r.ObjectID, r.Action, r.Mode, r.Outcome)
		}
		r.At = r.At.UTC()
		r.Reason = clipRunes(r.Reason, 1000)
		keys[i] = r.Key
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, r := range rows {
			if err := skipDuplicates(tx).Create(r).Error; err != nil {
				return fmt.Errorf("record ad action %s: %w", r.Key, err)
			}
		}
		var stored []AdAction
		if err := tx.Where("`key` IN ?", keys).Find(&stored).Error; err != nil {
			return err
		}
		byKey := make(map[string]AdAction, len(stored))
		for _, st := range stored {
			byKey[st.Key] = st
		}
		for _, r := range rows {
			st, ok := byKey[r.Key]
			if !ok {
				return fmt.Errorf("record ad action %s: not found after writing it", r.Key)
			}
			conflictKey := r.ConflictKey
			*r = st
			r.ConflictKey = conflictKey
		}
		for _, r := range rows {
			if r.ConflictKey == "" || r.ConflictWith != nil {
				continue
			}
			w, ok := byKey[r.ConflictKey]
			if !ok {
				if err := tx.Where("`key` = ?", r.ConflictKey).Take(&w).Error; err != nil {
					return fmt.Errorf("ad action %s conflicts with %s, which is not recorded: %w", r.Key, r.ConflictKey, err)
				}
			}
			id := w.ID
			if err := tx.Model(&AdAction{}).Where("id = ?", r.ID).Update("conflict_with", id).Error; err != nil {
				return err
			}
			r.ConflictWith = &id
		}
		return nil
	})
}

// AdActionByID returns one row, or ErrNotFound.
func (s *Store) AdActionByID(ctx context.Context, id uint64) (*AdAction, error) {
	var a AdAction
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &a, err
}

// AdActionUpdate is what SetAdActionOutcome changes.
type AdActionUpdate struct {
	Outcome  string
	Response string // kept as it is when empty
	By       string // kept as it is when empty
	// From, when set, limits the change to rows in one of these outcomes,
	// so a late answer cannot overwrite one already settled.
	From []string
}

// SetAdActionOutcome sets the outcome of rows, and reports how many
// changed.
func (s *Store) SetAdActionOutcome(ctx context.Context, ids []uint64, u AdActionUpdate) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if u.Outcome == "" {
		return 0, errors.New("set ad action outcome: no outcome")
	}
	set := map[string]any{"outcome": u.Outcome, "updated_at": time.Now().UTC()}
	if u.Response != "" {
		set["response"] = u.Response
	}
	if u.By != "" {
		set["decided_by"] = clipRunes(u.By, 191)
	}
	q := s.db.WithContext(ctx).Model(&AdAction{}).Where("id IN ?", ids)
	if len(u.From) > 0 {
		q = q.Where("outcome IN ?", u.From)
	}
	res := q.Updates(set)
	return res.RowsAffected, res.Error
}

// MarkAdActionUndone marks an applied or approved row undone by the undo's
// row. It reports false when the row is not applied or approved, or is
// undone already.
func (s *Store) MarkAdActionUndone(ctx context.Context, id, undoID uint64, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&AdAction{}).
		Where("id = ? AND undone_at IS NULL AND outcome IN ?", id, []string{workflows.AdOutcomeApplied, workflows.AdOutcomeApproved}).
		Updates(map[string]any{"outcome": workflows.AdOutcomeUndone, "undone_at": at.UTC(), "undone_by": undoID, "updated_at": time.Now().UTC()})
	return res.RowsAffected == 1, res.Error
}

// AdActionFilter narrows GET /v1/ads/actions; empty fields match all.
type AdActionFilter struct {
	Rule     string
	Outcome  string
	Platform string
	ObjectID string
	Limit    int // 50 when 0, at most 500
	Offset   int
}

// AdActions lists rows newest first, and how many match in all.
func (s *Store) AdActions(ctx context.Context, f AdActionFilter) ([]AdAction, int64, error) {
	switch {
	case f.Limit < 0 || f.Offset < 0:
		return nil, 0, fmt.Errorf("limit %d and offset %d must not be negative", f.Limit, f.Offset)
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit > 500:
		f.Limit = 500
	}
	q := s.db.WithContext(ctx).Model(&AdAction{})
	for _, c := range [][2]string{{"rule", f.Rule}, {"outcome", f.Outcome}, {"platform", f.Platform}, {"object_id", f.ObjectID}} {
		if c[1] != "" {
			q = q.Where(c[0]+" = ?", c[1])
		}
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	out := []AdAction{}
	err := q.Order("id DESC").Limit(f.Limit).Offset(f.Offset).Find(&out).Error
	return out, total, err
}

// AdLastAction is when an object last had an action.
type AdLastAction struct {
	Platform string
	ObjectID string
	Action   string
	At       time.Time
}

// LastAdActions returns, per object and action, the latest row at or after
// since whose outcome is one of outcomes: what cooldowns start from. Undos
// count too: a budget a person set back is not raised again at once.
func (s *Store) LastAdActions(ctx context.Context, since time.Time, outcomes []string) ([]AdLastAction, error) {
	var rows []struct {
		Platform, ObjectID, Action string
		Last                       string
	}
	// MAX of a time comes back as text on SQLite; it is parsed below.
	err := s.db.WithContext(ctx).Model(&AdAction{}).
		Select("platform, object_id, action, MAX(at) AS last").
		Where("at >= ? AND outcome IN ?", since.UTC(), outcomes).
		Group("platform, object_id, action").Order("platform, object_id, action").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]AdLastAction, 0, len(rows))
	for _, r := range rows {
		at, err := parseDBTime(r.Last)
		if err != nil {
			return nil, fmt.Errorf("last ad action of %s %s: %w", r.Platform, r.ObjectID, err)
		}
		out = append(out, AdLastAction{Platform: r.Platform, ObjectID: r.ObjectID, Action: r.Action, At: at})
	}
	return out, nil
}

// parseDBTime reads a time aggregated in SQL, which drivers return as text.
func parseDBTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// AdActionCount is how many actions a rule took on an account.
type AdActionCount struct {
	Rule     string
	Platform string
	Account  string
	Count    int
}

// CountAdActions counts, per rule and account, the rules' rows at or after
// since whose outcome is one of outcomes: what the daily caps hold. Undos
// are people's actions, not the rule's, and do not count.
func (s *Store) CountAdActions(ctx context.Context, since time.Time, outcomes []string) ([]AdActionCount, error) {
	out := []AdActionCount{}
	err := s.db.WithContext(ctx).Model(&AdAction{}).
		Select("rule, platform, account, COUNT(*) AS count").
		Where("at >= ? AND outcome IN ? AND undo_of IS NULL", since.UTC(), outcomes).
		Group("rule, platform, account").Order("rule, platform, account").Scan(&out).Error
	return out, err
}

// Active statuses of ad objects, as each platform writes them.
var adActiveStatuses = []string{"ACTIVE", "ENABLED"}

// AdRuleFigures reads what ad rules decide on: the active campaigns and ad
// sets, and the days from sinceDay (YYYY-MM-DD) on, ordered by platform,
// object and day.
func (s *Store) AdRuleFigures(ctx context.Context, sinceDay string) ([]AdObject, []AdStat, error) {
	var objs []AdObject
	db := s.db.WithContext(ctx)
	if err := db.Where("status IN ?", adActiveStatuses).Order("platform, id").Find(&objs).Error; err != nil {
		return nil, nil, fmt.Errorf("ad objects: %w", err)
	}
	var stats []AdStat
	// Every object's days: a few days of each is small, and the caller
	// keeps those of the active ones.
	err := db.Where("day >= ?", sinceDay).Order("platform, object_id, day").Find(&stats).Error
	if err != nil {
		return nil, nil, fmt.Errorf("ad stats: %w", err)
	}
	return objs, stats, nil
}

// NoteAdObjectChange writes a change an ad action made into the object's
// row, so what rules and pages read is current before the next pull reads
// it from the platform. A zero budget or empty status is left as it is.
func (s *Store) NoteAdObjectChange(ctx context.Context, platform, id, status string, budget int64) error {
	set := map[string]any{"updated_at": time.Now().UTC()}
	if status != "" {
		set["status"] = status
	}
	if budget > 0 {
		set["daily_budget"] = budget
	}
	return s.db.WithContext(ctx).Model(&AdObject{}).Where("platform = ? AND id = ?", platform, id).Updates(set).Error
}
