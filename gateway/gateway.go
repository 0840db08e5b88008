// Package gateway is Nudge's HTTP front door: Segment-compatible event
// ingestion, the read API for ops, health checks and unsubscribe pages. It
// stores every accepted event before signalling the contact's workflow, so an
// event a client was told was accepted survives a Temporal outage.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/templates"
)

// Temporal is the part of client.Client the gateway uses, so tests can fake
// it and a real client satisfies it as is.
type Temporal interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	QueryWorkflow(ctx context.Context, workflowID string, runID string, queryType string, args ...any) (converter.EncodedValue, error)
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	SignalWorkflow(ctx context.Context, workflowID string, runID string, signalName string, arg any) error
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

var _ Temporal = client.Client(nil)

// Gateway serves the HTTP API. Build it with New.
type Gateway struct {
	Config   *config.Config
	Store    *models.Store
	Temporal Temporal
	Links    *links.Signer
	Log      *slog.Logger
	// SMSTimes says when Twilio took an inbound message, to apply STOP and
	// START in the order they were texted; nil when Twilio is not set up.
	SMSTimes SMSTimes

	// RelayInterval is how often the relay looks for pending events it
	// did not store itself.
	RelayInterval time.Duration
	// RelayMaxBackoff caps the wait between probes while Temporal is down.
	RelayMaxBackoff time.Duration
	// RelayBatch is how many contacts one claim of pending events takes.
	RelayBatch int
	// RelayWorkers is how many contacts are signalled at once.
	RelayWorkers int
	// RetryBackoff is how long an event Temporal refused waits before its
	// next try, after its nth refusal; nil means models.RetryBackoff.
	RetryBackoff func(attempt int) time.Duration
	// SignalTimeout bounds one SignalWithStartWorkflow call, so a relay
	// worker does not hang while Temporal is unreachable.
	SignalTimeout time.Duration

	pages *template.Template

	relay    *relay
	backlogs backlogCache
}

// SMSTimes looks up when Twilio took a message (activities.TwilioSender).
type SMSTimes interface {
	MessageTime(ctx context.Context, sid string) (time.Time, error)
}

// New builds a Gateway and parses its pages.
func New(cfg *config.Config, store *models.Store, tc Temporal, signer *links.Signer, log *slog.Logger) (*Gateway, error) {
	if cfg == nil || store == nil || tc == nil || signer == nil {
		return nil, errors.New("gateway: config, store, Temporal client and link signer are all required")
	}
	if log == nil {
		log = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	g := &Gateway{Config: cfg, Store: store, Temporal: tc, Links: signer, Log: log, pages: pages}
	g.relay = newRelay(g)
	return g, nil
}

func parsePages() (*template.Template, error) {
	t, err := template.New("pages").Funcs(pageFuncs).ParseFS(templates.FS, "pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("gateway: parse pages: %w", err)
	}
	return t, nil
}

func (g *Gateway) log() *slog.Logger {
	if g.Log == nil {
		return slog.Default()
	}
	return g.Log
}

// Handler returns the HTTP handler with every route.
func (g *Gateway) Handler() http.Handler {
	if g.pages == nil {
		// A Gateway built without New: the pages are embedded, so failing
		// to parse them is a build mistake the tests catch.
		pages, err := parsePages()
		if err != nil {
			panic(err)
		}
		g.pages = pages
	}
	if g.relay == nil {
		g.relay = newRelay(g)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Match on the escaped path, so a contact ID with a "/" can be asked
	// for as %2F.
	r.UseRawPath = true
	r.UnescapePathValues = true
	// The client address is only logged; do not let X-Forwarded-For forge it.
	_ = r.SetTrustedProxies(nil)
	r.Use(g.requestLog, g.countEvents, gin.CustomRecoveryWithWriter(nil, g.recovered))
	r.NoRoute(func(c *gin.Context) {
		fail(c, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})

	r.GET("/healthz", g.healthz)
	r.GET("/readyz", g.readyz)

	g.segmentRoutes(r)

	admin := r.Group("/v1", g.requireAdmin)
	admin.GET("/contacts/:id", g.getContact)
	admin.GET("/messages/:id", g.getMessage)
	admin.GET("/messages/:id/html", g.getMessageHTML)
	admin.GET("/reports/revenue", g.getRevenue)
	g.resultRoutes(admin)
	g.journeyRoutes(admin)
	g.adRoutes(admin)
	g.socialRoutes(admin)
	g.taskRoutes(admin)
	g.eventRoutes(admin)
	g.segmentationRoutes(admin)
	g.experimentRoutes(admin, r)
	g.inboxRoutes(admin, r)
	g.codecRoutes(r)
	g.dashboardRoutes(r)

	r.GET("/unsubscribe/:token", g.unsubscribePage)
	r.POST("/unsubscribe/:token", g.unsubscribe)
	r.GET("/preferences/:token", g.preferencesPage)
	r.POST("/preferences/:token", g.savePreferences)
	r.POST("/webhooks/shopify", g.shopifyWebhook)
	g.twilioRoutes(r)
	g.slackRoutes(r)
	g.trackingRoutes(r)
	return r
}

// requestLog logs each request at debug level. It logs the route pattern,
// not the path, so unsubscribe tokens stay out of logs.
func (g *Gateway) requestLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	if !g.log().Enabled(c.Request.Context(), slog.LevelDebug) {
		return // the attributes below cost more than the check
	}
	route := c.FullPath()
	if route == "" {
		route = c.Request.URL.Path
	}
	g.log().LogAttrs(c.Request.Context(), slog.LevelDebug, "http request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
		slog.String("client", c.ClientIP()))
}

func (g *Gateway) recovered(c *gin.Context, err any) {
	g.log().Error("handler panicked", "route", c.FullPath(), "panic", err)
	fail(c, http.StatusInternalServerError, "internal error; the gateway log has the details")
}

// apiError is an error response: what was wrong, and with which field.
type apiError struct {
	Status int    `json:"-"`
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Index  *int   `json:"index,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

type errorBody struct {
	Success bool `json:"success"`
	apiError
}

func (e *apiError) send(c *gin.Context) {
	c.AbortWithStatusJSON(e.Status, errorBody{apiError: *e})
}

func fail(c *gin.Context, status int, msg string) {
	(&apiError{Status: status, Error: msg}).send(c)
}
