package workflows_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/nudgehq/nudge/workflows"
)

// A scheduled report covers the period that ended when it fired, and its
// key is the run's workflow ID (one per firing), which keeps its sends to
// one each.
func TestReportWorkflowAsksForThePeriodJustEnded(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	fired := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	env.SetStartTime(fired)
	var got workflows.ReportRun
	env.RegisterActivityWithOptions(func(_ context.Context, run workflows.ReportRun) (workflows.ReportResult, error) {
		got = run
		return workflows.ReportResult{Emailed: run.Emails}, nil
	}, activity.RegisterOptions{Name: workflows.SendReportActivity})
	env.RegisterWorkflow(workflows.ReportWorkflow)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "report/weekly-2026-03-02T14:00:00Z"})
	req := workflows.ReportRequest{Name: "weekly@mon 09:00 America/New_York", Period: 7 * 24 * time.Hour, Emails: []string{"ops@example.com"}}
	env.ExecuteWorkflow(workflows.ReportWorkflow, req)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := workflows.ReportRun{ReportRequest: req, Key: "report/weekly-2026-03-02T14:00:00Z", From: fired.Add(-7 * 24 * time.Hour), To: fired}
	if got.Key != want.Key || !got.From.Equal(want.From) || !got.To.Equal(want.To) || got.Name != req.Name || len(got.Emails) != 1 {
		t.Errorf("run = %+v, want %+v", got, want)
	}
	var res workflows.ReportResult
	if err := env.GetWorkflowResult(&res); err != nil || len(res.Emailed) != 1 {
		t.Errorf("result %+v, %v", res, err)
	}
}
