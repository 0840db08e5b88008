package activities

import (
	"context"

	"github.com/nudgehq/nudge/workflows"
)

// AssignArm returns a contact's arm in an experiment, recording it the
// first time (models.Store.AssignExperiment): the arm recorded before, the
// promoted winner for a newcomer, or the arm the workflow hashed.
func (a *Activities) AssignArm(ctx context.Context, req workflows.SplitRequest) (workflows.SplitResult, error) {
	return a.Store.AssignExperiment(ctx, req)
}
