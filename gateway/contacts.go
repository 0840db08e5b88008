package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const (
	recentMessages = 20
	queryTimeout   = 5 * time.Second
)

// getContact shows one contact as ops need it: the row, the journeys it is
// in (asked of its workflow), its latest messages, and where to look in the
// Temporal UI.
func (g *Gateway) getContact(c *gin.Context) {
	ctx := c.Request.Context()
	// A contact is asked for by its ID or by the email address or phone
	// number it was identified with (which its ID no longer shows).
	id, err := g.Store.ResolveContact(ctx, c.Param("id"))
	if err != nil {
		g.serverError(c, "resolve contact", err)
		return
	}
	contact, err := g.Store.Contact(ctx, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		fail(c, http.StatusNotFound, fmt.Sprintf("no contact %q; contacts are created by identify or track calls with a userId", clip(c.Param("id"))))
		return
	case err != nil:
		g.serverError(c, "read contact", err)
		return
	}
	msgs, err := g.Store.Messages(ctx, id, recentMessages)
	if err != nil {
		g.serverError(c, "read messages", err)
		return
	}
	if msgs == nil {
		msgs = []models.Message{}
	}

	breakdown, err := g.Store.ScoreBreakdown(ctx, id)
	if err != nil {
		g.serverError(c, "read score breakdown", err)
		return
	}
	ledger, err := g.Store.ScoreLedger(ctx, id)
	if err != nil {
		g.serverError(c, "read score ledger", err)
		return
	}
	if len(ledger) > recentMessages {
		ledger = ledger[len(ledger)-recentMessages:]
	}
	stages, err := g.Store.StageHistory(ctx, id)
	if err != nil {
		g.serverError(c, "read stage history", err)
		return
	}

	mergedFrom, err := g.Store.MergedFrom(ctx, id)
	if err != nil {
		g.serverError(c, "read merged contacts", err)
		return
	}

	wfID := workflows.ContactWorkflowID(id)
	body := gin.H{
		"contact":         contact,
		"merged_from":     mergedFrom,
		"journeys":        nil,
		"lead_score":      contact.LeadScore,
		"score":           gin.H{"value": contact.LeadScore, "breakdown": breakdown, "ledger": ledger},
		"lifecycle_stage": contact.LifecycleStage,
		"stage_history":   stages,
		"messages":        msgs,
		"temporal_url":    g.temporalURL(wfID),
	}
	state, err := g.contactState(ctx, wfID)
	if err != nil {
		// The row is still worth showing when Temporal cannot answer.
		body["journeys_error"] = err.Error()
	} else {
		journeys := state.Running
		if journeys == nil {
			journeys = []workflows.RunningJourney{}
		}
		body["journeys"] = journeys
		body["lead_score"] = state.LeadScore
		if state.Stage != "" {
			body["lifecycle_stage"] = state.Stage
		}
	}
	c.JSON(http.StatusOK, body)
}

func (g *Gateway) contactState(ctx context.Context, wfID string) (*workflows.ContactState, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, err := g.Temporal.QueryWorkflow(ctx, wfID, "", workflows.QueryState)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", wfID, err)
	}
	var st workflows.ContactState
	if err := v.Get(&st); err != nil {
		return nil, fmt.Errorf("decode the state of %s: %w", wfID, err)
	}
	return &st, nil
}

// temporalURL links to the workflow in the Temporal UI, which expects the
// workflow ID escaped as one path segment.
func (g *Gateway) temporalURL(wfID string) string {
	return strings.TrimRight(g.Config.TemporalUIURL, "/") +
		"/namespaces/" + url.PathEscape(g.namespace()) +
		"/workflows/" + url.PathEscape(wfID)
}

func (g *Gateway) namespace() string {
	if g.Config.TemporalNamespace == "" {
		return "default"
	}
	return g.Config.TemporalNamespace
}

// getMessage returns one recorded or sent message.
func (g *Gateway) getMessage(c *gin.Context) {
	if m := g.message(c); m != nil {
		c.JSON(http.StatusOK, m)
	}
}

// getMessageHTML shows a message's HTML body, so recorded email can be read
// in a browser in development. The CSP sandbox keeps the email's markup
// from running script in the gateway's origin.
func (g *Gateway) getMessageHTML(c *gin.Context) {
	m := g.message(c)
	if m == nil {
		return
	}
	if m.HTML == "" {
		fail(c, http.StatusNotFound, fmt.Sprintf("message %d has no HTML body (channel %s)", m.ID, m.Channel))
		return
	}
	c.Header("Content-Security-Policy", "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline' *; font-src * data:")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(m.HTML))
}

func (g *Gateway) message(c *gin.Context) *models.Message {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil {
		fail(c, http.StatusBadRequest, fmt.Sprintf("message id %q is not a number; use the id from the contact's messages", clip(c.Param("id"))))
		return nil
	}
	m, err := g.Store.Message(c.Request.Context(), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		fail(c, http.StatusNotFound, fmt.Sprintf("no message %d", id))
		return nil
	case err != nil:
		g.serverError(c, "read message", err)
		return nil
	}
	return m
}

func (g *Gateway) serverError(c *gin.Context, doing string, err error) {
	g.log().Error("request failed", "doing", doing, "route", c.FullPath(), "error", err)
	fail(c, http.StatusInternalServerError, "could not "+doing+"; the gateway log has the details")
}
