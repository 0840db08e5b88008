package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/experiments"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var experimentDay = time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)

func splitRequest(contact, run, hashed string) workflows.SplitRequest {
	return workflows.SplitRequest{Experiment: workflows.CartIncentiveExperiment, Journey: "abandoned_cart", ContactID: contact,
		RunID: run, Arms: workflows.CartIncentiveArms(), Hashed: hashed, At: experimentDay}
}

// A contact's arm is recorded once: asking again, from another run with
// another hash, returns the first arm and leaves the row as it was.
func TestAssignExperimentOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		got, err := s.AssignExperiment(ctx, splitRequest("u1", "run-1", workflows.IncentiveDiscount))
		require.NoError(t, err)
		assert.Equal(t, workflows.SplitResult{Arm: workflows.IncentiveDiscount}, got)
		got, err = s.AssignExperiment(ctx, splitRequest("u1", "run-2", workflows.HoldoutArm))
		require.NoError(t, err)
		assert.Equal(t, workflows.SplitResult{Arm: workflows.IncentiveDiscount, Earlier: true}, got)

		var rows []models.ExperimentAssignment
		require.NoError(t, s.DB().Find(&rows).Error)
		require.Len(t, rows, 1)
		assert.Equal(t, "run-1", rows[0].RunID)
		assert.True(t, rows[0].AssignedAt.Equal(experimentDay))

		held, err := s.AssignExperiment(ctx, splitRequest("u2", "run-3", workflows.HoldoutArm))
		require.NoError(t, err)
		assert.Equal(t, workflows.HoldoutArm, held.Arm)
		var h models.ExperimentAssignment
		require.NoError(t, s.DB().Take(&h, "contact_id = ?", "u2").Error)
		assert.True(t, h.HeldOut, "the holdout's row says held out")

		e, err := s.Experiment(ctx, workflows.CartIncentiveExperiment)
		require.NoError(t, err)
		assert.Equal(t, workflows.CartIncentiveArms(), e.Arms)
		assert.Equal(t, "abandoned_cart", e.Journey)

		// Promotion: a newcomer gets the winner, the recorded keep theirs.
		_, err = s.PromoteExperiment(ctx, workflows.CartIncentiveExperiment, "cheap", "admin", experimentDay)
		require.True(t, errors.Is(err, models.ErrNotAnArm), "%v", err)
		assert.EqualError(t, err, `not an arm: "cheap" is not a variant of cart_incentive (its variants: free_shipping, discount)`)
		_, err = s.PromoteExperiment(ctx, workflows.CartIncentiveExperiment, workflows.HoldoutArm, "admin", experimentDay)
		require.True(t, errors.Is(err, models.ErrNotAnArm), "the holdout cannot be promoted: %v", err)
		_, err = s.PromoteExperiment(ctx, "nope", "a", "admin", experimentDay)
		require.ErrorIs(t, err, models.ErrNotFound)
		e, err = s.PromoteExperiment(ctx, workflows.CartIncentiveExperiment, workflows.IncentiveFreeShipping, "admin", experimentDay)
		require.NoError(t, err)
		assert.Equal(t, workflows.IncentiveFreeShipping, e.Winner)

		got, err = s.AssignExperiment(ctx, splitRequest("u3", "run-4", workflows.HoldoutArm))
		require.NoError(t, err)
		assert.Equal(t, workflows.SplitResult{Arm: workflows.IncentiveFreeShipping, Promoted: true}, got)
		got, err = s.AssignExperiment(ctx, splitRequest("u1", "run-5", workflows.IncentiveFreeShipping))
		require.NoError(t, err)
		assert.Equal(t, workflows.SplitResult{Arm: workflows.IncentiveDiscount, Earlier: true}, got)
	})
}

// ExperimentFixture is the cart experiment with, by arm:
//
//	free_shipping: f1 converted ($100 order), f2 completed, f3 converted
//	               (a $50 order, refunded: no revenue): 3 recipients, 2
//	               conversions, $100.
//	discount:      d1 converted ($80 and $20 orders on two of its
//	               messages), d2 still running: 2 recipients, 1
//	               conversion, $100.
//	holdout:       h1 exited, h2 converted ($30 on its reminder): 2
//	               recipients, 1 conversion, $30.
//
// p1 came after promotion (discount, converted, $1000): left out, counted
// as promoted.
func experimentFixture(t *testing.T, s *models.Store) {
	t.Helper()
	ctx := context.Background()
	db := s.DB()
	for _, a := range []struct{ contact, arm string }{
		{"f1", workflows.IncentiveFreeShipping}, {"f2", workflows.IncentiveFreeShipping}, {"f3", workflows.IncentiveFreeShipping},
		{"d1", workflows.IncentiveDiscount}, {"d2", workflows.IncentiveDiscount},
		{"h1", workflows.HoldoutArm}, {"h2", workflows.HoldoutArm},
	} {
		_, err := s.AssignExperiment(ctx, splitRequest(a.contact, "r-"+a.contact, a.arm))
		require.NoError(t, err)
	}
	_, err := s.PromoteExperiment(ctx, workflows.CartIncentiveExperiment, workflows.IncentiveDiscount, "admin", experimentDay)
	require.NoError(t, err)
	_, err = s.AssignExperiment(ctx, splitRequest("p1", "r-p1", workflows.IncentiveFreeShipping))
	require.NoError(t, err)

	ended := experimentDay.Add(time.Hour)
	for contact, outcome := range map[string]string{
		"f1": workflows.OutcomeConverted, "f2": workflows.OutcomeCompleted, "f3": workflows.OutcomeConverted,
		"d1": workflows.OutcomeConverted, "d2": "", "h1": workflows.OutcomeExited, "h2": workflows.OutcomeConverted,
		"p1": workflows.OutcomeConverted,
	} {
		r := models.JourneyRun{RunID: "r-" + contact, Journey: "abandoned_cart", ContactID: contact, StartedAt: experimentDay, Outcome: outcome}
		if outcome != "" {
			r.EndedAt = &ended
		}
		require.NoError(t, db.Create(&r).Error)
	}
	for i, o := range []struct {
		contact, step, status string
		total                 float64
	}{
		{"f1", "incentive", "completed", 100}, {"f3", "incentive", "refunded", 50},
		{"d1", "reminder", "completed", 80}, {"d1", "incentive", "shipped", 20},
		{"h2", "reminder", "completed", 30}, {"p1", "incentive", "completed", 1000},
	} {
		m := models.Message{Key: "m-" + o.contact + "-" + o.step, ContactID: o.contact, Journey: "abandoned_cart", Step: o.step,
			Channel: models.ChannelEmail, Status: workflows.StatusSent, RunID: "r-" + o.contact, Marketing: true, At: experimentDay}
		require.NoError(t, db.Create(&m).Error)
		id := string(rune('a' + i))
		require.NoError(t, db.Create(&models.Order{ID: id, OrderID: id, ContactID: o.contact, Total: o.total, Status: o.status,
			Journey: "abandoned_cart", MessageID: &m.ID, OrderedAt: ended}).Error)
	}
	// An order of another journey's message, not a run in the experiment.
	m := models.Message{Key: "other", ContactID: "f2", Journey: "welcome_ecommerce", Step: "welcome", Channel: models.ChannelEmail,
		Status: workflows.StatusSent, RunID: "r-other", At: experimentDay}
	require.NoError(t, db.Create(&m).Error)
	require.NoError(t, db.Create(&models.Order{ID: "z", OrderID: "z", ContactID: "f2", Total: 500, Status: "completed",
		Journey: "welcome_ecommerce", MessageID: &m.ID, OrderedAt: ended}).Error)
}

func TestExperimentCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		experimentFixture(t, s)
		e, err := s.Experiment(context.Background(), workflows.CartIncentiveExperiment)
		require.NoError(t, err)
		arms, promoted, err := s.ExperimentCounts(context.Background(), e)
		require.NoError(t, err)
		assert.Equal(t, []experiments.Arm{
			{Name: workflows.IncentiveFreeShipping, Recipients: 3, Conversions: 2, Revenue: 100},
			{Name: workflows.IncentiveDiscount, Recipients: 2, Conversions: 1, Revenue: 100},
			{Name: workflows.HoldoutArm, Holdout: true, Recipients: 2, Conversions: 1, Revenue: 30},
		}, arms)
		assert.Equal(t, int64(1), promoted)
	})
}
