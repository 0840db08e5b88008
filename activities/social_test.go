package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/workflows"
)

const mastodonToken = "tok-123"

func socialPost(to string) workflows.SocialPost {
	return workflows.SocialPost{Name: "spring", Text: "Spring is here", Link: "https://shop.example.com/spring",
		Image: "https://shop.example.com/spring.jpg", At: time.Date(2027, 3, 20, 8, 0, 0, 0, time.UTC), Zone: "Europe/Paris",
		To: to, Channel: "#marketing"}
}

// newSocialFixture has a Mastodon stand-in on loopback answering in
// Mastodon's shape, and a webhook "buffer" at another.
func newSocialFixture(t *testing.T) (testbed, *fakeReceiver, *fakeReceiver) {
	t.Helper()
	masto, hooks := newFakeReceiver(t), newFakeReceiver(t)
	m, err := activities.NewMastodonClient(masto.URL+"/", mastodonToken)
	if err != nil {
		t.Fatal(err)
	}
	w, err := activities.NewWebhookClient(hookSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := newTestbed(t, &activities.Activities{Mastodon: m, Webhooks: w, WebhookURLs: map[string]string{"buffer": hooks.URL + "/buffer"}})
	return b, masto, hooks
}

func mastodonStatus(id string) func(http.ResponseWriter) {
	return hookReply(http.StatusOK, `{"id":"`+id+`","url":"https://mastodon.example/@acme/`+id+`","content":"<p>Spring is here</p>","visibility":"public"}`,
		"Content-Type", "application/json")
}

func TestPostSocialToMastodon(t *testing.T) {
	b, masto, _ := newSocialFixture(t)
	masto.then(mastodonStatus("109"))
	var res workflows.SocialResult
	if err := b.run(t, workflows.PostSocialActivity, socialPost("mastodon"), &res); err != nil {
		t.Fatal(err)
	}
	if res.ID != "109" || res.URL != "https://mastodon.example/@acme/109" {
		t.Errorf("result = %+v", res)
	}
	calls := masto.requests()
	if len(calls) != 1 {
		t.Fatalf("%d requests", len(calls))
	}
	c := calls[0]
	if c.Method != http.MethodPost || c.Header.Get("Authorization") != "Bearer "+mastodonToken || c.ContentType != "application/json" {
		t.Errorf("request = %s %v", c.Method, c.Header)
	}
	if got, want := c.Header.Get("Idempotency-Key"), activities.SocialIdempotencyKey("spring"); got != want || !strings.HasPrefix(got, "nudge-social-") || len(got) != 45 {
		t.Errorf("Idempotency-Key = %q, want %q", got, want)
	}
	if activities.SocialIdempotencyKey("spring") == activities.SocialIdempotencyKey("summer") {
		t.Error("two posts share an Idempotency-Key")
	}
	if want := `{"status":"Spring is here\n\nhttps://shop.example.com/spring\n\nhttps://shop.example.com/spring.jpg"}`; string(c.Body) != want {
		t.Errorf("body = %s, want %s", c.Body, want)
	}
	row, err := b.store.SocialPostByName(context.Background(), "spring")
	if err != nil {
		t.Fatal(err)
	}
	if row.State != workflows.SocialPosted || row.URL != "https://mastodon.example/@acme/109" || row.PostID != "109" || row.Target != "mastodon" {
		t.Errorf("row = %+v", row)
	}
	// Asked again (a retry after the answer was lost on the way back to
	// Temporal): the table says posted, so nothing goes out.
	if err := b.run(t, workflows.PostSocialActivity, socialPost("mastodon"), &res); err != nil || res.URL != row.URL {
		t.Fatalf("again: %+v, %v", res, err)
	}
	if n := len(masto.requests()); n != 1 {
		t.Errorf("%d requests, want still 1", n)
	}
}

// The request path is the instance's API, whatever the base URL's slash.
func TestMastodonPath(t *testing.T) {
	masto := newFakeReceiver(t)
	var path string
	masto.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.Write([]byte(`{"id":"1","url":"u"}`))
	})
	m, err := activities.NewMastodonClient(masto.URL+"/", "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.PostStatus(context.Background(), "hi", "k"); err != nil || path != "/api/v1/statuses" {
		t.Errorf("path %q, %v", path, err)
	}
	if _, err := activities.NewMastodonClient("mastodon.example", "t"); err == nil {
		t.Error("a URL without a scheme was taken")
	}
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("error %v (%T) is not an application error", err, err)
	}
	return app
}

// 5xx and 429 are retried, with the same Idempotency-Key; another 4xx is
// permanent and names the status and Mastodon's error.
func TestPostSocialMastodonErrors(t *testing.T) {
	b, masto, _ := newSocialFixture(t)
	masto.then(hookReply(http.StatusServiceUnavailable, "down for maintenance"))
	err := b.run(t, workflows.PostSocialActivity, socialPost("mastodon"), nil)
	if app := appError(t, err); app.NonRetryable() || !strings.Contains(app.Error(), "mastodon answered 503 Service Unavailable: down for maintenance") {
		t.Errorf("503: %v (non-retryable %v)", err, app.NonRetryable())
	}
	masto.then(hookReply(http.StatusTooManyRequests, `{"error":"Too many requests"}`, "Retry-After", "30"))
	if app := appError(t, b.run(t, workflows.PostSocialActivity, socialPost("mastodon"), nil)); app.NonRetryable() {
		t.Errorf("429 is permanent: %v", app)
	}
	masto.then(mastodonStatus("110"))
	if err := b.run(t, workflows.PostSocialActivity, socialPost("mastodon"), nil); err != nil {
		t.Fatal(err)
	}
	calls := masto.requests()
	if len(calls) != 3 || calls[0].Header.Get("Idempotency-Key") != calls[2].Header.Get("Idempotency-Key") {
		t.Errorf("%d requests; keys must match across attempts", len(calls))
	}

	other := socialPost("mastodon")
	other.Name = "blank"
	masto.then(hookReply(http.StatusUnprocessableEntity, `{"error":"Validation failed: Text can't be blank"}`, "Content-Type", "application/json"))
	app := appError(t, b.run(t, workflows.PostSocialActivity, other, nil))
	if !app.NonRetryable() || app.Type() != "MastodonHTTP422" ||
		!strings.Contains(app.Error(), "mastodon answered 422 Unprocessable Entity: Validation failed: Text can't be blank") {
		t.Errorf("422: %v (type %s, non-retryable %v)", app, app.Type(), app.NonRetryable())
	}
	masto.then(hookReply(http.StatusUnauthorized, `{"error":"The access token is invalid"}`))
	other.Name = "unauthorized"
	if app := appError(t, b.run(t, workflows.PostSocialActivity, other, nil)); !app.NonRetryable() || !strings.Contains(app.Error(), "401 Unauthorized") {
		t.Errorf("401: %v", app)
	}
}

func TestPostSocialToWebhook(t *testing.T) {
	b, masto, hooks := newSocialFixture(t)
	var res workflows.SocialResult
	if err := b.run(t, workflows.PostSocialActivity, socialPost("webhook:buffer"), &res); err != nil {
		t.Fatal(err)
	}
	calls := hooks.requests()
	if len(calls) != 1 || len(masto.requests()) != 0 {
		t.Fatalf("%d webhook requests, %d to Mastodon", len(calls), len(masto.requests()))
	}
	c := calls[0]
	verifyByHand(t, c)
	if id := c.Header.Get("webhook-id"); id != activities.WebhookID("social/spring") || res.ID != id {
		t.Errorf("webhook-id = %q, result %+v", id, res)
	}
	var body activities.SocialWebhookBody
	if err := json.Unmarshal(c.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != "social.post" || body.Data.Name != "spring" || body.Data.Link != "https://shop.example.com/spring" ||
		body.Data.Status != workflows.SocialStatus(socialPost("")) || !body.Data.At.Equal(socialPost("").At) {
		t.Errorf("body = %s", c.Body)
	}
	row, err := b.store.SocialPostByName(context.Background(), "spring")
	if err != nil || row.State != workflows.SocialPosted || row.Target != "webhook:buffer" {
		t.Errorf("row = %+v, %v", row, err)
	}

	// A receiver's 4xx is permanent, through the webhook channel's rules.
	hooks.then(hookReply(http.StatusBadRequest, "no"))
	other := socialPost("webhook:buffer")
	other.Name = "other"
	if app := appError(t, b.run(t, workflows.PostSocialActivity, other, nil)); !app.NonRetryable() || !strings.Contains(app.Error(), "400") {
		t.Errorf("400: %v", app)
	}
	other.To = "webhook:crm"
	if app := appError(t, b.run(t, workflows.PostSocialActivity, other, nil)); !app.NonRetryable() || !strings.Contains(app.Error(), `no webhook "crm"`) {
		t.Errorf("unknown webhook: %v", app)
	}
}

// fakeSlackPoster records what it is asked to post.
type fakeSlackPoster struct {
	channel string
	blocks  []slack.Block
}

func (f *fakeSlackPoster) Post(_ context.Context, channel string, blocks []slack.Block, _ string) (string, error) {
	f.channel, f.blocks = channel, blocks
	return "1700000000.000100", nil
}

func TestAskSocialApproval(t *testing.T) {
	poster := &fakeSlackPoster{}
	b := newTestbed(t, &activities.Activities{Slack: poster})
	p := socialPost("mastodon")
	p.Approve = true
	req := workflows.SocialApprovalRequest{Post: p, Expires: p.At.Add(24 * time.Hour)}
	if err := b.run(t, workflows.AskSocialApprovalActivity, req, nil); err != nil {
		t.Fatal(err)
	}
	if poster.channel != "#marketing" {
		t.Errorf("channel %q", poster.channel)
	}
	raw, _ := json.Marshal(poster.blocks)
	for _, want := range []string{`"action_id":"social_approve"`, `"action_id":"social_reject"`, `"value":"spring"`, "2027-03-20 09:00 CET (Europe/Paris)"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("blocks lack %s: %s", want, raw)
		}
	}
	row, err := b.store.SocialPostByName(context.Background(), "spring")
	if err != nil || row.State != workflows.SocialAwaitingApproval {
		t.Errorf("row = %+v, %v", row, err)
	}
	// Without Slack nobody can be asked: permanent.
	b2 := newTestbed(t, &activities.Activities{})
	if app := appError(t, b2.run(t, workflows.AskSocialApprovalActivity, req, nil)); !app.NonRetryable() {
		t.Errorf("no Slack: %v", app)
	}
}
