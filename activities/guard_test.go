package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// sends stores n sent emails of a journey, the first bounced of them
// bounced and the next unsubscribed ones bringing an unsubscribe.
func sends(t *testing.T, s *models.Store, journey string, n, bounced, unsubscribed int) {
	t.Helper()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		m := models.Message{Key: fmt.Sprintf("%s-%d", journey, i), ContactID: "dana", Journey: journey, Step: "s", Channel: models.ChannelEmail,
			Marketing: true, At: at, Status: workflows.StatusSent}
		switch {
		case i < bounced:
			m.DeliveryStatus = "bounced"
		case i < bounced+unsubscribed:
			m.UnsubscribedAt = &at
		}
		if err := s.DB().Create(&m).Error; err != nil {
			t.Fatal(err)
		}
	}
}

func TestListHealthGuard(t *testing.T) {
	f := newSlackFixture(t)
	ctx := context.Background()
	sends(t, f.store, "winback", 200, 4, 0)        // 2% bounced: over
	sends(t, f.store, "nurture", 200, 3, 0)        // 1.5%: fine
	sends(t, f.store, "abandoned_cart", 199, 9, 9) // too few sends to judge
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	g := activities.Guard{Journeys: []string{"winback", "nurture", "abandoned_cart"}, Channel: "#marketing", Pause: true}

	found, err := f.acts.GuardListHealth(ctx, g, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Journey != "winback" || !found[0].Due || !found[0].Posted || !found[0].Paused ||
		strings.Join(found[0].Over, "; ") != "bounce rate 2% (limit 2%)" {
		t.Fatalf("found %+v", found)
	}
	reqs := f.slack.requests()
	if len(reqs) != 1 || reqs[0].Form.Get("channel") != "#marketing" ||
		!strings.Contains(reqs[0].Form.Get("text"), "List health: winback is over its limits. Over the last 200 sends: bounce rate 2% (limit 2%).") ||
		!strings.Contains(reqs[0].Form.Get("text"), "It is paused (NUDGE_PAUSE_ON_POOR_HEALTH)") {
		t.Fatalf("slack requests %+v", reqs)
	}
	paused, err := f.store.PausedJourneys(ctx)
	if err != nil || len(paused) != 1 || paused[0] != "winback" {
		t.Fatalf("paused %v, %v", paused, err)
	}

	// An hour later it is still over: no second alert the same day.
	found, err = f.acts.GuardListHealth(ctx, g, now.Add(time.Hour))
	if err != nil || len(found) != 1 || found[0].Due {
		t.Fatalf("an hour later: %+v, %v", found, err)
	}
	if n := len(f.slack.requests()); n != 1 {
		t.Errorf("%d Slack posts, want the one", n)
	}
	// A day later, if still over, it says so again.
	if found, err = f.acts.GuardListHealth(ctx, g, now.Add(25*time.Hour)); err != nil || len(found) != 1 || !found[0].Due {
		t.Fatalf("a day later: %+v, %v", found, err)
	}

	// Without the pause setting, it alerts and leaves the journey running.
	sends(t, f.store, "post_purchase", 200, 0, 1) // 0.5% unsubscribed: over
	found, err = f.acts.GuardListHealth(ctx, activities.Guard{Journeys: []string{"post_purchase"}, Channel: "#marketing"}, now)
	if err != nil || len(found) != 1 || found[0].Paused || strings.Join(found[0].Over, "; ") != "unsubscribe rate 0.5% (limit 0.5%)" {
		t.Fatalf("post_purchase: %+v, %v", found, err)
	}
	if paused, _ := f.store.JourneyPaused(ctx, "post_purchase"); paused {
		t.Error("paused without NUDGE_PAUSE_ON_POOR_HEALTH")
	}
}
