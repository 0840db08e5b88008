package worker_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// Histories recorded on a real server (TestRecordHistories,
// TestRecordFullHistories) must replay against today's workflow code,
// taking every recorded step: no nondeterminism error, and no activity or
// child workflow swapped for another (worker.Replayer). A failure here
// means a change would break contacts already in a journey: guard the
// change with a version check instead of re-recording.
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
	router := &workflows.Router{Enabled: workflows.JourneyNames(), Settings: workflows.DefaultSettings()}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			hist := loadHistory(t, f)
			// Plain, and as a worker with NUDGE_ENCRYPTION_KEYS set: payloads
			// written before encryption pass the codec untouched.
			for name, dc := range map[string]converter.DataConverter{"plain": nil, "encrypting": encrypting} {
				r := &worker.Replayer{Router: router, DataConverter: dc}
				if err := r.Replay(hist, workflow.Execution{}); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		})
	}
}

// Every journey, and the contact workflow, has a history recorded to its
// end (a contact's to its last step: contacts never end), so adding,
// removing or moving any step fails the replay test.
func TestRecordedHistoriesCoverEveryJourney(t *testing.T) {
	for _, name := range append(workflows.JourneyNames(), "contact") {
		files, err := filepath.Glob(filepath.Join("testdata", "histories", name+"_*.full.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Errorf("no full history for %s: record one with TestRecordFullHistories", name)
			continue
		}
		for _, f := range files {
			events := loadHistory(t, f).GetEvents()
			last := events[len(events)-1].GetEventType()
			if name == "contact" {
				// Its last step: the run is waiting, not stopped halfway.
				if last != enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
					t.Errorf("%s ends with %s, not a completed workflow task", f, last)
				}
				continue
			}
			if last != enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
				t.Errorf("%s ends with %s: record the run to its end", f, last)
			}
		}
	}
}

func loadHistory(t *testing.T, path string) *historypb.History {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := client.HistoryFromJSON(strings.NewReader(string(raw)), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return hist
}
