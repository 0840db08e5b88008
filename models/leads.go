package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrNoSalesReps is returned when a lead needs an owner and no reps are
// configured.
var ErrNoSalesReps = errors.New("no sales reps to hand the lead to: set NUDGE_SALES_REPS")

// ScoreChange is one change to record in the ledger.
type ScoreChange struct {
	Rule   string
	Points int64
	Reason string
}

// RecordScore appends score changes to the contact's ledger and stores its
// new score and lifecycle stage, in one transaction.
func (s *Store) RecordScore(ctx context.Context, contactID string, changes []ScoreChange, score int64, stage, why string, at time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := recordStage(tx, contactID, stage, why, at); err != nil {
			return err
		}
		running := score
		for i := len(changes) - 1; i >= 0; i-- {
			running -= changes[i].Points
		}
		for _, c := range changes {
			running += c.Points
			if err := tx.Create(&ScoreEntry{ContactID: contactID, Rule: c.Rule, Points: c.Points, Reason: c.Reason, Score: running, At: at.UTC()}).Error; err != nil {
				return err
			}
		}
		return tx.Model(&Contact{}).Where("id = ?", contactID).
			Updates(map[string]any{"lead_score": score, "lifecycle_stage": stage}).Error
	})
}

// ScoreLedger returns a contact's score entries, oldest first.
func (s *Store) ScoreLedger(ctx context.Context, contactID string) ([]ScoreEntry, error) {
	var out []ScoreEntry
	err := s.db.WithContext(ctx).Where("contact_id = ?", contactID).Order("at, id").Find(&out).Error
	return out, err
}

// ScoreBreakdown sums a contact's points by rule.
func (s *Store) ScoreBreakdown(ctx context.Context, contactID string) (map[string]int64, error) {
	var rows []struct {
		Rule   string
		Points int64
	}
	err := s.db.WithContext(ctx).Model(&ScoreEntry{}).Select("rule, SUM(points) AS points").
		Where("contact_id = ?", contactID).Group("rule").Scan(&rows).Error
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Rule] = r.Points
	}
	return out, err
}

// Rep is a sales rep, as the store keeps one on a contact or task.
type Rep struct {
	Name, Email, SlackID string
}

// AssignOwner gives the contact an owner: the one it has, else the next rep
// in turn (a round robin kept in the database, so every worker agrees).
func (s *Store) AssignOwner(ctx context.Context, contactID string, reps []Rep) (Rep, error) {
	var owner Rep
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Contact
		if err := tx.Where("id = ?", contactID).Take(&c).Error; err != nil {
			return err
		}
		if c.OwnerEmail != "" {
			owner = Rep{Name: c.OwnerName, Email: c.OwnerEmail, SlackID: c.OwnerSlackID}
			return nil
		}
		if len(reps) == 0 {
			return ErrNoSalesReps
		}
		n, err := s.next(tx, "sales_rep_round_robin")
		if err != nil {
			return err
		}
		owner = reps[int(n-1)%len(reps)]
		return tx.Model(&Contact{}).Where("id = ?", contactID).
			Updates(map[string]any{"owner_name": owner.Name, "owner_email": owner.Email, "owner_slack_id": owner.SlackID}).Error
	})
	return owner, err
}

// next increments a counter and returns its new value.
func (s *Store) next(tx *gorm.DB, name string) (int64, error) {
	if err := skipDuplicates(tx).Create(&Counter{Name: name}).Error; err != nil {
		return 0, err
	}
	if err := tx.Model(&Counter{}).Where("name = ?", name).Update("value", gorm.Expr("value + 1")).Error; err != nil {
		return 0, err
	}
	var c Counter
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("name = ?", name).Take(&c).Error
	return c.Value, err
}

// OpenTask creates the contact's task of this kind, or returns the one
// already open: a retried handoff makes no second task.
func (s *Store) OpenTask(ctx context.Context, t *Task) (*Task, error) {
	var existing Task
	err := s.db.WithContext(ctx).Where("contact_id = ? AND kind = ? AND status = ?", t.ContactID, t.Kind, TaskOpen).Take(&existing).Error
	switch {
	case err == nil:
		return &existing, nil
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, err
	}
	t.Status = TaskOpen
	return t, s.db.WithContext(ctx).Create(t).Error
}

// HasOpenTask reports whether a rep has the contact: an open task of any
// kind.
func (s *Store) HasOpenTask(ctx context.Context, contactID string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Task{}).Where("contact_id = ? AND status = ?", contactID, TaskOpen).Limit(1).Count(&n).Error
	return n > 0, err
}

// Task returns one task, or ErrNotFound.
func (s *Store) Task(ctx context.Context, id uint64) (*Task, error) {
	var t Task
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &t, err
}

// Tasks lists tasks, newest first, filtered by status and rep when given.
func (s *Store) Tasks(ctx context.Context, status, repEmail string, limit, offset int) ([]Task, error) {
	q := s.db.WithContext(ctx).Order("id DESC").Limit(limit).Offset(offset)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if repEmail != "" {
		q = q.Where("rep_email = ?", repEmail)
	}
	var out []Task
	return out, q.Find(&out).Error
}

// CloseTask moves an open task to accepted or closed. It reports false
// when the task was not open.
func (s *Store) CloseTask(ctx context.Context, id uint64, status, reason string, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Task{}).Where("id = ? AND status = ?", id, TaskOpen).
		Updates(map[string]any{"status": status, "closed_reason": reason, "closed_at": at.UTC()})
	return res.RowsAffected == 1, res.Error
}

// SuppressEmail stops marketing email to every contact with this address
// (a hard bounce or a complaint). It returns the contacts changed.
func (s *Store) SuppressEmail(ctx context.Context, email, reason string, at time.Time) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		yes := true
		// For the address, so contacts that get it later are covered too.
		if _, err := changeSuppression(tx, SuppressionChange{Channel: ChannelEmail, Address: email, Suppressed: &yes, Reason: reason, At: at}); err != nil {
			return err
		}
		var err error
		if ids, err = contactIDsWithEmail(tx, email); err != nil || len(ids) == 0 {
			return err
		}
		return tx.Model(&Contact{}).Where("id IN ? AND email_suppressed_at IS NULL", ids).
			Updates(map[string]any{"email_suppressed_at": at.UTC(), "suppression_reason": reason}).Error
	})
	return ids, err
}

// MarkUnengaged excludes a contact from marketing sends after a win-back
// went unanswered.
func (s *Store) MarkUnengaged(ctx context.Context, contactID string, at time.Time) error {
	return s.db.WithContext(ctx).Model(&Contact{}).Where("id = ? AND unengaged_at IS NULL", contactID).
		Update("unengaged_at", at.UTC()).Error
}
