package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/workflows"
)

// socialEnv runs SocialPostWorkflow with stand-in activities that record
// what they are asked, and when (in the test environment's skipped time).
type socialEnv struct {
	env     *testsuite.TestWorkflowEnvironment
	states  []workflows.SocialState
	posted  []time.Time // when PostSocial ran
	asked   []workflows.SocialApprovalRequest
	postErr error
}

func newSocialEnv(t *testing.T, start time.Time) *socialEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	e := &socialEnv{env: s.NewTestWorkflowEnvironment()}
	e.env.SetStartTime(start)
	e.env.RegisterWorkflowWithOptions(workflows.SocialPostWorkflow, workflow.RegisterOptions{Name: workflows.SocialPostWorkflowName})
	reg := func(name string, fn any) { e.env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(workflows.RecordSocialStateActivity, func(_ context.Context, st workflows.SocialState) error {
		e.states = append(e.states, st)
		return nil
	})
	reg(workflows.AskSocialApprovalActivity, func(_ context.Context, req workflows.SocialApprovalRequest) (workflows.SendResult, error) {
		e.asked = append(e.asked, req)
		return workflows.SendResult{Status: "sent", To: req.Post.Channel}, nil
	})
	reg(workflows.PostSocialActivity, func(ctx context.Context, p workflows.SocialPost) (workflows.SocialResult, error) {
		e.posted = append(e.posted, e.env.Now())
		if e.postErr != nil {
			return workflows.SocialResult{}, e.postErr
		}
		return workflows.SocialResult{ID: "1", URL: "https://mastodon.example/@acme/1"}, nil
	})
	return e
}

func (e *socialEnv) run(t *testing.T, p workflows.SocialPost) workflows.SocialState {
	t.Helper()
	e.env.ExecuteWorkflow(workflows.SocialPostWorkflowName, p)
	if !e.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := e.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st workflows.SocialState
	if err := e.env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func parisPost(t *testing.T) workflows.SocialPost {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return workflows.SocialPost{Name: "spring", Text: "Spring is here", Link: "https://shop.example.com/spring",
		At: time.Date(2027, 3, 20, 9, 0, 0, 0, paris), Zone: "Europe/Paris", To: workflows.SocialToMastodon, Channel: "#marketing"}
}

// The timer fires at the post's time in its zone (09:00 Paris is 08:00
// UTC in March), and the post goes out once.
func TestSocialPostWaitsForItsTime(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 3, 18, 12, 0, 0, 0, time.UTC))
	st := e.run(t, parisPost(t))
	if st.State != workflows.SocialPosted || st.URL != "https://mastodon.example/@acme/1" {
		t.Errorf("result = %+v", st)
	}
	if len(e.posted) != 1 {
		t.Fatalf("posted %d times, want once", len(e.posted))
	}
	if want := time.Date(2027, 3, 20, 8, 0, 0, 0, time.UTC); !e.posted[0].Equal(want) {
		t.Errorf("posted at %s, want %s", e.posted[0].UTC(), want)
	}
	if len(e.states) != 1 || e.states[0].State != workflows.SocialScheduled || len(e.asked) != 0 {
		t.Errorf("states = %+v, asked = %+v", e.states, e.asked)
	}
}

func TestSocialPostApproved(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 3, 20, 7, 0, 0, 0, time.UTC))
	p := parisPost(t)
	p.Approve = true
	e.env.RegisterDelayedCallback(func() {
		e.env.SignalWorkflow(workflows.SocialApprovalSignal, workflows.SocialApproval{Name: "spring", Approved: true, By: "ada"})
	}, 3*time.Hour) // an hour after its time, two into the wait
	st := e.run(t, p)
	if st.State != workflows.SocialPosted || len(e.posted) != 1 || len(e.asked) != 1 {
		t.Fatalf("result = %+v, posted %d, asked %d", st, len(e.posted), len(e.asked))
	}
	if want := time.Date(2027, 3, 20, 10, 0, 0, 0, time.UTC); !e.posted[0].Equal(want) {
		t.Errorf("posted at %s, want %s, on the click", e.posted[0].UTC(), want)
	}
	if want := time.Date(2027, 3, 21, 8, 0, 0, 0, time.UTC); !e.asked[0].Expires.Equal(want) {
		t.Errorf("the request expires %s, want %s (24h after asking)", e.asked[0].Expires, want)
	}
}

func TestSocialPostRejected(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 3, 20, 7, 0, 0, 0, time.UTC))
	p := parisPost(t)
	p.Approve = true
	e.env.RegisterDelayedCallback(func() {
		e.env.SignalWorkflow(workflows.SocialApprovalSignal, workflows.SocialApproval{Name: "spring", Approved: false, By: "ada"})
	}, 2*time.Hour)
	st := e.run(t, p)
	if st.State != workflows.SocialRejected || st.Reason != "rejected by ada" || len(e.posted) != 0 {
		t.Errorf("result = %+v, posted %d", st, len(e.posted))
	}
	if last := e.states[len(e.states)-1]; last.State != workflows.SocialRejected {
		t.Errorf("recorded %+v", last)
	}
}

func TestSocialPostApprovalExpires(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 3, 20, 7, 0, 0, 0, time.UTC))
	p := parisPost(t)
	p.Approve, p.ApprovalTimeout = true, 6*time.Hour
	e.env.RegisterDelayedCallback(func() {
		e.env.SignalWorkflow(workflows.SocialApprovalSignal, workflows.SocialApproval{Name: "spring", Approved: true, By: "late"})
	}, 8*time.Hour) // after the 6h wait that began at 08:00
	st := e.run(t, p)
	if st.State != workflows.SocialExpired || st.Reason != "no approval within 6h0m0s: not posted" || len(e.posted) != 0 {
		t.Errorf("result = %+v, posted %d", st, len(e.posted))
	}
}

// A changed post before its time replaces the old one, and the timer
// follows the new time; the same post again changes nothing.
func TestSocialPostUpdatedBeforeItsTime(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 3, 18, 12, 0, 0, 0, time.UTC))
	p := parisPost(t)
	later := p
	later.Text, later.At = "Spring is here, a day late", p.At.Add(24*time.Hour)
	e.env.RegisterDelayedCallback(func() {
		e.env.SignalWorkflow(workflows.SocialUpdateSignal, p) // unchanged: the reconcile at every start
	}, time.Hour)
	e.env.RegisterDelayedCallback(func() {
		e.env.SignalWorkflow(workflows.SocialUpdateSignal, later)
	}, 2*time.Hour)
	st := e.run(t, p)
	if st.State != workflows.SocialPosted || st.Post.Text != later.Text || len(e.posted) != 1 {
		t.Fatalf("result = %+v, posted %d", st, len(e.posted))
	}
	if want := time.Date(2027, 3, 21, 8, 0, 0, 0, time.UTC); !e.posted[0].Equal(want) {
		t.Errorf("posted at %s, want %s", e.posted[0].UTC(), want)
	}
	if len(e.states) != 2 || e.states[1].Post.Text != later.Text {
		t.Errorf("states = %+v, want scheduled twice (the change recorded, the repeat not)", e.states)
	}
}

// A post that cannot go out is recorded as failed, with the reason.
func TestSocialPostFails(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 3, 20, 7, 0, 0, 0, time.UTC))
	e.postErr = temporal.NewNonRetryableApplicationError("mastodon answered 422 Unprocessable Entity: Validation failed", "MastodonHTTP422", errors.New("422"))
	st := e.run(t, parisPost(t))
	if st.State != workflows.SocialFailed || st.Reason != "not posted: mastodon answered 422 Unprocessable Entity: Validation failed" || len(e.posted) != 1 {
		t.Errorf("result = %+v, posted %d", st, len(e.posted))
	}
}

// Found long after its time (an old file deployed again): not posted.
func TestSocialPostTooLate(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC))
	st := e.run(t, parisPost(t))
	if st.State != workflows.SocialExpired || len(e.posted) != 0 {
		t.Errorf("result = %+v, posted %d", st, len(e.posted))
	}
}

// A post cancelled before its time (removed from the file: the worker's
// reconcile cancels its workflow) records why and posts nothing; so does
// one cancelled while it waits for approval.
func TestSocialPostCancelled(t *testing.T) {
	for name, approve := range map[string]bool{"waiting for its time": false, "waiting for approval": true} {
		t.Run(name, func(t *testing.T) {
			e := newSocialEnv(t, time.Date(2027, 3, 18, 12, 0, 0, 0, time.UTC))
			p := parisPost(t)
			p.Approve = approve
			after := time.Hour // before 20 March 08:00 UTC
			if approve {
				after = 44*time.Hour + time.Minute // the time has come; the approval is asked
			}
			e.env.RegisterDelayedCallback(e.env.CancelWorkflow, after)
			e.env.ExecuteWorkflow(workflows.SocialPostWorkflowName, p)
			if !e.env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			if err := e.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
				t.Errorf("error = %v, want cancelled", err)
			}
			if len(e.posted) != 0 {
				t.Errorf("posted %d times after the cancel", len(e.posted))
			}
			last := e.states[len(e.states)-1]
			if last.State != workflows.SocialCancelled || last.Reason != "cancelled before it went out (removed from the file, or in Temporal): not posted" {
				t.Errorf("last state = %+v", last)
			}
			if approve != (len(e.asked) == 1) {
				t.Errorf("asked %d times for approval", len(e.asked))
			}
		})
	}
}

// A change to the image's alt text alone is a change: the workflow takes it.
func TestSocialPostAltTextUpdated(t *testing.T) {
	e := newSocialEnv(t, time.Date(2027, 3, 18, 12, 0, 0, 0, time.UTC))
	p := parisPost(t)
	p.Image, p.ImageAlt = "https://shop.example.com/spring.jpg", "A linen dress"
	alt := p
	alt.ImageAlt = "A linen dress on a washing line"
	e.env.RegisterDelayedCallback(func() {
		e.env.SignalWorkflow(workflows.SocialUpdateSignal, alt)
	}, time.Hour)
	st := e.run(t, p)
	if st.State != workflows.SocialPosted || st.Post.ImageAlt != alt.ImageAlt || len(e.states) != 2 {
		t.Errorf("result = %+v, states %d", st, len(e.states))
	}
}

// Slack and a webhook get the image's URL in the text; Mastodon, which
// gets the image as media, does not.
func TestSocialStatusTexts(t *testing.T) {
	p := parisPost(t)
	p.Image = "https://shop.example.com/spring.jpg"
	if got, want := workflows.SocialStatus(p), "Spring is here\n\nhttps://shop.example.com/spring\n\nhttps://shop.example.com/spring.jpg"; got != want {
		t.Errorf("SocialStatus = %q, want %q", got, want)
	}
	if got, want := workflows.MastodonStatus(p), "Spring is here\n\nhttps://shop.example.com/spring"; got != want {
		t.Errorf("MastodonStatus = %q, want %q", got, want)
	}
	p.Link = ""
	if got := workflows.MastodonStatus(p); got != "Spring is here" {
		t.Errorf("MastodonStatus without a link = %q", got)
	}
}
