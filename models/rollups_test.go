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

// The daily roll-ups must give the very figures the messages give, for any
// period, after any change: a read after a send, an open, a click, a bounce
// or an unsubscribe sees it.
func TestRollupsFollowEveryChange(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		ids := metricsFixture(t, s)
		welcome := func(p models.Period) models.JourneyMetrics {
			t.Helper()
			got, err := s.JourneyMetrics(ctx, []string{"welcome_ecommerce"}, p)
			require.NoError(t, err)
			return got[0]
		}
		before := welcome(march) // rolls March up
		require.Equal(t, int64(4), before.Opened)

		// Changes through the store's own writes, after the roll-up.
		require.NoError(t, s.MarkMessage(ctx, ids["welcome-7"], models.Clicked, time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)))
		require.NoError(t, s.MarkMessage(ctx, ids["welcome-8"], models.Unsubscribed, time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)))
		require.NoError(t, s.SetEmailDeliveryStatus(ctx, ids["welcome-9"], "bounced"))
		_, err := s.BeginMessage(ctx, &models.Message{Key: "late", ContactID: "c30", Journey: "welcome_ecommerce", Step: "welcome",
			Channel: models.ChannelEmail, Marketing: true, At: time.Date(2026, 3, 20, 23, 59, 0, 0, time.UTC), Status: models.MessageClaimed})
		require.NoError(t, err)
		require.NoError(t, s.FinishMessage(ctx, "late", 0, workflows.StatusSent, "", "", nil))
		// c3 again the next morning: a recipient of a whole day and of the
		// part of a day after it, counted once.
		_, err = s.BeginMessage(ctx, &models.Message{Key: "again", ContactID: "c3", Journey: "welcome_ecommerce", Step: "brand_story",
			Channel: models.ChannelEmail, Marketing: true, At: time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC), Status: models.MessageClaimed})
		require.NoError(t, err)
		require.NoError(t, s.FinishMessage(ctx, "again", 0, workflows.StatusSent, "", "", nil))

		after := welcome(march)
		assert.Equal(t, []int64{13, 3, 5, 3, 2}, []int64{after.Sent, after.Bounced, after.Opened, after.Clicked, after.Unsubscribed},
			"sent +2 (late, again), bounced +1 (welcome-9), opened and clicked +1 (welcome-7), unsubscribed +1 (welcome-8)")
		assert.Equal(t, rate(100.0/9), after.RevenuePerRecipient, "c1, c2 and c9 bounced; c30 joined: nine recipients")

		// Any period, whole days or not, matches a count of the rows.
		for _, p := range []models.Period{
			march,
			{From: time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)},
			{From: time.Date(2026, 3, 5, 11, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC)},
			{From: time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 20, 23, 59, 30, 0, time.UTC)},
			{From: time.Date(2026, 3, 20, 23, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 21, 1, 0, 0, 0, time.UTC)},
			{From: time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 5, 10, 0, 1, 0, time.UTC)},
			{From: time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC)},
			{From: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)},
			{From: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)},
		} {
			got := welcome(p)
			want, recipients := countRows(t, s, "welcome_ecommerce", p)
			assert.Equal(t, want, [6]int64{got.Sent, got.Bounced, got.Opened, got.Clicked, got.Unsubscribed, got.Skipped},
				"%s to %s", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
			gotRecipients, err := s.Recipients(ctx, []string{"welcome_ecommerce"}, p)
			require.NoError(t, err)
			assert.Equal(t, recipients, gotRecipients["welcome_ecommerce"], "recipients, %s to %s", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
		}
	})
}

// countRows counts a journey's email in a period the slow way, one row at a
// time: sent, bounced, opened, clicked, unsubscribed, skipped; and the
// distinct contacts sent one that did not bounce.
func countRows(t *testing.T, s *models.Store, journey string, p models.Period) ([6]int64, int64) {
	t.Helper()
	var rows []models.Message
	require.NoError(t, s.DB().Where("journey = ? AND channel = ?", journey, models.ChannelEmail).Find(&rows).Error)
	var n [6]int64
	recipients := map[string]bool{}
	for _, m := range rows {
		if m.At.Before(p.From) || !m.At.Before(p.To) {
			continue
		}
		switch m.Status {
		case workflows.StatusSkipped:
			n[5]++
			continue
		case workflows.StatusSent, workflows.StatusRecorded, workflows.StatusUnknown:
		default:
			continue
		}
		n[0]++
		if m.DeliveryStatus == "bounced" || m.DeliveryStatus == "soft_bounced" {
			n[1]++
		} else {
			recipients[m.ContactID] = true
		}
		for i, at := range []*time.Time{m.OpenedAt, m.ClickedAt, m.UnsubscribedAt} {
			if at != nil {
				n[2+i]++
			}
		}
	}
	return n, int64(len(recipients))
}

// A first refresh
// on a database that already holds messages (an upgrade) rolls up all their
// days.
func TestRollupsStartFromExistingMessages(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		for d := 1; d <= 3; d++ {
			require.NoError(t, s.DB().Create(&models.Message{Key: fmt.Sprintf("m%d", d), ContactID: "c1", Journey: "winback", Step: "we_miss_you",
				Channel: models.ChannelEmail, At: time.Date(2025, 12, 30+d, 12, 0, 0, 0, time.UTC), Status: workflows.StatusSent}).Error)
		}
		got, err := s.JourneyMetrics(ctx, []string{"winback"}, models.Period{From: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)})
		require.NoError(t, err)
		assert.Equal(t, int64(3), got[0].Sent)
		var days []models.MessageDay
		require.NoError(t, s.DB().Order("day").Find(&days).Error)
		require.Len(t, days, 3)
		assert.Equal(t, []string{"2025-12-31", "2026-01-01", "2026-01-02"}, []string{days[0].Day, days[1].Day, days[2].Day})
		assert.Equal(t, int64(1), days[1].Sent)
	})
}

// A refresh recounts a day when one of its messages changed in what the
// roll-ups count, once: a change comes back to every refresh for the
// margin's five minutes, and a busy store would otherwise recount the same
// days on every read.
func TestRollupsRecountOnlyWhatChanged(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		ids := metricsFixture(t, s)
		recount := func() []string {
			t.Helper()
			days, err := s.RecountChangedDays(ctx)
			require.NoError(t, err)
			return days
		}
		require.Equal(t, []string{"2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10", "2026-03-11",
			"2026-03-12", "2026-03-13", "2026-03-14", "2026-03-15", "2026-03-16", "2026-03-17", "2026-03-18", "2026-03-19", "2026-03-20",
			"2026-03-21", "2026-03-22", "2026-03-23", "2026-03-24", "2026-03-25", "2026-03-26", "2026-03-27", "2026-03-28", "2026-03-29",
			"2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02"}, recount(), "the first refresh rolls up every day from the first message to the last")
		assert.Equal(t, []string{"2026-03-05", "2026-03-07", "2026-03-09", "2026-04-02"}, recount(),
			"the fixture's rows were written in the last five minutes: counted once more, as this process had not seen them")
		assert.Empty(t, recount(), "nothing changed")

		require.NoError(t, s.MarkMessage(ctx, ids["welcome-7"], models.Clicked, time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)))
		assert.Equal(t, []string{"2026-03-05"}, recount(), "a click on an email of 5 March")
		assert.Empty(t, recount(), "the click was counted")

		require.NoError(t, s.DB().Model(&models.Message{}).Where("id = ?", ids["welcome-7"]).Update("provider_id", "smtp-42").Error)
		assert.Empty(t, recount(), "a write that changes nothing counted")

		require.NoError(t, s.SetEmailDeliveryStatus(ctx, ids["welcome-7"], "bounced"))
		assert.Equal(t, []string{"2026-03-05"}, recount(), "a bounce of the same email, a moment later")
		got, err := s.JourneyMetrics(ctx, []string{"welcome_ecommerce"}, march)
		require.NoError(t, err)
		assert.Equal(t, int64(3), got[0].Bounced, "welcome-1 and -2 bounced in the fixture, welcome-7 now")
	})
}
