package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const form = "Content-Type: application/x-www-form-urlencoded"

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
	for _, load := range []string{"<script", "<link", `src="http`, "url(http", "@import"} {
		assert.False(t, strings.Contains(page, load), "the page loads something from elsewhere: %s", load)
	}

	rec = e.do(http.MethodGet, "/dashboard/journeys?"+period, "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	has(rec.Body.String(), `<td>2</td><td>1</td><td>50.0%</td><td>1</td><td>3</td><td>100.0%</td><td>50.0%</td><td>0.0%</td><td>33.3%</td><td>$90.00</td>`)

	rec = e.do(http.MethodGet, "/dashboard/journeys/welcome_ecommerce?"+period, "", cookie)
	require.Equal(t, http.StatusOK, rec.Code)
	page = rec.Body.String()
	for _, label := range []string{"<svg", ">Funnel<", ">entered<", ">converted<"} {
		has(page, label)
	}
	has(page, `<tr data-step="welcome"><td>welcome</td><td>email</td><td>2</td><td>2</td><td>1</td><td>1</td><td>1</td>`)
	has(page, `<span class="muted">frequency cap: 1</span>`)

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
