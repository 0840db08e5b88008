package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/nudgehq/nudge/workflows"
)

// The public write key may not send what only Nudge records: 17 forged
// clicks once made a contact an MQL. Each reserved event is refused with a
// 403 that names it, and nothing is stored.
func TestWriteKeyCannotSendReservedEvents(t *testing.T) {
	e := newEnv(t)
	for i, name := range workflows.ReservedEvents() {
		body := fmt.Sprintf(`{"userId":"mallory","messageId":"r%d","event":%q,"properties":{"journey":"abandoned_cart"}}`, i, name)
		want, _ := json.Marshal(map[string]any{
			"success": false, "field": "event",
			"error": fmt.Sprintf("event: %q is reserved: only Nudge records it (from its tracking links, unsubscribe and preference pages, "+
				"provider webhooks and sales routes); a write key may not send it, an admin key may", name),
		})
		requireJSON(t, e.post("/v1/track", body), http.StatusForbidden, string(want))
	}
	// In a batch, one reserved call refuses the whole batch.
	rec := e.post("/v1/batch", `{"batch":[
		{"type":"track","userId":"mallory","messageId":"b1","event":"Order Completed","properties":{"order_id":"7","total":1}},
		{"type":"track","userId":"mallory","messageId":"b2","event":"Lead Accepted"}]}`)
	requireJSON(t, rec, http.StatusForbidden, `{"success":false,"field":"event","index":1,
		"error":"batch[1].event: \"Lead Accepted\" is reserved: only Nudge records it (from its tracking links, unsubscribe and preference pages, provider webhooks and sales routes); a write key may not send it, an admin key may"}`)
	// analytics.js puts the key in the body: the same rule.
	rec = e.do(http.MethodPost, "/v1/t", `{"writeKey":"`+writeKey+`","type":"track","userId":"mallory","event":"Email Link Clicked"}`, "Content-Type: text/plain")
	if rec.Code != http.StatusForbidden {
		t.Fatalf("body key: status %d, want 403: %s", rec.Code, rec.Body)
	}
	if evs := e.events(t); len(evs) != 0 {
		t.Fatalf("stored %d events from refused calls: %+v", len(evs), evs)
	}

	// Names are matched exactly, as journeys match them: a look-alike is an
	// ordinary event that nothing acts on.
	requireJSON(t, e.post("/v1/track", `{"userId":"mallory","event":"email link clicked"}`), http.StatusOK, okBody)
	// A page or an identify is never reserved.
	requireJSON(t, e.post("/v1/page", `{"userId":"mallory","name":"Email Link Clicked"}`), http.StatusOK, okBody)
}

// An admin key may record them, for imports and repairs.
func TestAdminKeyMaySendReservedEvents(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodPost, "/v1/track", `{"userId":"u1","messageId":"imp-1","event":"Email Opened","properties":{"message_id":3}}`,
		"Content-Type: application/json", bearer(adminKey))
	requireJSON(t, rec, http.StatusOK, okBody)
	evs := e.events(t)
	if len(evs) != 1 || evs[0].Name != workflows.EventEmailOpened {
		t.Fatalf("stored %+v, want the one Email Opened", evs)
	}
}
