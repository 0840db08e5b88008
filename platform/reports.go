package platform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
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
	sc := p.Temporal.ScheduleClient()
	want := map[string]config.Report{}
	for _, r := range p.Config.Reports {
		want[r.ID()] = r
	}
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list schedules: %w", err)
	}
	have := map[string]bool{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("list schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, "nudge-report-") {
			have[e.ID] = true
		}
	}
	for id := range have {
		if _, ok := want[id]; ok {
			continue
		}
		if err := sc.GetHandle(ctx, id).Delete(ctx); err != nil {
			return created, updated, deleted, fmt.Errorf("delete schedule %s: %w", id, err)
		}
		deleted = append(deleted, id)
	}
	for _, r := range p.Config.Reports {
		spec, action := reportSpec(r), p.reportAction(r)
		if !have[r.ID()] {
			_, err := sc.Create(ctx, client.ScheduleOptions{
				ID: r.ID(), Spec: spec, Action: action,
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: reportCatchup,
				Note: "NUDGE_REPORTS: " + r.Name,
			})
			var exists *serviceerror.AlreadyExists
			switch {
			case err == nil:
				created = append(created, r.ID())
				continue
			case !errors.As(err, &exists):
				return created, updated, deleted, fmt.Errorf("create schedule %s: %w", r.ID(), err)
			}
			// Another worker made it just now: update it below.
		}
		err := sc.GetHandle(ctx, r.ID()).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Spec, s.Action = &spec, action
				if s.Policy == nil {
					s.Policy = &client.SchedulePolicies{}
				}
				s.Policy.Overlap, s.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, reportCatchup
				return &client.ScheduleUpdate{Schedule: &s}, nil
			},
		})
		if err != nil {
			return created, updated, deleted, fmt.Errorf("update schedule %s: %w", r.ID(), err)
		}
		updated = append(updated, r.ID())
	}
	return created, updated, deleted, nil
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
