package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ReportWorkflowName is the workflow type of scheduled reports; a Temporal
// Schedule per NUDGE_REPORTS entry starts it.
const ReportWorkflowName = "ReportWorkflow"

// ReportWorkflow sends one performance report: the period that ended when
// the schedule fired, computed and sent by one activity.
func ReportWorkflow(ctx workflow.Context, req ReportRequest) (ReportResult, error) {
	end := workflow.Now(ctx).UTC()
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    5 * time.Minute,
		ScheduleToCloseTimeout: 6 * time.Hour, // the database or SMTP down for a while delays the report
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 10 * time.Minute},
	})
	run := ReportRun{ReportRequest: req, Key: workflow.GetInfo(ctx).WorkflowExecution.ID, From: end.Add(-req.Period), To: end}
	var res ReportResult
	err := workflow.ExecuteActivity(ctx, SendReportActivity, run).Get(ctx, &res)
	return res, err
}
