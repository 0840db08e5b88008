// Package platform wires a configured Nudge together: the database, the
// Temporal client, the worker and the gateway. cmd/nudge runs it; the end to
// end tests and the benchmark start the very same thing.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/gateway"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// Platform is Nudge's shared parts, built from one Config.
type Platform struct {
	Config   *config.Config
	Log      *slog.Logger
	Store    *models.Store
	Temporal client.Client
	Links    *links.Signer
}

// Open connects to the database (running migrations) and creates the
// Temporal client. The client connects lazily: a gateway starts, and keeps
// accepting events, while Temporal is down.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Platform, error) {
	store, err := models.Open(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("NUDGE_DATABASE_URL: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	store.AttributionWindow = cfg.AttributionWindow
	// The SDK's metrics (requests, task latencies, caches) and what workflow
	// code records go to the same /metrics as Nudge's own; the worker
	// inherits the handler from this client.
	sdkMetrics, err := metrics.SDKHandler()
	if err != nil {
		store.Close()
		return nil, err
	}
	c, err := client.NewLazyClient(ClientOptions(cfg, log, sdkMetrics))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("NUDGE_TEMPORAL_ADDRESS: %w", err)
	}
	if cfg.EncryptionKeys != nil {
		log.Info("Temporal payloads are encrypted", "keys", cfg.EncryptionKeys.IDs())
	}
	return &Platform{Config: cfg, Log: log, Store: store, Temporal: c, Links: links.NewSigner(cfg.Secret, cfg.PublicURL)}, nil
}

// ClientOptions are the options of every Temporal client Nudge creates; the
// worker inherits its data converter from the client. With
// NUDGE_ENCRYPTION_KEYS set, payloads are compressed and encrypted before
// they leave the process, so Temporal stores no personal data in the clear.
func ClientOptions(cfg *config.Config, log *slog.Logger, metricsHandler client.MetricsHandler) client.Options {
	opts := client.Options{
		HostPort:       cfg.TemporalAddress,
		Namespace:      cfg.TemporalNamespace,
		Logger:         sdklog.NewStructuredLogger(log.With("component", "temporal")),
		MetricsHandler: metricsHandler,
	}
	if cfg.EncryptionKeys != nil {
		opts.DataConverter = codec.DataConverter(cfg.EncryptionKeys)
	}
	return opts
}

// ServeMetrics serves Prometheus metrics at NUDGE_METRICS_ADDR in the
// background until ctx ends, and returns the address it listens on, or "off".
// Only binding can fail it: a taken port stops start-up, naming the variable.
func (p *Platform) ServeMetrics(ctx context.Context) (string, error) {
	l, err := metrics.Listen(p.Config.MetricsAddr)
	if err != nil || l == nil {
		return "off", err
	}
	log := p.Log.With("component", "metrics")
	go func() {
		if err := metrics.Serve(ctx, l, log); err != nil {
			log.Error("metrics server stopped; /metrics is gone until restart", "error", err)
		}
	}()
	return l.Addr().String(), nil
}

// Close releases the client and the database.
func (p *Platform) Close() {
	p.Temporal.Close()
	p.Store.Close()
}

// WaitForTemporal blocks until the Temporal server answers, logging while it
// does not, or ctx ends.
func (p *Platform) WaitForTemporal(ctx context.Context) error {
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := p.Temporal.CheckHealth(cctx, &client.CheckHealthRequest{})
		cancel()
		if err == nil {
			return nil
		}
		p.Log.Warn("waiting for Temporal", "address", p.Config.TemporalAddress, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// Activities builds the activities from the configuration: SMTP delivery
// when NUDGE_SMTP_URL is set, recording only when it is not.
func (p *Platform) Activities() (*activities.Activities, error) {
	renderer, err := activities.NewRenderer()
	if err != nil {
		return nil, err
	}
	acts := &activities.Activities{
		Store:    p.Store,
		Renderer: renderer,
		Links:    p.Links,
		Brand:    activities.Brand{Name: p.Config.BrandName, Address: p.Config.BrandAddress, SiteURL: p.Config.SiteURL},
		From:     p.Config.From,
		Owner:    p.Config.Owner,
		Caps:     p.Config.Caps,
	}
	if p.Config.SMTP != nil {
		acts.Mailer = activities.NewSMTPMailer(p.Config.SMTP)
	}
	acts.QuietHours, acts.Timezone = p.Config.QuietHours, p.Config.Timezone
	// Parse the SMS templates now, so a broken one stops the worker at start.
	if acts.SMSTemplates, err = activities.NewSMSTemplates(); err != nil {
		return nil, err
	}
	if p.Config.Twilio != nil {
		if acts.SMS, err = activities.NewTwilioSender(p.Config.Twilio); err != nil {
			return nil, fmt.Errorf("NUDGE_TWILIO_*: %w", err)
		}
		acts.StatusCallbackURL = p.Config.PublicURL + "/webhooks/twilio/status"
	}
	acts.SalesChannel = p.Config.SlackSalesChannel
	acts.TemporalUIURL, acts.Namespace = p.Config.TemporalUIURL, p.Config.TemporalNamespace
	for _, r := range p.Config.SalesReps {
		acts.SalesReps = append(acts.SalesReps, models.Rep{Name: r.Name, Email: r.Email, SlackID: r.SlackID})
	}
	if len(acts.SalesReps) == 0 {
		// Someone must own an MQL: without a sales team, the account owner.
		owner := p.Config.Owner
		if owner.Name == "" {
			owner.Name = owner.Address
		}
		acts.SalesReps = []models.Rep{{Name: owner.Name, Email: owner.Address}}
		p.Log.Warn("NUDGE_SALES_REPS is empty: MQLs go to the account owner", "owner", owner.String())
	}
	if p.Config.SlackBotToken != "" {
		client, err := activities.NewSlackClient(p.Config.SlackBotToken, p.Config.SlackAPIURL)
		if err != nil {
			return nil, fmt.Errorf("NUDGE_SLACK_*: %w", err)
		}
		acts.Slack = client // only on success: a nil *SlackClient in the interface would not be nil
	}
	if len(p.Config.Webhooks) > 0 {
		client, err := activities.NewWebhookClient(p.Config.WebhookSecret, 0)
		if err != nil {
			return nil, fmt.Errorf("NUDGE_WEBHOOK_SECRET: %w", err)
		}
		acts.Webhooks, acts.WebhookURLs = client, p.Config.WebhookURLs()
	}
	if p.Config.ShopifyAdminEnabled() {
		client, err := activities.NewShopifyDiscounts(p.Config.ShopifyAdminEndpoint(), p.Config.ShopifyAdminToken, p.Config.DiscountCodeDays)
		if err != nil {
			return nil, fmt.Errorf("NUDGE_SHOPIFY_*: %w", err)
		}
		acts.Discounts = client
	}
	if p.Config.MastodonEnabled() {
		client, err := activities.NewMastodonClient(p.Config.MastodonURL, p.Config.MastodonToken)
		if err != nil {
			return nil, fmt.Errorf("NUDGE_MASTODON_*: %w", err)
		}
		acts.Mastodon = client // only on success, as Slack above
	}
	if acts.Ads, err = adClients(p.Config); err != nil {
		return nil, err
	}
	return acts, nil
}

// StartWorker waits for Temporal, then starts the worker in the background.
func (p *Platform) StartWorker(ctx context.Context) (sdkworker.Worker, error) {
	if err := p.WaitForTemporal(ctx); err != nil {
		return nil, err
	}
	acts, err := p.Activities()
	if err != nil {
		return nil, err
	}
	// One cache per process, set before the first worker starts.
	sdkworker.SetStickyWorkflowCacheSize(p.Config.WorkflowCache)
	router := p.Config.Router()
	p.followPauses(ctx, router)
	w := worker.New(p.Temporal, p.Config.TaskQueue, router, acts)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	created, updated, deleted, err := p.ReconcileReports(ctx)
	if err != nil {
		// The journeys run all the same; the reports wait for the next start.
		p.Log.Warn("could not set up the scheduled reports (NUDGE_REPORTS)", "error", err)
	} else if len(created)+len(updated)+len(deleted) > 0 {
		p.Log.Info("scheduled reports", "created", created, "updated", updated, "deleted", deleted)
	}
	if created, updated, deleted, err := p.ReconcileAds(ctx); err != nil {
		p.Log.Warn("could not set up the ad schedules (NUDGE_ADS_*, NUDGE_AUDIENCES)", "error", err)
	} else if len(created)+len(updated)+len(deleted) > 0 {
		p.Log.Info("ad schedules", "created", created, "updated", updated, "deleted", deleted, "mode", p.Config.AdMode())
	}
	if started, updated, err := p.ReconcileSocial(ctx); err != nil {
		p.Log.Warn("could not set up the social posts (NUDGE_SOCIAL_POSTS)", "error", err)
	} else if len(started)+len(updated) > 0 {
		p.Log.Info("social posts", "started", started, "updated", updated)
	}
	if cancelled, err := p.CancelRemovedSocial(ctx); err != nil {
		p.Log.Warn("could not cancel the social posts removed from NUDGE_SOCIAL_POSTS", "error", err)
	} else if len(cancelled) > 0 {
		p.Log.Info("social posts removed from the file: cancelled", "posts", cancelled)
	}
	if !p.Config.AdsEnabled() {
		p.Log.Info("ads are off: set NUDGE_META_ACCESS_TOKEN and NUDGE_META_AD_ACCOUNTS, or the NUDGE_GOOGLE_* credentials, to pull ad results, run ad rules and sync audiences")
	}
	go p.sweepAbandonedSends(ctx, acts)
	go p.guardListHealth(ctx, acts)
	go func() {
		t := time.NewTicker(pauseRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.followPauses(ctx, router)
			}
		}
	}()
	return w, nil
}

// guardListHealth runs the list-health guard every minute
// (activities.GuardListHealth): an alert to NUDGE_SLACK_MARKETING_CHANNEL,
// a warning in the log and a count in nudge_guard_alerts_total for each
// journey over a limit, and a pause with NUDGE_PAUSE_ON_POOR_HEALTH.
func (p *Platform) guardListHealth(ctx context.Context, acts *activities.Activities) {
	g := activities.Guard{Journeys: p.Config.Journeys, Channel: p.Config.SlackMarketingChannel, Pause: p.Config.PauseOnPoorHealth}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		found, err := acts.GuardListHealth(ctx, g, time.Now())
		if err != nil && ctx.Err() == nil {
			p.Log.Warn("list-health guard", "error", err)
		}
		for _, f := range found {
			if f.Due {
				p.Log.Warn("journey over its list-health limits", "journey", f.Journey, "over", f.Over, "sends", f.Health.Sends, "paused", f.Paused)
				metrics.GuardAlerts.WithLabelValues(f.Journey, strconv.FormatBool(f.Paused)).Inc()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pauseRefresh is how soon a paused journey stops taking new contacts on
// this worker (its runs hold at once: the send activity asks the database).
const pauseRefresh = 5 * time.Second

// followPauses gives routing the journeys paused now.
func (p *Platform) followPauses(ctx context.Context, router *workflows.Router) {
	paused, err := p.Store.PausedJourneys(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.Log.Warn("could not read the paused journeys; routing keeps the last list", "error", err)
		}
		return
	}
	router.SetPaused(paused)
}

// abandonedAfter is when a send nobody settled is taken as abandoned: its
// activity's schedule-to-close timeout (a day) has passed, so no attempt
// will come back to it.
const abandonedAfter = 25 * time.Hour

// sweepAbandonedSends settles, every ten minutes, the sends whose
// activities ended for good without settling them (activities/outbox.go).
func (p *Platform) sweepAbandonedSends(ctx context.Context, acts *activities.Activities) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		failed, unknown, err := acts.SettleAbandoned(ctx, abandonedAfter)
		switch {
		case err != nil && ctx.Err() == nil:
			p.Log.Warn("could not settle abandoned sends", "error", err)
		case failed+unknown > 0:
			p.Log.Warn("settled sends their activities left open", "failed", failed, "unknown", unknown)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Gateway builds the HTTP gateway.
func (p *Platform) Gateway() (*gateway.Gateway, error) {
	gw, err := gateway.New(p.Config, p.Store, p.Temporal, p.Links, p.Log.With("component", "gateway"))
	if err != nil || p.Config.Twilio == nil {
		return gw, err
	}
	if gw.SMSTimes, err = activities.NewTwilioSender(p.Config.Twilio); err != nil {
		return nil, fmt.Errorf("NUDGE_TWILIO_*: %w", err)
	}
	return gw, nil
}

// Serve runs the gateway on l (and its relay) until ctx ends, then shuts
// down gracefully.
func (p *Platform) Serve(ctx context.Context, l net.Listener) error {
	gw, err := p.Gateway()
	if err != nil {
		return err
	}
	gw.RegisterMetrics()
	// Every phase of a request is bounded, so slow or stalled clients cannot
	// hold connections: a 500 KB batch over a slow mobile link still fits.
	srv := &http.Server{
		Handler:           gw.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	// The relay outlives the HTTP server by a little: requests finishing
	// during shutdown still hand it their events, then it gives back what
	// it could not signal, for another gateway to take over.
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRelay()
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		gw.RunRelay(relayCtx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		stopRelay()
		<-relayDone
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	stopRelay()
	<-relayDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
