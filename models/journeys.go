package models

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// JourneyRun is one run of a journey for one contact, as the journey
// recorded it: a row when it starts, completed when it ends with its
// outcome (workflows.Outcome…) and why. Outcome is "" while it runs. Runs
// of workflow version 3 and later record themselves; older ones do not.
type JourneyRun struct {
	RunID      string `gorm:"primaryKey;size:64" json:"run_id"`
	WorkflowID string `gorm:"size:1024" json:"workflow_id"`
	Journey    string `gorm:"size:64;index:idx_journey_runs_period,priority:1;index:idx_journey_runs_active,priority:2;not null" json:"journey"`
	Key        string `gorm:"size:191" json:"key,omitempty"`
	ContactID  string `gorm:"size:191;index;not null" json:"contact_id"`
	// idx_journey_runs_start_outcome counts the runs of all journeys in a
	// period (the overview), from the index alone.
	StartedAt time.Time  `gorm:"index:idx_journey_runs_period,priority:2;index:idx_journey_runs_start_outcome,priority:1" json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// The results count runs by these covering indexes.
	Outcome string `gorm:"size:16;index:idx_journey_runs_period,priority:3;index:idx_journey_runs_active,priority:1;index:idx_journey_runs_start_outcome,priority:2" json:"outcome,omitempty"`
	Reason  string `gorm:"size:500" json:"reason,omitempty"`
}

// RecordJourneyRun writes a run's start (r.Outcome "") or its end. A start
// recorded twice (a retried activity) is kept once; an end completes the
// row, and writes the whole of it if the start was never recorded.
func (s *Store) RecordJourneyRun(ctx context.Context, r *JourneyRun) error {
	db := s.db.WithContext(ctx)
	if r.Outcome == "" {
		return skipDuplicates(db).Create(r).Error
	}
	return db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "run_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"ended_at", "outcome", "reason"}),
	}).Create(r).Error
}

// JourneyRuns lists a contact's journey runs, newest first.
// (with those of contacts merged into it).
func (s *Store) JourneyRuns(ctx context.Context, contactID string) ([]JourneyRun, error) {
	out := []JourneyRun{}
	ids, err := s.withMerged(ctx, contactID)
	if err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Where("contact_id IN ?", ids).Order("started_at DESC, run_id").Find(&out).Error
	return out, err
}

// ContactEvents lists a contact's latest events, newest first (with those
// of contacts merged into it).
func (s *Store) ContactEvents(ctx context.Context, contactID string, limit int) ([]Event, error) {
	out := []Event{}
	ids, err := s.withMerged(ctx, contactID)
	if err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Where("contact_id IN ?", ids).Order("timestamp DESC, id DESC").Limit(limit).Find(&out).Error
	return out, err
}
