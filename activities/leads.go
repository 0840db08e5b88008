package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// RecordScore writes score changes to the ledger and the contact's new score
// and stage to its row.
func (a *Activities) RecordScore(ctx context.Context, u workflows.ScoreUpdate) error {
	changes := make([]models.ScoreChange, len(u.Changes))
	for i, c := range u.Changes {
		changes[i] = models.ScoreChange{Rule: c.Rule, Points: c.Points, Reason: c.Reason}
	}
	return a.Store.RecordScore(ctx, u.ContactID, changes, u.Score, u.Stage, u.StageReason, u.At)
}

// HandOffLead gives a new MQL an owner (the one it has, else the next sales
// rep in turn) and opens a follow-up task with the context a rep needs. A
// retry finds the same owner and the same open task.
func (a *Activities) HandOffLead(ctx context.Context, req workflows.HandoffRequest) (workflows.Handoff, error) {
	rep, err := a.Store.AssignOwner(ctx, req.ContactID, a.SalesReps)
	if errors.Is(err, models.ErrNoSalesReps) {
		// Configuration, not an outage: retrying will not help.
		return workflows.Handoff{}, temporal.NewNonRetryableApplicationError(err.Error(), "NoSalesReps", err)
	}
	if err != nil {
		return workflows.Handoff{}, err
	}
	contact, err := a.Store.Contact(ctx, req.ContactID)
	if err != nil {
		return workflows.Handoff{}, err
	}
	name := contact.Name()
	if name == "" {
		name = contact.Email
	}
	if contact.Company != "" {
		name += " (" + contact.Company + ")"
	}
	breakdown := make([]string, len(req.Breakdown))
	for i, b := range req.Breakdown {
		breakdown[i] = fmt.Sprintf("%+d %s", b.Points, b.Reason)
	}
	task, err := a.Store.OpenTask(ctx, &models.Task{
		ContactID:  req.ContactID,
		Kind:       "mql_follow_up",
		Title:      fmt.Sprintf("Follow up with %s: lead score %d", name, req.Score),
		RepName:    rep.Name,
		RepEmail:   rep.Email,
		RepSlackID: rep.SlackID,
		Details: map[string]any{
			"score":         req.Score,
			"breakdown":     strings.Join(breakdown, "; "),
			"recent_events": req.RecentEvents,
			"email":         contact.Email,
			"title":         contact.Title,
		},
	})
	if err != nil {
		return workflows.Handoff{}, err
	}
	return workflows.Handoff{RepName: rep.Name, RepEmail: rep.Email, RepSlackID: rep.SlackID, TaskID: task.ID}, nil
}

// MarkUnengaged keeps a contact who ignored every win-back email out of
// marketing sends from now on.
func (a *Activities) MarkUnengaged(ctx context.Context, req workflows.ContactRequest) error {
	return a.Store.MarkUnengaged(ctx, req.ContactID, req.At)
}
