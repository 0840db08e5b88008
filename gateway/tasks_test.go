package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// seedTasks opens a task for each contact, in order (IDs 1, 2, …), with
// the rep's email.
func seedTasks(t *testing.T, e *env, tasks ...[2]string) []*models.Task {
	t.Helper()
	ctx := context.Background()
	var out []*models.Task
	for _, ct := range tasks {
		require.NoError(t, e.store.SaveContact(ctx, &models.Contact{ID: ct[0], FirstName: ct[0]}))
		task, err := e.store.OpenTask(ctx, &models.Task{ContactID: ct[0], Kind: "mql_follow_up", Title: "Follow up with " + ct[0],
			RepName: "Rep " + ct[1], RepEmail: ct[1]})
		require.NoError(t, err)
		out = append(out, task)
	}
	return out
}

type taskList struct {
	Tasks  []models.Task `json:"tasks"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
}

func (e *env) listTasks(t *testing.T, query string) taskList {
	t.Helper()
	rec := e.do(http.MethodGet, "/v1/tasks"+query, "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var l taskList
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &l))
	return l
}

func taskIDs(ts []models.Task) []uint64 {
	ids := make([]uint64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

func TestListTasks(t *testing.T) {
	e := newEnv(t)
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"}, [2]string{"ben", "rita@nudge.example"},
		[2]string{"cy", "sam@nudge.example"}, [2]string{"di", "sam@nudge.example"})
	ok, err := e.store.CloseTask(context.Background(), 3, models.TaskClosed, "not a fit", time.Now())
	require.NoError(t, err)
	require.True(t, ok)

	all := e.listTasks(t, "")
	require.Equal(t, []uint64{4, 3, 2, 1}, taskIDs(all.Tasks), "newest first")
	require.Equal(t, 50, all.Limit)
	require.Equal(t, 0, all.Offset)
	require.Equal(t, "Follow up with di", all.Tasks[0].Title)

	require.Equal(t, []uint64{4, 2, 1}, taskIDs(e.listTasks(t, "?status=open").Tasks))
	require.Equal(t, []uint64{3}, taskIDs(e.listTasks(t, "?status=closed").Tasks))
	require.Empty(t, e.listTasks(t, "?status=accepted").Tasks)
	require.Equal(t, []uint64{4, 3, 1}, taskIDs(e.listTasks(t, "?rep=sam@nudge.example").Tasks))
	require.Equal(t, []uint64{4, 1}, taskIDs(e.listTasks(t, "?status=open&rep=sam@nudge.example").Tasks))

	page := e.listTasks(t, "?limit=2&offset=1")
	require.Equal(t, []uint64{3, 2}, taskIDs(page.Tasks))
	require.Equal(t, 2, page.Limit)
	require.Equal(t, 1, page.Offset)
	require.Empty(t, e.listTasks(t, "?offset=10").Tasks)
	require.Len(t, e.listTasks(t, "?limit=200").Tasks, 4)

	// An empty list is a list, not null.
	rec := e.do(http.MethodGet, "/v1/tasks?rep=nobody@nudge.example", "", bearer(adminKey))
	requireJSON(t, rec, http.StatusOK, `{"tasks": [], "limit": 50, "offset": 0}`)

	for query, want := range map[string]string{
		"?status=done": `{"success": false, "error": "status: \"done\" is not a task status; use open, accepted or closed", "field": "status"}`,
		"?limit=0":     `{"success": false, "error": "limit: must be a whole number from 1 to 200, got \"0\"", "field": "limit"}`,
		"?limit=201":   `{"success": false, "error": "limit: must be a whole number from 1 to 200, got \"201\"", "field": "limit"}`,
		"?limit=ten":   `{"success": false, "error": "limit: must be a whole number from 1 to 200, got \"ten\"", "field": "limit"}`,
		"?offset=-1":   `{"success": false, "error": "offset: must be a whole number, 0 or more, got \"-1\"", "field": "offset"}`,
	} {
		requireJSON(t, e.do(http.MethodGet, "/v1/tasks"+query, "", bearer(adminKey)), http.StatusBadRequest, want)
	}
}

// The tasks API takes the admin key only.
func TestTasksNeedTheAdminKey(t *testing.T) {
	e := newEnv(t)
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"})
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/v1/tasks"}, {http.MethodPost, "/v1/tasks/1/accept"}, {http.MethodPost, "/v1/tasks/1/close"},
	} {
		rec := e.do(r.method, r.path, "", bearer(writeKey))
		require.Equal(t, http.StatusForbidden, rec.Code, "%s %s with the write key", r.method, r.path)
		require.Contains(t, rec.Body.String(), "write keys can only send events")
		require.Equal(t, http.StatusUnauthorized, e.do(r.method, r.path, "").Code, "%s %s without a key", r.method, r.path)
	}
	task, err := e.store.Task(context.Background(), 1)
	require.NoError(t, err)
	require.Equal(t, models.TaskOpen, task.Status)
	require.Empty(t, e.events(t))
}

func TestAcceptTask(t *testing.T) {
	e := newEnv(t)
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"}, [2]string{"ben", "rita@nudge.example"})

	rec := e.do(http.MethodPost, "/v1/tasks/1/accept", `{"rep": "Sam Rep"}`, bearer(adminKey), "Content-Type: application/json")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got models.Task
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, uint64(1), got.ID)
	require.Equal(t, models.TaskAccepted, got.Status)
	require.Equal(t, "accepted by Sam Rep", got.ClosedReason)
	require.NotNil(t, got.ClosedAt)

	// The event is stored and signalled to the contact's workflow.
	evs := e.events(t)
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, "nudge:accept-task-1", ev.MessageID)
	require.Equal(t, "ana", ev.ContactID)
	require.Equal(t, workflows.KindTrack, ev.Kind)
	require.Equal(t, workflows.EventLeadAccepted, ev.Name)
	require.Equal(t, map[string]any{"task_id": float64(1), "rep": "Sam Rep", "via": "api"}, ev.Properties)
	require.Equal(t, models.EventDelivered, ev.Status)
	calls := e.tc.calls()
	require.Len(t, calls, 1)
	require.Equal(t, "contact/ana", calls[0].WorkflowID)
	require.Equal(t, workflows.SignalEvent, calls[0].Signal)
	require.Equal(t, "nudge:accept-task-1", calls[0].Event.MessageID)
	require.True(t, calls[0].Event.Is(workflows.EventLeadAccepted))

	// Accepted already: 409, and nothing more is sent.
	rec = e.do(http.MethodPost, "/v1/tasks/1/accept", `{"rep": "Rita"}`, bearer(adminKey))
	requireJSON(t, rec, http.StatusConflict, `{"success": false, "error": "task 1 is accepted, not open (accepted by Sam Rep)"}`)
	require.Len(t, e.events(t), 1)
	require.Len(t, e.tc.calls(), 1)

	// Without a body the rep is "API".
	rec = e.do(http.MethodPost, "/v1/tasks/2/accept", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"closed_reason":"accepted by API"`)
	require.Equal(t, "contact/ben", e.tc.calls()[1].WorkflowID)
}

func TestCloseTask(t *testing.T) {
	e := newEnv(t)
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"}, [2]string{"ben", "rita@nudge.example"})

	rec := e.do(http.MethodPost, "/v1/tasks/2/close", `{"reason": "not a fit: a student"}`, bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got models.Task
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, models.TaskClosed, got.Status)
	require.Equal(t, "not a fit: a student", got.ClosedReason)

	evs := e.events(t)
	require.Len(t, evs, 1)
	require.Equal(t, "nudge:close-task-2", evs[0].MessageID)
	require.Equal(t, "ben", evs[0].ContactID)
	require.Equal(t, workflows.EventSalesTaskClosed, evs[0].Name)
	require.Equal(t, map[string]any{"task_id": float64(2), "reason": "not a fit: a student"}, evs[0].Properties)
	calls := e.tc.calls()
	require.Len(t, calls, 1)
	require.Equal(t, "contact/ben", calls[0].WorkflowID)
	require.True(t, calls[0].Event.Is(workflows.EventSalesTaskClosed))

	// Closed, it cannot be accepted or closed again.
	requireJSON(t, e.do(http.MethodPost, "/v1/tasks/2/accept", "", bearer(adminKey)), http.StatusConflict,
		`{"success": false, "error": "task 2 is closed, not open (not a fit: a student)"}`)
	require.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/v1/tasks/2/close", `{"reason": "again"}`, bearer(adminKey)).Code)
	// Accepted, it cannot be closed.
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/v1/tasks/1/accept", "", bearer(adminKey)).Code)
	require.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/v1/tasks/1/close", "", bearer(adminKey)).Code)
	require.Len(t, e.events(t), 2)
	require.Len(t, e.tc.calls(), 2)
}

func TestTaskErrors(t *testing.T) {
	e := newEnv(t)
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"})
	for _, action := range []string{"accept", "close"} {
		requireJSON(t, e.do(http.MethodPost, "/v1/tasks/99/"+action, "", bearer(adminKey)), http.StatusNotFound,
			`{"success": false, "error": "no task 99; GET /v1/tasks lists them"}`)
		requireJSON(t, e.do(http.MethodPost, "/v1/tasks/abc/"+action, "", bearer(adminKey)), http.StatusBadRequest,
			`{"success": false, "error": "task id \"abc\" is not a number; use the id from GET /v1/tasks"}`)
		require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/v1/tasks/1/"+action, `[1]`, bearer(adminKey)).Code)
	}
	requireJSON(t, e.do(http.MethodPost, "/v1/tasks/1/accept", `{"rep": 5}`, bearer(adminKey)), http.StatusBadRequest,
		`{"success": false, "error": "rep: must be a string, got number", "field": "rep"}`)
	rec := e.do(http.MethodPost, "/v1/tasks/1/close", `{"reason": "`+strings.Repeat("x", 200)+`"}`, bearer(adminKey))
	requireJSON(t, rec, http.StatusBadRequest, `{"success": false, "error": "reason: is 200 characters long; the limit is 191", "field": "reason", "limit": 191}`)

	task, err := e.store.Task(context.Background(), 1)
	require.NoError(t, err)
	require.Equal(t, models.TaskOpen, task.Status)
	require.Empty(t, e.events(t))
}

// A task accepted whose event was never stored (the store failed after the
// row changed): asking again answers 409 and stores the event.
func TestAcceptTaskAgainStoresAMissingEvent(t *testing.T) {
	e := newEnv(t)
	seedTasks(t, e, [2]string{"ana", "sam@nudge.example"})
	ok, err := e.store.CloseTask(context.Background(), 1, models.TaskAccepted, "accepted by Sam", time.Now())
	require.NoError(t, err)
	require.True(t, ok)

	require.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/v1/tasks/1/accept", "", bearer(adminKey)).Code)
	evs := e.events(t)
	require.Len(t, evs, 1)
	require.Equal(t, "nudge:accept-task-1", evs[0].MessageID)
	require.Len(t, e.tc.calls(), 1)
	// Once stored, asking again changes nothing.
	require.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/v1/tasks/1/accept", "", bearer(adminKey)).Code)
	require.Len(t, e.events(t), 1)
	require.Len(t, e.tc.calls(), 1)
}
