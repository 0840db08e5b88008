package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
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

// Traits nested 3,000 deep were accepted once; MySQL's JSON columns stop at
// 100 levels, and every walker of the document pays for them.
func TestDeepNestingIsRefusedNamingThePath(t *testing.T) {
	e := newEnv(t)
	deep := strings.Repeat("[", 3000) + strings.Repeat("]", 3000)
	rec := e.post("/v1/identify", `{"userId":"u1","traits":{"x":`+deep+`}}`)
	field := "traits.x" + strings.Repeat("[0]", 30)
	want, _ := json.Marshal(map[string]any{"success": false, "field": field,
		"error": field + ": nests objects and arrays more than 32 levels deep; send flatter data"})
	requireJSON(t, rec, http.StatusBadRequest, string(want))

	// In a batch the path is within the call, with its index.
	rec = e.post("/v1/batch", `{"batch":[{"type":"track","userId":"u1","event":"E","properties":{"p":`+deep+`}}]}`)
	field = "properties.p" + strings.Repeat("[0]", 28)
	want, _ = json.Marshal(map[string]any{"success": false, "field": field, "index": 0,
		"error": "batch[0]." + field + ": nests objects and arrays more than 32 levels deep; send flatter data"})
	requireJSON(t, rec, http.StatusBadRequest, string(want))

	// Brackets inside strings are text, not nesting.
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","event":"E","properties":{"q":"`+strings.Repeat("[{", 100)+`"}}`), http.StatusOK, okBody)
	if evs := e.events(t); len(evs) != 1 {
		t.Fatalf("stored %d events, want only the last", len(evs))
	}
}

func TestTooManyTraitsAreRefused(t *testing.T) {
	e := newEnv(t)
	traits := map[string]any{}
	for i := range workflows.MaxTraits + 1 {
		traits[fmt.Sprintf("t%03d", i)] = i
	}
	body, _ := json.Marshal(map[string]any{"userId": "u1", "traits": traits})
	requireJSON(t, e.post("/v1/identify", string(body)), http.StatusBadRequest,
		`{"success":false,"field":"traits","error":"traits: holds 201 traits (with context.traits); the limit is 200"}`)
	if n := e.countContacts(t); n != 0 {
		t.Fatalf("%d contacts stored from a refused call", n)
	}
}

// A negative total once let anyone subtract revenue from a journey's report.
func TestNegativeAmountsAreRefused(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","event":"Order Completed","properties":{"order_id":"9","total":-50000}}`), http.StatusBadRequest,
		`{"success":false,"field":"properties.total","error":"properties.total: must not be negative, got -50000; send a refund as Order Refunded"}`)
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","event":"Checkout Started","properties":{"checkout_id":"c9","value":"-1.50"}}`), http.StatusBadRequest,
		`{"success":false,"field":"properties.value","error":"properties.value: must not be negative, got -1.5; send a refund as Order Refunded"}`)
	if evs := e.events(t); len(evs) != 0 {
		t.Fatalf("stored %d events from refused calls", len(evs))
	}
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","event":"Order Completed","properties":{"order_id":"9","total":0}}`), http.StatusOK, okBody)
}

// Pre-posting the messageId the open pixel would use once made the real
// open count for nothing. Nudge's own IDs now carry a prefix clients may not
// send, so no client event can take one.
func TestClientsCannotTakeNudgesMessageIDs(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"nudge:open-1", "nudge:click-1-00", "nudge/alice/Became Lead/1"} {
		body := fmt.Sprintf(`{"userId":"mallory","messageId":%q,"event":"Viewed"}`, id)
		want, _ := json.Marshal(map[string]any{"success": false, "field": "messageId",
			"error": fmt.Sprintf("messageId: %q starts with %q, which Nudge keeps for the events it records itself; use another messageId", id, id[:6])})
		requireJSON(t, e.post("/v1/track", body), http.StatusBadRequest, string(want))
	}
	if evs := e.events(t); len(evs) != 0 {
		t.Fatalf("stored %d events", len(evs))
	}
	if got := workflows.OwnID("open", "42"); got != "nudge:open-42" {
		t.Fatalf("OwnID = %q", got)
	}
}

// twilioMessages stands in for Twilio's Message resource
// (GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json), answering
// with the date_created each SID was taken at.
func twilioMessages(t *testing.T, taken map[string]time.Time) *activities.TwilioSender {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		prefix := "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/"
		sid, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, prefix), ".json")
		at, known := taken[sid]
		if r.Method != http.MethodGet || !ok || !known {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":20404,"message":"The requested resource was not found","status":404}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": sid, "status": "received", "direction": "inbound",
			"date_created": at.Format(time.RFC1123Z), "account_sid": "AC0123456789abcdef0123456789abcdef"})
	}))
	t.Cleanup(srv.Close)
	s, err := activities.NewTwilioSender(&config.Twilio{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: twilioToken,
		From: "+15550009999", APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A replayed START once undid a STOP. Each message SID now counts once,
// and a keyword texted before the one in force changes nothing; both are
// answered 200 so Twilio does not retry.
func TestReplayedOrLateSMSKeywordsDoNotUndoAStop(t *testing.T) {
	e := twilioEnv(t)
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	e.gw.SMSTimes = twilioMessages(t, map[string]time.Time{"SM01": t0, "SM02": t0.Add(time.Minute), "SM00": t0.Add(-time.Minute)})

	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM01", danaPhone, "START")), startTwiML)
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM02", danaPhone, "STOP")), emptyTwiML)
	// The attack: the earlier START, signed, sent again.
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM01", danaPhone, "START")), startTwiML)
	// A START texted before the STOP that reaches Nudge after it.
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM00", danaPhone, "START")), startTwiML)

	for _, id := range []string{"dana", "dana-shop"} {
		c := e.contact(t, id)
		if c.SMSConsent || c.SMSOptedOutAt == nil || !c.SMSOptedOutAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("%s: consent %v, opted out at %v; want the STOP of %v in force", id, c.SMSConsent, c.SMSOptedOutAt, t0.Add(time.Minute))
		}
	}
	sup, err := e.store.Suppression(context.Background(), models.ChannelSMS, danaPhone)
	if err != nil || !sup.Suppressed || sup.Source != "SM02" || !sup.ChangedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("number: %+v, %v; want suppressed by SM02", sup, err)
	}
}

const startTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response><Message>` +
	`Acme: you are subscribed to our texts again. Reply STOP to opt out, HELP for help.</Message></Response>`

// Orders once upserted on a global ID: anyone with the write key moved a
// contact's order (total 120) to themselves with a total of 1, then
// refunded it. An order now belongs to its source and its contact.
func TestOrdersBelongToTheirSourceAndContact(t *testing.T) {
	e := newEnv(t)
	e.gw.Config.WriteKeys = append(e.gw.Config.WriteKeys, "wk_other_store")
	order := func(t *testing.T, key string) models.Order {
		t.Helper()
		var o models.Order
		if err := e.store.DB().Where("id = ?", key).Take(&o).Error; err != nil {
			t.Fatalf("order %s: %v", key, err)
		}
		return o
	}
	src := e.gw.caller(writeKey).source
	requireJSON(t, e.post("/v1/track", `{"userId":"victim","messageId":"v1","event":"Order Completed","properties":{"order_id":"1001","total":120}}`), http.StatusOK, okBody)
	key := models.OrderKey(src, "1001")
	if o := order(t, key); o.ContactID != "victim" || o.Total != 120 || o.OrderID != "1001" || o.Source != src {
		t.Fatalf("recorded %+v", o)
	}

	// The attack, with the same public write key: claim it, then refund it.
	requireJSON(t, e.post("/v1/track", `{"userId":"mallory","messageId":"m1","event":"Order Completed","properties":{"order_id":"1001","total":1}}`), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", `{"userId":"mallory","messageId":"m2","event":"Order Refunded","properties":{"order_id":"1001"}}`), http.StatusOK, okBody)
	if o := order(t, key); o.ContactID != "victim" || o.Total != 120 || o.Status != "completed" {
		t.Fatalf("after the attack: %+v", o)
	}
	var n int64
	e.store.DB().Model(&models.Order{}).Count(&n)
	if n != 1 {
		t.Fatalf("%d orders, want the victim's alone", n)
	}

	// Another store (write key) may use the same order number for its own order.
	rec := e.do(http.MethodPost, "/v1/track", `{"userId":"shopper","messageId":"o1","event":"Order Completed","properties":{"order_id":"1001","total":30}}`,
		"Content-Type: application/json", basic("wk_other_store"))
	requireJSON(t, rec, http.StatusOK, okBody)
	if o := order(t, models.OrderKey(e.gw.caller("wk_other_store").source, "1001")); o.ContactID != "shopper" || o.Total != 30 {
		t.Fatalf("the other store's order: %+v", o)
	}
	if o := order(t, key); o.ContactID != "victim" || o.Total != 120 {
		t.Fatalf("the first store's order changed: %+v", o)
	}

	// The victim's own refund, from the same source, applies; an admin's too.
	requireJSON(t, e.post("/v1/track", `{"userId":"victim","messageId":"v2","event":"Order Shipped","properties":{"order_id":"1001"}}`), http.StatusOK, okBody)
	if o := order(t, key); o.Status != "shipped" {
		t.Fatalf("the owner's update: %+v", o)
	}
	rec = e.do(http.MethodPost, "/v1/track", `{"userId":"victim","messageId":"a1","event":"Order Refunded","properties":{"order_id":"1001"}}`,
		"Content-Type: application/json", bearer(adminKey))
	requireJSON(t, rec, http.StatusOK, okBody)
	if o := order(t, key); o.Status != "refunded" {
		t.Fatalf("the admin's refund: %+v", o)
	}
}

// A userId that is an email address or a phone number once became the
// workflow ID contact/jane.doe@example.com and the ContactID search
// attribute, for anyone with the Temporal UI to read. Now the contact gets
// an opaque ID, and the contact API finds it by the address.
func TestAddressesStayOutOfWorkflowIDs(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/identify", `{"userId":"Jane.Doe@Example.com","messageId":"i1","traits":{"email":"Jane.Doe@Example.com"}}`), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", `{"userId":"+1 555 010 0199","messageId":"t1","event":"Signed Up"}`), http.StatusOK, okBody)
	require.Eventually(t, func() bool { return len(e.tc.calls()) == 2 }, 5*time.Second, time.Millisecond)

	var ids []string
	for _, s := range e.tc.signalsSent() {
		require.Regexp(t, `^contact/c_[a-z2-7]{26}$`, s.WorkflowID)
		id := strings.TrimPrefix(s.WorkflowID, "contact/")
		sa, ok := s.Options.TypedSearchAttributes.GetKeyword(workflows.ContactIDKey)
		assert.True(t, ok)
		assert.Equal(t, id, sa, "the ContactID search attribute")
		ids = append(ids, id)
	}
	assert.NotEqual(t, ids[0], ids[1])

	for path, want := range map[string]string{
		"/v1/contacts/jane.doe@example.com":   ids[0],
		"/v1/contacts/JANE.DOE%40EXAMPLE.COM": ids[0],
		"/v1/contacts/%2B15550100199":         ids[1],
		"/v1/contacts/" + ids[0]:              ids[0],
	} {
		e.tc.state = &workflows.ContactState{ContactID: want}
		rec := e.do(http.MethodGet, path, "", bearer(adminKey))
		require.Equal(t, http.StatusOK, rec.Code, path+": "+rec.Body.String())
		var got struct {
			Contact     models.Contact `json:"contact"`
			TemporalURL string         `json:"temporal_url"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		assert.Equal(t, want, got.Contact.ID, path)
		assert.Equal(t, "http://temporal-ui.test/namespaces/default/workflows/contact%2F"+want, got.TemporalURL, path)
	}
	requireJSON(t, e.do(http.MethodGet, "/v1/contacts/nobody@example.com", "", bearer(adminKey)), http.StatusNotFound,
		`{"success":false,"error":"no contact \"nobody@example.com\"; contacts are created by identify or track calls with a userId"}`)
}
