// Command bench measures Nudge on a real Temporal dev server, in one run:
//
//  1. ingestion: events per second through the gateway (HTTP, auth,
//     validation, database write, SignalWithStartWorkflow) against raw
//     SignalWithStartWorkflow calls from the SDK to the same server, at the
//     same concurrency, printed as a ratio;
//  2. latency: Signed Up over HTTP to the welcome email accepted by an SMTP
//     server on loopback, one sign-up at a time (light load), p50 and p99.
//
// Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/workflows"
)

func main() {
	events := flag.Int("events", 1500, "events per ingestion run")
	contacts := flag.Int("contacts", 150, "contacts the events of a run are spread over")
	concurrency := flag.Int("concurrency", 16, "requests in flight")
	signups := flag.Int("signups", 100, "sign-ups timed for latency")
	rounds := flag.Int("rounds", 6, "ingestion rounds, each a raw and a gateway run, in ABBA order")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the bench process (worker, gateway, load) here")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	if err := run(*events, *contacts, *concurrency, *signups, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(events, contacts, concurrency, signups, rounds int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "nudge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := stack.Start(ctx, dir, stack.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("Machine: %s, %d cores, %s\n", cpuModel(), runtime.NumCPU(), runtime.Version())
	fmt.Printf("Temporal dev server (CLI, SQLite), app database SQLite, worker and gateway in one process.\n\n")

	// Warm up both paths so neither pays for first connections.
	if _, err := rawSignals(ctx, s.Platform.Temporal, s.Platform.Config.TaskQueue, "warm-raw", 200, 20, concurrency); err != nil {
		return err
	}
	if _, err := gatewayEvents(s, "warm-gw", 200, 20, concurrency); err != nil {
		return err
	}

	// Alternate the two paths in ABBA order, so that the server slowing
	// down as its database grows weighs on both alike, and let the worker
	// catch up after each run so neither pays for the other's backlog.
	paths := map[string]func(prefix string) (float64, error){
		"raw": func(prefix string) (float64, error) {
			return rawSignals(ctx, s.Platform.Temporal, s.Platform.Config.TaskQueue, prefix, events, contacts, concurrency)
		},
		"gateway": func(prefix string) (float64, error) { return gatewayEvents(s, prefix, events, contacts, concurrency) },
	}
	seconds := map[string]float64{}
	for round := range rounds {
		order := []string{"raw", "gateway"}
		if round%2 == 1 {
			order = []string{"gateway", "raw"}
		}
		for _, path := range order {
			prefix := fmt.Sprintf("%s%d", path, round)
			rate, err := paths[path](prefix)
			if err != nil {
				return err
			}
			if err := drain(ctx, s, prefix, contacts, events/contacts); err != nil {
				return err
			}
			seconds[path] += float64(events) / rate
			fmt.Printf("  run %d %-8s %6.0f events/s\n", round+1, path, rate)
		}
	}
	raw := float64(events*rounds) / seconds["raw"]
	gw := float64(events*rounds) / seconds["gateway"]
	fmt.Printf("Ingestion, %d runs of %d events over %d contacts each, %d in flight:\n", rounds, events, contacts, concurrency)
	fmt.Printf("  raw SignalWithStartWorkflow  %7.0f events/s \n", raw)
	fmt.Printf("  gateway POST /v1/track       %7.0f events/s \n", gw)
	fmt.Printf("  gateway / raw                %7.2f   (target >= 0.80)\n\n", gw/raw)

	// Light load means the worker has caught up with the ingestion runs:
	// wait for an untimed sign-up's email first.
	if _, err := signupLatency(s, "drain", 1, 5*time.Minute); err != nil {
		return err
	}
	lat, err := signupLatency(s, "lat", signups, 30*time.Second)
	if err != nil || len(lat) == 0 {
		return err
	}
	fmt.Printf("Signed Up -> welcome email accepted by SMTP, %d sign-ups one at a time:\n", signups)
	fmt.Printf("  p50 %v   p99 %v   max %v   (target p50 < 300ms)\n", pct(lat, 50), pct(lat, 99), lat[len(lat)-1])
	return nil
}

// fanOut runs send for n items with `concurrency` workers and returns the rate.
func fanOut(n, concurrency int, send func(i int) error) (float64, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := send(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), firstErr
}

func rawSignals(ctx context.Context, c client.Client, taskQueue, prefix string, n, contacts, concurrency int) (float64, error) {
	return fanOut(n, concurrency, func(i int) error {
		id := fmt.Sprintf("%s-%d", prefix, i%contacts)
		ev := workflows.Event{MessageID: fmt.Sprintf("%s-m%d", prefix, i), Kind: workflows.KindTrack, Name: "Product Viewed",
			Properties: map[string]any{"product_id": "sku-1", "price": 19.5}, Timestamp: time.Now().UTC()}
		_, err := c.SignalWithStartWorkflow(ctx, workflows.ContactWorkflowID(id), workflows.SignalEvent, ev, client.StartWorkflowOptions{
			ID: workflows.ContactWorkflowID(id), TaskQueue: taskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ContactIDKey.ValueSet(id)),
		}, workflows.ContactWorkflowName, workflows.ContactState{ContactID: id})
		return err
	})
}

func gatewayEvents(s *stack.Stack, prefix string, n, contacts, concurrency int) (float64, error) {
	return fanOut(n, concurrency, func(i int) error {
		return s.Post("/v1/track", fmt.Sprintf(
			`{"userId":"%s-%d","messageId":"%s-m%d","event":"Product Viewed","properties":{"product_id":"sku-1","price":19.5}}`,
			prefix, i%contacts, prefix, i))
	})
}

// drain waits until every contact of a run has handled its events.
func drain(ctx context.Context, s *stack.Stack, prefix string, contacts, each int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for i := range contacts {
		id := workflows.ContactWorkflowID(fmt.Sprintf("%s-%d", prefix, i))
		for {
			var st workflows.ContactState
			v, err := s.Platform.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryState)
			if err == nil && v.Get(&st) == nil && st.Events >= each {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s did not handle its %d events: %w", id, each, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// signupLatency times each sign-up from the POST of Signed Up to the SMTP
// server's acceptance of the welcome email.
func signupLatency(s *stack.Stack, prefix string, n int, timeout time.Duration) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		to := id + "@example.com"
		if err := s.Post("/v1/identify", fmt.Sprintf(`{"userId":"%s","traits":{"email":"%s","firstName":"Lee"}}`, id, to)); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := s.Post("/v1/track", fmt.Sprintf(`{"userId":"%s","event":"Signed Up"}`, id)); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		m, err := s.WaitForEmail(ctx, to, "Welcome to Acme, Lee: 10% off your first order")
		cancel()
		if err != nil {
			return nil, err
		}
		out = append(out, m.Accepted.Sub(start))
	}
	slices.Sort(out)
	return out, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))].Round(time.Millisecond)
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
