package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// startRelay runs the claim loop with short timings until the test ends.
func startRelay(t *testing.T, gw *Gateway) {
	t.Helper()
	gw.RelayInterval = 10 * time.Millisecond
	gw.RelayMaxBackoff = 40 * time.Millisecond
	gw.RetryBackoff = func(int) time.Duration { return 20 * time.Millisecond }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		gw.RunRelay(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("RunRelay did not return after its context was cancelled")
		}
	})
}

func (e *env) status(t *testing.T, messageID string) models.Event {
	t.Helper()
	var ev models.Event
	require.NoError(t, e.store.DB().Where("message_id = ?", messageID).Take(&ev).Error)
	return ev
}

func (e *env) signalledIDs() []string {
	var ids []string
	for _, c := range e.tc.calls() {
		ids = append(ids, c.Event.MessageID)
	}
	return ids
}

func (e *env) waitDelivered(t *testing.T, messageIDs ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, id := range messageIDs {
			if e.status(t, id).Status != models.EventDelivered {
				return false
			}
		}
		return true
	}, 5*time.Second, 2*time.Millisecond, "%v delivered", messageIDs)
}

func track(userID, messageID, event string) string {
	return fmt.Sprintf(`{"userId":%q,"messageId":%q,"event":%q}`, userID, messageID, event)
}

// refused is how Temporal answers a signal it will never take.
var refused = serviceerror.NewInvalidArgument("Blob data size exceeds limit.")

func TestTemporalDownEventStaysPendingThenRelayDelivers(t *testing.T) {
	e := newEnv(t)
	e.tc.setFail(errUnreachable)

	requireJSON(t, e.post("/v1/track", track("u1", "m1", "Signed Up")), http.StatusOK, okBody)
	ev := e.status(t, "m1")
	assert.Equal(t, models.EventPending, ev.Status)
	assert.Zero(t, ev.Attempts, "Temporal being down is not the event's fault")
	assert.Empty(t, ev.LeaseOwner, "given back for any relay to claim")
	assert.Contains(t, ev.LastError, "temporal is down")
	assert.Empty(t, e.tc.calls())

	// While Temporal is down, new events are stored without a lease.
	requireJSON(t, e.post("/v1/track", track("u2", "m2", "Signed Up")), http.StatusOK, okBody)
	assert.Empty(t, e.status(t, "m2").LeaseOwner)

	e.tc.setFail(nil)
	startRelay(t, e.gw)
	e.waitDelivered(t, "m1", "m2")
	assert.ElementsMatch(t, []string{"m1", "m2"}, e.signalledIDs())
	assert.Equal(t, "contact/u1", e.tc.calls()[slices.Index(e.signalledIDs(), "m1")].WorkflowID)
}

func TestRelayKeepsEachContactsOrderThroughAnOutage(t *testing.T) {
	e := newEnv(t)
	startRelay(t, e.gw)

	requireJSON(t, e.post("/v1/track", track("u1", "m1", "Signed Up")), http.StatusOK, okBody)
	e.waitDelivered(t, "m1")

	e.tc.setFail(errUnreachable)
	requireJSON(t, e.post("/v1/track", track("u1", "m2", "Setup Started")), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", track("u1", "m3", "Setup Completed")), http.StatusOK, okBody)
	assert.Equal(t, models.EventPending, e.status(t, "m2").Status)
	assert.Equal(t, models.EventPending, e.status(t, "m3").Status)
	// The relay probes, backing off, while Temporal is down.
	require.Eventually(t, func() bool { return e.tc.attemptsFor("contact/u1") >= 4 }, 5*time.Second, 2*time.Millisecond)

	e.tc.setFail(nil)
	// An event posted as Temporal comes back still goes after the backlog.
	requireJSON(t, e.post("/v1/track", track("u1", "m4", "Order Completed")), http.StatusOK, okBody)
	e.waitDelivered(t, "m2", "m3", "m4")
	assert.Equal(t, []string{"m1", "m2", "m3", "m4"}, e.signalledIDs())
	assert.Zero(t, e.status(t, "m2").Attempts)
}

// One contact's event that Temporal refuses holds back that contact's later
// events only; it is retried with backoff, then dead-lettered, and an
// operator can send it again.
func TestPoisonEventDelaysOnlyItsOwnContactThenIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	startRelay(t, e.gw)
	e.tc.setRefuse("contact/bad", refused)

	requireJSON(t, e.post("/v1/track", track("bad", "b1", "Signed Up")), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", track("bad", "b2", "Product Viewed")), http.StatusOK, okBody)
	for i := range 20 {
		requireJSON(t, e.post("/v1/track", track(fmt.Sprintf("ok%d", i), fmt.Sprintf("o%d", i), "Signed Up")), http.StatusOK, okBody)
		assert.Contains(t, e.signalledIDs(), fmt.Sprintf("o%d", i),
			"another contact's event is signalled within its own request, however the bad one fares")
	}
	b1 := e.status(t, "b1")
	assert.Equal(t, models.EventPending, e.status(t, "b2").Status, "b2 waits behind b1")

	require.Eventually(t, func() bool { return e.status(t, "b1").Status == models.EventDead }, 10*time.Second, 2*time.Millisecond)
	b1 = e.status(t, "b1")
	assert.Equal(t, models.MaxEventAttempts, b1.Attempts)
	assert.Equal(t, "signal to contact/bad refused: Blob data size exceeds limit.", b1.LastError)
	assert.Nil(t, b1.NextAttemptAt)
	// b2 is refused too, on its own account, once b1 no longer holds it back.
	require.Eventually(t, func() bool { return e.status(t, "b2").Status == models.EventDead }, 10*time.Second, 2*time.Millisecond)
	assert.Equal(t, models.MaxEventAttempts, e.status(t, "b2").Attempts)
	assert.Equal(t, 2*models.MaxEventAttempts, e.tc.attemptsFor("contact/bad"), "an event refused before is retried alone, not folded")

	rec := e.do(http.MethodGet, "/v1/events/dead", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var dead struct {
		Events []models.Event `json:"events"`
		Total  int            `json:"total"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &dead))
	require.Equal(t, 2, dead.Total)
	assert.Equal(t, "b1", dead.Events[0].MessageID)
	assert.Equal(t, "bad", dead.Events[0].ContactID)
	assert.Equal(t, b1.LastError, dead.Events[0].LastError)
	assert.Equal(t, "b2", dead.Events[1].MessageID)

	// The cause fixed, an operator sends them again, in order.
	e.tc.setRefuse("contact/bad", nil)
	for _, ev := range dead.Events {
		rec := e.do(http.MethodPost, fmt.Sprintf("/v1/events/%d/retry", ev.ID), "", bearer(adminKey))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	e.waitDelivered(t, "b1", "b2")
	ids := e.signalledIDs()
	assert.Less(t, slices.Index(ids, "b1"), slices.Index(ids, "b2"))
	assert.Equal(t, 1, countOf(ids, "b1"))

	requireJSON(t, e.do(http.MethodPost, fmt.Sprintf("/v1/events/%d/retry", b1.ID), "", bearer(adminKey)), http.StatusNotFound,
		fmt.Sprintf(`{"success":false,"error":"no dead event %d; only dead events can be retried (GET /v1/events/dead lists them)"}`, b1.ID))
	requireJSON(t, e.do(http.MethodPost, "/v1/events/abc/retry", "", bearer(adminKey)), http.StatusBadRequest,
		`{"success":false,"error":"event id \"abc\" is not a number; use the id from GET /v1/events/dead"}`)
	requireJSON(t, e.do(http.MethodGet, "/v1/events/dead", "", bearer(writeKey)), http.StatusForbidden,
		`{"success":false,"error":"write keys can only send events; use an admin key (NUDGE_ADMIN_KEYS) to read contacts and messages"}`)
}

func countOf(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// A batch is answered once stored; the relay then signals each contact's
// events in one signal, in order.
func TestBatchIsAnsweredAtOnceAndFoldedPerContact(t *testing.T) {
	e := newEnv(t)
	body := `{"batch":[`
	for i := range 20 {
		if i > 0 {
			body += ","
		}
		body += fmt.Sprintf(`{"type":"track","userId":"c%d","messageId":"m%02d","event":"Product Viewed"}`, i%5, i)
	}
	body += `]}`
	requireJSON(t, e.post("/v1/batch", body), http.StatusOK, okBody)

	require.Eventually(t, func() bool { return len(e.tc.calls()) == 20 }, 5*time.Second, time.Millisecond)
	sent := e.tc.signalsSent()
	require.Len(t, sent, 5, "one signal per contact")
	for _, s := range sent {
		assert.Equal(t, workflows.SignalEvents, s.Signal)
		require.Len(t, s.Events, 4)
		c := s.WorkflowID[len("contact/c"):]
		for k, ev := range s.Events {
			assert.Equal(t, fmt.Sprintf("m%02d", (k*5)+int(c[0]-'0')), ev.MessageID, "in the order stored")
		}
	}
	require.Eventually(t, func() bool {
		n, _ := e.store.CountEvents(context.Background(), models.EventDelivered)
		return n == 20
	}, 5*time.Second, time.Millisecond)
}

// A fold Temporal refuses as a whole (too large together) is sent again one
// event at a time, and only the event at fault waits.
func TestRefusedFoldIsRetriedOneByOne(t *testing.T) {
	e := newEnv(t)
	e.gw.RetryBackoff = func(int) time.Duration { return time.Hour }
	e.tc.refuseFold = func(evs []workflows.Event) bool {
		return len(evs) > 1 || evs[0].MessageID == "m2"
	}
	requireJSON(t, e.post("/v1/batch", `{"batch":[
		{"type":"track","userId":"u1","messageId":"m1","event":"A"},
		{"type":"track","userId":"u1","messageId":"m2","event":"B"},
		{"type":"track","userId":"u1","messageId":"m3","event":"C"}]}`), http.StatusOK, okBody)
	require.Eventually(t, func() bool { return e.status(t, "m2").Attempts == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"m1"}, e.signalledIDs())
	assert.Equal(t, models.EventDelivered, e.status(t, "m1").Status)
	m2 := e.status(t, "m2")
	assert.Equal(t, models.EventPending, m2.Status)
	require.NotNil(t, m2.NextAttemptAt)
	assert.WithinDuration(t, time.Now().Add(time.Hour), *m2.NextAttemptAt, time.Minute)
	m3 := e.status(t, "m3")
	assert.Equal(t, models.EventPending, m3.Status)
	assert.Empty(t, m3.LeaseOwner, "given back, to wait behind m2")
	assert.Zero(t, m3.Attempts)
}

// Two gateways on one database share the pending events through leases in
// the database: every event is signalled once, each contact's in order,
// and a dead gateway's leased events are taken over when the lease ends.
func TestTwoGatewaysShareTheBacklog(t *testing.T) {
	dir := t.TempDir()
	tc := &fakeTemporal{}
	open := func() *Gateway {
		store, err := models.Open("sqlite://" + dir + "/t.db")
		require.NoError(t, err)
		t.Cleanup(func() { _ = store.Close() })
		require.NoError(t, store.Migrate(context.Background()))
		cfg := newEnv(t).gw.Config
		gw, err := New(cfg, store, tc, links.NewSigner("test-secret-0123456789", cfg.PublicURL), slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		return gw
	}
	a, b := open(), open()
	ctx := context.Background()

	// A gateway that died holding leases: they ran out a minute ago.
	expired := models.Lease{Owner: "dead-gateway", Until: time.Now().Add(-time.Minute)}
	var calls []models.Incoming
	for i := range 200 {
		calls = append(calls, models.Incoming{UserID: fmt.Sprintf("u%d", i%20), Event: models.Event{
			MessageID: fmt.Sprintf("m%03d", i), Kind: workflows.KindTrack, Name: "Product Viewed", Timestamp: time.Now()}})
	}
	_, err := a.Store.Accept(ctx, calls[:100], expired)
	require.NoError(t, err)
	// And events stored with no lease at all (Temporal was down).
	_, err = a.Store.Accept(ctx, calls[100:], models.Lease{})
	require.NoError(t, err)

	a.RelayBatch, b.RelayBatch = 3, 3 // small claims, so the two interleave
	startRelay(t, a)
	startRelay(t, b)
	require.Eventually(t, func() bool {
		n, _ := a.Store.CountEvents(ctx, models.EventDelivered)
		return n == 200
	}, 20*time.Second, 5*time.Millisecond)

	seen := map[string]int{}
	last := map[string]string{}
	for _, c := range tc.calls() {
		seen[c.Event.MessageID]++
		assert.Greater(t, c.Event.MessageID, last[c.WorkflowID], "%s out of order", c.WorkflowID)
		last[c.WorkflowID] = c.Event.MessageID
	}
	assert.Len(t, seen, 200)
	for id, n := range seen {
		assert.Equal(t, 1, n, "%s signalled %d times", id, n)
	}
}

// A request's event for a contact whose earlier event waits for a retry is
// left to the relay, behind it.
func TestNewEventWaitsBehindItsContactsPendingEvent(t *testing.T) {
	e := newEnv(t)
	e.gw.RetryBackoff = func(int) time.Duration { return 50 * time.Millisecond }
	var once sync.Once
	e.tc.refuseFold = func(evs []workflows.Event) bool {
		refuse := false
		if evs[0].MessageID == "m1" {
			once.Do(func() { refuse = true }) // refused the first time only
		}
		return refuse
	}
	requireJSON(t, e.post("/v1/track", track("u1", "m1", "A")), http.StatusOK, okBody)
	assert.Equal(t, 1, e.status(t, "m1").Attempts)
	requireJSON(t, e.post("/v1/track", track("u1", "m2", "B")), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", track("u2", "x1", "A")), http.StatusOK, okBody)
	assert.Equal(t, []string{"x1"}, e.signalledIDs(), "u2 does not wait; u1's m2 does")
	assert.Empty(t, e.status(t, "m2").LeaseOwner)

	startRelay(t, e.gw)
	e.waitDelivered(t, "m1", "m2")
	assert.Equal(t, []string{"x1", "m1", "m2"}, e.signalledIDs())
}
