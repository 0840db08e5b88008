package models_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm/logger"

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
		}, models.Lease{})
		if err != nil {
			t.Fatal(err)
		}
		if want := "m1:u1 m2:u1"; strings.Join(names(got), " ") != want {
			t.Errorf("to signal %v, want %s", names(got), want)
		}
		again, err := s.Accept(ctx, []models.Incoming{track("m2", "u1", "", "Signed Up")}, models.Lease{})
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
		stored, err := s.ClaimPending(ctx, models.Claim{Owner: "g1", Now: time.Now(), Until: time.Now().Add(time.Minute), Contacts: 10, PerContact: 10})
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
		got, err := s.Accept(ctx, []models.Incoming{track("a1", "", "anon-7", "Product Viewed"), track("a2", "", "anon-7", "Product Added")}, models.Lease{})
		if err != nil || len(got) != 0 {
			t.Fatalf("anonymous events to signal: %v, %v", names(got), err)
		}
		if n, _ := s.CountEvents(ctx, models.EventHeld); n != 2 {
			t.Errorf("%d held, want 2", n)
		}
		got, err = s.Accept(ctx, []models.Incoming{identify("i1", "u9", "anon-7", map[string]any{"email": "x@example.com"})}, models.Lease{})
		if err != nil {
			t.Fatal(err)
		}
		if want := "a1:u9 a2:u9 i1:u9"; strings.Join(names(got), " ") != want {
			t.Errorf("to signal %v, want %s", names(got), want)
		}
		// Later anonymous events go straight to the contact.
		got, err = s.Accept(ctx, []models.Incoming{track("a3", "", "anon-7", "Cart Viewed")}, models.Lease{})
		if err != nil || strings.Join(names(got), " ") != "a3:u9" {
			t.Errorf("after the link: %v, %v", names(got), err)
		}
		if n, _ := s.CountEvents(ctx, models.EventHeld); n != 0 {
			t.Errorf("%d still held", n)
		}
	})
}

func claim(t *testing.T, s *models.Store, owner string, now time.Time, contacts int) []string {
	t.Helper()
	evs, err := s.ClaimPending(context.Background(), models.Claim{Owner: owner, Now: now, Until: now.Add(time.Minute), Contacts: contacts, PerContact: 100})
	if err != nil {
		t.Fatal(err)
	}
	return names(evs)
}

// A claim takes each contact's run of deliverable events from its oldest
// pending one, and stops a contact's run at an event that is leased or
// waiting for a retry.
func TestClaimPendingKeepsEachContactsOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Now()
		// u1's r1 is leased to a live gateway (g0); u2's events are free.
		if _, err := s.Accept(ctx, []models.Incoming{track("r1", "u1", "", "A")}, models.Lease{Owner: "g0", Until: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Accept(ctx, []models.Incoming{track("r2", "u1", "", "B"), track("r3", "u2", "", "C"), track("r4", "u2", "", "D")},
			models.Lease{Owner: "g0", Until: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].LeaseOwner != "g0" || got[1].LeaseOwner != "g0" {
			t.Errorf("a contact with only the owner's own pending events gets a lease: %+v", got)
		}
		// g1 stores an event of u1: u1 has events leased to g0, so it waits.
		got, _ = s.Accept(ctx, []models.Incoming{track("r5", "u1", "", "E"), track("r6", "u3", "", "F")}, models.Lease{Owner: "g1", Until: now.Add(210 * time.Minute)})
		if got[0].LeaseOwner != "" || got[1].LeaseOwner != "g1" {
			t.Errorf("leases = %q, %q; want r5 left for a claim and r6 leased to g1", got[0].LeaseOwner, got[1].LeaseOwner)
		}
		if c := claim(t, s, "g2", now, 10); len(c) != 0 {
			t.Errorf("claimed %v while every contact's oldest event is leased", c)
		}
		// g0 dies: once its leases run out, a claim takes u1 and u2 in order
		// (u3's r6 is still g1's).
		later := now.Add(2 * time.Hour)
		if want, c := "r1:u1 r2:u1 r5:u1 r3:u2 r4:u2", strings.Join(claim(t, s, "g2", later, 10), " "); c != want {
			t.Errorf("claimed %s, want %s", c, want)
		}
		// A refused event waits for its retry and holds back its contact.
		evs, _ := s.ClaimPending(ctx, models.Claim{Owner: "g3", Now: later.Add(time.Hour), Until: later.Add(90 * time.Minute), Contacts: 10, PerContact: 100})
		var r1, r3 uint64
		for _, ev := range evs {
			switch ev.MessageID {
			case "r1":
				r1 = ev.ID
			case "r3":
				r3 = ev.ID
			}
		}
		retryAt := later.Add(90 * time.Minute)
		if dead, err := s.FailEvent(ctx, "g3", r1, "refused", func(attempts int) time.Time { return retryAt }); err != nil || dead {
			t.Fatalf("FailEvent: dead %v, %v", dead, err)
		}
		if err := s.ReleaseEvents(ctx, "g3", []uint64{r3}, "Temporal unreachable"); err != nil {
			t.Fatal(err)
		}
		if want, c := "r3:u2", strings.Join(claim(t, s, "g4", later.Add(61*time.Minute), 10), " "); c != want {
			t.Errorf("claimed %s, want %s (u1 waits for r1's retry)", c, want)
		}
		var ev, released models.Event
		s.DB().Where("id = ?", r1).Take(&ev)
		if ev.Attempts != 1 || ev.LastError != "refused" || ev.NextAttemptAt == nil || ev.NextAttemptAt.Sub(retryAt).Abs() >= time.Millisecond { // MySQL keeps milliseconds
			t.Errorf("refused event = attempts %d, %q, next %v", ev.Attempts, ev.LastError, ev.NextAttemptAt)
		}
		s.DB().Where("id = ?", r3).Take(&released)
		if released.Attempts != 0 || released.LastError != "Temporal unreachable" {
			t.Errorf("released event = attempts %d, %q", released.Attempts, released.LastError)
		}
		// Past r1's retry time, and every lease run out: all of it, in order.
		if want, c := "r1:u1 r2:u1 r5:u1 r3:u2 r4:u2 r6:u3", strings.Join(claim(t, s, "g5", later.Add(91*time.Minute), 10), " "); c != want {
			t.Errorf("after the retry time, claimed %s, want %s", c, want)
		}
	})
}

// A gateway renews the leases it holds; a claim takes them only once they
// run out, that is once the gateway stops renewing them.
func TestRenewedLeasesAreNotClaimed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Now()
		evs, err := s.Accept(ctx, []models.Incoming{track("l1", "u1", "", "A"), track("l2", "u2", "", "A")}, models.Lease{Owner: "g1", Until: now.Add(30 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		// g1 still holds l1; it delivered l2 but could not mark it.
		if err := s.RenewLeases(ctx, "g1", []uint64{evs[0].ID}, now.Add(90*time.Second)); err != nil {
			t.Fatal(err)
		}
		if c := strings.Join(claim(t, s, "g2", now.Add(time.Minute), 10), " "); c != "l2:u2" {
			t.Errorf("claimed %q; want only the event whose lease was not renewed", c)
		}
		if c := strings.Join(claim(t, s, "g3", now.Add(3*time.Minute), 10), " "); c != "l1:u1 l2:u2" {
			t.Errorf("claimed %q after the renewed lease ran out", c)
		}
	})
}

// After MaxEventAttempts refusals an event is dead: it no longer holds its
// contact back, shows in DeadEvents, and RetryEvent makes it pending again.
func TestDeadLetters(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Now()
		if _, err := s.Accept(ctx, []models.Incoming{track("d1", "u1", "", "A"), track("d2", "u1", "", "B")}, models.Lease{}); err != nil {
			t.Fatal(err)
		}
		var id uint64
		for i := 1; i <= models.MaxEventAttempts; i++ {
			evs, err := s.ClaimPending(ctx, models.Claim{Owner: "g", Now: now, Until: now.Add(time.Minute), Contacts: 1, PerContact: 1})
			if err != nil || len(evs) != 1 || evs[0].MessageID != "d1" {
				t.Fatalf("attempt %d claimed %v, %v", i, names(evs), err)
			}
			id = evs[0].ID
			dead, err := s.FailEvent(ctx, "g", id, fmt.Sprintf("refused %d", i), func(int) time.Time { return now })
			if err != nil || dead != (i == models.MaxEventAttempts) {
				t.Fatalf("attempt %d: dead %v, %v", i, dead, err)
			}
		}
		b, err := s.Backlog(ctx)
		if err != nil || b.Pending != 1 || b.Dead != 1 || b.OldestPending.IsZero() {
			t.Errorf("backlog = %+v, %v", b, err)
		}
		if c := strings.Join(claim(t, s, "g", now, 10), " "); c != "d2:u1" {
			t.Errorf("claimed %s; the dead event no longer holds d2 back", c)
		}
		dead, n, err := s.DeadEvents(ctx, 10, 0)
		if err != nil || n != 1 || len(dead) != 1 || dead[0].MessageID != "d1" || dead[0].Attempts != models.MaxEventAttempts || dead[0].LastError != fmt.Sprintf("refused %d", models.MaxEventAttempts) {
			t.Errorf("dead = %+v, %d, %v", dead, n, err)
		}
		ev, err := s.RetryEvent(ctx, id)
		if err != nil || ev.Status != models.EventPending || ev.Attempts != 0 || ev.NextAttemptAt != nil {
			t.Errorf("retried = %+v, %v", ev, err)
		}
		if _, err := s.RetryEvent(ctx, id); err != models.ErrNotFound {
			t.Errorf("retrying a pending event: %v, want ErrNotFound", err)
		}
	})
}

// Two gateways claiming at once never both get an event, and never split
// one contact's run.
func TestConcurrentClaimsNeverOverlap(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		var calls []models.Incoming
		for i := range 300 {
			calls = append(calls, track(fmt.Sprintf("c%03d", i), fmt.Sprintf("u%d", i%30), "", "A"))
		}
		if _, err := s.Accept(ctx, calls, models.Lease{}); err != nil {
			t.Fatal(err)
		}
		type claimed struct {
			owner string
			evs   []*models.Event
		}
		results := make(chan claimed, 400)
		var wg sync.WaitGroup
		for _, owner := range []string{"a", "b", "c"} {
			wg.Go(func() {
				for range 40 {
					now := time.Now()
					evs, err := s.ClaimPending(ctx, models.Claim{Owner: owner, Now: now, Until: now.Add(time.Hour), Contacts: 2, PerContact: 4})
					if err != nil {
						t.Error(err)
						return
					}
					results <- claimed{owner, evs}
				}
			})
		}
		wg.Wait()
		close(results)
		owners := map[string]string{}
		byContact := map[string][]string{}
		for r := range results {
			for _, ev := range r.evs {
				if prev, ok := owners[ev.MessageID]; ok {
					t.Errorf("%s claimed by %s and %s", ev.MessageID, prev, r.owner)
				}
				owners[ev.MessageID] = r.owner
				byContact[ev.ContactID] = append(byContact[ev.ContactID], ev.MessageID)
			}
		}
		for contact, ids := range byContact {
			// Leases are never given up here, so each contact's claims are
			// one run from its first event: c0xx, c0xx+30, ...
			for i, id := range ids {
				var n int
				fmt.Sscanf(contact, "u%d", &n)
				if want := fmt.Sprintf("c%03d", n+30*i); id != want {
					t.Errorf("%s: claim %d is %s, want %s (all: %v)", contact, i, id, want, ids)
					break
				}
			}
		}
	})
}

// A message's row moves only for the attempt that owns it: the first claim
// writes it; a later attempt takes it over by its state and number, once;
// a stale attempt can neither hand it over nor settle it.
func TestMessagesMoveOnlyForTheirAttempt(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		m := &models.Message{Key: "k1", ContactID: "u1", Channel: "email", Status: models.MessageClaimed, Attempts: 1}
		if prior, err := s.BeginMessage(ctx, m); err != nil || prior != nil {
			t.Fatalf("first claim: %v, %v", prior, err)
		}
		prior, err := s.BeginMessage(ctx, &models.Message{Key: "k1", ContactID: "u1", Channel: "email", Status: models.MessageClaimed, Attempts: 1})
		if err != nil || prior == nil || prior.Status != models.MessageClaimed || prior.Attempts != 1 {
			t.Fatalf("second claim: %+v, %v", prior, err)
		}
		if ok, _ := s.ReclaimMessage(ctx, "k1", models.MessageClaimed, 1, false); !ok {
			t.Fatal("attempt 2 could not take over a claimed message")
		}
		if ok, _ := s.ReclaimMessage(ctx, "k1", models.MessageClaimed, 1, false); ok {
			t.Error("two attempts took over the same message")
		}
		if ok, _ := s.HandOverMessage(ctx, "k1", 1); ok {
			t.Error("the stale attempt 1 handed the message over")
		}
		if ok, _ := s.HandOverMessage(ctx, "k1", 2); !ok {
			t.Error("attempt 2 could not hand the message over")
		}
		s.FinishMessage(ctx, "k1", 1, "sent", "", "", nil) // stale: changes nothing
		var row models.Message
		s.DB().Where("`key` = ?", "k1").Take(&row)
		if row.Status != models.MessageHanded || row.Attempts != 2 {
			t.Errorf("row = %s at attempt %d", row.Status, row.Attempts)
		}
		if ok, _ := s.ReclaimMessage(ctx, "k1", models.MessageHanded, 2, true); !ok {
			t.Fatal("the one repeat could not take the message over")
		}
		now := time.Now()
		if err := s.FinishMessage(ctx, "k1", 3, "sent", "", "SM1", &now); err != nil {
			t.Fatal(err)
		}
		var done models.Message
		s.DB().Where("`key` = ?", "k1").Take(&done)
		if done.Status != "sent" || done.Attempts != 3 || done.Repeats != 1 || done.ProviderID != "SM1" || done.SentAt == nil {
			t.Errorf("row = %+v", done)
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
		"mysql://root@tcp(127.0.0.1:3306)/test": "mysql root@tcp(127.0.0.1:3306)/test?parseTime=true&timeTruncate=1µs&charset=utf8mb4",
		"app:pw@tcp(db:3306)/nudge?timeout=5s":  "mysql app:pw@tcp(db:3306)/nudge?parseTime=true&timeTruncate=1µs&timeout=5s&charset=utf8mb4",
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

// statements records the SQL a store runs.
type statements struct {
	logger.Interface
	mu  sync.Mutex
	sql []string
}

func (s *statements) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	sql, _ := fc()
	s.mu.Lock()
	s.sql = append(s.sql, sql)
	s.mu.Unlock()
}

// TestMigrateAgainChangesNothing: Migrate runs on every start, so on a
// migrated database it must alter nothing. On SQLite a changed column means
// copying its table, which took 75 s with a million events.
func TestMigrateAgainChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		rec := &statements{Interface: logger.Discard}
		db := s.DB()
		quiet := db.Config.Logger
		db.Config.Logger = rec
		defer func() { db.Config.Logger = quiet }()
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, sql := range rec.sql {
			upper := strings.ToUpper(sql)
			if strings.Contains(upper, "ALTER TABLE") || strings.Contains(upper, "__TEMP") || strings.HasPrefix(upper, "CREATE") || strings.HasPrefix(upper, "DROP") {
				t.Errorf("a second Migrate ran %s", sql)
			}
		}
	})
}

// Requests that share a group commit share its duplicate check: the same
// messageId sent by 16 clients at once is stored once and handed to one.
func TestConcurrentResendsStoreOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		got := make([][]*models.Event, 16)
		errs := make([]error, 16)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.Accept(ctx, []models.Incoming{track("same", "u1", "", "Signed Up")}, models.Lease{})
			}()
		}
		wg.Wait()
		handed := 0
		for i := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			handed += len(got[i])
		}
		var n int64
		if err := s.DB().Model(&models.Event{}).Where("message_id = ?", "same").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 1 || handed != 1 {
			t.Fatalf("stored %d, handed %d; want 1 and 1", n, handed)
		}
	})
}
