package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"
	"go.temporal.io/api/serviceerror"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Slack interactivity: POST /webhooks/slack/interactive is the app's
// Interactivity Request URL (NUDGE_PUBLIC_URL + that path). Each request is
// verified with the app's signing secret (NUDGE_SLACK_SIGNING_SECRET): the
// X-Slack-Signature over the timestamp and body, and an
// X-Slack-Request-Timestamp within 5 minutes of the gateway's clock. A
// missing, wrong or stale signature gets 401 and changes nothing.
//
// The Accept lead button of an MQL alert (action_id accept_lead, value the
// task ID) accepts the task as POST /v1/tasks/:id/accept does, with the
// Slack user's name as the rep. Every other interaction is acknowledged and
// ignored. Slack wants an answer within 3 seconds; the answer is an empty
// 200.

const (
	slackBodyLimit = 1 << 20
	// slackAckWithin is how long the handler waits for the accept before
	// answering; the work goes on after it, and Slack has its answer in time.
	slackAckWithin = 2 * time.Second

	msgSlackNotConfigured = "Slack interactivity is not configured: set NUDGE_SLACK_SIGNING_SECRET to the app's signing secret"
	msgSlackNoSignature   = "missing X-Slack-Signature or X-Slack-Request-Timestamp: only Slack may call this endpoint"
	msgSlackStale         = "X-Slack-Request-Timestamp is more than 5 minutes from the gateway's clock: a replayed request, or a clock out of sync"
	msgSlackBadSignature  = "X-Slack-Signature does not match: the request was altered, it did not come from Slack, " +
		"or NUDGE_SLACK_SIGNING_SECRET is not the app's signing secret"
)

func (g *Gateway) slackRoutes(r *gin.Engine) {
	r.POST("/webhooks/slack/interactive", g.slackInteractive)
}

func (g *Gateway) slackInteractive(c *gin.Context) {
	secret := g.Config.SlackSigningSecret
	if secret == "" {
		fail(c, http.StatusNotFound, msgSlackNotConfigured)
		return
	}
	body, ok := g.verifySlack(c, secret)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		(&apiError{Status: http.StatusBadRequest, Field: "payload", Error: "the body must be a form with a payload field, as Slack sends interactions"}).send(c)
		return
	}
	payload := []byte(form.Get("payload"))
	if _, aerr := decodeObject(payload); aerr != nil && aerr.Field != "" {
		// Bad text, which encoding/json would quietly turn into U+FFFD.
		(&apiError{Status: http.StatusBadRequest, Field: "payload", Error: "payload: " + aerr.Error}).send(c)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		(&apiError{Status: http.StatusBadRequest, Field: "payload", Error: "payload is not an interaction JSON object: " + err.Error()}).send(c)
		return
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		c.Status(http.StatusOK)
		return
	}
	for _, action := range cb.ActionCallback.BlockActions {
		switch {
		case action == nil:
		case action.ActionID == workflows.SlackActionAcceptLead:
			g.slackAccept(c, action.Value, cb.User)
			return
		case action.ActionID == workflows.SlackActionAdApprove || action.ActionID == workflows.SlackActionAdReject:
			g.slackAdAnswer(c, action.Value, action.ActionID == workflows.SlackActionAdApprove, cb.User)
			return
		case action.ActionID == workflows.SlackActionSocialApprove || action.ActionID == workflows.SlackActionSocialReject:
			g.slackSocialAnswer(c, action.Value, action.ActionID == workflows.SlackActionSocialApprove, cb.User)
			return
		}
	}
	c.Status(http.StatusOK)
}

// verifySlack reads the body and checks Slack's signature over it, with
// slack-go's verifier. It answers 401 and returns false when the request
// is not Slack's.
func (g *Gateway) verifySlack(c *gin.Context, secret string) ([]byte, bool) {
	deny := func(msg string, err error) ([]byte, bool) {
		g.log().Warn("Slack request refused", "reason", msg, "error", err, "client", c.ClientIP())
		fail(c, http.StatusUnauthorized, msg)
		return nil, false
	}
	sv, err := slack.NewSecretsVerifier(c.Request.Header, secret)
	switch {
	case errors.Is(err, slack.ErrMissingHeaders):
		return deny(msgSlackNoSignature, err)
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return deny(msgSlackStale, err)
	case errors.As(err, new(*strconv.NumError)):
		return deny("X-Slack-Request-Timestamp is not a Unix time", err)
	case err != nil:
		return deny(msgSlackBadSignature, err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, slackBodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			(&apiError{Status: http.StatusRequestEntityTooLarge, Limit: slackBodyLimit,
				Error: fmt.Sprintf("the body is over the %d KB limit for a Slack interaction", slackBodyLimit>>10)}).send(c)
			return nil, false
		}
		fail(c, http.StatusBadRequest, "could not read the body: "+err.Error())
		return nil, false
	}
	if _, err := sv.Write(body); err != nil {
		return deny(msgSlackBadSignature, err)
	}
	if err := sv.Ensure(); err != nil {
		return deny(msgSlackBadSignature, err)
	}
	return body, true
}

// slackAccept accepts the task a rep clicked Accept lead on. It waits for
// the outcome a short while only: a failure seen in time gets 500, which
// Slack shows the rep; a task already taken or unknown is logged and
// acknowledged, since the rep can do nothing about it.
func (g *Gateway) slackAccept(c *gin.Context, value string, user slack.User) {
	id, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
	if err != nil || id == 0 {
		g.log().Warn("Slack Accept lead with no task ID", "value", clip(value), "slack_user", user.ID)
		c.Status(http.StatusOK)
		return
	}
	rep := firstNonEmpty(user.Name, user.Username, user.RealName, user.ID, "a Slack user")
	rep = taskClip(rep, taskRepLimit)
	props := map[string]any{"via": "slack"}
	if user.ID != "" {
		props["slack_user_id"] = user.ID
	}
	ctx := context.WithoutCancel(c.Request.Context())
	done := make(chan error, 1)
	go func() {
		_, err := g.acceptTask(ctx, id, rep, props)
		done <- err
		g.logSlackAccept(id, rep, err)
	}()
	select {
	case err := <-done:
		var notOpen *taskNotOpenError
		if err != nil && !errors.Is(err, models.ErrNotFound) && !errors.As(err, &notOpen) {
			fail(c, http.StatusInternalServerError, "could not accept the lead; the gateway log has the details")
			return
		}
	case <-time.After(slackAckWithin):
		g.log().Warn("Slack Accept lead still being recorded; acknowledged to Slack", "task", id)
	}
	c.Status(http.StatusOK)
}

func (g *Gateway) logSlackAccept(id uint64, rep string, err error) {
	var notOpen *taskNotOpenError
	switch {
	case err == nil:
		g.log().Info("lead accepted in Slack", "task", id, "rep", rep)
	case errors.Is(err, models.ErrNotFound):
		g.log().Warn("Slack Accept lead for an unknown task", "task", id, "rep", rep)
	case errors.As(err, &notOpen):
		g.log().Info("Slack Accept lead for a task no longer open", "task", id, "rep", rep, "status", notOpen.task.Status)
	default:
		g.log().Error("could not accept a lead from Slack", "task", id, "rep", rep, "error", err)
	}
}

// slackAdAnswer passes an Approve or Reject click on an ad action to the
// rule run waiting for it (workflows.AdApprovalSignal). The run decides what
// the click means: one for an action already answered or expired is
// ignored there. A click Slack should show as failed gets 500.
func (g *Gateway) slackAdAnswer(c *gin.Context, value string, approved bool, user slack.User) {
	id, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
	if err != nil || id == 0 {
		g.log().Warn("Slack ad approval with no action ID", "value", clip(value), "slack_user", user.ID)
		c.Status(http.StatusOK)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), slackAckWithin)
	defer cancel()
	row, err := g.Store.AdActionByID(ctx, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		g.log().Warn("Slack ad approval for an unknown action", "action", id, "slack_user", user.ID)
		c.Status(http.StatusOK)
		return
	case err != nil:
		g.log().Error("Slack ad approval: read the action", "action", id, "error", err)
		fail(c, http.StatusInternalServerError, "could not record the answer; the gateway log has the details")
		return
	}
	by := taskClip(firstNonEmpty(user.Name, user.Username, user.RealName, user.ID, "a Slack user"), taskRepLimit)
	answer := workflows.AdApproval{ActionID: id, Approved: approved, By: by}
	if err := g.Temporal.SignalWorkflow(ctx, row.WorkflowID, row.RunID, workflows.AdApprovalSignal, answer); err != nil {
		var gone *serviceerror.NotFound
		if errors.As(err, &gone) {
			// The run ended (expired, or answered from another click).
			g.log().Warn("Slack ad approval after its run ended", "action", id, "by", by)
			c.Status(http.StatusOK)
			return
		}
		g.log().Error("Slack ad approval: signal the rule run", "action", id, "error", err)
		fail(c, http.StatusInternalServerError, "could not pass the answer on; the gateway log has the details")
		return
	}
	g.log().Info("ad action answered in Slack", "action", id, "approved", approved, "by", by)
	c.Status(http.StatusOK)
}
