package gateway

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
)

const readyTimeout = 2 * time.Second

// healthz says the process serves HTTP; it checks nothing else, so an
// orchestrator does not restart gateways while the database is down.
func (g *Gateway) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether the gateway can do its work: the database answers and
// Temporal is reachable. Both are checked at once, each within 2 seconds.
// It also reports delivery: events waiting for Temporal, the oldest one's
// age, and dead letters. A backlog does not make the gateway unready (it
// still stores events, which is what a load balancer needs from it); it is
// for people and alerts to see.
func (g *Gateway) readyz(c *gin.Context) {
	checks := map[string]func(context.Context) error{
		"database": g.Store.Ping,
		"temporal": func(ctx context.Context) error {
			_, err := g.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		results = map[string]string{}
		failed  []string
	)
	for name, check := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
			defer cancel()
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				results[name] = err.Error()
				failed = append(failed, name)
			} else {
				results[name] = "ok"
			}
		})
	}
	var delivery gin.H
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if b, err := g.backlog(ctx); err == nil {
			delivery = gin.H{
				"pending":                    b.Pending,
				"oldest_pending_age_seconds": int64(backlogAge(b).Seconds()),
				"dead":                       b.Dead,
				"temporal_reachable":         !g.relay.down.Load(),
			}
		}
	})
	wg.Wait()
	body := gin.H{"status": "ready", "checks": results}
	if delivery != nil {
		body["delivery"] = delivery
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		body["status"], body["failed"] = "not ready", failed
		c.JSON(http.StatusServiceUnavailable, body)
		return
	}
	c.JSON(http.StatusOK, body)
}
