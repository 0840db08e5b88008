package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/experiments"
	"github.com/nudgehq/nudge/workflows"
)

// Experiment is an A/B split a journey runs (workflows.Run.Split). Its row
// is written when the first contact reaches it, with the arms as the
// journey's code defines them, and kept in step with the code after that.
// Once promoted, contacts reaching it for the first time get Winner.
type Experiment struct {
	Name       string          `gorm:"primaryKey;size:64" json:"name"`
	Journey    string          `gorm:"size:64" json:"journey"`
	Arms       []workflows.Arm `gorm:"serializer:json;type:text" json:"arms"`
	Winner     string          `gorm:"size:64" json:"promoted_winner,omitempty"`
	PromotedAt *time.Time      `json:"promoted_at,omitempty"`
	PromotedBy string          `gorm:"size:64" json:"promoted_by,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
}

// ExperimentAssignment is a contact's arm in an experiment, recorded once
// (the key is experiment and contact) with the run that first reached the
// split: the results join that run's outcome (journey_runs) and the orders
// attributed to its messages. A held-out contact's row says so (HeldOut,
// arm "holdout"); the step sent them nothing.
type ExperimentAssignment struct {
	Experiment string `gorm:"primaryKey;size:64" json:"experiment"`
	ContactID  string `gorm:"primaryKey;size:191" json:"contact_id"`
	Arm        string `gorm:"size:64;not null" json:"arm"`
	HeldOut    bool   `gorm:"not null;default:false" json:"held_out"`
	// Promoted: the contact came after promotion and was given the winner,
	// not an arm at random, so the results leave them out.
	Promoted   bool      `gorm:"not null;default:false" json:"promoted"`
	Journey    string    `gorm:"size:64" json:"journey"`
	RunID      string    `gorm:"size:64;index" json:"run_id"`
	AssignedAt time.Time `json:"assigned_at"`
}

// AssignExperiment returns the contact's arm in req.Experiment: the one
// recorded before (Earlier), else the promoted winner (Promoted), else
// req.Hashed; a new arm is recorded with req.RunID. Two runs asking at
// once get the same arm: the insert skips a duplicate and the stored row
// is read back.
func (s *Store) AssignExperiment(ctx context.Context, req workflows.SplitRequest) (workflows.SplitResult, error) {
	db := s.db.WithContext(ctx)
	var a ExperimentAssignment
	err := db.Where("experiment = ? AND contact_id = ?", req.Experiment, req.ContactID).Take(&a).Error
	if err == nil {
		return workflows.SplitResult{Arm: a.Arm, Promoted: a.Promoted, Earlier: true}, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return workflows.SplitResult{}, err
	}
	e, err := s.defineExperiment(db, req)
	if err != nil {
		return workflows.SplitResult{}, err
	}
	a = ExperimentAssignment{Experiment: req.Experiment, ContactID: req.ContactID, Arm: req.Hashed, Journey: req.Journey,
		RunID: req.RunID, AssignedAt: req.At.UTC()}
	if e.Winner != "" {
		a.Arm, a.Promoted = e.Winner, true
	}
	a.HeldOut = a.Arm == workflows.HoldoutArm
	res := skipDuplicates(db).Create(&a)
	if res.Error != nil {
		return workflows.SplitResult{}, res.Error
	}
	if res.RowsAffected == 0 { // another run recorded it first
		if err := db.Where("experiment = ? AND contact_id = ?", req.Experiment, req.ContactID).Take(&a).Error; err != nil {
			return workflows.SplitResult{}, err
		}
		return workflows.SplitResult{Arm: a.Arm, Promoted: a.Promoted, Earlier: true}, nil
	}
	return workflows.SplitResult{Arm: a.Arm, Promoted: a.Promoted}, nil
}

// defineExperiment returns the experiment's row, writing it (or its arms,
// when the journey's code changed them) first.
func (s *Store) defineExperiment(db *gorm.DB, req workflows.SplitRequest) (Experiment, error) {
	var e Experiment
	err := db.Where("name = ?", req.Experiment).Take(&e).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		e = Experiment{Name: req.Experiment, Journey: req.Journey, Arms: req.Arms, CreatedAt: req.At.UTC()}
		if err := skipDuplicates(db).Create(&e).Error; err != nil {
			return e, err
		}
		return e, db.Where("name = ?", req.Experiment).Take(&e).Error
	case err != nil:
		return e, err
	case !slices.Equal(e.Arms, req.Arms):
		e.Arms = req.Arms
		return e, db.Model(&Experiment{}).Where("name = ?", e.Name).Update("arms", e.Arms).Error
	}
	return e, nil
}

// Experiment returns an experiment by name, or ErrNotFound.
func (s *Store) Experiment(ctx context.Context, name string) (*Experiment, error) {
	var e Experiment
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &e, err
}

// Experiments lists every experiment, by name.
func (s *Store) Experiments(ctx context.Context) ([]Experiment, error) {
	out := []Experiment{}
	err := s.db.WithContext(ctx).Order("name").Find(&out).Error
	return out, err
}

// ErrNotAnArm is the error PromoteExperiment returns for an arm the
// experiment does not have, or for its holdout.
var ErrNotAnArm = errors.New("not an arm")

// PromoteExperiment makes arm the experiment's winner, for contacts that
// reach it from now on; by says who (the API says "admin"). It returns
// ErrNotFound for an unknown experiment and an ErrNotAnArm error naming the
// arm for one that is not a variant.
func (s *Store) PromoteExperiment(ctx context.Context, name, arm, by string, at time.Time) (*Experiment, error) {
	e, err := s.Experiment(ctx, name)
	if err != nil {
		return nil, err
	}
	var variants []string
	for _, a := range e.Arms {
		if !a.Holdout {
			variants = append(variants, a.Name)
		}
	}
	if !slices.Contains(variants, arm) {
		return nil, fmt.Errorf("%w: %q is not a variant of %s (its variants: %s)", ErrNotAnArm, arm, name, strings.Join(variants, ", "))
	}
	at = at.UTC()
	e.Winner, e.PromotedAt, e.PromotedBy = arm, &at, by
	err = s.db.WithContext(ctx).Model(&Experiment{}).Where("name = ?", name).
		Updates(map[string]any{"winner": arm, "promoted_at": at, "promoted_by": by}).Error
	return e, err
}

// ExperimentCounts counts each arm of the experiment, in the order the
// journey lists them (and any arm since removed from the code after
// them): contacts assigned at random (not those given a promoted winner),
// how many of their runs converted (journey_runs.outcome), and the
// revenue of orders attributed to those runs' messages, less refunds and
// cancellations, as the journey metrics count revenue. It also returns
// how many contacts were given the promoted winner.
func (s *Store) ExperimentCounts(ctx context.Context, e *Experiment) (arms []experiments.Arm, promoted int64, err error) {
	db := s.db.WithContext(ctx)
	var counts []struct {
		Arm                     string
		Recipients, Conversions int64
	}
	err = db.Table("experiment_assignments AS a").Joins("LEFT JOIN journey_runs AS r ON r.run_id = a.run_id").
		Select("a.arm, COUNT(*) AS recipients, SUM(CASE WHEN r.outcome = ? THEN 1 ELSE 0 END) AS conversions", workflows.OutcomeConverted).
		Where("a.experiment = ? AND a.promoted = ?", e.Name, false).Group("a.arm").Scan(&counts).Error
	if err != nil {
		return nil, 0, err
	}
	var revenue []struct {
		Arm     string
		Revenue float64
	}
	err = db.Table("experiment_assignments AS a").Joins("JOIN messages AS m ON m.run_id = a.run_id").
		Joins("JOIN orders AS o ON o.message_id = m.id").
		Select("a.arm, COALESCE(SUM(o.total), 0) AS revenue").
		Where("a.experiment = ? AND a.promoted = ? AND a.run_id <> '' AND o.journey <> '' AND o.status NOT IN ?", e.Name, false, []string{"refunded", "cancelled"}).
		Group("a.arm").Scan(&revenue).Error
	if err != nil {
		return nil, 0, err
	}
	if err := db.Model(&ExperimentAssignment{}).Where("experiment = ? AND promoted = ?", e.Name, true).Count(&promoted).Error; err != nil {
		return nil, 0, err
	}
	index := map[string]int{}
	for _, a := range e.Arms {
		index[a.Name] = len(arms)
		arms = append(arms, experiments.Arm{Name: a.Name, Holdout: a.Holdout})
	}
	at := func(name string) *experiments.Arm {
		i, ok := index[name]
		if !ok {
			i = len(arms)
			index[name] = i
			arms = append(arms, experiments.Arm{Name: name, Holdout: name == workflows.HoldoutArm})
		}
		return &arms[i]
	}
	for _, c := range counts {
		a := at(c.Arm)
		a.Recipients, a.Conversions = c.Recipients, c.Conversions
	}
	for _, r := range revenue {
		at(r.Arm).Revenue = r.Revenue
	}
	return arms, promoted, nil
}
