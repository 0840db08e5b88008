package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// JourneyPause says a journey is paused: no contact enters it, and its
// runs hold before their next send until it is resumed. A journey with no
// row, or with Paused false, runs.
type JourneyPause struct {
	Journey   string    `gorm:"primaryKey;size:64" json:"journey"`
	Paused    bool      `json:"paused"`
	Reason    string    `gorm:"size:500" json:"reason,omitempty"`
	ChangedBy string    `gorm:"size:64" json:"changed_by,omitempty"` // "admin", or "guard" when list health paused it
	ChangedAt time.Time `json:"changed_at"`
}

// SetJourneyPaused pauses or resumes a journey.
func (s *Store) SetJourneyPaused(ctx context.Context, journey string, paused bool, reason, by string, at time.Time) error {
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "journey"}},
		DoUpdates: clause.AssignmentColumns([]string{"paused", "reason", "changed_by", "changed_at"}),
	}).Create(&JourneyPause{Journey: journey, Paused: paused, Reason: clipRunes(reason, 500), ChangedBy: by, ChangedAt: at.UTC()}).Error
}

// JourneyPaused reports whether the journey is paused now.
func (s *Store) JourneyPaused(ctx context.Context, journey string) (bool, error) {
	var p JourneyPause
	err := s.db.WithContext(ctx).Where("journey = ?", journey).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	return p.Paused, err
}

// JourneyPauses lists the journeys that were ever paused, with their
// state now.
func (s *Store) JourneyPauses(ctx context.Context) ([]JourneyPause, error) {
	out := []JourneyPause{}
	return out, s.db.WithContext(ctx).Order("journey").Find(&out).Error
}

// PausedJourneys lists the journeys paused now.
func (s *Store) PausedJourneys(ctx context.Context) ([]string, error) {
	var names []string
	return names, s.db.WithContext(ctx).Model(&JourneyPause{}).Where("paused = ?", true).Order("journey").Pluck("journey", &names).Error
}
