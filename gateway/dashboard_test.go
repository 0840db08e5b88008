package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const form = "Content-Type: application/x-www-form-urlencoded"

// How the charts write the pass and fail colours.
const (
	red   = "red"
	green = "green"
)

// signIn signs the dashboard in with key and returns the session cookie
// as a request header.
func (e *env) signIn(t *testing.T) string {
	t.Helper()
	rec := e.do(http.MethodPost, "/dashboard/login", "key="+url.QueryEscape(adminKey)+"&next=%2Fdashboard%2Fjourneys", form)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Equal(t, "/dashboard/journeys", rec.Header().Get("Location"))
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, dashboardCookie, c.Name)
	assert.Equal(t, "/dashboard", c.Path)
	assert.True(t, c.HttpOnly, "page scripts cannot read it")
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	return "Cookie: " + c.Name + "=" + c.Value
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	require.NotNil(t, m, "the page has no CSRF field")
	return m[1]
}

func TestDashboardSignIn(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodGet, "/dashboard/journeys?days=7", "")
	require.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/dashboard/login?next=%2Fdashboard%2Fjourneys%3Fdays%3D7", rec.Header().Get("Location"))

	rec = e.do(http.MethodPost, "/dashboard/login", "key="+writeKey, form)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "That is a write key, which web pages carry. The dashboard takes an admin key.")
	rec = e.do(http.MethodPost, "/dashboard/login", "key=guess", form)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Empty(t, rec.Result().Cookies())

	// After sign-in, a next that leaves the dashboard is not followed.
	rec = e.do(http.MethodPost, "/dashboard/login", "key="+url.QueryEscape(adminKey)+"&next=%2F%2Fevil.example%2F", form)
	assert.Equal(t, "/dashboard", rec.Header().Get("Location"))

	cookie := e.signIn(t)
	rec = e.do(http.MethodGet, "/dashboard/journeys", "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	// Signing out needs the form's token, and ends the session.
	rec = e.do(http.MethodPost, "/dashboard/logout", "csrf=forged", cookie, form)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	rec = e.do(http.MethodPost, "/dashboard/logout", "csrf="+url.QueryEscape(csrfOf(t, e.do(http.MethodGet, "/dashboard/journeys", "", cookie).Body.String())), cookie, form)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Len(t, rec.Result().Cookies(), 1)
	assert.Equal(t, -1, rec.Result().Cookies()[0].MaxAge)

	// A session from a key no longer configured is over.
	e.gw.Config.AdminKeys = []string{"ak_another"}
	rec = e.do(http.MethodGet, "/dashboard", "", cookie)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
}

func TestDashboardPages(t *testing.T) {
	e := newEnv(t)
	resultsFixture(t, e)
	cookie := e.signIn(t)
	period := "from=2026-03-01&to=2026-03-31"

	rec := e.do(http.MethodGet, "/dashboard?"+period, "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	page := rec.Body.String()
	has := func(page, want string) {
		t.Helper()
		assert.True(t, strings.Contains(page, want), "the page lacks %s", want)
	}
	has(page, `<div class="tile" data-kpi="emails_sent"><span class="muted">Emails sent</span><b>3</b>`)
	has(page, `<span class="up">&#43;3</span> against 0`)
	has(page, `<div class="tile" data-kpi="open_rate"><span class="muted">Open rate</span><b>100.0%</b>`)
	has(page, `<div class="tile" data-kpi="revenue"><span class="muted">Revenue</span><b>$90.00</b>`)
	has(page, `<a href="/dashboard/journeys?from=2026-03-01T00%3A00%3A00Z&amp;to=2026-04-01T00%3A00%3A00Z" >Journeys</a>`)
	has(page, `<a href="?days=7" >7 days</a>`)
	has(page, `<input type="date" name="to" value="2026-03-31">`)
	// The chart: SVG in the page, with its title and series.
	has(page, `<div class="card"><svg xmlns="http://www.w3.org/2000/svg"`)
	for _, label := range []string{">Emails by send date<", ">sent<", ">opened<", ">clicked<", ">03-01<"} {
		has(page, label)
	}
	for _, load := range []string{"<script", `rel="stylesheet"`, `src="http`, "url(http", "@import"} {
		assert.False(t, strings.Contains(page, load), "the page loads something from elsewhere: %s", load)
	}

	rec = e.do(http.MethodGet, "/dashboard/journeys?"+period, "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	page = rec.Body.String()
	has(page, `<td>2</td><td>1</td><td>50.0%</td><td>1</td><td>3</td><td class="spark"><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 120 30">`)
	has(page, `</svg></td><td>100.0%</td><td>50.0%</td><td>0.0%</td><td>33.3%</td><td>$90.00</td>`)
	// One sparkline per journey, each a drawn line.
	assert.Equal(t, len(workflows.JourneyNames()), strings.Count(page, `<td class="spark"><svg`))
	assert.GreaterOrEqual(t, strings.Count(page, `<path`), len(workflows.JourneyNames()))

	rec = e.do(http.MethodGet, "/dashboard/journeys/welcome_ecommerce?"+period, "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	page = rec.Body.String()
	for _, label := range []string{"<svg", ">Funnel<", ">entered<", ">converted<"} {
		has(page, label)
	}
	has(page, `<tr data-step="welcome"><td>welcome</td><td>email</td><td>2</td><td>2</td><td>1</td><td>1</td><td>1</td>`)
	has(page, `<span class="muted">frequency cap: 1</span>`)

	rec = e.do(http.MethodGet, "/dashboard?days=7", "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	has(rec.Body.String(), `<a href="?days=7" class="on">7 days</a>`)
	rec = e.do(http.MethodGet, "/dashboard?days=8", "", cookie)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	has(rec.Body.String(), `days: want 7, 30 or 90, got \"8\"`)
	rec = e.do(http.MethodGet, "/dashboard?from=soon", "", cookie)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "from: want an RFC 3339 time")
	rec = e.do(http.MethodGet, "/dashboard/journeys/nope", "", cookie)
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestDashboardPausesAJourney(t *testing.T) {
	e := newEnv(t)
	cookie := e.signIn(t)
	page := e.do(http.MethodGet, "/dashboard/journeys/winback", "", cookie).Body.String()
	token := csrfOf(t, page)
	assert.Contains(t, page, `action="/dashboard/journeys/winback/pause"`)

	rec := e.do(http.MethodPost, "/dashboard/journeys/winback/pause", "reason=bad+copy", cookie, form)
	assert.Equal(t, http.StatusForbidden, rec.Code, "no token: a form from another site")
	paused, err := e.store.JourneyPaused(t.Context(), "winback")
	require.NoError(t, err)
	require.False(t, paused)

	rec = e.do(http.MethodPost, "/dashboard/journeys/winback/pause", "reason=bad+copy&csrf="+url.QueryEscape(token), cookie, form)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	paused, err = e.store.JourneyPaused(t.Context(), "winback")
	require.NoError(t, err)
	require.True(t, paused)
	page = e.do(http.MethodGet, "/dashboard/journeys/winback", "", cookie).Body.String()
	assert.Contains(t, page, `<span class="paused">paused</span> by dashboard: bad copy.`)
	assert.True(t, strings.Contains(e.do(http.MethodGet, "/dashboard/journeys", "", cookie).Body.String(), `winback</a> <span class="paused">paused</span>`))

	rec = e.do(http.MethodPost, "/dashboard/journeys/winback/resume", "csrf="+url.QueryEscape(token), cookie, form)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	paused, err = e.store.JourneyPaused(t.Context(), "winback")
	require.NoError(t, err)
	assert.False(t, paused)
	assert.Equal(t, []string{`Journey = "winback" AND ExecutionStatus = 'Running'`}, e.tc.listed, "resuming tells the held runs")
}

func TestDashboardPipelineListHealthAndContacts(t *testing.T) {
	e := newEnv(t)
	resultsFixture(t, e)
	db := e.store.DB()
	lead := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	require.NoError(t, db.Create(&models.Contact{ID: "p1", Email: "p1@example.com", FirstName: "Pia", LifecycleStage: "mql", LeadScore: 85,
		CreatedAt: lead.Add(-24 * time.Hour), Traits: map[string]any{}}).Error)
	require.NoError(t, db.Create(&[]models.StageChange{
		{ContactID: "p1", ToStage: "subscriber", At: lead.Add(-24 * time.Hour), Reason: "created"},
		{ContactID: "p1", FromStage: "subscriber", ToStage: "lead", At: lead, Reason: "Demo Requested"},
		{ContactID: "p1", FromStage: "lead", ToStage: "mql", At: lead.Add(72 * time.Hour), Reason: "lead score 85 reached the MQL threshold 80"},
	}).Error)
	cookie := e.signIn(t)
	period := "from=2026-03-01&to=2026-03-31"
	has := func(page, want string) {
		t.Helper()
		assert.True(t, strings.Contains(page, want), "the page lacks %s", want)
	}

	rec := e.do(http.MethodGet, "/dashboard/pipeline?"+period, "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	page := rec.Body.String()
	has(page, `<div class="tile" data-conversion="lead-mql"><span class="muted">lead → mql</span><b>100.0%</b><span class="muted">1 of 1 who became lead in the period</span>`)
	has(page, `<tr data-stage="lead"><td>lead</td><td>0</td><td>1</td><td>3.0 days</td><td>3.0 days</td></tr>`)
	has(page, `<tr data-stage="subscriber"><td>subscriber</td><td>0</td><td>1</td><td>24.0 hours</td><td>24.0 hours</td></tr>`)
	has(page, ">Contacts by stage now<")

	// Three emails in March, one bounced: deliverability 67%, bounces 33%.
	rec = e.do(http.MethodGet, "/dashboard/list-health?"+period, "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	page = rec.Body.String()
	has(page, `<tr data-threshold="deliverability_rate"><td>Deliverability</td><td>66.7%</td><td>at least 95%</td><td><span class="fail">fail</span></td></tr>`)
	has(page, `<tr data-threshold="unsubscribe_rate"><td>Unsubscribe rate</td><td>0.0%</td><td>under 0.5%</td><td><span class="pass">pass</span></td></tr>`)
	has(page, ">Growth by day<")
	// Each rule's rate by day beside its limit: red when the period fails,
	// green when it passes.
	trends := strings.Split(page, `<div class="card trend">`)[1:]
	require.Len(t, trends, 3)
	for i, want := range []struct{ title, colour string }{
		{">Deliverability by day, at least 95%<", red},
		{">Unsubscribe rate by day, under 0.5%<", green},
		{">Bounce rate by day, under 2%<", red},
	} {
		has(trends[i], want.title)
		has(trends[i], "stroke:"+want.colour)
		has(trends[i], ">limit %<")
	}
	rec = e.do(http.MethodGet, "/dashboard/list-health?from=2026-01-01&to=2026-01-31", "", cookie)
	has(rec.Body.String(), `<td>—</td><td>under 2%</td><td><span class="muted">no email to judge</span></td>`)

	rec = e.do(http.MethodGet, "/dashboard/contacts?q=p1", "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	page = rec.Body.String()
	has(page, `<div class="card" data-contact="p1">`)
	has(page, `stage <b>mql</b> · lead score <b>85</b>`)
	has(page, `<td>lead</td><td>mql</td><td>lead score 85 reached the MQL threshold 80</td>`)
	has(page, `href="http://temporal-ui.test/namespaces/default/workflows/contact%2Fp1"`)
	// Found by the address it was identified with, in any case.
	requireJSON(t, e.post("/v1/identify", `{"userId":"ana@example.com","messageId":"i-ana","traits":{"firstName":"Ana"}}`), http.StatusOK, okBody)
	rec = e.do(http.MethodGet, "/dashboard/contacts?q=Ana%40Example.com", "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	has(rec.Body.String(), "<h2>Ana</h2>")

	rec = e.do(http.MethodGet, "/dashboard/contacts?q=nobody", "", cookie)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	has(rec.Body.String(), `No contact &#34;nobody&#34;.`)
}
