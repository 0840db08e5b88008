package workflows

import "go.temporal.io/sdk/workflow"

func init() {
	register(Journey{
		Name:     "welcome_b2b",
		Workflow: WelcomeB2B,
		Starts:   func(ev Event, traits map[string]any) bool { return ev.Is(EventSignedUp) && isB2B(ev, traits) },
		Reentry:  EnterOnce,
		Waits:    []string{EventSetupCompleted},
		Converts: []string{EventSetupCompleted, EventTrialStarted},
	})
}

// WelcomeB2B onboards a new B2B SaaS account over its first two weeks: one
// clear action, a quick win, help if setup stalls, then depth and proof, and
// finally a note from a real person.
func WelcomeB2B(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)

	// Day 0: welcome, with a single clear action: complete your profile.
	// In the app, a getting-started checklist for the first visit, there
	// while the welcome runs (runs from version 5).
	j.Email("welcome")
	if in.Version >= 5 {
		j.InApp("getting_started", InAppExpires(welcomeLength))
	}

	// Day 1: the simplest thing to do for a first bit of value.
	j.WaitUntil(1 * Day)
	j.Email("quick_win")

	// Day 3: setup done? Then the next milestone; if not, help finishing it.
	j.WaitUntil(3 * Day)
	if j.Received(EventSetupCompleted) {
		j.Email("next_milestone")
	} else {
		j.Email("finish_setup")
	}

	// Day 7: a feature they may not have found yet.
	j.WaitUntil(7 * Day)
	j.Email("feature_highlight")

	// Day 10: a case study from a company like theirs (picked by industry).
	j.WaitUntil(10 * Day)
	j.Email("case_study")

	// Day 14: a check-in from their account owner, inviting questions.
	j.WaitUntil(welcomeLength)
	j.Email("check_in", FromOwner())

	return j.End()
}

// welcomeLength is how long the B2B welcome runs; nurture waits it out.
const welcomeLength = 14 * Day

// isB2B tells the B2B sign-ups from the shoppers: the Signed Up event's plan,
// or the account_type trait, says "b2b".
func isB2B(ev Event, traits map[string]any) bool {
	return ev.Property("plan") == "b2b" || traits["account_type"] == "b2b"
}
