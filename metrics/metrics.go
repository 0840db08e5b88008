// Package metrics holds Nudge's own Prometheus metrics, in one registry that
// also carries the Temporal SDK's metrics (see Server). Counters are
// incremented where things happen: the gateway (events in), the relay
// (events to Temporal), the send activities (messages out).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry is what /metrics serves.
var Registry = prometheus.NewRegistry()

var (
	// EventsAccepted counts events stored for delivery, by source
	// (segment, shopify, twilio, tracking, email_webhook, slack).
	EventsAccepted = newCounter("nudge_events_accepted_total",
		"Events stored for delivery to contacts' workflows.", "source")
	// EventsRefused counts requests refused at the door, by reason
	// (bad_request, unauthorized, too_large, unsupported, store_failed).
	EventsRefused = newCounter("nudge_events_refused_total",
		"Ingestion requests refused, by reason; nothing from them was stored.", "reason")
	// RelaySignals counts signals to contacts' workflows by outcome:
	// delivered, unreachable (Temporal down: retried, no attempt counted),
	// failed (this event's own error: retried with backoff), dead_lettered.
	RelaySignals = newCounter("nudge_relay_signals_total",
		"SignalWithStart calls from the relay, by outcome.", "outcome")
	// RelayEvents counts events delivered, so events/signals is the fold.
	RelayEvents = newPlainCounter("nudge_relay_events_delivered_total", "Events delivered to contacts' workflows.")
	// Sends counts message sends by channel (email, sms, slack) and outcome:
	// sent, recorded, skipped, refused (permanent), deferred (temporary,
	// retried), unknown (may have gone out; not repeated), repeated (an
	// unknown transactional send, sent again once).
	Sends = newCounter("nudge_sends_total",
		"Message sends by channel and outcome.", "channel", "outcome")
	// CapSkips counts marketing messages a frequency cap held back.
	CapSkips = newCounter("nudge_cap_skips_total",
		"Marketing messages skipped by a frequency cap.", "channel")
	// GuardAlerts counts the list-health guard's alerts (at most one a day
	// per journey), and whether it paused the journey.
	GuardAlerts = newCounter("nudge_guard_alerts_total",
		"List-health guard alerts: a journey's last 200 sends over a bounce, unsubscribe or complaint limit.", "journey", "paused")
	// SMSConsentUnordered counts STOPs and STARTs applied in arrival order
	// because Twilio could not say when it took them.
	SMSConsentUnordered = newPlainCounter("nudge_sms_consent_unordered_total",
		"SMS keywords ordered by arrival because Twilio's message time could not be read.")
)

func newPlainCounter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	Registry.MustRegister(c)
	return c
}

func newCounter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	Registry.MustRegister(c)
	return c
}

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}
