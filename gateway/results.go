package gateway

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Results: how each journey did in a period (admin key).
//
//	GET /v1/metrics/journeys?from=2026-03-01&to=2026-03-31[&format=csv]
//	GET /v1/metrics/journeys/:name   the same for one, with its steps
//
// from and to are RFC 3339 times or dates; a date as `to` means the end of
// that day. The default is the 30 days to now. Sends count by send date.

// maxPeriod bounds a metrics query.
const maxPeriod = 2 * 366 * 24 * time.Hour

func (g *Gateway) resultRoutes(admin *gin.RouterGroup) {
	admin.GET("/metrics/journeys", g.getJourneyMetrics)
	admin.GET("/metrics/journeys/:name", g.getJourneyMetric)
	admin.GET("/metrics/pipeline", g.getPipeline)
	admin.GET("/metrics/list-health", g.getListHealth)
	admin.GET("/metrics/overview", g.getOverview)
}

// getOverview: KPIs against the previous period of the same length, and a
// daily series. As CSV, the daily series.
func (g *Gateway) getOverview(c *gin.Context) {
	p, format, ok := metricsQuery(c)
	if !ok {
		return
	}
	o, err := g.Store.Overview(c.Request.Context(), p)
	if err != nil {
		g.serverError(c, "read the overview", err)
		return
	}
	if format == "csv" {
		writeCSV(c, "overview", []string{"day", "sent", "opened", "clicked", "revenue"}, func(w *csv.Writer) {
			for _, d := range o.Daily {
				_ = w.Write([]string{d.Day, count(d.Sent), count(d.Opened), count(d.Clicked), strconv.FormatFloat(d.Revenue, 'f', 2, 64)})
			}
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": p.From, "to": p.To, "previous_from": p.From.Add(-p.To.Sub(p.From)), "counted_by": "send date", "overview": o})
}

// getPipeline: contacts per stage now, lead→MQL and MQL→SQL in the period,
// time in stage. As CSV, a row per stage.
func (g *Gateway) getPipeline(c *gin.Context) {
	p, format, ok := metricsQuery(c)
	if !ok {
		return
	}
	pl, err := g.Store.Pipeline(c.Request.Context(), p)
	if err != nil {
		g.serverError(c, "read the pipeline", err)
		return
	}
	if format == "csv" {
		writeCSV(c, "pipeline", []string{"stage", "contacts", "stays", "median_hours", "p90_hours"}, func(w *csv.Writer) {
			for i, st := range pl.Stages {
				t := pl.TimeInStage[i]
				_ = w.Write([]string{st.Stage, count(st.Contacts), strconv.Itoa(t.Stays), hoursCell(t.MedianHours), hoursCell(t.P90Hours)})
			}
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": p.From, "to": p.To, "pipeline": pl})
}

// getListHealth: the list now, its daily growth, and the seed's thresholds
// over the period's email. As CSV, a row per day.
func (g *Gateway) getListHealth(c *gin.Context) {
	p, format, ok := metricsQuery(c)
	if !ok {
		return
	}
	h, err := g.Store.ListHealth(c.Request.Context(), p, time.Now())
	if err != nil {
		g.serverError(c, "read list health", err)
		return
	}
	if format == "csv" {
		writeCSV(c, "list-health", []string{"day", "new", "unsubscribed", "net"}, func(w *csv.Writer) {
			for _, d := range h.Daily {
				_ = w.Write([]string{d.Day, count(d.New), count(d.Unsubscribed), count(d.Net)})
			}
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": p.From, "to": p.To, "counted_by": "send date", "list_health": h})
}

func hoursCell(h *float64) string {
	if h == nil {
		return ""
	}
	return strconv.FormatFloat(*h, 'f', 1, 64)
}

func (g *Gateway) getJourneyMetrics(c *gin.Context) {
	p, format, ok := metricsQuery(c)
	if !ok {
		return
	}
	ms, err := g.Store.JourneyMetrics(c.Request.Context(), workflows.JourneyNames(), p)
	if err != nil {
		g.serverError(c, "read journey metrics", err)
		return
	}
	if format == "csv" {
		writeCSV(c, "journeys", journeyHeader, func(w *csv.Writer) {
			for _, m := range ms {
				_ = w.Write(journeyRow(m))
			}
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": p.From, "to": p.To, "counted_by": "send date", "journeys": ms})
}

func (g *Gateway) getJourneyMetric(c *gin.Context) {
	name := c.Param("name")
	if !slices.Contains(workflows.JourneyNames(), name) {
		fail(c, http.StatusNotFound, fmt.Sprintf("no journey %q (journeys: %s)", clip(name), strings.Join(workflows.JourneyNames(), ", ")))
		return
	}
	p, format, ok := metricsQuery(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ms, err := g.Store.JourneyMetrics(ctx, []string{name}, p)
	if err != nil {
		g.serverError(c, "read journey metrics", err)
		return
	}
	steps, err := g.Store.JourneySteps(ctx, name, p)
	if err != nil {
		g.serverError(c, "read journey steps", err)
		return
	}
	if format == "csv" {
		writeCSV(c, name+"-steps", stepHeader, func(w *csv.Writer) {
			for _, s := range steps {
				_ = w.Write(stepRow(s))
			}
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": p.From, "to": p.To, "counted_by": "send date", "journey": ms[0], "steps": steps})
}

// metricsQuery reads from, to and format, answering 400 (and false) when
// one is wrong.
func metricsQuery(c *gin.Context) (models.Period, string, bool) {
	p, format, err := parsePeriod(c.Query("from"), c.Query("to"), c.Query("format"))
	if err != "" {
		fail(c, http.StatusBadRequest, err)
		return p, "", false
	}
	return p, format, true
}

// parsePeriod reads from, to and format as metricsQuery describes; err
// says everything wrong with them, or is "".
func parsePeriod(from, to, format string) (p models.Period, _ string, err string) {
	now := time.Now().UTC()
	p = models.Period{From: now.Add(-30 * 24 * time.Hour), To: now}
	var errs []string
	if s := to; s != "" {
		t, date, err := parseMoment(s)
		if err != nil {
			errs = append(errs, "to: "+err.Error())
		} else if date {
			t = t.Add(24 * time.Hour) // through the end of that day
		}
		p.To = t
		p.From = t.Add(-30 * 24 * time.Hour)
	}
	if s := from; s != "" {
		t, _, err := parseMoment(s)
		if err != nil {
			errs = append(errs, "from: "+err.Error())
		}
		p.From = t
	}
	if format != "" && format != "json" && format != "csv" {
		errs = append(errs, fmt.Sprintf("format: want json or csv, got %q", clip(format)))
	}
	if len(errs) == 0 {
		switch {
		case !p.From.Before(p.To):
			errs = append(errs, fmt.Sprintf("from (%s) must be before to (%s)", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339)))
		case p.To.Sub(p.From) > maxPeriod:
			errs = append(errs, "the period may be at most two years long")
		}
	}
	return p, format, strings.Join(errs, "; ")
}

// parseMoment reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC);
// date says which.
func parseMoment(s string) (t time.Time, date bool, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), false, nil
	}
	return time.Time{}, false, fmt.Errorf("want an RFC 3339 time (2026-03-01T00:00:00Z) or a date (2026-03-01), got %q", clip(s))
}

func writeCSV(c *gin.Context, name string, header []string, rows func(*csv.Writer)) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, name))
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	_ = w.Write(header)
	rows(w)
	w.Flush()
}

var emailHeader = []string{"sent", "delivered", "deliverability_rate", "opened", "open_rate", "clicked", "click_rate",
	"click_to_open_rate", "unsubscribed", "unsubscribe_rate", "bounced", "bounce_rate", "complaints", "skipped"}

var journeyHeader = slices.Concat([]string{"journey", "entered", "converted", "conversion_rate", "active"}, emailHeader,
	[]string{"sms_sent", "sms_delivered", "sms_failed", "orders", "revenue", "revenue_per_recipient", "discounts_redeemed",
		"inapp_sent", "inapp_read", "inapp_clicked"})

var stepHeader = slices.Concat([]string{"step", "channel", "entered", "converted"}, emailHeader)

func journeyRow(m models.JourneyMetrics) []string {
	return slices.Concat([]string{m.Journey, count(m.Entered), count(m.Converted), ratio(m.ConversionRate), count(m.Active)},
		emailRow(m.EmailMetrics),
		[]string{count(m.SMS.Sent), count(m.SMS.Delivered), count(m.SMS.Failed), count(m.Orders),
			strconv.FormatFloat(m.Revenue, 'f', 2, 64), money(m.RevenuePerRecipient), count(m.DiscountsRedeemed),
			count(m.InApp.Sent), count(m.InApp.Read), count(m.InApp.Clicked)})
}

func stepRow(s models.StepMetrics) []string {
	return slices.Concat([]string{s.Step, s.Channel, count(s.Entered), count(s.Converted)}, emailRow(s.EmailMetrics))
}

func emailRow(m models.EmailMetrics) []string {
	return []string{count(m.Sent), count(m.Delivered), ratio(m.Deliverability), count(m.Opened), ratio(m.OpenRate),
		count(m.Clicked), ratio(m.ClickRate), ratio(m.ClickToOpen), count(m.Unsubscribed), ratio(m.UnsubscribeRate),
		count(m.Bounced), ratio(m.BounceRate), count(m.Complaints), count(m.Skipped)}
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

// ratio writes a rate as a fraction, or nothing when it is undefined.
func ratio(r *float64) string {
	if r == nil {
		return ""
	}
	return strconv.FormatFloat(*r, 'f', 4, 64)
}

func money(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}
