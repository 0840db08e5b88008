package gateway

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/ads"
	"github.com/nudgehq/nudge/chart"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The dashboard, at /dashboard: the results API as pages, for marketers.
// Pages are html/template with go:embed (templates/pages/dashboard_*.html)
// and SVG charts drawn on the server (charts.go); nothing loads from
// another site. It lives in the gateway, beside the API it shows, and
// shares its admin keys, sessions and pause logic.
//
// Sign-in trades an admin key for a cookie (HttpOnly, SameSite=Strict,
// Path=/dashboard, Secure over https, 12 hours); a form that changes
// something carries a CSRF token made from that cookie.

const (
	dashboardCookie  = "nudge_dashboard"
	dashboardSession = 12 * time.Hour
)

func (g *Gateway) dashboardRoutes(r *gin.Engine) {
	r.GET("/dashboard/login", g.dashboardLoginPage)
	r.POST("/dashboard/login", g.dashboardLogin)
	d := r.Group("/dashboard", g.requireDashboard)
	d.POST("/logout", g.dashboardLogout)
	d.GET("", g.dashboardOverview)
	d.GET("/journeys", g.dashboardJourneys)
	d.GET("/journeys/:name", g.dashboardJourney)
	d.POST("/journeys/:name/pause", g.dashboardPause)
	d.POST("/journeys/:name/resume", g.dashboardPause)
	d.GET("/pipeline", g.dashboardPipeline)
	d.GET("/list-health", g.dashboardListHealth)
	d.GET("/contacts", g.dashboardContacts)
	d.GET("/ads", g.dashboardAds)
}

// requireDashboard lets through a browser signed in with an admin key that
// is still configured, and checks the CSRF token of every POST.
func (g *Gateway) requireDashboard(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	cookie, err := c.Cookie(dashboardCookie)
	if err != nil || !g.adminSession(cookie, g.Links.CheckDashboardSession) {
		if c.Request.Method == http.MethodGet {
			c.Redirect(http.StatusSeeOther, "/dashboard/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		} else {
			fail(c, http.StatusUnauthorized, "sign in at /dashboard/login")
		}
		c.Abort()
		return
	}
	if c.Request.Method == http.MethodPost && !g.Links.CheckCSRF(cookie, c.PostForm("csrf")) {
		fail(c, http.StatusForbidden, "this form is stale or from another site: reload the page and try again")
		c.Abort()
		return
	}
	c.Set("csrf", g.Links.CSRF(cookie))
	c.Next()
}

type loginPage struct {
	Error, Next string
}

func (g *Gateway) dashboardLoginPage(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	g.page(c, http.StatusOK, "dashboard_login.html", loginPage{Next: safeNext(c.Query("next"))})
}

// safeNext keeps a redirect after sign-in on the dashboard.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/dashboard") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/dashboard"
}

func (g *Gateway) dashboardLogin(c *gin.Context) {
	key, refused, problem := g.signInKey(c, "That is a write key, which web pages carry. The dashboard takes an admin key.")
	d := loginPage{Next: safeNext(c.PostForm("next")), Error: problem}
	if refused != 0 {
		g.page(c, refused, "dashboard_login.html", d)
		return
	}
	until := time.Now().Add(dashboardSession)
	http.SetCookie(c.Writer, &http.Cookie{
		Name: dashboardCookie, Value: g.Links.DashboardSession(keyTag(key), until), Path: "/dashboard",
		Expires: until, MaxAge: int(dashboardSession / time.Second), HttpOnly: true,
		Secure: strings.HasPrefix(g.Config.PublicURL, "https://"), SameSite: http.SameSiteStrictMode,
	})
	c.Redirect(http.StatusSeeOther, d.Next)
}

func (g *Gateway) dashboardLogout(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: dashboardCookie, Value: "", Path: "/dashboard", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	c.Redirect(http.StatusSeeOther, "/dashboard/login")
}

// dashPage is what every dashboard page has: where it is, the period and
// its picker, and the CSRF token for its forms.
type dashPage struct {
	Title, Nav string
	Period     models.Period
	Query      template.URL // from=…&to=… of the period, for links
	Ranges     []dashRange
	CSRF       string
}

type dashRange struct {
	Label   string
	Query   template.URL
	Current bool
}

// dashPeriod reads the period like the API does (from, to, or days=7|30|90),
// answering 400 with the API's message when it is wrong.
func (g *Gateway) dashPeriod(c *gin.Context, title, nav string) (dashPage, bool) {
	from := c.Query("from")
	if days := c.Query("days"); days != "" && from == "" {
		n := map[string]int{"7": 7, "30": 30, "90": 90}[days]
		if n == 0 {
			fail(c, http.StatusBadRequest, fmt.Sprintf("days: want 7, 30 or 90, got %q", clip(days)))
			return dashPage{}, false
		}
		from = time.Now().UTC().Add(-time.Duration(n) * 24 * time.Hour).Format(time.RFC3339)
	}
	p, _, problem := parsePeriod(from, c.Query("to"), "")
	if problem != "" {
		fail(c, http.StatusBadRequest, problem)
		return dashPage{}, false
	}
	d := dashPage{Title: title, Nav: nav, Period: p, CSRF: c.GetString("csrf"),
		Query: template.URL("from=" + url.QueryEscape(p.From.Format(time.RFC3339)) + "&to=" + url.QueryEscape(p.To.Format(time.RFC3339)))}
	span := p.To.Sub(p.From).Round(time.Hour)
	for _, n := range []int{7, 30, 90} {
		d.Ranges = append(d.Ranges, dashRange{Label: fmt.Sprintf("%d days", n), Query: template.URL(fmt.Sprintf("days=%d", n)),
			Current: span == time.Duration(n)*24*time.Hour})
	}
	return d, true
}

type overviewPage struct {
	dashPage
	KPIs  []models.KPI
	Chart template.HTML
}

func (g *Gateway) dashboardOverview(c *gin.Context) {
	d, ok := g.dashPeriod(c, "Overview", "overview")
	if !ok {
		return
	}
	o, err := g.Store.Overview(c.Request.Context(), d.Period)
	if err != nil {
		g.serverError(c, "read the overview", err)
		return
	}
	daily, err := svg(chart.DailyEmails(chart.SVG, o.Daily, 900, 320))
	if err != nil {
		g.serverError(c, "draw the overview chart", err)
		return
	}
	g.page(c, http.StatusOK, "dashboard_overview.html", overviewPage{dashPage: d, KPIs: o.KPIs, Chart: daily})
}

type journeysPage struct {
	dashPage
	Journeys []journeyLine
}

type journeyLine struct {
	models.JourneyMetrics
	Paused    bool
	Sparkline template.HTML // emails sent per day
}

func (g *Gateway) dashboardJourneys(c *gin.Context) {
	d, ok := g.dashPeriod(c, "Journeys", "journeys")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ms, err := g.Store.JourneyMetrics(ctx, workflows.JourneyNames(), d.Period)
	if err != nil {
		g.serverError(c, "read journey metrics", err)
		return
	}
	paused, err := g.Store.PausedJourneys(ctx)
	if err != nil {
		g.serverError(c, "read paused journeys", err)
		return
	}
	daily, err := g.Store.JourneyDailySent(ctx, workflows.JourneyNames(), d.Period)
	if err != nil {
		g.serverError(c, "read the journeys' daily sends", err)
		return
	}
	page := journeysPage{dashPage: d}
	for _, m := range ms {
		values := make([]float64, len(daily[m.Journey]))
		for i, n := range daily[m.Journey] {
			values[i] = float64(n)
		}
		spark, err := svg(chart.Sparkline(chart.SVG, values, 120, 30))
		if err != nil {
			g.serverError(c, "draw a sparkline", err)
			return
		}
		page.Journeys = append(page.Journeys, journeyLine{JourneyMetrics: m, Paused: slices.Contains(paused, m.Journey), Sparkline: spark})
	}
	g.page(c, http.StatusOK, "dashboard_journeys.html", page)
}

type journeyPage struct {
	dashPage
	Journey models.JourneyMetrics
	Steps   []models.StepMetrics
	Pause   models.JourneyPause
	Funnel  template.HTML
}

func (g *Gateway) dashboardJourney(c *gin.Context) {
	name, ok := journeyName(c)
	if !ok {
		return
	}
	d, ok := g.dashPeriod(c, name, "journeys")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ms, err := g.Store.JourneyMetrics(ctx, []string{name}, d.Period)
	if err != nil {
		g.serverError(c, "read journey metrics", err)
		return
	}
	steps, err := g.Store.JourneySteps(ctx, name, d.Period)
	if err != nil {
		g.serverError(c, "read journey steps", err)
		return
	}
	pauses, err := g.Store.JourneyPauses(ctx)
	if err != nil {
		g.serverError(c, "read journey pauses", err)
		return
	}
	page := journeyPage{dashPage: d, Journey: ms[0], Steps: steps, Pause: models.JourneyPause{Journey: name}}
	for _, p := range pauses {
		if p.Journey == name {
			page.Pause = p
		}
	}
	j := ms[0]
	page.Funnel, err = svg(chart.Funnel(chart.SVG, "Funnel", []string{"entered", "sent", "opened", "clicked", "converted"},
		[]float64{float64(j.Entered), float64(j.Sent), float64(j.Opened), float64(j.Clicked), float64(j.Converted)}, 600, 320))
	if err != nil {
		g.serverError(c, "draw the funnel", err)
		return
	}
	g.page(c, http.StatusOK, "dashboard_journey.html", page)
}

// dashboardPause pauses or resumes the journey from its page, as the API
// does, and goes back to the page.
func (g *Gateway) dashboardPause(c *gin.Context) {
	name, ok := journeyName(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	pause := strings.HasSuffix(c.Request.URL.Path, "/pause")
	reason := strings.TrimSpace(c.PostForm("reason"))
	if len(reason) > 500 {
		fail(c, http.StatusBadRequest, fmt.Sprintf("reason: at most 500 bytes, got %d", len(reason)))
		return
	}
	if _, err := g.setPaused(ctx, name, pause, reason, "dashboard"); err != nil {
		g.serverError(c, "change the journey's pause", err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/dashboard/journeys/"+url.PathEscape(name))
}

// svg puts a chart drawn here into a page as it is. It is ours, built from
// figures and names in this code, not from anything a visitor sent.
func svg(b []byte, err error) (template.HTML, error) {
	return template.HTML(b), err // #nosec G203
}

// pageFuncs format figures in pages: rates as percentages, an undefined
// one as a dash.
var pageFuncs = template.FuncMap{
	"pct": func(r *float64) string {
		if r == nil {
			return "—"
		}
		return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
	},
	"money": func(v float64) string { return "$" + strconv.FormatFloat(v, 'f', 2, 64) },
	// micros writes an ad amount (micros of the account currency).
	"micros": func(v int64) string { return ads.Micros(v).String() },
	"label":  models.KPILabel,
	"kpi": func(name string, v *float64) string {
		if name == "revenue" && v != nil {
			return "$" + models.FormatKPI(name, v)
		}
		return models.FormatKPI(name, v)
	},
	"change": models.FormatKPIChange,

	"deref":  func(v *float64) float64 { return *v },
	"deref2": func(v *bool) bool { return *v },
	"hours": func(h *float64) string {
		switch {
		case h == nil:
			return "—"
		case *h >= 48:
			return strconv.FormatFloat(*h/24, 'f', 1, 64) + " days"
		}
		return strconv.FormatFloat(*h, 'f', 1, 64) + " hours"
	},
	// day is the last day a period covers: its end is exclusive.
	"day": func(t time.Time) string { return t.Add(-time.Nanosecond).Format(time.DateOnly) },
}

type pipelinePage struct {
	dashPage
	Pipeline models.Pipeline
	Funnel   template.HTML
}

func (g *Gateway) dashboardPipeline(c *gin.Context) {
	d, ok := g.dashPeriod(c, "Pipeline", "pipeline")
	if !ok {
		return
	}
	pl, err := g.Store.Pipeline(c.Request.Context(), d.Period)
	if err != nil {
		g.serverError(c, "read the pipeline", err)
		return
	}
	var names []string
	var values []float64
	for _, st := range pl.Stages[:len(pl.Stages)-1] { // the funnel, without churned
		names, values = append(names, st.Stage), append(values, float64(st.Contacts))
	}
	funnel, err := svg(chart.Funnel(chart.SVG, "Contacts by stage now", names, values, 600, 320))
	if err != nil {
		g.serverError(c, "draw the stage funnel", err)
		return
	}
	g.page(c, http.StatusOK, "dashboard_pipeline.html", pipelinePage{dashPage: d, Pipeline: pl, Funnel: funnel})
}

type listHealthPage struct {
	dashPage
	Health models.ListHealth
	Chart  template.HTML
	// Trends draw each threshold's rate by day against its limit.
	Trends []template.HTML
}

func (g *Gateway) dashboardListHealth(c *gin.Context) {
	d, ok := g.dashPeriod(c, "List health", "list-health")
	if !ok {
		return
	}
	h, err := g.Store.ListHealth(c.Request.Context(), d.Period, time.Now())
	if err != nil {
		g.serverError(c, "read list health", err)
		return
	}
	labels := make([]string, len(h.Daily))
	joined, left := make([]float64, len(h.Daily)), make([]float64, len(h.Daily))
	for i, day := range h.Daily {
		labels[i], joined[i], left[i] = day.Day[5:], float64(day.New), float64(day.Unsubscribed)
	}
	growth, err := svg(chart.Line(chart.SVG, "Growth by day", labels, []string{"new", "unsubscribed"}, [][]float64{joined, left}, 900, 300))
	if err != nil {
		g.serverError(c, "draw the growth chart", err)
		return
	}
	page := listHealthPage{dashPage: d, Health: h, Chart: growth}
	for _, th := range h.Thresholds {
		trend, err := svg(chart.Threshold(chart.SVG, models.KPILabel(th.Metric)+" by day, "+th.Rule, labels, th.Daily, th.Limit, th.Pass, 900, 260))
		if err != nil {
			g.serverError(c, "draw a threshold chart", err)
			return
		}
		page.Trends = append(page.Trends, trend)
	}
	g.page(c, http.StatusOK, "dashboard_list_health.html", page)
}

type contactsPage struct {
	dashPage
	Search   string
	NotFound bool
	Contact  *models.Contact
	Stages   []models.StageChange
	Ledger   []models.ScoreEntry
	Messages []models.Message
	Runs     []models.JourneyRun
	Events   []models.Event
	Temporal string
	// MergedFrom are the contacts merged into this one, whose history the
	// page shows with its own.
	MergedFrom []string
}

// dashboardContacts finds a contact by ID, email address or phone number
// and shows what Nudge knows of it.
func (g *Gateway) dashboardContacts(c *gin.Context) {
	d, ok := g.dashPeriod(c, "Contacts", "contacts")
	if !ok {
		return
	}
	page := contactsPage{dashPage: d, Search: strings.TrimSpace(c.Query("q"))}
	if page.Search == "" {
		g.page(c, http.StatusOK, "dashboard_contacts.html", page)
		return
	}
	ctx := c.Request.Context()
	id, err := g.Store.ResolveContact(ctx, page.Search)
	if err == nil {
		page.Contact, err = g.Store.Contact(ctx, id)
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		page.NotFound = true
		g.page(c, http.StatusNotFound, "dashboard_contacts.html", page)
		return
	case err != nil:
		g.serverError(c, "find the contact", err)
		return
	}
	const recent = 20
	if page.Stages, err = g.Store.StageHistory(ctx, id); err == nil {
		if page.Ledger, err = g.Store.ScoreLedger(ctx, id); err == nil {
			if page.Messages, err = g.Store.Messages(ctx, id, recent); err == nil {
				if page.Runs, err = g.Store.JourneyRuns(ctx, id); err == nil {
					if page.Events, err = g.Store.ContactEvents(ctx, id, recent); err == nil {
						page.MergedFrom, err = g.Store.MergedFrom(ctx, id)
					}
				}
			}
		}
	}
	if err != nil {
		g.serverError(c, "read the contact", err)
		return
	}
	if len(page.Ledger) > recent {
		page.Ledger = page.Ledger[len(page.Ledger)-recent:]
	}
	page.Temporal = g.temporalURL(workflows.ContactWorkflowID(id))
	g.page(c, http.StatusOK, "dashboard_contacts.html", page)
}
