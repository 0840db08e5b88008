package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func mar(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }

// Five contacts and their stage moves, worked by hand below.
func pipelineFixture(t *testing.T, s *models.Store) {
	t.Helper()
	db := s.DB()
	at := func(t time.Time) *time.Time { return &t }
	feb20, jan1 := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []models.Contact{
		{ID: "p1", Email: "p1@example.com", LifecycleStage: "mql", CreatedAt: feb20},
		{ID: "p2", Email: "p2@example.com", LifecycleStage: "lead", CreatedAt: mar(1, 0)},
		{ID: "p3", LifecycleStage: "sql", CreatedAt: jan1},
		{ID: "p4", Email: "p4@example.com", LifecycleStage: "subscriber", CreatedAt: mar(5, 12), UnsubscribedAt: at(mar(5, 14))},
		{ID: "p5", Email: "p5@example.com", LifecycleStage: "subscriber", CreatedAt: mar(20, 9), UnengagedAt: at(mar(30, 0))},
	} {
		c.Traits = map[string]any{}
		require.NoError(t, db.Create(&c).Error)
	}
	for _, m := range []models.StageChange{
		{ContactID: "p1", ToStage: "subscriber", At: feb20, Reason: "created"},
		{ContactID: "p1", FromStage: "subscriber", ToStage: "lead", At: mar(2, 10)},
		{ContactID: "p1", FromStage: "lead", ToStage: "mql", At: mar(4, 10)},
		{ContactID: "p2", ToStage: "subscriber", At: mar(1, 0), Reason: "created"},
		{ContactID: "p2", FromStage: "subscriber", ToStage: "lead", At: mar(3, 0)},
		{ContactID: "p3", ToStage: "subscriber", At: jan1, Reason: "created"},
		{ContactID: "p3", FromStage: "subscriber", ToStage: "lead", At: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)},
		{ContactID: "p3", FromStage: "lead", ToStage: "mql", At: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{ContactID: "p3", FromStage: "mql", ToStage: "sql", At: mar(10, 0)},
	} {
		// Written as before stays were kept on the rows (no hook), so that
		// Migrate fills in when each stay began.
		require.NoError(t, db.Session(&gorm.Session{SkipHooks: true}).Create(&m).Error)
	}
	require.NoError(t, s.Migrate(context.Background()))
	// p1 opened an email on 25 March: active. p3, silent since January: dormant.
	require.NoError(t, db.Create(&models.Event{MessageID: "e1", ContactID: "p1", Kind: workflows.KindTrack, Name: workflows.EventEmailOpened,
		Timestamp: mar(25, 0), ReceivedAt: mar(25, 0), Status: models.EventDelivered}).Error)
	// A hundred emails in March: two bounce, one brings an unsubscribe.
	for i := range 100 {
		m := models.Message{Key: fmt.Sprintf("k%d", i), ContactID: "p1", Journey: "nurture", Step: "x", Channel: models.ChannelEmail,
			Marketing: true, At: mar(10, 0), Status: workflows.StatusSent}
		switch i {
		case 0, 1:
			m.DeliveryStatus = "bounced"
		case 2:
			m.UnsubscribedAt = at(mar(11, 0))
		}
		require.NoError(t, db.Create(&m).Error)
	}
}

func hours(h float64) *float64 { return &h }

func TestPipeline(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		pipelineFixture(t, s)
		p, err := s.Pipeline(context.Background(), march)
		require.NoError(t, err)
		assert.Equal(t, []models.StageCount{{"subscriber", 2}, {"lead", 1}, {"mql", 1}, {"sql", 1}, {"trial", 0}, {"customer", 0}, {"churned", 0}}, p.Stages)
		assert.Equal(t, []models.StageConversion{
			{From: "lead", To: "mql", Entered: 2, Reached: 1, Rate: rate(0.5)}, // p1 and p2 became leads in March; p1 went on
			{From: "mql", To: "sql", Entered: 1, Reached: 0, Rate: rate(0)},    // p1; p3 was an MQL before March
		}, p.Conversions)
		want := []models.StageTime{
			{Stage: "subscriber", Stays: 2, MedianHours: hours(48), P90Hours: hours(250)}, // p2: 48 h; p1: 20 Feb to 2 March 10:00
			{Stage: "lead", Stays: 1, MedianHours: hours(48), P90Hours: hours(48)},        // p1
			{Stage: "mql", Stays: 1, MedianHours: hours(888), P90Hours: hours(888)},       // p3: 1 Feb to 10 March; its January stays ended before
			{Stage: "sql"}, {Stage: "trial"}, {Stage: "customer"}, {Stage: "churned"},
		}
		assert.Equal(t, want, p.TimeInStage)
	})
}

func TestListHealth(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		pipelineFixture(t, s)
		h, err := s.ListHealth(context.Background(), march, march.To)
		require.NoError(t, err)
		assert.Equal(t, int64(4), h.ListSize, "contacts with an address")
		assert.Equal(t, int64(2), h.Subscribed, "less p4 (unsubscribed) and p5 (unengaged)")
		assert.Equal(t, []int64{1, 0, 1}, []int64{h.Active, h.AtRisk, h.Dormant})
		assert.Equal(t, int64(0), h.Suppressed)
		assert.Equal(t, int64(1), h.Unengaged)
		require.Len(t, h.Daily, 31)
		assert.Equal(t, models.DailyGrowth{Day: "2026-03-01", New: 1, Net: 1}, h.Daily[0])
		assert.Equal(t, models.DailyGrowth{Day: "2026-03-05", New: 1, Unsubscribed: 1, Net: 0}, h.Daily[4])
		assert.Equal(t, models.DailyGrowth{Day: "2026-03-20", New: 1, Net: 1}, h.Daily[19])
		assert.Equal(t, models.DailyGrowth{Day: "2026-03-31"}, h.Daily[30])
		assert.Equal(t, int64(100), h.SentInRange)
		pass, fail := true, false
		// Every send was on 10 March: the daily rates are undefined on the
		// other days.
		on10th := func(r *float64) []*float64 { d := make([]*float64, 31); d[9] = r; return d }
		assert.Equal(t, []models.Threshold{
			{Metric: "deliverability_rate", Rule: "at least 95%", Limit: 0.95, Value: rate(0.98), Pass: &pass, Daily: on10th(rate(0.98))},
			{Metric: "unsubscribe_rate", Rule: "under 0.5%", Limit: 0.005, Value: rate(1.0 / 98), Pass: &fail, Daily: on10th(rate(1.0 / 98))},
			{Metric: "bounce_rate", Rule: "under 2%", Limit: 0.02, Value: rate(0.02), Pass: &fail, Daily: on10th(rate(0.02))},
		}, h.Thresholds)
	})
}

// The guard reads a journey's last sends only: here the last 100 of 150,
// of which 9 bounced and 1 brought a complaint (the 20 bounces among the
// first 50 are older).
func TestRecentSendHealth(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		for i := range 150 {
			m := models.Message{Key: fmt.Sprintf("h%d", i), ContactID: "c", Journey: "winback", Step: "s", Channel: models.ChannelEmail,
				At: mar(1, 0), Status: workflows.StatusSent}
			if i < 20 || (i >= 140) {
				m.DeliveryStatus = "bounced"
			}
			if i == 145 {
				m.DeliveryStatus = "complained"
			}
			require.NoError(t, s.DB().Create(&m).Error)
		}
		h, err := s.RecentSendHealth(context.Background(), "winback", 100)
		require.NoError(t, err)
		assert.Equal(t, models.SendHealth{Sends: 100, Bounced: 9, Complaints: 1}, h)
	})
}
