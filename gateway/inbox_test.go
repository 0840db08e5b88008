package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// inAppMessage stores a delivered in-app message for the contact.
func (e *env) inAppMessage(t *testing.T, contactID, key, action string, expires *time.Time) *models.Message {
	t.Helper()
	ctx := context.Background()
	m := &models.Message{Key: key, ContactID: contactID, Journey: "welcome_b2b", Step: "tour", Channel: models.ChannelInApp,
		Marketing: true, Template: "welcome_b2b/tour", To: contactID, Status: workflows.StatusSent,
		Subject: "Take the tour", Text: "Hello **there**", HTML: "<p>Hello <strong>there</strong></p>\n"}
	prior, err := e.store.BeginMessage(ctx, m)
	require.NoError(t, err)
	require.Nil(t, prior)
	require.NoError(t, e.store.PutInboxItem(ctx, &models.InboxItem{MessageID: m.ID, ContactID: contactID, ActionURL: action, ExpiresAt: expires}))
	return m
}

func (e *env) inboxToken(t *testing.T, contactID string) string {
	t.Helper()
	rec := e.do(http.MethodPost, "/v1/inbox/tokens", `{"contact_id":"`+contactID+`","ttl":"1h"}`, bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	assert.WithinDuration(t, time.Now().Add(time.Hour), out.ExpiresAt, 5*time.Second)
	return out.Token
}

func (e *env) inbox(t *testing.T, token string) InboxList {
	t.Helper()
	rec := e.do(http.MethodGet, "/v1/inbox", "", bearer(token))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var l InboxList
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &l))
	return l
}

func TestInboxTokenSeesOnlyItsContact(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	e.saveContact(t, "u2", "bo@example.com")
	past := time.Now().Add(-time.Minute)
	mine := e.inAppMessage(t, "u1", "k1", "https://acme.example.com/tour", nil)
	e.inAppMessage(t, "u1", "k2", "", &past) // expired: not listed
	theirs := e.inAppMessage(t, "u2", "k3", "", nil)

	tok := e.inboxToken(t, "u1")
	l := e.inbox(t, tok)
	require.Len(t, l.Messages, 1)
	assert.Equal(t, 1, l.Unread)
	got := l.Messages[0]
	assert.Equal(t, mine.ID, got.ID)
	assert.Equal(t, "Take the tour", got.Title)
	assert.Equal(t, "<p>Hello <strong>there</strong></p>\n", got.HTML)
	require.True(t, strings.HasPrefix(got.ActionURL, "http://gateway.test/inbox/c/"), got.ActionURL)

	// Another contact's message is not found, the same as none.
	rec := e.do(http.MethodPost, fmt.Sprintf("/v1/inbox/%d/read", theirs.ID), "", bearer(tok))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Nil(t, e.message(t, theirs.ID).OpenedAt)
	assert.Empty(t, e.events(t))
}

func TestInboxRefusesKeysAndBadTokens(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	e.inAppMessage(t, "u1", "k1", "", nil)
	tok := e.inboxToken(t, "u1")
	signer := links.NewSigner("test-secret-0123456789", "http://gateway.test")
	other := links.NewSigner("another-secret-0123456789", "http://gateway.test")

	for name, tc := range map[string]struct {
		header string
		status int
	}{
		"none":              {"", http.StatusUnauthorized},
		"write key bearer":  {bearer(writeKey), http.StatusForbidden},
		"write key basic":   {basic(writeKey), http.StatusForbidden},
		"admin key":         {bearer(adminKey), http.StatusUnauthorized},
		"altered":           {bearer(tok[:len(tok)-2] + "xx"), http.StatusUnauthorized},
		"expired":           {bearer(InboxToken(signer, "u1", time.Now().Add(-time.Second))), http.StatusUnauthorized},
		"another secret":    {bearer(InboxToken(other, "u1", time.Now().Add(time.Hour))), http.StatusUnauthorized},
		"a preferences tok": {bearer(strings.TrimPrefix(signer.PreferencesURL("u1"), "http://gateway.test/preferences/")), http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			var headers []string
			if tc.header != "" {
				headers = append(headers, tc.header)
			}
			rec := e.do(http.MethodGet, "/v1/inbox", "", headers...)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			rec = e.do(http.MethodPost, "/v1/inbox/1/read", "", headers...)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
	// Tokens come only from an admin key.
	assert.Equal(t, http.StatusForbidden, e.do(http.MethodPost, "/v1/inbox/tokens", `{"contact_id":"u1"}`, bearer(writeKey)).Code)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/v1/inbox/tokens", `{"contact_id":"u1"}`).Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/v1/inbox/tokens", `{"contact_id":"nobody"}`, bearer(adminKey)).Code)
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/v1/inbox/tokens", `{"contact_id":"u1","ttl":"9999h"}`, bearer(adminKey)).Code)
	assert.Empty(t, e.events(t))
}

func TestInboxReadIsEngagementOnceAndDismissHides(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	m := e.inAppMessage(t, "u1", "k1", "https://acme.example.com/tour", nil)
	tok := e.inboxToken(t, "u1")
	read := fmt.Sprintf("/v1/inbox/%d/read", m.ID)

	require.Equal(t, http.StatusOK, e.do(http.MethodPost, read, "", bearer(tok)).Code)
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, read, "", bearer(tok)).Code)
	evs := e.events(t)
	require.Len(t, evs, 1, "a second read records nothing")
	assert.Equal(t, workflows.EventInAppRead, evs[0].Name)
	assert.Equal(t, fmt.Sprintf("nudge:inapp-read-%d", m.ID), evs[0].MessageID)
	assert.Equal(t, "u1", evs[0].ContactID)
	assert.NotNil(t, e.message(t, m.ID).OpenedAt, "the message's metrics count it opened")
	require.Len(t, e.tc.calls(), 1)
	assert.True(t, e.tc.calls()[0].Event.Is(workflows.EventInAppRead))

	l := e.inbox(t, tok)
	require.Len(t, l.Messages, 1, "a read message is still recent")
	assert.Zero(t, l.Unread)
	assert.NotNil(t, l.Messages[0].ReadAt)

	// The action: the signed click token, under the inbox's redirect.
	action := e.path(l.Messages[0].ActionURL)
	rec := e.do(http.MethodGet, action, "")
	require.Equal(t, http.StatusFound, rec.Code)
	assert.Equal(t, "https://acme.example.com/tour", rec.Header().Get("Location"))
	e.do(http.MethodGet, action, "")
	evs = e.events(t)
	require.Len(t, evs, 2, "a second click records nothing")
	assert.Equal(t, workflows.EventInAppClicked, evs[1].Name)
	assert.Equal(t, "https://acme.example.com/tour", evs[1].Properties["url"])
	assert.NotNil(t, e.message(t, m.ID).ClickedAt)
	// A forged token goes nowhere and records nothing.
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, action[:len(action)-3]+"abc", "").Code)
	// An email's click token is not an in-app action.
	email := e.sentEmail(t, "u1", "k2")
	click := e.path(e.gw.Links.ClickURL(email.ID, "https://acme.example.com/x", ""))
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/inbox/c/"+strings.TrimPrefix(click, "/t/c/"), "").Code)
	assert.Len(t, e.events(t), 2)

	require.Equal(t, http.StatusOK, e.do(http.MethodPost, fmt.Sprintf("/v1/inbox/%d/dismiss", m.ID), "", bearer(tok)).Code)
	assert.Empty(t, e.inbox(t, tok).Messages)
}

func TestWriteKeyCannotForgeInAppEvents(t *testing.T) {
	for _, name := range []string{workflows.EventInAppRead, workflows.EventInAppClicked} {
		assert.True(t, workflows.Reserved(name), name)
	}
}

// FuzzInboxToken: no string but a token made with the secret passes, and a
// token that passes names the contact it was made for.
func FuzzInboxToken(f *testing.F) {
	s := links.NewSigner("test-secret-0123456789", "http://gateway.test")
	good := InboxToken(s, "u1", time.Unix(4102444800, 0))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add("nit1..")
	f.Add(s.CSRF("x"))
	f.Fuzz(func(t *testing.T, token string) {
		contact, err := CheckInboxToken(s, token, time.Unix(1800000000, 0))
		if err == nil && (token != good || contact != "u1") {
			t.Fatalf("%q passed as %q", token, contact)
		}
	})
}
