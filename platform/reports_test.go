package platform_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/internal/smtptest"
)

// NUDGE_REPORTS becomes Temporal Schedules at worker start: made, updated
// to a changed entry, deleted with a removed one; a schedule's run emails
// the report.
func TestReportSchedules(t *testing.T) {
	s := startStackWith(t, map[string]string{
		"NUDGE_REPORTS": "daily@08:00 UTC=email:ops@example.com;weekly@mon 09:30 America/New_York=email:cmo@example.com",
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc := s.Platform.Temporal.ScheduleClient()
	d, err := sc.GetHandle(ctx, "nudge-report-weekly-mon-0930-america-new_york").Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cal := d.Schedule.Spec.Calendars
	if len(cal) != 1 || cal[0].Hour[0].Start != 9 || cal[0].Minute[0].Start != 30 || cal[0].DayOfWeek[0].Start != int(time.Monday) ||
		d.Schedule.Spec.TimeZoneName != "America/New_York" || d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
		t.Errorf("schedule = %+v, %+v", d.Schedule.Spec, d.Schedule.Policy)
	}

	// The weekly entry changes its time; the daily one goes.
	reports, err := config.ParseReports("weekly@mon 09:30 America/New_York=email:cmo@example.com,email:ceo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.Platform.Config.Reports = reports
	created, updated, deleted, err := s.Platform.ReconcileReports(ctx)
	if err != nil || len(created) != 0 || !slices.Equal(updated, []string{"nudge-report-weekly-mon-0930-america-new_york"}) ||
		!slices.Equal(deleted, []string{"nudge-report-daily-0800-utc"}) {
		t.Fatalf("reconcile: created %v, updated %v, deleted %v, %v", created, updated, deleted, err)
	}
	if _, err := sc.GetHandle(ctx, "nudge-report-daily-0800-utc").Describe(ctx); err == nil {
		t.Error("the removed entry's schedule is still there")
	}

	// Fire it now: both addresses get the report.
	if err := sc.GetHandle(ctx, "nudge-report-weekly-mon-0930-america-new_york").Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.SMTP.WaitForN(ctx, 2, func(m smtptest.Message) bool {
		return strings.HasPrefix(m.Header.Get("Subject"), "Nudge report, weekly@mon 09:30 America/New_York: ")
	})
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, m := range msgs {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"ceo@example.com", "cmo@example.com"}) {
		t.Errorf("sent to %v", to)
	}
}
