package models_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/nudgehq/nudge/models"
)

// eachStore runs test on SQLite, and on MySQL too when NUDGE_TEST_MYSQL_DSN
// is set (.ci/run points it at the local MariaDB). Each MySQL run gets a
// database of its own, dropped afterwards.
func eachStore(t *testing.T, test func(t *testing.T, s *models.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, openStore(t, "sqlite://"+filepath.Join(t.TempDir(), "nudge.db")))
	})
	dsn := os.Getenv("NUDGE_TEST_MYSQL_DSN")
	t.Run("mysql", func(t *testing.T) {
		if dsn == "" {
			t.Skip("NUDGE_TEST_MYSQL_DSN is not set")
		}
		admin := openStore(t, dsn)
		name := "nudge_test_" + strings.ToLower(rand.Text()[:10])
		if err := admin.DB().Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4").Error; err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.DB().Exec("DROP DATABASE " + name) })
		cfg, err := mysqldriver.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = name
		test(t, openStore(t, "mysql://"+cfg.FormatDSN()))
	})
}

func openStore(t testing.TB, url string) *models.Store {
	t.Helper()
	s, err := models.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func track(messageID, userID, anonymousID, name string) models.Incoming {
	return models.Incoming{UserID: userID, Event: models.Event{
		MessageID: messageID, AnonymousID: anonymousID, Kind: "track", Name: name,
		Properties: map[string]any{"n": 1.0}, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}}
}

func identify(messageID, userID, anonymousID string, traits map[string]any) models.Incoming {
	return models.Incoming{UserID: userID, ContextTimezone: "Europe/Berlin", Event: models.Event{
		MessageID: messageID, AnonymousID: anonymousID, Kind: "identify", Traits: traits, Timestamp: time.Now().UTC(),
	}}
}

func names(evs []*models.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.MessageID+":"+e.ContactID)
	}
	return out
}

func TestAcceptStoresAndDeduplicates(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		got, err := s.Accept(ctx, []models.Incoming{
			identify("m1", "u1", "", map[string]any{
				"email": "ada@example.com", "first_name": "Ada", "lastName": "Lovelace", "title": "CTO",
				"company":   map[string]any{"name": "Analytical", "industry": "software", "employee_count": 42.0},
				"plan_tier": "gold",
			}),
			track("m2", "u1", "", "Signed Up"),
			track("m2", "u1", "", "Signed Up"), // resent in the same batch
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := "m1:u1 m2:u1"; strings.Join(names(got), " ") != want {
			t.Errorf("to signal %v, want %s", names(got), want)
		}
		again, err := s.Accept(ctx, []models.Incoming{track("m2", "u1", "", "Signed Up")})
		if err != nil || len(again) != 0 {
			t.Errorf("resent event: %v, %v; want nothing to signal", names(again), err)
		}
		var n int64
		s.DB().Model(&models.Event{}).Count(&n)
		if n != 2 {
			t.Errorf("%d event rows, want 2", n)
		}
		c, err := s.Contact(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if c.Email != "ada@example.com" || c.FirstName != "Ada" || c.LastName != "Lovelace" || c.Title != "CTO" ||
			c.Company != "Analytical" || c.Industry != "software" || c.EmployeeCount != 42 ||
			c.Timezone != "Europe/Berlin" || c.Traits["plan_tier"] != "gold" || c.LifecycleStage != "subscriber" {
			t.Errorf("contact = %+v", c)
		}
		stored, err := s.PendingEvents(ctx, time.Now().Add(time.Minute), 10)
		if err != nil || len(stored) != 2 || stored[1].Properties["n"] != 1.0 || !stored[1].Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("pending = %+v, %v", stored, err)
		}
	})
}

// Events with only an anonymousId wait until an identify says who it is;
// then they are delivered to that contact, ahead of the identify.
func TestAcceptHoldsAnonymousEventsUntilIdentified(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		got, err := s.Accept(ctx, []models.Incoming{track("a1", "", "anon-7", "Product Viewed"), track("a2", "", "anon-7", "Product Added")})
		if err != nil || len(got) != 0 {
			t.Fatalf("anonymous events to signal: %v, %v", names(got), err)
		}
		if n, _ := s.CountEvents(ctx, models.EventHeld); n != 2 {
			t.Errorf("%d held, want 2", n)
		}
		got, err = s.Accept(ctx, []models.Incoming{identify("i1", "u9", "anon-7", map[string]any{"email": "x@example.com"})})
		if err != nil {
			t.Fatal(err)
		}
		if want := "a1:u9 a2:u9 i1:u9"; strings.Join(names(got), " ") != want {
			t.Errorf("to signal %v, want %s", names(got), want)
		}
		// Later anonymous events go straight to the contact.
		got, err = s.Accept(ctx, []models.Incoming{track("a3", "", "anon-7", "Cart Viewed")})
		if err != nil || strings.Join(names(got), " ") != "a3:u9" {
			t.Errorf("after the link: %v, %v", names(got), err)
		}
		if n, _ := s.CountEvents(ctx, models.EventHeld); n != 0 {
			t.Errorf("%d still held", n)
		}
	})
}

func TestRelayBookkeeping(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		got, _ := s.Accept(ctx, []models.Incoming{track("r1", "u1", "", "A"), track("r2", "u1", "", "B")})
		if err := s.MarkAttempt(ctx, got[0].ID, context.DeadlineExceeded); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDelivered(ctx, got[1].ID); err != nil {
			t.Fatal(err)
		}
		pending, _ := s.PendingEvents(ctx, time.Now().Add(time.Minute), 10)
		if len(pending) != 1 || pending[0].MessageID != "r1" || pending[0].Attempts != 1 || pending[0].LastError != "context deadline exceeded" {
			t.Errorf("pending = %+v", pending)
		}
		if early, _ := s.PendingEvents(ctx, time.Now().Add(-time.Minute), 10); len(early) != 0 {
			t.Errorf("events younger than the cut-off were returned: %d", len(early))
		}
	})
}

func TestMessagesClaimOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		m := &models.Message{Key: "k1", ContactID: "u1", Channel: "email", Status: models.MessageSending}
		if prior, err := s.BeginMessage(ctx, m); err != nil || prior != nil {
			t.Fatalf("first claim: %v, %v", prior, err)
		}
		prior, err := s.BeginMessage(ctx, &models.Message{Key: "k1", ContactID: "u1", Channel: "email", Status: models.MessageSending})
		if err != nil || prior == nil || prior.Status != models.MessageSending {
			t.Fatalf("second claim: %+v, %v", prior, err)
		}
		if ok, _ := s.RetryMessage(ctx, "k1"); ok {
			t.Error("a message still sending was reclaimed")
		}
		s.FinishMessage(ctx, "k1", models.MessageFailed, "connection refused", nil)
		if ok, _ := s.RetryMessage(ctx, "k1"); !ok {
			t.Error("a failed message could not be retried")
		}
		if ok, _ := s.RetryMessage(ctx, "k1"); ok {
			t.Error("two attempts reclaimed the same message")
		}
	})
}

func TestUnsubscribeAndDiscountCodes(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		s.SaveContact(ctx, &models.Contact{ID: "u1", Email: "a@example.com"})
		if changed, err := s.Unsubscribe(ctx, "u1", time.Now()); !changed || err != nil {
			t.Errorf("first unsubscribe: %v, %v", changed, err)
		}
		if changed, _ := s.Unsubscribe(ctx, "u1", time.Now()); changed {
			t.Error("second unsubscribe reported a change")
		}
		n := 0
		gen := func() string { n++; return "CODE-" + string(rune('A'+n)) }
		a, err := s.DiscountCodeFor(ctx, "u1", "welcome", 10, gen)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.DiscountCodeFor(ctx, "u1", "welcome", 10, gen)
		c, _ := s.DiscountCodeFor(ctx, "u2", "welcome", 10, func() string { return a.Code }) // collides once
		if a.Code != b.Code || n != 1 {
			t.Errorf("codes %q %q after %d generations", a.Code, b.Code, n)
		}
		if c != nil {
			t.Errorf("a colliding code was issued twice: %+v", c)
		}
	})
}

func TestParseURL(t *testing.T) {
	for url, want := range map[string]string{
		"sqlite://.data/nudge.db":               "sqlite .data/nudge.db",
		"sqlite:/tmp/x.db":                      "sqlite /tmp/x.db",
		"mysql://root@tcp(127.0.0.1:3306)/test": "mysql root@tcp(127.0.0.1:3306)/test?parseTime=true&charset=utf8mb4",
		"app:pw@tcp(db:3306)/nudge?timeout=5s":  "mysql app:pw@tcp(db:3306)/nudge?parseTime=true&timeout=5s&charset=utf8mb4",
		"postgres://localhost/x":                `error "postgres://localhost/x" is not a database URL: use sqlite://path/to/file.db or mysql://user:pass@tcp(host:3306)/db`,
		"mysql://root@tcp(127.0.0.1:3306)/":     `error MySQL DSN "root@tcp(127.0.0.1:3306)/" names no database`,
		"sqlite://":                             `error "sqlite://" names no SQLite file`,
	} {
		dialect, dsn, err := models.ParseURL(url)
		got := dialect + " " + dsn
		if err != nil {
			got = "error " + err.Error()
		}
		if got != want {
			t.Errorf("ParseURL(%q) = %s, want %s", url, got, want)
		}
	}
}
