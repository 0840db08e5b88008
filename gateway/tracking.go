package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Engagement tracking and the email provider webhook.
//
//   - GET /t/o/<token>.gif: the open pixel in every email. It records an
//     "Email Opened" event for the message's contact, once per message
//     (messageId "open-<message ID>"), and always answers 200 with a 1×1
//     transparent GIF that no one caches, even for a forged token (which
//     records nothing): a broken image in an inbox helps no one.
//   - GET /t/c/<token>: a link in an email. It records "Email Link Clicked"
//     with the link's url and tag, once per message and link (messageId
//     "click-<message ID>-<hash of the url>"), and answers 302 to the
//     destination signed into the token, the only place a destination is
//     ever read from. A forged, altered or cut-short token answers 302 to
//     NUDGE_SITE_URL, the brand's own site, and records nothing; with no
//     site URL set it answers 404.
//   - HEAD on either answers the same without recording: link scanners
//     send HEADs; people do not.
//   - A request whose Referer is the admin preview of a message
//     (/v1/messages/<id>/html) records nothing: ops reading an email is
//     not the contact engaging with it.
//   - POST /webhooks/email: bounces and complaints from the email provider
//     (see emailWebhook).

// pixel is a 1×1 transparent GIF.
var pixel = []byte{
	'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
	0x21, 0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b,
}

func (g *Gateway) trackingRoutes(r *gin.Engine) {
	r.GET(links.OpenPrefix+":token", g.trackOpen)
	r.HEAD(links.OpenPrefix+":token", g.trackOpen)
	r.GET(links.ClickPrefix+":token", g.trackClick)
	r.HEAD(links.ClickPrefix+":token", g.trackClick)
	r.POST("/webhooks/email", g.requireAdmin, g.emailWebhook)
}

// trackOpen serves the open pixel, recording the open first.
func (g *Gateway) trackOpen(c *gin.Context) {
	if id, err := g.Links.Open(c.Param("token")); err == nil && g.counts(c) {
		ctx := context.WithoutCancel(c.Request.Context())
		if m := g.trackedMessage(ctx, id); m != nil {
			g.mark(ctx, m, models.Opened)
			g.record(ctx, m, workflows.EventEmailOpened, workflows.OwnID("open", strconv.FormatUint(uint64(m.ID), 10)), nil)
		}
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
	h.Set("X-Robots-Tag", "noindex")
	c.Data(http.StatusOK, "image/gif", pixel)
}

// trackClick records a click and sends the person on to the link's
// destination.
func (g *Gateway) trackClick(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Robots-Tag", "noindex")
	click, err := g.Links.Click(c.Param("token"))
	if err != nil {
		// Never a destination from the request: the brand's site, or nothing.
		if links.IsWebURL(g.Config.SiteURL) {
			c.Redirect(http.StatusFound, g.Config.SiteURL)
			return
		}
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8",
			[]byte("This link is not valid. It may have been cut short by your email program: try the link in the email again."))
		return
	}
	if g.counts(c) {
		ctx := context.WithoutCancel(c.Request.Context())
		if m := g.trackedMessage(ctx, click.MessageID); m != nil {
			g.mark(ctx, m, models.Clicked)
			sum := sha256.Sum256([]byte(click.URL))
			g.record(ctx, m, workflows.EventEmailClicked, workflows.OwnID("click", strconv.FormatUint(uint64(m.ID), 10), hex.EncodeToString(sum[:8])),
				map[string]any{"url": click.URL, "tag": click.Tag})
		}
	}
	c.Redirect(http.StatusFound, click.URL)
}

// counts tells whether a request to a tracking link is a person engaging:
// not a HEAD, and not ops previewing the message in the admin API.
func (g *Gateway) counts(c *gin.Context) bool {
	if c.Request.Method != http.MethodGet {
		return false
	}
	ref := c.GetHeader("Referer")
	return g.Config.PublicURL == "" || !strings.HasPrefix(ref, g.Config.PublicURL+"/v1/messages/")
}

// trackedMessage reads the message a tracking link was made for; nil when
// it is gone or cannot be read (logged), so nothing is recorded.
func (g *Gateway) trackedMessage(ctx context.Context, id uint64) *models.Message {
	m, err := g.Store.Message(ctx, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		g.log().Warn("tracking link for a message that is not stored", "message", id)
		return nil
	case err != nil:
		g.log().Error("could not read the message of a tracking link", "message", id, "error", err)
		return nil
	}
	return m
}

// mark notes an open or click on the message itself, for its journey's
// metrics. A failure is logged: the person still gets their page.
func (g *Gateway) mark(ctx context.Context, m *models.Message, what string) {
	if err := g.Store.MarkMessage(ctx, m.ID, what, time.Now()); err != nil {
		g.log().Error("could not mark the message", "message", m.ID, "engagement", what, "error", err)
	}
}

// record stores and signals one engagement event for the message's
// contact. A failure is logged: the person still gets their image or page.
func (g *Gateway) record(ctx context.Context, m *models.Message, name, messageID string, extra map[string]any) {
	props := m.EngagementProperties()
	for k, v := range extra {
		props[k] = v
	}
	in := models.Incoming{
		Event: models.Event{
			MessageID:  messageID,
			Kind:       workflows.KindTrack,
			Name:       name,
			Properties: props,
			Timestamp:  time.Now().UTC(),
		},
		UserID: m.ContactID,
	}
	if err := g.accept(ctx, []models.Incoming{in}); err != nil {
		g.log().Error("could not store an engagement event", "event", name, "message", m.ID, "error", err)
	}
}

// Email provider webhook limits.
const (
	emailWebhookLimit  = 1 << 20 // bytes in one request
	emailWebhookEvents = 1000    // events in one request
	maxReasonLength    = 500     // runes of a bounce reason kept
)

// Email provider event types.
const (
	emailBounce    = "bounce"
	emailComplaint = "complaint"
	emailDelivered = "delivered"
)

var emailEventFields = []string{"type", "bounce_type", "email", "message_id", "timestamp", "reason", "id"}

// emailWebhook takes delivery events from the email provider (or the
// adapter in front of it). It is an internal integration point, so it
// wants an admin key (Authorization: Bearer <admin key>). The body:
//
//	{"events": [
//	  {"type": "bounce",          // required: "bounce", "complaint" or "delivered"
//	   "bounce_type": "hard",     // bounces only, and required for them: "hard" or "soft"
//	   "email": "ana@example.com",// required: the recipient's address
//	   "message_id": 123,         // optional: Nudge's message ID (GET /v1/messages/123)
//	   "timestamp": "2026-01-10T10:00:00Z", // optional ISO-8601; default: when received
//	   "reason": "550 5.1.1 user unknown",  // optional: the provider's diagnostic
//	   "id": "evt_123"}           // optional: the provider's event ID
//	]}
//
// What each does, for every contact with that address (any case):
//   - hard bounce: the address is suppressed ("hard bounce"), and an
//     "Email Bounced" event is recorded with bounce_type "hard";
//   - soft bounce: an "Email Bounced" event with bounce_type "soft"; no
//     suppression;
//   - complaint: the address is suppressed ("spam complaint"), and an
//     "Email Marked as Spam" event is recorded;
//   - delivered: nothing for the contact.
//
// With a message_id, the message's delivery_status becomes delivered,
// bounced, soft_bounced or complained, and the events carry the message's
// journey, step, template, topic and content. Events carry email and
// reason too. A provider's retry records nothing twice when it carries the
// same id, or else the same type, email, message_id and timestamp.
//
// Every event is checked before anything is stored: one bad event gets 400
// naming its index and field, and nothing of the batch is stored. Unknown
// fields are refused, so a misspelt one does not silently do nothing.
func (g *Gateway) emailWebhook(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, emailWebhookLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			(&apiError{Status: http.StatusRequestEntityTooLarge, Limit: emailWebhookLimit,
				Error: fmt.Sprintf("the body is over the %d KB limit; send at most %d events at a time", emailWebhookLimit>>10, emailWebhookEvents)}).send(c)
			return
		}
		fail(c, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	fields, apiErr := decodeObject(body)
	if apiErr != nil {
		apiErr.send(c)
		return
	}
	top := &parser{fields: fields}
	for _, k := range sortedKeys(fields) {
		if k != "events" {
			top.fail(keyField(k), `unknown field; the body is {"events": [...]}`)
		}
	}
	raw := top.raw("events")
	var items []json.RawMessage
	switch {
	case top.err != nil:
	case raw == nil:
		top.fail("events", "required: an array of bounce, complaint or delivered events")
	case jsonType(raw) != "an array":
		top.fail("events", "must be an array of events, got %s", jsonType(raw))
	case json.Unmarshal(raw, &items) != nil:
		top.fail("events", "must be an array of events")
	case len(items) == 0:
		top.fail("events", "is empty; send at least one event")
	case len(items) > emailWebhookEvents:
		top.fail("events", "has %d events; send at most %d at a time", len(items), emailWebhookEvents)
	}
	if top.err != nil {
		top.err.send(c)
		return
	}

	received := time.Now().UTC()
	evs := make([]emailEvent, 0, len(items))
	for i, item := range items {
		ev, apiErr := parseEmailEvent(i, item, received)
		if apiErr != nil {
			apiErr.send(c)
			return
		}
		evs = append(evs, ev)
	}

	ctx := context.WithoutCancel(c.Request.Context())
	var calls []models.Incoming
	messages := map[uint64]*models.Message{}
	for _, ev := range evs {
		more, err := g.applyEmailEvent(ctx, ev, messages)
		if err != nil {
			g.serverError(c, "record the email events", err)
			return
		}
		calls = append(calls, more...)
	}
	if len(calls) > 0 {
		if err := g.accept(ctx, calls); err != nil {
			g.serverError(c, "store the email events", err)
			return
		}
	}
	ok200(c)
}

// emailEvent is one checked item of the email webhook.
type emailEvent struct {
	Type, BounceType, Email, Reason, ID string
	MessageID                           uint64
	At                                  time.Time
	HasTime                             bool
}

func parseEmailEvent(i int, item json.RawMessage, received time.Time) (emailEvent, *apiError) {
	at := fmt.Sprintf("events[%d]", i)
	if t := jsonType(item); t != "an object" {
		return emailEvent{}, &apiError{Status: http.StatusBadRequest, Error: at + ": must be an object (one event), got " + t, Index: &i}
	}
	p := &parser{prefix: at + ".", index: &i}
	if err := json.Unmarshal(item, &p.fields); err != nil {
		return emailEvent{}, &apiError{Status: http.StatusBadRequest, Error: at + ": " + err.Error(), Index: &i}
	}
	for _, k := range sortedKeys(p.fields) {
		if !slices.Contains(emailEventFields, k) {
			p.fail(keyField(k), "unknown field; the fields are %s", strings.Join(emailEventFields, ", "))
		}
	}
	ev := emailEvent{
		Type:       p.str("type"),
		BounceType: p.str("bounce_type"),
		Email:      strings.TrimSpace(p.str("email")),
		Reason:     p.str("reason"),
		ID:         p.id("id"),
	}
	ev.At, ev.HasTime = p.time("timestamp")
	if raw := p.raw("message_id"); raw != nil && p.err == nil {
		if jsonType(raw) != "a number" || json.Unmarshal(raw, &ev.MessageID) != nil || ev.MessageID == 0 {
			p.fail("message_id", "must be a positive whole number, Nudge's message ID; got %s", clip(string(raw)))
		}
	}
	if p.err == nil {
		switch ev.Type {
		case emailBounce:
			if ev.BounceType != "hard" && ev.BounceType != "soft" {
				p.fail("bounce_type", `must be "hard" or "soft" for a bounce, got %q`, clip(ev.BounceType))
			}
		case emailComplaint, emailDelivered:
			if ev.BounceType != "" {
				p.fail("bounce_type", "is only for bounces; this event is a %s", ev.Type)
			}
		case "":
			p.fail("type", "required: bounce, complaint or delivered")
		default:
			p.fail("type", "unknown event type %q; use bounce, complaint or delivered", clip(ev.Type))
		}
	}
	if p.err == nil {
		if ev.Email == "" {
			p.fail("email", "required: the recipient's address")
		} else if addr, err := mail.ParseAddress(ev.Email); err != nil || addr.Address != ev.Email || len(ev.Email) > 320 {
			p.fail("email", "must be a bare email address such as ana@example.com, got %q", clip(ev.Email))
		}
	}
	if p.err != nil {
		return emailEvent{}, p.err
	}
	if !ev.HasTime {
		ev.At = received
	}
	if utf8.RuneCountInString(ev.Reason) > maxReasonLength {
		ev.Reason = string([]rune(ev.Reason)[:maxReasonLength])
	}
	return ev, nil
}

// applyEmailEvent suppresses the address and marks the message as the event
// says, and returns the events to record for its contacts.
func (g *Gateway) applyEmailEvent(ctx context.Context, ev emailEvent, messages map[uint64]*models.Message) ([]models.Incoming, error) {
	var (
		ids    []string
		err    error
		name   string
		status string
	)
	switch {
	case ev.Type == emailBounce && ev.BounceType == "hard":
		name, status = workflows.EventEmailBounced, "bounced"
		ids, err = g.Store.SuppressEmail(ctx, ev.Email, "hard bounce", ev.At)
	case ev.Type == emailBounce:
		name, status = workflows.EventEmailBounced, "soft_bounced"
		ids, err = g.Store.ContactIDsWithEmail(ctx, ev.Email)
	case ev.Type == emailComplaint:
		name, status = workflows.EventEmailSpam, "complained"
		ids, err = g.Store.SuppressEmail(ctx, ev.Email, "spam complaint", ev.At)
	default:
		status = "delivered"
	}
	if err != nil {
		return nil, err
	}
	var m *models.Message
	if ev.MessageID != 0 {
		if err := g.Store.SetEmailDeliveryStatus(ctx, ev.MessageID, status); err != nil {
			return nil, err
		}
		var seen bool
		if m, seen = messages[ev.MessageID]; !seen {
			m, err = g.Store.Message(ctx, ev.MessageID)
			if err != nil && !errors.Is(err, models.ErrNotFound) {
				return nil, err
			}
			messages[ev.MessageID] = m // nil when unknown: the event is still recorded
		}
	}
	if name == "" {
		return nil, nil
	}

	// What makes a provider's retry the same event.
	key := ev.ID
	if key == "" {
		key = strings.Join([]string{ev.Type, ev.BounceType, strings.ToLower(ev.Email), fmt.Sprint(ev.MessageID), ev.At.Format(time.RFC3339Nano)}, "\x00")
	}
	calls := make([]models.Incoming, 0, len(ids))
	for _, id := range ids {
		props := map[string]any{"email": ev.Email}
		if m != nil {
			props = m.EngagementProperties()
			props["email"] = ev.Email
		} else if ev.MessageID != 0 {
			props["message_id"] = ev.MessageID
		}
		if ev.Type == emailBounce {
			props["bounce_type"] = ev.BounceType
		}
		if ev.Reason != "" {
			props["reason"] = ev.Reason
		}
		sum := sha256.Sum256([]byte(id + "\x00" + key))
		calls = append(calls, models.Incoming{
			Event: models.Event{
				MessageID:  workflows.OwnID("email", ev.Type, hex.EncodeToString(sum[:16])),
				Kind:       workflows.KindTrack,
				Name:       name,
				Properties: props,
				Timestamp:  ev.At,
			},
			UserID: id,
		})
	}
	return calls, nil
}

// keyField names a key of the payload as the field of a refusal: the key,
// or "" in quotes for the empty key, so that the refusal names one.
func keyField(k string) string {
	if k == "" {
		return `""`
	}
	return k
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
