package activities

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/slack-go/slack"
	gomail "github.com/wneessen/go-mail"
	"go.temporal.io/sdk/activity"

	"github.com/nudgehq/nudge/chart"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/workflows"
)

// Scheduled performance reports (NUDGE_REPORTS): the period's KPIs against
// the period before, a journey table and the daily chart, by email (the
// chart inline as PNG, drawn by the dashboard's chart code) and as a Slack
// summary linking to the dashboard. Each destination gets a report once
// (models.ClaimReportDelivery); with delivery off (no SMTP or Slack) it is
// skipped and logged.

// reportData is what a report says.
type reportData struct {
	Title     string
	From, To  string // YYYY-MM-DD, To inclusive
	KPIs      []reportKPI
	Journeys  []models.JourneyMetrics
	Dashboard string
}

type reportKPI struct {
	Label, Value, Change string
}

// SendReport computes the report for run's period and sends it to each of
// its destinations that has not had it.
func (a *Activities) SendReport(ctx context.Context, run workflows.ReportRun) (workflows.ReportResult, error) {
	var res workflows.ReportResult
	p := models.Period{From: run.From, To: run.To}
	o, err := a.Store.Overview(ctx, p)
	if err != nil {
		return res, err
	}
	journeys, err := a.Store.JourneyMetrics(ctx, workflows.JourneyNames(), p)
	if err != nil {
		return res, err
	}
	d := reportData{
		Title: "Nudge report", From: run.From.UTC().Format(time.DateOnly), To: run.To.UTC().Add(-time.Nanosecond).Format(time.DateOnly),
		Journeys: journeys,
	}
	if run.Name != "" {
		d.Title = "Nudge report, " + run.Name
	}
	if a.Links != nil {
		d.Dashboard = a.Links.BaseURL() + "/dashboard?from=" + run.From.UTC().Format(time.RFC3339) + "&to=" + run.To.UTC().Format(time.RFC3339)
	}
	for _, k := range o.KPIs {
		d.KPIs = append(d.KPIs, reportKPI{Label: models.KPILabel(k.Name), Value: models.FormatKPI(k.Name, k.Value), Change: reportChange(k)})
	}
	png, err := chart.DailyEmails(chart.PNG, o.Daily, 800, 300)
	if err != nil {
		return res, err
	}

	for _, to := range run.Emails {
		sent, err := a.reportOnce(ctx, run.Key+"/email:"+to, a.Mailer != nil, func() error { return a.emailReport(ctx, to, d, png) })
		if err != nil {
			return res, fmt.Errorf("email the report to %s: %w", to, err)
		}
		if sent {
			res.Emailed = append(res.Emailed, to)
		} else {
			res.Skipped = append(res.Skipped, "email:"+to)
		}
	}
	for _, channel := range run.Slack {
		sent, err := a.reportOnce(ctx, run.Key+"/slack:"+channel, a.Slack != nil, func() error { return a.postReport(ctx, channel, d) })
		if err != nil {
			return res, fmt.Errorf("post the report to %s: %w", channel, err)
		}
		if sent {
			res.Posted = append(res.Posted, channel)
		} else {
			res.Skipped = append(res.Skipped, "slack:"+channel)
		}
	}
	return res, nil
}

// reportOnce sends to one destination unless delivery is off or it was
// sent before under the same key.
func (a *Activities) reportOnce(ctx context.Context, key string, on bool, send func() error) (bool, error) {
	if !on {
		if activity.IsActivity(ctx) { // nudge report calls it outside an activity, and says so itself
			activity.GetLogger(ctx).Warn("report not delivered: delivery is off for this destination", "key", key)
		}
		return false, nil
	}
	first, err := a.Store.ClaimReportDelivery(ctx, key, time.Now())
	if err != nil || !first {
		return false, err
	}
	return true, send()
}

// reportHTML is the report email's HTML (templates/reports/report.html).
var reportHTML = template.Must(template.ParseFS(templates.FS, "reports/report.html"))

func (d reportData) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s to %s\n\n", d.Title, d.From, d.To)
	for _, k := range d.KPIs {
		fmt.Fprintf(&b, "%s: %s %s\n", k.Label, k.Value, k.Change)
	}
	b.WriteString("\nJourney: entered, converted, sent, opened, clicked, revenue\n")
	for _, j := range d.Journeys {
		fmt.Fprintf(&b, "%s: %d, %d, %d, %d, %d, %.2f\n", j.Journey, j.Entered, j.Converted, j.Sent, j.Opened, j.Clicked, j.Revenue)
	}
	if d.Dashboard != "" {
		fmt.Fprintf(&b, "\nDashboard: %s\n", d.Dashboard)
	}
	return b.String()
}

func (a *Activities) emailReport(ctx context.Context, to string, d reportData, png []byte) error {
	var html bytes.Buffer
	if err := reportHTML.Execute(&html, d); err != nil {
		return err
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(a.From.Name, a.From.Address); err != nil {
		return err
	}
	if err := msg.To(to); err != nil {
		return err
	}
	msg.Subject(fmt.Sprintf("%s: %s to %s", d.Title, d.From, d.To))
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, d.text())
	msg.AddAlternativeString(gomail.TypeTextHTML, html.String())
	if err := msg.EmbedReader("daily.png", bytes.NewReader(png), gomail.WithFileContentType("image/png"), gomail.WithFileContentID("<daily.png>")); err != nil {
		return err
	}
	return a.Mailer.Send(ctx, msg, func() error { return nil })
}

func (a *Activities) postReport(ctx context.Context, channel string, d reportData) error {
	fields := make([]*slack.TextBlockObject, 0, len(d.KPIs))
	for _, k := range d.KPIs {
		fields = append(fields, slackMrkdwn(fmt.Sprintf("*%s*\n%s %s", k.Label, k.Value, k.Change)))
		if len(fields) == 10 { // a section takes at most ten fields
			break
		}
	}
	headline := fmt.Sprintf("%s: %s to %s", d.Title, d.From, d.To)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slackPlain(headline)),
		slack.NewSectionBlock(nil, fields, nil),
	}
	if d.Dashboard != "" {
		blocks = append(blocks, slack.NewActionBlock("report_actions",
			slack.NewButtonBlockElement("open_dashboard", "", slackPlain("Open the dashboard")).WithURL(d.Dashboard)))
	}
	_, err := a.Slack.Post(ctx, channel, blocks, headline)
	return err
}

// reportChange puts a figure's change in brackets after it, as the
// dashboard words it.
func reportChange(k models.KPI) string {
	if c := models.FormatKPIChange(k.Name, k.Change, k.Relative); c != "" {
		return "(" + c + ")"
	}
	return ""
}
