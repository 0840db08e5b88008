package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	twclient "github.com/twilio/twilio-go/client"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const (
	twilioToken = "0123456789abcdef0123456789abcdef"
	danaPhone   = "+15551230001"
	emptyTwiML  = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`
)

// twilioEnv is the test gateway with a Twilio account, and Dana, who has
// two contact records under one number, and Lee, who has another.
func twilioEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.gw.Config.Twilio = &config.Twilio{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: twilioToken, From: "+15550009999"}
	consent := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []models.Contact{
		{ID: "dana", Phone: danaPhone, SMSConsent: true, SMSConsentAt: &consent},
		{ID: "dana-shop", Phone: danaPhone, SMSConsent: true, SMSConsentAt: &consent},
		{ID: "lee", Phone: "+15551230002", SMSConsent: true, SMSConsentAt: &consent},
	} {
		c.Traits = map[string]any{}
		require.NoError(t, e.store.SaveContact(context.Background(), &c))
	}
	return e
}

// twilioSignature signs a webhook the way Twilio documents it: HMAC-SHA1
// with the auth token over the full URL followed by each POST parameter's
// name and value, sorted by name; base64.
func twilioSignature(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := fullURL
	for _, k := range keys {
		s += k + form.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// twilioPost sends a webhook signed for http://gateway.test (the test
// NUDGE_PUBLIC_URL) + path, as Twilio would.
func (e *env) twilioPost(t *testing.T, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	sig := twilioSignature(twilioToken, "http://gateway.test"+path, form)
	// The signature is one twilio-go's own validator accepts.
	v := twclient.NewRequestValidator(twilioToken)
	require.True(t, v.ValidateBody("http://gateway.test"+path, []byte(form.Encode()), sig))
	return e.do(http.MethodPost, path, form.Encode(), "Content-Type: application/x-www-form-urlencoded", "X-Twilio-Signature: "+sig)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func inbound(sid, from, body string) url.Values {
	return url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From": {from}, "To": {"+15550009999"}, "Body": {body}, "NumMedia": {"0"},
	}
}

func requireTwiML(t *testing.T, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body.String())
	assert.Equal(t, "text/xml; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, want, rec.Body.String())
}

func TestTwilioStopOptsOut(t *testing.T) {
	e := twilioEnv(t)
	before := time.Now().UTC()
	rec := e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0001", danaPhone, " Stop "))
	requireTwiML(t, rec, emptyTwiML)

	for _, id := range []string{"dana", "dana-shop"} {
		c := e.contact(t, id)
		assert.False(t, c.SMSConsent, id)
		require.NotNil(t, c.SMSOptedOutAt, id)
		assert.False(t, c.SMSOptedOutAt.Before(before.Truncate(time.Second)), id)
	}
	lee := e.contact(t, "lee")
	assert.True(t, lee.SMSConsent, "another number is untouched")
	assert.Nil(t, lee.SMSOptedOutAt)

	evs := e.events(t)
	require.Len(t, evs, 2)
	for i, id := range []string{"dana", "dana-shop"} {
		ev := evs[i]
		assert.Equal(t, id, ev.ContactID)
		assert.Equal(t, workflows.KindTrack, ev.Kind)
		assert.Equal(t, workflows.EventSMSOptedOut, ev.Name)
		assert.Equal(t, "nudge:twilio-SM0001-"+id, ev.MessageID)
		assert.Equal(t, map[string]any{"channel": "sms", "keyword": "STOP", "message_sid": "SM0001"}, ev.Properties)
		assert.Equal(t, models.EventDelivered, ev.Status)
	}
	// Two contacts are signalled in parallel: in either order.
	calls := e.tc.calls()
	require.Len(t, calls, 2)
	assert.ElementsMatch(t, []string{workflows.ContactWorkflowID("dana"), workflows.ContactWorkflowID("dana-shop")},
		[]string{calls[0].WorkflowID, calls[1].WorkflowID})
	for _, call := range calls {
		assert.Equal(t, workflows.SignalEvent, call.Signal)
		assert.Equal(t, workflows.EventSMSOptedOut, call.Event.Name)
	}

	// Twilio sends the same webhook again: acknowledged, not processed twice.
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0001", danaPhone, " Stop ")), emptyTwiML)
	assert.Len(t, e.events(t), 2)
	assert.Len(t, e.tc.calls(), 2)
}

func TestTwilioOptOutWords(t *testing.T) {
	for _, word := range []string{"STOP", "stopall", "Unsubscribe", "cancel", "END", " quit\n"} {
		e := twilioEnv(t)
		requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0002", "+15551230002", word)), emptyTwiML)
		assert.NotNil(t, e.contact(t, "lee").SMSOptedOutAt, "%q opts out", word)
		assert.Len(t, e.events(t), 1, word)
	}
}

func TestTwilioStartOptsBackIn(t *testing.T) {
	e := twilioEnv(t)
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0001", danaPhone, "STOP")), emptyTwiML)
	require.NotNil(t, e.contact(t, "dana").SMSOptedOutAt)

	rec := e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0002", danaPhone, "start"))
	requireTwiML(t, rec, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>`+
		`Acme: you are subscribed to our texts again. Reply STOP to opt out, HELP for help.</Message></Response>`)
	for _, id := range []string{"dana", "dana-shop"} {
		c := e.contact(t, id)
		assert.True(t, c.SMSConsent, id)
		assert.Nil(t, c.SMSOptedOutAt, id)
		assert.NotNil(t, c.SMSConsentAt, id)
	}
	evs := e.events(t)
	require.Len(t, evs, 4)
	assert.Equal(t, workflows.EventSMSOptedIn, evs[2].Name)
	assert.Equal(t, "nudge:twilio-SM0002-dana", evs[2].MessageID)
	assert.Equal(t, map[string]any{"channel": "sms", "keyword": "START", "message_sid": "SM0002"}, evs[2].Properties)

	for _, word := range []string{"YES", "unstop"} {
		e := twilioEnv(t)
		_, err := e.store.OptOutSMS(context.Background(), "+15551230002", time.Now())
		require.NoError(t, err)
		e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0003", "+15551230002", word))
		assert.True(t, e.contact(t, "lee").SMSConsent, word)
	}
}

func TestTwilioHelp(t *testing.T) {
	e := twilioEnv(t)
	e.gw.Config.SiteURL = "https://acme.example.com"
	for _, word := range []string{"HELP", "info "} {
		rec := e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0004", danaPhone, word))
		requireTwiML(t, rec, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>`+
			`Acme: offers and reminders by text. Msg frequency varies. Msg &amp; data rates may apply. Reply STOP to opt out. Help: https://acme.example.com`+
			`</Message></Response>`)
	}
	assert.Empty(t, e.events(t))
	assert.True(t, e.contact(t, "dana").SMSConsent)

	e.gw.Config.SiteURL, e.gw.Config.BrandName = "", "Bo & Co"
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0005", danaPhone, "help")),
		`<?xml version="1.0" encoding="UTF-8"?><Response><Message>`+
			`Bo &amp; Co: offers and reminders by text. Msg frequency varies. Msg &amp; data rates may apply. Reply STOP to opt out.`+
			`</Message></Response>`)
}

func TestTwilioOtherReplyIsAnEvent(t *testing.T) {
	e := twilioEnv(t)
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0006", danaPhone, "Is the blue one back in stock?")), emptyTwiML)
	evs := e.events(t)
	require.Len(t, evs, 2)
	assert.Equal(t, workflows.EventSMSReceived, evs[0].Name)
	assert.Equal(t, "dana", evs[0].ContactID)
	assert.Equal(t, map[string]any{"body": "Is the blue one back in stock?", "message_sid": "SM0006"}, evs[0].Properties)
	assert.Equal(t, "dana-shop", evs[1].ContactID)
	assert.Len(t, e.tc.calls(), 2)
	assert.True(t, e.contact(t, "dana").SMSConsent, "a reply is not an opt-out")
}

// A number no contact has gets the same answers; nothing is stored.
func TestTwilioUnknownNumber(t *testing.T) {
	e := twilioEnv(t)
	stranger := "+15559990000"
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0007", stranger, "STOP")), emptyTwiML)
	requireTwiML(t, e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0008", stranger, "hello")), emptyTwiML)
	rec := e.twilioPost(t, "/webhooks/twilio/inbound", inbound("SM0009", stranger, "START"))
	assert.Contains(t, rec.Body.String(), "<Message>Acme: you are subscribed")
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
	assert.Equal(t, int64(3), e.countContacts(t), "no contact is created")
}

func TestTwilioSignatureRequired(t *testing.T) {
	e := twilioEnv(t)
	form := inbound("SM0010", danaPhone, "STOP")
	good := twilioSignature(twilioToken, "http://gateway.test/webhooks/twilio/inbound", form)
	altered := inbound("SM0010", "+15551230002", "STOP") // someone else's number under Dana's signature
	for _, tc := range []struct {
		name, body string
		headers    []string
		msg        string
	}{
		{"missing", form.Encode(), nil, msgTwilioNoSignature},
		{"empty", form.Encode(), []string{"X-Twilio-Signature: "}, msgTwilioNoSignature},
		{"wrong token", form.Encode(), []string{"X-Twilio-Signature: " + twilioSignature("another-token", "http://gateway.test/webhooks/twilio/inbound", form)}, msgTwilioBadSignature},
		{"other URL", form.Encode(), []string{"X-Twilio-Signature: " + twilioSignature(twilioToken, "https://elsewhere.test/webhooks/twilio/inbound", form)}, msgTwilioBadSignature},
		{"altered body", altered.Encode(), []string{"X-Twilio-Signature: " + good}, msgTwilioBadSignature},
		{"garbage", form.Encode(), []string{"X-Twilio-Signature: not-a-signature"}, msgTwilioBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := append([]string{"Content-Type: application/x-www-form-urlencoded"}, tc.headers...)
			rec := e.do(http.MethodPost, "/webhooks/twilio/inbound", tc.body, headers...)
			requireJSON(t, rec, http.StatusForbidden, `{"success": false, "error": `+quote(tc.msg)+`}`)
			assert.True(t, e.contact(t, "dana").SMSConsent)
			assert.True(t, e.contact(t, "lee").SMSConsent)
			assert.Nil(t, e.contact(t, "lee").SMSOptedOutAt)
			assert.Empty(t, e.events(t))
			assert.Empty(t, e.tc.calls())
		})
	}
	// A delivery report needs a signature too.
	rec := e.do(http.MethodPost, "/webhooks/twilio/status", "MessageSid=SM1&MessageStatus=delivered", "Content-Type: application/x-www-form-urlencoded")
	assert.Equal(t, http.StatusForbidden, rec.Code)
}

func TestTwilioStatusCallback(t *testing.T) {
	e := twilioEnv(t)
	require.NoError(t, e.store.DB().Create(&models.Message{Key: "k1", ContactID: "dana", Channel: "sms", Status: "sent", ProviderID: "SM1000"}).Error)
	row := func() models.Message {
		var m models.Message
		require.NoError(t, e.store.DB().Where("provider_id = ?", "SM1000").Take(&m).Error)
		return m
	}

	rec := e.twilioPost(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SM1000"}, "MessageStatus": {"delivered"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"}})
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	assert.Empty(t, rec.Body.String())
	assert.Equal(t, "delivered", row().DeliveryStatus)
	assert.Equal(t, "sent", row().Status, "the send outcome stays")

	rec = e.twilioPost(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SM1000"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30006"}})
	require.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "undelivered", row().DeliveryStatus)
	assert.Equal(t, "twilio error 30006", row().Reason)

	// A SID Nudge never sent (another app on the account): acknowledged.
	rec = e.twilioPost(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SM9999"}, "MessageStatus": {"sent"}})
	assert.Equal(t, http.StatusNoContent, rec.Code)

	// Twilio signs the query string too, when the callback URL has one.
	rec = e.twilioPost(t, "/webhooks/twilio/status?source=nudge", url.Values{"MessageSid": {"SM1000"}, "MessageStatus": {"read"}})
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "read", row().DeliveryStatus)

	rec = e.twilioPost(t, "/webhooks/twilio/status", url.Values{"MessageSid": {"SM1000"}})
	requireJSON(t, rec, http.StatusBadRequest, `{"success": false, "error": "MessageSid and MessageStatus are required"}`)
}

func TestTwilioNotConfigured(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/webhooks/twilio/inbound", "/webhooks/twilio/status"} {
		rec := e.do(http.MethodPost, path, "From=%2B15551230001&Body=STOP&MessageSid=SM1", "X-Twilio-Signature: x")
		requireJSON(t, rec, http.StatusNotFound,
			`{"success": false, "error": "Twilio is not configured: set NUDGE_TWILIO_ACCOUNT_SID and NUDGE_TWILIO_AUTH_TOKEN"}`)
	}
	assert.Empty(t, e.events(t))
}
