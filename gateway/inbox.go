package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The in-app inbox API (activities/inapp.go puts messages in it).
//
//   - POST /v1/inbox/tokens (admin key): {"contact_id": "…", "ttl": "24h"}
//     gives the app's server an inbox token for one contact, good for ttl
//     (default 24h, at most 720h). The token is signed with NUDGE_SECRET by
//     the links signer and carries the contact and its expiry.
//   - GET /v1/inbox (Authorization: Bearer <inbox token>): the contact's
//     unread messages and those read in the last 30 days, newest first,
//     without dismissed or expired ones.
//   - POST /v1/inbox/:id/read and /v1/inbox/:id/dismiss (inbox token): mark
//     one of the contact's messages. Reading records "In-App Read" once per
//     message (messageId "nudge:inapp-read-<id>"), an engagement event like
//     "Email Opened", and marks the message opened for its journey's metrics.
//   - GET /inbox/c/<click token>: a message's action, the signed click
//     token email links carry (links.ClickURL): it records "In-App Clicked"
//     once per message and link and redirects to the destination.
//
// A token sees only its contact's messages: another contact's message ID
// answers 404, as one that does not exist. A write key (or an admin key)
// is not an inbox token: 403 for a write key, 401 otherwise.

const (
	inboxTokenPrefix  = "nit1."
	inboxDefaultTTL   = 24 * time.Hour
	inboxMaxTTL       = 30 * 24 * time.Hour
	inboxRecent       = 30 * 24 * time.Hour
	inboxListLimit    = 100
	inboxClickPrefix  = "/inbox/c/"
	inboxTag          = "inapp"
	msgNoInboxToken   = "an inbox token is required: Authorization: Bearer <token from POST /v1/inbox/tokens>"
	msgBadInboxToken  = "the inbox token is not valid or has expired"
	msgWriteKeyInbox  = "a write key cannot read an inbox; the app's server gets an inbox token from POST /v1/inbox/tokens"
	inboxContactParam = "inboxContact"
)

func (g *Gateway) inboxRoutes(admin *gin.RouterGroup, r *gin.Engine) {
	admin.POST("/inbox/tokens", g.inboxToken)
	r.GET("/v1/inbox", g.requireInbox, g.listInbox)
	r.POST("/v1/inbox/:id/read", g.requireInbox, g.markInbox(models.InboxRead))
	r.POST("/v1/inbox/:id/dismiss", g.requireInbox, g.markInbox(models.InboxDismissed))
	r.GET(inboxClickPrefix+":token", g.inboxClick)
	r.HEAD(inboxClickPrefix+":token", g.inboxClick)
}

// InboxToken makes an inbox token for contactID that expires at expires.
// The MAC is the links signer's (NUDGE_SECRET), over "inbox-token|" and the
// encoded payload, which no other token the signer makes can be mistaken
// for (dashboard sessions, the only other input, hold no "|").
func InboxToken(s *links.Signer, contactID string, expires time.Time) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(contactID + "|" + strconv.FormatInt(expires.Unix(), 10)))
	return inboxTokenPrefix + payload + "." + s.CSRF(inboxMACInput(payload))
}

func inboxMACInput(payload string) string { return "inbox-token|" + payload }

// CheckInboxToken returns the contact of an inbox token signed by s and
// unexpired at now.
func CheckInboxToken(s *links.Signer, token string, now time.Time) (string, error) {
	rest, ok := strings.CutPrefix(token, inboxTokenPrefix)
	if !ok {
		return "", links.ErrInvalid
	}
	payload, mac, ok := strings.Cut(rest, ".")
	if !ok || payload == "" || !s.CheckCSRF(inboxMACInput(payload), mac) {
		return "", links.ErrInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return "", links.ErrInvalid
	}
	contact, exp, ok := strings.Cut(string(raw), "|")
	unix, perr := strconv.ParseInt(exp, 10, 64)
	if !ok || perr != nil || contact == "" || !now.Before(time.Unix(unix, 0)) {
		return "", links.ErrInvalid
	}
	return contact, nil
}

type inboxTokenRequest struct {
	ContactID string `json:"contact_id"`
	TTL       string `json:"ttl"`
}

func (g *Gateway) inboxToken(c *gin.Context) {
	var req inboxTokenRequest
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(c, http.StatusBadRequest, "the body must be JSON like {\"contact_id\": \"…\", \"ttl\": \"24h\"}: "+err.Error())
		return
	}
	ttl := inboxDefaultTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > inboxMaxTTL {
			(&apiError{Status: http.StatusBadRequest, Field: "ttl", Error: "ttl must be a duration like 24h, at most 720h"}).send(c)
			return
		}
		ttl = d
	}
	if strings.TrimSpace(req.ContactID) == "" {
		(&apiError{Status: http.StatusBadRequest, Field: "contact_id", Error: "contact_id is required"}).send(c)
		return
	}
	// An address, or an ID a merge or an alias gave another contact,
	// names the contact it is now.
	id, err := g.Store.ResolveContact(c.Request.Context(), req.ContactID)
	if err != nil {
		g.serverError(c, "resolve contact", err)
		return
	}
	req.ContactID = id
	if _, err := g.Store.Contact(c.Request.Context(), req.ContactID); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			(&apiError{Status: http.StatusNotFound, Field: "contact_id", Error: "no contact " + req.ContactID}).send(c)
			return
		}
		g.log().Error("inbox token: could not read the contact", "error", err)
		fail(c, http.StatusInternalServerError, "could not read the contact")
		return
	}
	expires := time.Now().Add(ttl).Truncate(time.Second)
	c.JSON(http.StatusOK, gin.H{"token": InboxToken(g.Links, req.ContactID, expires), "contact_id": req.ContactID,
		"expires_at": expires.UTC()})
}

// requireInbox lets through a request with a valid inbox token, and puts
// its contact in the context.
func (g *Gateway) requireInbox(c *gin.Context) {
	h := strings.TrimSpace(c.GetHeader("Authorization"))
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		if key, ok, _ := headerKey(c.Request); ok && g.kind(key) == keyWrite {
			fail(c, http.StatusForbidden, msgWriteKeyInbox)
			return
		}
		fail(c, http.StatusUnauthorized, msgNoInboxToken)
		return
	}
	contact, err := CheckInboxToken(g.Links, token, time.Now())
	if err != nil {
		if g.kind(token) == keyWrite {
			fail(c, http.StatusForbidden, msgWriteKeyInbox)
			return
		}
		fail(c, http.StatusUnauthorized, msgBadInboxToken)
		return
	}
	c.Set(inboxContactParam, contact)
	c.Next()
}

// InboxMessage is one message as GET /v1/inbox shows it.
type InboxMessage struct {
	ID        uint64     `json:"id"`
	Title     string     `json:"title"`
	HTML      string     `json:"html"`
	Markdown  string     `json:"markdown"`
	ActionURL string     `json:"action_url,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	ReadAt    *time.Time `json:"read_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// InboxList is GET /v1/inbox's answer.
type InboxList struct {
	Unread   int            `json:"unread"`
	Messages []InboxMessage `json:"messages"`
}

func (g *Gateway) listInbox(c *gin.Context) {
	contact := c.GetString(inboxContactParam)
	entries, err := g.Store.Inbox(c.Request.Context(), contact, time.Now(), inboxRecent, inboxListLimit)
	if err != nil {
		g.log().Error("could not list an inbox", "error", err)
		fail(c, http.StatusInternalServerError, "could not read the inbox")
		return
	}
	out := InboxList{Messages: make([]InboxMessage, 0, len(entries))}
	for _, e := range entries {
		m := InboxMessage{ID: e.MessageID, Title: e.Title, HTML: e.HTML, Markdown: e.Markdown,
			ExpiresAt: e.ExpiresAt, ReadAt: e.ReadAt, CreatedAt: e.CreatedAt.UTC()}
		if e.ActionURL != "" {
			m.ActionURL = g.inboxActionURL(e.MessageID, e.ActionURL)
		}
		if e.ReadAt == nil {
			out.Unread++
		}
		out.Messages = append(out.Messages, m)
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

// inboxActionURL is the tracked address of a message's action: the click
// token email links carry, under the inbox's own redirect.
func (g *Gateway) inboxActionURL(id uint64, dest string) string {
	click := g.Links.ClickURL(id, dest, inboxTag)
	token := click[strings.LastIndex(click, "/")+1:]
	return g.Links.BaseURL() + inboxClickPrefix + token
}

func (g *Gateway) markInbox(what string) gin.HandlerFunc {
	return func(c *gin.Context) {
		contact := c.GetString(inboxContactParam)
		id, err := strconv.ParseUint(c.Param("id"), 10, 64)
		if err != nil || id == 0 {
			(&apiError{Status: http.StatusNotFound, Field: "id", Error: "no such message in this inbox"}).send(c)
			return
		}
		ctx := context.WithoutCancel(c.Request.Context())
		item, first, err := g.Store.MarkInboxItem(ctx, contact, id, what, time.Now())
		switch {
		case errors.Is(err, models.ErrNotFound):
			(&apiError{Status: http.StatusNotFound, Field: "id", Error: "no such message in this inbox"}).send(c)
			return
		case err != nil:
			g.log().Error("could not mark an inbox message", "message", id, "mark", what, "error", err)
			fail(c, http.StatusInternalServerError, "could not mark the message")
			return
		}
		if first && what == models.InboxRead {
			if m := g.trackedMessage(ctx, id); m != nil {
				g.mark(ctx, m, models.Opened)
				g.record(ctx, m, workflows.EventInAppRead, workflows.OwnID("inapp-read", strconv.FormatUint(id, 10)), nil)
			}
		}
		c.JSON(http.StatusOK, gin.H{"id": item.MessageID, "read_at": item.ReadAt, "dismissed_at": item.DismissedAt})
	}
}

// inboxClick records a click on a message's action and redirects to it. A
// token that is not valid, or not for an in-app message, goes to
// NUDGE_SITE_URL (or 404) and records nothing, as trackClick does.
func (g *Gateway) inboxClick(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Robots-Tag", "noindex")
	ctx := context.WithoutCancel(c.Request.Context())
	click, err := g.Links.Click(c.Param("token"))
	var m *models.Message
	if err == nil {
		m = g.trackedMessage(ctx, click.MessageID)
	}
	if m == nil || m.Channel != models.ChannelInApp {
		if links.IsWebURL(g.Config.SiteURL) {
			c.Redirect(http.StatusFound, g.Config.SiteURL)
			return
		}
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("This link is not valid."))
		return
	}
	if g.counts(c) {
		g.mark(ctx, m, models.Clicked)
		g.record(ctx, m, workflows.EventInAppClicked, workflows.OwnID("inapp-click", strconv.FormatUint(m.ID, 10)),
			map[string]any{"url": click.URL, "tag": click.Tag})
	}
	c.Redirect(http.StatusFound, click.URL)
}
