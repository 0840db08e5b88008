package platform

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// ReconcileSocial starts a SocialPostWorkflow (ID social/<name>) for each
// post in NUDGE_SOCIAL_POSTS, at worker start:
//
//   - a post never started is started. The ID reuse policy rejects a
//     duplicate, so a post whose workflow has finished (posted, rejected,
//     expired or failed) is never started again; neither is one whose row
//     in social_posts has a final state, which still holds once Temporal
//     has dropped the closed workflow after the namespace's retention.
//     To post again, give the post a new name.
//   - a post whose workflow is running is signalled the file's version
//     (workflows.SocialUpdateSignal). Before its time the workflow takes
//     it (a new text, link or time); once its time has come it ignores it.
//   - a post removed from the file is cancelled by CancelRemovedSocial.
//
// It returns the names started and signalled, for the log.
func (p *Platform) ReconcileSocial(ctx context.Context) (started, updated []string, err error) {
	for _, post := range p.Config.SocialPosts {
		row, err := p.Store.SocialPostByName(ctx, post.Name)
		switch {
		case err == nil && workflows.SocialDone(row.State):
			continue
		case err != nil && !errors.Is(err, models.ErrNotFound):
			return started, updated, fmt.Errorf("social post %s: %w", post.Name, err)
		}
		id := workflows.SocialWorkflowID(post.Name)
		_, err = p.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: id, TaskQueue: p.Config.TaskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			// Else the SDK hands back the existing run as if it had started it.
			WorkflowExecutionErrorWhenAlreadyStarted: true,
			// A workflow never fails for a post's sake (it records why); one
			// that does is a bug, not to be retried into a double post.
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
		}, workflows.SocialPostWorkflowName, post)
		var exists *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case err == nil:
			started = append(started, post.Name)
			continue
		case !errors.As(err, &exists):
			return started, updated, fmt.Errorf("start social post %s: %w", post.Name, err)
		}
		err = p.Temporal.SignalWorkflow(ctx, id, "", workflows.SocialUpdateSignal, post)
		var gone *serviceerror.NotFound
		switch {
		case err == nil:
			updated = append(updated, post.Name)
		case errors.As(err, &gone):
			// Finished: never again.
		default:
			return started, updated, fmt.Errorf("update social post %s: %w", post.Name, err)
		}
	}
	return started, updated, nil
}

// CancelRemovedSocial cancels the workflow of every post that has not gone
// out and is no longer in NUDGE_SOCIAL_POSTS: the workflow records it as
// cancelled and posts nothing. A post already posted, or otherwise final,
// is left as it is. It returns the names cancelled.
func (p *Platform) CancelRemovedSocial(ctx context.Context) ([]string, error) {
	rows, err := p.Store.SocialPosts(ctx)
	if err != nil {
		return nil, err
	}
	inFile := map[string]bool{}
	for _, post := range p.Config.SocialPosts {
		inFile[post.Name] = true
	}
	var cancelled []string
	for _, row := range rows {
		if inFile[row.Name] || workflows.SocialDone(row.State) {
			continue
		}
		err := p.Temporal.CancelWorkflow(ctx, workflows.SocialWorkflowID(row.Name), "")
		var gone *serviceerror.NotFound
		switch {
		case err == nil:
			cancelled = append(cancelled, row.Name)
		case errors.As(err, &gone):
			// Its workflow is gone (retention): nothing to stop.
		default:
			return cancelled, fmt.Errorf("cancel social post %s: %w", row.Name, err)
		}
	}
	return cancelled, nil
}
