package platform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// schedule is one Temporal Schedule Nudge keeps: reports, the ad pull and
// rules, audience syncs.
type schedule struct {
	ID      string
	Spec    client.ScheduleSpec
	Action  *client.ScheduleWorkflowAction
	Catchup time.Duration // how late a missed run may still start
	Note    string        // shown in the Temporal UI: the setting it comes from
}

// reconcile makes the Temporal Schedules whose IDs start with prefix match
// want: each created, or updated to its entry, and none left that is not
// wanted. Every schedule skips a run while the last one is still going. It
// returns what it did, for the log.
func (p *Platform) reconcile(ctx context.Context, prefix string, want []schedule) (created, updated, deleted []string, err error) {
	sc := p.Temporal.ScheduleClient()
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list schedules: %w", err)
	}
	var have []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("list schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, prefix) {
			have = append(have, e.ID)
		}
	}
	for _, id := range have {
		if slices.ContainsFunc(want, func(s schedule) bool { return s.ID == id }) {
			continue
		}
		if err := sc.GetHandle(ctx, id).Delete(ctx); err != nil {
			return created, updated, deleted, fmt.Errorf("delete schedule %s: %w", id, err)
		}
		deleted = append(deleted, id)
	}
	for _, s := range want {
		if !slices.Contains(have, s.ID) {
			_, err := sc.Create(ctx, client.ScheduleOptions{
				ID: s.ID, Spec: s.Spec, Action: s.Action,
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: s.Catchup, Note: s.Note,
			})
			var exists *serviceerror.AlreadyExists
			switch {
			case err == nil:
				created = append(created, s.ID)
				continue
			case !errors.As(err, &exists):
				return created, updated, deleted, fmt.Errorf("create schedule %s: %w", s.ID, err)
			}
			// Another worker made it just now: update it below.
		}
		err := sc.GetHandle(ctx, s.ID).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				sch := in.Description.Schedule
				sch.Spec, sch.Action = &s.Spec, s.Action
				if sch.Policy == nil {
					sch.Policy = &client.SchedulePolicies{}
				}
				sch.Policy.Overlap, sch.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, s.Catchup
				return &client.ScheduleUpdate{Schedule: &sch}, nil
			},
		})
		if err != nil {
			return created, updated, deleted, fmt.Errorf("update schedule %s: %w", s.ID, err)
		}
		updated = append(updated, s.ID)
	}
	return created, updated, deleted, nil
}

// every is a spec that fires at a fixed interval.
func every(d time.Duration) client.ScheduleSpec {
	return client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: d}}}
}
