package metrics

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// scrape fetches /metrics from addr and returns its lines.
func scrape(t *testing.T, addr string) []string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", Path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want Prometheus text format", ct)
	}
	return strings.Split(string(body), "\n")
}

// Nudge's own counters and what the Temporal SDK records through SDKHandler
// come out of one /metrics, with Prometheus names.
func TestServeScrapesNudgeAndSDKMetrics(t *testing.T) {
	h, err := SDKHandler()
	if err != nil {
		t.Fatal(err)
	}
	again, err := SDKHandler()
	if err != nil {
		t.Fatal(err)
	}

	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, slog.Default()) }()

	EventsAccepted.WithLabelValues("segment").Add(3)
	EventsRefused.WithLabelValues("bad_request").Inc()
	// As workflow code does through workflow.GetMetricsHandler.
	h.WithTags(map[string]string{"journey": "welcome_b2c", "outcome": "converted"}).Counter("nudge_journeys_ended").Inc(2)
	// As the SDK does: counters, timers (in seconds) and gauges.
	h.WithTags(map[string]string{"operation": "SignalWithStartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	h.WithTags(map[string]string{"operation": "SignalWithStartWorkflowExecution"}).Timer("temporal_request_latency").Record(30 * time.Millisecond)
	// Through the second call's handler: the same exporter, so one series.
	again.Gauge("temporal_sticky_cache_size").Update(7)

	lines := scrape(t, l.Addr().String())
	for _, want := range []string{
		`# TYPE nudge_events_accepted_total counter`,
		`nudge_events_accepted_total{source="segment"} 3`,
		`nudge_events_refused_total{reason="bad_request"} 1`,
		`# TYPE nudge_journeys_ended_total counter`,
		`nudge_journeys_ended_total{journey="welcome_b2c",outcome="converted"} 2`,
		`# TYPE temporal_request_total counter`,
		`temporal_request_total{operation="SignalWithStartWorkflowExecution"} 1`,
		`# TYPE temporal_request_latency_seconds histogram`,
		`temporal_request_latency_seconds_bucket{operation="SignalWithStartWorkflowExecution",le="0.025"} 0`,
		`temporal_request_latency_seconds_bucket{operation="SignalWithStartWorkflowExecution",le="0.05"} 1`,
		`temporal_request_latency_seconds_bucket{operation="SignalWithStartWorkflowExecution",le="+Inf"} 1`,
		`temporal_request_latency_seconds_sum{operation="SignalWithStartWorkflowExecution"} 0.03`,
		`temporal_request_latency_seconds_count{operation="SignalWithStartWorkflowExecution"} 1`,
		`# TYPE temporal_sticky_cache_size gauge`,
		`temporal_sticky_cache_size 7`,
	} {
		if n := count(lines, func(l string) bool { return l == want }); n != 1 {
			t.Errorf("/metrics has %d lines %q, want 1", n, want)
		}
	}
	// The Go runtime and the process, for memory and goroutines.
	for _, prefix := range []string{"go_goroutines ", "process_resident_memory_bytes "} {
		if count(lines, func(l string) bool { return strings.HasPrefix(l, prefix) }) != 1 {
			t.Errorf("/metrics has no line %q...", prefix)
		}
	}
	// No OpenTelemetry resource or scope noise.
	for _, l := range lines {
		if strings.HasPrefix(l, "target_info") || strings.Contains(l, "otel_scope_") {
			t.Errorf("/metrics has %q; the exporter should add neither target_info nor scope labels", l)
		}
	}

	// Cancelling stops the server and frees the address.
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of its context ending")
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Serve returned", l.Addr())
	}
}

func count(lines []string, f func(string) bool) int {
	n := 0
	for _, l := range lines {
		if f(l) {
			n++
		}
	}
	return n
}

func TestListen(t *testing.T) {
	l, err := Listen("")
	if l != nil || err != nil {
		t.Errorf(`Listen("") = %v, %v; want nil, nil (metrics off)`, l, err)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	l, err = Listen(busy.Addr().String())
	if err == nil {
		l.Close()
		t.Fatalf("Listen(%s) on a taken address succeeded", busy.Addr())
	}
	if !strings.HasPrefix(err.Error(), "NUDGE_METRICS_ADDR: ") || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Listen on a taken address: %v; want an error naming NUDGE_METRICS_ADDR and the cause", err)
	}
}
