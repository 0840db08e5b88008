package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"
	"go.temporal.io/api/serviceerror"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Social posts (workflows/social.go): GET /v1/social/posts (admin) lists
// every post with its state as social_posts has it (scheduled with its
// time, awaiting approval, posted with its URL, failed, rejected or
// expired with the reason), read from the database, not Temporal.

func (g *Gateway) socialRoutes(admin *gin.RouterGroup) {
	admin.GET("/social/posts", g.getSocialPosts)
}

func (g *Gateway) getSocialPosts(c *gin.Context) {
	posts, err := g.Store.SocialPosts(c.Request.Context())
	if err != nil {
		g.serverError(c, "read social posts", err)
		return
	}
	if posts == nil {
		posts = []models.SocialPost{}
	}
	c.JSON(http.StatusOK, gin.H{"posts": posts})
}

// slackSocialAnswer passes an Approve or Reject click on a social post
// (value: the post's name) to its workflow, social/<name>. The workflow
// takes the first answer; one after it stopped waiting is ignored there. A
// click for a post whose workflow has ended is logged and acknowledged.
func (g *Gateway) slackSocialAnswer(c *gin.Context, value string, approved bool, user slack.User) {
	name := strings.TrimSpace(value)
	if name == "" || len(name) > 64 {
		g.log().Warn("Slack social approval with no post name", "value", clip(value), "slack_user", user.ID)
		c.Status(http.StatusOK)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), slackAckWithin)
	defer cancel()
	by := taskClip(firstNonEmpty(user.Name, user.Username, user.RealName, user.ID, "a Slack user"), taskRepLimit)
	answer := workflows.SocialApproval{Name: name, Approved: approved, By: by}
	err := g.Temporal.SignalWorkflow(ctx, workflows.SocialWorkflowID(name), "", workflows.SocialApprovalSignal, answer)
	var gone *serviceerror.NotFound
	switch {
	case errors.As(err, &gone):
		g.log().Warn("Slack social approval after its workflow ended", "post", name, "by", by)
	case err != nil:
		g.log().Error("Slack social approval: signal the post", "post", name, "error", err)
		fail(c, http.StatusInternalServerError, "could not pass the answer on; the gateway log has the details")
		return
	default:
		g.log().Info("social post answered in Slack", "post", name, "approved", approved, "by", by)
	}
	c.Status(http.StatusOK)
}
