// Package worker builds Nudge's Temporal worker: ContactWorkflow, every
// journey, and the activities, registered once under the names workflows use.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/workflows"
)

// New returns a worker on taskQueue that routes contacts into journeys as
// router says (NUDGE_JOURNEYS and the journey settings) and runs their
// activities.
func New(c client.Client, taskQueue string, router *workflows.Router, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, Options())
	RegisterWorkflows(w, router)
	acts.Register(w)
	return w
}

// Options are the worker settings Nudge runs with; the benchmark's raw
// baseline runs with the same.
func Options() sdkworker.Options {
	return sdkworker.Options{}
}

// RegisterWorkflows registers ContactWorkflow and every journey. The replay
// tests use it too, so they check exactly what the worker runs.
func RegisterWorkflows(r sdkworker.WorkflowRegistry, router *workflows.Router) {
	r.RegisterWorkflowWithOptions(router.ContactWorkflow, workflow.RegisterOptions{Name: workflows.ContactWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ReportWorkflow, workflow.RegisterOptions{Name: workflows.ReportWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.AdPullWorkflow, workflow.RegisterOptions{Name: workflows.AdPullWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.AudienceSyncWorkflow, workflow.RegisterOptions{Name: workflows.AudienceSyncWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.AdRuleWorkflow, workflow.RegisterOptions{Name: workflows.AdRuleWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.SocialPostWorkflow, workflow.RegisterOptions{Name: workflows.SocialPostWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.AdUndoWorkflow, workflow.RegisterOptions{Name: workflows.AdUndoWorkflowName})
	for _, j := range workflows.Catalog() {
		// Journeys stay registered when disabled: contacts already in one finish it.
		r.RegisterWorkflowWithOptions(j.Workflow, workflow.RegisterOptions{Name: j.Name})
	}
}
