package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Incoming is one accepted Segment call, ready to store.
type Incoming struct {
	Event
	UserID          string
	ContextTimezone string
}

// Accept stores a batch of calls and returns the events to signal now, in
// order. For each call:
//   - a messageId seen before is a duplicate: acknowledged, not stored again;
//   - a call with a userId names its contact (created if new); with an
//     anonymousId too, the two are linked, and events held for that
//     anonymousId are released to the contact ahead of this one;
//   - a call with only an anonymousId goes to the contact it is linked to, or
//     is held until an identify links it;
//   - identify traits are merged into the contact.
//
// Concurrent calls share one transaction (group commit): a single writer
// takes every request waiting and commits them together; if that fails, it
// commits them one by one, so only a request at fault sees an error. When
// Accept returns without error, the calls are committed.
func (s *Store) Accept(ctx context.Context, calls []Incoming) ([]*Event, error) {
	req := &acceptRequest{calls: calls, done: make(chan struct{})}
	s.startWriter.Do(func() { go s.acceptWriter() })
	select {
	case s.accepts <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.closed:
		return nil, errors.New("store is closed")
	}
	<-req.done // once queued, wait for the outcome: it may be committed
	return req.toSignal, req.err
}

type acceptRequest struct {
	calls    []Incoming
	toSignal []*Event
	err      error
	done     chan struct{}
}

// maxGroup bounds how many requests share a transaction.
const maxGroup = 64

func (s *Store) acceptWriter() {
	for {
		var first *acceptRequest
		select {
		case first = <-s.accepts:
		case <-s.closed:
			return
		}
		group := []*acceptRequest{first}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-s.accepts:
				group = append(group, r)
			default:
				break more
			}
		}
		s.acceptGroup(group)
	}
}

func (s *Store) acceptGroup(group []*acceptRequest) {
	defer func() {
		for _, r := range group {
			close(r.done)
		}
	}()
	now := time.Now().UTC()
	err := s.db.Transaction(func(tx *gorm.DB) error {
		for _, r := range group {
			var err error
			if r.toSignal, err = s.accept(tx, r.calls, now); err != nil {
				return err
			}
		}
		return nil
	})
	s.commitKnown(err == nil)
	if err == nil || len(group) == 1 {
		for _, r := range group {
			if r.err = err; err != nil {
				r.toSignal = nil
			}
		}
		return
	}
	// Something in the group failed: commit each request alone, so only
	// the one at fault sees its error.
	for _, r := range group {
		r.err = s.db.Transaction(func(tx *gorm.DB) (err error) {
			r.toSignal, err = s.accept(tx, r.calls, now)
			return err
		})
		s.commitKnown(r.err == nil)
		if r.err != nil {
			r.toSignal = nil
		}
	}
}

// accept stores one request's calls inside tx.
func (s *Store) accept(tx *gorm.DB, calls []Incoming, now time.Time) (toSignal []*Event, err error) {
	for i := range calls {
		call := &calls[i]
		ev := call.Event
		ev.ReceivedAt = now
		ev.ContactID = call.UserID

		if ev.ContactID != "" && ev.AnonymousID != "" {
			released, err := s.linkAnonymous(tx, ev.AnonymousID, ev.ContactID)
			if err != nil {
				return nil, err
			}
			for _, r := range released {
				if err := s.recordOrder(tx, r); err != nil {
					return nil, err
				}
			}
			toSignal = append(toSignal, released...)
		} else if ev.ContactID == "" {
			var alias Alias
			err := tx.Where("anonymous_id = ?", ev.AnonymousID).Take(&alias).Error
			switch {
			case err == nil:
				ev.ContactID = alias.ContactID
			case !errors.Is(err, gorm.ErrRecordNotFound):
				return nil, err
			}
		}

		ev.Status = EventPending
		if ev.ContactID == "" {
			ev.Status = EventHeld
		}
		res := skipDuplicates(tx).Create(&ev)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 0 {
			continue // a resent messageId
		}
		if ev.ContactID != "" {
			if err := s.upsertContact(tx, ev.ContactID, ev.Traits, call.ContextTimezone); err != nil {
				return nil, err
			}
			if err := s.recordOrder(tx, &ev); err != nil {
				return nil, err
			}
			stored := ev
			toSignal = append(toSignal, &stored)
		}
	}
	return toSignal, nil
}

// commitKnown adds the contacts a committed transaction made sure of to the
// known set, forgetting them all now and then so the set stays small; after
// a rollback it drops them.
func (s *Store) commitKnown(committed bool) {
	if committed {
		for _, id := range s.created {
			if s.known == nil || len(s.known) >= knownContacts {
				s.known = map[string]bool{}
			}
			s.known[id] = true
		}
	}
	s.created = s.created[:0]
}

const knownContacts = 100_000

// linkAnonymous records that anonymousID is contactID and releases the events
// held for it.
func (s *Store) linkAnonymous(tx *gorm.DB, anonymousID, contactID string) ([]*Event, error) {
	res := skipDuplicates(tx).Create(&Alias{AnonymousID: anonymousID, ContactID: contactID})
	if res.Error != nil || res.RowsAffected == 0 {
		return nil, res.Error // already linked (to this contact or an earlier one): the first link wins
	}
	var held []*Event
	if err := tx.Where("anonymous_id = ? AND status = ?", anonymousID, EventHeld).Order("id").Find(&held).Error; err != nil {
		return nil, err
	}
	if len(held) == 0 {
		return nil, nil
	}
	if err := s.upsertContact(tx, contactID, nil, ""); err != nil {
		return nil, err
	}
	ids := make([]uint64, len(held))
	for i, e := range held {
		ids[i] = e.ID
		e.ContactID, e.Status = contactID, EventPending
	}
	err := tx.Model(&Event{}).Where("id IN ?", ids).
		Updates(map[string]any{"contact_id": contactID, "status": EventPending}).Error
	return held, err
}

func (s *Store) upsertContact(tx *gorm.DB, id string, traits map[string]any, contextTimezone string) error {
	if len(traits) == 0 && contextTimezone == "" {
		// The common case, a track call: make sure the contact exists, in
		// one statement, or none when this store already wrote it. (The
		// writer goroutine is the only caller, so the set needs no lock.)
		if s.known[id] {
			return nil
		}
		err := skipDuplicates(tx).Create(&Contact{ID: id, LifecycleStage: StageSubscriber, Traits: map[string]any{}}).Error
		if err == nil {
			s.created = append(s.created, id) // known once the transaction commits
		}
		return err
	}
	var c Contact
	err := tx.Where("id = ?", id).Take(&c).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		c = Contact{ID: id, LifecycleStage: StageSubscriber, Traits: map[string]any{}}
		c.ApplyTraits(traits, contextTimezone)
		return tx.Create(&c).Error
	case err != nil:
		return err
	case len(traits) == 0 && (contextTimezone == "" || c.Timezone != ""):
		return nil
	}
	c.ApplyTraits(traits, contextTimezone)
	return tx.Save(&c).Error
}

// PendingEvents returns up to limit events stored before `before` and not yet
// delivered, oldest first.
func (s *Store) PendingEvents(ctx context.Context, before time.Time, limit int) ([]*Event, error) {
	var evs []*Event
	err := s.db.WithContext(ctx).
		Where("status = ? AND received_at < ?", EventPending, before.UTC()).
		Order("id").Limit(limit).Find(&evs).Error
	return evs, err
}

// MarkDelivered records that Temporal took these events.
func (s *Store) MarkDelivered(ctx context.Context, ids ...uint64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&Event{}).Where("id IN ?", ids).
		Updates(map[string]any{"status": EventDelivered, "delivered_at": time.Now().UTC()}).Error
}

// MarkAttempt records a failed delivery attempt; the event stays pending.
func (s *Store) MarkAttempt(ctx context.Context, id uint64, cause error) error {
	return s.db.WithContext(ctx).Model(&Event{}).Where("id = ?", id).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": cause.Error()}).Error
}

// CountEvents counts stored events in a state, for readiness and tests.
func (s *Store) CountEvents(ctx context.Context, status string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Event{}).Where("status = ?", status).Count(&n).Error
	return n, err
}
