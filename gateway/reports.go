package gateway

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
)

// getRevenue answers what the journeys earned: attributed orders and revenue
// per journey, and the abandoned-cart recovery rate, since ?since= (RFC 3339
// or a duration back from now, like 720h; default 30 days).
func (g *Gateway) getRevenue(c *gin.Context) {
	since := time.Now().Add(-30 * 24 * time.Hour)
	if s := c.Query("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d, derr := time.ParseDuration(s)
			if derr != nil || d <= 0 {
				fail(c, http.StatusBadRequest, fmt.Sprintf("since: %q is neither an RFC 3339 time nor a duration like 720h", clip(s)))
				return
			}
			t = time.Now().Add(-d)
		}
		since = t
	}
	ctx := c.Request.Context()
	journeys, err := g.Store.RevenueByJourney(ctx, since)
	if err != nil {
		g.serverError(c, "read revenue", err)
		return
	}
	carts, err := g.Store.CartRecoveryRate(ctx, since)
	if err != nil {
		g.serverError(c, "read cart recovery", err)
		return
	}
	if journeys == nil {
		journeys = []models.JourneyRevenue{}
	}
	c.JSON(http.StatusOK, gin.H{"since": since.UTC().Format(time.RFC3339), "journeys": journeys, "cart_recovery": carts})
}
