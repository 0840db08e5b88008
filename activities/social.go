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
	"net/http"
	"net/url"
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
//   - mastodon: POST {NUDGE_MASTODON_URL}/api/v1/statuses with the bearer
//     token NUDGE_MASTODON_TOKEN and a JSON body {"status": …}. The status
//     is the text, the link and the image's URL (workflows.SocialStatus):
//     the image is shared as a link, which the instance shows as a preview
//     card, not uploaded as media. Every attempt carries the same
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
	PostStatus(ctx context.Context, status, idempotencyKey string) (workflows.SocialResult, error)
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
		var err error
		if res, err = a.Mastodon.PostStatus(ctx, workflows.SocialStatus(p), SocialIdempotencyKey(p.Name)); err != nil {
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

// SocialWebhookData is the post: its parts, and the status text as it
// would go to Mastodon.
type SocialWebhookData struct {
	Name   string    `json:"name"`
	Text   string    `json:"text"`
	Link   string    `json:"link,omitempty"`
	Image  string    `json:"image,omitempty"`
	At     time.Time `json:"at"`
	Zone   string    `json:"zone"`
	Status string    `json:"status"`
}

func socialWebhookBody(p workflows.SocialPost) SocialWebhookBody {
	return SocialWebhookBody{Type: "social.post", Timestamp: p.At.UTC(), Data: SocialWebhookData{
		Name: p.Name, Text: p.Text, Link: p.Link, Image: p.Image, At: p.At.UTC(), Zone: p.Zone, Status: workflows.SocialStatus(p)}}
}

// MastodonClient posts statuses to a Mastodon-compatible API.
type MastodonClient struct {
	base  string
	token string
	http  *http.Client
}

// mastodonTimeout bounds one request.
const mastodonTimeout = 30 * time.Second

// NewMastodonClient posts to the instance at baseURL (NUDGE_MASTODON_URL,
// like https://mastodon.social) with an access token granted write:statuses.
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
	}}, nil
}

// PostStatus posts one public status; see SocialPoster.
func (m *MastodonClient) PostStatus(ctx context.Context, status, key string) (workflows.SocialResult, error) {
	body, _ := json.Marshal(map[string]string{"status": status})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.base+"/api/v1/statuses", bytes.NewReader(body))
	if err != nil {
		return workflows.SocialResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "MastodonURL", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("User-Agent", "Nudge/1")
	resp, err := m.http.Do(req)
	if err != nil {
		// Retried: the same Idempotency-Key makes a repeat harmless.
		return workflows.SocialResult{}, fmt.Errorf("mastodon: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	code := resp.StatusCode
	if code < 200 || code >= 300 {
		msg := "mastodon answered " + resp.Status
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
			return workflows.SocialResult{}, temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{
				NextRetryDelay: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			})
		}
		return workflows.SocialResult{}, temporal.NewNonRetryableApplicationError(msg, typ, errors.New(msg))
	}
	var res workflows.SocialResult
	if err := json.Unmarshal(b, &res); err != nil || res.ID == "" {
		// Posted, most likely, with an answer we cannot read: a retry with
		// the same key returns the same status.
		return res, fmt.Errorf("mastodon answered %s without a status id: %s", resp.Status, slackClip(strings.TrimSpace(string(b)), 200))
	}
	return res, nil
}
