package gateway

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	e.tc.healthErr = errors.New("down")
	requireJSON(t, e.do(http.MethodGet, "/healthz", ""), http.StatusOK, `{"status":"ok"}`)
}

func TestReadyz(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.do(http.MethodGet, "/readyz", ""), http.StatusOK,
		`{"status":"ready","checks":{"database":"ok","temporal":"ok"},
		  "delivery":{"pending":0,"oldest_pending_age_seconds":0,"dead":0,"temporal_reachable":true}}`)

	e.tc.healthErr = errors.New("connection refused")
	e.gw.backlogs = backlogCache{} // read the backlog afresh
	requireJSON(t, e.do(http.MethodGet, "/readyz", ""), http.StatusServiceUnavailable,
		`{"status":"not ready","failed":["temporal"],"checks":{"database":"ok","temporal":"connection refused"},
		  "delivery":{"pending":0,"oldest_pending_age_seconds":0,"dead":0,"temporal_reachable":true}}`)

	require.NoError(t, e.store.Close())
	e.gw.backlogs = backlogCache{}
	requireJSON(t, e.do(http.MethodGet, "/readyz", ""), http.StatusServiceUnavailable,
		`{"status":"not ready","failed":["database","temporal"],"checks":{"database":"sql: database is closed","temporal":"connection refused"}}`)
}
