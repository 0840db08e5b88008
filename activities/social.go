package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Social posts (workflows/social.go) go out through one of two targets:
//
//   - mastodon: a post with an image first fetches it from its URL and
//     uploads it (POST /api/v2/media, multipart: file and the alt text as
//     description), waiting while Mastodon processes it (202, then GET
//     /api/v1/media/{id} until 200). Then POST {NUDGE_MASTODON_URL}/api/v1/statuses
//     with the bearer token NUDGE_MASTODON_TOKEN and a JSON body
//     {"status": …, "media_ids": […]}; the status is the text and the link
//     (workflows.MastodonStatus). Every attempt carries the same
//     Idempotency-Key (SocialIdempotencyKey, from the post's name), so a
//     retried activity whose first answer was lost does not post twice
//     (Mastodon remembers a key for an hour).
//   - webhook:<name>: a Standard Webhooks request signed by the webhook
//     channel's client (WebhookClient) to that NUDGE_WEBHOOKS URL, with a
//     webhook-id from the post's name, for Buffer or Zapier to publish.
//
// Answers: 2xx posted; 429 and 5xx retried with backoff (or after
// Retry-After); any other 4xx is permanent, naming the status. A post
// already recorded as posted is not posted again, whatever Temporal asks.

// SocialPoster posts a status to a Mastodon-compatible API.
type SocialPoster interface {
	// UploadMedia fetches the image at imageURL and uploads it with its
	// alt text, returning the media's ID once Mastodon has processed it.
	UploadMedia(ctx context.Context, imageURL, description string) (string, error)
	// PostStatus posts a public status with the media attached.
	PostStatus(ctx context.Context, status string, mediaIDs []string, idempotencyKey string) (workflows.SocialResult, error)
}

// SocialIdempotencyKey is the Idempotency-Key of a post's every attempt.
func SocialIdempotencyKey(name string) string {
	sum := sha256.Sum256([]byte("nudge/social/" + name))
	return "nudge-social-" + hex.EncodeToString(sum[:16])
}

// RecordSocialState writes a post's state to social_posts.
func (a *Activities) RecordSocialState(ctx context.Context, st workflows.SocialState) error {
	return a.Store.SaveSocialState(ctx, st, "")
}

// AskSocialApproval posts the approval request to the post's Slack channel
// (NUDGE_SLACK_SOCIAL_CHANNEL) with Approve and Reject buttons, and records
// the post as awaiting approval. Without Slack nobody can be asked: a
// permanent error, which the workflow records as the reason.
func (a *Activities) AskSocialApproval(ctx context.Context, req workflows.SocialApprovalRequest) (workflows.SendResult, error) {
	p := req.Post
	if a.Slack == nil {
		err := errors.New("no Slack bot token (NUDGE_SLACK_BOT_TOKEN) to ask for approval with")
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "SocialNoSlack", err)
	}
	if p.Channel == "" {
		err := errors.New("no Slack channel to ask for approval in (NUDGE_SLACK_SOCIAL_CHANNEL)")
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "SocialNoSlack", err)
	}
	blocks, fallback := socialApprovalBlocks(req)
	ts, err := a.Slack.Post(ctx, p.Channel, blocks, fallback)
	if err != nil {
		return workflows.SendResult{}, err
	}
	st := workflows.SocialState{Post: p, State: workflows.SocialAwaitingApproval, At: time.Now().UTC(),
		Reason: "asked in " + p.Channel + "; waits until " + req.Expires.UTC().Format("2006-01-02 15:04 MST")}
	if err := a.Store.SaveSocialState(ctx, st, ""); err != nil {
		return workflows.SendResult{}, err
	}
	return workflows.SendResult{Status: "sent", To: p.Channel, Reason: "slack ts " + ts}, nil
}

func socialApprovalBlocks(req workflows.SocialApprovalRequest) ([]slack.Block, string) {
	p := req.Post
	headline := fmt.Sprintf("Social post %s to %s: approve?", p.Name, p.To)
	when := p.At.Format("2006-01-02 15:04") + " " + p.Zone
	if loc, err := time.LoadLocation(p.Zone); err == nil {
		when = p.At.In(loc).Format("2006-01-02 15:04 MST") + " (" + p.Zone + ")"
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slackPlain(slackClip(headline, 150))),
		slackSection(slackClip(slackEscape(workflows.SocialStatus(p)), 2900)),
		slack.NewContextBlock("", slackMrkdwn("Scheduled for "+when+" · waits until "+
			req.Expires.UTC().Format("2006-01-02 15:04 MST")+", then it is not posted")),
		slack.NewActionBlock("social_approval_"+p.Name,
			slack.NewButtonBlockElement(workflows.SlackActionSocialApprove, p.Name, slackPlain("Approve")).WithStyle(slack.StylePrimary),
			slack.NewButtonBlockElement(workflows.SlackActionSocialReject, p.Name, slackPlain("Reject")).WithStyle(slack.StyleDanger),
		),
	}
	return blocks, headline + "\n" + workflows.SocialStatus(p)
}

// PostSocial posts one social post to its target and records it posted,
// with its URL. A post the table already has as posted is not posted
// again: its stored result is returned.
func (a *Activities) PostSocial(ctx context.Context, p workflows.SocialPost) (workflows.SocialResult, error) {
	if row, err := a.Store.SocialPostByName(ctx, p.Name); err == nil && row.State == workflows.SocialPosted {
		return workflows.SocialResult{ID: row.PostID, URL: row.URL}, nil
	} else if err != nil && !errors.Is(err, models.ErrNotFound) {
		return workflows.SocialResult{}, err
	}
	var res workflows.SocialResult
	switch hook, isHook := strings.CutPrefix(p.To, workflows.SocialToWebhookPrefix); {
	case p.To == workflows.SocialToMastodon:
		if a.Mastodon == nil {
			err := errors.New("no Mastodon account (NUDGE_MASTODON_URL, NUDGE_MASTODON_TOKEN) to post with")
			return res, temporal.NewNonRetryableApplicationError(err.Error(), "SocialNoMastodon", err)
		}
		var media []string
		if p.Image != "" {
			// A retry uploads the image again. That is harmless: the
			// Idempotency-Key keeps the status single, and Mastodon
			// removes media no status uses.
			id, err := a.Mastodon.UploadMedia(ctx, p.Image, p.ImageAlt)
			if err != nil {
				return res, err
			}
			media = []string{id}
		}
		var err error
		if res, err = a.Mastodon.PostStatus(ctx, workflows.MastodonStatus(p), media, SocialIdempotencyKey(p.Name)); err != nil {
			return res, err
		}
	case isHook:
		u, ok := a.WebhookURLs[hook]
		if !ok || a.Webhooks == nil {
			err := fmt.Errorf("no webhook %q in NUDGE_WEBHOOKS to post with", hook)
			return res, temporal.NewNonRetryableApplicationError(err.Error(), "WebhookUnknown", err)
		}
		body, err := json.Marshal(socialWebhookBody(p))
		if err != nil {
			return res, err
		}
		id := WebhookID("social/" + p.Name)
		if err := a.Webhooks.Post(ctx, u, id, body); err != nil {
			return res, err
		}
		res.ID = id
	default:
		err := fmt.Errorf("unknown target %q (mastodon, or webhook:<name>)", p.To)
		return res, temporal.NewNonRetryableApplicationError(err.Error(), "SocialTarget", err)
	}
	st := workflows.SocialState{Post: p, State: workflows.SocialPosted, URL: res.URL, At: time.Now().UTC()}
	// The post is out: a failure to record it is retried, and the retry
	// posts again only to a target that drops the repeated key.
	return res, a.Store.SaveSocialState(ctx, st, res.ID)
}

// SocialWebhookBody is what a webhook target receives, in the Standard
// Webhooks shape: type "social.post", the post's time, and the post.
type SocialWebhookBody struct {
	Type      string            `json:"type"`
	Timestamp time.Time         `json:"timestamp"`
	Data      SocialWebhookData `json:"data"`
}

// SocialWebhookData is the post: its parts, and the whole of it as one
// status text, the image's URL included (workflows.SocialStatus).
type SocialWebhookData struct {
	Name     string    `json:"name"`
	Text     string    `json:"text"`
	Link     string    `json:"link,omitempty"`
	Image    string    `json:"image,omitempty"`
	ImageAlt string    `json:"image_alt,omitempty"`
	At       time.Time `json:"at"`
	Zone     string    `json:"zone"`
	Status   string    `json:"status"`
}

func socialWebhookBody(p workflows.SocialPost) SocialWebhookBody {
	return SocialWebhookBody{Type: "social.post", Timestamp: p.At.UTC(), Data: SocialWebhookData{
		Name: p.Name, Text: p.Text, Link: p.Link, Image: p.Image, ImageAlt: p.ImageAlt, At: p.At.UTC(), Zone: p.Zone,
		Status: workflows.SocialStatus(p)}}
}

// MastodonClient posts statuses to a Mastodon-compatible API.
type MastodonClient struct {
	base   string
	token  string
	http   *http.Client
	images *http.Client    // fetches a post's image, without the token
	polls  []time.Duration // the waits while Mastodon processes an upload
}

const (
	// mastodonTimeout bounds one request.
	mastodonTimeout = 30 * time.Second
	// imageTimeout bounds fetching a post's image, and imageLimit its
	// size: Mastodon takes images up to 16 MiB.
	imageTimeout = 20 * time.Second
	imageLimit   = 16 << 20
)

// mediaPolls are the waits before each check on an upload Mastodon is
// still processing: about 20 s in all, then the activity is retried.
var mediaPolls = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 8 * time.Second}

// NewMastodonClient posts to the instance at baseURL (NUDGE_MASTODON_URL,
// like https://mastodon.social) with an access token granted
// write:statuses and write:media.
func NewMastodonClient(baseURL, token string) (*MastodonClient, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mastodon: %q is not an absolute http(s) URL", baseURL)
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("mastodon: an access token is required (NUDGE_MASTODON_TOKEN)")
	}
	return &MastodonClient{base: strings.TrimRight(u.String(), "/"), token: strings.TrimSpace(token), http: &http.Client{
		Timeout:       mastodonTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, images: &http.Client{Timeout: imageTimeout}, polls: mediaPolls}, nil
}

// PostStatus posts one public status; see SocialPoster.
func (m *MastodonClient) PostStatus(ctx context.Context, status string, mediaIDs []string, key string) (workflows.SocialResult, error) {
	body, _ := json.Marshal(struct {
		Status   string   `json:"status"`
		MediaIDs []string `json:"media_ids,omitempty"`
	}{status, mediaIDs})
	code, b, err := m.call(ctx, http.MethodPost, "/api/v1/statuses", "application/json", body, key, "")
	if err != nil {
		// A network error or 5xx is retried: the same Idempotency-Key
		// makes a repeat harmless.
		return workflows.SocialResult{}, err
	}
	var res workflows.SocialResult
	if err := json.Unmarshal(b, &res); err != nil || res.ID == "" {
		// Posted, most likely, with an answer we cannot read: a retry with
		// the same key returns the same status.
		return res, fmt.Errorf("mastodon answered %d %s without a status id: %s", code, http.StatusText(code), slackClip(strings.TrimSpace(string(b)), 200))
	}
	return res, nil
}

// UploadMedia fetches the image and uploads it; see SocialPoster. The
// image's host failing for good (a 4xx, not an image, over 16 MiB) is a
// permanent error; it or Mastodon being down, or Mastodon still processing
// the upload after the polls, is retried.
func (m *MastodonClient) UploadMedia(ctx context.Context, imageURL, description string) (string, error) {
	img, err := m.fetchImage(ctx, imageURL)
	if err != nil {
		return "", err
	}
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": img.name}))
	h.Set("Content-Type", img.contentType)
	part, _ := form.CreatePart(h)
	part.Write(img.data)
	if description != "" {
		form.WriteField("description", description)
	}
	form.Close()
	code, b, err := m.call(ctx, http.MethodPost, "/api/v2/media", form.FormDataContentType(), body.Bytes(), "", "media upload")
	if err != nil {
		return "", err
	}
	var media struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &media); err != nil || media.ID == "" {
		return "", fmt.Errorf("mastodon answered %d %s to the media upload without a media id: %s", code, http.StatusText(code), slackClip(strings.TrimSpace(string(b)), 200))
	}
	// 202 (and 206 on a check): processing, and no status may attach it yet.
	for i := 0; code == http.StatusAccepted || code == http.StatusPartialContent; i++ {
		if i == len(m.polls) {
			return "", temporal.NewApplicationError("mastodon: media "+media.ID+" is still being processed", "MastodonMediaProcessing")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(m.polls[i]):
		}
		if code, _, err = m.call(ctx, http.MethodGet, "/api/v1/media/"+url.PathEscape(media.ID), "", nil, "", "media check"); err != nil {
			return "", err
		}
	}
	return media.ID, nil
}

// call sends one request to the instance and returns its answer's status
// and body. A network error is retried; so are 429 and 5xx, after
// Retry-After when it says; any other non-2xx is permanent, naming the
// status, what was asked (what, when not the status) and Mastodon's error.
func (m *MastodonClient) call(ctx context.Context, method, path, contentType string, body []byte, key, what string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, temporal.NewNonRetryableApplicationError(err.Error(), "MastodonURL", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("User-Agent", "Nudge/1")
	resp, err := m.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("mastodon: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return code, b, nil
	}
	msg := "mastodon answered " + resp.Status
	if what != "" {
		msg += " to the " + what
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg += ": " + slackClip(e.Error, 200)
	} else if s := strings.Join(strings.Fields(string(b)), " "); s != "" {
		msg += ": " + slackClip(s, 200)
	}
	typ := "MastodonHTTP" + strconv.Itoa(code)
	if code == http.StatusTooManyRequests || code >= 500 {
		return code, b, temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{
			NextRetryDelay: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		})
	}
	return code, b, temporal.NewNonRetryableApplicationError(msg, typ, errors.New(msg))
}

// socialImage is a post's image, fetched.
type socialImage struct {
	data        []byte
	contentType string
	name        string // the last part of the URL's path
}

// fetchImage gets a post's image from its URL (http or https), following
// redirects. A 4xx, a body that is not an image, or one over imageLimit is
// permanent, naming the URL; 429, 5xx and network errors are retried.
func (m *MastodonClient) fetchImage(ctx context.Context, raw string) (socialImage, error) {
	permanent := func(format string, args ...any) error {
		msg := "image " + raw + " " + fmt.Sprintf(format, args...)
		return temporal.NewNonRetryableApplicationError(msg, "SocialImage", errors.New(msg))
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return socialImage{}, permanent("is not an absolute http(s) URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return socialImage{}, permanent("cannot be asked for: %v", err)
	}
	req.Header.Set("Accept", "image/*")
	req.Header.Set("User-Agent", "Nudge/1")
	resp, err := m.images.Do(req)
	if err != nil {
		return socialImage{}, fmt.Errorf("image: %w", err)
	}
	defer resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500:
		return socialImage{}, temporal.NewApplicationErrorWithOptions("image "+raw+": its host answered "+resp.Status, "SocialImageHTTP"+strconv.Itoa(code),
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter(resp.Header.Get("Retry-After"), time.Now())})
	case code < 200 || code >= 300:
		return socialImage{}, permanent("could not be fetched: its host answered %s", resp.Status)
	}
	const over = "over the 16 MiB Mastodon takes"
	if resp.ContentLength > imageLimit {
		return socialImage{}, permanent("is %.1f MiB, %s", float64(resp.ContentLength)/(1<<20), over)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, imageLimit+1))
	if err != nil {
		return socialImage{}, fmt.Errorf("image %s: %w", raw, err)
	}
	if len(data) > imageLimit {
		return socialImage{}, permanent("is %s", over)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "" || ct == "application/octet-stream" {
		ct, _, _ = mime.ParseMediaType(http.DetectContentType(data))
	}
	if !strings.HasPrefix(ct, "image/") {
		return socialImage{}, permanent("is %s, not an image", ct)
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" {
		name = "image"
	}
	return socialImage{data: data, contentType: ct, name: name}, nil
}
