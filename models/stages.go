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
	// EnteredAt is when the contact entered FromStage: the At of its
	// change before this one. Kept on the row so time in stage reads one
	// row per stay; nil on the row that opens a history.
	EnteredAt *time.Time `json:"-"`
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
	var last []StageChange
	if err := tx.Where("contact_id = ?", contactID).Order("at DESC, id DESC").Limit(1).Find(&last).Error; err != nil {
		return err
	}
	if len(last) == 0 {
		first := StageChange{ContactID: contactID, ToStage: c.LifecycleStage, At: c.CreatedAt.UTC(), Reason: StageReasonCreated}
		if err := tx.Create(&first).Error; err != nil {
			return err
		}
		last = append(last, first)
	}
	entered := last[0].At.UTC()
	return tx.Create(&StageChange{ContactID: contactID, FromStage: c.LifecycleStage, ToStage: stage, At: at.UTC(), Reason: clipRunes(why, 255), EnteredAt: &entered}).Error
}

// backfillStages opens the history of every contact that has none, with
// the stage it is in now, from when it was created.
func backfillStages(db *gorm.DB) error {
	return db.Exec(`INSERT INTO stage_changes (contact_id, from_stage, to_stage, at, reason)
		SELECT c.id, '', c.lifecycle_stage, c.created_at, ? FROM contacts c
		WHERE NOT EXISTS (SELECT 1 FROM stage_changes s WHERE s.contact_id = c.id)`, StageReasonBackfill).Error
}

// AfterCreate fills in EnteredAt for a change written without it (an
// import, a fixture): recordStage sets it itself.
func (c *StageChange) AfterCreate(tx *gorm.DB) error {
	if c.EnteredAt != nil || c.FromStage == "" {
		return nil
	}
	var prev []time.Time
	err := tx.Model(&StageChange{}).Where("contact_id = ? AND (at < ? OR (at = ? AND id < ?))", c.ContactID, c.At, c.At, c.ID).
		Order("at DESC, id DESC").Limit(1).Pluck("at", &prev).Error
	if err != nil || len(prev) == 0 {
		return err
	}
	c.EnteredAt = &prev[0]
	return tx.Model(&StageChange{}).Where("id = ?", c.ID).Update("entered_at", prev[0]).Error
}

// backfillEnteredAt sets EnteredAt on the changes written before it was
// kept (and on any written without it): the At of the contact's change
// before. SQLite and MySQL spell an UPDATE from a derived table apiece.
func backfillEnteredAt(db *gorm.DB) error {
	entered := `SELECT c.id, (SELECT p.at FROM stage_changes p WHERE p.contact_id = c.contact_id AND (p.at < c.at OR (p.at = c.at AND p.id < c.id))
		ORDER BY p.at DESC, p.id DESC LIMIT 1) AS prev FROM stage_changes c WHERE c.from_stage <> '' AND c.entered_at IS NULL`
	if db.Dialector.Name() == "mysql" {
		return db.Exec("UPDATE stage_changes s JOIN (" + entered + ") x ON x.id = s.id SET s.entered_at = x.prev").Error
	}
	return db.Exec("UPDATE stage_changes SET entered_at = x.prev FROM (" + entered + ") AS x WHERE x.id = stage_changes.id").Error
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
