package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
)

// startRelay runs the relay with short timings until the test ends.
func startRelay(t *testing.T, e *env) {
	t.Helper()
	e.gw.RelayInterval = 10 * time.Millisecond
	e.gw.RelayGrace = 20 * time.Millisecond
	e.gw.RelayMaxBackoff = 40 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.gw.RunRelay(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
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

func TestTemporalDownEventStaysPendingThenRelayDelivers(t *testing.T) {
	e := newEnv(t)
	e.tc.setFail(errUnreachable)

	requireJSON(t, e.post("/v1/track", `{"userId":"u1","messageId":"m1","event":"Signed Up"}`), http.StatusOK, okBody)
	ev := e.status(t, "m1")
	assert.Equal(t, models.EventPending, ev.Status)
	assert.Equal(t, 1, ev.Attempts)
	assert.Contains(t, ev.LastError, "temporal is down")
	assert.Nil(t, ev.DeliveredAt)
	assert.Empty(t, e.tc.calls())

	e.tc.setFail(nil)
	startRelay(t, e)
	require.Eventually(t, func() bool { return e.status(t, "m1").Status == models.EventDelivered },
		5*time.Second, 5*time.Millisecond, "the relay delivers the pending event")
	assert.NotNil(t, e.status(t, "m1").DeliveredAt)
	calls := e.tc.calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "contact/u1", calls[0].WorkflowID)
	assert.Equal(t, "m1", calls[0].Event.MessageID)
}

func TestRelayKeepsOrderThroughAnOutage(t *testing.T) {
	e := newEnv(t)
	startRelay(t, e)

	requireJSON(t, e.post("/v1/track", `{"userId":"u1","messageId":"m1","event":"Signed Up"}`), http.StatusOK, okBody)
	require.Eventually(t, func() bool { return e.status(t, "m1").Status == models.EventDelivered },
		5*time.Second, 5*time.Millisecond)

	e.tc.setFail(errUnreachable)
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","messageId":"m2","event":"Setup Started"}`), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","messageId":"m3","event":"Setup Completed"}`), http.StatusOK, okBody)
	assert.Equal(t, models.EventPending, e.status(t, "m2").Status)
	assert.Equal(t, models.EventPending, e.status(t, "m3").Status)
	// The relay keeps trying (and backing off) while Temporal is down.
	require.Eventually(t, func() bool { return e.status(t, "m2").Attempts >= 3 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, e.status(t, "m3").Attempts, "a round stops at the first failure")

	e.tc.setFail(nil)
	require.Eventually(t, func() bool { return e.status(t, "m3").Status == models.EventDelivered },
		5*time.Second, 5*time.Millisecond)
	assert.Equal(t, models.EventDelivered, e.status(t, "m2").Status)
	assert.Equal(t, []string{"m1", "m2", "m3"}, e.signalledIDs())

	// Caught up: new events are signalled by the request again.
	require.Eventually(t, func() bool { return !e.gw.backlog.Load() }, 5*time.Second, 5*time.Millisecond)
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","messageId":"m4","event":"Order Completed"}`), http.StatusOK, okBody)
	assert.Equal(t, []string{"m1", "m2", "m3", "m4"}, e.signalledIDs(), "the request signalled m4 itself")
	// While the relay runs, delivered marks are written in batches.
	require.Eventually(t, func() bool { return e.status(t, "m4").Status == models.EventDelivered },
		time.Second, 5*time.Millisecond)
}

func TestDeliverStopsAtFirstFailure(t *testing.T) {
	e := newEnv(t)
	e.tc.setFail(errUnreachable)
	requireJSON(t, e.post("/v1/batch", `{"batch":[
		{"type":"track","userId":"u1","messageId":"m1","event":"A"},
		{"type":"track","userId":"u2","messageId":"m2","event":"B"}]}`), http.StatusOK, okBody)
	assert.Equal(t, 1, e.status(t, "m1").Attempts)
	assert.Equal(t, 0, e.status(t, "m2").Attempts)

	e.tc.setFail(nil)
	pending, err := e.store.PendingEvents(context.Background(), time.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.NoError(t, e.gw.Deliver(context.Background(), pending))
	assert.Equal(t, []string{"m1", "m2"}, e.signalledIDs())
	n, err := e.store.CountEvents(context.Background(), models.EventPending)
	require.NoError(t, err)
	assert.Zero(t, n)
}
