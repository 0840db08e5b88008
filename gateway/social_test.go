package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/workflows"
)

// GET /v1/social/posts reads social_posts: each post's state, with its
// time, URL or reason. Admin only.
func TestSocialPostsAPI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rec := e.do(http.MethodGet, "/v1/social/posts", "", bearer(adminKey))
	requireJSON(t, rec, http.StatusOK, `{"posts":[]}`)
	require.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/v1/social/posts", "", bearer(writeKey)).Code)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/v1/social/posts", "").Code)

	at := time.Date(2027, 3, 20, 8, 0, 0, 0, time.UTC)
	post := func(name string, hours int) workflows.SocialPost {
		return workflows.SocialPost{Name: name, Text: "Hello " + name, At: at.Add(time.Duration(hours) * time.Hour), Zone: "Europe/Paris", To: "mastodon"}
	}
	for _, st := range []workflows.SocialState{
		{Post: post("later", 48), State: workflows.SocialScheduled, At: at},
		{Post: post("asked", 24), State: workflows.SocialAwaitingApproval, Reason: "asked in #marketing", At: at},
		{Post: post("out", 0), State: workflows.SocialPosted, URL: "https://mastodon.example/@acme/1", At: at},
		{Post: post("nope", 1), State: workflows.SocialRejected, Reason: "rejected by ada", At: at},
	} {
		require.NoError(t, e.store.SaveSocialState(ctx, st, ""))
	}
	rec = e.do(http.MethodGet, "/v1/social/posts", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got struct {
		Posts []struct {
			Name, State, URL, Reason, Zone, Target string
			At                                     time.Time
		} `json:"posts"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Len(t, got.Posts, 4)
	var names, states []string
	for _, p := range got.Posts {
		names, states = append(names, p.Name), append(states, p.State)
	}
	require.Equal(t, []string{"out", "nope", "asked", "later"}, names) // by time
	require.Equal(t, []string{"posted", "rejected", "awaiting_approval", "scheduled"}, states)
	require.Equal(t, "https://mastodon.example/@acme/1", got.Posts[0].URL)
	require.Equal(t, "rejected by ada", got.Posts[1].Reason)
	require.True(t, got.Posts[3].At.Equal(at.Add(48*time.Hour)))
	require.Equal(t, "mastodon", got.Posts[3].Target)
}

// The Approve and Reject buttons signal the post's workflow, social/<name>.
func TestSlackSocialApproval(t *testing.T) {
	e := newSlackEnv(t)
	rec := e.postSlack(slackClick(t, workflows.SlackActionSocialApprove, "spring"), time.Now().Unix())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = e.postSlack(slackClick(t, workflows.SlackActionSocialReject, "summer"), time.Now().Unix())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = e.postSlack(slackClick(t, workflows.SlackActionSocialReject, ""), time.Now().Unix())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []string{"social/spring  " + workflows.SocialApprovalSignal, "social/summer  " + workflows.SocialApprovalSignal}, e.tc.signalled)
	require.Equal(t, []any{
		workflows.SocialApproval{Name: "spring", Approved: true, By: "sam.rep"},
		workflows.SocialApproval{Name: "summer", Approved: false, By: "sam.rep"},
	}, e.tc.signalArgs)
}
