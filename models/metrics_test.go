package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var march = models.Period{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}

// metricsFixture is a month of two journeys, with every figure worked out
// by hand in TestJourneyMetrics.
func metricsFixture(t *testing.T, s *models.Store) map[string]uint64 {
	t.Helper()
	db := s.DB()
	day := func(d int) time.Time { return time.Date(2026, 3, d, 10, 0, 0, 0, time.UTC) }
	at := func(t time.Time) *time.Time { return &t }
	ids := map[string]uint64{}
	add := func(name string, m models.Message) {
		m.Key = name
		if m.Channel == "" {
			m.Channel = models.ChannelEmail
		}
		m.Marketing = true
		require.NoError(t, db.Create(&m).Error)
		ids[name] = m.ID
	}
	// The welcome's first email to ten contacts on 5 March: two bounce, one
	// complains, four open (two of them click), one unsubscribes from it.
	for i := 1; i <= 10; i++ {
		m := models.Message{ContactID: fmt.Sprintf("c%d", i), Journey: "welcome_ecommerce", Step: "welcome", At: day(5),
			Status: workflows.StatusSent, RunID: fmt.Sprintf("r%d", i)}
		switch i {
		case 1:
			m.DeliveryStatus = "bounced"
		case 2:
			m.DeliveryStatus = "soft_bounced"
		case 7:
			m.DeliveryStatus = "complained"
		}
		if i >= 3 && i <= 6 {
			m.OpenedAt = at(day(6))
		}
		if i == 3 || i == 4 {
			m.ClickedAt = at(day(6))
		}
		if i == 6 {
			m.UnsubscribedAt = at(day(7))
		}
		add(fmt.Sprintf("welcome-%d", i), m)
	}
	// Its brand story: two skipped, one whose outcome is unknown (sent, by
	// the rule), and one in April, outside the period.
	add("story-cap", models.Message{ContactID: "c8", Journey: "welcome_ecommerce", Step: "brand_story", At: day(7), Status: workflows.StatusSkipped,
		Reason: "frequency cap: 3 marketing emails already in the last 24h", RunID: "r8"})
	add("story-unsub", models.Message{ContactID: "c6", Journey: "welcome_ecommerce", Step: "brand_story", At: day(7), Status: workflows.StatusSkipped,
		Reason: "unsubscribed from marketing email", RunID: "r6"})
	add("story-unknown", models.Message{ContactID: "c11", Journey: "welcome_ecommerce", Step: "brand_story", At: day(7), Status: workflows.StatusUnknown, RunID: "r11"})
	add("story-april", models.Message{ContactID: "c9", Journey: "welcome_ecommerce", Step: "brand_story", At: time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC),
		Status: workflows.StatusSent, OpenedAt: at(day(30)), RunID: "r9"})
	// The abandoned cart's SMS: one delivered, one refused.
	add("sms-ok", models.Message{ContactID: "c20", Journey: "abandoned_cart", Step: "reminder", Channel: models.ChannelSMS, At: day(9),
		Status: workflows.StatusSent, DeliveryStatus: "delivered"})
	add("sms-refused", models.Message{ContactID: "c21", Journey: "abandoned_cart", Step: "reminder", Channel: models.ChannelSMS, At: day(9),
		Status: workflows.StatusRefused})

	// Runs: ten entered on 5 March (two converted, one exited, the rest
	// running), one entered in February and still running.
	for i := 1; i <= 11; i++ {
		r := models.JourneyRun{RunID: fmt.Sprintf("r%d", i), Journey: "welcome_ecommerce", ContactID: fmt.Sprintf("c%d", i), StartedAt: day(5)}
		switch i {
		case 3, 4:
			r.Outcome, r.Reason, r.EndedAt = workflows.OutcomeConverted, workflows.EventOrderCompleted, at(day(6))
		case 5:
			r.Outcome, r.EndedAt = workflows.OutcomeCompleted, at(day(10))
		case 11:
			r.StartedAt = time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
		}
		require.NoError(t, db.Create(&r).Error)
	}
	// Orders: one from a click on a March email, a refunded one, one from
	// the April email; and a recovered cart (no message) ordered in March.
	welcome3, april := ids["welcome-3"], ids["story-april"]
	for _, o := range []models.Order{
		{ID: "o1", OrderID: "o1", ContactID: "c3", Total: 100, Status: "completed", Journey: "welcome_ecommerce", MessageID: &welcome3, OrderedAt: day(6)},
		{ID: "o2", OrderID: "o2", ContactID: "c4", Total: 50, Status: "refunded", Journey: "welcome_ecommerce", MessageID: &welcome3, OrderedAt: day(6)},
		{ID: "o3", OrderID: "o3", ContactID: "c9", Total: 30, Status: "completed", Journey: "welcome_ecommerce", MessageID: &april, OrderedAt: day(31)},
		{ID: "o4", OrderID: "o4", ContactID: "c20", Total: 80, Status: "completed", Journey: "abandoned_cart", OrderedAt: day(10)},
	} {
		require.NoError(t, db.Create(&o).Error)
	}
	return ids
}

func rate(f float64) *float64 { return &f }

func TestJourneyMetrics(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		metricsFixture(t, s)
		got, err := s.JourneyMetrics(context.Background(), []string{"welcome_ecommerce", "abandoned_cart", "winback"}, march)
		require.NoError(t, err)
		require.Len(t, got, 3)

		welcome := got[0]
		assert.Equal(t, "welcome_ecommerce", welcome.Journey)
		assert.Equal(t, int64(10), welcome.Entered)
		assert.Equal(t, int64(2), welcome.Converted)
		assert.Equal(t, rate(0.2), welcome.ConversionRate)
		assert.Equal(t, int64(8), welcome.Active, "all but r3 and r4 (converted) and r5 (completed), February's r11 too")
		assert.Equal(t, int64(11), welcome.Sent, "ten welcomes and the unknown brand story")
		assert.Equal(t, int64(2), welcome.Bounced)
		assert.Equal(t, int64(9), welcome.Delivered)
		assert.Equal(t, rate(9.0/11), welcome.Deliverability)
		assert.Equal(t, int64(4), welcome.Opened, "the April open is April's")
		assert.Equal(t, rate(4.0/9), welcome.OpenRate)
		assert.Equal(t, int64(2), welcome.Clicked)
		assert.Equal(t, rate(2.0/9), welcome.ClickRate)
		assert.Equal(t, rate(0.5), welcome.ClickToOpen)
		assert.Equal(t, int64(1), welcome.Unsubscribed)
		assert.Equal(t, rate(1.0/9), welcome.UnsubscribeRate)
		assert.Equal(t, rate(2.0/11), welcome.BounceRate)
		assert.Equal(t, int64(1), welcome.Complaints)
		assert.Equal(t, int64(2), welcome.Skipped)
		assert.Equal(t, map[string]int64{"frequency cap": 1, "unsubscribed from marketing email": 1}, welcome.SkippedByReason)
		assert.Equal(t, int64(1), welcome.Orders, "o1 only: o2 was refunded, o3 came from April's email")
		assert.Equal(t, 100.0, welcome.Revenue)
		assert.Equal(t, rate(100.0/9), welcome.RevenuePerRecipient, "nine contacts got an email that did not bounce")
		assert.Equal(t, models.SMSMetrics{}, welcome.SMS)

		cart := got[1]
		assert.Equal(t, models.SMSMetrics{Sent: 1, Delivered: 1, Failed: 1}, cart.SMS)
		assert.Equal(t, int64(0), cart.Sent)
		assert.Nil(t, cart.OpenRate, "no email: the rate is undefined, not 0")
		assert.Nil(t, cart.ConversionRate)
		assert.Equal(t, int64(1), cart.Orders)
		assert.Equal(t, 80.0, cart.Revenue)
		assert.Nil(t, cart.RevenuePerRecipient)

		winback := got[2]
		assert.Equal(t, "winback", winback.Journey)
		assert.Zero(t, winback.Sent+winback.Entered+winback.Orders)
		assert.Equal(t, map[string]int64{}, winback.SkippedByReason)
	})
}

func TestJourneySteps(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		metricsFixture(t, s)
		steps, err := s.JourneySteps(context.Background(), "welcome_ecommerce", march)
		require.NoError(t, err)
		require.Len(t, steps, 2)
		w, b := steps[0], steps[1]
		assert.Equal(t, []any{"welcome", "email", int64(10), int64(10), int64(8), int64(4), int64(2), int64(2)},
			[]any{w.Step, w.Channel, w.Entered, w.Sent, w.Delivered, w.Opened, w.Clicked, w.Converted})
		assert.Equal(t, []any{"brand_story", "email", int64(3), int64(1), int64(2), int64(0)},
			[]any{b.Step, b.Channel, b.Entered, b.Sent, b.Skipped, b.Converted})
		assert.Equal(t, map[string]int64{"frequency cap": 1, "unsubscribed from marketing email": 1}, b.SkippedByReason)
	})
}

func TestOverview(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		metricsFixture(t, s)
		o, err := s.Overview(context.Background(), march)
		require.NoError(t, err)
		n := func(v float64) *float64 { return &v }
		want := map[string][4]*float64{ // value, previous (the 31 days before March), change, relative change
			"emails_sent":      {n(11), n(0), n(11), nil},
			"open_rate":        {n(4.0 / 9), nil, nil, nil},
			"click_rate":       {n(2.0 / 9), nil, nil, nil},
			"unsubscribe_rate": {n(1.0 / 9), nil, nil, nil},
			"bounce_rate":      {n(2.0 / 11), nil, nil, nil},
			"journeys_entered": {n(10), n(1), n(9), n(9)}, // r11 entered on 20 February
			"conversions":      {n(2), n(0), n(2), nil},
			"orders":           {n(2), n(0), n(2), nil}, // o1 (its email in March) and o4 (a cart, ordered in March)
			"revenue":          {n(180), n(0), n(180), nil},
			"new_contacts":     {n(0), n(0), n(0), nil},
		}
		require.Len(t, o.KPIs, len(want))
		for _, k := range o.KPIs {
			w, ok := want[k.Name]
			require.True(t, ok, k.Name)
			assert.Equal(t, [4]*float64{k.Value, k.Previous, k.Change, k.Relative}, w, k.Name)
		}
		require.Len(t, o.Daily, 31)
		assert.Equal(t, models.DayStats{Day: "2026-03-05", Sent: 10, Opened: 4, Clicked: 2, Revenue: 100}, o.Daily[4])
		assert.Equal(t, models.DayStats{Day: "2026-03-07", Sent: 1}, o.Daily[6])
		assert.Equal(t, models.DayStats{Day: "2026-03-10", Revenue: 80}, o.Daily[9])
		var sent int64
		for _, d := range o.Daily {
			sent += d.Sent
		}
		assert.Equal(t, int64(11), sent)
	})
}
