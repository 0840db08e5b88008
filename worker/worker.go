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

// New returns a worker on taskQueue that routes contacts into the enabled
// journeys (NUDGE_JOURNEYS) and runs their activities.
func New(c client.Client, taskQueue string, enabled []string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, sdkworker.Options{MaxConcurrentWorkflowTaskPollers: 8, MaxConcurrentActivityTaskPollers: 8})
	RegisterWorkflows(w, enabled)
	acts.Register(w)
	return w
}

// RegisterWorkflows registers ContactWorkflow and every journey. The replay
// tests use it too, so they check exactly what the worker runs.
func RegisterWorkflows(r sdkworker.WorkflowRegistry, enabled []string) {
	router := &workflows.Router{Enabled: enabled}
	r.RegisterWorkflowWithOptions(router.ContactWorkflow, workflow.RegisterOptions{Name: workflows.ContactWorkflowName})
	for _, j := range workflows.Catalog() {
		// Journeys stay registered when disabled: contacts already in one finish it.
		r.RegisterWorkflowWithOptions(j.Workflow, workflow.RegisterOptions{Name: j.Name})
	}
}
