package worker_test

import (
	"encoding/base64"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/converter"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// Histories recorded on a real server (TestRecordHistories) must replay
// against today's workflow code without a non-determinism error. A failure
// here means a change would break contacts already in a journey: guard the
// change with workflow.GetVersion instead of re-recording.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/histories")
	}
	keys, err := codec.ParseKeys("test:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	encrypting := codec.DataConverter(keys)
	replayed := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			// Plain, and as a worker with NUDGE_ENCRYPTION_KEYS set: payloads
			// written before encryption pass the codec untouched.
			for name, dc := range map[string]converter.DataConverter{"plain": nil, "encrypting": encrypting} {
				r, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{DataConverter: dc})
				if err != nil {
					t.Fatal(err)
				}
				worker.RegisterWorkflows(r, &workflows.Router{Enabled: workflows.JourneyNames(), Settings: workflows.DefaultSettings()})
				if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		})
		replayed[filepath.Base(f)] = true
	}
	// Every journey, and the contact workflow, has at least one history.
	for _, want := range []string{"welcome_b2b_", "welcome_ecommerce_", "abandoned_cart_", "post_purchase_", "nurture_", "winback_", "contact_"} {
		found := false
		for f := range replayed {
			if len(f) >= len(want) && f[:len(want)] == want {
				found = true
			}
		}
		if !found {
			t.Errorf("no recorded history for %s*", want)
		}
	}
}
