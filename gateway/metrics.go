package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/models"
)

type sourceKey struct{}

// sources name where events come from, by route, for the metrics.
var sources = []struct{ prefix, name string }{
	{"/v1/tasks", "tasks"},
	{"/v1/", "segment"},
	{"/webhooks/shopify", "shopify"},
	{"/webhooks/twilio", "twilio"},
	{"/webhooks/slack", "slack"},
	{"/webhooks/email", "email_webhook"},
	{links.OpenPrefix, "tracking"},
	{links.ClickPrefix, "tracking"},
	{"/unsubscribe/", "unsubscribe"},
	{"/preferences/", "preferences"},
}

// countEvents tags a request with its source, so accepted events are
// counted by it, and counts the ingestion requests refused, by reason.
func (g *Gateway) countEvents(c *gin.Context) {
	source := ""
	for _, s := range sources {
		if strings.HasPrefix(c.Request.URL.Path, s.prefix) {
			source = s.name
			break
		}
	}
	if source == "" || c.Request.Method == http.MethodGet && (source == "segment" || source == "tasks") {
		c.Next() // not an ingestion route: reads are not counted
		return
	}
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), sourceKey{}, source))
	c.Next()
	if status := c.Writer.Status(); status >= 400 {
		metrics.EventsRefused.WithLabelValues(refusalReason(status)).Inc()
	}
}

func refusalReason(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "unauthorized"
	case status == http.StatusRequestEntityTooLarge:
		return "too_large"
	case status == http.StatusUnsupportedMediaType:
		return "unsupported"
	case status >= 500:
		return "store_failed"
	}
	return "bad_request"
}

func sourceOf(ctx context.Context) string {
	if s, ok := ctx.Value(sourceKey{}).(string); ok {
		return s
	}
	return "other"
}

// backlogCache keeps the last backlog reading for a few seconds, so a
// scrape and a readiness probe together cost one query.
type backlogCache struct {
	mu   sync.Mutex
	at   time.Time
	last models.Backlog
	err  error
}

func (g *Gateway) backlog(ctx context.Context) (models.Backlog, error) {
	b := &g.backlogs
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.at) < 2*time.Second {
		return b.last, b.err
	}
	b.last, b.err = g.Store.Backlog(ctx)
	b.at = time.Now()
	return b.last, b.err
}

var registerBacklog sync.Once

// RegisterMetrics adds the relay's backlog gauges, read from the database at
// scrape time, to the metrics registry. One gateway per process registers.
func (g *Gateway) RegisterMetrics() {
	registerBacklog.Do(func() {
		read := func(f func(models.Backlog) float64) func() float64 {
			return func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				b, err := g.backlog(ctx)
				if err != nil {
					return -1 // the database did not answer; the readiness check says why
				}
				return f(b)
			}
		}
		metrics.Registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nudge_relay_backlog_events", Help: "Events stored and not yet delivered to Temporal (-1: database unreachable)."},
				read(func(b models.Backlog) float64 { return float64(b.Pending) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nudge_relay_backlog_age_seconds", Help: "Age of the oldest event not yet delivered; 0 when none waits."},
				read(func(b models.Backlog) float64 { return backlogAge(b).Seconds() })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "nudge_relay_dead_letters", Help: "Events Temporal refused every time, waiting for an operator."},
				read(func(b models.Backlog) float64 { return float64(b.Dead) })),
		)
	})
}

func backlogAge(b models.Backlog) time.Duration {
	if b.OldestPending.IsZero() {
		return 0
	}
	return max(0, time.Since(b.OldestPending))
}
