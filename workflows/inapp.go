package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// SendInAppActivity puts one message in a contact's in-app inbox
// (activities/inapp.go).
const SendInAppActivity = "SendInApp"

// InAppRequest asks for one message in the contact's in-app inbox, at most
// once per Key like every send. The template is
// templates/inapp/<Template>.md: its first line is the title, the rest the
// Markdown body.
type InAppRequest struct {
	Message
	Data MessageData
	// ActionURL, if set, is where the message's action goes; the inbox
	// shows it through the signed click redirect, so a click is tracked.
	ActionURL string `json:",omitempty"`
	// ExpiresAt, if set, is when the message leaves the inbox unread or not.
	ExpiresAt *time.Time `json:",omitempty"`
}

// InAppOption adjusts one in-app message.
type InAppOption func(*inAppCall)

type inAppCall struct {
	action  string
	expires time.Duration
	opts    []Option
}

// InAppAction gives the message an action: a button or link to url.
func InAppAction(url string) InAppOption {
	return func(c *inAppCall) { c.action = url }
}

// InAppExpires takes the message out of the inbox d after it is sent.
func InAppExpires(d time.Duration) InAppOption {
	return func(c *inAppCall) { c.expires = d }
}

// InAppWith applies email and SMS options (data, transactional) to the
// in-app message.
func InAppWith(opts ...Option) InAppOption {
	return func(c *inAppCall) { c.opts = append(c.opts, opts...) }
}

// InApp puts the step's message (templates/inapp/<journey>/<step>.md) in
// the contact's in-app inbox. Marketing by default: the in-app frequency
// cap (NUDGE_FREQUENCY_CAP_INAPP), unsubscribes and the sales hold apply as
// for email. A message refused or skipped is noted on the timeline and the
// journey goes on.
func (j *Run) InApp(step string, opts ...InAppOption) SendResult {
	if !j.active() {
		return SendResult{}
	}
	var c inAppCall
	for _, o := range opts {
		o(&c)
	}
	m := j.message(step, c.opts)
	m.key = j.id + "/" + j.runID + "/inapp/" + step // apart from an email or SMS step of the same name
	req := InAppRequest{Message: j.envelope(step, m), Data: m.data, ActionURL: c.action}
	if c.expires > 0 {
		at := m.at.Add(c.expires).UTC()
		req.ExpiresAt = &at
	}
	j.sending("inapp " + step)
	res, err := j.send(SendInAppActivity, "inapp: "+req.Template, req)
	switch {
	case err == nil && res.Status == "":
		// The run ended while the journey was paused.
	case err == nil && (res.Status == StatusSkipped || res.Status == StatusRefused || res.Status == StatusUnknown):
		reason := res.Reason
		if res.Status != StatusSkipped {
			reason = res.Status + ": " + reason
		}
		j.log("skip", step+" (inapp)", reason)
	case err == nil:
		j.log("inapp", step, res.Status)
	case temporal.IsCanceledError(err):
		j.fail(step, err)
	default:
		j.log("skip", step+" (inapp)", "not sent: "+err.Error())
	}
	return res
}
