package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

func init() {
	register(Journey{
		Name:     "ad_click_followup",
		Workflow: AdClickFollowup,
		// A visit that landed from an ad (its URL carried a click ID).
		Starts: func(ev Event, _ map[string]any) bool { return ev.AdClick != nil },
		// Once a month at most: someone who clicks our ads every day should
		// not hear from us every day.
		Reentry: EnterOncePer(30 * Day),
		// Signing up or ordering is what the click was for.
		Goals:    []string{EventSignedUp, EventOrderCompleted},
		Converts: []string{EventSignedUp, EventOrderCompleted},
	})
}

// adClickWait is how long a click has to turn into a sign-up or an order
// before we follow it up; the retarget segment uses the same wait.
const adClickWait = 4 * time.Hour

// AdClickFollowup follows up an ad click that brought no sign-up or order:
// one email back to the page the ad led to, and, while they have not
// ordered, a place in the retargeting audience (NUDGE_RETARGET_AUDIENCE).
// An order ends it, and takes them out of the audience at its next sync.
func AdClickFollowup(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	click := in.Trigger.AdClick

	// 4 hours: no sign-up, no order. One email, back where the ad led.
	j.WaitUntil(adClickWait)
	j.Email("come_back", WithLanding(click.URL))

	// From now until an order or 30 days, the contact is in the retarget
	// segment, which the retargeting audience syncs.
	j.Note("in the retarget segment until an order, or 30 days: the retargeting audience follows it")
	j.WaitUntil(30 * Day)
	return j.End()
}
