package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// unsubscribePage asks the person to confirm. Opening the link changes
// nothing: mail scanners and link previews fetch it without anyone asking.
func (g *Gateway) unsubscribePage(c *gin.Context) {
	contact := g.tokenContact(c, g.Links.Unsubscribe)
	if contact == nil {
		return
	}
	g.page(c, http.StatusOK, "unsubscribe.html", unsubscribeData{
		Brand: g.Config.BrandName,
		Email: contact.Email,
		Done:  contact.UnsubscribedAt != nil,
	})
}

// unsubscribe handles the confirmation form and RFC 8058 one-click posts
// (body "List-Unsubscribe=One-Click"), which carry no cookie or CSRF token:
// the signed token is the authorisation.
func (g *Gateway) unsubscribe(c *gin.Context) {
	contact := g.tokenContact(c, g.Links.Unsubscribe)
	if contact == nil {
		return
	}
	body, _ := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4<<10))
	oneClick := bytes.Contains(body, []byte("List-Unsubscribe=One-Click"))

	ctx := context.WithoutCancel(c.Request.Context())
	g.markUnsubscribe(ctx, c.Query("m"), contact.ID)
	if _, err := g.Store.Unsubscribe(ctx, contact.ID, time.Now()); err != nil {
		g.log().Error("unsubscribe failed", "contact", contact.ID, "error", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8",
			[]byte("Sorry, we could not unsubscribe you just now. Please use the link again in a minute."))
		return
	}
	// Re-read for the stored time: it names the event, so a repeated post
	// (or one after the event failed to store) lands on the same messageId.
	updated, err := g.Store.Contact(ctx, contact.ID)
	if err == nil && updated.UnsubscribedAt != nil {
		contact = updated
		g.recordUnsubscribe(ctx, contact, oneClick)
	} else {
		g.log().Error("unsubscribed, but could not re-read the contact to record the event", "contact", contact.ID, "error", err)
	}
	g.page(c, http.StatusOK, "unsubscribe.html", unsubscribeData{Brand: g.Config.BrandName, Email: contact.Email, Done: true})
}

// markUnsubscribe credits the unsubscribe to the email whose link it came
// from (?m=, which Nudge adds to the link in each email), for that
// journey's metrics: only an email of this very contact, so a link can
// credit nothing else. Anything else in m is ignored; the unsubscribe
// itself never depends on it.
func (g *Gateway) markUnsubscribe(ctx context.Context, raw, contactID string) {
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || id == 0 {
		return
	}
	m, err := g.Store.Message(ctx, id)
	if err != nil || m.Channel != models.ChannelEmail {
		return
	}
	if m.ContactID != contactID {
		// Or an email to a contact merged into this one since.
		to, err := g.Store.Contact(ctx, m.ContactID)
		if err != nil || to.MergedInto != contactID {
			return
		}
	}
	g.mark(ctx, m, models.Unsubscribed)
}

// recordUnsubscribe tells the contact's workflow, through the same store →
// signal path as any event, so journeys stop. The unsubscribe itself is
// already stored and is what sending checks, so a failure here is logged.
func (g *Gateway) recordUnsubscribe(ctx context.Context, contact *models.Contact, oneClick bool) {
	at := contact.UnsubscribedAt.UTC()
	method := "page"
	if oneClick {
		method = "one-click"
	}
	in := models.Incoming{
		Event: models.Event{
			MessageID:  workflows.OwnID("unsubscribe", contact.ID, strconv.FormatInt(at.UnixNano(), 10)),
			Kind:       workflows.KindTrack,
			Name:       workflows.EventUnsubscribed,
			Properties: map[string]any{"channel": "email", "method": method},
			Timestamp:  at,
		},
		UserID: contact.ID,
	}
	if len(in.MessageID) > maxIDLength {
		in.MessageID = workflows.OwnID("unsubscribe", fmt.Sprintf("%x", contactHash(contact.ID)), strconv.FormatInt(at.UnixNano(), 10))
	}
	if err := g.accept(ctx, []models.Incoming{in}); err != nil {
		g.log().Error("could not store the Unsubscribed event", "contact", contact.ID, "error", err)
	}
}

type unsubscribeData struct {
	Brand string
	Email string
	Done  bool
}

// tokenContact checks the link's token and finds its contact. A forged,
// altered or cut-short token, or one for a contact no longer stored, gets
// the same "link not valid" page, so it reveals nothing.
func (g *Gateway) tokenContact(c *gin.Context, verify func(token string) (string, error)) *models.Contact {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Robots-Tag", "noindex")
	id, err := verify(c.Param("token"))
	if err != nil {
		g.page(c, http.StatusNotFound, "invalid_link.html", map[string]string{"Brand": g.Config.BrandName})
		return nil
	}
	contact, err := g.Store.Contact(c.Request.Context(), id)
	if err == nil && contact.MergedInto != "" {
		// A link from before a merge speaks for the person, who is the
		// kept contact now: an unsubscribe must stop the mail they get.
		contact, err = g.Store.Contact(c.Request.Context(), contact.MergedInto)
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		g.page(c, http.StatusNotFound, "invalid_link.html", map[string]string{"Brand": g.Config.BrandName})
		return nil
	case err != nil:
		g.log().Error("could not read the contact of a signed link", "contact", id, "error", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8",
			[]byte("Sorry, something went wrong on our side. Please use the link again in a minute."))
		return nil
	}
	return contact
}

// page renders a page to a buffer first, so a template error becomes a 500
// rather than half a page.
func (g *Gateway) page(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := g.pages.ExecuteTemplate(&buf, name, data); err != nil {
		g.log().Error("could not render page", "page", name, "error", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Sorry, this page could not be shown."))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// contactHash stands in for a contact ID too long to fit in a messageId.
func contactHash(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:12]
}
