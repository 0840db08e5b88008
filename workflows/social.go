package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Social posts: each entry of the NUDGE_SOCIAL_POSTS file is one
// SocialPostWorkflow, workflow ID social/<name>, which platform/social.go
// starts at worker start. The workflow waits for the post's time on a
// workflow timer, asks for approval in Slack when the post says so, then
// posts through PostSocialActivity (Mastodon, or a signed webhook for
// Buffer or Zapier). Every state it reaches is written to social_posts by
// an activity, so GET /v1/social/posts reads the database.
//
// A post changed in the file before its time reaches the running workflow
// as SocialUpdateSignal: the new post replaces the old one and the timer
// starts again for its (possibly new) time. Once the post's time has come
// (waiting for approval, or posting), an update is ignored: what was
// approved, or is being posted, is what goes out.
const (
	SocialPostWorkflowName = "SocialPostWorkflow"

	RecordSocialStateActivity = "RecordSocialState" // SocialState
	AskSocialApprovalActivity = "AskSocialApproval" // SocialApprovalRequest → SendResult
	PostSocialActivity        = "PostSocial"        // SocialPost → SocialResult

	// SocialUpdateSignal carries a changed SocialPost to its workflow.
	SocialUpdateSignal = "social-update"
	// SocialApprovalSignal carries a Slack Approve or Reject click
	// (SocialApproval).
	SocialApprovalSignal = "social-approval"

	// SlackActionSocialApprove and SlackActionSocialReject are the
	// action_ids of an approval request's buttons; each button's value is
	// the post's name.
	SlackActionSocialApprove = "social_approve"
	SlackActionSocialReject  = "social_reject"

	// DefaultSocialApprovalTimeout is how long a post waits for a click
	// when the request names no timeout.
	DefaultSocialApprovalTimeout = 24 * time.Hour
	// SocialLateLimit: a post whose time passed longer ago than this when
	// its workflow first reaches it is not posted (expired): an old file
	// deployed again must not post last year's news.
	SocialLateLimit = 24 * time.Hour
)

// Social post targets.
const (
	SocialToMastodon      = "mastodon"
	SocialToWebhookPrefix = "webhook:" // webhook:<name from NUDGE_WEBHOOKS>
)

// Social post states, as social_posts records them.
const (
	SocialScheduled        = "scheduled"
	SocialAwaitingApproval = "awaiting_approval"
	SocialPosted           = "posted"
	SocialFailed           = "failed"
	SocialRejected         = "rejected"
	SocialExpired          = "expired"
	SocialCancelled        = "cancelled" // removed from the file, or cancelled in Temporal, before it went out
)

// SocialDone says whether a state is final: the post will not go out
// (again).
func SocialDone(state string) bool {
	switch state {
	case SocialPosted, SocialFailed, SocialRejected, SocialExpired, SocialCancelled:
		return true
	}
	return false
}

// SocialPost is one scheduled post, as the file says it.
type SocialPost struct {
	Name     string    `json:"name" yaml:"-"`
	Text     string    `json:"text"`
	Link     string    `json:"link,omitempty"`
	Image    string    `json:"image,omitempty"`     // a URL; uploaded to Mastodon as media (see activities/social.go)
	ImageAlt string    `json:"image_alt,omitempty"` // the image's alt text (Mastodon's media description)
	At       time.Time `json:"at"`                  // the post's time, read in Zone
	Zone     string    `json:"zone"`                // IANA zone the time was written in
	To       string    `json:"to"`                  // mastodon, or webhook:<name>
	// Approve asks in Slack (Channel) before posting, waiting up to
	// ApprovalTimeout (0: DefaultSocialApprovalTimeout).
	Approve         bool          `json:"approve,omitempty"`
	Channel         string        `json:"channel,omitempty"`
	ApprovalTimeout time.Duration `json:"approval_timeout,omitempty"`
}

// SocialWorkflowID is the workflow ID of a post.
func SocialWorkflowID(name string) string { return "social/" + name }

// SocialState is one state of a post, for social_posts.
type SocialState struct {
	Post   SocialPost `json:"post"`
	State  string     `json:"state"`
	URL    string     `json:"url,omitempty"`
	Reason string     `json:"reason,omitempty"`
	At     time.Time  `json:"at"` // when it reached the state (workflow time)
}

// SocialApprovalRequest asks in Slack whether to post.
type SocialApprovalRequest struct {
	Post    SocialPost `json:"post"`
	Expires time.Time  `json:"expires"`
}

// SocialApproval is one answer to an approval request.
type SocialApproval struct {
	Name     string `json:"name"` // the post asked about
	Approved bool   `json:"approved"`
	By       string `json:"by"` // who clicked, as Slack names them
}

// SocialResult is what posting returned: the status's ID and URL on
// Mastodon; the webhook-id for a webhook, which has no URL.
type SocialResult struct {
	ID  string `json:"id"`
	URL string `json:"url,omitempty"`
}

var socialRecordOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute},
}

var socialPostOptions = workflow.ActivityOptions{
	// Room for an image's fetch, upload and processing before the status.
	StartToCloseTimeout: 3 * time.Minute,
	// Mastodon or a receiver down for a while delays the post; past this
	// it is recorded as failed.
	ScheduleToCloseTimeout: 2 * time.Hour,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 5 * time.Minute},
}

// SocialPostWorkflow waits for a post's time, asks for approval if the
// post wants it, and posts it. It returns the final state.
func SocialPostWorkflow(ctx workflow.Context, post SocialPost) (SocialState, error) {
	log := workflow.GetLogger(ctx)
	rctx := workflow.WithActivityOptions(ctx, socialRecordOptions)
	record := func(s SocialState) (SocialState, error) {
		s.At = workflow.Now(ctx).UTC()
		return s, workflow.ExecuteActivity(rctx, RecordSocialStateActivity, s).Get(ctx, nil)
	}
	if _, err := record(SocialState{Post: post, State: SocialScheduled}); err != nil {
		return SocialState{}, err
	}
	// A cancelled workflow (the post was removed from the file, or someone
	// cancelled it in Temporal) records why, on a context the cancellation
	// does not reach, and posts nothing.
	cancelled := func() (SocialState, error) {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		s := SocialState{Post: post, State: SocialCancelled, Reason: "cancelled before it went out (removed from the file, or in Temporal): not posted",
			At: workflow.Now(ctx).UTC()}
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, socialRecordOptions), RecordSocialStateActivity, s).Get(dctx, nil); err != nil {
			return s, err
		}
		return s, temporal.NewCanceledError(s.Reason)
	}

	// Wait for the time on a timer, taking updates until it comes.
	updates := workflow.GetSignalChannel(ctx, SocialUpdateSignal)
	for {
		wait := post.At.Sub(workflow.Now(ctx))
		if wait <= 0 {
			break
		}
		tctx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(tctx, wait)
		var next *SocialPost
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) {})
		sel.AddReceive(updates, func(c workflow.ReceiveChannel, _ bool) {
			var p SocialPost
			c.Receive(ctx, &p)
			next = &p
		})
		sel.Select(ctx)
		cancel()
		if ctx.Err() != nil {
			return cancelled()
		}
		if next == nil {
			break
		}
		next.Name = post.Name
		if sameSocialPost(*next, post) {
			continue // the worker's start-up reconcile, nothing changed
		}
		post = *next
		log.Info("social post updated before its time", "post", post.Name, "at", post.At)
		if _, err := record(SocialState{Post: post, State: SocialScheduled}); err != nil {
			return SocialState{}, err
		}
	}
	if late := workflow.Now(ctx).Sub(post.At); late > SocialLateLimit {
		return record(SocialState{Post: post, State: SocialExpired,
			Reason: fmt.Sprintf("its time had passed %s before Nudge reached it (more than %s): not posted", late.Round(time.Minute), SocialLateLimit)})
	}

	if post.Approve {
		st, ok, err := socialApproval(ctx, rctx, post, record)
		if ctx.Err() != nil {
			return cancelled()
		}
		if err != nil || !ok {
			return st, err
		}
	}

	var res SocialResult
	pctx := workflow.WithActivityOptions(ctx, socialPostOptions)
	if err := workflow.ExecuteActivity(pctx, PostSocialActivity, post).Get(ctx, &res); err != nil {
		reason := err.Error()
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			reason = app.Message()
		}
		return record(SocialState{Post: post, State: SocialFailed, Reason: "not posted: " + reason})
	}
	// PostSocial recorded the posted state with the URL itself.
	return SocialState{Post: post, State: SocialPosted, URL: res.URL, At: workflow.Now(ctx).UTC()}, nil
}

// socialApproval asks in Slack and waits for an answer. ok is true when
// the post was approved; otherwise the returned state is final and
// recorded.
func socialApproval(ctx, rctx workflow.Context, post SocialPost, record func(SocialState) (SocialState, error)) (SocialState, bool, error) {
	timeout := post.ApprovalTimeout
	if timeout <= 0 {
		timeout = DefaultSocialApprovalTimeout
	}
	approvals := collectAnswers[SocialApproval](ctx, SocialApprovalSignal)
	expires := workflow.Now(ctx).Add(timeout)
	var sent SendResult
	// Slack down for long: the post fails, saying so, rather than wait on.
	actx := workflow.WithScheduleToCloseTimeout(rctx, 30*time.Minute)
	if err := workflow.ExecuteActivity(actx, AskSocialApprovalActivity, SocialApprovalRequest{Post: post, Expires: expires}).Get(ctx, &sent); err != nil {
		st, rerr := record(SocialState{Post: post, State: SocialFailed, Reason: "the approval request could not be posted to Slack: " + err.Error()})
		return st, false, rerr
	}
	a, got, err := approvals.next(ctx, timeout)
	if err != nil {
		return SocialState{}, false, err
	}
	if !got {
		st, err := record(SocialState{Post: post, State: SocialExpired, Reason: fmt.Sprintf("no approval within %s: not posted", timeout)})
		return st, false, err
	}
	if !a.Approved {
		st, err := record(SocialState{Post: post, State: SocialRejected, Reason: "rejected by " + a.By})
		return st, false, err
	}
	workflow.GetLogger(ctx).Info("social post approved", "post", post.Name, "by", a.By)
	return SocialState{}, true, nil
}

// MastodonStatusLimit is the length of a status on a default Mastodon
// instance.
const MastodonStatusLimit = 500

// SocialStatus is a post in full, as the Slack approval request and a
// webhook target show it: its text, then its link and its image's URL each
// after a blank line.
func SocialStatus(p SocialPost) string {
	return socialText(p.Text, p.Link, p.Image)
}

// MastodonStatus is the status text a post goes to Mastodon with: its
// text, then its link after a blank line. The image is not in the text: it
// is uploaded as media and attached to the status.
func MastodonStatus(p SocialPost) string {
	return socialText(p.Text, p.Link)
}

func socialText(text string, urls ...string) string {
	for _, u := range urls {
		if u != "" {
			text += "\n\n" + u
		}
	}
	return text
}

func sameSocialPost(a, b SocialPost) bool {
	return a.Text == b.Text && a.Link == b.Link && a.Image == b.Image && a.ImageAlt == b.ImageAlt && a.At.Equal(b.At) && a.Zone == b.Zone &&
		a.To == b.To && a.Approve == b.Approve && a.Channel == b.Channel && a.ApprovalTimeout == b.ApprovalTimeout
}
