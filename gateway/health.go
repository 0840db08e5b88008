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
	wg.Wait()
	if len(failed) > 0 {
		slices.Sort(failed)
		c.JSON(http.StatusServiceUnavailable, gin.H{
			"status": "not ready",
			"failed": failed,
			"checks": results,
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": results})
}
