package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The send protocol every channel follows, so that no step sends twice:
//
//  1. claim: write the message row, status "sending", before the provider
//     is called. A key already settled returns its earlier outcome instead.
//  2. call the provider.
//  3. settle: record "sent" (or "recorded" when delivery is off), or
//     "failed" when the provider refused, which a retry may try again.
//
// A retry that finds a row still "sending" cannot know whether the provider
// took the message, and does not send it again.

// recipient loads the contact a message is for. When there is none, the
// send is recorded as skipped and done is true, with res to return.
func (a *Activities) recipient(ctx context.Context, row models.Message) (c *models.Contact, res workflows.SendResult, done bool, err error) {
	c, err = a.Store.Contact(ctx, row.ContactID)
	if errors.Is(err, models.ErrNotFound) {
		res, err = a.skip(ctx, row, "contact not found")
		return nil, res, true, err
	}
	return c, res, err != nil, err
}

// claim writes row before the provider call. done is true when the key is
// already settled: then res is the earlier outcome and nothing must be sent.
func (a *Activities) claim(ctx context.Context, row *models.Message) (res workflows.SendResult, done bool, err error) {
	row.Status, row.Attempts = models.MessageSending, 1
	prior, err := a.Store.BeginMessage(ctx, row)
	if err != nil || prior == nil {
		return res, false, err
	}
	if res, done := priorOutcome(prior); done {
		return res, true, nil
	}
	claimed, err := a.Store.RetryMessage(ctx, row.Key)
	if err != nil || !claimed {
		return workflows.SendResult{Status: workflows.StatusSkipped, To: prior.To, Subject: prior.Subject,
			Reason: "another attempt is sending this message"}, true, err
	}
	return res, false, nil
}

// priorOutcome turns a message already settled under this key into the
// result to report again.
func priorOutcome(m *models.Message) (workflows.SendResult, bool) {
	res := workflows.SendResult{Status: m.Status, Reason: m.Reason, To: m.To, Subject: m.Subject}
	switch m.Status {
	case workflows.StatusSent, workflows.StatusRecorded, workflows.StatusSkipped:
		return res, true
	case models.MessageSending:
		res.Status = workflows.StatusSkipped
		res.Reason = "an earlier attempt may have sent this message; not sending it twice"
		return res, true
	}
	return res, false // failed: safe to try again
}

// settle records a send the provider accepted (or that was recorded).
func (a *Activities) settle(ctx context.Context, key string, res workflows.SendResult) {
	now := time.Now().UTC()
	if err := a.Store.FinishMessage(ctx, key, res.Status, "", &now); err != nil {
		// The provider has the message; a retry must not send it again, and
		// will not: the row still says "sending".
		activity.GetLogger(ctx).Error("message sent but not recorded", "key", key, "error", err)
	}
}

// refused records that the provider did not take the message, so a retry
// may send it, and returns the error for Temporal to retry.
func (a *Activities) refused(ctx context.Context, key string, cause error) error {
	activity.GetLogger(ctx).Warn("message not accepted", "key", key, "error", cause)
	if err := a.Store.FinishMessage(ctx, key, models.MessageFailed, cause.Error(), nil); err != nil {
		return err
	}
	return cause
}

// skip records a send that will not happen, with its reason, so it shows on
// the journey's timeline and in the messages table.
func (a *Activities) skip(ctx context.Context, row models.Message, reason string) (workflows.SendResult, error) {
	row.Status, row.Reason = workflows.StatusSkipped, reason
	prior, err := a.Store.BeginMessage(ctx, &row)
	if err != nil {
		return workflows.SendResult{}, err
	}
	if prior != nil {
		if res, done := priorOutcome(prior); done {
			return res, nil
		}
	}
	return workflows.SendResult{Status: workflows.StatusSkipped, Reason: reason, To: row.To}, nil
}

// capReason says why a marketing message would break the channel's
// frequency cap, or "" when it would not. It counts on the journey's clock.
func (a *Activities) capReason(ctx context.Context, contactID, channel string, at time.Time) (string, error) {
	limit := a.Caps.Email
	if channel == models.ChannelSMS {
		limit = a.Caps.SMS
	}
	if limit.Max == 0 {
		return "", nil
	}
	n, err := a.Store.CountMarketing(ctx, contactID, channel, at.Add(-limit.Window))
	if err != nil || n < int64(limit.Max) {
		return "", err
	}
	return fmt.Sprintf("frequency cap: %d marketing %s already in the last %s", n, plural(channel, n), capWindow(limit)), nil
}

func plural(channel string, n int64) string {
	word := map[string]string{models.ChannelEmail: "email", models.ChannelSMS: "SMS"}[channel]
	if n != 1 && channel == models.ChannelEmail {
		word += "s"
	}
	return word
}

func capWindow(c config.Cap) string {
	if c.Window%time.Hour == 0 {
		return fmt.Sprintf("%dh", c.Window/time.Hour)
	}
	return c.Window.String()
}
