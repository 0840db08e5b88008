package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const (
	slackToken   = "xoxb-test-0000-token"
	slackTS      = "1717430400.000100"
	slackRunLink = "http://temporal-ui.test/namespaces/prod/workflows/contact%2Fdana"
)

// slackRequest is one call the fake Slack API received.
type slackRequest struct {
	Method, Path, Authorization, ContentType string
	Form                                     url.Values
}

// fakeSlack stands in for https://slack.com/api/: it records each request
// and answers with the next scripted reply, or a posted message.
type fakeSlack struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []slackRequest
	replies []func(http.ResponseWriter)
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, slackRequest{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Form: form})
		var reply func(http.ResponseWriter)
		if len(f.replies) > 0 {
			reply, f.replies = f.replies[0], f.replies[1:]
		}
		f.mu.Unlock()
		if reply == nil {
			reply = slackReply(http.StatusOK, `{"ok":true,"channel":"C0SALES","ts":"`+slackTS+`","message":{"text":"x"}}`)
		}
		reply(w)
	}))
	t.Cleanup(f.Close)
	return f
}

func slackReply(status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func (f *fakeSlack) then(replies ...func(http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, replies...)
}

func (f *fakeSlack) requests() []slackRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slackRequest(nil), f.reqs...)
}

type slackFixture struct {
	testbed
	slack *fakeSlack
}

// newSlackFixture has Dana, a VP at Ledgerly owned by Sam, and the real
// slack-go client talking to a fake Slack API.
func newSlackFixture(t *testing.T) *slackFixture {
	t.Helper()
	fake := newFakeSlack(t)
	client, err := activities.NewSlackClient(slackToken, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := &slackFixture{slack: fake, testbed: newTestbed(t, &activities.Activities{
		Slack: client, SalesChannel: "#sales",
		TemporalUIURL: "http://temporal-ui.test/", Namespace: "prod",
	})}
	if err := f.store.SaveContact(context.Background(), &models.Contact{
		ID: "dana", Email: "dana@ledgerly.example", FirstName: "Dana", LastName: "Kim", Title: "VP Finance",
		Company: "Ledgerly", Industry: "fintech", EmployeeCount: 120, LeadScore: 75,
		OwnerName: "Sam Rep", OwnerEmail: "sam@nudge.example", OwnerSlackID: "U0SAM",
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *slackFixture) send(t *testing.T, req workflows.SlackRequest) (workflows.SendResult, error) {
	t.Helper()
	var res workflows.SendResult
	err := f.run(t, workflows.SendSlackActivity, req, &res)
	return res, err
}

var slackAt = time.Date(2025, 6, 3, 17, 0, 0, 0, time.UTC)

// mqlRequest is what ContactWorkflow sends when Dana becomes an MQL.
func mqlRequest(key string) workflows.SlackRequest {
	return workflows.SlackRequest{
		Key: key, ContactID: "dana", Kind: workflows.SlackMQL, To: "U0REP", At: slackAt,
		Data: workflows.SlackData{
			TaskID: 42,
			Breakdown: []workflows.ScoreChange{
				{Rule: "demo_requested", Points: 50, Reason: "requested a demo"},
				{Rule: "title", Points: 15, Reason: "job title matches the ideal customer profile"},
				{Rule: "inactive", Points: -10, Reason: "no engagement for 30 days"},
			},
			RecentEvents: []string{"Demo Requested", "Page Viewed /pricing <b>"},
			Rep:          "Rita Rep",
		},
	}
}

// blockJSON is a Block Kit block as Slack receives it.
type blockJSON struct {
	Type     string     `json:"type"`
	Text     *textJSON  `json:"text"`
	Fields   []textJSON `json:"fields"`
	Elements []struct {
		Type     string          `json:"type"`
		ActionID string          `json:"action_id"`
		Value    string          `json:"value"`
		URL      string          `json:"url"`
		Style    string          `json:"style"`
		Text     json.RawMessage `json:"text"` // an object on a button, a string on text

	} `json:"elements"`
}

type textJSON struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func decodeBlocks(t *testing.T, raw string) []blockJSON {
	t.Helper()
	var blocks []blockJSON
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		t.Fatalf("blocks are not JSON: %v\n%s", err, raw)
	}
	return blocks
}

func TestSendSlackMQLThroughSlack(t *testing.T) {
	f := newSlackFixture(t)
	res, err := f.send(t, mqlRequest("contact/dana/slack/mql/1"))
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.SendResult{Status: "sent", To: "U0REP", Subject: "New MQL: Dana Kim (Ledgerly)"}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}

	reqs := f.slack.requests()
	if len(reqs) != 1 {
		t.Fatalf("Slack got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/chat.postMessage" {
		t.Errorf("request = %s %s, want POST /chat.postMessage", r.Method, r.Path)
	}
	if r.Authorization != "Bearer "+slackToken {
		t.Errorf("Authorization = %q, want the bot token as bearer", r.Authorization)
	}
	if r.Form.Get("channel") != "U0REP" {
		t.Errorf("channel = %q", r.Form.Get("channel"))
	}
	fallback := "New MQL: Dana Kim (Ledgerly), lead score 75, task #42"
	if r.Form.Get("text") != fallback {
		t.Errorf("text = %q, want %q", r.Form.Get("text"), fallback)
	}

	raw := r.Form.Get("blocks")
	blocks := decodeBlocks(t, raw)
	if blocks[0].Type != "header" || blocks[0].Text.Type != "plain_text" || blocks[0].Text.Text != "New MQL: Dana Kim (Ledgerly)" {
		t.Errorf("first block = %+v, want the header", blocks[0])
	}
	var fields []string
	for _, fl := range blocks[1].Fields {
		fields = append(fields, fl.Text)
	}
	if got, want := strings.Join(fields, " | "), "*Score*\n75 | *Title*\nVP Finance | *Industry*\nfintech | *Company size*\n120 employees | *Email*\ndana@ledgerly.example"; got != want {
		t.Errorf("fields = %q\nwant %q", got, want)
	}
	var text []string
	for _, b := range blocks {
		if b.Type == "section" && b.Text != nil {
			text = append(text, b.Text.Text)
		}
	}
	all := strings.Join(text, "\n")
	for _, line := range []string{
		"*Score breakdown*\n• demo requested: +50\n• title: +15\n• inactive: -10",
		"*Recent activity*\n• Demo Requested\n• Page Viewed /pricing &lt;b&gt;",
		"Task *#42*",
		"<" + slackRunLink + "|Contact's run in Temporal>",
	} {
		if !strings.Contains(all, line) {
			t.Errorf("the sections lack %q:\n%s", line, all)
		}
	}
	last := blocks[len(blocks)-1]
	if last.Type != "actions" || len(last.Elements) != 2 {
		t.Fatalf("last block = %+v, want two buttons", last)
	}
	accept, open := last.Elements[0], last.Elements[1]
	if accept.Type != "button" || accept.ActionID != "accept_lead" || accept.Value != "42" || string(accept.Text) != `{"type":"plain_text","text":"Accept lead","emoji":false}` || accept.Style != "primary" {
		t.Errorf("accept button = %+v", accept)
	}
	if open.Type != "button" || open.URL != slackRunLink || !strings.Contains(string(open.Text), `"text":"Open in Temporal"`) {
		t.Errorf("run button = %+v", open)
	}

	row := f.row(t, "contact/dana/slack/mql/1")
	if row.Channel != "slack" || row.Status != "sent" || row.To != "U0REP" || row.Text != fallback ||
		row.Subject != want.Subject || row.ProviderID != slackTS || row.Marketing || row.SentAt == nil || row.Template != "slack/mql" {
		t.Errorf("row = %+v", row)
	}
}

// The same key twice posts once, and reports the first outcome again.
func TestSendSlackIsIdempotent(t *testing.T) {
	f := newSlackFixture(t)
	first, err := f.send(t, mqlRequest("k-once"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.send(t, mqlRequest("k-once"))
	if err != nil {
		t.Fatal(err)
	}
	if first != second || first.Status != "sent" {
		t.Errorf("retry reported %+v, first %+v", second, first)
	}
	if n := len(f.slack.requests()); n != 1 {
		t.Errorf("Slack got %d requests for one key", n)
	}
}

// Without a poster (no NUDGE_SLACK_BOT_TOKEN), the alert is rendered and
// recorded, not posted.
func TestSendSlackRecordsWithoutAToken(t *testing.T) {
	f := newSlackFixture(t)
	f.acts.Slack = nil
	res, err := f.send(t, mqlRequest("k-recorded"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "recorded" || res.To != "U0REP" {
		t.Errorf("result = %+v", res)
	}
	row := f.row(t, "k-recorded")
	if row.Channel != "slack" || row.Status != "recorded" || row.Text != "New MQL: Dana Kim (Ledgerly), lead score 75, task #42" || row.ProviderID != "" {
		t.Errorf("row = %+v", row)
	}
	if n := len(f.slack.requests()); n != 0 {
		t.Errorf("Slack got %d requests", n)
	}
}

// Where each alert goes when the workflow names nobody.
func TestSendSlackDestination(t *testing.T) {
	f := newSlackFixture(t)
	if err := f.store.SaveContact(context.Background(), &models.Contact{ID: "ownerless", FirstName: "Olu", LeadScore: 30}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind, contact, want string
	}{
		{workflows.SlackMQL, "dana", "U0SAM"},           // the owner
		{workflows.SlackPricing, "dana", "U0SAM"},       // the owner
		{workflows.SlackPricing, "ownerless", "#sales"}, // no owner in Slack
		{workflows.SlackTrial, "dana", "#sales"},        // always the channel
	} {
		key := "k-" + tc.kind + "-" + tc.contact
		res, err := f.send(t, workflows.SlackRequest{Key: key, ContactID: tc.contact, Kind: tc.kind, At: slackAt})
		if err != nil {
			t.Fatal(err)
		}
		if res.To != tc.want || res.Status != "sent" {
			t.Errorf("%s for %s went to %q (%s), want %q", tc.kind, tc.contact, res.To, res.Status, tc.want)
		}
	}
	reqs := f.slack.requests()
	if len(reqs) != 4 || reqs[2].Form.Get("channel") != "#sales" {
		t.Errorf("requests = %+v", reqs)
	}

	// No sales channel either: skipped, with the reason.
	f.acts.SalesChannel = ""
	res, err := f.send(t, workflows.SlackRequest{Key: "k-nowhere", ContactID: "dana", Kind: workflows.SlackTrial, At: slackAt})
	if err != nil || res.Status != "skipped" || res.Reason != activities.SkipNoSlackChannel {
		t.Errorf("without a channel: %+v, %v", res, err)
	}
}

func TestSendSlackPricingAndTrial(t *testing.T) {
	f := newSlackFixture(t)
	f.acts.Slack = nil
	if _, err := f.send(t, workflows.SlackRequest{Key: "k-pricing", ContactID: "dana", Kind: workflows.SlackPricing, At: slackAt,
		Data: workflows.SlackData{URL: "https://nudge.example/pricing", Path: "/pricing"}}); err != nil {
		t.Fatal(err)
	}
	if row := f.row(t, "k-pricing"); row.Text != "Dana Kim from Ledgerly is looking at pricing (lead score 75): https://nudge.example/pricing" || row.To != "U0SAM" {
		t.Errorf("pricing: %q to %s", row.Text, row.To)
	}
	if _, err := f.send(t, workflows.SlackRequest{Key: "k-trial", ContactID: "dana", Kind: workflows.SlackTrial, At: slackAt,
		Data: workflows.SlackData{FromStage: "sql"}}); err != nil {
		t.Fatal(err)
	}
	if row := f.row(t, "k-trial"); row.Text != "Dana Kim (Ledgerly) started a trial (lead score 75, owner: Sam Rep)" || row.To != "#sales" {
		t.Errorf("trial: %q to %s", row.Text, row.To)
	}

	// Posted, the blocks say the same, with the owner mentioned.
	f.acts.Slack, _ = activities.NewSlackClient(slackToken, f.slack.URL)
	if _, err := f.send(t, workflows.SlackRequest{Key: "k-trial-2", ContactID: "dana", Kind: workflows.SlackTrial, At: slackAt}); err != nil {
		t.Fatal(err)
	}
	blocks := decodeBlocks(t, f.slack.requests()[0].Form.Get("blocks"))
	if blocks[0].Text.Text != ":rocket: *Dana Kim (Ledgerly) started a trial*" || blocks[0].Fields[1].Text != "*Owner*\n<@U0SAM>" {
		t.Errorf("trial blocks = %+v", blocks)
	}
}

// Slack refuses: channel_not_found will be the same next time, so the alert
// is settled as refused at once, saying why, and never tried again.
func TestSendSlackChannelNotFoundIsNotRetried(t *testing.T) {
	f := newSlackFixture(t)
	f.slack.then(slackReply(http.StatusOK, `{"ok":false,"error":"channel_not_found"}`))
	res, err := f.send(t, mqlRequest("k-nochannel"))
	if err != nil || res.Status != workflows.StatusRefused || res.Reason != "post Slack mql alert to U0REP: slack: channel_not_found" {
		t.Fatalf("result = %+v, %v; want refused, saying why", res, err)
	}
	if row := f.row(t, "k-nochannel"); row.Status != workflows.StatusRefused || row.Reason != res.Reason {
		t.Errorf("row = %s: %q", row.Status, row.Reason)
	}
	if again, err := f.send(t, mqlRequest("k-nochannel")); err != nil || again != res {
		t.Errorf("retry = %+v, %v", again, err)
	}
	if n := len(f.slack.requests()); n != 1 {
		t.Errorf("Slack got %d requests", n)
	}
}

// Slack's trouble and rate limits are retried, and the retry posts once.
func TestSendSlackRetryableRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(http.ResponseWriter)
		delay time.Duration
	}{
		{"500", slackReply(http.StatusInternalServerError, `<html>oops</html>`), 0},
		{"503", slackReply(http.StatusServiceUnavailable, ``), 0},
		{"429 with Retry-After", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		}, 7 * time.Second},
		{"429", slackReply(http.StatusTooManyRequests, ``), 0},
		{"ratelimited", slackReply(http.StatusOK, `{"ok":false,"error":"ratelimited"}`), 0},
		{"internal_error", slackReply(http.StatusOK, `{"ok":false,"error":"internal_error"}`), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSlackFixture(t)
			f.slack.then(tc.reply)
			_, err := f.send(t, mqlRequest("k-retry"))
			var appErr *temporal.ApplicationError
			if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
				t.Fatalf("err = %v, want retryable", err)
			}
			if tc.delay > 0 && (appErr == nil || appErr.NextRetryDelay() != tc.delay) {
				t.Errorf("err = %v, want the next retry in %s", err, tc.delay)
			}
			if row := f.row(t, "k-retry"); row.Status != models.MessageFailed {
				t.Errorf("row = %s: %q", row.Status, row.Reason)
			}
			res, err := f.send(t, mqlRequest("k-retry"))
			if err != nil || res.Status != "sent" {
				t.Fatalf("retry = %+v, %v", res, err)
			}
			if row := f.row(t, "k-retry"); row.Status != "sent" || row.Attempts != 2 || row.Reason != "" {
				t.Errorf("row = %s after %d attempts: %q", row.Status, row.Attempts, row.Reason)
			}
			if n := len(f.slack.requests()); n != 2 {
				t.Errorf("Slack got %d requests", n)
			}
		})
	}
}

// The connection drops after Slack read the request: the alert may be in
// the channel. An internal alert is posted again once (a duplicate alert is
// better than a lost lead); if that too ends unknown, it stays unknown.
func TestSendSlackRepostsAnUncertainAlertOnce(t *testing.T) {
	f := newSlackFixture(t)
	f.slack.then(hangUp)
	_, err := f.send(t, mqlRequest("k-unsure"))
	if err == nil || !strings.Contains(err.Error(), "may have posted the message") || !strings.Contains(err.Error(), "it will be sent once more") {
		t.Fatalf("err = %v, want an unknown outcome, retried", err)
	}
	if row := f.row(t, "k-unsure"); row.Status != workflows.StatusUnknown || !strings.Contains(row.Reason, "may have posted the message") {
		t.Errorf("row = %s: %q", row.Status, row.Reason)
	}
	res, err := f.send(t, mqlRequest("k-unsure"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("repeat = %+v, %v", res, err)
	}
	if row := f.row(t, "k-unsure"); row.Status != "sent" || row.Repeats != 1 || row.Attempts != 2 {
		t.Errorf("row = %s, %d repeats, %d attempts", row.Status, row.Repeats, row.Attempts)
	}
	if n := len(f.slack.requests()); n != 2 {
		t.Errorf("Slack got %d requests", n)
	}

	// Unknown twice: no third post.
	f.slack.then(hangUp)
	f.slack.then(hangUp)
	if _, err := f.send(t, mqlRequest("k-twice")); err == nil || !strings.Contains(err.Error(), "it will be sent once more") {
		t.Fatalf("err = %v", err)
	}
	res, err = f.send(t, mqlRequest("k-twice"))
	if err != nil || res.Status != workflows.StatusUnknown || !strings.HasSuffix(res.Reason, "; it was sent once more, and that too is unknown") {
		t.Fatalf("second unknown = %+v, %v", res, err)
	}
	if again, err := f.send(t, mqlRequest("k-twice")); err != nil || again.Status != workflows.StatusUnknown {
		t.Fatalf("third attempt = %+v, %v", again, err)
	}
	if n := len(f.slack.requests()); n != 4 {
		t.Errorf("Slack got %d requests, want 2 more", n)
	}
}

// Slack unreachable: nothing was posted, so a retry may post.
func TestSendSlackDown(t *testing.T) {
	f := newSlackFixture(t)
	f.acts.Slack, _ = activities.NewSlackClient(slackToken, "http://127.0.0.1:1")
	_, err := f.send(t, mqlRequest("k-down"))
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if row := f.row(t, "k-down"); row.Status != models.MessageFailed {
		t.Errorf("row = %s", row.Status)
	}
}

func TestSendSlackSkipsAndRefuses(t *testing.T) {
	f := newSlackFixture(t)
	res, err := f.send(t, workflows.SlackRequest{Key: "k-ghost", ContactID: "ghost", Kind: workflows.SlackTrial, At: slackAt})
	if err != nil || res.Status != "skipped" || res.Reason != "contact not found" {
		t.Errorf("unknown contact: %+v, %v", res, err)
	}
	_, err = f.send(t, workflows.SlackRequest{Key: "k-odd", ContactID: "dana", Kind: "odd", At: slackAt})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Errorf("unknown kind: err = %v, want non-retryable", err)
	}
	if n := len(f.slack.requests()); n != 0 {
		t.Errorf("Slack got %d requests", n)
	}
}

func TestNewSlackClientNeedsAToken(t *testing.T) {
	for _, tc := range []struct{ token, url string }{{"", ""}, {" ", "http://x"}, {slackToken, "ftp://x"}, {slackToken, "/api"}} {
		if _, err := activities.NewSlackClient(tc.token, tc.url); err == nil {
			t.Errorf("%+v: want an error", tc)
		}
	}
	if _, err := activities.NewSlackClient(slackToken, ""); err != nil {
		t.Errorf("default API URL: %v", err)
	}
}
