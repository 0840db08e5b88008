package workflows

import (
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// segmentProbe branches on a segment the way a journey would.
func segmentProbe(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	if j.InSegment(SegmentVisitedPage, map[string]string{"page": "/pricing"}) {
		j.Note("branch: pricing visitors")
	} else {
		j.Note("branch: everyone else")
	}
	return j.End()
}

func init() {
	register(Journey{Name: "segment_probe", Workflow: segmentProbe, Starts: func(ev Event, _ map[string]any) bool { return ev.Is("Segment Probe") }})
}

func TestRunInSegmentBranches(t *testing.T) {
	for _, in := range []bool{true, false} {
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestWorkflowEnvironment()
		env.RegisterWorkflowWithOptions(segmentProbe, workflow.RegisterOptions{Name: "segment_probe"})
		var asked SegmentRequest
		env.RegisterActivityWithOptions(func(req SegmentRequest) (bool, error) { asked = req; return in, nil }, activityOptions(InSegmentActivity))
		env.ExecuteWorkflow("segment_probe", JourneyInput{ContactID: "u1"})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		v, _ := env.QueryWorkflow(QueryState)
		var st JourneyState
		v.Get(&st)
		want := map[bool][]string{
			true:  {"in segment visited_page (page=/pricing)", "branch: pricing visitors"},
			false: {"not in segment visited_page (page=/pricing)", "branch: everyone else"},
		}[in]
		var notes []string
		for _, e := range st.Timeline {
			if e.Kind == "check" {
				notes = append(notes, e.Detail)
			}
		}
		if len(notes) != 2 || notes[0] != want[0] || notes[1] != want[1] {
			t.Errorf("in=%v: notes %v, want %v", in, notes, want)
		}
		if asked.ContactID != "u1" || asked.Segment != SegmentVisitedPage || asked.Params["page"] != "/pricing" || asked.At.IsZero() {
			t.Errorf("asked %+v", asked)
		}
	}
}

func activityOptions(name string) activity.RegisterOptions {
	return activity.RegisterOptions{Name: name}
}
