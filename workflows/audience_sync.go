package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Audience sync activities.
const (
	// StartAudienceSyncActivity counts the changes a sync has to make,
	// records its start, and opens its Meta sessions.
	StartAudienceSyncActivity = "StartAudienceSync"
	// SyncAudienceBatchActivity computes the next batch, uploads it and
	// records it.
	SyncAudienceBatchActivity = "SyncAudienceBatch"
	// FinishAudienceSyncActivity records how a sync ended.
	FinishAudienceSyncActivity = "FinishAudienceSync"
)

// AudienceBatchSize is the most people one upload carries: Meta's users
// endpoint and Google's Data Manager API both take at most 10,000 a
// request.
const AudienceBatchSize = 10_000

// audienceBatchesPerRun bounds one run's history (a million changes); a
// longer sync continues as new with its progress.
const audienceBatchesPerRun = 100

// A sync's phases, in order: removals first, so a member whose address
// changed has its old hashes removed before its new ones are added.
const (
	AudiencePhaseRemove = "remove"
	AudiencePhaseAdd    = "add"
)

// AudienceSession is one phase's Meta upload session: Meta is told each
// batch's place in it (batch_seq, last_batch_flag) and how many rows the
// whole session should bring (estimated_num_total).
type AudienceSession struct {
	ID        int64 `json:"id"`
	Sent      int   `json:"sent"`      // batches sent so far
	Estimated int   `json:"estimated"` // changes counted at the start
}

// AudienceSyncProgress is where a sync stands between batches.
type AudienceSyncProgress struct {
	// At is when the sync started: every batch reads the segment as of
	// then, so one sync sees one segment.
	At     time.Time       `json:"at"`
	Phase  string          `json:"phase"`  // AudiencePhaseRemove, then AudiencePhaseAdd; "" when done
	Cursor string          `json:"cursor"` // the last contact the phase has dealt with
	Remove AudienceSession `json:"remove"`
	Add    AudienceSession `json:"add"`
	// What the sync has sent so far.
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Batches int `json:"batches"`
}

// AudienceStartRequest starts a sync as of At.
type AudienceStartRequest struct {
	Sync AudienceSyncRequest `json:"sync"`
	At   time.Time           `json:"at"`
}

// AudienceBatchRequest asks for the batch after Progress.
type AudienceBatchRequest struct {
	Sync     AudienceSyncRequest  `json:"sync"`
	Progress AudienceSyncProgress `json:"progress"`
}

// AudienceFinishRequest records a sync's end; Error is "" when it worked.
type AudienceFinishRequest struct {
	Key   string `json:"key"`
	Error string `json:"error,omitempty"`
}

// AudienceSyncResult is what one sync sent.
type AudienceSyncResult struct {
	Key     string `json:"key"`
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Batches int    `json:"batches"`
	// Members are in the audience once the sync is done.
	Members int64 `json:"members"`
}

// AudienceSyncWorkflow makes one ad audience hold its segment: it counts
// the changes, then uploads removals and additions a batch at a time, each
// batch one activity, and records the end.
func AudienceSyncWorkflow(ctx workflow.Context, req AudienceSyncRequest) (AudienceSyncResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		// An hour of retries, then the sync fails and says why; the
		// schedule starts the next one.
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 5 * time.Minute},
	})
	p := req.Progress
	req.Progress = nil
	if p == nil {
		p = new(AudienceSyncProgress)
		start := AudienceStartRequest{Sync: req, At: workflow.Now(ctx).UTC()}
		if err := workflow.ExecuteActivity(ctx, StartAudienceSyncActivity, start).Get(ctx, p); err != nil {
			return AudienceSyncResult{}, failSync(ctx, req.Key, err)
		}
	}
	perRun := req.BatchesPerRun
	if perRun <= 0 {
		perRun = audienceBatchesPerRun
	}
	for calls := 0; p.Phase != ""; calls++ {
		if calls == perRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			next := req
			next.Progress = p
			return AudienceSyncResult{}, workflow.NewContinueAsNewError(ctx, AudienceSyncWorkflowName, next)
		}
		var next AudienceSyncProgress
		if err := workflow.ExecuteActivity(ctx, SyncAudienceBatchActivity, AudienceBatchRequest{Sync: req, Progress: *p}).Get(ctx, &next); err != nil {
			return AudienceSyncResult{}, failSync(ctx, req.Key, err)
		}
		*p = next
	}
	res := AudienceSyncResult{Key: req.Key, Added: p.Added, Removed: p.Removed, Batches: p.Batches}
	err := workflow.ExecuteActivity(ctx, FinishAudienceSyncActivity, AudienceFinishRequest{Key: req.Key}).Get(ctx, &res.Members)
	return res, err
}

// failSync records why a sync stopped, even when the run was cancelled,
// and returns the error.
func failSync(ctx workflow.Context, key string, cause error) error {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	dctx = workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute,
	})
	_ = workflow.ExecuteActivity(dctx, FinishAudienceSyncActivity, AudienceFinishRequest{Key: key, Error: cause.Error()}).Get(dctx, nil)
	return cause
}
