package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// unsubscribePath is the path of the contact's signed link.
func (e *env) unsubscribePath(contactID string) string {
	return strings.TrimPrefix(e.gw.Links.UnsubscribeURL(contactID), "http://gateway.test")
}

func (e *env) saveContact(t *testing.T, id, email string) {
	t.Helper()
	require.NoError(t, e.store.SaveContact(context.Background(),
		&models.Contact{ID: id, Email: email, LifecycleStage: models.StageSubscriber, Traits: map[string]any{}}))
}

func TestUnsubscribePageAsksFirst(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")

	rec := e.do(http.MethodGet, e.unsubscribePath("u1"), "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	body := rec.Body.String()
	assert.Contains(t, body, "<h1>Unsubscribe from Acme?</h1>")
	assert.Contains(t, body, "at ana@example.com")
	assert.Contains(t, body, `<form method="post">`)
	assert.Nil(t, e.contact(t, "u1").UnsubscribedAt, "opening the link changes nothing")
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
}

func TestOneClickUnsubscribe(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	path := e.unsubscribePath("u1")

	rec := e.do(http.MethodPost, path, "List-Unsubscribe=One-Click", "Content-Type: application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "<h1>You are unsubscribed</h1>")
	assert.Contains(t, rec.Body.String(), "Acme will not send marketing email to ana@example.com")

	c := e.contact(t, "u1")
	require.NotNil(t, c.UnsubscribedAt)
	evs := e.events(t)
	require.Len(t, evs, 1)
	ev := evs[0]
	assert.Equal(t, workflows.KindTrack, ev.Kind)
	assert.Equal(t, workflows.EventUnsubscribed, ev.Name)
	assert.Equal(t, "u1", ev.ContactID)
	assert.True(t, strings.HasPrefix(ev.MessageID, "nudge:unsubscribe-u1-"), ev.MessageID)
	assert.Equal(t, "one-click", ev.Properties["method"])
	assert.Equal(t, models.EventDelivered, ev.Status)
	calls := e.tc.calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "contact/u1", calls[0].WorkflowID)
	assert.Equal(t, workflows.SignalEvent, calls[0].Signal)
	assert.True(t, calls[0].Event.Is(workflows.EventUnsubscribed))
	assert.Equal(t, ev.MessageID, calls[0].Event.MessageID)

	// A second post (the person clicks again) changes nothing more.
	rec = e.do(http.MethodPost, path, "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "You are unsubscribed")
	assert.Equal(t, c.UnsubscribedAt.UTC(), e.contact(t, "u1").UnsubscribedAt.UTC())
	assert.Len(t, e.events(t), 1)
	assert.Len(t, e.tc.calls(), 1)

	// And the link now says so.
	rec = e.do(http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "You are unsubscribed")
	assert.NotContains(t, rec.Body.String(), "<form")
}

// The link in an email carries the email (?m=), which gets the credit in
// its journey's metrics; an m that is not one of this contact's emails, or
// not a number, credits nothing and unsubscribes all the same.
func TestUnsubscribeCreditsTheEmail(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	e.saveContact(t, "u2", "bo@example.com")
	mine := e.sentEmail(t, "u1", "k1")
	theirs := e.sentEmail(t, "u2", "k2")

	for _, m := range []string{strconv.FormatUint(theirs.ID, 10), "x", "-1", ""} {
		rec := e.do(http.MethodPost, e.unsubscribePath("u1")+"?m="+m, "List-Unsubscribe=One-Click")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Nil(t, e.message(t, theirs.ID).UnsubscribedAt, "m=%s", m)
		assert.Nil(t, e.message(t, mine.ID).UnsubscribedAt, "m=%s", m)
	}
	require.NotNil(t, e.contact(t, "u1").UnsubscribedAt)

	rec := e.do(http.MethodPost, e.unsubscribePath("u1")+"?m="+strconv.FormatUint(mine.ID, 10), "List-Unsubscribe=One-Click")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.NotNil(t, e.message(t, mine.ID).UnsubscribedAt)
}

func TestUnsubscribeWhileTemporalIsDownIsStillDone(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	e.tc.setFail(errUnreachable)

	rec := e.do(http.MethodPost, e.unsubscribePath("u1"), "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "You are unsubscribed")
	assert.NotNil(t, e.contact(t, "u1").UnsubscribedAt)
	evs := e.events(t)
	require.Len(t, evs, 1)
	assert.Equal(t, models.EventPending, evs[0].Status, "the relay delivers it later")
	assert.Equal(t, "page", evs[0].Properties["method"])
}

func TestForgedUnsubscribeLink(t *testing.T) {
	e := newEnv(t)
	e.saveContact(t, "u1", "ana@example.com")
	good := e.unsubscribePath("u1")
	// Same contact, signature altered; another contact's ID with u1's
	// signature; cut short; no signature at all.
	value, sig, _ := strings.Cut(strings.TrimPrefix(good, "/unsubscribe/"), ".")
	flipped := []byte(sig)
	flipped[0] ^= 1
	other := strings.TrimPrefix(e.unsubscribePath("u2"), "/unsubscribe/")
	otherValue, _, _ := strings.Cut(other, ".")
	tokens := []string{
		value + "." + string(flipped),
		otherValue + "." + sig,
		value + "." + sig[:len(sig)-3],
		value,
	}
	for _, token := range tokens {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			rec := e.do(method, "/unsubscribe/"+token, "List-Unsubscribe=One-Click")
			require.Equal(t, http.StatusNotFound, rec.Code, "%s %s", method, token)
			assert.Contains(t, rec.Body.String(), "<h1>This link is not valid</h1>")
			assert.Contains(t, rec.Body.String(), "latest email from Acme")
		}
	}
	assert.Nil(t, e.contact(t, "u1").UnsubscribedAt)
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
}

func TestUnsubscribeLinkForUnknownContact(t *testing.T) {
	e := newEnv(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		rec := e.do(method, e.unsubscribePath("gone"), "List-Unsubscribe=One-Click")
		require.Equal(t, http.StatusNotFound, rec.Code)
		assert.Contains(t, rec.Body.String(), "This link is not valid")
	}
	assert.Empty(t, e.events(t))
	assert.Zero(t, e.countContacts(t), "no contact is created")
	assert.Empty(t, e.tc.calls())
}
