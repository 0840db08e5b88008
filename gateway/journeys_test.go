package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/nudgehq/nudge/workflows"
)

func TestPauseAndResumeAJourney(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodPost, "/v1/journeys/abandoned_cart/pause", `{"reason":"wrong discount in the incentive email"}`, bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"journey":"abandoned_cart","paused":true,"reason":"wrong discount in the incentive email"}`, rec.Body.String())
	paused, err := e.store.JourneyPaused(t.Context(), "abandoned_cart")
	require.NoError(t, err)
	assert.True(t, paused)

	rec = e.do(http.MethodGet, "/v1/journeys", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code)
	var list struct {
		Journeys []map[string]any `json:"journeys"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Journeys, len(workflows.JourneyNames()))
	for _, j := range list.Journeys {
		assert.Equal(t, j["journey"] == "abandoned_cart", j["paused"], j["journey"])
	}

	// Resuming tells the runs that hold.
	e.tc.running = []*workflowpb.WorkflowExecutionInfo{
		{Execution: &commonpb.WorkflowExecution{WorkflowId: "journey/abandoned_cart/u1/ch-1", RunId: "run-1"}},
		{Execution: &commonpb.WorkflowExecution{WorkflowId: "journey/abandoned_cart/u2/ch-9", RunId: "run-2"}},
	}
	rec = e.do(http.MethodPost, "/v1/journeys/abandoned_cart/resume", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"journey":"abandoned_cart","paused":false,"signalled":2}`, rec.Body.String())
	assert.Equal(t, []string{`Journey = "abandoned_cart" AND ExecutionStatus = 'Running'`}, e.tc.listed)
	assert.Equal(t, []string{"journey/abandoned_cart/u1/ch-1 run-1 journey-resumed", "journey/abandoned_cart/u2/ch-9 run-2 journey-resumed"}, e.tc.signalled)
	paused, err = e.store.JourneyPaused(t.Context(), "abandoned_cart")
	require.NoError(t, err)
	assert.False(t, paused)
}

func TestPauseRefusals(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		path, body, key string
		status          int
		want            string
	}{
		{"/v1/journeys/nope/pause", "", adminKey, http.StatusNotFound, `no journey \"nope\"`},
		{"/v1/journeys/winback/pause", `{"reason":5}`, adminKey, http.StatusBadRequest, "reason: must be a string"},
		{"/v1/journeys/winback/pause", `{"reason":"` + strings.Repeat("x", 501) + `"}`, adminKey, http.StatusBadRequest, "reason: at most 500 bytes, got 501"},
		{"/v1/journeys/winback/pause", "", writeKey, http.StatusForbidden, ""},
	} {
		rec := e.do(http.MethodPost, c.path, c.body, bearer(c.key))
		assert.Equal(t, c.status, rec.Code, c.path+" "+c.body)
		assert.Contains(t, rec.Body.String(), c.want)
	}
	paused, err := e.store.PausedJourneys(t.Context())
	require.NoError(t, err)
	assert.Empty(t, paused, "a refused pause changes nothing")
}
