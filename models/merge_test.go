package models_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func alias(messageID, previousID, userID string, mayMerge bool) models.Incoming {
	return models.Incoming{
		Event:  models.Event{MessageID: messageID, Kind: models.KindAlias, Timestamp: time.Now().UTC(), Source: "test"},
		UserID: userID, PreviousID: previousID, MayMerge: mayMerge,
	}
}

// An alias where one ID names no contact yet makes it another name of the
// other's: nothing moves, no event is made, and later calls with either ID
// reach the one contact, also from a write key.
func TestAliasNamesAContact(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, err := s.Accept(ctx, []models.Incoming{identify("i1", "jo@example.com", "", map[string]any{"email": "jo@example.com"})}, models.Lease{})
		require.NoError(t, err)
		jo, err := s.ResolveContact(ctx, "jo@example.com")
		require.NoError(t, err)

		// The app's own ID for Jo, new: it names Jo's contact.
		made, err := s.Accept(ctx, []models.Incoming{alias("a1", "jo@example.com", "user-42", false), track("t1", "user-42", "", "Feature Used")}, models.Lease{})
		require.NoError(t, err)
		require.Len(t, made, 1, "the alias makes no event of its own")
		assert.Equal(t, jo, made[0].ContactID, "a call with the new ID reaches Jo's contact")

		// The other way round: an old ID never seen becomes a name of a
		// known contact, and the events held for it (an anonymousId) follow.
		_, err = s.Accept(ctx, []models.Incoming{track("anon1", "", "anon-9", "Product Viewed")}, models.Lease{})
		require.NoError(t, err)
		made, err = s.Accept(ctx, []models.Incoming{alias("a2", "anon-9", "user-42", false)}, models.Lease{})
		require.NoError(t, err)
		require.Equal(t, []string{"anon1:" + jo}, names(made), "the held event is released to Jo")

		for _, id := range []string{"user-42", "USER-42", "jo@example.com"} {
			got, err := s.ResolveContact(ctx, id)
			require.NoError(t, err)
			if id == "USER-42" {
				assert.Equal(t, id, got, "an ID that is not an address is case-sensitive")
				continue
			}
			assert.Equal(t, jo, got, "ResolveContact(%q)", id)
		}
		_, err = s.Contact(ctx, "user-42")
		assert.ErrorIs(t, err, models.ErrNotFound, "no second contact was made")
	})
}

// An alias of two contacts with history merges the previous into the
// current: with the admin key only; then its names, orders, carts, tasks
// and inbox are the kept contact's, the kept contact takes the details it
// lacks and the stricter opt-out, and both workflows get a Contact Merged
// event.
func TestAliasMergesTwoContacts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, err := s.Accept(ctx, []models.Incoming{
			identify("g1", "guest@example.com", "anon-1", map[string]any{"email": "guest@example.com", "first_name": "Ana", "plan": "pro"}),
			{Event: models.Event{MessageID: "o1", Kind: workflows.KindTrack, Name: workflows.EventOrderCompleted, Timestamp: time.Now().UTC(), Source: models.SourceShopify,
				Properties: map[string]any{"order_id": "1001", "total": 40.0}}, UserID: "guest@example.com"},
			identify("c1", "7391", "", map[string]any{"last_name": "Lima", "plan": "basic"}),
		}, models.Lease{})
		require.NoError(t, err)
		guest, err := s.ResolveContact(ctx, "guest@example.com")
		require.NoError(t, err)
		unsubscribed := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		_, err = s.Unsubscribe(ctx, guest, unsubscribed)
		require.NoError(t, err)

		// A write key may not merge: refused, nothing stored.
		_, err = s.Accept(ctx, []models.Incoming{track("w0", "7391", "", "Feature Used"), alias("w1", "guest@example.com", "7391", false)}, models.Lease{})
		var refused *models.MergeRefusedError
		require.True(t, errors.As(err, &refused), "got %v", err)
		assert.Equal(t, `alias: previousId "guest@example.com" and userId "7391" are two contacts with their own history; merging them takes the admin key, since the write key is public`, err.Error())
		var stored int64
		require.NoError(t, s.DB().Model(&models.Event{}).Where("message_id = ?", "w0").Count(&stored).Error)
		assert.Zero(t, stored, "a refused request stores none of its calls")

		made, err := s.Accept(ctx, []models.Incoming{alias("m1", "guest@example.com", "7391", true)}, models.Lease{})
		require.NoError(t, err)
		require.Len(t, made, 2)
		assert.Equal(t, guest, made[0].ContactID)
		assert.Equal(t, map[string]any{"into": "7391"}, made[0].Properties)
		assert.Equal(t, "7391", made[1].ContactID)
		assert.Equal(t, map[string]any{"from": guest}, made[1].Properties)
		for _, ev := range made {
			assert.Equal(t, workflows.EventContactMerged, ev.Name)
			assert.Equal(t, models.EventPending, ev.Status)
		}
		// The same alias again: one contact now, nothing to do.
		again, err := s.Accept(ctx, []models.Incoming{alias("m2", "guest@example.com", "7391", true)}, models.Lease{})
		require.NoError(t, err)
		assert.Empty(t, again)

		// Every name of the guest reaches the customer now.
		got, err := s.Accept(ctx, []models.Incoming{
			track("after1", "guest@example.com", "", "Feature Used"),
			track("after2", guest, "", "Feature Used"),
			track("after3", "", "anon-1", "Feature Used"),
		}, models.Lease{})
		require.NoError(t, err)
		for _, ev := range got {
			assert.Equal(t, "7391", ev.ContactID, "%s", ev.MessageID)
		}
		o, err := s.Order(ctx, models.OrderKey(models.SourceShopify, "1001"))
		require.NoError(t, err)
		assert.Equal(t, "7391", o.ContactID, "the order moved")

		kept, err := s.Contact(ctx, "7391")
		require.NoError(t, err)
		assert.Equal(t, "guest@example.com", kept.Email, "an address it lacked")
		assert.Equal(t, "Ana", kept.FirstName)
		assert.Equal(t, "Lima", kept.LastName, "its own details stay")
		assert.Equal(t, "basic", kept.Traits["plan"], "its own traits win")
		require.NotNil(t, kept.UnsubscribedAt, "the opt-out under the other ID holds")
		assert.True(t, kept.UnsubscribedAt.Equal(unsubscribed))
		merged, err := s.Contact(ctx, guest)
		require.NoError(t, err)
		assert.Equal(t, "7391", merged.MergedInto)
		from, err := s.MergedFrom(ctx, "7391")
		require.NoError(t, err)
		assert.Equal(t, []string{guest}, from)

		// The kept contact's pages show the merged one's history.
		evs, err := s.ContactEvents(ctx, "7391", 50)
		require.NoError(t, err)
		var orders int
		for _, ev := range evs {
			if ev.Name == workflows.EventOrderCompleted {
				orders++
			}
		}
		assert.Equal(t, 1, orders, "the guest's order event is in the kept contact's timeline")
	})
}

// A store that cached an ID's contact learns of a merge another store
// made: the mapping cache is dropped when the merge count moves.
func TestMergesReachEveryStore(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		other := reopen(t, s)
		_, err := other.Accept(ctx, []models.Incoming{track("x1", "old-id", "", "Signed Up"), track("x2", "new-id", "", "Signed Up")}, models.Lease{})
		require.NoError(t, err)
		_, err = s.Accept(ctx, []models.Incoming{alias("m", "old-id", "new-id", true)}, models.Lease{})
		require.NoError(t, err)
		got, err := other.Accept(ctx, []models.Incoming{track("x3", "old-id", "", "Feature Used")}, models.Lease{})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "new-id", got[0].ContactID, "the other store had old-id cached as itself")
	})
}

// Events are inserted many to a statement: each returned event carries the
// ID its row got, in both databases, resent messageIds are skipped within
// a request and across requests, and an anonymousId's held events are
// released by an identify later in the same request.
func TestAcceptBatchesKeepIDs(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		var calls []models.Incoming
		for i := range 250 {
			id := fmt.Sprintf("p%d", i)
			calls = append(calls, track("v-"+id, "", "anon-"+id, "Product Viewed"),
				identify("i-"+id, id, "anon-"+id, map[string]any{"email": id + "@example.com"}),
				track("t-"+id, id, "", "Signed Up"), track("t-"+id, id, "", "Signed Up"))
		}
		got, err := s.Accept(ctx, calls, models.Lease{})
		require.NoError(t, err)
		require.Len(t, got, 750, "three events for each of 250 contacts; the repeat skipped")
		for _, ev := range got {
			var row models.Event
			require.NoError(t, s.DB().Where("id = ?", ev.ID).Take(&row).Error)
			require.Equal(t, ev.MessageID, row.MessageID, "event %d", ev.ID)
			require.Equal(t, models.EventPending, row.Status)
		}
		again, err := s.Accept(ctx, calls[:8], models.Lease{})
		require.NoError(t, err)
		assert.Empty(t, again, "resent")
		var n int64
		require.NoError(t, s.DB().Model(&models.Event{}).Count(&n).Error)
		assert.Equal(t, int64(750), n)
	})
}
