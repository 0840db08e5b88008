// Command bench measures Nudge on a real Temporal dev server, in one run:
//
//  1. ingestion: events per second through the gateway (HTTP, auth,
//     validation, database write, SignalWithStartWorkflow) against raw
//     SignalWithStartWorkflow calls from the SDK to the same server, at the
//     same concurrency, printed as a ratio; then the same events sent as
//     /v1/batch calls of 20 events over 5 contacts, which the relay folds
//     into one signal per contact;
//  2. latency: Signed Up over HTTP to the welcome email accepted by an SMTP
//     server on loopback, one sign-up at a time (light load), p50 and p99;
//  3. sustained journeys: a burst of sign-ups, against a raw Temporal
//     baseline doing the least the same outcome takes (a workflow per
//     sign-up that sends the email in one activity, then waits on a timer);
//  4. scale (with -scale N): N contacts each with a running ContactWorkflow
//     and an open journey, on a worker in its own process, with its memory
//     at checkpoints, and the databases' sizes;
//  5. audience: a 100,000-contact (and a 25,000-contact) audience synced to
//     the Meta stand-in and re-synced after a few changes, with the time
//     and the peak heap (audience.go); it runs first, before the stack.
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

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.temporal.io/sdk/client"

	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/workflows"
)

type options struct {
	events, contacts, concurrency, signups, rounds, burst, scale int
	skip                                                         string
	results                                                      resultSizes
}

func main() {
	serveMetaStandIn() // when re-run as the audience part's stand-in
	var o options
	flag.IntVar(&o.events, "events", 1500, "events per ingestion run")
	flag.IntVar(&o.contacts, "contacts", 150, "contacts the events of a run are spread over")
	flag.IntVar(&o.concurrency, "concurrency", 16, "requests in flight")
	flag.IntVar(&o.signups, "signups", 100, "sign-ups timed for latency")
	flag.IntVar(&o.rounds, "rounds", 4, "ingestion rounds, each a raw, a gateway and a batch run, in ABBA order")
	flag.IntVar(&o.burst, "burst", 10000, "sign-ups in the sustained-journeys burst (0 skips it)")
	flag.IntVar(&o.scale, "scale", 0, "contacts for the scale run, e.g. 100000 (0 skips it; it takes about an hour)")
	flag.StringVar(&o.skip, "skip", "", "comma-separated parts to skip: audience, ingestion, latency, burst, baseline (the burst's), results")
	flag.IntVar(&o.results.contacts, "results-contacts", 50000, "contacts generated for the results' speed")
	flag.IntVar(&o.results.messages, "results-messages", 200000, "messages generated for the results' speed")
	flag.IntVar(&o.results.events, "results-events", 1000000, "events generated for the results' speed")
	flag.StringVar(&o.results.db, "results-db", "", "time the results on this database URL (sqlite://… or mysql://…) and keep it; the data is generated there first when it holds no contacts")
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
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func (o options) skips(part string) bool { return slices.Contains(strings.Split(o.skip, ","), part) }

func run(o options) error {
	ctx := context.Background()
	fmt.Printf("Machine: %s, %d cores, %s\n", cpuModel(), runtime.NumCPU(), runtime.Version())
	if o.scale > 0 {
		return scaleRun(ctx, o)
	}
	if !o.skips("audience") {
		// Before the stack starts, so its heap is the sync's alone.
		if err := audienceRun(ctx); err != nil {
			return err
		}
	}
	if o.skips("ingestion") && o.skips("latency") && (o.burst == 0 || o.skips("burst")) && o.skips("results") {
		return nil // nothing left that needs the stack
	}
	dir, err := os.MkdirTemp("", "nudge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := stack.Start(ctx, dir, stack.Options{Env: passThrough("NUDGE_WORKFLOW_CACHE")})
	if err != nil {
		return err
	}
	defer s.Close()
	s.SMTP.DropBodies = true
	fmt.Printf("Temporal dev server (CLI, SQLite), app database SQLite, worker, gateway and load in one process.\n\n")

	if !o.skips("ingestion") {
		if err := ingestion(ctx, s, o); err != nil {
			return err
		}
	}
	if !o.skips("latency") {
		if err := latency(s, o); err != nil {
			return err
		}
	}
	if o.burst > 0 && !o.skips("burst") {
		if err := burst(ctx, s, o); err != nil {
			return err
		}
	}
	if !o.skips("results") {
		if err := resultsRun(ctx, o.results, s.Platform.Temporal); err != nil {
			return err
		}
	}
	return nil
}

func ingestion(ctx context.Context, s *stack.Stack, o options) error {
	// Warm up every path so none pays for first connections.
	if _, err := rawSignals(ctx, s.Platform.Temporal, s.Platform.Config.TaskQueue, "warm-raw", 200, 20, o.concurrency); err != nil {
		return err
	}
	if _, err := gatewayEvents(s, "warm-gw", 200, 20, o.concurrency); err != nil {
		return err
	}
	if _, err := batchEvents(ctx, s, "warm-batch", 200, 20, o.concurrency); err != nil {
		return err
	}

	// Alternate the paths in ABBA order, so that the server slowing down as
	// its database grows weighs on each alike, and let the worker catch up
	// after each run so none pays for another's backlog.
	paths := map[string]func(prefix string) (float64, error){
		"raw": func(prefix string) (float64, error) {
			return rawSignals(ctx, s.Platform.Temporal, s.Platform.Config.TaskQueue, prefix, o.events, o.contacts, o.concurrency)
		},
		"gateway": func(prefix string) (float64, error) {
			return gatewayEvents(s, prefix, o.events, o.contacts, o.concurrency)
		},
		"batch": func(prefix string) (float64, error) {
			return batchEvents(ctx, s, prefix, o.events, o.contacts, o.concurrency)
		},
	}
	seconds := map[string]float64{}
	for round := range o.rounds {
		order := []string{"raw", "gateway", "batch"}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, path := range order {
			prefix := fmt.Sprintf("%s%d", path, round)
			rate, err := paths[path](prefix)
			if err != nil {
				return err
			}
			if err := drain(ctx, s, prefix, expected(path, o.events, o.contacts)); err != nil {
				return err
			}
			seconds[path] += float64(o.events) / rate
			fmt.Printf("  run %d %-8s %6.0f events/s\n", round+1, path, rate)
		}
	}
	rate := func(path string) float64 { return float64(o.events*o.rounds) / seconds[path] }
	raw, gw, batch := rate("raw"), rate("gateway"), rate("batch")
	fmt.Printf("Ingestion, %d runs of %d events over %d contacts each, %d requests in flight:\n", o.rounds, o.events, o.contacts, o.concurrency)
	fmt.Printf("  raw SignalWithStartWorkflow        %7.0f events/s\n", raw)
	fmt.Printf("  gateway POST /v1/track             %7.0f events/s   %.2f x raw (target >= 0.90)\n", gw, gw/raw)
	fmt.Printf("  gateway POST /v1/batch, 20 events  %7.0f events/s   %.2f x raw (target >= 1.50)\n", batch, batch/raw)
	fmt.Printf("    (a batch is 20 events over 5 contacts; its rate counts until the relay has signalled every event)\n\n")
	return nil
}

func latency(s *stack.Stack, o options) error {
	// Light load means the worker has caught up with what came before:
	// wait for an untimed sign-up's email first.
	if _, err := signupLatency(s, "drain", 1, 5*time.Minute); err != nil {
		return err
	}
	lat, err := signupLatency(s, "lat", o.signups, 30*time.Second)
	if err != nil || len(lat) == 0 {
		return err
	}
	fmt.Printf("Signed Up -> welcome email accepted by SMTP, %d sign-ups one at a time:\n", o.signups)
	fmt.Printf("  p50 %v   p99 %v   max %v   (target p50 < 300ms)\n\n", pct(lat, 50), pct(lat, 99), lat[len(lat)-1])
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
			TypedSearchAttributes: workflows.StartAttributes(id),
		}, workflows.ContactWorkflowName, workflows.NewContact(id))
		return err
	})
}

func trackCall(prefix string, i, contacts int) string {
	return fmt.Sprintf(`{"type":"track","userId":"%s-%d","messageId":"%s-m%d","event":"Product Viewed","properties":{"product_id":"sku-1","price":19.5}}`,
		prefix, i%contacts, prefix, i)
}

// gatewayEvents posts one track call per request; the gateway answers once
// the relay has signalled it.
func gatewayEvents(s *stack.Stack, prefix string, n, contacts, concurrency int) (float64, error) {
	return fanOut(n, concurrency, func(i int) error {
		return s.Post("/v1/track", trackCall(prefix, i, contacts))
	})
}

// batchEvents posts /v1/batch calls of 20 events over 5 contacts; the rate
// counts until the relay has signalled every event, not just until the
// batches were stored.
func batchEvents(ctx context.Context, s *stack.Stack, prefix string, n, contacts, concurrency int) (float64, error) {
	const perBatch, perBatchContacts = 20, 5
	delivered := func() float64 { return testutil.ToFloat64(metrics.RelayEvents) }
	before := delivered()
	start := time.Now()
	batches := (n + perBatch - 1) / perBatch
	_, err := fanOut(batches, concurrency, func(b int) error {
		// Batch b carries events for 5 contacts, 4 each, in the order a
		// storefront would send them.
		var calls []string
		for k := range perBatch {
			i := b*perBatch + k
			if i >= n {
				break
			}
			contact := batchContact(b, k, contacts)
			calls = append(calls, fmt.Sprintf(`{"type":"track","userId":"%s-%d","messageId":"%s-m%d","event":"Product Viewed","properties":{"product_id":"sku-1","price":19.5}}`,
				prefix, contact, prefix, i))
		}
		return s.Post("/v1/batch", `{"batch":[`+strings.Join(calls, ",")+`]}`)
	})
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for delivered()-before < float64(n) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the relay signalled %.0f of %d batched events in 5 minutes", delivered()-before, n)
		}
		time.Sleep(time.Millisecond)
	}
	return float64(n) / time.Since(start).Seconds(), ctx.Err()
}

// batchContact is the contact of the kth event of batch b: each batch
// carries 4 events for each of 5 contacts.
func batchContact(b, k, contacts int) int { return (b*5 + k%5) % contacts }

// expected is how many events each contact of a run gets.
func expected(path string, n, contacts int) map[int]int {
	counts := map[int]int{}
	for i := range n {
		c := i % contacts
		if path == "batch" {
			c = batchContact(i/20, i%20, contacts)
		}
		counts[c]++
	}
	return counts
}

// drain waits until every contact of a run has handled its events.
func drain(ctx context.Context, s *stack.Stack, prefix string, each map[int]int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for i, want := range each {
		id := workflows.ContactWorkflowID(fmt.Sprintf("%s-%d", prefix, i))
		for {
			var st workflows.ContactState
			v, err := s.Platform.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryState)
			if err == nil && v.Get(&st) == nil && st.Events >= want {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s did not handle its %d events: %w", id, want, ctx.Err())
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
		m, err := s.WaitForEmail(ctx, to, welcomeSubject)
		cancel()
		if err != nil {
			return nil, err
		}
		out = append(out, m.Accepted.Sub(start))
	}
	slices.Sort(out)
	return out, nil
}

const welcomeSubject = "Welcome to Acme, Lee: 10% off your first order"

// passThrough carries settings from the bench's environment to the stack.
func passThrough(names ...string) map[string]string {
	env := map[string]string{}
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			env[n] = v
		}
	}
	return env
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
