package worker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// welcomeWithSurvey is the e-commerce welcome with a survey email added
// right after the welcome. guard is how runs already in flight are kept
// on their path: "" (no guard), "version" (the run's input version) or
// "GetVersion" (a marker in the history).
func welcomeWithSurvey(guard string) any {
	return func(ctx workflow.Context, in workflows.JourneyInput) error {
		j := workflows.Begin(ctx, in)
		discount := workflows.WithDiscount(j.DiscountCode(10), 10)
		j.Email("welcome", discount)
		survey := true
		switch guard {
		case "version":
			survey = in.Version >= workflows.CurrentVersion+1
		case "GetVersion":
			survey = workflow.GetVersion(ctx, "welcome-survey", workflow.DefaultVersion, 1) == 1
		}
		if survey {
			j.Email("survey")
		}
		j.WaitUntil(2 * day)
		j.Email("brand_story")
		j.WaitUntil(5 * day)
		j.Email("still_thinking", discount)
		return j.End()
	}
}

// Check replays the runs open on a real server: the code as it is breaks
// none; a journey with a step added where runs have already been breaks
// exactly those runs, named with their step; the same change behind a
// version guard breaks none.
func TestCheckOpenRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, t.TempDir(), stack.Options{})
	if errors.Is(err, stack.ErrNoTemporal) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Platform.Temporal
	for _, body := range []struct{ path, json string }{
		{"/v1/identify", `{"userId":"ann","traits":{"email":"ann@example.com","firstName":"Ann"}}`},
		{"/v1/track", `{"userId":"ann","event":"Signed Up"}`},
		{"/v1/identify", `{"userId":"ben","traits":{"email":"ben@example.com","firstName":"Ben"}}`},
		{"/v1/track", `{"userId":"ben","event":"Signed Up"}`},
		{"/v1/track", `{"userId":"cem","event":"Checkout Started","properties":{"checkout_id":"ch-9","value":20}}`},
	} {
		if err := s.Post(body.path, body.json); err != nil {
			t.Fatal(err)
		}
	}
	// Both welcomes have sent the welcome and wait for day 2; the cart waits
	// for its first hour.
	waitStep(ctx, t, c, "journey/welcome_ecommerce/ann", "wait until day 2")
	waitStep(ctx, t, c, "journey/welcome_ecommerce/ben", "wait until day 2")
	waitStep(ctx, t, c, "journey/abandoned_cart/cem/ch-9", "wait until +1h")
	waitFor(ctx, t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ExecutionStatus = 'Running'"})
		return err == nil && len(resp.Executions) == 6
	})
	router := s.Platform.Config.Router()

	res, err := worker.Check(ctx, c, &worker.Replayer{Router: router}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Open != 6 || res.Checked != 6 || len(res.Broken) != 0 {
		t.Fatalf("the code as it is: %d open, %d checked, broken %+v; want 6, 6, none", res.Open, res.Checked, res.Broken)
	}

	withSurvey := func(guard string) *worker.Replayer {
		return &worker.Replayer{Router: router, Register: func(reg sdkworker.WorkflowRegistry) {
			worker.RegisterWorkflows(replacing{reg, "welcome_ecommerce"}, router)
			reg.RegisterWorkflowWithOptions(welcomeWithSurvey(guard), workflow.RegisterOptions{Name: "welcome_ecommerce"})
		}}
	}
	res, err = worker.Check(ctx, c, withSurvey(""), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range res.Broken {
		got = append(got, b.WorkflowID+" "+b.Journey+" at "+b.Step)
		if !strings.Contains(b.Err.Error(), "[TMPRL1100]") {
			t.Errorf("%s: %v, want a nondeterminism error", b.WorkflowID, b.Err)
		}
	}
	want := "journey/welcome_ecommerce/ann welcome_ecommerce at wait until day 2,journey/welcome_ecommerce/ben welcome_ecommerce at wait until day 2"
	if res.Open != 6 || res.Checked != 6 || sortedJoin(got) != want {
		t.Fatalf("a step added: %d open, %d checked, broken %q; want 6, 6, %q", res.Open, res.Checked, sortedJoin(got), want)
	}

	for _, guard := range []string{"version", "GetVersion"} {
		res, err = worker.Check(ctx, c, withSurvey(guard), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Broken) != 0 {
			t.Errorf("the step added behind a %s guard breaks %+v", guard, res.Broken)
		}
	}

	// A sample checks that many of the open runs.
	res, err = worker.Check(ctx, c, withSurvey(""), 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Open != 6 || res.Checked != 2 {
		t.Fatalf("--sample 2: %d open, %d checked; want 6, 2", res.Open, res.Checked)
	}
}

func sortedJoin(s []string) string {
	s = slices.Clone(s)
	slices.Sort(s)
	return strings.Join(s, ",")
}

// A run no worker has taken up yet has done nothing to contradict: it
// passes while its workflow type is registered, and breaks once it is not.
func TestReplayRunNotStarted(t *testing.T) {
	hist := loadHistory(t, "testdata/histories/welcome_ecommerce_completed.v2.full.json")
	hist.Events = hist.Events[:2] // started, first workflow task scheduled
	if err := (&worker.Replayer{}).Replay(hist, workflow.Execution{}); err != nil {
		t.Fatalf("registered: %v", err)
	}
	none := &worker.Replayer{Register: func(sdkworker.WorkflowRegistry) {}}
	err := none.Replay(hist, workflow.Execution{})
	if err == nil || err.Error() != `workflow type "welcome_ecommerce" is not registered in this build: its runs cannot go on` {
		t.Fatalf("not registered: err = %v", err)
	}
}
