package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/gateway"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The results' speed: every metrics route and dashboard page, timed on
// generated data (contacts, messages and events over 90 days), on SQLite
// and, with NUDGE_BENCH_MYSQL_DSN, on MySQL. The target is p95 under 250 ms.

type resultSizes struct {
	contacts, messages, events int
	db                         string // a database to keep, instead of throwaway ones
}

const (
	benchAdminKey = "ak_bench_results"
	benchSample   = "bench-000042" // a generated contact, looked up on the contacts page
)

func resultsRun(ctx context.Context, sz resultSizes, tc gateway.Temporal) error {
	dir, err := os.MkdirTemp("", "nudge-bench-results-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stores := []struct{ name, url string }{{"SQLite", "sqlite://" + filepath.Join(dir, "nudge.db")}}
	if sz.db != "" {
		stores = []struct{ name, url string }{{strings.SplitN(sz.db, ":", 2)[0], sz.db}}
	} else if dsn := os.Getenv("NUDGE_BENCH_MYSQL_DSN"); dsn != "" {
		// A database of its own, dropped afterwards.
		admin, err := models.Open("mysql://" + dsn)
		if err != nil {
			return err
		}
		defer admin.Close()
		name := fmt.Sprintf("nudge_bench_%d", time.Now().UnixNano())
		if err := admin.DB().Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4").Error; err != nil {
			return err
		}
		defer admin.DB().Exec("DROP DATABASE " + name)
		cfg, err := mysqldriver.ParseDSN(dsn)
		if err != nil {
			return err
		}
		cfg.DBName = name
		stores = append(stores, struct{ name, url string }{"MySQL", "mysql://" + cfg.FormatDSN()})
	}
	fmt.Printf("\nResults: %d contacts, %d messages, %d events over 90 days; each route and page 20 times, the last 30 days, each after two opens:\n",
		sz.contacts, sz.messages, sz.events)
	for _, st := range stores {
		if err := resultsOn(ctx, st.name, st.url, sz, tc); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

func resultsOn(ctx context.Context, name, dbURL string, sz resultSizes, tc gateway.Temporal) error {
	s, err := models.Open(dbURL)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	start := time.Now()
	var have int64
	if err := s.DB().WithContext(ctx).Model(&models.Contact{}).Count(&have).Error; err != nil {
		return err
	}
	if have == 0 {
		if err := generateResults(ctx, s, sz); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		fmt.Printf("  %s: data generated in %s\n", name, time.Since(start).Round(time.Second))
	}
	// The first read after an upgrade rolls up every day of messages, once:
	// timed here, apart from the reads.
	start = time.Now()
	if _, err := s.Overview(ctx, models.Period{From: time.Now().Add(-24 * time.Hour), To: time.Now()}); err != nil {
		return err
	}
	fmt.Printf("  %s: first roll-up of 90 days of messages in %s\n", name, time.Since(start).Round(time.Millisecond))

	cfg := &config.Config{AdminKeys: []string{benchAdminKey}, WriteKeys: []string{"wk_bench"}, PublicURL: "http://bench.test",
		TemporalUIURL: "http://ui.test", TemporalNamespace: "default", BrandName: "Bench"}
	gw, err := gateway.New(cfg, s, tc, links.NewSigner("bench-secret-0123456789", cfg.PublicURL), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	cookie, err := dashboardCookie(srv.URL)
	if err != nil {
		return err
	}
	// A live store: before every request a contact opens an email sent
	// today and one opens yesterday's, so each read re-rolls two days.
	var unopened []uint64
	if err := s.DB().WithContext(ctx).Model(&models.Message{}).Where("at >= ? AND opened_at IS NULL AND status = ?", time.Now().Add(-48*time.Hour), workflows.StatusSent).
		Order("at DESC").Pluck("id", &unopened).Error; err != nil {
		return err
	}
	live := func() error {
		if len(unopened) < 2 {
			return fmt.Errorf("the data has run out of unopened emails from the last two days")
		}
		today, yesterday := unopened[0], unopened[len(unopened)-1]
		unopened = unopened[1 : len(unopened)-1]
		if err := s.MarkMessage(ctx, today, models.Opened, time.Now()); err != nil {
			return err
		}
		return s.MarkMessage(ctx, yesterday, models.Opened, time.Now())
	}
	fmt.Printf("  %-46s %8s %8s  %s\n", name, "p50", "p95", "target p95 < 250 ms")
	for _, r := range []struct{ path, auth string }{
		{"/v1/metrics/journeys", "bearer"},
		{"/v1/metrics/journeys/welcome_ecommerce", "bearer"},
		{"/v1/metrics/pipeline", "bearer"},
		{"/v1/metrics/list-health", "bearer"},
		{"/v1/metrics/overview", "bearer"},
		{"/dashboard", "cookie"},
		{"/dashboard/journeys", "cookie"},
		{"/dashboard/journeys/welcome_ecommerce", "cookie"},
		{"/dashboard/pipeline", "cookie"},
		{"/dashboard/list-health", "cookie"},
		{"/dashboard/contacts?q=" + url.QueryEscape(benchSample), "cookie"},
	} {
		var took []time.Duration
		for range 20 {
			if err := live(); err != nil {
				return err
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+r.path, nil)
			if r.auth == "bearer" {
				req.Header.Set("Authorization", "Bearer "+benchAdminKey)
			} else {
				req.Header.Set("Cookie", cookie)
			}
			t0 := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: status %d", r.path, res.StatusCode)
			}
			took = append(took, time.Since(t0))
		}
		slices.Sort(took)
		p50, p95 := took[len(took)/2], took[len(took)*95/100-1]
		verdict := "ok"
		if p95 >= 250*time.Millisecond {
			verdict = "OVER"
		}
		fmt.Printf("  %-46s %8s %8s  %s\n", r.path, ms(p50), ms(p95), verdict)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// dashboardCookie signs in to the dashboard and returns its cookie.
func dashboardCookie(base string) (string, error) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(base+"/dashboard/login", url.Values{"key": {benchAdminKey}})
	if err != nil {
		return "", err
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		return ck.Name + "=" + ck.Value, nil
	}
	return "", fmt.Errorf("dashboard sign-in gave no cookie (status %d)", res.StatusCode)
}

// generateResults fills the store: contacts across the stages with their
// stage moves and journey runs, messages with opens, clicks, bounces and
// unsubscribes, events of engagement, and attributed orders, all in the
// last 90 days. benchSample is one of the contacts.
func generateResults(ctx context.Context, s *models.Store, sz resultSizes) error {
	db := s.DB().WithContext(ctx)
	rnd := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	ago := func() time.Time { return now.Add(-time.Duration(rnd.Int64N(int64(90 * 24 * time.Hour)))) }
	// An hour after a send, but never later than now: a row changed in the
	// future would look changed to every read's roll-up refresh.
	later := func(at time.Time) time.Time {
		if t := at.Add(time.Hour); t.Before(now) {
			return t
		}
		return now
	}
	stages := []string{"subscriber", "subscriber", "subscriber", "lead", "lead", "mql", "sql", "trial", "customer", "churned"}
	journeys := workflows.JourneyNames()
	const batch = 1000

	contacts := make([]models.Contact, 0, batch)
	changes := make([]models.StageChange, 0, 2*batch)
	runs := make([]models.JourneyRun, 0, batch)
	flush := func() error {
		if err := db.CreateInBatches(contacts, batch).Error; err != nil {
			return err
		}
		if err := db.CreateInBatches(changes, batch).Error; err != nil {
			return err
		}
		err := db.CreateInBatches(runs, batch).Error
		contacts, changes, runs = contacts[:0], changes[:0], runs[:0]
		return err
	}
	for i := range sz.contacts {
		id := fmt.Sprintf("bench-%06d", i)
		created := ago()
		stage := stages[rnd.IntN(len(stages))]
		contacts = append(contacts, models.Contact{ID: id, Email: id + "@example.com", LifecycleStage: stage, CreatedAt: created, Traits: map[string]any{}})
		changes = append(changes, models.StageChange{ContactID: id, ToStage: "subscriber", At: created, Reason: models.StageReasonCreated})
		if stage != "subscriber" {
			changes = append(changes, models.StageChange{ContactID: id, FromStage: "subscriber", ToStage: stage,
				At: created.Add(time.Duration(rnd.Int64N(int64(now.Sub(created)) + 1))), Reason: "bench", EnteredAt: &created})
		}
		run := models.JourneyRun{RunID: fmt.Sprintf("run-%06d", i), WorkflowID: "journey/x/" + id, Journey: journeys[rnd.IntN(len(journeys))],
			ContactID: id, StartedAt: created}
		if rnd.IntN(3) > 0 {
			end := created.Add(time.Duration(rnd.IntN(14*24)) * time.Hour)
			run.EndedAt, run.Outcome = &end, []string{workflows.OutcomeCompleted, workflows.OutcomeConverted, workflows.OutcomeExited}[rnd.IntN(3)]
		}
		runs = append(runs, run)
		if len(contacts) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}

	msgs := make([]models.Message, 0, batch)
	for i := range sz.messages {
		c := rnd.IntN(sz.contacts)
		at := ago()
		m := models.Message{Key: fmt.Sprintf("bench-msg-%07d", i), ContactID: fmt.Sprintf("bench-%06d", c), Journey: journeys[rnd.IntN(len(journeys))],
			Step: []string{"welcome", "reminder", "follow_up"}[rnd.IntN(3)], Channel: models.ChannelEmail, Marketing: true, At: at,
			Template: "bench", Status: workflows.StatusSent, RunID: fmt.Sprintf("run-%06d", c), UpdatedAt: later(at)}
		switch r := rnd.IntN(100); {
		case r < 2:
			m.DeliveryStatus = "bounced"
		case r < 40:
			o := later(at)
			m.OpenedAt = &o
			if r < 10 {
				m.ClickedAt = &o
			}
		case r < 41:
			u := later(at)
			m.UnsubscribedAt = &u
		case r < 46:
			m.Status, m.Reason = workflows.StatusSkipped, "frequency cap: 3 marketing emails already in the last 24h"
		}
		msgs = append(msgs, m)
		if len(msgs) == batch {
			if err := db.CreateInBatches(msgs, batch).Error; err != nil {
				return err
			}
			msgs = msgs[:0]
		}
	}
	if err := db.CreateInBatches(msgs, batch).Error; err != nil {
		return err
	}

	evs := make([]models.Event, 0, batch)
	names := []string{workflows.EventEmailOpened, workflows.EventEmailClicked, workflows.EventSignedUp, workflows.EventFeatureUsed, ""}
	for i := range sz.events {
		at := ago()
		name := names[rnd.IntN(len(names))]
		kind := workflows.KindTrack
		if name == "" {
			kind = workflows.KindPage
		}
		evs = append(evs, models.Event{MessageID: fmt.Sprintf("bench-ev-%08d", i), ContactID: fmt.Sprintf("bench-%06d", rnd.IntN(sz.contacts)),
			Kind: kind, Name: name, Timestamp: at, ReceivedAt: at, Status: models.EventDelivered})
		if len(evs) == batch {
			if err := db.CreateInBatches(evs, batch).Error; err != nil {
				return err
			}
			evs = evs[:0]
		}
	}
	if err := db.CreateInBatches(evs, batch).Error; err != nil {
		return err
	}

	orders := make([]models.Order, 0, sz.contacts/10)
	for i := range sz.contacts / 10 {
		mid := uint64(rnd.IntN(sz.messages) + 1)
		id := fmt.Sprintf("bench-order-%06d", i)
		orders = append(orders, models.Order{ID: id, OrderID: id, ContactID: fmt.Sprintf("bench-%06d", rnd.IntN(sz.contacts)), Total: float64(rnd.IntN(200) + 10),
			Status: "completed", Journey: journeys[rnd.IntN(len(journeys))], MessageID: &mid, Attributed: models.AttributedClick, OrderedAt: ago()})
	}
	if err := db.CreateInBatches(orders, batch).Error; err != nil {
		return err
	}
	return nil
}
