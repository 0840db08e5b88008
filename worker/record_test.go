package worker_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/workflows"
)

var record = flag.Bool("record", false, "run the journeys on a dev server and save their histories to testdata/histories for the replay test")

// TestRecordHistories runs scenarios on a real dev server and saves the
// histories the replay test checks. Run it when a journey gains a scenario,
// never to paper over a replay failure: old histories are the contacts still
// in flight.
//
//	go test ./worker -run TestRecordHistories -record
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -record to record histories")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A low continue-as-new suggestion makes the contact workflow roll over
	// within the recording, so that path is in a history too.
	s, err := stack.Start(ctx, t.TempDir(), stack.Options{DynamicConfig: []string{"limit.historyCount.suggestContinueAsNew=40"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Platform.Temporal
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// A shopper signs up, gets the welcome, then orders: the goal ends the journey.
	must(s.Post("/v1/identify", `{"userId":"maya","traits":{"email":"maya@example.com","firstName":"Maya"}}`))
	must(s.Post("/v1/track", `{"userId":"maya","event":"Signed Up"}`))
	_, err = s.WaitForEmail(ctx, "maya@example.com", "Welcome to Acme, Maya: 10% off your first order")
	must(err)
	must(s.Post("/v1/track", `{"userId":"maya","event":"Order Completed","properties":{"order_id":"1001","total":64}}`))
	waitClosed(ctx, t, c, "journey/welcome_ecommerce/maya")

	// A B2B sign-up completes setup while waiting for day 1.
	must(s.Post("/v1/identify", `{"userId":"dana","traits":{"email":"dana@ledgerly.example","firstName":"Dana","account_type":"b2b","industry":"fintech"}}`))
	must(s.Post("/v1/track", `{"userId":"dana","event":"Signed Up","properties":{"plan":"b2b"}}`))
	_, err = s.WaitForEmail(ctx, "dana@ledgerly.example", "Welcome to Acme, Dana: one step to get started")
	must(err)
	must(s.Post("/v1/track", `{"userId":"dana","event":"Setup Completed"}`))
	waitFor(ctx, t, func() bool {
		var st workflows.JourneyState
		v, err := c.QueryWorkflow(ctx, "journey/welcome_b2b/dana", "", workflows.QueryState)
		return err == nil && v.Get(&st) == nil && st.Timeline[len(st.Timeline)-1].Detail == workflows.EventSetupCompleted
	})

	// An operator cancels a B2B welcome.
	must(s.Post("/v1/track", `{"userId":"omar","event":"Signed Up","properties":{"plan":"b2b"}}`))
	waitFor(ctx, t, func() bool {
		_, err := c.DescribeWorkflowExecution(ctx, "journey/welcome_b2b/omar", "")
		return err == nil
	})
	must(c.CancelWorkflow(ctx, "journey/welcome_b2b/omar", ""))
	waitClosed(ctx, t, c, "journey/welcome_b2b/omar")

	// Enough events to make Maya's contact workflow continue as new.
	for i := range 25 {
		must(s.Post("/v1/page", fmt.Sprintf(`{"userId":"maya","name":"Page %d"}`, i)))
	}
	waitFor(ctx, t, func() bool {
		var st workflows.ContactState
		v, err := c.QueryWorkflow(ctx, "contact/maya", "", workflows.QueryState)
		return err == nil && v.Get(&st) == nil && st.Events == 28
	})

	// A shopper leaves a cart and orders it within the hour; the order's
	// post-purchase journey ends on a refund.
	must(s.Post("/v1/identify", `{"userId":"lena","traits":{"email":"lena@example.com","firstName":"Lena","phone":"+4915112345678","sms_consent":true}}`))
	must(s.Post("/v1/track", `{"userId":"lena","event":"Checkout Started","properties":{"checkout_id":"ch-1","value":129,"currency":"EUR","products":[{"product_id":"sku-tote","name":"Everyday tote","price":129,"quantity":1}]}}`))
	waitFor(ctx, t, func() bool {
		_, err := c.DescribeWorkflowExecution(ctx, "journey/abandoned_cart/lena/ch-1", "")
		return err == nil
	})
	must(s.Post("/v1/track", `{"userId":"lena","event":"Order Completed","properties":{"order_id":"2001","checkout_id":"ch-1","total":129,"currency":"EUR"}}`))
	waitClosed(ctx, t, c, "journey/abandoned_cart/lena/ch-1")
	_, err = s.WaitForEmail(ctx, "lena@example.com", "Order 2001 confirmed: thank you, Lena")
	must(err)
	must(s.Post("/v1/track", `{"userId":"lena","event":"Order Refunded","properties":{"order_id":"2001"}}`))
	waitClosed(ctx, t, c, "journey/post_purchase/lena/2001")

	// A B2B lead who fits the profile requests a demo: scored past the MQL
	// threshold and handed to sales; the demo ends nurture.
	must(s.Post("/v1/identify", `{"userId":"kai","traits":{"email":"kai@brightpath.example","firstName":"Kai","title":"CTO","company":{"name":"Brightpath","industry":"software","employee_count":120}}}`))
	must(s.Post("/v1/track", `{"userId":"kai","event":"Signed Up","properties":{"plan":"b2b"}}`))
	waitFor(ctx, t, func() bool {
		_, err := c.DescribeWorkflowExecution(ctx, "journey/nurture/kai", "")
		return err == nil
	})
	must(s.Post("/v1/track", `{"userId":"kai","event":"Demo Requested"}`))
	waitClosed(ctx, t, c, "journey/nurture/kai")
	waitFor(ctx, t, func() bool {
		var st workflows.ContactState
		v, err := c.QueryWorkflow(ctx, "contact/kai", "", workflows.QueryState)
		return err == nil && v.Get(&st) == nil && st.TaskID != 0
	})

	// Win-back, started the way the engagement clock would, answered by an open.
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "journey/winback/kai", TaskQueue: s.Platform.Config.TaskQueue},
		"winback", workflows.JourneyInput{ContactID: "kai", Trigger: workflows.Event{Kind: workflows.KindTrack, Name: workflows.EventEngagementLapsed},
			Settings: workflows.DefaultSettings(), Version: workflows.CurrentVersion})
	must(err)
	_, err = s.WaitForEmail(ctx, "kai@brightpath.example", "We miss you, Kai")
	must(err)
	must(c.SignalWorkflow(ctx, "journey/winback/kai", "", workflows.SignalEvent, workflows.Event{Kind: workflows.KindTrack, Name: workflows.EventEmailOpened}))
	waitClosed(ctx, t, c, "journey/winback/kai")

	for name, id := range map[string]string{
		"contact_scored_and_handed_off": "contact/kai",
		"nurture_demo_requested":        "journey/nurture/kai",
		"winback_engaged":               "journey/winback/kai",
		"abandoned_cart_ordered":        "journey/abandoned_cart/lena/ch-1",
		"post_purchase_refunded":        "journey/post_purchase/lena/2001",
		"contact_cart_and_order":        "contact/lena",
		"welcome_ecommerce_goal":        "journey/welcome_ecommerce/maya",
		"welcome_b2b_setup_signal":      "journey/welcome_b2b/dana",
		"welcome_b2b_cancelled":         "journey/welcome_b2b/omar",
		"contact_b2b":                   "contact/dana",
		"contact_continued_as_new":      "contact/maya",
		"contact_signup_without_email":  "contact/omar",
	} {
		// Named for the version the runs had, beside the older recordings.
		saveFirstRun(ctx, t, c, id, filepath.Join("testdata", "histories", fmt.Sprintf("%s.v%d.json", name, workflows.CurrentVersion)))
	}
}

func waitFor(ctx context.Context, t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met before the deadline")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitClosed(ctx context.Context, t *testing.T, c client.Client, id string) {
	t.Helper()
	waitFor(ctx, t, func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		return err == nil && d.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
}

// saveFirstRun writes the history of the workflow's first run (for a
// contact that continued as new, the run that did). It never overwrites a
// recorded history: those stand for runs recorded by older code, which the
// current code must still replay. Rename one to record its scenario anew.
func saveFirstRun(ctx context.Context, t *testing.T, c client.Client, id, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Logf("keeping %s", path)
		return
	}
	var runID string
	var firstStart time.Time
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = %q", id)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resp.Executions {
		if runID == "" || e.StartTime.AsTime().Before(firstStart) {
			runID, firstStart = e.Execution.RunId, e.StartTime.AsTime()
		}
	}
	hist := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, e)
	}
	raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s: %d events of %s", path, len(hist.Events), id)
}
