package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func TestAdminAPIAuth(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name    string
		headers []string
		status  int
		want    string
	}{
		{"no key", nil, http.StatusUnauthorized, `{"success":false,"error":"missing admin key: send Authorization: Bearer <admin key>"}`},
		{"unknown key", []string{bearer("ak_guess")}, http.StatusUnauthorized, `{"success":false,"error":"unknown admin key: check it against the gateway's NUDGE_ADMIN_KEYS"}`},
		{"write key", []string{bearer(writeKey)}, http.StatusForbidden, `{"success":false,"error":"write keys can only send events; use an admin key (NUDGE_ADMIN_KEYS) to read contacts and messages"}`},
		{"write key as Basic", []string{basic(writeKey)}, http.StatusForbidden, `{"success":false,"error":"write keys can only send events; use an admin key (NUDGE_ADMIN_KEYS) to read contacts and messages"}`},
	}
	for _, tc := range cases {
		for _, path := range []string{"/v1/contacts/u1", "/v1/messages/1", "/v1/messages/1/html"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				rec := e.do(http.MethodGet, path, "", tc.headers...)
				requireJSON(t, rec, tc.status, tc.want)
				if tc.status == http.StatusUnauthorized {
					assert.Equal(t, `Basic realm="nudge admin"`, rec.Header().Get("WWW-Authenticate"))
				}
			})
		}
	}
	assert.Empty(t, e.tc.queried, "an unauthorised request asks Temporal nothing")
}

func TestGetContact(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/identify", `{"userId":"u1","messageId":"i1","traits":{"email":"ana@example.com","first_name":"Ana"}}`), http.StatusOK, okBody)
	started := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	e.tc.state = &workflows.ContactState{
		ContactID: "u1", Stage: "lead", LeadScore: 15,
		Running: []workflows.RunningJourney{{Journey: "welcome_b2b", WorkflowID: "journey/welcome_b2b/u1", StartedAt: started}},
	}
	ctx := context.Background()
	for i := range 22 {
		_, err := e.store.BeginMessage(ctx, &models.Message{
			Key: fmt.Sprintf("k%d", i), ContactID: "u1", Journey: "welcome_b2b", Step: "welcome",
			Channel: "email", Subject: fmt.Sprintf("Hello %d", i), HTML: "<p>hi</p>", Status: "recorded",
		})
		require.NoError(t, err)
	}

	rec := e.do(http.MethodGet, "/v1/contacts/u1", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		Contact        models.Contact             `json:"contact"`
		Journeys       []workflows.RunningJourney `json:"journeys"`
		JourneysError  *string                    `json:"journeys_error"`
		LeadScore      *int64                     `json:"lead_score"`
		LifecycleStage string                     `json:"lifecycle_stage"`
		Messages       []models.Message           `json:"messages"`
		TemporalURL    string                     `json:"temporal_url"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "u1", got.Contact.ID)
	assert.Equal(t, "ana@example.com", got.Contact.Email)
	assert.Equal(t, "Ana", got.Contact.FirstName)
	assert.Equal(t, e.tc.state.Running, got.Journeys)
	assert.Nil(t, got.JourneysError)
	require.NotNil(t, got.LeadScore)
	assert.Equal(t, int64(15), *got.LeadScore)
	assert.Equal(t, "lead", got.LifecycleStage)
	require.Len(t, got.Messages, 20, "the last 20 messages")
	assert.Equal(t, "Hello 21", got.Messages[0].Subject, "newest first")
	assert.Equal(t, "http://temporal-ui.test/namespaces/default/workflows/contact%2Fu1", got.TemporalURL)
	assert.Equal(t, []string{"contact/u1 state"}, e.tc.queried)
}

func TestGetContactWhenTheQueryFails(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/identify", `{"userId":"u1","messageId":"i1"}`), http.StatusOK, okBody)
	e.tc.queryErr = errors.New("workflow not found for ID: contact/u1")

	rec := e.do(http.MethodGet, "/v1/contacts/u1", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Nil(t, got["journeys"])
	assert.Equal(t, "query contact/u1: workflow not found for ID: contact/u1", got["journeys_error"])
	// The stored score stands in when the workflow cannot answer.
	assert.Equal(t, float64(0), got["lead_score"])
	assert.Equal(t, map[string]any{"value": float64(0), "breakdown": map[string]any{}, "ledger": []any{}}, got["score"])
	assert.Equal(t, models.StageSubscriber, got["lifecycle_stage"])
	assert.Equal(t, []any{}, got["stage_history"], "no move yet, and Migrate ran before the contact existed")
	assert.Equal(t, []any{}, got["messages"])
	assert.Equal(t, "u1", got["contact"].(map[string]any)["id"])
}

func TestGetUnknownContact(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.do(http.MethodGet, "/v1/contacts/nobody", "", bearer(adminKey)), http.StatusNotFound,
		`{"success":false,"error":"no contact \"nobody\"; contacts are created by identify or track calls with a userId"}`)
}

func TestGetMessage(t *testing.T) {
	e := newEnv(t)
	m := &models.Message{Key: "journey/welcome/u1/welcome", ContactID: "u1", Journey: "welcome", Step: "welcome",
		Channel: "email", Template: "welcome", To: "ana@example.com", Subject: "Welcome", Text: "Hi Ana",
		HTML: "<p>Hi <b>Ana</b></p>", Status: "recorded"}
	_, err := e.store.BeginMessage(context.Background(), m)
	require.NoError(t, err)
	path := fmt.Sprintf("/v1/messages/%d", m.ID)

	rec := e.do(http.MethodGet, path, "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, "Welcome", got["subject"])
	assert.Equal(t, "ana@example.com", got["to"])
	assert.NotContains(t, got, "html", "the HTML has its own endpoint")

	// A browser can open it with the admin key as Basic user name.
	rec = e.do(http.MethodGet, path+"/html", "", basic(adminKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "sandbox")
	assert.Equal(t, "<p>Hi <b>Ana</b></p>", rec.Body.String())

	requireJSON(t, e.do(http.MethodGet, "/v1/messages/999", "", bearer(adminKey)), http.StatusNotFound,
		`{"success":false,"error":"no message 999"}`)
	requireJSON(t, e.do(http.MethodGet, "/v1/messages/abc", "", bearer(adminKey)), http.StatusBadRequest,
		`{"success":false,"error":"message id \"abc\" is not a number; use the id from the contact's messages"}`)
}
