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

	"github.com/nudgehq/nudge/models"
)

var segAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const segAtQuery = "at=2026-03-01T12:00:00Z"

func (e *env) seedContact(t *testing.T, id, stage string) {
	t.Helper()
	require.NoError(t, e.store.SaveContact(context.Background(), &models.Contact{ID: id, LifecycleStage: stage, CreatedAt: segAt.Add(-24 * time.Hour)}))
}

func (e *env) seedEvent(t *testing.T, contactID, kind, name string, at time.Time, props map[string]any) {
	t.Helper()
	require.NoError(t, e.store.DB().Create(&models.Event{
		MessageID: fmt.Sprintf("%s-%s-%d", contactID, name, at.UnixNano()), ContactID: contactID, Kind: kind, Name: name,
		Properties: props, Timestamp: at.UTC(), ReceivedAt: at.UTC(), Status: models.EventDelivered,
	}).Error)
}

type segmentPage struct {
	Segment  string            `json:"segment"`
	Params   map[string]string `json:"params"`
	At       string            `json:"at"`
	Total    int64             `json:"total"`
	Limit    int               `json:"limit"`
	Offset   int               `json:"offset"`
	Contacts []models.Contact  `json:"contacts"`
}

func (e *env) segmentPage(t *testing.T, path string) segmentPage {
	t.Helper()
	rec := e.do(http.MethodGet, path, "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var p segmentPage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.NotNil(t, p.Contacts, "contacts is a list, never null: %s", rec.Body.String())
	require.NotNil(t, p.Params, "params is an object, never null: %s", rec.Body.String())
	return p
}

func segmentIDs(cs []models.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestSegmentsAPIAuth(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/segments", "/v1/segments/active/contacts"} {
		requireJSON(t, e.do(http.MethodGet, path, ""), http.StatusUnauthorized,
			`{"success":false,"error":"missing admin key: send Authorization: Bearer <admin key>"}`)
		requireJSON(t, e.do(http.MethodGet, path, "", bearer(writeKey)), http.StatusForbidden,
			`{"success":false,"error":"write keys can only send events; use an admin key (NUDGE_ADMIN_KEYS) to read contacts and messages"}`)
	}
}

func TestListSegments(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodGet, "/v1/segments", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		Segments []map[string]any `json:"segments"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	var names []string
	for _, s := range got.Segments {
		names = append(names, s["name"].(string))
	}
	assert.Equal(t, []string{"active", "at_risk", "dormant", "new_subscriber", "active_lead", "trial_user",
		"paying_customer", "churned", "visited_page", "downloaded_content", "used_feature", "not_onboarded", "retarget"}, names)
	assert.Equal(t, map[string]any{
		"name": "active", "group": "engagement", "params": []any{},
		"description": "Engaged (opened or clicked an email, or viewed a page) within the last 30 days: last engagement >= now-30d.",
	}, got.Segments[0])
	assert.Equal(t, []any{map[string]any{"name": "page", "description": "a page name (Pricing), or part of its path or URL (/pricing)"}},
		got.Segments[8]["params"])
}

func TestSegmentContacts(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"t3", "t1", "t2"} {
		e.seedContact(t, id, models.StageTrial)
	}
	e.seedContact(t, "c1", models.StageCustomer)

	p := e.segmentPage(t, "/v1/segments/trial_user/contacts?limit=2&"+segAtQuery)
	assert.Equal(t, "trial_user", p.Segment)
	assert.Equal(t, map[string]string{}, p.Params)
	assert.Equal(t, "2026-03-01T12:00:00Z", p.At)
	assert.Equal(t, int64(3), p.Total)
	assert.Equal(t, 2, p.Limit)
	assert.Equal(t, 0, p.Offset)
	assert.Equal(t, []string{"t1", "t2"}, segmentIDs(p.Contacts))

	p = e.segmentPage(t, "/v1/segments/trial_user/contacts?limit=2&offset=2")
	assert.Equal(t, []string{"t3"}, segmentIDs(p.Contacts))
	assert.Equal(t, int64(3), p.Total)
	assert.Equal(t, 2, p.Offset)

	p = e.segmentPage(t, "/v1/segments/trial_user/contacts?offset=3")
	assert.Equal(t, []string{}, segmentIDs(p.Contacts))
	assert.Equal(t, int64(3), p.Total)

	p = e.segmentPage(t, "/v1/segments/churned/contacts")
	assert.Equal(t, int64(0), p.Total)
	assert.Equal(t, []string{}, segmentIDs(p.Contacts))
}

func TestSegmentContactsDefaultAndMaximumLimit(t *testing.T) {
	e := newEnv(t)
	for i := range 60 {
		e.seedContact(t, fmt.Sprintf("s%02d", i), models.StageSubscriber)
	}
	p := e.segmentPage(t, "/v1/segments/new_subscriber/contacts")
	assert.Equal(t, 50, p.Limit)
	assert.Equal(t, int64(60), p.Total)
	require.Len(t, p.Contacts, 50)
	assert.Equal(t, "s49", p.Contacts[49].ID)

	p = e.segmentPage(t, "/v1/segments/new_subscriber/contacts?limit=500&offset=55")
	assert.Equal(t, 500, p.Limit)
	assert.Equal(t, []string{"s55", "s56", "s57", "s58", "s59"}, segmentIDs(p.Contacts))
}

func TestSegmentContactsWithParamsAndTime(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"u1", "u2", "u3"} {
		e.seedContact(t, id, models.StageLead)
	}
	e.seedEvent(t, "u1", "page", "", segAt.Add(-time.Hour), map[string]any{"path": "/pricing", "url": "https://acme.example/pricing"})
	e.seedEvent(t, "u2", "page", "", segAt.Add(-40*24*time.Hour), map[string]any{"path": "/docs/pricing-api"})
	e.seedEvent(t, "u3", "page", "Home", segAt.Add(-time.Hour), map[string]any{"path": "/"})

	p := e.segmentPage(t, "/v1/segments/visited_page/contacts?page=%2Fpricing&"+segAtQuery)
	assert.Equal(t, map[string]string{"page": "/pricing"}, p.Params)
	assert.Equal(t, []string{"u1", "u2"}, segmentIDs(p.Contacts))

	p = e.segmentPage(t, "/v1/segments/active/contacts?"+segAtQuery)
	assert.Equal(t, []string{"u1", "u3"}, segmentIDs(p.Contacts))
	p = e.segmentPage(t, "/v1/segments/at_risk/contacts?"+segAtQuery)
	assert.Equal(t, []string{"u2"}, segmentIDs(p.Contacts))
	// As of two hours earlier, u1 and u3 had not visited yet.
	p = e.segmentPage(t, "/v1/segments/active/contacts?at=2026-03-01T10:00:00Z")
	assert.Equal(t, []string{}, segmentIDs(p.Contacts))
	// With an offset from UTC too.
	p = e.segmentPage(t, "/v1/segments/active/contacts?at=2026-03-01T13:30:00%2B01:00")
	assert.Equal(t, "2026-03-01T12:30:00Z", p.At)
	assert.Equal(t, []string{"u1", "u3"}, segmentIDs(p.Contacts))
}

func TestSegmentContactsErrors(t *testing.T) {
	e := newEnv(t)
	get := func(path string) *segmentCheck {
		return &segmentCheck{t: t, e: e, path: path}
	}
	get("/v1/segments/vip/contacts").is(http.StatusNotFound,
		`{"success":false,"error":"no segment \"vip\"; the segments are active, at_risk, dormant, new_subscriber, active_lead, trial_user, paying_customer, churned, visited_page, downloaded_content, used_feature, not_onboarded, retarget; GET /v1/segments describes them"}`)
	get("/v1/segments/visited_page/contacts").is(http.StatusBadRequest,
		`{"success":false,"field":"page","error":"segment visited_page: parameter \"page\" is required: a page name (Pricing), or part of its path or URL (/pricing)"}`)
	get("/v1/segments/visited_page/contacts?page=").is(http.StatusBadRequest,
		`{"success":false,"field":"page","error":"segment visited_page: parameter \"page\" is empty: a page name (Pricing), or part of its path or URL (/pricing)"}`)
	get("/v1/segments/visited_page/contacts?page=a&page=b").is(http.StatusBadRequest,
		`{"success":false,"field":"page","error":"page: give it once"}`)
	get("/v1/segments/used_feature/contacts?feature=x&features=y").is(http.StatusBadRequest,
		`{"success":false,"field":"features","error":"segment used_feature: parameter \"features\" is not a parameter of this segment, which takes only feature"}`)
	get("/v1/segments/active/contacts?page=x").is(http.StatusBadRequest,
		`{"success":false,"field":"page","error":"segment active: parameter \"page\" is not a parameter of this segment, which takes no parameters"}`)
	for _, q := range []string{"limit=0", "limit=501", "limit=ten", "limit=-1", "limit=1.5"} {
		_, v, _ := strings.Cut(q, "=")
		get("/v1/segments/active/contacts?"+q).is(http.StatusBadRequest,
			fmt.Sprintf(`{"success":false,"field":"limit","error":"limit: must be a whole number from 1 to 500, got \"%s\""}`, v))
	}
	for _, q := range []string{"offset=-1", "offset=x"} {
		_, v, _ := strings.Cut(q, "=")
		get("/v1/segments/active/contacts?"+q).is(http.StatusBadRequest,
			fmt.Sprintf(`{"success":false,"field":"offset","error":"offset: must be a whole number, 0 or more, got \"%s\""}`, v))
	}
	get("/v1/segments/active/contacts?limit=1&limit=2").is(http.StatusBadRequest,
		`{"success":false,"field":"limit","error":"limit: give it once"}`)
	get("/v1/segments/active/contacts?at=yesterday").is(http.StatusBadRequest,
		`{"success":false,"field":"at","error":"at: \"yesterday\" is not an RFC 3339 time like 2026-01-31T09:00:00Z"}`)
	get("/v1/segments").is(http.StatusOK, "")
	requireJSON(t, e.do(http.MethodPost, "/v1/segments", "", bearer(adminKey)), http.StatusMethodNotAllowed,
		`{"success":false,"error":"POST is not allowed on /v1/segments"}`)
}

type segmentCheck struct {
	t    *testing.T
	e    *env
	path string
}

// is checks the status, and the body when want is not empty.
func (r *segmentCheck) is(status int, want string) {
	r.t.Helper()
	rec := r.e.do(http.MethodGet, r.path, "", bearer(adminKey))
	if want == "" {
		require.Equal(r.t, status, rec.Code, "%s: %s", r.path, rec.Body.String())
		return
	}
	require.Equal(r.t, status, rec.Code, "%s: %s", r.path, rec.Body.String())
	require.JSONEq(r.t, want, rec.Body.String(), r.path)
}
