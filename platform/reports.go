package platform

import (
	"context"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/workflows"
)

// reportCatchup is how late a report may still go out after Temporal was
// down when it was due.
const reportCatchup = 6 * time.Hour

// ReconcileReports makes the Temporal Schedules match NUDGE_REPORTS: one
// per entry (created, or updated to the entry), and none for an entry that
// is gone. The worker runs it at start; the Temporal UI's Schedules page
// shows them. It returns what it did, for the log.
func (p *Platform) ReconcileReports(ctx context.Context) (created, updated, deleted []string, err error) {
	var want []schedule
	for _, r := range p.Config.Reports {
		want = append(want, schedule{ID: r.ID(), Spec: reportSpec(r), Action: p.reportAction(r), Catchup: reportCatchup, Note: "NUDGE_REPORTS: " + r.Name})
	}
	return p.reconcile(ctx, "nudge-report-", want)
}

// reportSpec is when an entry fires: its hour and minute in its zone,
// every day or on its weekday.
func reportSpec(r config.Report) client.ScheduleSpec {
	cal := client.ScheduleCalendarSpec{
		Hour:   []client.ScheduleRange{{Start: r.Hour}},
		Minute: []client.ScheduleRange{{Start: r.Minute}},
	}
	if r.Every == "weekly" {
		cal.DayOfWeek = []client.ScheduleRange{{Start: int(r.Weekday)}}
	}
	return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{cal}, TimeZoneName: r.Zone}
}

func (p *Platform) reportAction(r config.Report) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        "report/" + strings.TrimPrefix(r.ID(), "nudge-report-"),
		Workflow:  workflows.ReportWorkflowName,
		Args:      []any{workflows.ReportRequest{Name: r.Name, Period: r.Period(), Emails: r.Emails, Slack: r.Slack}},
		TaskQueue: p.Config.TaskQueue,
	}
}
