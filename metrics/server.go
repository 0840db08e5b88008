package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Path is where the server answers.
const Path = "/metrics"

// latencyBuckets are the bounds, in seconds, of the SDK's latency histograms.
// OpenTelemetry's default bounds (0 to 10000) suit milliseconds; the SDK
// records seconds, from a few milliseconds (requests) to a minute (long polls).
var latencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// SDKHandler is the Temporal SDK's metrics handler, for client.Options: what
// the SDK and workflow code (workflow.GetMetricsHandler) record appears in
// Registry, named as Prometheus names them. A counter "temporal_request"
// becomes temporal_request_total, a timer "temporal_request_latency"
// becomes the histogram temporal_request_latency_seconds. Every call returns
// the same handler: one exporter per process, since a second one in Registry
// would serve every series twice.
func SDKHandler() (client.MetricsHandler, error) { return sdkHandler() }

var sdkHandler = sync.OnceValues(func() (client.MetricsHandler, error) {
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(Registry),
		// Pinned, not left to the exporter's default, which its docs say
		// will change: Prometheus names with unit and _total suffixes.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		// No target_info or otel_scope_* labels: Prometheus's own job and
		// instance labels say where a series comes from.
		otelprom.WithoutTargetInfo(),
		otelprom.WithoutScopeInfo(),
		otelprom.WithAggregationSelector(func(kind sdkmetric.InstrumentKind) sdkmetric.Aggregation {
			if kind == sdkmetric.InstrumentKindHistogram {
				return sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBuckets}
			}
			return sdkmetric.DefaultAggregationSelector(kind)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("Temporal SDK metrics: %w", err)
	}
	// OpenTelemetry reports collection errors through its global handler,
	// which by default writes with its own logger; send them to slog.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Default().Warn("metrics: OpenTelemetry", "error", err)
	}))
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: provider.Meter("temporal-sdk-go"),
		// The SDK's counters only go up: as OpenTelemetry counters they are
		// Prometheus counters (_total, rate() works), not gauges.
		UseMonotonicCounters: true,
		// The default panics, and a panic in workflow code fails a workflow
		// task over a metric; a lost metric is logged instead.
		OnError: func(err error) { slog.Default().Error("metrics: Temporal SDK metric not recorded", "error", err) },
	}), nil
})

// Listen binds addr (NUDGE_METRICS_ADDR) for Serve. An empty addr means
// metrics are off: Listen returns nil and no error.
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("NUDGE_METRICS_ADDR: %w (each Nudge process on a host needs its own address; \"off\" disables metrics)", err)
	}
	return l, nil
}

// Serve answers GET /metrics on l with Registry until ctx ends, then shuts
// down and closes l.
func Serve(ctx context.Context, l net.Listener, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, promhttp.HandlerFor(Registry, promhttp.HandlerOpts{
		// One failing collector should not blank the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      errorLog{log},
		// promhttp_metric_handler_errors_total counts what ContinueOnError hides.
		Registry: Registry,
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics server on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// errorLog is promhttp's logger, on slog.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Println(v ...any) { e.log.Error("metrics: scrape", "error", fmt.Sprint(v...)) }
