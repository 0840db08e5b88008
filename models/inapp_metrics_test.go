package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// An in-app message read or clicked is marked on its row as the inbox does
// (gateway/inbox.go: MarkMessage), and counts in its journey's figures
// apart from the emails: the email rates stay the emails'.
func TestJourneyMetricsCountInApp(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		day := func(d int) time.Time { return time.Date(2026, 3, d, 10, 0, 0, 0, time.UTC) }
		put := func(key, contact, channel string) uint64 {
			t.Helper()
			m := &models.Message{Key: key, ContactID: contact, Journey: "welcome_b2b", Step: "getting_started", Channel: channel,
				Status: workflows.StatusSent, At: day(5), Marketing: true}
			require.NoError(t, s.DB().Create(m).Error)
			return m.ID
		}
		// The first read refreshes the roll-ups, so the marks after it
		// must reach the next read through updated_at.
		_, err := s.JourneyMetrics(ctx, []string{"welcome_b2b"}, march)
		require.NoError(t, err)
		read, clicked := put("a", "c1", models.ChannelInApp), put("b", "c2", models.ChannelInApp)
		put("c", "c3", models.ChannelInApp)
		put("welcome", "c1", models.ChannelEmail)
		require.NoError(t, s.MarkMessage(ctx, read, models.Opened, day(6)))
		require.NoError(t, s.MarkMessage(ctx, clicked, models.Clicked, day(6)))

		got, err := s.JourneyMetrics(ctx, []string{"welcome_b2b"}, march)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, models.InAppMetrics{Sent: 3, Read: 2, Clicked: 1}, got[0].InApp, "a click reads the message too")
		assert.Equal(t, []int64{1, 0, 0}, []int64{got[0].Sent, got[0].Opened, got[0].Clicked}, "the email figures are the email's")

		steps, err := s.JourneySteps(ctx, "welcome_b2b", march)
		require.NoError(t, err)
		require.Len(t, steps, 2)
		in := steps[0]
		assert.Equal(t, []any{"getting_started", models.ChannelInApp, int64(3), int64(2), int64(1)},
			[]any{in.Step, in.Channel, in.Sent, in.Opened, in.Clicked})
	})
}

// A click on an in-app message's action earns an order as an email click
// does: the last click in the window wins, whichever its channel.
func TestOrderAttributedToInAppClick(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		m := &models.Message{Key: "journey/welcome_b2b/u1/run/inapp/getting_started", ContactID: "u1", Journey: "welcome_b2b",
			Step: "getting_started", Channel: models.ChannelInApp, Status: workflows.StatusSent, At: t0}
		require.NoError(t, s.DB().Create(m).Error)
		// What the inbox's click records (gateway/inbox.go).
		inAppClick := func(id string, at time.Time) models.Incoming {
			props := m.EngagementProperties()
			props["url"], props["tag"] = "https://app.example.com/setup", "inbox"
			return orderEvent(id, "u1", workflows.EventInAppClicked, at, props)
		}
		accept(t, s,
			orderEvent("c1", "u1", workflows.EventEmailClicked, t0, map[string]any{"journey": "nurture", "message_id": 3.0, "url": "https://x"}),
			inAppClick("c2", t0.Add(time.Hour)),
			orderEvent("o1", "u1", workflows.EventOrderCompleted, t0.Add(2*time.Hour), map[string]any{"order_id": "5001", "total": 40.0}),
			orderEvent("c3", "u1", workflows.EventEmailClicked, t0.Add(3*time.Hour), map[string]any{"journey": "nurture", "message_id": 3.0, "url": "https://x"}),
			orderEvent("o2", "u1", workflows.EventOrderCompleted, t0.Add(4*time.Hour), map[string]any{"order_id": "5002", "total": 10.0}),
		)
		o, err := s.Order(ctx, "5001")
		require.NoError(t, err)
		assert.Equal(t, []any{"welcome_b2b", models.AttributedClick, m.ID}, []any{o.Journey, o.Attributed, deref(o.MessageID)})
		o, err = s.Order(ctx, "5002")
		require.NoError(t, err)
		assert.Equal(t, []any{"nurture", models.AttributedClick, uint64(3)}, []any{o.Journey, o.Attributed, deref(o.MessageID)}, "the email click came later")

		got, err := s.JourneyMetrics(ctx, []string{"welcome_b2b"}, models.Period{From: t0.Add(-24 * time.Hour), To: t0.Add(24 * time.Hour)})
		require.NoError(t, err)
		assert.Equal(t, []any{int64(1), 40.0}, []any{got[0].Orders, got[0].Revenue}, "the order counts for the in-app message's journey")
	})
}

func deref(id *uint64) uint64 {
	if id == nil {
		return 0
	}
	return *id
}
