package activities_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// hookSecret is a Standard Webhooks secret: whsec_ and 32 bytes in base64.
const hookSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

// hookCall is one request the fake receiver got.
type hookCall struct {
	Method      string
	Path        string
	Header      http.Header
	Body        []byte
	ContentType string
}

// fakeReceiver stands in for a webhook endpoint: it records each request
// and answers with the next scripted reply, or 204.
type fakeReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []hookCall
	replies []func(http.ResponseWriter)
}

func newFakeReceiver(t *testing.T) *fakeReceiver {
	f := &fakeReceiver{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, hookCall{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, ContentType: r.Header.Get("Content-Type")})
		var reply func(http.ResponseWriter)
		if len(f.replies) > 0 {
			reply, f.replies = f.replies[0], f.replies[1:]
		}
		f.mu.Unlock()
		if reply == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		reply(w)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeReceiver) then(reply func(http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, reply)
}

func (f *fakeReceiver) requests() []hookCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hookCall(nil), f.calls...)
}

func hookReply(status int, body string, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

type webhookFixture struct {
	testbed
	receiver *fakeReceiver
}

// newWebhookFixture has Dana and a webhook "crm" at a fake receiver, posted
// to with a client that waits timeout for an answer.
func newWebhookFixture(t *testing.T, timeout time.Duration) webhookFixture {
	t.Helper()
	receiver := newFakeReceiver(t)
	client, err := activities.NewWebhookClient(hookSecret, timeout)
	if err != nil {
		t.Fatal(err)
	}
	b := newTestbed(t, &activities.Activities{Webhooks: client, WebhookURLs: map[string]string{
		"crm": receiver.URL + "/hooks/nudge", "ops": "http://127.0.0.1:1/in",
	}})
	b.addContact(t, models.Contact{ID: "dana", Email: "dana@example.com", FirstName: "Dana", Company: "Acme",
		LifecycleStage: "lead", LeadScore: 42, Traits: map[string]any{"plan": "pro", "password_hint": "never sent"}})
	return webhookFixture{testbed: b, receiver: receiver}
}

func (f webhookFixture) send(t *testing.T, req workflows.WebhookRequest) (workflows.SendResult, error) {
	t.Helper()
	var res workflows.SendResult
	err := f.run(t, workflows.SendWebhookActivity, req, &res)
	return res, err
}

func webhookRequest(key string) workflows.WebhookRequest {
	return workflows.WebhookRequest{
		Message: workflows.Message{Key: key, ContactID: "dana", Journey: "welcome_b2b", Step: "crm_sync",
			Template: "webhook/crm", At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), RunID: "run-1"},
		Webhook: "crm",
		Traits:  []string{"plan", "not_a_trait"},
		Data:    map[string]any{"tier": "gold", "seats": 12},
	}
}

const wantWebhookBody = `{"type":"welcome_b2b.crm_sync","timestamp":"2026-03-02T09:00:00Z","data":{"webhook":"crm","journey":"welcome_b2b","step":"crm_sync","run_id":"run-1",` +
	`"contact":{"id":"dana","email":"dana@example.com","first_name":"Dana","company":"Acme","lifecycle_stage":"lead","lead_score":42,"traits":{"plan":"pro"}},` +
	`"properties":{"seats":12,"tier":"gold"}}}`

// verifyByHand checks a request's signature without the library that made
// it: HMAC-SHA256 over id.timestamp.body with the key after whsec_.
func verifyByHand(t *testing.T, c hookCall) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(hookSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(c.Header.Get("webhook-id") + "." + c.Header.Get("webhook-timestamp") + "." + string(c.Body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := c.Header.Get("webhook-signature"); got != want {
		t.Errorf("webhook-signature = %q, want %q", got, want)
	}
}

func TestSendWebhookPostsSignedJSON(t *testing.T) {
	f := newWebhookFixture(t, 0)
	before := time.Now().Unix()
	res, err := f.send(t, webhookRequest("k-hook"))
	if err != nil || res.Status != workflows.StatusSent || res.To != "crm" || res.Subject != "welcome_b2b.crm_sync" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	calls := f.receiver.requests()
	if len(calls) != 1 {
		t.Fatalf("receiver got %d requests", len(calls))
	}
	c := calls[0]
	if c.Method != http.MethodPost || c.ContentType != "application/json" {
		t.Errorf("request = %s %s", c.Method, c.ContentType)
	}
	if string(c.Body) != wantWebhookBody {
		t.Errorf("body = %s\nwant   %s", c.Body, wantWebhookBody)
	}
	id := c.Header.Get("webhook-id")
	if id != activities.WebhookID("k-hook") || !strings.HasPrefix(id, "msg_") || len(id) != 36 || strings.Contains(id, "dana") {
		t.Errorf("webhook-id = %q", id)
	}
	ts, err := strconv.ParseInt(c.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil || ts < before || ts > time.Now().Unix() {
		t.Errorf("webhook-timestamp = %q, want the time of the send", c.Header.Get("webhook-timestamp"))
	}
	if sig := c.Header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
		t.Errorf("webhook-signature = %q", sig)
	}
	// The receiver's side: the library verifies (timestamp tolerance too),
	// and so does a hand-written HMAC.
	wh, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(c.Body, c.Header); err != nil {
		t.Errorf("the library does not verify it: %v", err)
	}
	verifyByHand(t, c)
	tampered := append([]byte(nil), c.Body...)
	tampered[len(tampered)-3] = '9'
	if err := wh.Verify(tampered, c.Header); err == nil {
		t.Error("a changed body verifies")
	}
	other, _ := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString([]byte("another-secret-of-24-bytes!!")))
	if err := other.Verify(c.Body, c.Header); err == nil {
		t.Error("another secret verifies")
	}

	row := f.row(t, "k-hook")
	if row.Channel != models.ChannelWebhook || row.Status != workflows.StatusSent || row.To != "crm" || row.Text != wantWebhookBody ||
		row.ProviderID != id || row.Marketing || row.Journey != "welcome_b2b" || row.Step != "crm_sync" || row.Template != "webhook/crm" {
		t.Errorf("row = %+v", row)
	}

	// The same key again: done, nothing posted.
	again, err := f.send(t, webhookRequest("k-hook"))
	if err != nil || again != res {
		t.Errorf("again = %+v, %v", again, err)
	}
	if n := len(f.receiver.requests()); n != 1 {
		t.Errorf("receiver got %d requests after a repeat of the key", n)
	}
}

// A webhook is not marketing, whatever the request says: no cap applies,
// and the unknown-outcome rule repeats it once.
func TestSendWebhookIsNeverMarketing(t *testing.T) {
	f := newWebhookFixture(t, 0)
	req := webhookRequest("k-mkt")
	req.Marketing = true
	if res, err := f.send(t, req); err != nil || res.Status != workflows.StatusSent {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if row := f.row(t, "k-mkt"); row.Marketing {
		t.Error("the row says marketing")
	}
}

// A 5xx is retried by Temporal; the retry posts once more, with the same
// webhook-id, and then the step is done.
func TestSendWebhookRetriesA5xx(t *testing.T) {
	f := newWebhookFixture(t, 0)
	f.receiver.then(hookReply(http.StatusInternalServerError, "<html>oops</html>"))
	_, err := f.send(t, webhookRequest("k-500"))
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) || !strings.Contains(err.Error(), "POST webhook crm: answered 500 Internal Server Error: <html>oops</html>") {
		t.Fatalf("err = %v, want retryable, naming the status", err)
	}
	if row := f.row(t, "k-500"); row.Status != models.MessageFailed {
		t.Errorf("row = %s: %q", row.Status, row.Reason)
	}
	res, err := f.send(t, webhookRequest("k-500"))
	if err != nil || res.Status != workflows.StatusSent {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if row := f.row(t, "k-500"); row.Status != workflows.StatusSent || row.Attempts != 2 || row.Repeats != 0 || row.Reason != "" {
		t.Errorf("row = %s after %d attempts, %d repeats: %q", row.Status, row.Attempts, row.Repeats, row.Reason)
	}
	if res, err := f.send(t, webhookRequest("k-500")); err != nil || res.Status != workflows.StatusSent {
		t.Errorf("third call = %+v, %v", res, err)
	}
	calls := f.receiver.requests()
	if len(calls) != 2 || calls[0].Header.Get("webhook-id") != calls[1].Header.Get("webhook-id") || string(calls[0].Body) != string(calls[1].Body) {
		t.Fatalf("receiver got %d requests, want 2 with one webhook-id and one body", len(calls))
	}
	for _, c := range calls {
		verifyByHand(t, c)
	}
}

// 429 is retried, waiting as long as Retry-After asks; so is a 503.
func TestSendWebhookRetriesRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(http.ResponseWriter)
		delay time.Duration
	}{
		{"429 with Retry-After", hookReply(http.StatusTooManyRequests, "slow down", "Retry-After", "7"), 7 * time.Second},
		{"429", hookReply(http.StatusTooManyRequests, ""), 0},
		{"429 asking for a day", hookReply(http.StatusTooManyRequests, "", "Retry-After", "86400"), time.Hour},
		{"503 with a date", hookReply(http.StatusServiceUnavailable, "", "Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat)), 90 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newWebhookFixture(t, 0)
			f.receiver.then(tc.reply)
			_, err := f.send(t, webhookRequest("k-429"))
			var appErr *temporal.ApplicationError
			if err == nil || !errors.As(err, &appErr) || appErr.NonRetryable() {
				t.Fatalf("err = %v, want retryable", err)
			}
			if d := appErr.NextRetryDelay(); d < tc.delay-2*time.Second || d > tc.delay {
				t.Errorf("next retry in %s, want %s", d, tc.delay)
			}
			if row := f.row(t, "k-429"); row.Status != models.MessageFailed {
				t.Errorf("row = %s", row.Status)
			}
			if res, err := f.send(t, webhookRequest("k-429")); err != nil || res.Status != workflows.StatusSent {
				t.Fatalf("retry = %+v, %v", res, err)
			}
			if n := len(f.receiver.requests()); n != 2 {
				t.Errorf("receiver got %d requests", n)
			}
		})
	}
}

// Any other 4xx, and a redirect, is refused for good: the reason names the
// status, and the step is not posted again.
func TestSendWebhookRefusals(t *testing.T) {
	for _, tc := range []struct {
		reply  func(http.ResponseWriter)
		reason string
	}{
		{hookReply(http.StatusBadRequest, "{\"error\":\n \"unknown field\"}"), `POST webhook crm: answered 400 Bad Request: {"error": "unknown field"}`},
		{hookReply(http.StatusUnauthorized, ""), "POST webhook crm: answered 401 Unauthorized"},
		{hookReply(http.StatusGone, "gone"), "POST webhook crm: answered 410 Gone: gone"},
		{hookReply(http.StatusMovedPermanently, "", "Location", "https://elsewhere.example.com/"),
			"POST webhook crm: answered 301 Moved Permanently (redirects are not followed: list the final URL in NUDGE_WEBHOOKS)"},
	} {
		t.Run(tc.reason[len("POST webhook crm: answered "):][:3], func(t *testing.T) {
			f := newWebhookFixture(t, 0)
			f.receiver.then(tc.reply)
			res, err := f.send(t, webhookRequest("k-4xx"))
			if err != nil || res.Status != workflows.StatusRefused || res.Reason != tc.reason {
				t.Fatalf("result = %+v, %v; want refused: %s", res, err, tc.reason)
			}
			if row := f.row(t, "k-4xx"); row.Status != workflows.StatusRefused || row.Reason != tc.reason {
				t.Errorf("row = %s: %q", row.Status, row.Reason)
			}
			if again, err := f.send(t, webhookRequest("k-4xx")); err != nil || again != res {
				t.Errorf("retry = %+v, %v", again, err)
			}
			if n := len(f.receiver.requests()); n != 1 {
				t.Errorf("receiver got %d requests", n)
			}
		})
	}
}

// The request went out and no answer came in time: the outcome is unknown.
// The retry posts once more with the same webhook-id (the receiver drops
// it if it had the first); unknown twice stays unknown.
func TestSendWebhookTimeoutRepeatsWithTheSameID(t *testing.T) {
	f := newWebhookFixture(t, 300*time.Millisecond)
	slow := func(w http.ResponseWriter) { time.Sleep(time.Second); w.WriteHeader(http.StatusOK) }
	f.receiver.then(slow)
	_, err := f.send(t, webhookRequest("k-slow"))
	if err == nil || !strings.Contains(err.Error(), "may have taken the request") || !strings.Contains(err.Error(), "it will be sent once more") {
		t.Fatalf("err = %v, want an unknown outcome, sent once more", err)
	}
	if row := f.row(t, "k-slow"); row.Status != workflows.StatusUnknown {
		t.Errorf("row = %s: %q", row.Status, row.Reason)
	}
	res, err := f.send(t, webhookRequest("k-slow"))
	if err != nil || res.Status != workflows.StatusSent {
		t.Fatalf("repeat = %+v, %v", res, err)
	}
	if row := f.row(t, "k-slow"); row.Status != workflows.StatusSent || row.Repeats != 1 || row.Attempts != 2 {
		t.Errorf("row = %s, %d repeats, %d attempts", row.Status, row.Repeats, row.Attempts)
	}
	calls := f.receiver.requests()
	if len(calls) != 2 || calls[0].Header.Get("webhook-id") != calls[1].Header.Get("webhook-id") {
		t.Fatalf("receiver got %d requests, want 2 with one webhook-id", len(calls))
	}
	wh, _ := standardwebhooks.NewWebhook(hookSecret)
	for _, c := range calls {
		if err := wh.Verify(c.Body, c.Header); err != nil {
			t.Errorf("attempt signed wrong: %v", err)
		}
	}

	// Unknown twice: no third post.
	f.receiver.then(slow)
	f.receiver.then(slow)
	if _, err := f.send(t, webhookRequest("k-twice")); err == nil || !strings.Contains(err.Error(), "it will be sent once more") {
		t.Fatalf("err = %v", err)
	}
	res, err = f.send(t, webhookRequest("k-twice"))
	if err != nil || res.Status != workflows.StatusUnknown || !strings.HasSuffix(res.Reason, "; it was sent once more, and that too is unknown") {
		t.Fatalf("second unknown = %+v, %v", res, err)
	}
	if again, err := f.send(t, webhookRequest("k-twice")); err != nil || again.Status != workflows.StatusUnknown {
		t.Fatalf("third attempt = %+v, %v", again, err)
	}
	if n := len(f.receiver.requests()); n != 4 {
		t.Errorf("receiver got %d requests, want 2 more", n)
	}
}

// A receiver that cannot be reached got nothing: retried.
func TestSendWebhookReceiverDown(t *testing.T) {
	f := newWebhookFixture(t, 0)
	req := webhookRequest("k-down")
	req.Webhook = "ops"
	_, err := f.send(t, req)
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) || !strings.Contains(err.Error(), "did not go out") {
		t.Fatalf("err = %v, want retryable", err)
	}
	if row := f.row(t, "k-down"); row.Status != models.MessageFailed {
		t.Errorf("row = %s", row.Status)
	}
}

// A name NUDGE_WEBHOOKS does not list is a permanent error naming it.
func TestSendWebhookUnknownName(t *testing.T) {
	f := newWebhookFixture(t, 0)
	req := webhookRequest("k-nope")
	req.Webhook = "erp"
	_, err := f.send(t, req)
	var appErr *temporal.ApplicationError
	if err == nil || !errors.As(err, &appErr) || !appErr.NonRetryable() ||
		!strings.Contains(err.Error(), `no webhook "erp" in NUDGE_WEBHOOKS (known: crm, ops)`) {
		t.Fatalf("err = %v, want a permanent error naming erp", err)
	}
	if n := len(f.receiver.requests()); n != 0 {
		t.Errorf("receiver got %d requests", n)
	}
}

// Offline (nudge simulate) renders and records the webhook, and posts
// nothing.
func TestSendWebhookOffline(t *testing.T) {
	receiver := newFakeReceiver(t)
	client, err := activities.NewWebhookClient(hookSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	online := &activities.Activities{Webhooks: client, WebhookURLs: map[string]string{"crm": receiver.URL}}
	b := newTestbed(t, online.Offline())
	b.addContact(t, models.Contact{ID: "dana", Email: "dana@example.com", FirstName: "Dana", Company: "Acme",
		LifecycleStage: "lead", LeadScore: 42, Traits: map[string]any{"plan": "pro"}})
	var res workflows.SendResult
	if err := b.run(t, workflows.SendWebhookActivity, webhookRequest("k-off"), &res); err != nil || res.Status != workflows.StatusRecorded {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if row := b.row(t, "k-off"); row.Status != workflows.StatusRecorded || row.Text != wantWebhookBody {
		t.Errorf("row = %s: %s", row.Status, row.Text)
	}
	if n := len(receiver.requests()); n != 0 {
		t.Errorf("receiver got %d requests offline", n)
	}
	if online.Webhooks == nil {
		t.Error("Offline changed the original")
	}
}

func TestNewWebhookClientChecksTheSecret(t *testing.T) {
	for _, s := range []string{"", "C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "whsec_short", "whsec_c2hvcnQ="} {
		if _, err := activities.NewWebhookClient(s, 0); err == nil {
			t.Errorf("secret %q accepted", s)
		}
	}
}
