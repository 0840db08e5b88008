package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// InSegment reports whether the contact is in a segment at req.At, the
// journey's time: the workflow's clock decides, so a journey on a test
// clock or replaying sees the segment as of its own time. A segment that does
// not exist, a missing or unexpected parameter, or no time is a mistake in
// the journey, not an outage: it fails at once instead of being retried.
func (a *Activities) InSegment(ctx context.Context, req workflows.SegmentRequest) (bool, error) {
	if req.At.IsZero() {
		return false, temporal.NewNonRetryableApplicationError("segment request has no At: pass the journey's time (workflow.Now)", "BadSegmentRequest", nil)
	}
	in, err := a.Store.InSegment(ctx, req.ContactID, req.Segment, req.Params, req.At)
	var unknown *models.UnknownSegmentError
	var param *models.SegmentParamError
	if errors.As(err, &unknown) || errors.As(err, &param) {
		return false, temporal.NewNonRetryableApplicationError(err.Error(), "BadSegmentRequest", nil)
	}
	return in, err
}
