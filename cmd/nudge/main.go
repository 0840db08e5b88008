// Command nudge is Nudge's one binary.
//
//	nudge dev        worker and gateway in one process, with development keys
//	nudge worker     the Temporal worker: contact workflows, journeys, activities
//	nudge gateway    the HTTP gateway: event ingestion, contact API, unsubscribe
//	nudge migrate    create or update the database schema, then exit
//	nudge simulate   run a made-up contact through its journeys, on a test clock
//	nudge contact    find a contact by ID, email address or phone number
//	nudge check      replay the runs open on Temporal against this build
//
// Configuration is NUDGE_* environment variables (see README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/metrics"
	"github.com/nudgehq/nudge/platform"
	"github.com/nudgehq/nudge/workflows"
)

const usage = `usage: nudge <command>

commands:
  dev        run the worker and the gateway in one process (development)
  worker     run the Temporal worker
  gateway    run the HTTP gateway
  migrate    create or update the database schema
  simulate   run a made-up contact through its journeys on a test clock; see nudge simulate -h
  contact    find a contact by its ID, email address or phone number
  check      replay the runs open on Temporal against this build; exit 1 if any would break
  report     send a performance report now: nudge report --period 7d --to you@example.com

Settings are NUDGE_* environment variables; see README.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "dev":
		err = withPlatform(ctx, devSetup, runDev)
	case "worker":
		err = withPlatform(ctx, (*config.Config).RequireEncryption, runWorker)
	case "gateway":
		err = withPlatform(ctx, func(c *config.Config) error {
			return errors.Join(c.RequireServing(), c.RequireEncryption())
		}, runGateway)
	case "migrate":
		err = withPlatform(ctx, nil, func(context.Context, *platform.Platform) error { return nil })
	case "simulate":
		err = runSimulate(ctx, args, os.Stdout)
	case "contact":
		err = withPlatform(ctx, nil, func(ctx context.Context, p *platform.Platform) error {
			return runContact(ctx, p, args, os.Stdout)
		})
	case "check":
		err = runCheck(ctx, args, os.Stdout)
	case "report":
		err = withPlatform(ctx, nil, func(ctx context.Context, p *platform.Platform) error {
			return runReport(ctx, p, args, os.Stdout)
		})
	case "search-attributes":
		// For scripts that start a Temporal server: what to register.
		fmt.Println(strings.Join(workflows.SearchAttributes(), "\n"))
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "nudge: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "nudge:", err)
		os.Exit(1)
	}
}

// withPlatform loads the configuration, lets prepare check or complete it,
// opens the platform (migrating the database) and runs fn.
func withPlatform(ctx context.Context, prepare func(*config.Config) error, fn func(context.Context, *platform.Platform) error) error {
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if prepare != nil {
		if err := prepare(cfg); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.Level}))
	slog.SetDefault(log)
	p, err := platform.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	return fn(ctx, p)
}

func runWorker(ctx context.Context, p *platform.Platform) error {
	// Metrics first, so the SDK's failed requests show while Temporal is down.
	metricsAddr, err := p.ServeMetrics(ctx)
	if err != nil {
		return err
	}
	w, err := p.StartWorker(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	p.Log.Info("worker running", "task_queue", p.Config.TaskQueue, "journeys", p.Config.Journeys, "email", emailMode(p.Config), "sms", smsMode(p.Config), "slack", slackMode(p.Config), "metrics", metricsURL(metricsAddr))
	<-ctx.Done()
	return nil
}

func runGateway(ctx context.Context, p *platform.Platform) error {
	l, err := net.Listen("tcp", p.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("NUDGE_HTTP_ADDR: %w", err)
	}
	metricsAddr, err := p.ServeMetrics(ctx)
	if err != nil {
		l.Close()
		return err
	}
	p.Log.Info("gateway listening", "addr", l.Addr().String(), "public_url", p.Config.PublicURL, "metrics", metricsURL(metricsAddr))
	return p.Serve(ctx, l)
}

// metricsURL is where Prometheus scrapes, given what ServeMetrics returned.
func metricsURL(addr string) string {
	if addr == "off" {
		return "off (NUDGE_METRICS_ADDR=off)"
	}
	return "http://" + addr + metrics.Path
}

func slackMode(cfg *config.Config) string {
	if cfg.SlackBotToken == "" {
		return "recorded, not delivered (set NUDGE_SLACK_BOT_TOKEN to deliver)"
	}
	return "bot token set; sales channel " + cfg.SlackSalesChannel
}

func adsMode(cfg *config.Config) string {
	var on []string
	if cfg.MetaEnabled() {
		on = append(on, fmt.Sprintf("Meta (%d ad accounts)", len(cfg.MetaAdAccounts)))
	}
	if cfg.GoogleAdsEnabled() {
		on = append(on, "Google Ads "+cfg.GoogleAdsCustomerID)
	}
	if len(on) == 0 {
		return "off (set NUDGE_META_ACCESS_TOKEN and NUDGE_META_AD_ACCOUNTS, or the NUDGE_GOOGLE_ADS_* and NUDGE_GOOGLE_OAUTH_* credentials; see the README's Advertising section)"
	}
	return strings.Join(on, ", ") + "; rules " + cfg.AdMode() + ", " + fmt.Sprint(len(cfg.AllAudiences())) + " audiences synced"
}

func smsMode(cfg *config.Config) string {
	if cfg.Twilio == nil {
		return "recorded, not delivered (set NUDGE_TWILIO_ACCOUNT_SID, _AUTH_TOKEN and _FROM to deliver)"
	}
	if cfg.Twilio.From != "" {
		return "Twilio, from " + cfg.Twilio.From
	}
	return "Twilio, messaging service " + cfg.Twilio.MessagingServiceSID
}

func emailMode(cfg *config.Config) string {
	if cfg.SMTP == nil {
		return "recorded, not delivered (set NUDGE_SMTP_URL to deliver)"
	}
	return fmt.Sprintf("SMTP %s:%d", cfg.SMTP.Host, cfg.SMTP.Port)
}
