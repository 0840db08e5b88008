package models_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/nudgehq/nudge/ads/audience"
	"github.com/nudgehq/nudge/models"
)

func metaHash(t *testing.T, email string) string {
	t.Helper()
	h, err := audience.Meta.HashEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The store's side of a sync: batches are staged before their upload and
// replayed as staged by a retry, even when the segment changed between;
// a commit applies them once; a removal sends the hashes that were added,
// after the contact changed its address or was deleted; a changed address
// is removed, then added anew.
func TestAudienceBatchesStageCommitAndRemoveStoredHashes(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		yes := map[string]any{"ads_consent": true}
		for _, c := range []models.Contact{
			{ID: "c1", Email: "one@example.com", Traits: yes},
			{ID: "c2", Email: "two@example.com", Traits: yes},
			{ID: "c3", Email: "three@example.com", Phone: "+1 555 000 0003", Traits: yes},
			{ID: "c4", Email: "four@example.com", Traits: map[string]any{}},                     // never answered
			{ID: "c5", Email: "five@example.com", Traits: map[string]any{"ads_consent": false}}, // said no
			{ID: "c6", Phone: "555 0006", Traits: yes},                                          // no country code: unusable
		} {
			c.LifecycleStage = models.StageSubscriber
			if err := s.SaveContact(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
		sp := models.AudienceSpec{Key: "new_subscriber/meta/42", Segment: "new_subscriber", Platform: "meta", At: time.Now()}
		rem, add, err := s.StartAudienceSync(ctx, sp)
		if err != nil || rem != 0 || add != 3 {
			t.Fatalf("start: %d removals, %d additions, %v; want 0, 3", rem, add, err)
		}
		ids := func(b models.AudienceBatch) []string {
			var out []string
			for _, r := range b.Rows {
				out = append(out, r.ContactID)
			}
			return out
		}
		next := models.AudienceNext{Op: models.AudienceAdd, SessionID: 7, Seq: 1}
		b, err := s.NextAudienceBatch(ctx, sp, next, 2)
		if err != nil || !reflect.DeepEqual(ids(b), []string{"c1", "c2"}) || b.Last || b.Staged {
			t.Fatalf("first batch %v last %v staged %v, %v", ids(b), b.Last, b.Staged, err)
		}
		// The upload's outcome is unknown and c2 leaves the segment: the
		// retry sends the staged batch again, c2 included.
		if err := s.DB().Model(&models.Contact{}).Where("id = ?", "c2").Update("lifecycle_stage", models.StageCustomer).Error; err != nil {
			t.Fatal(err)
		}
		again, err := s.NextAudienceBatch(ctx, sp, next, 2)
		if err != nil || !reflect.DeepEqual(ids(again), []string{"c1", "c2"}) || !again.Staged || again.SessionID != 7 || again.Seq != 1 || again.Last {
			t.Fatalf("retried batch %v %+v, %v", ids(again), again, err)
		}
		for i, want := range []int{2, 0} { // a second commit finds nothing staged
			if added, removed, err := s.CommitAudienceBatch(ctx, sp.Key, time.Now()); err != nil || added != want || removed != 0 {
				t.Fatalf("commit %d: %d added, %d removed, %v", i, added, removed, err)
			}
		}
		b, err = s.NextAudienceBatch(ctx, sp, models.AudienceNext{Op: models.AudienceAdd, After: "c2", SessionID: 7, Seq: 2}, 2)
		if err != nil || !reflect.DeepEqual(ids(b), []string{"c3"}) || !b.Last {
			t.Fatalf("second batch %v last %v, %v", ids(b), b.Last, err)
		}
		phone, _ := audience.Meta.HashPhone("+1 555 000 0003")
		if b.Rows[0].EmailHash != metaHash(t, "three@example.com") || b.Rows[0].PhoneHash != phone {
			t.Errorf("c3 sent as %+v", b.Rows[0])
		}
		if _, _, err := s.CommitAudienceBatch(ctx, sp.Key, time.Now()); err != nil {
			t.Fatal(err)
		}

		// c1 changes its address; c3 changes its address, then is deleted.
		s.DB().Model(&models.Contact{}).Where("id = ?", "c1").Update("email", "uno@example.com")
		s.DB().Model(&models.Contact{}).Where("id = ?", "c3").Update("email", "tres@example.com")
		if err := s.DB().Where("id = ?", "c3").Delete(&models.Contact{}).Error; err != nil {
			t.Fatal(err)
		}
		rem, add, err = s.StartAudienceSync(ctx, models.AudienceSpec{Key: sp.Key, Segment: sp.Segment, Platform: sp.Platform, At: time.Now()})
		if err != nil || rem != 3 || add != 0 {
			t.Fatalf("second sync: %d removals, %d additions, %v; want 3 (c1's old address, c2, c3), 0 (c1's new address waits for its removal)", rem, add, err)
		}
		b, err = s.NextAudienceBatch(ctx, sp, models.AudienceNext{Op: models.AudienceRemove, SessionID: 8, Seq: 1}, 10)
		if err != nil || !reflect.DeepEqual(ids(b), []string{"c1", "c2", "c3"}) || !b.Last {
			t.Fatalf("removals %v, %v", ids(b), err)
		}
		wantHashes := []string{metaHash(t, "one@example.com"), metaHash(t, "two@example.com"), metaHash(t, "three@example.com")}
		for i, r := range b.Rows {
			if r.EmailHash != wantHashes[i] {
				t.Errorf("removal of %s sends %s, want the stored %s", r.ContactID, r.EmailHash, wantHashes[i])
			}
		}
		if r := b.Rows[2]; r.PhoneHash != phone {
			t.Errorf("the deleted contact's phone hash %q, want %q", r.PhoneHash, phone)
		}
		if _, removed, err := s.CommitAudienceBatch(ctx, sp.Key, time.Now()); err != nil || removed != 3 {
			t.Fatalf("commit removals: %d, %v", removed, err)
		}
		b, err = s.NextAudienceBatch(ctx, sp, models.AudienceNext{Op: models.AudienceAdd, SessionID: 9, Seq: 1}, 10)
		if err != nil || !reflect.DeepEqual(ids(b), []string{"c1"}) || b.Rows[0].EmailHash != metaHash(t, "uno@example.com") {
			t.Fatalf("re-addition %+v, %v", b, err)
		}
		if _, _, err := s.CommitAudienceBatch(ctx, sp.Key, time.Now()); err != nil {
			t.Fatal(err)
		}
		members, err := s.FinishAudienceSync(ctx, sp.Key, "")
		if err != nil || members != 1 {
			t.Fatalf("finish: %d members, %v", members, err)
		}
		all, err := s.AudienceMembers(ctx, sp.Key, "", 10)
		if err != nil || len(all) != 3 {
			t.Fatalf("members %+v, %v", all, err)
		}
		c1, c2 := all[0], all[1]
		if !c1.InAudience || c1.EmailHash != metaHash(t, "uno@example.com") || c1.AddedAt == nil || c1.RemovedAt == nil || c1.AddedAt.Before(*c1.RemovedAt) {
			t.Errorf("c1 = %+v: want in, with its new hash, added after its removal", c1)
		}
		if c2.InAudience || c2.EmailHash != metaHash(t, "two@example.com") || c2.RemovedAt == nil {
			t.Errorf("c2 = %+v: want out, keeping the hash that was sent", c2)
		}
		st, err := s.AudienceSyncState(ctx, sp.Key)
		if err != nil || st.Added != 1 || st.Removed != 3 || st.Members != 1 || st.EndedAt == nil || st.PlannedRem != 3 {
			t.Errorf("sync state %+v, %v", st, err)
		}
	})
}

// Unsubscribing, here or under another contact with the same address, takes
// a contact out; so does an unknown segment fail clearly.
func TestAudienceLeavesOutUnsubscribed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		for _, c := range []models.Contact{
			{ID: "a", Email: "a@example.com"},
			{ID: "b", Email: "b@example.com"},
			{ID: "b2", Email: "B@example.com "},
			{ID: "c", Email: "c@example.com"},
		} {
			c.LifecycleStage, c.Traits = models.StageSubscriber, map[string]any{"ads_consent": "true"}
			if err := s.SaveContact(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Unsubscribe(ctx, "a", time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Unsubscribe(ctx, "b", time.Now()); err != nil {
			t.Fatal(err)
		}
		sp := models.AudienceSpec{Key: "k", Segment: "new_subscriber", Platform: "google", At: time.Now()}
		b, err := s.NextAudienceBatch(ctx, sp, models.AudienceNext{Op: models.AudienceAdd}, 10)
		if err != nil || len(b.Rows) != 1 || b.Rows[0].ContactID != "c" || !b.Rows[0].Consent {
			t.Errorf("batch %+v, %v: want only c, with consent", b, err)
		}
		sp.Segment = "no_such_segment"
		var unknown *models.UnknownSegmentError
		if _, _, err := s.StartAudienceSync(ctx, sp); !errors.As(err, &unknown) {
			t.Errorf("unknown segment: %v", err)
		}
	})
}
