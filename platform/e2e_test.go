package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// startStack brings up a real Temporal dev server, a loopback SMTP server,
// and Nudge's worker and gateway. Without a Temporal CLI the test is skipped,
// except under `make test`, which sets NUDGE_REQUIRE_E2E and must not skip.
func startStack(t *testing.T) *stack.Stack { return startStackWith(t, nil) }

// startStackWith starts the stack with env overriding NUDGE_* settings.
func startStackWith(t *testing.T, env map[string]string) *stack.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, t.TempDir(), stack.Options{Log: testLog{t}, Env: env})
	if errors.Is(err, stack.ErrNoTemporal) && os.Getenv("NUDGE_REQUIRE_E2E") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func post(t *testing.T, s *stack.Stack, path, body string) {
	t.Helper()
	if err := s.Post(path, body); err != nil {
		t.Fatal(err)
	}
}

func waitForEmail(t *testing.T, s *stack.Stack, to, subject string) smtptest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := s.WaitForEmail(ctx, to, subject)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A storefront identifies a shopper and tracks Signed Up over HTTP; the
// welcome email, with its discount code and one-click unsubscribe headers,
// reaches the SMTP server. Following the unsubscribe link works.
func TestSignUpToWelcomeEmail(t *testing.T) {
	s := startStack(t)
	post(t, s, "/v1/identify", `{"userId":"u-ada","messageId":"e2e-1","traits":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace"}}`)
	post(t, s, "/v1/track", `{"userId":"u-ada","messageId":"e2e-2","event":"Signed Up","properties":{"plan":"free"}}`)

	m := waitForEmail(t, s, "ada@example.com", "Welcome to Acme, Ada: 10% off your first order")
	if got := m.Header.Get("From"); got != `"Acme" <hello@acme.example.com>` {
		t.Errorf("From = %q", got)
	}
	if got := m.Header.Get("To"); got != `"Ada Lovelace" <ada@example.com>` {
		t.Errorf("To = %q", got)
	}
	unsubscribe := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(unsubscribe, s.URL+"/unsubscribe/") {
		t.Fatalf("List-Unsubscribe = %q", m.Header.Get("List-Unsubscribe"))
	}
	if got := m.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	if !strings.Contains(string(m.Raw), "HELLO-") {
		t.Error("the welcome email carries no discount code")
	}

	// The contact API shows the running journey, read from the contact's workflow.
	var contact struct {
		Contact  models.Contact `json:"contact"`
		Journeys []struct{ Journey, WorkflowID string }
	}
	getJSON(t, s, "/v1/contacts/u-ada", &contact)
	if contact.Contact.Email != "ada@example.com" || len(contact.Journeys) != 1 || contact.Journeys[0].WorkflowID != "journey/welcome_ecommerce/u-ada" {
		t.Errorf("contact API = %+v", contact)
	}

	// A mail client's one-click unsubscribe (RFC 8058).
	resp, err := http.PostForm(unsubscribe, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	c, err := s.Platform.Store.Contact(context.Background(), "u-ada")
	if err != nil || c.UnsubscribedAt == nil {
		t.Errorf("after unsubscribing: %+v, %v", c, err)
	}
}

// The B2B sign-up takes the other welcome: routing runs on the live server.
func TestB2BSignUpGetsTheB2BWelcome(t *testing.T) {
	s := startStack(t)
	post(t, s, "/v1/batch", `{"batch":[
		{"type":"identify","userId":"u-dana","messageId":"b-1","traits":{"email":"dana@ledgerly.example","first_name":"Dana","company":{"name":"Ledgerly","industry":"fintech"}}},
		{"type":"track","userId":"u-dana","messageId":"b-2","event":"Signed Up","properties":{"plan":"b2b"}}
	]}`)
	waitForEmail(t, s, "dana@ledgerly.example", "Welcome to Acme, Dana: one step to get started")
}

func getJSON(t *testing.T, s *stack.Stack, path string, into any) {
	t.Helper()
	adminJSON(t, s, http.MethodGet, path, into)
}

// adminJSON calls the gateway with the admin key and decodes its 200 answer.
func adminJSON(t *testing.T, s *stack.Stack, method, path string, into any) {
	t.Helper()
	body, err := s.Admin(method, path, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, body)
	}
}

// A storefront posts Checkout Started, then the order for it: the
// abandoned-cart journey ends at once, no reminder goes out, and the order's
// post-purchase journey sends the confirmation.
func TestCheckoutThenOrderEndsTheCart(t *testing.T) {
	s := startStack(t)
	post(t, s, "/v1/identify", `{"userId":"u-lena","traits":{"email":"lena@example.com","firstName":"Lena"}}`)
	post(t, s, "/v1/track", `{"userId":"u-lena","event":"Checkout Started","properties":{"checkout_id":"ch-7","value":129,"currency":"USD","products":[{"product_id":"sku-tote","name":"Everyday tote","price":129,"quantity":1}]}}`)
	c := s.Platform.Temporal
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitUntil(ctx, t, "the cart journey starts", func() bool {
		_, err := c.DescribeWorkflowExecution(ctx, "journey/abandoned_cart/u-lena/ch-7", "")
		return err == nil
	})

	post(t, s, "/v1/track", `{"userId":"u-lena","event":"Order Completed","properties":{"order_id":"5001","checkout_id":"ch-7","total":129,"currency":"USD"}}`)
	waitForEmail(t, s, "lena@example.com", "Order 5001 confirmed: thank you, Lena")
	waitUntil(ctx, t, "the cart journey ends", func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, "journey/abandoned_cart/u-lena/ch-7", "")
		return err == nil && d.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	v, err := c.QueryWorkflow(ctx, "journey/abandoned_cart/u-lena/ch-7", "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.JourneyState
	if err := v.Get(&st); err != nil || st.Step != "goal: Order Completed" {
		t.Errorf("cart journey state = %+v, %v", st, err)
	}
	for _, m := range s.SMTP.Messages() {
		if subject := m.Header.Get("Subject"); strings.Contains(subject, "left something behind") {
			t.Errorf("a cart reminder went out after the order: %q", subject)
		}
	}
	// Ordered within the hour: the cart never counted as abandoned, so the
	// order is nobody's.
	var o models.Order
	err = s.Platform.Store.DB().Where("order_id = ?", "5001").Take(&o).Error
	if err != nil || o.Journey != "" || o.Total != 129 || !strings.HasPrefix(o.ID, "segment:") {
		t.Errorf("order = %+v, %v", o, err)
	}
}

func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not before the deadline", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Contact IDs in any script reach Temporal: "müller" and an emoji become
// workflow IDs a gRPC header can carry (encoded, reversibly), their welcome
// emails go out, and a NUL is refused at the door. Nobody else waits.
func TestNonASCIIContactsGetTheirJourneys(t *testing.T) {
	s := startStack(t)
	for i, id := range []string{"müller", "fan-🎉", "日本のお客様"} {
		email := fmt.Sprintf("intl-%d@example.com", i)
		post(t, s, "/v1/identify", fmt.Sprintf(`{"userId":%q,"traits":{"email":%q,"firstName":"Kim"}}`, id, email))
		post(t, s, "/v1/track", fmt.Sprintf(`{"userId":%q,"event":"Signed Up"}`, id))
		waitForEmail(t, s, email, "Welcome to Acme, Kim: 10% off your first order")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := s.Platform.Temporal.DescribeWorkflowExecution(ctx, "contact/m%C3%BCller", "")
	if err != nil {
		t.Fatalf("contact/m%%C3%%BCller: %v", err)
	}
	if got := d.WorkflowExecutionInfo.Execution.WorkflowId; got != workflows.ContactWorkflowID("müller") {
		t.Errorf("workflow ID %q", got)
	}
	if _, err := s.Platform.Temporal.DescribeWorkflowExecution(ctx, "journey/welcome_ecommerce/fan-%F0%9F%8E%89", ""); err != nil {
		t.Errorf("the emoji contact's journey: %v", err)
	}

	err = s.Post("/v1/track", "{\"userId\":\"bad\\u0000id\",\"event\":\"Signed Up\"}")
	if err == nil || !strings.Contains(err.Error(), `400 {"success":false,"error":"userId: contains a control character (U+0000) at character 4; IDs take printable text only","field":"userId"}`) {
		t.Errorf("a NUL in a userId: %v", err)
	}
	post(t, s, "/v1/identify", `{"userId":"after","traits":{"email":"after@example.com","firstName":"Kim"}}`)
	post(t, s, "/v1/track", `{"userId":"after","event":"Signed Up"}`)
	waitForEmail(t, s, "after@example.com", "Welcome to Acme, Kim: 10% off your first order")
	b, err := s.Platform.Store.Backlog(ctx)
	if err != nil || b.Dead != 0 {
		t.Errorf("backlog = %+v, %v", b, err)
	}

	// What ops see: the same numbers on /metrics.
	for _, m := range []struct {
		name   string
		labels map[string]string
	}{
		{"nudge_journeys_started_total", map[string]string{"journey": "welcome_ecommerce"}},
		{"nudge_relay_events_delivered_total", nil},
		{"nudge_sends_total", map[string]string{"channel": "email", "outcome": "sent"}},
		{"nudge_events_accepted_total", map[string]string{"source": "segment"}},
		{"nudge_events_refused_total", map[string]string{"reason": "bad_request"}},
	} {
		if v := metricValue(t, m.name, m.labels); v < 1 {
			t.Errorf("%s%v = %v, want at least 1", m.name, m.labels, v)
		}
	}
}

// metricValue sums a metric's samples that carry labels, from the registry
// /metrics serves.
func metricValue(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	sample:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue sample
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// A sign-up costs Temporal little: every write to a history is work for the
// server, which is what limits how fast sign-ups turn into journeys. The
// contact's run sets no search attribute itself (its start did) and records
// no version marker; the journey upserts JourneyStep once, for its first wait,
// and records its run for the results in a local activity (a marker, in
// the same workflow task).
func TestASignUpWritesLittleToTemporal(t *testing.T) {
	s := startStack(t)
	post(t, s, "/v1/batch", `{"batch":[{"type":"identify","userId":"lean","traits":{"email":"lean@example.com","firstName":"Lee"}},{"type":"track","userId":"lean","event":"Signed Up"}]}`)
	waitForEmail(t, s, "lean@example.com", "Welcome to Acme, Lee: 10% off your first order")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	count := func(id string) map[enums.EventType]int {
		n := map[enums.EventType]int{}
		it := s.Platform.Temporal.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			n[ev.EventType]++
		}
		return n
	}
	var journey map[enums.EventType]int
	waitUntil(ctx, t, "the welcome waits for day 2", func() bool {
		journey = count("journey/welcome_ecommerce/lean")
		return journey[enums.EVENT_TYPE_TIMER_STARTED] == 1
	})
	contact := count("contact/lean")
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"contact workflow tasks", contact[enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED], 2},
		{"contact search-attribute upserts", contact[enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES], 0},
		{"contact markers (the two settings side effects)", contact[enums.EVENT_TYPE_MARKER_RECORDED], 2},
		{"journey workflow tasks", journey[enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED], 2},
		{"journey search-attribute upserts", journey[enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES], 1},
		{"journey markers (its run recorded, the discount code)", journey[enums.EVENT_TYPE_MARKER_RECORDED], 2},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	// The run recorded itself for the results, still running.
	runs, err := s.Platform.Store.JourneyRuns(ctx, "lean")
	if err != nil || len(runs) != 1 || runs[0].Journey != "welcome_ecommerce" || runs[0].WorkflowID != "journey/welcome_ecommerce/lean" ||
		runs[0].Outcome != "" || runs[0].EndedAt != nil || runs[0].StartedAt.IsZero() {
		t.Errorf("journey runs = %+v, %v", runs, err)
	}
}

// Two contacts turn out to be one person. The admin alias merges them on
// the live server: the merged contact's welcome is handed to the kept
// contact's workflow, and an order sent under the old ID reaches the kept
// contact, ends the handed-over welcome (its goal) and confirms the order
// to the kept contact's address.
func TestAliasMergesRunningJourneys(t *testing.T) {
	s := startStack(t)
	post(t, s, "/v1/batch", `{"batch":[
		{"type":"identify","userId":"u-old","traits":{"email":"kim.old@example.com","firstName":"Kim"}},
		{"type":"track","userId":"u-old","event":"Signed Up","properties":{"plan":"free"}},
		{"type":"identify","userId":"u-new","traits":{"email":"kim@example.com","firstName":"Kim"}},
		{"type":"track","userId":"u-new","event":"Feature Used"}
	]}`)
	waitForEmail(t, s, "kim.old@example.com", "Welcome to Acme, Kim: 10% off your first order")
	c := s.Platform.Temporal
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	state := func(contact string) workflows.ContactState {
		var st workflows.ContactState
		v, err := c.QueryWorkflow(ctx, workflows.ContactWorkflowID(contact), "", workflows.QueryState)
		if err == nil {
			err = v.Get(&st)
		}
		if err != nil {
			t.Logf("query %s: %v", contact, err)
		}
		return st
	}
	waitUntil(ctx, t, "u-new's workflow runs", func() bool { return state("u-new").Events == 2 })

	if _, err := s.Admin(http.MethodPost, "/v1/alias", `{"previousId":"u-old","userId":"u-new"}`); err != nil {
		t.Fatal(err)
	}
	const welcome = "journey/welcome_ecommerce/u-old"
	waitUntil(ctx, t, "the welcome is handed over", func() bool {
		return state("u-old").MergedInto == "u-new" && slices.ContainsFunc(state("u-new").Running, func(r workflows.RunningJourney) bool { return r.WorkflowID == welcome })
	})

	post(t, s, "/v1/track", `{"userId":"u-old","event":"Order Completed","properties":{"order_id":"7001","total":40,"currency":"USD"}}`)
	waitForEmail(t, s, "kim@example.com", "Order 7001 confirmed: thank you, Kim")
	waitUntil(ctx, t, "the handed-over welcome reaches its goal", func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, welcome, "")
		return err == nil && d.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	var o models.Order
	if err := s.Platform.Store.DB().Where("order_id = ?", "7001").Take(&o).Error; err != nil || o.ContactID != "u-new" {
		t.Errorf("order = %+v, %v; want it under u-new", o, err)
	}
	if _, err := c.DescribeWorkflowExecution(ctx, "journey/post_purchase/u-new/7001", ""); err != nil {
		t.Errorf("post-purchase for the kept contact: %v", err)
	}
}
