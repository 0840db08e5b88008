package models

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// StageChange is one move of a contact between lifecycle stages, so time in
// stage can be measured. A contact's history starts with a row for the
// stage it was in first (FromStage ""): written with its first change, or,
// for contacts from before stage history, by Migrate from the stage they
// were in then. A contact with no rows has been in its current stage since
// it was created.
type StageChange struct {
	ID        uint64    `gorm:"primaryKey" json:"-"`
	ContactID string    `gorm:"size:191;index:idx_stage_changes_contact,priority:1;not null" json:"contact_id"`
	FromStage string    `gorm:"size:16" json:"from"`
	ToStage   string    `gorm:"size:16;index;not null" json:"to"`
	At        time.Time `gorm:"index:idx_stage_changes_contact,priority:2" json:"at"`
	Reason    string    `gorm:"size:255" json:"reason,omitempty"`
}

// Reasons of the rows that open a contact's history.
const (
	StageReasonCreated  = "created"
	StageReasonBackfill = "stage when stage history began"
)

// recordStage writes the move to stage, when it is one: the contact's row
// says where it was. ContactWorkflow is the only writer of a contact's
// stage, one change at a time, so reading and then writing in tx is safe,
// and a retried write finds the stage already moved and adds nothing.
func recordStage(tx *gorm.DB, contactID, stage, why string, at time.Time) error {
	var c Contact
	err := tx.Select("id", "lifecycle_stage", "created_at").Where("id = ?", contactID).Take(&c).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil
	case err != nil || c.LifecycleStage == stage || stage == "":
		return err
	}
	var n int64
	if err := tx.Model(&StageChange{}).Where("contact_id = ?", contactID).Count(&n).Error; err != nil {
		return err
	}
	rows := []StageChange{{ContactID: contactID, FromStage: c.LifecycleStage, ToStage: stage, At: at.UTC(), Reason: clipRunes(why, 255)}}
	if n == 0 {
		first := StageChange{ContactID: contactID, ToStage: c.LifecycleStage, At: c.CreatedAt.UTC(), Reason: StageReasonCreated}
		rows = append([]StageChange{first}, rows...)
	}
	return tx.Create(&rows).Error
}

// backfillStages opens the history of every contact that has none, with
// the stage it is in now, from when it was created.
func backfillStages(db *gorm.DB) error {
	return db.Exec(`INSERT INTO stage_changes (contact_id, from_stage, to_stage, at, reason)
		SELECT c.id, '', c.lifecycle_stage, c.created_at, ? FROM contacts c
		WHERE NOT EXISTS (SELECT 1 FROM stage_changes s WHERE s.contact_id = c.id)`, StageReasonBackfill).Error
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// StageHistory returns a contact's stage changes, oldest first.
func (s *Store) StageHistory(ctx context.Context, contactID string) ([]StageChange, error) {
	out := []StageChange{}
	err := s.db.WithContext(ctx).Where("contact_id = ?", contactID).Order("at, id").Find(&out).Error
	return out, err
}
