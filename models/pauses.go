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
	// GuardAlertedAt is when the list-health guard last alerted about it.
	GuardAlertedAt *time.Time `json:"guard_alerted_at,omitempty"`
}

// SendHealth is how a journey's latest email sends fared.
type SendHealth struct {
	Sends, Bounced, Unsubscribed, Complaints int64
}

// RecentSendHealth counts the journey's last n email sends (the provider
// took them, or delivery is off, or the outcome is unknown): how many
// bounced, brought an unsubscribe, or a complaint.
func (s *Store) RecentSendHealth(ctx context.Context, journey string, n int) (SendHealth, error) {
	db := s.db.WithContext(ctx)
	last := db.Model(&Message{}).Select("delivery_status, unsubscribed_at").
		Where("journey = ? AND channel = ? AND status IN ?", journey, ChannelEmail, sentStatuses).Order("id DESC").Limit(n)
	var h SendHealth
	err := db.Table("(?) AS t", last).Select(`COUNT(*) AS sends,
		SUM(CASE WHEN delivery_status IN ? THEN 1 ELSE 0 END) AS bounced,
		SUM(CASE WHEN unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END) AS unsubscribed,
		SUM(CASE WHEN delivery_status = ? THEN 1 ELSE 0 END) AS complaints`, bouncedStatuses, "complained").
		Scan(&h).Error
	return h, err
}

// MarkGuardAlert notes that the guard alerted about the journey at at.
func (s *Store) MarkGuardAlert(ctx context.Context, journey string, at time.Time) error {
	t := at.UTC()
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "journey"}},
		DoUpdates: clause.AssignmentColumns([]string{"guard_alerted_at"}),
	}).Create(&JourneyPause{Journey: journey, ChangedAt: t, GuardAlertedAt: &t}).Error
}

// GuardAlertedAt is when the guard last alerted about the journey; nil
// when never.
func (s *Store) GuardAlertedAt(ctx context.Context, journey string) (*time.Time, error) {
	var p JourneyPause
	err := s.db.WithContext(ctx).Where("journey = ?", journey).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return p.GuardAlertedAt, err
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
