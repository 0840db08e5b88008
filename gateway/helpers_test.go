package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const (
	writeKey = "wk_test_write"
	adminKey = "ak_test_admin"
)

// signalCall is one SignalWithStartWorkflow the fake received: Events are
// the events it carried (one for the "event" signal, several folded into
// "events"), Event the first of them.
type signalCall struct {
	WorkflowID string
	Signal     string
	Event      workflows.Event
	Events     []workflows.Event
	Options    client.StartWorkflowOptions
	Workflow   any
	Args       []any
}

// fakeTemporal records signals and answers queries; setting failWith makes
// it act unreachable, and refuse refuses the signals to one workflow ID.
type fakeTemporal struct {
	mu       sync.Mutex
	signals  []signalCall
	failWith error
	refuse   map[string]error
	// refuseFold, when set, refuses the signals it says (as too large).
	refuseFold func([]workflows.Event) bool
	attempts   map[string]int
	state      *workflows.ContactState
	queryErr   error
	healthErr  error
	queried    []string
	// running answers ListWorkflow; signalled records SignalWorkflow.
	running    []*workflowpb.WorkflowExecutionInfo
	listed     []string
	signalled  []string
	signalArgs []any
	// executed records ExecuteWorkflow; its runs end with runResult or runErr.
	executed  []executeCall
	runResult any
	runErr    error
}

func (f *fakeTemporal) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed = append(f.listed, req.GetQuery())
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: f.running}, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, workflowID, runID, signalName string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signalled = append(f.signalled, workflowID+" "+runID+" "+signalName)
	f.signalArgs = append(f.signalArgs, arg)
	return nil
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, workflowID, signalName string, signalArg any,
	options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attempts == nil {
		f.attempts = map[string]int{}
	}
	f.attempts[workflowID]++
	if f.failWith != nil {
		return nil, f.failWith
	}
	if err := f.refuse[workflowID]; err != nil {
		return nil, err
	}
	var evs []workflows.Event
	switch arg := signalArg.(type) {
	case workflows.Event:
		evs = []workflows.Event{arg}
	case []workflows.Event:
		evs = arg
	}
	if f.refuseFold != nil && f.refuseFold(evs) {
		return nil, serviceerror.NewInvalidArgument("Blob data size exceeds limit.")
	}
	f.signals = append(f.signals, signalCall{
		WorkflowID: workflowID, Signal: signalName, Event: evs[0], Events: evs,
		Options: options, Workflow: workflow, Args: workflowArgs,
	})
	return nil, nil
}

func (f *fakeTemporal) setRefuse(workflowID string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse == nil {
		f.refuse = map[string]error{}
	}
	f.refuse[workflowID] = err
}

func (f *fakeTemporal) attemptsFor(workflowID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[workflowID]
}

func (f *fakeTemporal) QueryWorkflow(_ context.Context, workflowID, _ string, queryType string, _ ...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queried = append(f.queried, workflowID+" "+queryType)
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	return jsonValue{f.state}, nil
}

func (f *fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.healthErr != nil {
		return nil, f.healthErr
	}
	return &client.CheckHealthResponse{}, nil
}

func (f *fakeTemporal) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWith = err
}

// calls lists the events signalled, one entry per event, in the order
// signalled; signals lists the signals as sent (folded).
func (f *fakeTemporal) calls() []signalCall {
	var out []signalCall
	for _, c := range f.signalsSent() {
		for _, ev := range c.Events {
			one := c
			one.Event, one.Events = ev, []workflows.Event{ev}
			out = append(out, one)
		}
	}
	return out
}

func (f *fakeTemporal) signalsSent() []signalCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]signalCall(nil), f.signals...)
}

// jsonValue is a query result that round-trips through JSON, as the SDK's
// default data converter does.
type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return j.v != nil }
func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// errUnreachable is how the SDK reports a server it cannot reach.
var errUnreachable = serviceerror.NewUnavailable("connection refused: temporal is down")

type env struct {
	gw    *Gateway
	store *models.Store
	tc    *fakeTemporal
	h     http.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := models.Open("sqlite://" + t.TempDir() + "/t.db")
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Migrate(context.Background()))
	cfg := &config.Config{
		WriteKeys:         []string{writeKey},
		AdminKeys:         []string{adminKey},
		TaskQueue:         "nudge-test",
		TemporalNamespace: "default",
		TemporalUIURL:     "http://temporal-ui.test/",
		PublicURL:         "http://gateway.test",
		BrandName:         "Acme",
	}
	tc := &fakeTemporal{}
	gw, err := New(cfg, store, tc, links.NewSigner("test-secret-0123456789", cfg.PublicURL), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return &env{gw: gw, store: store, tc: tc, h: gw.Handler()}
}

// do sends a request; headers are "Name: value" strings.
func (e *env) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// post sends a Segment call with the write key as Basic user name.
func (e *env) post(path, body string) *httptest.ResponseRecorder {
	return e.do(http.MethodPost, path, body, "Content-Type: application/json", basic(writeKey))
}

func basic(key string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"))
}

func bearer(key string) string { return "Authorization: Bearer " + key }

func (e *env) events(t *testing.T) []models.Event {
	t.Helper()
	var evs []models.Event
	require.NoError(t, e.store.DB().Order("id").Find(&evs).Error)
	return evs
}

func (e *env) contact(t *testing.T, id string) *models.Contact {
	t.Helper()
	c, err := e.store.Contact(context.Background(), id)
	require.NoError(t, err)
	return c
}

func (e *env) countContacts(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.store.DB().Model(&models.Contact{}).Count(&n).Error)
	return n
}

// requireJSON checks a response's status and that its body is exactly want.
func requireJSON(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	require.Equal(t, status, rec.Code, "body: %s", rec.Body.String())
	require.JSONEq(t, want, rec.Body.String())
}

// executeCall is a workflow the gateway started and waited for.
type executeCall struct {
	Options  client.StartWorkflowOptions
	Workflow any
	Args     []any
}

// ExecuteWorkflow records the start; the run ends with runResult (copied
// into the caller's value through JSON) or runErr.
func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.executed = append(f.executed, executeCall{Options: opts, Workflow: workflow, Args: args})
	if f.failWith != nil {
		return nil, f.failWith
	}
	return fakeRun{id: opts.ID, result: f.runResult, err: f.runErr}, nil
}

type fakeRun struct {
	id     string
	result any
	err    error
}

func (r fakeRun) GetID() string                  { return r.id }
func (r fakeRun) GetRunID() string               { return "run-1" }
func (r fakeRun) GetFirstExecutionRunID() string { return "run-1" }
func (r fakeRun) Get(ctx context.Context, v any) error {
	if r.err != nil {
		return r.err
	}
	b, err := json.Marshal(r.result)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
func (r fakeRun) GetWithOptions(ctx context.Context, v any, _ client.WorkflowRunGetOptions) error {
	return r.Get(ctx, v)
}
