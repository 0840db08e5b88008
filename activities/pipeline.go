package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The send pipeline every channel shares:
//
//	recipient → check → cap → render → claim → deliver → settle
//
// The pipeline loads the contact, asks the channel where the message goes
// and whether it may (check), applies the frequency cap to marketing, has
// the channel render it, and runs the send protocol (outbox.go: claim,
// deliver, settle). Every way a message does not go out (no contact, no
// address, no consent, capped, nothing to say) becomes a skipped row with
// its reason, the same on every channel. A new channel is one file: a type
// with check and render, and an activity that hands it to send.

// channel is what one channel adds to the pipeline.
type channel interface {
	// check says where the message goes for this contact (to, which the
	// row and the result show even when it is skipped) and, when it may
	// not go, why (skip): consent, opt-outs, suppression, an address that
	// is missing or invalid.
	check(ctx context.Context, c *models.Contact, row models.Message) (to, skip string, err error)
	// render makes the message: it fills in the row's content and returns
	// what send needs. A non-empty skip says why there is nothing to send.
	// An error is a template that cannot render, which a retry would not
	// fix: the step fails and its run shows it.
	render(ctx context.Context, c *models.Contact, row models.Message) (out outgoing, skip string, err error)
}

// newRow is a send's row in messages, before the channel fills it in.
func newRow(m workflows.Message, channel string) models.Message {
	return models.Message{
		Key: m.Key, ContactID: m.ContactID, Journey: m.Journey, Step: m.Step, Channel: channel,
		Marketing: m.Marketing, At: m.At.UTC(), Template: m.Template, RunID: m.RunID,
	}
}

// sendThrough runs row through the pipeline on ch, at most once per key.
// holdForSales (the request's HoldForSales) holds it while the contact has
// an open sales task.
func (a *Activities) sendThrough(ctx context.Context, row models.Message, holdForSales bool, ch channel) (workflows.SendResult, error) {
	if row.Journey != "" {
		// A paused journey holds its sends: nothing is written, and the run
		// waits for the resume and asks again.
		paused, err := a.Store.JourneyPaused(ctx, row.Journey)
		if err != nil {
			return workflows.SendResult{}, err
		}
		if paused {
			return workflows.SendResult{Status: workflows.StatusPaused, Reason: "the journey is paused"}, nil
		}
	}
	contact, err := a.Store.Contact(ctx, row.ContactID)
	if err == nil && contact.MergedInto != "" {
		// A journey handed over in a merge still names the merged contact:
		// it goes to the contact kept, under that contact's ID.
		row.ContactID = contact.MergedInto
		contact, err = a.Store.Contact(ctx, row.ContactID)
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		return a.skip(ctx, row, "contact not found")
	case err != nil:
		return workflows.SendResult{}, err
	}
	if holdForSales {
		open, err := a.Store.HasOpenTask(ctx, row.ContactID)
		if err != nil {
			return workflows.SendResult{}, err
		}
		if open {
			return workflows.SendResult{Status: workflows.StatusHeld, Reason: "a sales task is open"}, nil
		}
	}
	to, skip, err := ch.check(ctx, contact, row)
	row.To = to
	if err != nil {
		return workflows.SendResult{}, err
	}
	if skip != "" {
		return a.skip(ctx, row, skip)
	}
	if row.Marketing {
		if skip, err = a.capReason(ctx, contact, row.Channel, row.At); err != nil {
			return workflows.SendResult{}, err
		}
		if skip != "" {
			return a.skip(ctx, row, skip)
		}
	}
	out, skip, err := ch.render(ctx, contact, row)
	if err != nil {
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "TemplateError", err)
	}
	if skip != "" {
		return a.skip(ctx, row, skip)
	}
	return a.send(ctx, out)
}
