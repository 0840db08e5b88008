package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func TestInboxItems(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		put := func(key, contact string, created time.Time, expires *time.Time) uint64 {
			t.Helper()
			m := &models.Message{Key: key, ContactID: contact, Channel: models.ChannelInApp, Status: workflows.StatusSent,
				At: created, Subject: "title " + key, Text: "*md*", HTML: "<p><em>md</em></p>"}
			if _, err := s.BeginMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			it := &models.InboxItem{MessageID: m.ID, ContactID: contact, ActionURL: "https://x.example", ExpiresAt: expires, CreatedAt: created}
			for range 2 { // a retried delivery changes nothing
				if err := s.PutInboxItem(ctx, it); err != nil {
					t.Fatal(err)
				}
			}
			return m.ID
		}
		later := now.Add(time.Hour)
		earlier := now.Add(-time.Hour)
		old := put("old", "c1", now.Add(-40*24*time.Hour), nil)
		a := put("a", "c1", now.Add(-2*time.Hour), &later)
		b := put("b", "c1", now.Add(-time.Hour), nil)
		put("expired", "c1", now.Add(-3*time.Hour), &earlier)
		other := put("other", "c2", now, nil)

		list := func() []uint64 {
			t.Helper()
			es, err := s.Inbox(ctx, "c1", now, 30*24*time.Hour, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []uint64
			for _, e := range es {
				ids = append(ids, e.MessageID)
				if e.Title != "title "+map[uint64]string{old: "old", a: "a", b: "b"}[e.MessageID] || e.HTML == "" {
					t.Errorf("entry %d: %+v", e.MessageID, e)
				}
			}
			return ids
		}
		if got := list(); len(got) != 3 || got[0] != b || got[1] != a || got[2] != old {
			t.Fatalf("inbox = %v, want [%d %d %d] (unread, newest first, no expired)", got, b, a, old)
		}
		if _, first, err := s.MarkInboxItem(ctx, "c1", old, models.InboxRead, now); err != nil || !first {
			t.Fatalf("read old: first=%v %v", first, err)
		}
		if _, first, err := s.MarkInboxItem(ctx, "c1", old, models.InboxRead, now.Add(time.Minute)); err != nil || first {
			t.Fatalf("read old again: first=%v %v", first, err)
		}
		if _, _, err := s.MarkInboxItem(ctx, "c1", other, models.InboxRead, now); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("another contact's item: %v", err)
		}
		if _, _, err := s.MarkInboxItem(ctx, "c1", a, models.InboxDismissed, now); err != nil {
			t.Fatal(err)
		}
		if got := list(); len(got) != 1 || got[0] != b {
			t.Fatalf("inbox = %v, want [%d] (old read and not recent, a dismissed)", got, b)
		}
	})
}
