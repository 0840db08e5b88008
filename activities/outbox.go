package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The send protocol every channel (email, SMS, Slack) follows, so that a
// message is never lost to a crash and never sent twice. Each send has a
// row in messages, keyed by the request, that moves through phases:
//
//	claimed ──hand-over──▶ handed ──▶ sent | refused | failed | unknown
//
//  1. claimed: written before anything goes to the provider. The attempt
//     that writes (or takes over) the row owns it: Attempts is its number.
//  2. handed: written by the owner just before the provider gets the whole
//     message: before SMTP's final "." (until then an SMTP server throws a
//     message away if the connection drops), before Twilio's or Slack's
//     HTTP request.
//  3. the provider's answer settles it: sent (accepted); refused (a
//     permanent "no", like SMTP 5xx: not retried); failed (a temporary
//     "no", like SMTP 4xx, or trouble before the hand-over: the activity
//     fails and its retry sends again); unknown (the connection was lost
//     after the hand-over: the provider may have the message).
//
// A retry (Temporal runs one after an attempt fails or its worker dies)
// reads the row: settled means done, with the same result; failed or
// claimed means the provider never got it, so the retry takes the row over
// and sends; handed or unknown means nobody can know, and the rule for
// unknown outcomes decides:
//
//   - marketing is not sent again: a missed email is better than a double
//     one, and it is counted (nudge_sends_total{outcome="unknown"});
//   - a transactional message (a receipt) and an internal alert are sent
//     again once, with the same Message-ID, so a receiving system can drop
//     the copy; if that too ends unknown, it stays unknown.
//
// A row left claimed or handed because the activity ended for good (its
// last attempt died at Temporal's deadline) is settled by the worker's
// sweeper (SettleAbandoned): claimed becomes failed, handed unknown.

// ErrOutcomeUnknown marks a send that failed after the provider may have
// taken the message (the connection was lost while waiting for its answer).
var ErrOutcomeUnknown = errors.New("the provider may have taken the message")

// Deferred marks a refusal that time may fix (SMTP 4xx): the send is
// retried. Errors that are neither Deferred, permanent (a non-retryable
// temporal.ApplicationError) nor ErrOutcomeUnknown are taken as deferred.
type Deferred struct{ Err error }

func (d *Deferred) Error() string { return d.Err.Error() }
func (d *Deferred) Unwrap() error { return d.Err }

// Refused marks a permanent refusal (SMTP 5xx): sending again would get the
// same answer.
type Refused struct{ Err error }

func (r *Refused) Error() string { return r.Err.Error() }
func (r *Refused) Unwrap() error { return r.Err }

// errTakenOver: another attempt owns the message now; this one stops.
var errTakenOver = errors.New("another attempt of this activity has taken the message over")

// outgoing is one message for send: the rendered row, what to report once
// it is out, and how to deliver it.
type outgoing struct {
	row    models.Message
	result workflows.SendResult
	// prepare, if set, runs once the row is claimed (it has its ID then),
	// whether or not the message is delivered.
	prepare func(ctx context.Context, row *models.Message)
	// deliver hands the message to its provider, nil when delivery is off
	// (the message is recorded, not sent). It calls handOver when the
	// provider is about to get the whole message, and must not complete
	// the send if handOver fails. It returns the provider's ID for the
	// message, if any (Twilio's SID, Slack's timestamp).
	deliver func(ctx context.Context, handOver func() error) (providerID string, err error)
}

// oneRequest is how a message goes to a provider called in one HTTP request
// (Twilio, Slack): there is no point inside a request to mark, so the
// hand-over comes first; doing says what was sent, in errors.
func oneRequest(doing string, call func(ctx context.Context) (providerID string, err error)) func(context.Context, func() error) (string, error) {
	return func(ctx context.Context, handOver func() error) (string, error) {
		if err := handOver(); err != nil {
			return "", err
		}
		id, err := call(ctx)
		if err != nil {
			return "", annotate(doing, err)
		}
		return id, nil
	}
}

// send runs the protocol for one message.
func (a *Activities) send(ctx context.Context, out outgoing) (workflows.SendResult, error) {
	row, res, deliver := out.row, out.result, out.deliver
	repeat, prior, done, err := a.claim(ctx, &row)
	if done || err != nil {
		return prior, err
	}
	if out.prepare != nil {
		out.prepare(ctx, &row)
	}
	if deliver == nil {
		res.Status = workflows.StatusRecorded
		return res, a.finish(ctx, row, res.Status, "", "")
	}
	handOver := func() error {
		ok, err := a.Store.HandOverMessage(context.WithoutCancel(ctx), row.Key, row.Attempts)
		switch {
		case err != nil:
			return fmt.Errorf("record the hand-over: %w", err)
		case !ok:
			return errTakenOver
		}
		return nil
	}
	stop := heartbeat(ctx)
	providerID, err := deliver(ctx, handOver)
	stop()
	if repeat {
		metrics.Sends.WithLabelValues(row.Channel, "repeated").Inc()
	}
	if errors.Is(err, errTakenOver) {
		return workflows.SendResult{}, err // the owner settles it; a later attempt reads how
	}
	if err == nil {
		res.Status = workflows.StatusSent
		return res, a.finish(ctx, row, res.Status, "", providerID)
	}
	reason := clipReason(describeError(err))
	switch outcome(err) {
	case workflows.StatusRefused:
		activity.GetLogger(ctx).Warn("message refused for good", "key", row.Key, "error", err)
		res.Status, res.Reason = workflows.StatusRefused, reason
		return res, a.finish(ctx, row, res.Status, reason, "")
	case workflows.StatusUnknown:
		activity.GetLogger(ctx).Warn("message outcome unknown", "key", row.Key, "error", err)
		if ferr := a.finish(ctx, row, workflows.StatusUnknown, reason, ""); ferr != nil {
			return workflows.SendResult{}, ferr
		}
		if row.Marketing || row.Repeats > 0 {
			res.Status, res.Reason = workflows.StatusUnknown, unknownReason(row, reason)
			return res, nil
		}
		// Transactional, first time: the retry sends it again, once.
		return workflows.SendResult{}, fmt.Errorf("%s; it will be sent once more: %w", reason, err)
	}
	activity.GetLogger(ctx).Warn("message not taken; it will be retried", "key", row.Key, "error", err)
	if ferr := a.finish(ctx, row, models.MessageFailed, reason, ""); ferr != nil {
		return workflows.SendResult{}, ferr
	}
	metrics.Sends.WithLabelValues(row.Channel, "deferred").Inc()
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return workflows.SendResult{}, appErr // keeps a delay the provider asked for
	}
	return workflows.SendResult{}, err
}

// claim writes row (status claimed) or takes an earlier attempt's row over.
// done is true when there is nothing to send: prior is the result to give.
// repeat is true when this is the one repeat of an unknown outcome.
func (a *Activities) claim(ctx context.Context, row *models.Message) (repeat bool, prior workflows.SendResult, done bool, err error) {
	row.Status, row.Attempts = models.MessageClaimed, 1
	existing, err := a.Store.BeginMessage(ctx, row)
	if err != nil || existing == nil {
		return false, prior, false, err
	}
	prior = workflows.SendResult{Status: existing.Status, Reason: existing.Reason, To: existing.To, Subject: existing.Subject,
		Content: existing.Content, Topic: existing.Topic}
	switch existing.Status {
	case workflows.StatusSent, workflows.StatusRecorded, workflows.StatusSkipped, workflows.StatusRefused:
		return false, prior, true, nil
	case models.MessageFailed, models.MessageClaimed:
		// The provider never got it: an earlier attempt was refused for now,
		// or died before the hand-over.
	case models.MessageHanded, models.MessageSending, workflows.StatusUnknown:
		if existing.Marketing || existing.Repeats > 0 {
			if existing.Status != workflows.StatusUnknown {
				reason := "the attempt that handed it to the provider died before the answer"
				if err := a.Store.FinishMessage(ctx, existing.Key, existing.Attempts, workflows.StatusUnknown, reason, "", nil); err != nil {
					return false, prior, false, err
				}
				metrics.Sends.WithLabelValues(existing.Channel, "unknown").Inc()
				prior.Reason = reason
			}
			prior.Status, prior.Reason = workflows.StatusUnknown, unknownReason(*existing, prior.Reason)
			return false, prior, true, nil
		}
		repeat = true
	default:
		return false, prior, false, fmt.Errorf("message %s is in an unknown state %q", existing.Key, existing.Status)
	}
	ok, err := a.Store.ReclaimMessage(ctx, existing.Key, existing.Status, existing.Attempts, repeat)
	if err != nil {
		return false, prior, false, err
	}
	if !ok {
		return false, prior, false, errTakenOver
	}
	row.Attempts, row.Repeats = existing.Attempts+1, existing.Repeats
	if repeat {
		row.Repeats++
	}
	return repeat, prior, false, nil
}

// finish settles the attempt's row and counts the outcome. It tries a few
// times: a message the provider took but the row does not say so would be
// taken for an unknown outcome by a retry.
func (a *Activities) finish(ctx context.Context, row models.Message, status, reason, providerID string) error {
	ctx = context.WithoutCancel(ctx) // a cancelled activity still settles its row
	var sentAt *time.Time
	if status == workflows.StatusSent || status == workflows.StatusRecorded {
		now := time.Now().UTC()
		sentAt = &now
	}
	var err error
	for try := range 3 {
		if err = a.Store.FinishMessage(ctx, row.Key, row.Attempts, status, reason, providerID, sentAt); err == nil {
			break
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	if err != nil {
		activity.GetLogger(ctx).Error("send settled but not recorded", "key", row.Key, "status", status, "error", err)
		return err
	}
	if status != models.MessageFailed {
		metrics.Sends.WithLabelValues(row.Channel, status).Inc()
	}
	return nil
}

// annotate says what was being sent in a provider's error, keeping what
// Temporal reads from it (an ApplicationError's type, whether it may be
// retried, and a delay the provider asked for).
func annotate(doing string, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return temporal.NewApplicationErrorWithOptions(doing+": "+appErr.Message(), appErr.Type(), temporal.ApplicationErrorOptions{
			NonRetryable: appErr.NonRetryable(), NextRetryDelay: appErr.NextRetryDelay(), Cause: err})
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// outcome sorts a provider error: refused for good, unknown, or (any
// other) failed for now.
func outcome(err error) string {
	var refused *Refused
	var appErr *temporal.ApplicationError
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		return workflows.StatusUnknown
	case errors.As(err, &refused), errors.As(err, &appErr) && appErr.NonRetryable():
		return workflows.StatusRefused
	}
	return models.MessageFailed
}

// describeError is an error as a row's reason reads it: an
// ApplicationError's own message, without the type and cause Temporal adds.
func describeError(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

func unknownReason(m models.Message, reason string) string {
	rule := "a marketing message is not sent again"
	if !m.Marketing {
		rule = "it was sent once more, and that too is unknown"
	}
	return reason + "; " + rule
}

func clipReason(s string) string {
	const limit = 500 // what messages.reason holds
	if len(s) <= limit {
		return s
	}
	cut := limit - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut-- // do not cut a character in half
	}
	return s[:cut] + "…"
}

// heartbeat tells Temporal the attempt is alive while a slow provider
// answers, so a worker that dies mid-send is noticed within the heartbeat
// timeout rather than the whole start-to-close timeout. It returns stop.
func heartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// skip records a send that will not happen, with its reason, so it shows on
// the journey's timeline and in the messages table.
func (a *Activities) skip(ctx context.Context, row models.Message, reason string) (workflows.SendResult, error) {
	row.Status, row.Reason = workflows.StatusSkipped, reason
	prior, err := a.Store.BeginMessage(ctx, &row)
	if err != nil {
		return workflows.SendResult{}, err
	}
	if prior != nil && prior.Status != models.MessageFailed && prior.Status != models.MessageClaimed {
		// Settled (or in doubt) already: report that, not a fresh skip.
		return workflows.SendResult{Status: prior.Status, Reason: prior.Reason, To: prior.To, Subject: prior.Subject}, nil
	}
	if prior != nil {
		if err := a.Store.FinishMessage(ctx, row.Key, prior.Attempts, workflows.StatusSkipped, reason, "", nil); err != nil {
			return workflows.SendResult{}, err
		}
	}
	if strings.HasPrefix(reason, "frequency cap") {
		metrics.CapSkips.WithLabelValues(row.Channel).Inc()
	}
	metrics.Sends.WithLabelValues(row.Channel, workflows.StatusSkipped).Inc()
	return workflows.SendResult{Status: workflows.StatusSkipped, Reason: reason, To: row.To}, nil
}

// SettleAbandoned settles sends whose activities ended for good before
// settling them (see the protocol above), and counts them. The worker runs
// it now and then, outside any activity.
func (a *Activities) SettleAbandoned(ctx context.Context, olderThan time.Duration) (failed, unknown int64, err error) {
	failed, unknown, err = a.Store.SettleAbandonedMessages(ctx, time.Now().Add(-olderThan))
	if unknown > 0 {
		metrics.Sends.WithLabelValues("all", workflows.StatusUnknown).Add(float64(unknown))
	}
	return failed, unknown, err
}

// capReason says why a marketing message would break the channel's
// frequency cap, or the frequency the contact picked for email, or ""
// when it would not. It counts on the journey's clock.
func (a *Activities) capReason(ctx context.Context, c *models.Contact, channel string, at time.Time) (string, error) {
	limit := a.Caps.Email
	switch channel {
	case models.ChannelSMS:
		limit = a.Caps.SMS
	case models.ChannelInApp:
		limit = a.Caps.InApp
	}
	if limit.Max > 0 {
		n, err := a.Store.CountMarketing(ctx, c.ID, channel, at.Add(-limit.Window))
		if err != nil {
			return "", err
		}
		if n >= int64(limit.Max) {
			return fmt.Sprintf("frequency cap: %d marketing %s already in the last %s", n, plural(channel, n), capWindow(limit)), nil
		}
	}
	if channel != models.ChannelEmail {
		return "", nil
	}
	freq, _ := c.Traits["email_frequency"].(string)
	pick, ok := frequencyCaps[freq]
	if !ok {
		return "", nil
	}
	n, err := a.Store.CountMarketing(ctx, c.ID, channel, at.Add(-pick.Window))
	if err != nil || n < int64(pick.Max) {
		return "", err
	}
	return fmt.Sprintf("the contact asked for email %s", freq), nil
}

func plural(channel string, n int64) string {
	word := map[string]string{models.ChannelEmail: "email", models.ChannelSMS: "SMS", models.ChannelInApp: "in-app message"}[channel]
	if n != 1 && channel != models.ChannelSMS {
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
