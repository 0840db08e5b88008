package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/ads/adstest"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The audience sync: a segment of N contacts synced to a Meta Custom
// Audience, first whole, then again after a few changes, through
// AudienceSyncWorkflow on the SDK's test environment with the real
// activities, a throwaway SQLite database and the Meta stand-in. The
// stand-in runs in a process of its own (this binary, re-run with
// standInEnv set), so the audience it keeps does not count in the heap
// measured here: the sync's memory should not grow with N beyond its
// batches.

// standInEnv makes this binary serve the Meta stand-in and print its URL.
const standInEnv = "NUDGE_BENCH_META_STANDIN"

// serveMetaStandIn serves the Meta stand-in until killed, when this
// process was started for that.
func serveMetaStandIn() {
	if os.Getenv(standInEnv) != "1" {
		return
	}
	m := adstest.NewMeta()
	fmt.Println(m.URL)
	select {}
}

// audienceSizes are the audiences synced: the same peak heap for both
// shows memory does not grow with the audience.
var audienceSizes = []int{25_000, 100_000}

// audienceChanges is how many contacts leave and how many join before the
// re-sync.
const audienceChanges = 5

func audienceRun(ctx context.Context) error {
	standIn := exec.Command(os.Args[0])
	standIn.Env = append(os.Environ(), standInEnv+"=1")
	standIn.Stderr = os.Stderr
	out, err := standIn.StdoutPipe()
	if err != nil {
		return err
	}
	if err := standIn.Start(); err != nil {
		return fmt.Errorf("start the Meta stand-in: %w", err)
	}
	defer func() {
		_ = standIn.Process.Kill()
		_ = standIn.Wait()
	}()
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the Meta stand-in did not say its URL: %w", err)
	}
	client, err := meta.New(meta.Config{AccessToken: adstest.MetaToken, APIURL: strings.TrimSpace(url),
		HTTPClient: &http.Client{Timeout: time.Minute}})
	if err != nil {
		return err
	}

	fmt.Printf("\nAudience sync to the Meta stand-in (its own process), SQLite, batches of %d, heap sampled every 5 ms:\n", workflows.AudienceBatchSize)
	fmt.Printf("  %9s  %-30s %12s %12s\n", "contacts", "run", "time", "peak heap")
	for i, n := range audienceSizes {
		if err := audienceOnce(ctx, client, n, fmt.Sprintf("%d", 100+i)); err != nil {
			return fmt.Errorf("%d contacts: %w", n, err)
		}
	}
	fmt.Printf("    (peak heap: the most heap in use while the sync ran, this process's baseline included)\n")
	return nil
}

func audienceOnce(ctx context.Context, client *meta.Client, n int, audienceID string) error {
	dir, err := os.MkdirTemp("", "nudge-bench-audience-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := models.Open("sqlite://" + filepath.Join(dir, "nudge.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	if err := generateAudience(ctx, store, "c", n); err != nil {
		return err
	}
	acts := &activities.Activities{Store: store, Ads: activities.AdClients{Meta: client}}
	req := workflows.AudienceSyncRequest{Key: "new_subscriber/meta/" + audienceID, Segment: "new_subscriber", Platform: "meta", AudienceID: audienceID}

	res, took, peak, err := measureSync(acts, req)
	if err != nil {
		return err
	}
	if res.Added != n {
		return fmt.Errorf("first sync added %d, want %d", res.Added, n)
	}
	fmt.Printf("  %9d  %-30s %12s %9.1f MB\n", n, fmt.Sprintf("first sync (%d batches)", res.Batches), took.Round(time.Millisecond), mb(peak))

	// A few changes: some leave the segment, as many join.
	var leave []string
	for i := range audienceChanges {
		leave = append(leave, fmt.Sprintf("c%06d", i*(n/audienceChanges)))
	}
	if err := store.DB().Model(&models.Contact{}).Where("id IN ?", leave).Update("lifecycle_stage", models.StageCustomer).Error; err != nil {
		return err
	}
	if err := generateAudience(ctx, store, "n", audienceChanges); err != nil {
		return err
	}
	res, took, peak, err = measureSync(acts, req)
	if err != nil {
		return err
	}
	if res.Added != audienceChanges || res.Removed != audienceChanges {
		return fmt.Errorf("re-sync added %d and removed %d, want %d each", res.Added, res.Removed, audienceChanges)
	}
	fmt.Printf("  %9s  %-30s %12s %9.1f MB\n", "", fmt.Sprintf("re-sync, %d changes", 2*audienceChanges), took.Round(time.Millisecond), mb(peak))
	return nil
}

// generateAudience writes n consenting contacts in the new_subscriber
// segment, IDs prefix000000…
func generateAudience(ctx context.Context, store *models.Store, prefix string, n int) error {
	const batch = 1000
	cs := make([]models.Contact, 0, batch)
	for i := range n {
		id := fmt.Sprintf("%s%06d", prefix, i)
		cs = append(cs, models.Contact{ID: id, Email: id + "@example.com", LifecycleStage: models.StageSubscriber,
			Traits: map[string]any{"ads_consent": true}})
		if len(cs) == batch || i == n-1 {
			if err := store.DB().WithContext(ctx).CreateInBatches(cs, batch).Error; err != nil {
				return err
			}
			cs = cs[:0]
		}
	}
	return nil
}

// measureSync runs one sync to its end and returns its result, how long
// it took, and the most heap in use meanwhile.
func measureSync(acts *activities.Activities, req workflows.AudienceSyncRequest) (workflows.AudienceSyncResult, time.Duration, uint64, error) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Minute)
	acts.Register(env)
	env.RegisterWorkflowWithOptions(workflows.AudienceSyncWorkflow, workflow.RegisterOptions{Name: workflows.AudienceSyncWorkflowName})

	runtime.GC()
	stop := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	env.ExecuteWorkflow(workflows.AudienceSyncWorkflowName, req)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	var res workflows.AudienceSyncResult
	if err := env.GetWorkflowError(); err != nil {
		return res, took, peak, err
	}
	err := env.GetWorkflowResult(&res)
	return res, took, peak, err
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
