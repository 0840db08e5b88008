package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/nudgehq/nudge/workflows"
)

// Replayer replays workflow histories against the workflows this build
// registers, the way `nudge check` and the replay test need: a run passes
// only if the code would take every step the run recorded, in order.
//
// Temporal's own check compares the kind and position of each command, not
// which email an activity sends: swapping two emails of a journey replays
// cleanly, yet contacts already past the first would get the second one
// twice. So the replay also compares each activity, local activity and
// child workflow with the one recorded (type, and summary such as
// "email: welcome_ecommerce/brand_story", or child workflow ID).
type Replayer struct {
	// Router is what ContactWorkflow runs with: NUDGE_JOURNEYS and the settings.
	Router *workflows.Router
	// DataConverter decodes payloads; nil for plain ones. With encryption
	// keys set it must be the codec's.
	DataConverter converter.DataConverter
	// Register registers the workflows to replay against; nil registers them
	// as the worker does. Tests register changed copies.
	Register func(sdkworker.WorkflowRegistry)
	// Interceptors run around the replayed workflows (tests change a
	// workflow from outside with one).
	Interceptors []interceptor.WorkerInterceptor
}

// ErrStepChanged is what a replay that Temporal accepts, but that takes
// another step than the run recorded, fails with (errors.Is).
var ErrStepChanged = errors.New("step changed")

// Replay replays one history. exec names the run (empty for a file). It
// returns nil when the code takes the recorded steps, Temporal's
// nondeterminism error ("[TMPRL1100] ..."), or an error wrapping
// ErrStepChanged.
func (r *Replayer) Replay(hist *historypb.History, exec workflow.Execution) error {
	if len(hist.GetEvents()) == 0 {
		return errors.New("the history has no events")
	}
	// A run no worker has taken up yet has done nothing the code could
	// contradict; it only needs its workflow type to still be there.
	if !slices.ContainsFunc(hist.GetEvents(), func(e *historypb.HistoryEvent) bool {
		return e.GetEventType() == enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
	}) {
		typ := hist.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
		names := registeredNames{}
		r.register(names)
		if !names[typ] {
			return fmt.Errorf("workflow type %q is not registered in this build: its runs cannot go on", typ)
		}
		return nil
	}
	// The SDK rewrites parts of a history as it replays it (search
	// attribute payloads, for one); the caller's copy stays as recorded.
	hist = proto.Clone(hist).(*historypb.History)
	steps := &stepRecorder{}
	replayer, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{
		DataConverter: r.DataConverter,
		Interceptors:  append([]interceptor.WorkerInterceptor{steps}, r.Interceptors...),
	})
	if err != nil {
		return err
	}
	r.register(replayer)
	if err := replayer.ReplayWorkflowHistoryWithOptions(quietLogger, hist, sdkworker.ReplayWorkflowHistoryOptions{OriginalExecution: exec}); err != nil {
		return err
	}
	return compareSteps(recordedSteps(hist, r.dataConverter()), steps.steps)
}

func (r *Replayer) register(reg sdkworker.WorkflowRegistry) {
	switch {
	case r.Register != nil:
		r.Register(reg)
	case r.Router != nil:
		RegisterWorkflows(reg, r.Router)
	default:
		RegisterWorkflows(reg, &workflows.Router{Enabled: workflows.JourneyNames(), Settings: workflows.DefaultSettings()})
	}
}

// registeredNames collects the workflow types a registration makes.
type registeredNames map[string]bool

// RegisterWorkflow names the type after the function; Nudge always gives
// names, so there is nothing to note.
func (n registeredNames) RegisterWorkflow(w any) {}

func (n registeredNames) RegisterWorkflowWithOptions(w any, opts workflow.RegisterOptions) {
	n[opts.Name] = true
}

func (n registeredNames) RegisterDynamicWorkflow(w any, opts workflow.DynamicRegisterOptions) {}

func (r *Replayer) dataConverter() converter.DataConverter {
	if r.DataConverter == nil {
		return converter.GetDefaultDataConverter()
	}
	return r.DataConverter
}

// quietLogger drops the SDK's replay logs: a nondeterministic run comes
// back as the error, which says it better.
var quietLogger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// step is one side effect a workflow starts: kind ("activity", "local
// activity", "child"), name (activity or workflow type) and what tells two
// of the same name apart (summary, or child workflow ID).
type step struct{ kind, name, detail string }

func (s step) String() string {
	if s.detail == "" {
		return s.kind + " " + s.name
	}
	return fmt.Sprintf("%s %s (%s)", s.kind, s.name, s.detail)
}

// compareSteps checks, kind by kind, that the code started what the history
// recorded, in the same order. The code may start more (a run still in
// flight goes on); it may not start something else. Kinds are compared
// apart because a local activity's marker is written when it completes,
// not when it starts.
func compareSteps(recorded, code []step) error {
	for _, kind := range []string{"activity", "local activity", "child"} {
		var rec, got []step
		for _, s := range recorded {
			if s.kind == kind {
				rec = append(rec, s)
			}
		}
		for _, s := range code {
			if s.kind == kind {
				got = append(got, s)
			}
		}
		for i, want := range rec {
			if i >= len(got) {
				return fmt.Errorf("%w: the run recorded %s as %s #%d; the code does not run it", ErrStepChanged, want, kind, i+1)
			}
			// Histories from before summaries were set have none: the
			// name is all there is to compare.
			if got[i].name != want.name || (want.detail != "" && got[i].detail != want.detail) {
				return fmt.Errorf("%w: the run recorded %s as %s #%d; the code runs %s there", ErrStepChanged, want, kind, i+1, got[i])
			}
		}
	}
	return nil
}

// recordedSteps lists the activities, local activities and child workflows
// a history started, in order.
func recordedSteps(hist *historypb.History, dc converter.DataConverter) []step {
	var steps []step
	seenLocal := map[string]bool{}
	for _, e := range hist.GetEvents() {
		summary := decodeString(dc, e.GetUserMetadata().GetSummary())
		switch e.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			steps = append(steps, step{"activity", e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(), summary})
		case enums.EVENT_TYPE_MARKER_RECORDED:
			a := e.GetMarkerRecordedEventAttributes()
			if a.GetMarkerName() != "LocalActivity" {
				continue
			}
			var data struct{ ActivityID, ActivityType string }
			if err := dc.FromPayloads(a.GetDetails()["data"], &data); err != nil {
				continue
			}
			// A local activity retried after a long backoff leaves a
			// marker per attempt, under one ID: one step.
			if seenLocal[data.ActivityID] {
				continue
			}
			seenLocal[data.ActivityID] = true
			steps = append(steps, step{"local activity", data.ActivityType, summary})
		case enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes()
			steps = append(steps, step{"child", a.GetWorkflowType().GetName(), a.GetWorkflowId()})
		}
	}
	return steps
}

func decodeString(dc converter.DataConverter, p *commonpb.Payload) string {
	var s string
	if p == nil || dc.FromPayload(p, &s) != nil {
		return ""
	}
	return s
}

// stepRecorder notes the steps the replayed code starts.
type stepRecorder struct {
	interceptor.WorkerInterceptorBase
	steps []step
}

func (r *stepRecorder) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &stepInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, rec: r}
}

type stepInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	rec *stepRecorder
}

func (i *stepInbound) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&stepOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}, rec: i.rec})
}

type stepOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	rec *stepRecorder
}

func (o *stepOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	o.rec.steps = append(o.rec.steps, step{"activity", activityType, workflow.GetActivityOptions(ctx).Summary})
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func (o *stepOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	o.rec.steps = append(o.rec.steps, step{"local activity", activityType, workflow.GetLocalActivityOptions(ctx).Summary})
	return o.Next.ExecuteLocalActivity(ctx, activityType, args...)
}

func (o *stepOutbound) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...any) workflow.ChildWorkflowFuture {
	o.rec.steps = append(o.rec.steps, step{"child", childWorkflowType, workflow.GetChildWorkflowOptions(ctx).WorkflowID})
	return o.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
}

// Break is an open run that the code would break.
type Break struct {
	WorkflowID, RunID string
	// Journey is the workflow type: a journey's name, or ContactWorkflow.
	Journey string
	// Step is where the run is: its JourneyStep, or for a run without one
	// (a contact's) the summary of the last activity or timer it recorded.
	Step string
	Err  error
}

// CheckResult is what Check found.
type CheckResult struct {
	Open    int // open runs on the server
	Checked int // runs replayed: all, or the sample
	Broken  []Break
}

// Check replays the histories of the runs open on the server (all of them,
// or a random sample of that many when sample > 0) and returns the ones the
// code would break: the check to run before deploying a workflow change.
func Check(ctx context.Context, c client.Client, r *Replayer, sample int) (CheckResult, error) {
	var open []*commonpb.WorkflowExecution
	var types []string
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ExecutionStatus = 'Running'", NextPageToken: token})
		if err != nil {
			return CheckResult{}, fmt.Errorf("list the open runs: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			open = append(open, e.GetExecution())
			types = append(types, e.GetType().GetName())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	res := CheckResult{Open: len(open)}
	order := rand.Perm(len(open))
	if sample > 0 && sample < len(order) {
		order = order[:sample]
	}
	for _, i := range order {
		exec := open[i]
		hist := &historypb.History{}
		iter := c.GetWorkflowHistory(ctx, exec.GetWorkflowId(), exec.GetRunId(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				return res, fmt.Errorf("history of %s: %w", exec.GetWorkflowId(), err)
			}
			hist.Events = append(hist.Events, e)
		}
		res.Checked++
		if err := r.Replay(hist, workflow.Execution{ID: exec.GetWorkflowId(), RunID: exec.GetRunId()}); err != nil {
			res.Broken = append(res.Broken, Break{
				WorkflowID: exec.GetWorkflowId(), RunID: exec.GetRunId(), Journey: types[i],
				Step: CurrentStep(hist, r.dataConverter()), Err: err,
			})
		}
	}
	return res, nil
}

// CurrentStep is where a recorded run is: the last JourneyStep it set (or
// started with), else the summary of the last activity or timer it
// started, else "start".
func CurrentStep(hist *historypb.History, dc converter.DataConverter) string {
	journeyStep, last := "", ""
	plain := converter.GetDefaultDataConverter() // search attributes are never encoded by the codec
	for _, e := range hist.GetEvents() {
		var attrs *commonpb.SearchAttributes
		switch e.GetEventType() {
		case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			attrs = e.GetWorkflowExecutionStartedEventAttributes().GetSearchAttributes()
		case enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			attrs = e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes()
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enums.EVENT_TYPE_TIMER_STARTED:
			if s := decodeString(dc, e.GetUserMetadata().GetSummary()); s != "" {
				last = s
			}
		}
		if p := attrs.GetIndexedFields()[workflows.JourneyStepKey.GetName()]; p != nil {
			if s := decodeString(plain, p); s != "" {
				journeyStep = s
			}
		}
	}
	switch {
	case journeyStep != "":
		return journeyStep
	case last != "":
		return last
	}
	return "start"
}
