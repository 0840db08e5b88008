package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
)

// Dead letters: events Temporal refused models.MaxEventAttempts times. An
// operator reads why (last_error), fixes the cause, and sends them again.
//
//	GET  /v1/events/dead?limit=&offset=   the dead events, oldest first
//	POST /v1/events/:id/retry             make one pending again

// Paging for GET /v1/events/dead.
const (
	DefaultDeadLimit = 50
	MaxDeadLimit     = 500
)

func (g *Gateway) eventRoutes(admin *gin.RouterGroup) {
	admin.GET("/events/dead", g.listDead)
	admin.POST("/events/:id/retry", g.retryEvent)
}

func (g *Gateway) listDead(c *gin.Context) {
	limit, ok := boundedQueryInt(c, "limit", DefaultDeadLimit, 1, MaxDeadLimit)
	if !ok {
		return
	}
	offset, ok := boundedQueryInt(c, "offset", 0, 0, -1)
	if !ok {
		return
	}
	evs, total, err := g.Store.DeadEvents(c.Request.Context(), limit, offset)
	if err != nil {
		g.serverError(c, "read dead events", err)
		return
	}
	if evs == nil {
		evs = []models.Event{}
	}
	c.JSON(http.StatusOK, gin.H{"events": evs, "total": total, "limit": limit, "offset": offset})
}

func (g *Gateway) retryEvent(c *gin.Context) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		fail(c, http.StatusBadRequest, fmt.Sprintf("event id %q is not a number; use the id from GET /v1/events/dead", clip(c.Param("id"))))
		return
	}
	ev, err := g.Store.RetryEvent(c.Request.Context(), id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		fail(c, http.StatusNotFound, fmt.Sprintf("no dead event %d; only dead events can be retried (GET /v1/events/dead lists them)", id))
		return
	case err != nil:
		g.serverError(c, "retry the event", err)
		return
	}
	g.relay.wake()
	c.JSON(http.StatusOK, gin.H{"event": ev})
}
