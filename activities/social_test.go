package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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
		Image: "https://shop.example.com/spring.jpg", ImageAlt: "A linen dress", At: time.Date(2027, 3, 20, 8, 0, 0, 0, time.UTC), Zone: "Europe/Paris",
		To: to, Channel: "#marketing"}
}

// textPost is socialPost without an image.
func textPost(to string) workflows.SocialPost {
	p := socialPost(to)
	p.Image = ""
	return p
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
	activities.SetMediaPolls(m, 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond)
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

// A post without an image is one status, with no media request.
func TestPostSocialToMastodon(t *testing.T) {
	b, masto, _ := newSocialFixture(t)
	masto.then(mastodonStatus("109"))
	var res workflows.SocialResult
	if err := b.run(t, workflows.PostSocialActivity, textPost("mastodon"), &res); err != nil {
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
	if c.Method != http.MethodPost || c.Path != "/api/v1/statuses" || c.Header.Get("Authorization") != "Bearer "+mastodonToken || c.ContentType != "application/json" {
		t.Errorf("request = %s %v", c.Method, c.Header)
	}
	if got, want := c.Header.Get("Idempotency-Key"), activities.SocialIdempotencyKey("spring"); got != want || !strings.HasPrefix(got, "nudge-social-") || len(got) != 45 {
		t.Errorf("Idempotency-Key = %q, want %q", got, want)
	}
	if activities.SocialIdempotencyKey("spring") == activities.SocialIdempotencyKey("summer") {
		t.Error("two posts share an Idempotency-Key")
	}
	if want := `{"status":"Spring is here\n\nhttps://shop.example.com/spring"}`; string(c.Body) != want {
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
	if err := b.run(t, workflows.PostSocialActivity, textPost("mastodon"), &res); err != nil || res.URL != row.URL {
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
	if _, err := m.PostStatus(context.Background(), "hi", nil, "k"); err != nil || path != "/api/v1/statuses" {
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
	err := b.run(t, workflows.PostSocialActivity, textPost("mastodon"), nil)
	if app := appError(t, err); app.NonRetryable() || !strings.Contains(app.Error(), "mastodon answered 503 Service Unavailable: down for maintenance") {
		t.Errorf("503: %v (non-retryable %v)", err, app.NonRetryable())
	}
	masto.then(hookReply(http.StatusTooManyRequests, `{"error":"Too many requests"}`, "Retry-After", "30"))
	if app := appError(t, b.run(t, workflows.PostSocialActivity, textPost("mastodon"), nil)); app.NonRetryable() {
		t.Errorf("429 is permanent: %v", app)
	}
	masto.then(mastodonStatus("110"))
	if err := b.run(t, workflows.PostSocialActivity, textPost("mastodon"), nil); err != nil {
		t.Fatal(err)
	}
	calls := masto.requests()
	if len(calls) != 3 || calls[0].Header.Get("Idempotency-Key") != calls[2].Header.Get("Idempotency-Key") {
		t.Errorf("%d requests; keys must match across attempts", len(calls))
	}

	other := textPost("mastodon")
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
	if body.Type != "social.post" || body.Data.Name != "spring" || body.Data.Link != "https://shop.example.com/spring" || body.Data.ImageAlt != "A linen dress" ||
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

// imageHost serves a post's images: a small PNG, the same bytes as
// application/octet-stream, a page, a 404, and images over 16 MiB with and
// without a Content-Length. It records the Authorization headers it sees.
type imageHost struct {
	*httptest.Server
	png  []byte
	mu   sync.Mutex
	auth []string
}

func newImageHost(t *testing.T) *imageHost {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{R: 0x4c, G: 0xaf, B: 0x50, A: 0xff})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	h := &imageHost{png: buf.Bytes()}
	big := bytes.Repeat([]byte{0}, 17<<20)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
		switch r.URL.Path {
		case "/img/spring.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(h.png)
		case "/img/raw":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(h.png)
		case "/spring.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html><p>Spring</p>")
		case "/img/big.png":
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/img/stream.png":
			w.Header().Set("Content-Type", "image/png")
			for i := 0; i < 17; i++ {
				w.Write(big[:1<<20])
				w.(http.Flusher).Flush()
			}
		case "/img/busy.png":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// mastodonMedia is a MediaAttachment as Mastodon answers it: url null
// while it is being processed.
func mastodonMedia(status int, id string, ready bool) func(http.ResponseWriter) {
	u := "null"
	if ready {
		u = `"https://files.mastodon.example/media_attachments/files/` + id + `/original/spring.png"`
	}
	return hookReply(status, `{"id":"`+id+`","type":"image","url":`+u+`,"preview_url":null,"remote_url":null,"text_url":null,`+
		`"meta":{"focus":{"x":0,"y":0}},"description":"Green squares","blurhash":null}`, "Content-Type", "application/json")
}

// A post with an image fetches it, uploads it as media with its alt text,
// waits while Mastodon processes it (202, 206, then 200), and attaches it
// to a status that carries the text and link but not the image's URL.
func TestPostSocialImageToMastodon(t *testing.T) {
	b, masto, _ := newSocialFixture(t)
	img := newImageHost(t)
	p := socialPost("mastodon")
	p.Image, p.ImageAlt = img.URL+"/img/spring.png", "Green squares"
	masto.then(mastodonMedia(http.StatusAccepted, "22", false))
	masto.then(mastodonMedia(http.StatusPartialContent, "22", false))
	masto.then(mastodonMedia(http.StatusOK, "22", true))
	masto.then(mastodonStatus("111"))
	var res workflows.SocialResult
	if err := b.run(t, workflows.PostSocialActivity, p, &res); err != nil {
		t.Fatal(err)
	}
	if res.ID != "111" {
		t.Errorf("result = %+v", res)
	}
	calls := masto.requests()
	if len(calls) != 4 {
		t.Fatalf("%d requests to Mastodon, want the upload, two checks and the status", len(calls))
	}
	for i, c := range calls {
		if c.Header.Get("Authorization") != "Bearer "+mastodonToken {
			t.Errorf("request %d: Authorization %q", i, c.Header.Get("Authorization"))
		}
	}

	up := calls[0]
	if up.Method != http.MethodPost || up.Path != "/api/v2/media" {
		t.Fatalf("upload: %s %s", up.Method, up.Path)
	}
	mt, params, err := mime.ParseMediaType(up.ContentType)
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("upload Content-Type %q", up.ContentType)
	}
	form, err := multipart.NewReader(bytes.NewReader(up.Body), params["boundary"]).ReadForm(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(form.File) != 1 || len(form.File["file"]) != 1 {
		t.Fatalf("file parts: %v", form.File)
	}
	fh := form.File["file"][0]
	f, _ := fh.Open()
	got, _ := io.ReadAll(f)
	if fh.Filename != "spring.png" || fh.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, img.png) {
		t.Errorf("file = %q, %s, %d bytes (want %d)", fh.Filename, fh.Header.Get("Content-Type"), len(got), len(img.png))
	}
	if d := form.Value["description"]; len(d) != 1 || d[0] != "Green squares" || len(form.Value) != 1 {
		t.Errorf("fields = %v", form.Value)
	}

	for _, c := range calls[1:3] {
		if c.Method != http.MethodGet || c.Path != "/api/v1/media/22" {
			t.Errorf("check: %s %s", c.Method, c.Path)
		}
	}
	st := calls[3]
	if st.Method != http.MethodPost || st.Path != "/api/v1/statuses" || st.Header.Get("Idempotency-Key") != activities.SocialIdempotencyKey("spring") {
		t.Errorf("status: %s %s %v", st.Method, st.Path, st.Header)
	}
	if want := `{"status":"Spring is here\n\nhttps://shop.example.com/spring","media_ids":["22"]}`; string(st.Body) != want {
		t.Errorf("status body = %s, want %s", st.Body, want)
	}
	// The token goes to Mastodon only.
	img.mu.Lock()
	defer img.mu.Unlock()
	if len(img.auth) != 1 || img.auth[0] != "" {
		t.Errorf("image host saw Authorization %q", img.auth)
	}
}

// An image served as application/octet-stream is sniffed; an upload that
// Mastodon answers 200 is ready at once, with no check.
func TestMastodonUploadSniffsImage(t *testing.T) {
	masto, img := newFakeReceiver(t), newImageHost(t)
	m, err := activities.NewMastodonClient(masto.URL, mastodonToken)
	if err != nil {
		t.Fatal(err)
	}
	masto.then(mastodonMedia(http.StatusOK, "23", true))
	id, err := m.UploadMedia(context.Background(), img.URL+"/img/raw", "")
	if err != nil || id != "23" {
		t.Fatalf("id %q, %v", id, err)
	}
	calls := masto.requests()
	if len(calls) != 1 {
		t.Fatalf("%d requests, want the upload only", len(calls))
	}
	_, params, _ := mime.ParseMediaType(calls[0].ContentType)
	form, err := multipart.NewReader(bytes.NewReader(calls[0].Body), params["boundary"]).ReadForm(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if fh := form.File["file"]; len(fh) != 1 || fh[0].Filename != "raw" || fh[0].Header.Get("Content-Type") != "image/png" {
		t.Errorf("file = %+v", fh)
	}
	if _, ok := form.Value["description"]; ok {
		t.Error("an empty description was sent")
	}
}

// The image host or Mastodon failing: permanent for what a retry cannot
// mend, retried otherwise; no status goes out without its image.
func TestPostSocialImageErrors(t *testing.T) {
	b, masto, _ := newSocialFixture(t)
	img := newImageHost(t)
	for _, tc := range []struct {
		name, image string
		replies     []func(http.ResponseWriter)
		typ, want   string
		retryable   bool
		uploads     int // requests to Mastodon
	}{
		{name: "image 404", image: "/img/gone.png", typ: "SocialImage",
			want: "image " + img.URL + "/img/gone.png could not be fetched: its host answered 404 Not Found"},
		{name: "not an image", image: "/spring.html", typ: "SocialImage",
			want: "image " + img.URL + "/spring.html is text/html, not an image"},
		{name: "too large", image: "/img/big.png", typ: "SocialImage",
			want: "image " + img.URL + "/img/big.png is 17.0 MiB, over the 16 MiB Mastodon takes"},
		{name: "too large, no length", image: "/img/stream.png", typ: "SocialImage",
			want: "image " + img.URL + "/img/stream.png is over the 16 MiB Mastodon takes"},
		{name: "image host down", image: "/img/busy.png", typ: "SocialImageHTTP503", retryable: true,
			want: "image " + img.URL + "/img/busy.png: its host answered 503 Service Unavailable"},
		{name: "upload 422", image: "/img/spring.png", uploads: 1, typ: "MastodonHTTP422",
			replies: []func(http.ResponseWriter){hookReply(http.StatusUnprocessableEntity, `{"error":"Validation failed: File content type is invalid"}`, "Content-Type", "application/json")},
			want:    "mastodon answered 422 Unprocessable Entity to the media upload: Validation failed: File content type is invalid"},
		{name: "upload 503", image: "/img/spring.png", uploads: 1, typ: "MastodonHTTP503", retryable: true,
			replies: []func(http.ResponseWriter){hookReply(http.StatusServiceUnavailable, "down for maintenance")},
			want:    "mastodon answered 503 Service Unavailable to the media upload: down for maintenance"},
		{name: "still processing", image: "/img/spring.png", uploads: 4, typ: "MastodonMediaProcessing", retryable: true,
			replies: []func(http.ResponseWriter){mastodonMedia(http.StatusAccepted, "24", false), mastodonMedia(http.StatusPartialContent, "24", false),
				mastodonMedia(http.StatusPartialContent, "24", false), mastodonMedia(http.StatusPartialContent, "24", false)},
			want: "mastodon: media 24 is still being processed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(masto.requests())
			for _, r := range tc.replies {
				masto.then(r)
			}
			p := socialPost("mastodon")
			p.Image = img.URL + tc.image
			app := appError(t, b.run(t, workflows.PostSocialActivity, p, nil))
			if app.Message() != tc.want || app.Type() != tc.typ || app.NonRetryable() == tc.retryable {
				t.Errorf("error %q (type %s, non-retryable %v), want %q (type %s, retryable %v)",
					app.Message(), app.Type(), app.NonRetryable(), tc.want, tc.typ, tc.retryable)
			}
			calls := masto.requests()[before:]
			if len(calls) != tc.uploads {
				t.Fatalf("%d requests to Mastodon, want %d", len(calls), tc.uploads)
			}
			for _, c := range calls {
				if c.Path == "/api/v1/statuses" {
					t.Error("a status went out without its image")
				}
			}
		})
	}
}
