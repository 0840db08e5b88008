package gateway

import (
	"net/http"
	"testing"
)

// Orders that came in through the gateway are credited to journeys, and the
// report sums them. The click is Nudge's own event, so an admin key imports it.
func TestRevenueReport(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.do(http.MethodPost, "/v1/batch", `{"batch":[
		{"type":"track","userId":"u1","messageId":"c1","event":"Email Link Clicked","timestamp":"2026-01-10T10:00:00Z","properties":{"journey":"welcome_ecommerce","message_id":4,"url":"https://shop.example.com"}},
		{"type":"track","userId":"u1","messageId":"o1","event":"Order Completed","timestamp":"2026-01-11T10:00:00Z","properties":{"order_id":"1001","total":64.5}},
		{"type":"track","userId":"u2","messageId":"o2","event":"Order Completed","timestamp":"2026-01-11T11:00:00Z","properties":{"order_id":"1002","total":10}}
	]}`, "Content-Type: application/json", bearer(adminKey)), http.StatusOK, okBody)
	rec := e.do(http.MethodGet, "/v1/reports/revenue?since=2026-01-01T00:00:00Z", "", bearer(adminKey))
	requireJSON(t, rec, http.StatusOK, `{"since":"2026-01-01T00:00:00Z",
		"journeys":[{"journey":"welcome_ecommerce","orders":1,"revenue":64.5}],
		"cart_recovery":{"abandoned":0,"recovered":0,"rate":0,"revenue":0}}`)

	rec = e.do(http.MethodGet, "/v1/reports/revenue?since=yesterday", "", bearer(adminKey))
	requireJSON(t, rec, http.StatusBadRequest, `{"success":false,"error":"since: \"yesterday\" is neither an RFC 3339 time nor a duration like 720h"}`)
}
