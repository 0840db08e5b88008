package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// A small March for the welcome: four emails (one bounced, two opened, one
// clicked), two runs (one converted), one attributed order.
func resultsFixture(t *testing.T, e *env) {
	t.Helper()
	db := e.store.DB()
	day := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	opened := day.Add(time.Hour)
	for i, m := range []models.Message{
		{Key: "m1", ContactID: "a", Step: "welcome", Status: workflows.StatusSent, DeliveryStatus: "bounced", RunID: "r1"},
		{Key: "m2", ContactID: "b", Step: "welcome", Status: workflows.StatusSent, OpenedAt: &opened, ClickedAt: &opened, RunID: "r2"},
		{Key: "m3", ContactID: "c", Step: "still_thinking", Status: workflows.StatusSent, OpenedAt: &opened, RunID: "r2"},
		{Key: "m4", ContactID: "d", Step: "still_thinking", Status: workflows.StatusSkipped, Reason: "frequency cap: 3 marketing emails already in the last 24h"},
	} {
		m.Journey, m.Channel, m.At, m.Marketing = "welcome_ecommerce", models.ChannelEmail, day.Add(time.Duration(i)*time.Minute), true
		require.NoError(t, db.Create(&m).Error)
	}
	require.NoError(t, db.Create(&[]models.JourneyRun{
		{RunID: "r1", Journey: "welcome_ecommerce", ContactID: "a", StartedAt: day},
		{RunID: "r2", Journey: "welcome_ecommerce", ContactID: "b", StartedAt: day, Outcome: workflows.OutcomeConverted, EndedAt: &opened},
	}).Error)
	mid := uint64(2)
	require.NoError(t, db.Create(&models.Order{ID: "o1", OrderID: "o1", ContactID: "b", Total: 90, Status: "completed",
		Journey: "welcome_ecommerce", MessageID: &mid, OrderedAt: opened}).Error)
}

func TestJourneyMetricsAPI(t *testing.T) {
	e := newEnv(t)
	resultsFixture(t, e)

	rec := e.do(http.MethodGet, "/v1/metrics/journeys?from=2026-03-01&to=2026-03-31", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		From, To  time.Time
		CountedBy string           `json:"counted_by"`
		Journeys  []map[string]any `json:"journeys"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), got.From)
	assert.Equal(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), got.To, "a date as to runs through that day")
	assert.Equal(t, "send date", got.CountedBy)
	require.Len(t, got.Journeys, len(workflows.JourneyNames()), "every journey, in the catalog's order")
	var welcome map[string]any
	for _, j := range got.Journeys {
		if j["journey"] == "welcome_ecommerce" {
			welcome = j
		}
	}
	require.NotNil(t, welcome)
	for k, want := range map[string]any{
		"entered": 2.0, "converted": 1.0, "conversion_rate": 0.5, "sent": 3.0, "delivered": 2.0, "opened": 2.0, "open_rate": 1.0,
		"clicked": 1.0, "click_rate": 0.5, "click_to_open_rate": 0.5, "bounced": 1.0, "bounce_rate": 1.0 / 3, "unsubscribed": 0.0,
		"unsubscribe_rate": 0.0, "skipped": 1.0, "skipped_by_reason": map[string]any{"frequency cap": 1.0}, "orders": 1.0,
		"revenue": 90.0, "revenue_per_recipient": 45.0, "active": 1.0,
	} {
		assert.Equal(t, want, welcome[k], k)
	}
	other := got.Journeys[len(got.Journeys)-1]
	assert.Nil(t, other["open_rate"], "no email: the rate is null")
	assert.Contains(t, other, "open_rate")

	// One journey, with its steps in the order they were first sent.
	rec = e.do(http.MethodGet, "/v1/metrics/journeys/welcome_ecommerce?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var one struct {
		Journey map[string]any   `json:"journey"`
		Steps   []map[string]any `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &one))
	assert.Equal(t, 2.0, one.Journey["entered"])
	require.Len(t, one.Steps, 2)
	assert.Equal(t, []any{"welcome", 2.0, 2.0, 1.0, 1.0, 1.0}, []any{one.Steps[0]["step"], one.Steps[0]["entered"], one.Steps[0]["sent"],
		one.Steps[0]["opened"], one.Steps[0]["clicked"], one.Steps[0]["converted"]})
	assert.Equal(t, []any{"still_thinking", 2.0, 1.0, 1.0, 1.0}, []any{one.Steps[1]["step"], one.Steps[1]["entered"], one.Steps[1]["sent"],
		one.Steps[1]["skipped"], one.Steps[1]["converted"]})

	// The same as CSV, an undefined rate an empty cell.
	rec = e.do(http.MethodGet, "/v1/metrics/journeys?from=2026-03-01&to=2026-03-31&format=csv", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	require.Len(t, lines, 1+len(workflows.JourneyNames()))
	assert.Equal(t, "journey,entered,converted,conversion_rate,active,sent,delivered,deliverability_rate,opened,open_rate,clicked,click_rate,click_to_open_rate,unsubscribed,unsubscribe_rate,bounced,bounce_rate,complaints,skipped,sms_sent,sms_delivered,sms_failed,orders,revenue,revenue_per_recipient,discounts_redeemed,inapp_sent,inapp_read,inapp_clicked", lines[0])
	assert.Contains(t, lines, "welcome_ecommerce,2,1,0.5000,1,3,2,0.6667,2,1.0000,1,0.5000,0.5000,0,0.0000,1,0.3333,0,1,0,0,0,1,90.00,45.00,0,0,0,0")
	assert.Contains(t, lines, "winback,0,0,,0,0,0,,0,,0,,,0,,0,,0,0,0,0,0,0,0.00,,0,0,0,0")
}

func TestJourneyMetricsAPIRefusesBadQueries(t *testing.T) {
	e := newEnv(t)
	for q, want := range map[string]string{
		"from=yesterday":                `from: want an RFC 3339 time (2026-03-01T00:00:00Z) or a date (2026-03-01), got \"yesterday\"`,
		"from=2026-03-10&to=2026-03-01": "from (2026-03-10T00:00:00Z) must be before to (2026-03-02T00:00:00Z)",
		"to=2026-13-01":                 `to: want an RFC 3339 time (2026-03-01T00:00:00Z) or a date (2026-03-01), got \"2026-13-01\"`,
		"format=xml":                    `format: want json or csv, got \"xml\"`,
		"from=2020-01-01&to=2026-01-01": "the period may be at most two years long",
		"from=bad&format=pdf":           `from: want an RFC 3339 time (2026-03-01T00:00:00Z) or a date (2026-03-01), got \"bad\"; format: want json or csv, got \"pdf\"`,
	} {
		rec := e.do(http.MethodGet, "/v1/metrics/journeys?"+q, "", bearer(adminKey))
		assert.Equal(t, http.StatusBadRequest, rec.Code, q)
		assert.Equal(t, `{"success":false,"error":"`+want+`"}`, strings.TrimSpace(rec.Body.String()), q)
	}
	rec := e.do(http.MethodGet, "/v1/metrics/journeys/nope", "", bearer(adminKey))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, rec.Body.String(), `no journey \"nope\" (journeys: `)
	rec = e.do(http.MethodGet, "/v1/metrics/journeys", "", bearer(writeKey))
	assert.Equal(t, http.StatusForbidden, rec.Code, "a write key, public in web pages, reads no results")
}

func TestPipelineAndListHealthAPI(t *testing.T) {
	e := newEnv(t)
	db := e.store.DB()
	lead := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	require.NoError(t, db.Create(&models.Contact{ID: "p1", Email: "p1@example.com", LifecycleStage: "mql", CreatedAt: lead.Add(-24 * time.Hour), Traits: map[string]any{}}).Error)
	require.NoError(t, db.Create(&[]models.StageChange{
		{ContactID: "p1", ToStage: "subscriber", At: lead.Add(-24 * time.Hour)},
		{ContactID: "p1", FromStage: "subscriber", ToStage: "lead", At: lead},
		{ContactID: "p1", FromStage: "lead", ToStage: "mql", At: lead.Add(36 * time.Hour)},
	}).Error)

	rec := e.do(http.MethodGet, "/v1/metrics/pipeline?from=2026-03-01&to=2026-03-31", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var pl struct {
		Pipeline models.Pipeline `json:"pipeline"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &pl))
	assert.Equal(t, models.StageCount{Stage: "mql", Contacts: 1}, pl.Pipeline.Stages[2])
	assert.Equal(t, 1.0, *pl.Pipeline.Conversions[0].Rate)
	assert.Equal(t, 36.0, *pl.Pipeline.TimeInStage[1].MedianHours)

	rec = e.do(http.MethodGet, "/v1/metrics/pipeline?from=2026-03-01&to=2026-03-31&format=csv", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "stage,contacts,stays,median_hours,p90_hours\nsubscriber,0,1,24.0,24.0\nlead,0,1,36.0,36.0\nmql,1,0,,\nsql,0,0,,\ntrial,0,0,,\ncustomer,0,0,,\nchurned,0,0,,\n", rec.Body.String())

	rec = e.do(http.MethodGet, "/v1/metrics/list-health?from=2026-03-01&to=2026-03-02&format=csv", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "day,new,unsubscribed,net\n2026-03-01,1,0,1\n2026-03-02,0,0,0\n", rec.Body.String())
	rec = e.do(http.MethodGet, "/v1/metrics/list-health?from=2026-03-01&to=2026-03-02", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code)
	var lh struct {
		ListHealth models.ListHealth `json:"list_health"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &lh))
	assert.Equal(t, int64(1), lh.ListHealth.ListSize)
	require.Len(t, lh.ListHealth.Thresholds, 3)
	assert.Nil(t, lh.ListHealth.Thresholds[0].Pass, "no email in the period: neither pass nor fail")

	rec = e.do(http.MethodGet, "/v1/metrics/list-health?to=soon", "", bearer(adminKey))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `to: want an RFC 3339 time`)
}

func TestOverviewAPI(t *testing.T) {
	e := newEnv(t)
	resultsFixture(t, e)
	rec := e.do(http.MethodGet, "/v1/metrics/overview?from=2026-03-01&to=2026-03-31", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		PreviousFrom time.Time       `json:"previous_from"`
		Overview     models.Overview `json:"overview"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, time.Date(2026, 1, 29, 0, 0, 0, 0, time.UTC), got.PreviousFrom, "the 31 days before March")
	require.Equal(t, "emails_sent", got.Overview.KPIs[0].Name)
	assert.Equal(t, 3.0, *got.Overview.KPIs[0].Value)
	assert.Equal(t, 0.0, *got.Overview.KPIs[0].Previous)
	assert.Nil(t, got.Overview.KPIs[0].Relative, "no change can be told against nothing")
	rec = e.do(http.MethodGet, "/v1/metrics/overview?from=2026-03-05&to=2026-03-06&format=csv", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "day,sent,opened,clicked,revenue\n2026-03-05,3,2,1,90.00\n2026-03-06,0,0,0,0.00\n", rec.Body.String())
}
