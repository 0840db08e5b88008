package worker_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

var record = flag.Bool("record", false, "run the journeys on a dev server and save their histories to testdata/histories for the replay test")

// recordOnly limits which full histories TestRecordFullHistories saves, so
// a new journey's can be added without rewriting the others'.
var recordOnly = flag.String("record-only", "", "comma-separated scenario names: save only these full histories")

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
	s, must := recordingStack(ctx, t, stack.Options{DynamicConfig: []string{"limit.historyCount.suggestContinueAsNew=40"}})
	c := s.Platform.Temporal

	// A shopper signs up, gets the welcome, then orders: the goal ends the journey.
	must(s.Post("/v1/identify", `{"userId":"maya","traits":{"email":"maya@example.com","firstName":"Maya"}}`))
	must(s.Post("/v1/track", `{"userId":"maya","event":"Signed Up"}`))
	_, err := s.WaitForEmail(ctx, "maya@example.com", "Welcome to Acme, Maya: 10% off your first order")
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
	closeTask(ctx, t, s, c, "kai")

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

// TestRecordFullHistories runs every journey, and a contact's lifecycle, to
// the end on a real dev server, so the replay test covers every step and
// not only the first one: a step added, removed or moved anywhere then fails
// it (worker/mutation_test.go proves that for each journey).
//
// A dev server cannot skip time, so the recording worker runs with
// shortWaits, which scales every journey timer down (a day lasts
// recordDay). Only the timer's duration changes: the journey code, its
// decisions (taken on workflow.Now, which the history carries) and so the
// commands it sends are the production ones, and Temporal does not compare
// a timer's duration on replay. The contact workflow's only timer, the
// engagement clock, rechecks workflow.Now when it fires, so it is not scaled:
// its settings (NUDGE_SCORE_DECAY_AFTER, NUDGE_WINBACK_AFTER) are shortened
// instead, and they are recorded in its history like any other settings.
//
//	go test ./worker -run TestRecordFullHistories -record -timeout 20m
func TestRecordFullHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -record to record histories")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	// Journeys compressed into minutes would hit the frequency cap, which
	// counts on the journeys' clock; contacts spread over weeks do not.
	s, must := recordingStack(ctx, t, stack.Options{NoWorker: true, Env: map[string]string{"NUDGE_FREQUENCY_CAP_EMAIL": "100/24h"}})
	c := s.Platform.Temporal
	if err := s.Platform.WaitForTemporal(ctx); err != nil {
		t.Fatal(err)
	}
	router := s.Platform.Config.Router()
	router.Settings.ScoreDecayAfter = 60 * time.Second
	router.Settings.WinbackAfter = 90 * time.Second
	acts, err := s.Platform.Activities()
	must(err)
	opts := worker.Options()
	opts.Interceptors = append(opts.Interceptors, &shortWaits{})
	w := sdkworker.New(c, s.Platform.Config.TaskQueue, opts)
	worker.RegisterWorkflows(w, router)
	acts.Register(w)
	must(w.Start())
	defer w.Stop()

	// E-commerce welcome, no order: all three emails.
	must(s.Post("/v1/identify", `{"userId":"ella","traits":{"email":"ella@example.com","firstName":"Ella"}}`))
	must(s.Post("/v1/track", `{"userId":"ella","event":"Signed Up"}`))

	// A B2B lead over its whole lifecycle: the welcome (setup completed
	// in time), nurture started and ended by a demo, the pricing alert, the
	// MQL handoff, a trial, then silence: a decay, the lapse, and a win-back
	// run that gets no answer and marks the contact unengaged.
	must(s.Post("/v1/identify", `{"userId":"bea","traits":{"email":"bea@brightpath.example","firstName":"Bea","account_type":"b2b","title":"CTO","company":{"name":"Brightpath","industry":"software","employee_count":120}}}`))
	must(s.Post("/v1/track", `{"userId":"bea","event":"Signed Up","properties":{"plan":"b2b"}}`))

	// A B2B sign-up who never finishes setup and never opens: the other
	// day-3 branch, and nurture (after the welcome) stopping unopened.
	must(s.Post("/v1/identify", `{"userId":"finn","traits":{"email":"finn@example.com","firstName":"Finn","account_type":"b2b"}}`))
	must(s.Post("/v1/track", `{"userId":"finn","event":"Signed Up","properties":{"plan":"b2b"}}`))

	// A lead by their job title: nurture without a welcome first.
	must(s.Post("/v1/identify", `{"userId":"nia","traits":{"email":"nia@example.com","firstName":"Nia","title":"Head of Growth"}}`))

	// A big cart with SMS consent: every cart step, free shipping.
	must(s.Post("/v1/identify", `{"userId":"liv","traits":{"email":"liv@example.com","firstName":"Liv","phone":"+4915112345679","sms_consent":true}}`))
	must(s.Post("/v1/track", `{"userId":"liv","event":"Checkout Started","properties":{"checkout_id":"ch-1","value":129,"currency":"EUR","products":[{"product_id":"sku-tote","name":"Everyday tote","price":129,"quantity":1}]}}`))
	// A small cart under a discount incentive: no SMS, a code instead.
	// Started directly, as the contact would with NUDGE_CART_INCENTIVE=discount.
	discount := workflows.DefaultSettings()
	discount.CartIncentive = workflows.IncentiveDiscount
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "journey/abandoned_cart/liv/ch-2", TaskQueue: s.Platform.Config.TaskQueue}, "abandoned_cart",
		workflows.JourneyInput{ContactID: "liv", Key: "ch-2", Settings: discount, Version: workflows.CurrentVersion, Trigger: workflows.Event{
			Kind: workflows.KindTrack, Name: workflows.EventCheckoutStarted,
			Properties: map[string]any{"checkout_id": "ch-2", "value": 40, "currency": "USD"},
		}})
	must(err)

	// A visitor from a Google ad who does not order: the follow-up email,
	// then the retargeting wait to its end.
	must(s.Post("/v1/identify", `{"userId":"kai","traits":{"email":"kai@example.com","firstName":"Kai"}}`))
	must(s.Post("/v1/page", `{"userId":"kai","name":"Trail boots","properties":{"url":"https://shop.example.com/boots?utm_campaign=spring&gclid=Cj0KCQ"}}`))
	// A look at a product, and no cart.
	must(s.Post("/v1/identify", `{"userId":"ines","traits":{"email":"ines@example.com","firstName":"Ines"}}`))
	must(s.Post("/v1/track", `{"userId":"ines","event":"Product Viewed","properties":{"product_id":"sku-boot","name":"Trail boot","price":149,"currency":"USD","url":"https://shop.example.com/p/trail-boot"}}`))

	// Two orders: one shipped and delivered, one never heard of again.
	must(s.Post("/v1/identify", `{"userId":"oli","traits":{"email":"oli@example.com","firstName":"Oli"}}`))
	must(s.Post("/v1/track", `{"userId":"oli","event":"Order Completed","properties":{"order_id":"3001","total":80,"currency":"USD"}}`))
	must(s.Post("/v1/track", `{"userId":"oli","event":"Order Completed","properties":{"order_id":"3002","total":25,"currency":"USD"}}`))

	// Two contacts who are one person: Mo signed up, Max ordered. An admin
	// alias merges Mo into Max (version 5): Max's workflow adopts Mo's
	// welcome, whose end Mo's workflow forwards to it.
	must(s.Post("/v1/identify", `{"userId":"mo","traits":{"email":"mo@example.com","firstName":"Mo"}}`))
	must(s.Post("/v1/track", `{"userId":"mo","event":"Signed Up"}`))
	must(s.Post("/v1/identify", `{"userId":"max","traits":{"email":"max@example.com","firstName":"Max"}}`))
	must(s.Post("/v1/track", `{"userId":"max","event":"Order Completed","properties":{"order_id":"3101","total":30,"currency":"USD"}}`))
	waitTimeline(ctx, t, c, "journey/welcome_ecommerce/mo", "welcome")
	waitTimeline(ctx, t, c, "journey/post_purchase/max/3101", "confirmation")
	if _, err := s.Admin(http.MethodPost, "/v1/alias", `{"previousId":"mo","userId":"max"}`); err != nil {
		t.Fatal(err)
	}

	// Bea: setup completed before day 3, then the pricing page and a demo.
	waitStep(ctx, t, c, "journey/welcome_b2b/bea", "wait until day 1")
	// She read the getting-started message in the app (version 5).
	if _, err := s.Admin(http.MethodPost, "/v1/track", `{"userId":"bea","event":"In-App Read","properties":{"journey":"welcome_b2b","step":"getting_started"}}`); err != nil {
		t.Fatal(err)
	}
	must(s.Post("/v1/track", `{"userId":"bea","event":"Setup Completed"}`))
	must(s.Post("/v1/page", `{"userId":"bea","name":"Pricing","properties":{"path":"/pricing"}}`))
	must(s.Post("/v1/track", `{"userId":"bea","event":"Demo Requested"}`))
	waitClosed(ctx, t, c, "journey/nurture/bea")
	// The demo made her an MQL: a rep takes the task and closes it, which
	// releases the welcome's sends held meanwhile (version 4).
	closeTask(ctx, t, s, c, "bea")
	must(s.Post("/v1/track", `{"userId":"bea","event":"Trial Started"}`))

	// Oli's first order ships while the journey waits for it, then arrives.
	waitStep(ctx, t, c, "journey/post_purchase/oli/3001", "wait for Order Shipped, up to 48h0m0s")
	must(s.Post("/v1/track", `{"userId":"oli","event":"Order Shipped","properties":{"order_id":"3001","tracking_number":"1Z999","carrier":"UPS","tracking_url":"https://ups.example/1Z999"}}`))
	waitTimeline(ctx, t, c, "journey/post_purchase/oli/3001", "shipping")
	must(s.Post("/v1/track", `{"userId":"oli","event":"Order Delivered","properties":{"order_id":"3001"}}`))

	// Nia opens every nurture email (so it never stops for want of opens),
	// is handed to sales and back after the first, and clicks a pricing
	// link in the second: the pricing track to the end.
	nurture := "journey/nurture/nia"
	signal := func(name string, props map[string]any) {
		t.Helper()
		must(c.SignalWorkflow(ctx, nurture, "", workflows.SignalEvent, workflows.Event{Kind: workflows.KindTrack, Name: name, Properties: props}))
	}
	opened := map[string]any{"journey": "nurture", "topic": "analytics"}
	waitTimeline(ctx, t, c, nurture, "1_educational")
	signal(workflows.EventEmailOpened, opened)
	signal(workflows.EventHandedOff, nil)
	waitStep(ctx, t, c, nurture, "hold while a sales rep has the lead")
	signal(workflows.EventSalesTaskClosed, nil)
	waitTimeline(ctx, t, c, nurture, "2_educational")
	signal(workflows.EventEmailOpened, opened)
	signal(workflows.EventEmailClicked, map[string]any{"journey": "nurture", "topic": "analytics", "tag": "pricing"})
	for _, step := range []string{"3_pricing", "4_roi", "5_demo"} {
		waitTimeline(ctx, t, c, nurture, step)
		signal(workflows.EventEmailOpened, opened)
	}

	full := map[string]string{
		"welcome_ecommerce_completed":      "journey/welcome_ecommerce/ella",
		"welcome_b2b_setup_completed":      "journey/welcome_b2b/bea",
		"welcome_b2b_setup_not_completed":  "journey/welcome_b2b/finn",
		"nurture_unopened":                 "journey/nurture/finn",
		"nurture_pricing_track_handed_off": nurture,
		"abandoned_cart_sms_free_shipping": "journey/abandoned_cart/liv/ch-1",
		"abandoned_cart_discount":          "journey/abandoned_cart/liv/ch-2",
		"post_purchase_delivered":          "journey/post_purchase/oli/3001",
		"post_purchase_not_delivered":      "journey/post_purchase/oli/3002",
		"winback_unengaged":                "journey/winback/bea",
		"ad_click_followup_no_order":       "journey/ad_click_followup/kai",
		"browse_abandonment_emailed":       "journey/browse_abandonment/ines",
	}
	for _, id := range full {
		waitClosed(ctx, t, c, id)
	}
	// Each scenario took the path its name says.
	for id, want := range map[string][]string{
		"journey/welcome_ecommerce/ella":  {"email welcome", "email brand_story", "email still_thinking"},
		"journey/welcome_b2b/bea":         {"email welcome", "email quick_win", "email next_milestone", "email feature_highlight", "email case_study", "email check_in"},
		"journey/welcome_b2b/finn":        {"email welcome", "email quick_win", "email finish_setup", "email feature_highlight", "email case_study", "email check_in"},
		"journey/nurture/finn":            {"email 1_educational", "email 2_educational", "email 3_use_case", "exit no opens, clicks, visits or in-app reads since the last 3 nurture emails: stopping"},
		nurture:                           {"email 1_educational", "email 2_educational", "check clicked a pricing link: moved to the pricing track", "email 3_pricing", "email 4_roi", "email 5_demo", "email 6_trial"},
		"journey/abandoned_cart/liv/ch-1": {"email reminder", "email social_proof", "sms reminder", "email incentive"},
		"journey/abandoned_cart/liv/ch-2": {"email reminder", "email social_proof", "check cart of $40.00 is not over the $100.00 SMS threshold: no SMS", "email incentive"},
		"journey/post_purchase/oli/3001":  {"email confirmation", "event Order Shipped", "email shipping", "email review_request", "email cross_sell", "email loyalty"},
		"journey/post_purchase/oli/3002":  {"email confirmation", "email shipping", "check Order Delivered not received", "email cross_sell", "email loyalty"},
		"journey/winback/bea":             {"email we_miss_you", "email what_would_help", "email last_email", "check no engagement after three emails: marked unengaged, no more marketing email"},
		"journey/ad_click_followup/kai":   {"email come_back", "check in the retarget segment until an order, or 30 days: the retargeting audience follows it"},
		"journey/browse_abandonment/ines": {"email still_looking"},
	} {
		if got := timelineSteps(ctx, t, c, id); !containsInOrder(got, want) {
			t.Errorf("%s took another path:\n got  %q\n want %q in that order", id, got, want)
		}
	}
	// The contact is recorded once its win-back has ended: its last step.
	waitFor(ctx, t, func() bool {
		var st workflows.ContactState
		v, err := c.QueryWorkflow(ctx, "contact/bea", "", workflows.QueryState)
		return err == nil && v.Get(&st) == nil && st.Lapsed && st.Decays >= 1 && len(st.Running) == 0 && st.Stage == workflows.StageTrial
	})
	full["contact_b2b_lifecycle"] = "contact/bea"
	// Mo's and Max's runs are recorded once the handed-over welcome ended.
	waitClosed(ctx, t, c, "journey/welcome_ecommerce/mo")
	waitFor(ctx, t, func() bool {
		var mo, kept workflows.ContactState
		v, err := c.QueryWorkflow(ctx, "contact/mo", "", workflows.QueryState)
		if err != nil || v.Get(&mo) != nil {
			return false
		}
		v, err = c.QueryWorkflow(ctx, "contact/max", "", workflows.QueryState)
		return err == nil && v.Get(&kept) == nil && mo.MergedInto == "max" && len(mo.Running) == 0 &&
			!slices.ContainsFunc(kept.Running, func(r workflows.RunningJourney) bool { return r.WorkflowID == "journey/welcome_ecommerce/mo" })
	})
	full["contact_merged_away"] = "contact/mo"
	full["contact_merged_into"] = "contact/max"
	if t.Failed() {
		t.FailNow()
	}
	for name, id := range full {
		if *recordOnly != "" && !slices.Contains(strings.Split(*recordOnly, ","), name) {
			continue
		}
		saveFirstRun(ctx, t, c, id, filepath.Join("testdata", "histories", fmt.Sprintf("%s.v%d.full.json", name, workflows.CurrentVersion)))
	}
}

// closeTask waits for the contact's sales task and closes it through the
// admin API, as a rep would.
func closeTask(ctx context.Context, t *testing.T, s *stack.Stack, c client.Client, contact string) {
	t.Helper()
	var st workflows.ContactState
	waitFor(ctx, t, func() bool {
		v, err := c.QueryWorkflow(ctx, "contact/"+contact, "", workflows.QueryState)
		return err == nil && v.Get(&st) == nil && st.TaskID != 0
	})
	if _, err := s.Admin(http.MethodPost, fmt.Sprintf("/v1/tasks/%d/close", st.TaskID), `{"reason":"talked"}`); err != nil {
		t.Fatal(err)
	}
}

// recordDay is how long a journey's day lasts while recording full
// histories: long enough for an event to reach a run inside a wait it ends.
const recordDay = 2 * time.Second

// shortWaits scales every journey timer down to recordDay a day; see
// TestRecordFullHistories.
type shortWaits struct {
	interceptor.WorkerInterceptorBase
}

func (shortWaits) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name == workflows.ContactWorkflowName {
		return next
	}
	return &shortWaitsInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type shortWaitsInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (i *shortWaitsInbound) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&shortWaitsOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}})
}

type shortWaitsOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
}

// NewTimerWithOptions is where every wait ends up: workflow.Sleep,
// NewTimer and the timeout of AwaitWithOptions all call it.
func (o *shortWaitsOutbound) NewTimerWithOptions(ctx workflow.Context, d time.Duration, opts workflow.TimerOptions) workflow.Future {
	scaled := time.Duration(float64(d) / float64(workflows.Day) * float64(recordDay))
	return o.Next.NewTimerWithOptions(ctx, max(scaled, 10*time.Millisecond), opts)
}

// waitStep waits until a journey run's current step is step.
func waitStep(ctx context.Context, t *testing.T, c client.Client, id, step string) {
	t.Helper()
	waitFor(ctx, t, func() bool {
		var st workflows.JourneyState
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryState)
		return err == nil && v.Get(&st) == nil && st.Step == step
	})
}

// waitTimeline waits until a journey run has sent the email step.
func waitTimeline(ctx context.Context, t *testing.T, c client.Client, id, step string) {
	t.Helper()
	waitFor(ctx, t, func() bool {
		var st workflows.JourneyState
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryState)
		return err == nil && v.Get(&st) == nil && slices.ContainsFunc(st.Timeline, func(e workflows.Entry) bool { return e.Kind == "email" && e.Step == step })
	})
}

// timelineSteps is a run's timeline as "kind step-or-detail" lines.
func timelineSteps(ctx context.Context, t *testing.T, c client.Client, id string) []string {
	t.Helper()
	var st workflows.JourneyState
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryState)
	if err != nil || v.Get(&st) != nil {
		t.Fatalf("query %s: %v", id, err)
	}
	var lines []string
	for _, e := range st.Timeline {
		what := e.Step
		if what == "" || e.Kind == "check" {
			what = e.Detail
		}
		if e.Kind == "event" {
			what = e.Detail
		}
		lines = append(lines, e.Kind+" "+what)
	}
	return lines
}

// containsInOrder reports whether want is a subsequence of got.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// recordingStack starts a stack for a recording, closed when the test ends,
// and a must that fails the test on an error.
func recordingStack(ctx context.Context, t *testing.T, o stack.Options) (*stack.Stack, func(error)) {
	t.Helper()
	s, err := stack.Start(ctx, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}
