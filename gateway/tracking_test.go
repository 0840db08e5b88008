package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image/gif"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const siteURL = "https://acme.example.com"

// sentEmail stores a sent email message for the contact and returns it.
func (e *env) sentEmail(t *testing.T, contactID, key string) *models.Message {
	t.Helper()
	m := &models.Message{
		Key: key, ContactID: contactID, Journey: "nurture_b2b", Step: "lesson_2", Channel: models.ChannelEmail,
		Marketing: true, Template: "nurture_b2b/lesson", Topic: "reporting", Content: "dashboards-101",
		To: "ana@example.com", Status: workflows.StatusSent,
	}
	prior, err := e.store.BeginMessage(context.Background(), m)
	require.NoError(t, err)
	require.Nil(t, prior)
	require.NotZero(t, m.ID)
	return m
}

func (e *env) path(u string) string { return strings.TrimPrefix(u, "http://gateway.test") }

func (e *env) message(t *testing.T, id uint64) *models.Message {
	t.Helper()
	m, err := e.store.Message(context.Background(), id)
	require.NoError(t, err)
	return m
}

func requirePixel(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "image/gif", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Header().Get("Cache-Control"), "no-store")
	assert.Contains(t, rec.Header().Get("Cache-Control"), "no-cache")
	img, err := gif.Decode(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err, "the pixel is a GIF")
	assert.Equal(t, 1, img.Bounds().Dx())
	assert.Equal(t, 1, img.Bounds().Dy())
	_, _, _, alpha := img.At(0, 0).RGBA()
	assert.Zero(t, alpha, "the pixel is transparent")
}

func TestOpenIsRecordedOncePerMessage(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	m := e.sentEmail(t, "u1", "k1")
	open := e.path(e.gw.Links.OpenURL(m.ID))
	require.True(t, strings.HasPrefix(open, "/t/o/") && strings.HasSuffix(open, ".gif"), open)

	requirePixel(t, e.do(http.MethodGet, open, ""))
	first := e.message(t, m.ID).OpenedAt
	require.NotNil(t, first, "the message itself says it was opened, for its journey's metrics")
	requirePixel(t, e.do(http.MethodGet, open, ""))
	assert.Equal(t, first.UTC(), e.message(t, m.ID).OpenedAt.UTC(), "the first open stands")
	assert.Nil(t, e.message(t, m.ID).ClickedAt)

	evs := e.events(t)
	require.Len(t, evs, 1, "a second open of the same email adds nothing")
	ev := evs[0]
	assert.Equal(t, workflows.KindTrack, ev.Kind)
	assert.Equal(t, workflows.EventEmailOpened, ev.Name)
	assert.Equal(t, "u1", ev.ContactID)
	assert.Equal(t, fmt.Sprintf("nudge:open-%d", m.ID), ev.MessageID)
	assert.Equal(t, map[string]any{
		"message_id": float64(m.ID), "journey": "nurture_b2b", "step": "lesson_2", "template": "nurture_b2b/lesson",
		"topic": "reporting", "content": "dashboards-101",
	}, ev.Properties)
	assert.Equal(t, models.EventDelivered, ev.Status)
	calls := e.tc.calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "contact/u1", calls[0].WorkflowID)
	assert.True(t, calls[0].Event.Is(workflows.EventEmailOpened))
	assert.Equal(t, "reporting", calls[0].Event.Property("topic"))
}

func TestForgedOpenTokenGetsThePixelAndRecordsNothing(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	m := e.sentEmail(t, "u1", "k1")
	good := strings.TrimSuffix(strings.TrimPrefix(e.path(e.gw.Links.OpenURL(m.ID)), "/t/o/"), ".gif")
	payload, sig, _ := strings.Cut(good, ".")
	other := strings.TrimSuffix(strings.TrimPrefix(e.path(e.gw.Links.OpenURL(m.ID+1)), "/t/o/"), ".gif")
	otherPayload, _, _ := strings.Cut(other, ".")
	flipped := []byte(sig)
	flipped[0] ^= 1
	foreign := links.NewSigner("another-secret", "http://gateway.test")

	for _, token := range []string{
		payload + "." + string(flipped) + ".gif",                                                      // altered MAC
		otherPayload + "." + sig + ".gif",                                                             // another message under this MAC
		strings.TrimPrefix(e.path(e.gw.Links.ClickURL(m.ID, siteURL, "")), "/t/c/"),                   // a click token
		strings.TrimPrefix(e.unsubscribePath("u1"), "/unsubscribe/") + ".gif",                         // an unsubscribe token
		strings.TrimPrefix(strings.TrimPrefix(foreign.OpenURL(m.ID), "http://gateway.test"), "/t/o/"), // another secret
		payload + ".gif", "x.gif",
	} {
		requirePixel(t, e.do(http.MethodGet, "/t/o/"+token, ""))
	}
	// A valid token for a message no longer stored.
	requirePixel(t, e.do(http.MethodGet, e.path(e.gw.Links.OpenURL(m.ID+99)), ""))
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
}

func TestScannersAndPreviewsAreNotEngagement(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	m := e.sentEmail(t, "u1", "k1")
	open := e.path(e.gw.Links.OpenURL(m.ID))
	click := e.path(e.gw.Links.ClickURL(m.ID, siteURL+"/pricing", ""))

	rec := e.do(http.MethodHead, open, "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "image/gif", rec.Header().Get("Content-Type"))
	rec = e.do(http.MethodHead, click, "")
	assert.Equal(t, http.StatusFound, rec.Code)
	assert.Equal(t, siteURL+"/pricing", rec.Header().Get("Location"))

	preview := fmt.Sprintf("Referer: http://gateway.test/v1/messages/%d/html", m.ID)
	requirePixel(t, e.do(http.MethodGet, open, "", preview))
	rec = e.do(http.MethodGet, click, "", preview)
	assert.Equal(t, http.StatusFound, rec.Code)
	assert.Equal(t, siteURL+"/pricing", rec.Header().Get("Location"))

	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
}

func TestClickIsRecordedAndRedirected(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	m := e.sentEmail(t, "u1", "k1")
	dest := siteURL + "/pricing?plan=pro&utm_source=nudge#compare"
	click := e.path(e.gw.Links.ClickURL(m.ID, dest, "pricing"))
	require.True(t, strings.HasPrefix(click, "/t/c/"), click)

	for range 2 { // a double click counts once
		rec := e.do(http.MethodGet, click, "")
		require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
		assert.Equal(t, dest, rec.Header().Get("Location"))
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	}
	// A click is an open too (the pixel may be blocked).
	marked := e.message(t, m.ID)
	require.NotNil(t, marked.ClickedAt)
	require.NotNil(t, marked.OpenedAt)
	assert.Equal(t, marked.ClickedAt.UTC(), marked.OpenedAt.UTC())
	evs := e.events(t)
	require.Len(t, evs, 1)
	ev := evs[0]
	assert.Equal(t, workflows.EventEmailClicked, ev.Name)
	assert.Equal(t, "u1", ev.ContactID)
	assert.True(t, strings.HasPrefix(ev.MessageID, fmt.Sprintf("nudge:click-%d-", m.ID)), ev.MessageID)
	assert.Equal(t, map[string]any{
		"message_id": float64(m.ID), "journey": "nurture_b2b", "step": "lesson_2", "template": "nurture_b2b/lesson",
		"topic": "reporting", "content": "dashboards-101", "url": dest, "tag": "pricing",
	}, ev.Properties)
	calls := e.tc.calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "pricing", calls[0].Event.Property("tag"))

	// Another link in the same email is another click.
	rec := e.do(http.MethodGet, e.path(e.gw.Links.ClickURL(m.ID, siteURL+"/blog", "")), "")
	require.Equal(t, http.StatusFound, rec.Code)
	assert.Equal(t, siteURL+"/blog", rec.Header().Get("Location"))
	evs = e.events(t)
	require.Len(t, evs, 2)
	assert.Equal(t, siteURL+"/blog", evs[1].Properties["url"])
	assert.Equal(t, "", evs[1].Properties["tag"])
	assert.NotEqual(t, evs[0].MessageID, evs[1].MessageID)
}

// A valid token for a message no longer stored still takes the person where
// the link went, and records nothing.
func TestClickForUnknownMessageStillRedirects(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodGet, e.path(e.gw.Links.ClickURL(404, siteURL+"/x", "")), "")
	require.Equal(t, http.StatusFound, rec.Code)
	assert.Equal(t, siteURL+"/x", rec.Header().Get("Location"))
	assert.Empty(t, e.events(t))
}

func TestForgedClickTokensNeverRedirectElsewhere(t *testing.T) {
	e := newEnv(t)
	e.gw.Config.SiteURL = siteURL
	e.saveContact(t, "u1", "ana@example.com")
	m := e.sentEmail(t, "u1", "k1")
	dest := siteURL + "/pricing"
	good := strings.TrimPrefix(e.path(e.gw.Links.ClickURL(m.ID, dest, "pricing")), "/t/c/")
	payload, sig, _ := strings.Cut(good, ".")
	enc := base64.RawURLEncoding
	raw, err := enc.DecodeString(payload)
	require.NoError(t, err)
	altered := append([]byte(nil), raw...)
	altered[len(altered)-1] ^= 1 // "/pricinf"
	// The same message and tag, another destination, under the real MAC.
	swapped := binary.AppendUvarint(nil, m.ID)
	swapped = binary.AppendUvarint(swapped, uint64(len("pricing")))
	swapped = append(swapped, "pricinghttps://evil.example/"...)
	flipped := []byte(sig)
	flipped[0] ^= 1
	foreign := links.NewSigner("another-secret", "http://gateway.test")

	for name, path := range map[string]string{
		"altered payload":   "/t/c/" + enc.EncodeToString(altered) + "." + sig,
		"altered MAC":       "/t/c/" + payload + "." + string(flipped),
		"swapped URL":       "/t/c/" + enc.EncodeToString(swapped) + "." + sig,
		"open token":        "/t/c/" + strings.TrimPrefix(e.path(e.gw.Links.OpenURL(m.ID)), "/t/o/"),
		"unsubscribe token": "/t/c/" + strings.TrimPrefix(e.unsubscribePath("u1"), "/unsubscribe/"),
		"other secret":      e.path(foreign.ClickURL(m.ID, "https://evil.example/", "")),
		"cut short":         "/t/c/" + good[:len(good)-4],
		"no MAC":            "/t/c/" + payload,
		"url parameter":     "/t/c/x?url=https://evil.example",
		"forged + url":      "/t/c/" + payload + "." + string(flipped) + "?url=https%3A%2F%2Fevil.example&dest=https://evil.example",
	} {
		rec := e.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusFound, rec.Code, name)
		assert.Equal(t, siteURL, rec.Header().Get("Location"), name)
	}
	// A query string on a valid link changes nothing about where it goes.
	rec := e.do(http.MethodGet, "/t/c/"+good+"?url=https://evil.example&redirect=https://evil.example", "")
	require.Equal(t, http.StatusFound, rec.Code)
	assert.Equal(t, dest, rec.Header().Get("Location"))
	evs := e.events(t)
	require.Len(t, evs, 1, "only the valid link is recorded")
	assert.Equal(t, dest, evs[0].Properties["url"])
	// No token at all is no route.
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/t/c/?url=https://evil.example", "").Code)

	// Without a site URL to fall back on, a bad link is a 404.
	e.gw.Config.SiteURL = ""
	rec = e.do(http.MethodGet, "/t/c/"+enc.EncodeToString(swapped)+"."+sig+"?url=https://evil.example", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Empty(t, rec.Header().Get("Location"))
	assert.Contains(t, rec.Body.String(), "This link is not valid")
	assert.Len(t, e.events(t), 1)
}

func (e *env) emailWebhook(body string, headers ...string) *httptest.ResponseRecorder {
	return e.do(http.MethodPost, "/webhooks/email", body, append([]string{"Content-Type: application/json"}, headers...)...)
}

func TestEmailWebhookHardBounceSuppresses(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	e.saveContact(t, "u2", "Ana@Example.com") // the same inbox, another contact
	e.saveContact(t, "u3", "bo@example.com")
	m := e.sentEmail(t, "u1", "k1")
	body := fmt.Sprintf(`{"events":[{"type":"bounce","bounce_type":"hard","email":"ana@example.com","message_id":%d,
		"timestamp":"2026-01-10T10:00:00Z","reason":"550 5.1.1 user unknown"}]}`, m.ID)

	requireJSON(t, e.emailWebhook(body, bearer(adminKey)), http.StatusOK, `{"success":true}`)
	for _, id := range []string{"u1", "u2"} {
		c := e.contact(t, id)
		require.NotNil(t, c.EmailSuppressedAt, id)
		assert.Equal(t, "hard bounce", c.SuppressionReason)
		assert.Equal(t, "2026-01-10T10:00:00Z", c.EmailSuppressedAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	assert.Nil(t, e.contact(t, "u3").EmailSuppressedAt)
	assert.Equal(t, "bounced", e.message(t, m.ID).DeliveryStatus)
	evs := e.events(t)
	require.Len(t, evs, 2)
	for i, id := range []string{"u1", "u2"} {
		assert.Equal(t, workflows.EventEmailBounced, evs[i].Name)
		assert.Equal(t, id, evs[i].ContactID)
		assert.Equal(t, "hard", evs[i].Properties["bounce_type"])
		assert.Equal(t, "ana@example.com", evs[i].Properties["email"])
		assert.Equal(t, "550 5.1.1 user unknown", evs[i].Properties["reason"])
		assert.Equal(t, "nurture_b2b", evs[i].Properties["journey"])
		assert.Equal(t, float64(m.ID), evs[i].Properties["message_id"])
		assert.Equal(t, "2026-01-10T10:00:00Z", evs[i].Timestamp.UTC().Format("2006-01-02T15:04:05Z"))
	}
	assert.Len(t, e.tc.calls(), 2)

	// The provider retries: nothing new.
	requireJSON(t, e.emailWebhook(body, bearer(adminKey)), http.StatusOK, `{"success":true}`)
	assert.Len(t, e.events(t), 2)
}

func TestEmailWebhookComplaintSuppresses(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	requireJSON(t, e.emailWebhook(`{"events":[{"type":"complaint","email":"ana@example.com","id":"evt_1"}]}`, bearer(adminKey)),
		http.StatusOK, `{"success":true}`)
	c := e.contact(t, "u1")
	require.NotNil(t, c.EmailSuppressedAt)
	assert.Equal(t, "spam complaint", c.SuppressionReason)
	evs := e.events(t)
	require.Len(t, evs, 1)
	assert.Equal(t, workflows.EventEmailSpam, evs[0].Name)
	assert.Equal(t, "u1", evs[0].ContactID)
	assert.Equal(t, map[string]any{"email": "ana@example.com"}, evs[0].Properties)
}

func TestEmailWebhookSoftBounceAndDeliveredDoNotSuppress(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	m1 := e.sentEmail(t, "u1", "k1")
	m2 := e.sentEmail(t, "u1", "k2")
	body := fmt.Sprintf(`{"events":[
		{"type":"bounce","bounce_type":"soft","email":"ana@example.com","message_id":%d,"reason":"mailbox full"},
		{"type":"delivered","email":"ana@example.com","message_id":%d},
		{"type":"bounce","bounce_type":"soft","email":"nobody@example.com"}]}`, m1.ID, m2.ID)
	requireJSON(t, e.emailWebhook(body, bearer(adminKey)), http.StatusOK, `{"success":true}`)

	c := e.contact(t, "u1")
	assert.Nil(t, c.EmailSuppressedAt)
	assert.Empty(t, c.SuppressionReason)
	assert.Equal(t, "soft_bounced", e.message(t, m1.ID).DeliveryStatus)
	assert.Equal(t, "delivered", e.message(t, m2.ID).DeliveryStatus)
	evs := e.events(t)
	require.Len(t, evs, 1, "a soft bounce is recorded; a delivery and an unknown address are not")
	assert.Equal(t, workflows.EventEmailBounced, evs[0].Name)
	assert.Equal(t, "soft", evs[0].Properties["bounce_type"])
	assert.Equal(t, "mailbox full", evs[0].Properties["reason"])
	assert.Equal(t, int64(1), e.countContacts(t), "no contact is created for an unknown address")
}

func TestEmailWebhookRefusesABadBatchWhole(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	hard := `{"type":"bounce","bounce_type":"hard","email":"ana@example.com"}`
	cases := []struct {
		name, body, want string
	}{
		{"missing email", `{"events":[` + hard + `,{"type":"complaint"}]}`,
			`{"success":false,"error":"events[1].email: required: the recipient's address","field":"email","index":1}`},
		{"bad email", `{"events":[` + hard + `,{"type":"complaint","email":"Ana <ana@example.com>"}]}`,
			`{"success":false,"error":"events[1].email: must be a bare email address such as ana@example.com, got \"Ana <ana@example.com>\"","field":"email","index":1}`},
		{"unknown type", `{"events":[` + hard + `,{"type":"open","email":"ana@example.com"}]}`,
			`{"success":false,"error":"events[1].type: unknown event type \"open\"; use bounce, complaint or delivered","field":"type","index":1}`},
		{"missing type", `{"events":[{"email":"ana@example.com"}]}`,
			`{"success":false,"error":"events[0].type: required: bounce, complaint or delivered","field":"type","index":0}`},
		{"bounce without bounce_type", `{"events":[` + hard + `,{"type":"bounce","email":"ana@example.com"}]}`,
			`{"success":false,"error":"events[1].bounce_type: must be \"hard\" or \"soft\" for a bounce, got \"\"","field":"bounce_type","index":1}`},
		{"bounce_type on a complaint", `{"events":[{"type":"complaint","bounce_type":"hard","email":"ana@example.com"}]}`,
			`{"success":false,"error":"events[0].bounce_type: is only for bounces; this event is a complaint","field":"bounce_type","index":0}`},
		{"message_id as a string", `{"events":[` + hard + `,{"type":"delivered","email":"ana@example.com","message_id":"12"}]}`,
			`{"success":false,"error":"events[1].message_id: must be a positive whole number, Nudge's message ID; got \"12\"","field":"message_id","index":1}`},
		{"negative message_id", `{"events":[{"type":"delivered","email":"ana@example.com","message_id":-1}]}`,
			`{"success":false,"error":"events[0].message_id: must be a positive whole number, Nudge's message ID; got -1","field":"message_id","index":0}`},
		{"bad timestamp", `{"events":[` + hard + `,{"type":"delivered","email":"ana@example.com","timestamp":"yesterday"}]}`,
			`{"success":false,"error":"events[1].timestamp: must be an ISO-8601 date-time string such as \"2024-05-01T12:30:00.000Z\", got \"yesterday\"","field":"timestamp","index":1}`},
		{"misspelt field", `{"events":[{"type":"bounce","bounceType":"hard","email":"ana@example.com"}]}`,
			`{"success":false,"error":"events[0].bounceType: unknown field; the fields are type, bounce_type, email, message_id, timestamp, reason, id","field":"bounceType","index":0}`},
		{"item not an object", `{"events":[` + hard + `,"ana@example.com"]}`,
			`{"success":false,"error":"events[1]: must be an object (one event), got a string","index":1}`},
		{"events missing", `{}`, `{"success":false,"error":"events: required: an array of bounce, complaint or delivered events","field":"events"}`},
		{"events empty", `{"events":[]}`, `{"success":false,"error":"events: is empty; send at least one event","field":"events"}`},
		{"events not an array", `{"events":{}}`, `{"success":false,"error":"events: must be an array of events, got an object","field":"events"}`},
		{"not JSON", `events`, `{"success":false,"error":"the body is not valid JSON: invalid character 'e' looking for beginning of value (at byte 1)"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireJSON(t, e.emailWebhook(c.body, bearer(adminKey)), http.StatusBadRequest, c.want)
		})
	}
	assert.Nil(t, e.contact(t, "u1").EmailSuppressedAt, "the good event before a bad one is not applied")
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
}

func TestEmailWebhookWantsAnAdminKey(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	body := `{"events":[{"type":"complaint","email":"ana@example.com"}]}`
	rec := e.emailWebhook(body, bearer(writeKey))
	assert.Equal(t, http.StatusForbidden, rec.Code)
	rec = e.emailWebhook(body, basic(writeKey))
	assert.Equal(t, http.StatusForbidden, rec.Code)
	rec = e.emailWebhook(body)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	rec = e.emailWebhook(body, bearer("ak_wrong"))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Nil(t, e.contact(t, "u1").EmailSuppressedAt)
	assert.Empty(t, e.events(t))
}
