package workflows

import (
	"errors"
	"maps"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// SendWebhookActivity posts one signed webhook (activities/webhook.go).
const SendWebhookActivity = "SendWebhook"

// WebhookRequest asks for one POST to a webhook listed in NUDGE_WEBHOOKS,
// at most once per Key like every send. Message.Template is
// "webhook/<Webhook>"; a webhook is never marketing (see the activity for
// why that matters when an answer is lost).
type WebhookRequest struct {
	Message
	// Webhook is the name in NUDGE_WEBHOOKS the request goes to.
	Webhook string
	// Traits are the contact traits the body carries, by name (none unless
	// the journey asks: traits may hold anything).
	Traits []string `json:",omitempty"`
	// Data is what the journey adds: the body's data.properties.
	Data map[string]any `json:",omitempty"`
}

// WebhookOption adjusts one webhook call.
type WebhookOption func(*webhookCall)

type webhookCall struct {
	step   string
	traits []string
	data   map[string]any
}

// WithData adds properties to the webhook's body (data.properties). Given
// more than once, the maps are merged, a later value winning. Values must
// be JSON: they travel in the workflow's history.
func WithData(data map[string]any) WebhookOption {
	return func(w *webhookCall) {
		if w.data == nil {
			w.data = map[string]any{}
		}
		// Sorted, so nothing depends on map order (this runs in workflow code).
		//workflowcheck:ignore
		for _, k := range slices.Sorted(maps.Keys(data)) {
			w.data[k] = data[k]
		}
	}
}

// WithTraits puts the contact's traits of these names in the body
// (data.contact.traits), those the contact has.
func WithTraits(names ...string) WebhookOption {
	return func(w *webhookCall) { w.traits = append(w.traits, names...) }
}

// AsStep names the step, which is the webhook's name unless given: a
// journey that posts to the same webhook twice names each post, so each
// is sent once.
func AsStep(step string) WebhookOption {
	return func(w *webhookCall) { w.step = step }
}

// Webhook POSTs the step to the webhook called name in NUDGE_WEBHOOKS, as
// JSON signed the Standard Webhooks way (README, "Webhooks"). It goes at
// most once per run and step: a retry carries the same webhook-id, so the
// receiver can drop a copy. A paused journey holds it like any send; a
// webhook is not marketing, so no cap, consent or sales hold applies. A
// webhook refused for good, or one the worker does not know, is noted on
// the timeline and the journey goes on.
func (j *Run) Webhook(name string, opts ...WebhookOption) SendResult {
	if !j.active() {
		return SendResult{}
	}
	w := webhookCall{step: name}
	for _, o := range opts {
		o(&w)
	}
	m := message{
		key:      j.id + "/" + j.runID + "/webhook/" + w.step, // apart from an email or SMS step of the same name
		template: "webhook/" + name,
		at:       workflow.Now(j.ctx),
	}
	req := WebhookRequest{Message: j.envelope(w.step, m), Webhook: name, Traits: w.traits, Data: w.data}
	j.sending("webhook " + w.step)
	summary := "webhook: " + name
	res, err := j.send(SendWebhookActivity, summary, req)
	switch {
	case err == nil && res.Status == "":
		// The run ended while the journey was paused.
	case err == nil && (res.Status == StatusSkipped || res.Status == StatusRefused || res.Status == StatusUnknown):
		reason := res.Reason
		if res.Status != StatusSkipped {
			reason = res.Status + ": " + reason
		}
		j.log("skip", w.step+" (webhook)", reason)
	case err == nil:
		j.log("webhook", w.step, res.Status+" to "+name)
	case temporal.IsCanceledError(err):
		j.fail(w.step, err)
	default:
		// A receiver gone for a day, or a name the worker does not know, is
		// one lost post, not the end of the journey.
		detail := err.Error()
		if appErr := (*temporal.ApplicationError)(nil); errors.As(err, &appErr) {
			detail = appErr.Message() // without the activity's wrapping
		}
		j.log("skip", w.step+" (webhook)", "not sent: "+detail)
	}
	return res
}
