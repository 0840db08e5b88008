package gateway

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const okBody = `{"success":true}`

func TestIdentifyAndTrackAreStoredAndSignalledInOrder(t *testing.T) {
	e := newEnv(t)

	rec := e.post("/v1/identify", `{
		"userId": "u1", "messageId": "m-identify",
		"traits": {"email": " ana@example.com ", "firstName": "Ana", "last_name": "Lopez", "title": "CTO",
			"company": {"name": "Initech", "industry": "Software", "employee_count": 42}, "plan": "pro"},
		"context": {"timezone": "Europe/Madrid", "ip": "203.0.113.9"},
		"timestamp": "2024-05-01T12:00:00Z"
	}`)
	requireJSON(t, rec, http.StatusOK, okBody)
	rec = e.do(http.MethodPost, "/v1/track",
		`{"userId": "u1", "messageId": "m-track", "event": "Signed Up", "properties": {"plan": "pro", "seats": 3}}`,
		"Content-Type: application/json", bearer(writeKey))
	requireJSON(t, rec, http.StatusOK, okBody)

	evs := e.events(t)
	require.Len(t, evs, 2)
	assert.Equal(t, "m-identify", evs[0].MessageID)
	assert.Equal(t, workflows.KindIdentify, evs[0].Kind)
	assert.Equal(t, "u1", evs[0].ContactID)
	assert.Equal(t, models.EventDelivered, evs[0].Status)
	assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), evs[0].Timestamp.UTC())
	assert.Equal(t, "203.0.113.9", evs[0].Context["ip"])
	assert.Equal(t, "m-track", evs[1].MessageID)
	assert.Equal(t, workflows.KindTrack, evs[1].Kind)
	assert.Equal(t, "Signed Up", evs[1].Name)
	assert.Equal(t, map[string]any{"plan": "pro", "seats": float64(3)}, evs[1].Properties)
	assert.Equal(t, models.EventDelivered, evs[1].Status)
	assert.NotNil(t, evs[1].DeliveredAt)

	c := e.contact(t, "u1")
	assert.Equal(t, "ana@example.com", c.Email)
	assert.Equal(t, "Ana", c.FirstName)
	assert.Equal(t, "Lopez", c.LastName)
	assert.Equal(t, "CTO", c.Title)
	assert.Equal(t, "Initech", c.Company)
	assert.Equal(t, "Software", c.Industry)
	assert.Equal(t, 42, c.EmployeeCount)
	assert.Equal(t, "Europe/Madrid", c.Timezone)
	assert.Equal(t, "pro", c.Traits["plan"])
	assert.Equal(t, models.StageSubscriber, c.LifecycleStage)

	calls := e.tc.calls()
	require.Len(t, calls, 2)
	for i, want := range []struct{ id, kind, name string }{{"m-identify", "identify", ""}, {"m-track", "track", "Signed Up"}} {
		call := calls[i]
		assert.Equal(t, "contact/u1", call.WorkflowID)
		assert.Equal(t, workflows.SignalEvent, call.Signal)
		assert.Equal(t, want.id, call.Event.MessageID)
		assert.Equal(t, want.kind, call.Event.Kind)
		assert.Equal(t, want.name, call.Event.Name)
		assert.Equal(t, "contact/u1", call.Options.ID)
		assert.Equal(t, "nudge-test", call.Options.TaskQueue)
		got, ok := call.Options.TypedSearchAttributes.GetKeyword(workflows.ContactIDKey)
		assert.True(t, ok)
		assert.Equal(t, "u1", got)
		assert.Equal(t, workflows.ContactWorkflowName, call.Workflow)
		stage, _ := call.Options.TypedSearchAttributes.GetKeyword(workflows.LifecycleStageKey)
		score, _ := call.Options.TypedSearchAttributes.GetInt64(workflows.LeadScoreKey)
		assert.Equal(t, "subscriber", stage, "the run starts with its search attributes")
		assert.Zero(t, score)
		assert.Equal(t, []any{workflows.ContactState{ContactID: "u1", Stage: "subscriber", Version: workflows.CurrentVersion}}, call.Args)
	}
	assert.Equal(t, "Initech", calls[0].Event.Traits["company"].(map[string]any)["name"])
	assert.Equal(t, float64(3), calls[1].Event.Properties["seats"])
	assert.Equal(t, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), calls[0].Event.Timestamp)
}

func TestPageScreenAndBatch(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/page", `{"userId":"u1","messageId":"p1","name":"Pricing","properties":{"path":"/pricing"}}`), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/screen", `{"userId":"u1","messageId":"s1","name":"Home"}`), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/batch", `{"batch":[
		{"type":"identify","userId":"u2","messageId":"b1","traits":{"email":"bo@example.com"}},
		{"type":"track","userId":"u2","messageId":"b2","event":"Order Completed","properties":{"total":30}},
		{"type":"group","userId":"u2","messageId":"b4","groupId":"g1","traits":{"name":"Initech"}},
		{"type":"screen","userId":"u2","messageId":"b3","name":"Cart"}
	]}`), http.StatusOK, okBody)

	var got []string
	for _, ev := range e.events(t) {
		got = append(got, ev.MessageID+" "+ev.Kind+" "+ev.Name+" "+ev.ContactID)
	}
	assert.Equal(t, []string{
		"p1 page Pricing u1", "s1 page Home u1",
		"b1 identify  u2", "b2 track Order Completed u2", "b4 identify  u2", "b3 page Cart u2",
	}, got)
	// Single calls are signalled before they are answered; a batch just after.
	want := []string{"contact/u1 p1", "contact/u1 s1", "contact/u2 b1", "contact/u2 b2", "contact/u2 b4", "contact/u2 b3"}
	var signalled []string
	require.Eventually(t, func() bool {
		signalled = signalled[:0]
		for _, c := range e.tc.calls() {
			signalled = append(signalled, c.WorkflowID+" "+c.Event.MessageID)
		}
		return len(signalled) == len(want)
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, want, signalled)
	assert.Equal(t, "bo@example.com", e.contact(t, "u2").Email)
}

func TestMissingMessageIDAndTimestampAreFilledIn(t *testing.T) {
	e := newEnv(t)
	before := time.Now().UTC()
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","event":"Signed Up"}`), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", `{"userId":"u1","event":"Signed Up"}`), http.StatusOK, okBody)
	evs := e.events(t)
	require.Len(t, evs, 2, "without a messageId each call is its own event")
	assert.Len(t, evs[0].MessageID, 36)
	assert.NotEqual(t, evs[0].MessageID, evs[1].MessageID)
	assert.False(t, evs[0].Timestamp.Before(before.Truncate(time.Microsecond)), "timestamp defaults to now")
	assert.WithinDuration(t, time.Now(), evs[0].Timestamp, 5*time.Second)
}

func TestClockSkewIsCorrected(t *testing.T) {
	e := newEnv(t)
	// The device's clock is an hour behind: it stamped the event 10s
	// before it sent it, by its own clock.
	sentAt := time.Now().UTC().Add(-time.Hour)
	ts := sentAt.Add(-10 * time.Second)
	body := fmt.Sprintf(`{"userId":"u1","messageId":"m1","event":"Signed Up","timestamp":%q,"sentAt":%q}`,
		ts.Format(time.RFC3339Nano), sentAt.Format(time.RFC3339Nano))
	requireJSON(t, e.post("/v1/track", body), http.StatusOK, okBody)
	// Batch-level sentAt applies to calls without their own.
	body = fmt.Sprintf(`{"sentAt":%q,"batch":[{"type":"track","userId":"u1","messageId":"m2","event":"Signed Up","timestamp":%q}]}`,
		sentAt.Format(time.RFC3339Nano), ts.Format(time.RFC3339Nano))
	requireJSON(t, e.post("/v1/batch", body), http.StatusOK, okBody)

	for _, ev := range e.events(t) {
		assert.WithinDuration(t, time.Now().Add(-10*time.Second), ev.Timestamp, 2*time.Second, ev.MessageID)
	}
}

func TestResentMessageIDIsAcknowledgedOnce(t *testing.T) {
	e := newEnv(t)
	body := `{"userId":"u1","messageId":"same","event":"Signed Up"}`
	requireJSON(t, e.post("/v1/track", body), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", body), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/batch", `{"batch":[{"type":"track","userId":"u1","messageId":"same","event":"Signed Up"}]}`), http.StatusOK, okBody)
	assert.Len(t, e.events(t), 1)
	assert.Len(t, e.tc.calls(), 1)
}

func TestAnonymousEventsAreHeldUntilIdentify(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/track", `{"anonymousId":"anon-1","messageId":"a1","event":"Product Viewed"}`), http.StatusOK, okBody)
	evs := e.events(t)
	require.Len(t, evs, 1)
	assert.Equal(t, models.EventHeld, evs[0].Status)
	assert.Equal(t, "", evs[0].ContactID)
	assert.Empty(t, e.tc.calls())
	assert.Zero(t, e.countContacts(t))

	requireJSON(t, e.post("/v1/identify", `{"userId":"u1","anonymousId":"anon-1","messageId":"i1","traits":{"email":"ana@example.com"}}`), http.StatusOK, okBody)
	calls := e.tc.calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "a1", calls[0].Event.MessageID, "the held event goes first")
	assert.Equal(t, "Product Viewed", calls[0].Event.Name)
	assert.Equal(t, "i1", calls[1].Event.MessageID)
	for _, c := range calls {
		assert.Equal(t, "contact/u1", c.WorkflowID)
	}
	for _, ev := range e.events(t) {
		assert.Equal(t, "u1", ev.ContactID, ev.MessageID)
		assert.Equal(t, models.EventDelivered, ev.Status, ev.MessageID)
	}

	// Once linked, an anonymous call goes straight to the contact.
	requireJSON(t, e.post("/v1/page", `{"anonymousId":"anon-1","messageId":"a2","name":"Pricing"}`), http.StatusOK, okBody)
	calls = e.tc.calls()
	require.Len(t, calls, 3)
	assert.Equal(t, "contact/u1", calls[2].WorkflowID)
}

// badCase is a request that must be refused with exactly this response,
// leaving nothing stored or signalled.
type badCase struct {
	name, path, body string
	status           int
	want             string
}

func TestBadInputIsRefusedWithAClearMessage(t *testing.T) {
	long := strings.Repeat("x", 192)
	cases := []badCase{
		{"malformed JSON", "/v1/track", `{"userId": "u1", "event": }`, 400,
			`{"success":false,"error":"the body is not valid JSON: invalid character '}' looking for beginning of value (at byte 27)"}`},
		{"truncated JSON", "/v1/track", `{"userId": "u1"`, 400,
			`{"success":false,"error":"the body is not valid JSON: unexpected end of JSON input (at byte 15)"}`},
		{"empty body", "/v1/track", ``, 400,
			`{"success":false,"error":"the body is empty; send a JSON object"}`},
		{"body not an object", "/v1/track", `[{"userId":"u1"}]`, 400,
			`{"success":false,"error":"the body must be a JSON object, got an array"}`},
		{"track without event", "/v1/track", `{"userId":"u1","properties":{}}`, 400,
			`{"success":false,"error":"event: required for a track call","field":"event"}`},
		{"track with blank event", "/v1/track", `{"userId":"u1","event":"  "}`, 400,
			`{"success":false,"error":"event: required for a track call","field":"event"}`},
		{"event not a string", "/v1/track", `{"userId":"u1","event":42}`, 400,
			`{"success":false,"error":"event: must be a string, got a number","field":"event"}`},
		{"no userId or anonymousId", "/v1/identify", `{"traits":{"email":"a@example.com"}}`, 400,
			`{"success":false,"error":"userId: missing; every call needs a userId or an anonymousId","field":"userId"}`},
		{"null ids", "/v1/track", `{"userId":null,"anonymousId":null,"event":"Signed Up"}`, 400,
			`{"success":false,"error":"userId: missing; every call needs a userId or an anonymousId","field":"userId"}`},
		{"userId not a string", "/v1/identify", `{"userId":12345}`, 400,
			`{"success":false,"error":"userId: must be a string, got a number","field":"userId"}`},
		{"anonymousId not a string", "/v1/page", `{"anonymousId":true}`, 400,
			`{"success":false,"error":"anonymousId: must be a string, got a boolean","field":"anonymousId"}`},
		{"messageId not a string", "/v1/track", `{"userId":"u1","event":"X","messageId":{"id":1}}`, 400,
			`{"success":false,"error":"messageId: must be a string, got an object","field":"messageId"}`},
		{"userId too long", "/v1/identify", `{"userId":"` + long + `"}`, 400,
			`{"success":false,"error":"userId: is 192 characters long; the limit is 191","field":"userId"}`},
		{"userId with NUL", "/v1/identify", "{\"userId\":\"bob\\u0000\"}", 400,
			`{"success":false,"error":"userId: contains a control character (U+0000) at character 4; IDs take printable text only","field":"userId"}`},
		{"userId with a newline", "/v1/track", `{"userId":"a\nb","event":"X"}`, 400,
			`{"success":false,"error":"userId: contains a control character (U+000A) at character 2; IDs take printable text only","field":"userId"}`},
		{"blank userId", "/v1/track", `{"userId":"   ","event":"X"}`, 400,
			`{"success":false,"error":"userId: is blank; send a non-empty ID or leave the field out","field":"userId"}`},
		{"userId too long once encoded", "/v1/identify", `{"userId":"` + strings.Repeat("ü", 100) + `"}`, 400,
			`{"success":false,"error":"userId: takes 600 bytes in a workflow ID, over the limit of 400; non-ASCII characters take 6 to 12 bytes each there, so use a shorter ID","field":"userId"}`},
		{"anonymousId with a control character", "/v1/page", "{\"anonymousId\":\"a\\u001bb\"}", 400,
			`{"success":false,"error":"anonymousId: contains a control character (U+001B) at character 2; IDs take printable text only","field":"anonymousId"}`},
		{"messageId with a control character", "/v1/track", "{\"userId\":\"u1\",\"event\":\"X\",\"messageId\":\"m\\u007f\"}", 400,
			`{"success":false,"error":"messageId: contains a control character (U+007F) at character 2; IDs take printable text only","field":"messageId"}`},
		{"checkout_id with a control character", "/v1/track", "{\"userId\":\"u1\",\"event\":\"Checkout Started\",\"properties\":{\"checkout_id\":\"c\\u0000\"}}", 400,
			`{"success":false,"error":"properties.checkout_id: contains a control character (U+0000) at character 2; IDs take printable text only","field":"properties.checkout_id"}`},
		{"invalid UTF-8 in userId", "/v1/identify", "{\"userId\":\"m\xfcller\"}", 400,
			`{"success":false,"error":"userId: is not valid UTF-8 text (or holds a lone surrogate escape); send text as UTF-8","field":"userId"}`},
		{"invalid UTF-8 deep in properties", "/v1/track", "{\"userId\":\"u1\",\"event\":\"X\",\"properties\":{\"items\":[{\"name\":\"caf\xe9\"}]}}", 400,
			`{"success":false,"error":"properties.items[0].name: is not valid UTF-8 text (or holds a lone surrogate escape); send text as UTF-8","field":"properties.items[0].name"}`},
		{"invalid UTF-8 in a key", "/v1/identify", "{\"userId\":\"u1\",\"traits\":{\"n\xffme\":\"x\"}}", 400,
			`{"success":false,"error":"traits (a key in it): is not valid UTF-8 text (or holds a lone surrogate escape); send text as UTF-8","field":"traits (a key in it)"}`},
		{"lone surrogate escape", "/v1/track", `{"userId":"u1","event":"X","properties":{"emoji":"\ud83d"}}`, 400,
			`{"success":false,"error":"properties.emoji: is not valid UTF-8 text (or holds a lone surrogate escape); send text as UTF-8","field":"properties.emoji"}`},
		{"invalid UTF-8 in a batch", "/v1/batch", "{\"batch\":[{\"type\":\"identify\",\"userId\":\"u1\"},{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"\xc3(\"}]}", 400,
			`{"success":false,"error":"batch[1].event: is not valid UTF-8 text (or holds a lone surrogate escape); send text as UTF-8","field":"event","index":1}`},
		{"order_id too big a number", "/v1/track", `{"userId":"u1","event":"Order Completed","properties":{"order_id":1e300}}`, 400,
			`{"success":false,"error":"properties.order_id: must be a string or a whole number up to 2^53, got 1e+300","field":"properties.order_id"}`},
		{"checkout_id an object", "/v1/track", `{"userId":"u1","event":"Checkout Started","properties":{"checkout_id":{"id":1}}}`, 400,
			`{"success":false,"error":"properties.checkout_id: must be a string or a whole number, got an object","field":"properties.checkout_id"}`},
		{"phone too long for its column", "/v1/identify", `{"userId":"u1","traits":{"phone":"+1 555 0100 0100 0100 0100 0100 0100"}}`, 400,
			`{"success":false,"error":"traits.phone: is 36 characters long; the limit is 32","field":"traits.phone"}`},
		{"company name too long", "/v1/identify", `{"userId":"u1","traits":{"company":{"name":"` + long + `"}}}`, 400,
			`{"success":false,"error":"traits.company.name: is 192 characters long; the limit is 191","field":"traits.company.name"}`},
		{"properties not an object", "/v1/track", `{"userId":"u1","event":"X","properties":[1,2]}`, 400,
			`{"success":false,"error":"properties: must be an object, got an array","field":"properties"}`},
		{"traits not an object", "/v1/identify", `{"userId":"u1","traits":"vip"}`, 400,
			`{"success":false,"error":"traits: must be an object, got a string","field":"traits"}`},
		{"context not an object", "/v1/identify", `{"userId":"u1","context":7}`, 400,
			`{"success":false,"error":"context: must be an object, got a number","field":"context"}`},
		{"context.traits not an object", "/v1/track", `{"userId":"u1","event":"X","context":{"traits":["a"]}}`, 400,
			`{"success":false,"error":"context.traits: must be an object, got an array","field":"context.traits"}`},
		{"context.timezone not a string", "/v1/identify", `{"userId":"u1","context":{"timezone":1}}`, 400,
			`{"success":false,"error":"context.timezone: must be a string such as \"Europe/Berlin\", got a number","field":"context.timezone"}`},
		{"timestamp not a date", "/v1/track", `{"userId":"u1","event":"X","timestamp":"yesterday"}`, 400,
			`{"success":false,"error":"timestamp: must be an ISO-8601 date-time string such as \"2024-05-01T12:30:00.000Z\", got \"yesterday\"","field":"timestamp"}`},
		{"timestamp a number", "/v1/track", `{"userId":"u1","event":"X","timestamp":1714564800}`, 400,
			`{"success":false,"error":"timestamp: must be an ISO-8601 date-time string such as \"2024-05-01T12:30:00.000Z\", got a number","field":"timestamp"}`},
		{"sentAt not a date", "/v1/track", `{"userId":"u1","event":"X","sentAt":"01/05/2024"}`, 400,
			`{"success":false,"error":"sentAt: must be an ISO-8601 date-time string such as \"2024-05-01T12:30:00.000Z\", got \"01/05/2024\"","field":"sentAt"}`},
		{"batch missing", "/v1/batch", `{"sentAt":"2024-05-01T12:00:00Z"}`, 400,
			`{"success":false,"error":"batch: required: an array of identify, track, page or screen calls","field":"batch"}`},
		{"batch not an array", "/v1/batch", `{"batch":{"type":"track"}}`, 400,
			`{"success":false,"error":"batch: must be an array of calls, got an object","field":"batch"}`},
		{"batch empty", "/v1/batch", `{"batch":[]}`, 400,
			`{"success":false,"error":"batch: is empty; send at least one call","field":"batch"}`},
		{"batch item not an object", "/v1/batch", `{"batch":[{"type":"track","userId":"u1","event":"X"},"track"]}`, 400,
			`{"success":false,"error":"batch[1]: must be an object (one call), got a string","index":1}`},
		{"batch item without type", "/v1/batch", `{"batch":[{"userId":"u1","event":"X"}]}`, 400,
			`{"success":false,"error":"batch[0].type: required: identify, track, page or screen","field":"type","index":0}`},
		{"batch item of unknown type", "/v1/batch", `{"batch":[{"type":"purchase","userId":"u1"}]}`, 400,
			`{"success":false,"error":"batch[0].type: unknown call type \"purchase\"; use identify, track, page or screen","field":"type","index":0}`},
		{"batch item type not a string", "/v1/batch", `{"batch":[{"type":1,"userId":"u1"}]}`, 400,
			`{"success":false,"error":"batch[0].type: must be a string, got a number","field":"type","index":0}`},
		{"one bad item spoils the batch", "/v1/batch", `{"batch":[
			{"type":"identify","userId":"u1","messageId":"ok-0"},
			{"type":"track","userId":"u1","messageId":"ok-1","event":"Signed Up"},
			{"type":"page","anonymousId":"a1","messageId":"ok-2"},
			{"type":"track","userId":"u1","messageId":"bad-3"}]}`, 400,
			`{"success":false,"error":"batch[3].event: required for a track call","field":"event","index":3}`},
		{"batch item wrong type of field", "/v1/batch", `{"batch":[{"type":"identify","userId":"u1"},{"type":"identify","userId":"u2","traits":[]}]}`, 400,
			`{"success":false,"error":"batch[1].traits: must be an object, got an array","field":"traits","index":1}`},
		{"batch context not an object", "/v1/batch", `{"context":"web","batch":[{"type":"identify","userId":"u1"}]}`, 400,
			`{"success":false,"error":"context: must be an object, got a string","field":"context"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			requireJSON(t, e.post(tc.path, tc.body), tc.status, tc.want)
			assert.Empty(t, e.events(t), "nothing stored")
			assert.Zero(t, e.countContacts(t), "no contact created")
			assert.Empty(t, e.tc.calls(), "nothing signalled")
		})
	}
}

func TestOversizeBodiesAreRefused(t *testing.T) {
	pad := func(n int) string { return strings.Repeat("a", n) }
	call := func(n int) string {
		return `{"type":"track","userId":"u1","event":"Signed Up","properties":{"pad":"` + pad(n) + `"}}`
	}
	cases := []badCase{
		{"call over 32 KB", "/v1/track", call(33 << 10), 413,
			`{"success":false,"error":"the body is over the 32 KB limit for one call; split it into smaller calls","limit":32768}`},
		{"batch over 500 KB", "/v1/batch", `{"batch":[` + strings.Repeat(call(20<<10)+",", 25) + call(10) + `]}`, 413,
			`{"success":false,"error":"the body is over the 500 KB limit for a batch; split it into smaller calls","limit":512000}`},
		{"batch item over 32 KB", "/v1/batch", `{"batch":[` + call(10) + "," + call(40<<10) + `]}`, 413,
			fmt.Sprintf(`{"success":false,"error":"batch[1]: the call is %d bytes, over the 32 KB limit for one call; send fewer properties or traits","index":1,"limit":32768}`, len(call(40<<10)))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			requireJSON(t, e.post(tc.path, tc.body), tc.status, tc.want)
			assert.Empty(t, e.events(t))
			assert.Empty(t, e.tc.calls())
		})
	}

	t.Run("call just under 32 KB is fine", func(t *testing.T) {
		e := newEnv(t)
		body := call(10)
		body = call(32<<10 - len(body) + 10)
		require.Equal(t, 32<<10, len(body))
		requireJSON(t, e.post("/v1/track", body), http.StatusOK, okBody)
	})
}

func TestGzipBody(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(`{"batch":[{"type":"track","userId":"u1","messageId":"z1","event":"Signed Up"}]}`))
	require.NoError(t, zw.Close())
	rec := e.do(http.MethodPost, "/v1/batch", buf.String(), basic(writeKey), "Content-Encoding: gzip")
	requireJSON(t, rec, http.StatusOK, okBody)
	require.Len(t, e.events(t), 1)

	rec = e.do(http.MethodPost, "/v1/batch", "not gzip", basic(writeKey), "Content-Encoding: gzip")
	requireJSON(t, rec, http.StatusBadRequest, `{"success":false,"error":"Content-Encoding is gzip but the body is not gzip data"}`)
	rec = e.do(http.MethodPost, "/v1/batch", buf.String(), basic(writeKey), "Content-Encoding: br")
	requireJSON(t, rec, http.StatusUnsupportedMediaType, `{"success":false,"error":"Content-Encoding \"br\" is not supported; send the body plain or gzip-compressed"}`)
	require.Len(t, e.events(t), 1)
}

// analytics.js (the browser library) posts text/plain to one-letter paths
// with the write key in the body, from another origin.
func TestAnalyticsJSStyleCalls(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodPost, "/v1/t",
		`{"type":"track","event":"Signed Up","userId":null,"anonymousId":"anon-9","messageId":"ajs-1","writeKey":"`+writeKey+`","sentAt":"2024-05-01T12:00:00.000Z","timestamp":"2024-05-01T12:00:00.000Z","context":{"page":{"path":"/"}},"integrations":{},"_metadata":{"bundled":[]}}`,
		"Content-Type: text/plain", "Origin: https://shop.example.com")
	requireJSON(t, rec, http.StatusOK, okBody)
	assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Len(t, e.events(t), 1)
	assert.Equal(t, models.EventHeld, e.events(t)[0].Status)

	rec = e.do(http.MethodPost, "/v1/b",
		`{"writeKey":"`+writeKey+`","sentAt":"2024-05-01T12:00:00.000Z","batch":[{"type":"identify","userId":"u9","anonymousId":"anon-9","messageId":"ajs-2","traits":{"email":"x@example.com"}}]}`,
		"Content-Type: text/plain")
	requireJSON(t, rec, http.StatusOK, okBody)
	// A batch is answered once stored; the relay signals it just after.
	require.Eventually(t, func() bool { return len(e.tc.calls()) == 2 }, 5*time.Second, time.Millisecond)

	rec = e.do(http.MethodOptions, "/v1/t", "", "Origin: https://shop.example.com", "Access-Control-Request-Method: POST")
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Authorization")

	// Alias is acknowledged and dropped.
	requireJSON(t, e.post("/v1/alias", `{"userId":"u9","previousId":"anon-9"}`), http.StatusOK, okBody)
	assert.Len(t, e.events(t), 2)
}

// A group call says which account the user belongs to: its traits become
// the contact's company (what B2B scoring reads: size and industry), with
// the groupId as its id, stored and signalled as an identify. The short
// path analytics.js uses works too.
func TestGroupSetsTheCompany(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/group", `{"userId":"u9","messageId":"g-1","groupId":"acct-42",
		"traits":{"name":"Initech","industry":"Software","employees":120,"plan":"enterprise"}}`), http.StatusOK, okBody)
	evs := e.events(t)
	require.Len(t, evs, 1)
	assert.Equal(t, workflows.KindIdentify, evs[0].Kind)
	assert.Equal(t, map[string]any{"company": map[string]any{"id": "acct-42", "name": "Initech", "industry": "Software", "employees": float64(120), "plan": "enterprise"}},
		evs[0].Traits)
	c := e.contact(t, "u9")
	assert.Equal(t, "Initech", c.Company)
	assert.Equal(t, "Software", c.Industry)
	assert.Equal(t, 120, c.EmployeeCount)

	requireJSON(t, e.post("/v1/g", `{"userId":"u9","messageId":"g-2","groupId":"acct-43","traits":{"name":"Hooli"}}`), http.StatusOK, okBody)
	assert.Equal(t, "Hooli", e.contact(t, "u9").Company, "a later group replaces the company")

	// Without a groupId nothing is stored.
	requireJSON(t, e.post("/v1/group", `{"userId":"u9","messageId":"g-3","traits":{"name":"Nope"}}`), http.StatusBadRequest,
		`{"success":false,"error":"groupId: required for a group call: the account the user belongs to","field":"groupId"}`)
	assert.Len(t, e.events(t), 2)
}

func TestWriteKeyAuth(t *testing.T) {
	body := `{"userId":"u1","event":"Signed Up"}`
	cases := []struct {
		name    string
		headers []string
		body    string
		want    string
	}{
		{"no key", []string{"Content-Type: application/json"}, body,
			`{"success":false,"error":"missing write key: send it as the HTTP Basic user name with an empty password, or as Authorization: Bearer <key>"}`},
		{"no key and a bad body", nil, `{not json`,
			`{"success":false,"error":"missing write key: send it as the HTTP Basic user name with an empty password, or as Authorization: Bearer <key>"}`},
		{"wrong Basic key", []string{basic("wk_guess")}, body,
			`{"success":false,"error":"unknown write key: check the key your source sends against the gateway's NUDGE_WRITE_KEYS"}`},
		{"wrong Bearer key", []string{bearer("wk_guess")}, body,
			`{"success":false,"error":"unknown write key: check the key your source sends against the gateway's NUDGE_WRITE_KEYS"}`},
		{"wrong key in body", nil, `{"writeKey":"wk_guess","userId":"u1","event":"X"}`,
			`{"success":false,"error":"unknown write key: check the key your source sends against the gateway's NUDGE_WRITE_KEYS"}`},
		{"key as password", []string{basic(":" + writeKey)}, body,
			`{"success":false,"error":"the Basic credentials carry no user name; put the key there, with an empty password"}`},
		{"other scheme", []string{"Authorization: Token " + writeKey}, body,
			`{"success":false,"error":"the Authorization header must be Basic (key as user name, empty password) or Bearer <key>"}`},
		{"wrong key with a bad body", []string{bearer("nope")}, `{`,
			`{"success":false,"error":"unknown write key: check the key your source sends against the gateway's NUDGE_WRITE_KEYS"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.do(http.MethodPost, "/v1/track", tc.body, tc.headers...)
			requireJSON(t, rec, http.StatusUnauthorized, tc.want)
			assert.Empty(t, e.events(t))
			assert.Empty(t, e.tc.calls())
		})
	}
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.do(http.MethodGet, "/v1/track", ""), http.StatusMethodNotAllowed,
		`{"success":false,"error":"GET is not allowed on /v1/track"}`)
	requireJSON(t, e.do(http.MethodPost, "/v2/track", "{}"), http.StatusNotFound,
		`{"success":false,"error":"no endpoint POST /v2/track"}`)
}
