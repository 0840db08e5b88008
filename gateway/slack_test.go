package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// slackSign signs a request the way Slack documents:
// v0=hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func slackSign(secret, ts, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// slackClick is the form Slack posts when a user clicks a button.
func slackClick(t *testing.T, actionID, value string) string {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": "U0SAM", "username": "sam.rep", "name": "sam.rep", "team_id": "T0"},
		"api_app_id":   "A0",
		"container":    map[string]any{"type": "message", "message_ts": "1717430400.000100", "channel_id": "C0SALES"},
		"trigger_id":   "1.2.3",
		"team":         map[string]any{"id": "T0", "domain": "nudge"},
		"channel":      map[string]any{"id": "C0SALES", "name": "sales"},
		"response_url": "https://hooks.slack.com/actions/T0/1/abc",
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": "mql_actions", "value": value, "type": "button", "action_ts": "1717430401.1",
			"text": map[string]any{"type": "plain_text", "text": "Accept lead"},
		}},
	})
	require.NoError(t, err)
	return url.Values{"payload": {string(payload)}}.Encode()
}

func newSlackEnv(t *testing.T) *env {
	e := newEnv(t)
	e.gw.Config.SlackSigningSecret = slackSecret
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"})
	return e
}

// postSlack sends an interaction signed at ts (Unix seconds).
func (e *env) postSlack(body string, ts int64, headers ...string) *httptest.ResponseRecorder {
	stamp := strconv.FormatInt(ts, 10)
	hs := append([]string{
		"Content-Type: application/x-www-form-urlencoded",
		"X-Slack-Request-Timestamp: " + stamp,
		"X-Slack-Signature: " + slackSign(slackSecret, stamp, body),
	}, headers...)
	return e.do(http.MethodPost, "/webhooks/slack/interactive", body, hs...)
}

func (e *env) requireTaskOpen(t *testing.T, id uint64) {
	t.Helper()
	task, err := e.store.Task(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, models.TaskOpen, task.Status)
	require.Empty(t, e.events(t))
	require.Empty(t, e.tc.calls())
}

func TestSlackAcceptLead(t *testing.T) {
	e := newSlackEnv(t)
	rec := e.postSlack(slackClick(t, "accept_lead", "1"), time.Now().Unix())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	task, err := e.store.Task(context.Background(), 1)
	require.NoError(t, err)
	require.Equal(t, models.TaskAccepted, task.Status)
	require.Equal(t, "accepted by sam.rep", task.ClosedReason)

	evs := e.events(t)
	require.Len(t, evs, 1)
	require.Equal(t, "nudge:accept-task-1", evs[0].MessageID)
	require.Equal(t, "ana", evs[0].ContactID)
	require.Equal(t, workflows.EventLeadAccepted, evs[0].Name)
	require.Equal(t, map[string]any{"task_id": float64(1), "rep": "sam.rep", "via": "slack", "slack_user_id": "U0SAM"}, evs[0].Properties)
	calls := e.tc.calls()
	require.Len(t, calls, 1)
	require.Equal(t, "contact/ana", calls[0].WorkflowID)
	require.True(t, calls[0].Event.Is(workflows.EventLeadAccepted))

	// A second click (or Slack resending) is acknowledged; nothing more happens.
	rec = e.postSlack(slackClick(t, "accept_lead", "1"), time.Now().Unix())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, e.events(t), 1)
	require.Len(t, e.tc.calls(), 1)
}

// Only requests Slack signed, recently, change anything.
func TestSlackRefusesUnsignedRequests(t *testing.T) {
	e := newSlackEnv(t)
	body := slackClick(t, "accept_lead", "1")
	now := time.Now().Unix()
	stamp := strconv.FormatInt(now, 10)
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
	}{
		{"no signature", []string{"X-Slack-Request-Timestamp: " + stamp}, msgSlackNoSignature},
		{"no timestamp", []string{"X-Slack-Signature: " + slackSign(slackSecret, stamp, body)}, msgSlackNoSignature},
		{"wrong secret", []string{"X-Slack-Request-Timestamp: " + stamp, "X-Slack-Signature: " + slackSign("another-secret", stamp, body)}, msgSlackBadSignature},
		{"altered body", []string{"X-Slack-Request-Timestamp: " + stamp, "X-Slack-Signature: " + slackSign(slackSecret, stamp, body+"&x=1")}, msgSlackBadSignature},
		{"other timestamp", []string{"X-Slack-Request-Timestamp: " + strconv.FormatInt(now-1, 10), "X-Slack-Signature: " + slackSign(slackSecret, stamp, body)}, msgSlackBadSignature},
		{"not v0", []string{"X-Slack-Request-Timestamp: " + stamp, "X-Slack-Signature: v1=abcd"}, msgSlackBadSignature},
		{"not hex", []string{"X-Slack-Request-Timestamp: " + stamp, "X-Slack-Signature: v0=zz"}, msgSlackBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodPost, "/webhooks/slack/interactive", body, append(tc.headers, "Content-Type: application/x-www-form-urlencoded")...)
			requireJSON(t, rec, http.StatusUnauthorized, `{"success": false, "error": `+strconv.Quote(tc.want)+`}`)
		})
	}
	// Correctly signed, but too old or too far ahead: a replay.
	for _, at := range []int64{now - 6*60, now + 6*60} {
		requireJSON(t, e.postSlack(body, at), http.StatusUnauthorized, `{"success": false, "error": `+strconv.Quote(msgSlackStale)+`}`)
	}
	e.requireTaskOpen(t, 1)
}

func TestSlackNotConfigured(t *testing.T) {
	e := newEnv(t)
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"})
	rec := e.postSlack(slackClick(t, "accept_lead", "1"), time.Now().Unix())
	requireJSON(t, rec, http.StatusNotFound, `{"success": false, "error": "Slack interactivity is not configured: set NUDGE_SLACK_SIGNING_SECRET to the app's signing secret"}`)
	e.requireTaskOpen(t, 1)
}

// Other buttons and interactions are acknowledged and ignored.
func TestSlackIgnoresOtherInteractions(t *testing.T) {
	e := newSlackEnv(t)
	now := time.Now().Unix()
	for _, body := range []string{
		slackClick(t, "open_run", ""),
		slackClick(t, "accept_lead", "not-a-task"),
		slackClick(t, "accept_lead", "99"), // no such task
		url.Values{"payload": {`{"type":"view_submission","user":{"id":"U0SAM"}}`}}.Encode(),
	} {
		rec := e.postSlack(body, now)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Empty(t, rec.Body.String())
	}
	e.requireTaskOpen(t, 1)

	// Signed, but not an interaction.
	for _, body := range []string{"", "payload=%7Bnot+json", "text=hello"} {
		require.Equal(t, http.StatusBadRequest, e.postSlack(body, now).Code, "body %q", body)
	}
	e.requireTaskOpen(t, 1)
}
