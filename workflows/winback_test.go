package workflows_test

import (
	"testing"

	"github.com/nudgehq/nudge/workflows"
)

var lapsed = trackEvent(workflows.EventEngagementLapsed, map[string]any{"days_silent": 60}, testStart)

// From version 5 an in-app message read brings the contact back as an
// open would: win-back ends there, converted. A version 4 run does not
// hear it and writes all three emails.
func TestWinBackEndsOnInAppRead(t *testing.T) {
	h := newHarness(t, lee)
	h.track(3*24*hour, workflows.EventInAppRead, map[string]any{"message_id": 7, "journey": "welcome_b2b"})
	h.runJourney("winback", lee.ID, lapsed)
	h.assertSent("+0h winback/we_miss_you recorded")
	h.assertRun("winback", workflows.OutcomeConverted, workflows.EventInAppRead)

	old := newHarness(t, lee)
	old.version = 4
	old.track(3*24*hour, workflows.EventInAppRead, map[string]any{"message_id": 7, "journey": "welcome_b2b"})
	old.runJourney("winback", lee.ID, lapsed)
	old.assertSent(
		"+0h winback/we_miss_you recorded",
		"+168h winback/what_would_help recorded",
		"+336h winback/last_email recorded",
	)
	old.assertRun("winback", workflows.OutcomeCompleted, "")
}
