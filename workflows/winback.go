package workflows

import (
	"go.temporal.io/sdk/workflow"
)

func init() {
	register(Journey{
		Name:     "winback",
		Workflow: WinBack,
		// ContactWorkflow's engagement clock makes this event after
		// NUDGE_WINBACK_AFTER (60 days) without an open, click or page view
		// (or, from version 5, an in-app message read or clicked).
		Starts:  func(ev Event, _ map[string]any) bool { return ev.Is(EventEngagementLapsed) },
		Reentry: EnterAlways,
		// Any engagement is a success; in-app from version 5.
		Goals:    []string{EventEmailOpened, EventEmailClicked, EventPageViewed, EventInAppRead, EventInAppClicked},
		Converts: []string{EventEmailOpened, EventEmailClicked, EventPageViewed, EventInAppRead, EventInAppClicked}, // re-engaged
		Since:    map[string]int{EventInAppRead: 5, EventInAppClicked: 5},
	})
}

// winbackDiscount is the last email's incentive, in percent.
const winbackDiscount = 20

// WinBack tries three times to bring back a contact who has gone quiet, and
// otherwise lets them go: a clean list keeps deliverability high.
func WinBack(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)

	// Right away: "We miss you", low-pressure, with our best recent content.
	j.Email("we_miss_you")

	// A week later: what would make these emails worth reading? A link to
	// the preference page, to write less often or about other topics.
	j.WaitUntil(7 * Day)
	j.Email("what_would_help")

	// A week after that: the last email, said plainly, with the strongest
	// incentive we have.
	j.WaitUntil(14 * Day)
	j.Email("last_email", WithDiscount(j.DiscountCode(winbackDiscount), winbackDiscount))

	// Still nothing a week later: unengaged, and out of marketing sends.
	j.WaitUntil(21 * Day)
	if j.Step(MarkUnengagedActivity, "mark unengaged", ContactRequest{ContactID: in.ContactID, At: workflow.Now(ctx)}, nil) {
		j.Note("no engagement after three emails: marked unengaged, no more marketing email")
	}
	return j.End()
}
