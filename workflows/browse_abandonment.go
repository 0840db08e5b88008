package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

func init() {
	register(Journey{
		Name:     "browse_abandonment",
		Workflow: BrowseAbandonment,
		// A product page seen, with the product named.
		Starts: func(ev Event, _ map[string]any) bool {
			return ev.Is(EventProductViewed) && (ev.Text("product_id") != "" || ev.Text("name") != "")
		},
		// At most once a week: browsing is common, and a reminder after
		// every visit would read as being watched.
		Reentry: EnterOncePer(7 * Day),
		// Putting it in the cart (the abandoned cart takes over from there)
		// or buying ends it.
		Goals:    []string{EventProductAdded, EventCheckoutStarted, EventOrderCompleted},
		Converts: []string{EventProductAdded, EventCheckoutStarted, EventOrderCompleted},
	})
}

// browseWait is how long a look at a product may go without a cart.
const browseWait = 2 * time.Hour

// BrowseAbandonment reminds a contact of a product they looked at and left:
// one email with that product, two hours later, unless they added something
// to their cart or checked out by then.
func BrowseAbandonment(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	j.WaitUntil(browseWait)
	j.Email("still_looking", WithProducts(ProductFrom(in.Trigger.Properties)))
	return j.End()
}
