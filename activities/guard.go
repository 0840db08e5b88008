package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/nudgehq/nudge/models"
)

// The list-health guard: a journey whose latest sends bounce, bring
// unsubscribes or complaints past the seed's limits harms the whole list's
// deliverability, so marketing hears of it at once, and, when asked
// (NUDGE_PAUSE_ON_POOR_HEALTH), the journey is paused until someone looks.

// Guard limits: over a journey's last GuardWindow sends, at least
// GuardWindow of them.
const (
	GuardWindow          = 200
	GuardBounceLimit     = models.BounceLimit
	GuardUnsubscribe     = models.UnsubscribeLimit
	GuardComplaintLimit  = 0.001
	guardRealertInterval = 24 * time.Hour
)

// Guard is what the guard needs beside the activities' store and Slack.
type Guard struct {
	Journeys []string
	Channel  string // NUDGE_SLACK_MARKETING_CHANNEL
	Pause    bool   // NUDGE_PAUSE_ON_POOR_HEALTH
}

// GuardFinding is one journey over a limit.
type GuardFinding struct {
	Journey string
	Health  models.SendHealth
	Over    []string // what is over, as the alert says it
	// Due: the alert was due now (none in the last day); Posted: it went
	// to Slack; Paused: the journey was paused now.
	Due, Posted, Paused bool
}

// GuardListHealth checks every journey's latest sends. For each one over a
// limit it posts an alert (at most once a day per journey) and, with
// g.Pause, pauses the journey. It returns what it found.
func (a *Activities) GuardListHealth(ctx context.Context, g Guard, now time.Time) ([]GuardFinding, error) {
	var out []GuardFinding
	for _, journey := range g.Journeys {
		h, err := a.Store.RecentSendHealth(ctx, journey, GuardWindow)
		if err != nil {
			return out, err
		}
		over := guardBreaches(h)
		if len(over) == 0 {
			continue
		}
		f := GuardFinding{Journey: journey, Health: h, Over: over}
		last, err := a.Store.GuardAlertedAt(ctx, journey)
		if err != nil {
			return out, err
		}
		if last != nil && now.Sub(*last) < guardRealertInterval {
			out = append(out, f) // told already today
			continue
		}
		if g.Pause {
			reason := "list health: " + strings.Join(over, ", ") + fmt.Sprintf(" over the last %d sends", h.Sends)
			if err := a.Store.SetJourneyPaused(ctx, journey, true, reason, "guard", now); err != nil {
				return out, err
			}
			f.Paused = true
		}
		if err := a.guardAlert(ctx, g.Channel, f); err != nil {
			return out, err
		}
		if err := a.Store.MarkGuardAlert(ctx, journey, now); err != nil {
			return out, err
		}
		f.Due, f.Posted = true, a.Slack != nil && g.Channel != ""
		out = append(out, f)
	}
	return out, nil
}

// guardBreaches says which limits the sends are over; none with fewer
// than GuardWindow sends.
func guardBreaches(h models.SendHealth) []string {
	if h.Sends < GuardWindow {
		return nil
	}
	var over []string
	for _, l := range []struct {
		name  string
		n     int64
		limit float64
	}{
		{"bounce rate", h.Bounced, GuardBounceLimit},
		{"unsubscribe rate", h.Unsubscribed, GuardUnsubscribe},
		{"complaint rate", h.Complaints, GuardComplaintLimit},
	} {
		if r := float64(l.n) / float64(h.Sends); r >= l.limit {
			over = append(over, fmt.Sprintf("%s %s (limit %s)", l.name, percent(r), percent(l.limit)))
		}
	}
	return over
}

func percent(r float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", r*100), "0"), ".") + "%"
}

// guardAlert posts the finding to Slack; without Slack it is logged by the
// caller only.
func (a *Activities) guardAlert(ctx context.Context, channel string, f GuardFinding) error {
	if a.Slack == nil || channel == "" {
		return nil
	}
	headline := fmt.Sprintf("List health: %s is over its limits", f.Journey)
	action := fmt.Sprintf("Pause it with POST /v1/journeys/%s/pause until the list is cleaned.", f.Journey)
	if f.Paused {
		action = fmt.Sprintf("It is paused (NUDGE_PAUSE_ON_POOR_HEALTH): no new contacts, sends held. Resume with POST /v1/journeys/%s/resume.", f.Journey)
	}
	body := fmt.Sprintf("Over the last %d sends: %s.\n%s", f.Health.Sends, strings.Join(f.Over, ", "), action)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slackPlain(":warning: " + headline)),
		slackSection(slackEscape(body)),
		slack.NewContextBlock("", slackMrkdwn(fmt.Sprintf("bounced %d · unsubscribed %d · complaints %d",
			f.Health.Bounced, f.Health.Unsubscribed, f.Health.Complaints))),
	}
	if _, err := a.Slack.Post(ctx, channel, blocks, headline+". "+body); err != nil {
		return fmt.Errorf("post the list-health alert for %s: %w", f.Journey, err)
	}
	return nil
}
