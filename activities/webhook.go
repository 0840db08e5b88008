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
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Webhooks: a journey's j.Webhook("crm", …) POSTs JSON to the URL
// NUDGE_WEBHOOKS lists as crm, signed the Standard Webhooks way
// (https://www.standardwebhooks.com) with NUDGE_WEBHOOK_SECRET: headers
// webhook-id, webhook-timestamp and webhook-signature, "v1,<base64
// HMAC-SHA256 of id.timestamp.body>". Each post is a row in messages on the
// channel "webhook", keyed like any send, and follows the send protocol in
// outbox.go, so a step posts at most once:
//
//   - 2xx: sent.
//   - 5xx and 429: refused for now; Temporal retries with backoff, or after
//     as long as a Retry-After asks (up to an hour).
//   - Any other answer (4xx, a redirect, which is not followed): refused
//     for good, with the status as the reason; the journey goes on.
//   - No connection, or the request not fully written: nothing arrived, so
//     it is retried like a 5xx.
//   - The request went out and no answer came (a timeout, a dropped
//     connection): unknown.
//
// The unknown-outcome rule for webhooks: every attempt of a send carries
// the same webhook-id (WebhookID, from the message key), and the Standard
// Webhooks spec asks receivers to drop an id they have seen. So a webhook
// is never marketing: like a transactional email, an unknown outcome is
// posted once more with the same webhook-id (counted as
// nudge_sends_total{channel="webhook",outcome="repeated"}), and if that
// too ends unknown it stays unknown. The signature's timestamp is the
// attempt's own, so a receiver's replay window holds for each attempt.

// WebhookPoster delivers one signed webhook request: body to url, as the
// message id. An error means the receiver did not take it, so it may be
// posted again, unless it wraps ErrOutcomeUnknown (it may have) or is a
// non-retryable temporal.ApplicationError (it never will).
type WebhookPoster interface {
	Post(ctx context.Context, url, id string, body []byte) error
}

// ErrWebhookOutcomeUnknown marks a post that failed after the request went
// out whole: the receiver may have it.
var ErrWebhookOutcomeUnknown = fmt.Errorf("the webhook receiver may have taken the request: %w", ErrOutcomeUnknown)

// SendWebhook posts one webhook, at most once per request key (see the
// pipeline in pipeline.go and the protocol in outbox.go). A webhook the
// worker does not know (not in NUDGE_WEBHOOKS) is a permanent error naming
// it; without a poster (nudge simulate, tests) the post is recorded with
// its body, not sent.
func (a *Activities) SendWebhook(ctx context.Context, req workflows.WebhookRequest) (workflows.SendResult, error) {
	url, ok := a.WebhookURLs[req.Webhook]
	if !ok {
		known := "none are set"
		if len(a.WebhookURLs) > 0 {
			names := make([]string, 0, len(a.WebhookURLs))
			for name := range a.WebhookURLs {
				names = append(names, name)
			}
			slices.Sort(names)
			known = "known: " + strings.Join(names, ", ")
		}
		err := fmt.Errorf("no webhook %q in NUDGE_WEBHOOKS (%s)", req.Webhook, known)
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "WebhookUnknown", err)
	}
	row := newRow(req.Message, models.ChannelWebhook)
	// Never marketing, whatever the request says: that is what has the send
	// protocol post an unknown outcome once more (see above), and a webhook
	// is not a message to the contact, so no cap counts it.
	row.Marketing = false
	return a.sendThrough(ctx, row, req.HoldForSales, &webhookSend{a: a, req: req, url: url})
}

// webhookSend is one webhook in the pipeline. It goes to a system, not to
// the contact: no consent or address applies, only a contact to speak of.
type webhookSend struct {
	a   *Activities
	req workflows.WebhookRequest
	url string
}

func (w *webhookSend) check(context.Context, *models.Contact, models.Message) (string, string, error) {
	return w.req.Webhook, "", nil
}

func (w *webhookSend) render(_ context.Context, c *models.Contact, row models.Message) (outgoing, string, error) {
	payload := webhookPayload(w.req, c)
	body, err := json.Marshal(payload)
	if err != nil {
		return outgoing{}, "", fmt.Errorf("webhook %s: the body is not JSON: %w", w.req.Webhook, err)
	}
	row.Subject, row.Text = payload.Type, string(body)
	id := WebhookID(row.Key)
	out := outgoing{row: row, result: workflows.SendResult{To: row.To, Subject: row.Subject}}
	if poster := w.a.Webhooks; poster != nil {
		out.deliver = oneRequest("POST webhook "+w.req.Webhook, func(ctx context.Context) (string, error) {
			if err := poster.Post(ctx, w.url, id, body); err != nil {
				return "", err
			}
			return id, nil
		})
	}
	return out, "", nil
}

// WebhookID is the webhook-id of the send keyed key: the same for every
// attempt, so a receiver drops a copy; a digest, so no contact ID shows.
func WebhookID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// WebhookBody is what a webhook posts, in the Standard Webhooks shape:
// type (journey.step), timestamp (the journey's time of the step, the same
// on every attempt) and data.
type WebhookBody struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// WebhookData is a webhook's data: where it comes from, the contact, and
// what the journey added.
type WebhookData struct {
	Webhook    string         `json:"webhook"`
	Journey    string         `json:"journey"`
	Step       string         `json:"step"`
	RunID      string         `json:"run_id,omitempty"`
	Contact    WebhookContact `json:"contact"`
	Properties map[string]any `json:"properties,omitempty"`
}

// WebhookContact is the contact as a webhook shows it: its ID and a few
// fields, and only the traits the journey named.
type WebhookContact struct {
	ID             string         `json:"id"`
	Email          string         `json:"email,omitempty"`
	Phone          string         `json:"phone,omitempty"`
	FirstName      string         `json:"first_name,omitempty"`
	LastName       string         `json:"last_name,omitempty"`
	Company        string         `json:"company,omitempty"`
	LifecycleStage string         `json:"lifecycle_stage,omitempty"`
	LeadScore      int64          `json:"lead_score"`
	Traits         map[string]any `json:"traits,omitempty"`
}

func webhookPayload(req workflows.WebhookRequest, c *models.Contact) WebhookBody {
	contact := WebhookContact{
		ID: c.ID, Email: c.Email, Phone: c.Phone, FirstName: c.FirstName, LastName: c.LastName,
		Company: c.Company, LifecycleStage: c.LifecycleStage, LeadScore: c.LeadScore,
	}
	for _, name := range req.Traits {
		if v, ok := c.Traits[name]; ok {
			if contact.Traits == nil {
				contact.Traits = map[string]any{}
			}
			contact.Traits[name] = v
		}
	}
	return WebhookBody{
		Type:      req.Journey + "." + req.Step,
		Timestamp: req.At.UTC(),
		Data: WebhookData{Webhook: req.Webhook, Journey: req.Journey, Step: req.Step, RunID: req.RunID,
			Contact: contact, Properties: req.Data},
	}
}

// WebhookClient posts webhooks signed with the Standard Webhooks library.
type WebhookClient struct {
	signer *standardwebhooks.Webhook
	http   *http.Client
	// now is the clock the signature's timestamp is read from.
	now func() time.Time
}

// DefaultWebhookTimeout bounds one webhook request, well inside the
// activity's start-to-close timeout: a receiver should answer at once and
// do its work later.
const DefaultWebhookTimeout = 15 * time.Second

// maxRetryAfter caps the wait a Retry-After can ask for.
const maxRetryAfter = time.Hour

// NewWebhookClient signs with secret (whsec_ and base64, as
// NUDGE_WEBHOOK_SECRET) and gives each request timeout (0:
// DefaultWebhookTimeout).
func NewWebhookClient(secret string, timeout time.Duration) (*WebhookClient, error) {
	if _, err := config.ParseWebhookSecret(secret); err != nil {
		return nil, fmt.Errorf("webhooks: the secret %w", err)
	}
	signer, err := standardwebhooks.NewWebhook(strings.TrimSpace(secret))
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	return &WebhookClient{signer: signer, now: time.Now, http: &http.Client{
		Timeout: timeout,
		// A redirect is an answer: the signed body goes only where it is sent.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Post sends one signed request; see WebhookPoster.
func (w *WebhookClient) Post(ctx context.Context, url, id string, body []byte) error {
	ts := w.now()
	sig, err := w.signer.Sign(id, ts, body)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("sign: "+err.Error(), "WebhookSign", err)
	}
	// Whether the request went out whole: before, nothing arrived; after,
	// a lost answer is an unknown outcome.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			wrote.Store(true)
		}
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "WebhookURL", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Nudge-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := w.http.Do(req)
	if err != nil {
		if !wrote.Load() {
			return fmt.Errorf("the request did not go out: %w", err)
		}
		return fmt.Errorf("%w: %v", ErrWebhookOutcomeUnknown, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
	return webhookAnswer(resp, snippet)
}

// webhookAnswer sorts the receiver's answer (see the rules above).
func webhookAnswer(resp *http.Response, snippet []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg := "answered " + resp.Status
	if code >= 300 && code < 400 {
		msg += " (redirects are not followed: list the final URL in NUDGE_WEBHOOKS)"
	} else if s := strings.Join(strings.Fields(string(snippet)), " "); s != "" {
		msg += ": " + slackClip(s, 200) // what the receiver said, on one line
	}
	typ := "WebhookHTTP" + strconv.Itoa(code)
	if code == http.StatusTooManyRequests || code >= 500 {
		return temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{
			NextRetryDelay: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		})
	}
	return temporal.NewNonRetryableApplicationError(msg, typ, errors.New(msg))
}

// retryAfter reads a Retry-After header, seconds or an HTTP date, as a
// wait from now, capped at maxRetryAfter; 0 when there is none (Temporal's
// backoff decides).
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return min(max(d, 0), maxRetryAfter)
}
