package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The CRM tasks API (admin key). A task is opened by the MQL handoff; a rep
// accepts it (the lead becomes an SQL) or closes it:
//
//	GET  /v1/tasks?status=open|accepted|closed&rep=<email>&limit=50&offset=0
//	     → {"tasks": [...], "limit": 50, "offset": 0}, newest first
//	POST /v1/tasks/:id/accept  {"rep": "name"} (optional)
//	     → 200 with the task; a Lead Accepted event goes to the contact
//	POST /v1/tasks/:id/close   {"reason": "..."} (optional)
//	     → 200 with the task; a Sales Task Closed event goes to the contact
//
// Accept and close answer 404 for an unknown task and 409 for a task that
// is not open. The Accept lead button in Slack goes through the same code
// (acceptTask).

// Paging for GET /v1/tasks.
const (
	DefaultTaskLimit = 50
	MaxTaskLimit     = 200
)

const (
	taskBodyLimit = 16 << 10
	// taskReasonLimit is what tasks.closed_reason holds.
	taskReasonLimit = 191
	taskRepLimit    = 100
)

func (g *Gateway) taskRoutes(admin *gin.RouterGroup) {
	admin.GET("/tasks", g.listTasks)
	admin.POST("/tasks/:id/accept", g.acceptTaskAPI)
	admin.POST("/tasks/:id/close", g.closeTaskAPI)
}

var taskStatuses = map[string]bool{models.TaskOpen: true, models.TaskAccepted: true, models.TaskClosed: true}

func (g *Gateway) listTasks(c *gin.Context) {
	q := c.Request.URL.Query()
	status := q.Get("status")
	if status != "" && !taskStatuses[status] {
		(&apiError{Status: http.StatusBadRequest, Field: "status",
			Error: fmt.Sprintf("status: %q is not a task status; use open, accepted or closed", clip(status))}).send(c)
		return
	}
	limit, ok := boundedQueryInt(c, "limit", DefaultTaskLimit, 1, MaxTaskLimit)
	if !ok {
		return
	}
	offset, ok := boundedQueryInt(c, "offset", 0, 0, -1)
	if !ok {
		return
	}
	tasks, err := g.Store.Tasks(c.Request.Context(), status, strings.TrimSpace(q.Get("rep")), limit, offset)
	if err != nil {
		g.serverError(c, "read tasks", err)
		return
	}
	if tasks == nil {
		tasks = []models.Task{}
	}
	c.JSON(http.StatusOK, gin.H{"tasks": tasks, "limit": limit, "offset": offset})
}

func (g *Gateway) acceptTaskAPI(c *gin.Context) {
	id, ok := taskID(c)
	if !ok {
		return
	}
	var body struct {
		Rep *string `json:"rep"`
	}
	if !readOptionalJSON(c, &body) {
		return
	}
	rep := "API"
	if body.Rep != nil && strings.TrimSpace(*body.Rep) != "" {
		rep = strings.TrimSpace(*body.Rep)
	}
	if n := utf8.RuneCountInString(rep); n > taskRepLimit {
		(&apiError{Status: http.StatusBadRequest, Field: "rep", Limit: taskRepLimit,
			Error: fmt.Sprintf("rep: is %d characters long; the limit is %d", n, taskRepLimit)}).send(c)
		return
	}
	t, err := g.acceptTask(context.WithoutCancel(c.Request.Context()), id, rep, map[string]any{"via": "api"})
	g.answerTask(c, id, t, err)
}

func (g *Gateway) closeTaskAPI(c *gin.Context) {
	id, ok := taskID(c)
	if !ok {
		return
	}
	var body struct {
		Reason *string `json:"reason"`
	}
	if !readOptionalJSON(c, &body) {
		return
	}
	reason := "closed by API"
	if body.Reason != nil && strings.TrimSpace(*body.Reason) != "" {
		reason = strings.TrimSpace(*body.Reason)
	}
	if n := utf8.RuneCountInString(reason); n > taskReasonLimit {
		(&apiError{Status: http.StatusBadRequest, Field: "reason", Limit: taskReasonLimit,
			Error: fmt.Sprintf("reason: is %d characters long; the limit is %d", n, taskReasonLimit)}).send(c)
		return
	}
	t, err := g.closeTask(context.WithoutCancel(c.Request.Context()), id, reason)
	g.answerTask(c, id, t, err)
}

// answerTask turns the outcome of acceptTask or closeTask into a response.
func (g *Gateway) answerTask(c *gin.Context, id uint64, t *models.Task, err error) {
	var notOpen *taskNotOpenError
	switch {
	case err == nil:
		c.JSON(http.StatusOK, t)
	case errors.Is(err, models.ErrNotFound):
		fail(c, http.StatusNotFound, fmt.Sprintf("no task %d; GET /v1/tasks lists them", id))
	case errors.As(err, &notOpen):
		fail(c, http.StatusConflict, notOpen.Error())
	default:
		g.serverError(c, fmt.Sprintf("update task %d", id), err)
	}
}

func taskID(c *gin.Context) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || id == 0 {
		fail(c, http.StatusBadRequest, fmt.Sprintf("task id %q is not a number; use the id from GET /v1/tasks", clip(c.Param("id"))))
		return 0, false
	}
	return id, true
}

// readOptionalJSON reads an optional JSON object into dst; an empty body is
// fine. It answers 400 (or 413) and returns false when the body is not one.
func readOptionalJSON(c *gin.Context, dst any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, taskBodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			(&apiError{Status: http.StatusRequestEntityTooLarge, Limit: taskBodyLimit,
				Error: fmt.Sprintf("the body is over the %d KB limit", taskBodyLimit>>10)}).send(c)
			return false
		}
		fail(c, http.StatusBadRequest, "could not read the body: "+err.Error())
		return false
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return true
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			(&apiError{Status: http.StatusBadRequest, Field: typeErr.Field,
				Error: fmt.Sprintf("%s: must be a string, got %s", typeErr.Field, typeErr.Value)}).send(c)
			return false
		}
		fail(c, http.StatusBadRequest, "the body must be a JSON object: "+err.Error())
		return false
	}
	return true
}

// taskNotOpenError says a task cannot be accepted or closed: it already is.
type taskNotOpenError struct{ task *models.Task }

func (e *taskNotOpenError) Error() string {
	msg := fmt.Sprintf("task %d is %s, not open", e.task.ID, e.task.Status)
	if e.task.ClosedReason != "" {
		msg += " (" + e.task.ClosedReason + ")"
	}
	return msg
}

// acceptTask marks an open task accepted by rep and tells the contact's
// workflow with a Lead Accepted event (messageId accept-task-<id>), which
// makes the lead an SQL. props are added to the event's (via, the Slack
// user). The API and the Slack button both come here.
func (g *Gateway) acceptTask(ctx context.Context, id uint64, rep string, props map[string]any) (*models.Task, error) {
	p := map[string]any{"task_id": id, "rep": rep}
	for k, v := range props {
		p[k] = v
	}
	return g.finishTask(ctx, id, models.TaskAccepted, taskClip("accepted by "+rep, taskReasonLimit),
		workflows.EventLeadAccepted, workflows.OwnID("accept-task", strconv.FormatUint(uint64(id), 10)), p)
}

// closeTask marks an open task closed and tells the contact's workflow with
// a Sales Task Closed event (messageId close-task-<id>).
func (g *Gateway) closeTask(ctx context.Context, id uint64, reason string) (*models.Task, error) {
	return g.finishTask(ctx, id, models.TaskClosed, reason,
		workflows.EventSalesTaskClosed, workflows.OwnID("close-task", strconv.FormatUint(uint64(id), 10)), map[string]any{"task_id": id, "reason": reason})
}

// finishTask moves an open task to status, then stores and signals the
// event for its contact. It returns models.ErrNotFound for an unknown task
// and a *taskNotOpenError for one that is not open.
//
// The task row changes first: it decides who wins when two requests race.
// Should the event then fail to be stored, asking again gets 409, and also
// stores the event (its messageId is fixed, so it is never stored twice):
// a retried request leaves the contact's workflow told.
func (g *Gateway) finishTask(ctx context.Context, id uint64, status, reason, event, messageID string, props map[string]any) (*models.Task, error) {
	if _, err := g.Store.Task(ctx, id); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	changed, err := g.Store.CloseTask(ctx, id, status, reason, now)
	if err != nil {
		return nil, err
	}
	t, err := g.Store.Task(ctx, id)
	if err != nil {
		return nil, err
	}
	if !changed && t.Status != status {
		return nil, &taskNotOpenError{task: t}
	}
	call := models.Incoming{
		Event:  models.Event{MessageID: messageID, Kind: workflows.KindTrack, Name: event, Properties: props, Timestamp: now},
		UserID: t.ContactID,
	}
	if err := g.accept(ctx, []models.Incoming{call}); err != nil {
		return nil, fmt.Errorf("task %d is %s, but its %s event was not stored (ask again to store it): %w", id, status, event, err)
	}
	if !changed {
		return nil, &taskNotOpenError{task: t}
	}
	return t, nil
}

func taskClip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
