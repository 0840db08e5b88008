package workflows

import (
	"go.temporal.io/sdk/workflow"
)

func init() {
	register(Journey{
		Name:     "welcome_ecommerce",
		Workflow: WelcomeEcommerce,
		Starts:   func(ev Event, traits map[string]any) bool { return ev.Is(EventSignedUp) && !isB2B(ev, traits) },
		Reentry:  EnterOnce,
		Goals:    []string{EventOrderCompleted},
		Converts: []string{EventOrderCompleted}, // a first order
	})
}

// welcomeDiscount is the first-purchase discount, in percent.
const welcomeDiscount = 10

// WelcomeEcommerce turns a new subscriber into a first-time buyer within a
// week. A first order ends it.
func WelcomeEcommerce(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	discount := WithDiscount(j.DiscountCode(welcomeDiscount), welcomeDiscount)

	// Right away: welcome, with a first-purchase code unique to them.
	j.Email("welcome", discount)

	// Day 2: who we are, what sells best, what customers say.
	j.WaitUntil(2 * Day)
	j.Email("brand_story")

	// Day 5: still thinking it over? The code is still there.
	j.WaitUntil(5 * Day)
	j.Email("still_thinking", discount)

	return j.End()
}
