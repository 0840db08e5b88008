package models

import (
	"context"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Incoming is one accepted Segment call, ready to store.
type Incoming struct {
	Event
	UserID          string
	ContextTimezone string
	// An alias call (Kind KindAlias) says PreviousID is UserID's contact
	// too (merge.go). MayMerge: the caller may merge two known contacts
	// (an admin key, a signed webhook); a public write key may not.
	PreviousID string
	MayMerge   bool
}

// Lease is what a gateway asks for when it stores events it means to
// signal itself: each ready event gets this owner and expiry, unless an
// earlier pending event of its contact is not the owner's (then it is left
// unleased, for a relay to claim in order). The zero Lease leases nothing.
type Lease struct {
	Owner string
	Until time.Time
}

// Accept stores a batch of calls and returns the events that are now
// pending for a contact, in order; those lease could take carry LeaseOwner.
// For each call:
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
func (s *Store) Accept(ctx context.Context, calls []Incoming, lease Lease) ([]*Event, error) {
	req := &acceptRequest{calls: calls, lease: lease, done: make(chan struct{})}
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
	lease    Lease
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
		if err := s.checkMerges(tx); err != nil {
			return err
		}
		blocked, err := s.othersPending(tx, group, now)
		if err != nil {
			return err
		}
		var all []Incoming
		for _, r := range group {
			all = append(all, r.calls...)
		}
		seen, err := s.prepareCalls(tx, all)
		if err != nil {
			return err
		}
		for _, r := range group {
			var err error
			if r.toSignal, err = s.accept(tx, r.calls, r.lease, blocked, seen, now); err != nil {
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
			if err := s.checkMerges(tx); err != nil {
				return err
			}
			seen, err := s.prepareCalls(tx, r.calls)
			if err != nil {
				return err
			}
			r.toSignal, err = s.accept(tx, r.calls, r.lease, map[string]bool{}, seen, now)
			return err
		})
		s.commitKnown(r.err == nil)
		if r.err != nil {
			r.toSignal = nil
		}
	}
}

// prepareCalls reads, for all the calls a transaction stores, what would
// otherwise take a query each: the messageIds stored already (the set
// returned, which accept adds each call's to), and the user IDs to look up.
func (s *Store) prepareCalls(tx *gorm.DB, calls []Incoming) (map[string]bool, error) {
	seen, err := s.storedMessageIDs(tx, calls)
	if err != nil {
		return nil, err
	}
	return seen, s.lookUpUserIDs(tx, calls)
}

// accept stores one request's calls inside tx. blocked caches, for the
// transaction, whether a contact has pending events the lease's owner may
// not go ahead of; seen holds the messageIds stored already
// (prepareCalls).
func (s *Store) accept(tx *gorm.DB, calls []Incoming, lease Lease, blocked, seen map[string]bool, now time.Time) (toSignal []*Event, err error) {
	// leaseFor decides an event's lease before it is written.
	leaseFor := func(ev *Event) error {
		ev.LeaseOwner, ev.LeaseUntil = "", nil
		if ev.ContactID == "" || ev.Status != EventPending {
			return nil
		}
		b, known := blocked[ev.ContactID]
		if !known && lease.Owner != "" {
			var err error
			if b, err = s.hasOthersPending(tx, ev.ContactID, lease.Owner, now); err != nil {
				return err
			}
		}
		if lease.Owner == "" || b {
			blocked[ev.ContactID] = true // and every later event of this contact waits too
			return nil
		}
		blocked[ev.ContactID] = false
		until := lease.Until.UTC()
		ev.LeaseOwner, ev.LeaseUntil = lease.Owner, &until
		return nil
	}
	// New events are inserted many rows to a statement: before anything
	// reads events (an anonymousId's link, an alias) and at the end.
	// Resent messageIds (seen) are skipped whole.
	var fresh []*Event
	flush := func() error {
		if len(fresh) == 0 {
			return nil
		}
		// Without the AfterCreate hook: engagement and touches are noted
		// below, once the contact exists.
		err := tx.Session(&gorm.Session{SkipHooks: true}).CreateInBatches(fresh, eventRows).Error
		fresh = fresh[:0]
		return err
	}
	for i := range calls {
		call := &calls[i]
		if call.Kind == KindAlias {
			if err := flush(); err != nil {
				return nil, err
			}
			made, err := s.alias(tx, call, now, leaseFor)
			if err != nil {
				return nil, err
			}
			toSignal = append(toSignal, made...)
			continue
		}
		if seen[call.MessageID] {
			continue // a resent messageId
		}
		seen[call.MessageID] = true
		ev := new(Event)
		*ev = call.Event
		ev.ReceivedAt = now
		if ev.ContactID, err = s.contactFor(tx, call.UserID); err != nil {
			return nil, err
		}

		if ev.ContactID != "" && ev.AnonymousID != "" {
			if err := flush(); err != nil {
				return nil, err
			}
			released, err := s.linkAnonymous(tx, ev.AnonymousID, ev.ContactID, leaseFor)
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
		if err := leaseFor(ev); err != nil {
			return nil, err
		}
		fresh = append(fresh, ev)
		if ev.ContactID != "" {
			if err := s.upsertContact(tx, ev.ContactID, ev.Traits, call.ContextTimezone); err != nil {
				return nil, err
			}
			// The touch first: an order placed on the landing visit
			// carries it.
			if err := noteTouch(tx, ev); err != nil {
				return nil, err
			}
			if _, order := orderStatus[ev.Name]; order {
				// An order is credited to the latest click, which may be
				// among the events not inserted yet.
				if err := flush(); err != nil {
					return nil, err
				}
			}
			if err := s.recordOrder(tx, ev); err != nil {
				return nil, err
			}
			if err := noteEngagement(tx, ev); err != nil {
				return nil, err
			}
			toSignal = append(toSignal, ev) // its ID is set when it is inserted
		}
	}
	return toSignal, flush()
}

// eventRows is how many events one insert statement writes: about 2,000
// bound values, well inside SQLite's and MySQL's limits.
const eventRows = 100

// storedMessageIDs is the set of the calls' messageIds the events table
// already has. A duplicate that commits meanwhile (another gateway's)
// fails the insert, and the retry of the request finds it here.
func (s *Store) storedMessageIDs(tx *gorm.DB, calls []Incoming) (map[string]bool, error) {
	seen := make(map[string]bool, len(calls))
	ids := make([]string, 0, len(calls))
	for _, c := range calls {
		if c.Kind != KindAlias {
			ids = append(ids, c.MessageID)
		}
	}
	for chunk := range slices.Chunk(ids, 500) {
		var found []string
		if err := tx.Model(&Event{}).Where("message_id IN ?", chunk).Pluck("message_id", &found).Error; err != nil {
			return nil, err
		}
		for _, id := range found {
			seen[id] = true
		}
	}
	return seen, nil
}

// commitKnown adds the contacts a committed transaction made sure of to the
// known set, forgetting them all now and then so the set stays small; after
// a rollback it drops them.
func (s *Store) commitKnown(committed bool) {
	s.commitMapping(committed)
	if committed {
		for _, id := range s.created {
			if s.known == nil || len(s.known) >= knownContacts {
				s.known = map[string]bool{}
			}
			s.known[id] = true
		}
	}
	s.created = s.created[:0]
	clear(s.txKnown)
}

// noteKnown remembers a contact the transaction under way made sure of.
func (s *Store) noteKnown(id string) {
	if s.txKnown == nil {
		s.txKnown = map[string]bool{}
	}
	s.txKnown[id] = true
	s.created = append(s.created, id) // known to all once the transaction commits
}

const knownContacts = 100_000

// linkAnonymous records that anonymousID is contactID and releases the events
// held for it, leased as leaseFor says.
func (s *Store) linkAnonymous(tx *gorm.DB, anonymousID, contactID string, leaseFor func(*Event) error) ([]*Event, error) {
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
		if err := leaseFor(e); err != nil {
			return nil, err
		}
		if err := noteEngagement(tx, e); err != nil {
			return nil, err
		}
		// An ad click usually lands before the visitor says who they are.
		if err := noteTouch(tx, e); err != nil {
			return nil, err
		}
	}
	// They share one lease decision: the first settles it for the contact.
	err := tx.Model(&Event{}).Where("id IN ?", ids).
		Updates(map[string]any{"contact_id": contactID, "status": EventPending, "lease_owner": held[0].LeaseOwner, "lease_until": held[0].LeaseUntil}).Error
	return held, err
}

// hasOthersPending reports whether the contact has a pending event that is
// not leased to owner: one waiting for a retry, leased to another gateway,
// or left for the relay. A new event of the contact must then wait its turn.
func (s *Store) hasOthersPending(tx *gorm.DB, contactID, owner string, now time.Time) (bool, error) {
	var ids []uint64
	err := tx.Model(&Event{}).Where("status = ? AND contact_id = ? AND (lease_owner <> ? OR lease_until IS NULL OR lease_until < ?)",
		EventPending, contactID, owner, now).Limit(1).Pluck("id", &ids).Error
	return len(ids) > 0, err
}

// othersPending answers hasOthersPending for every contact a group of
// requests names, in one query: the check runs for each event stored, and
// one statement per group costs far less than one per event.
func (s *Store) othersPending(tx *gorm.DB, group []*acceptRequest, now time.Time) (map[string]bool, error) {
	blocked := map[string]bool{}
	owner := ""
	var contacts []string
	for _, r := range group {
		if r.lease.Owner == "" {
			continue
		}
		owner = r.lease.Owner
		for _, c := range r.calls {
			if c.UserID == "" {
				continue
			}
			id, err := s.contactFor(tx, c.UserID)
			if err != nil {
				return nil, err
			}
			if _, seen := blocked[id]; !seen {
				blocked[id] = false
				contacts = append(contacts, id)
			}
		}
	}
	if len(contacts) == 0 {
		return blocked, nil
	}
	var found []string
	err := tx.Model(&Event{}).Distinct("contact_id").
		Where("status = ? AND contact_id IN ? AND (lease_owner <> ? OR lease_until IS NULL OR lease_until < ?)", EventPending, contacts, owner, now).
		Pluck("contact_id", &found).Error
	for _, c := range found {
		blocked[c] = true
	}
	return blocked, err
}

func (s *Store) upsertContact(tx *gorm.DB, id string, traits map[string]any, contextTimezone string) error {
	if len(traits) == 0 && contextTimezone == "" {
		// The common case, a track call: make sure the contact exists, in
		// one statement, or none when this store already wrote it. (The
		// writer goroutine is the only caller, so the set needs no lock.)
		if s.known[id] || s.txKnown[id] {
			return nil
		}
		err := skipDuplicates(tx).Create(&Contact{ID: id, LifecycleStage: StageSubscriber, Traits: map[string]any{}}).Error
		if err == nil {
			s.noteKnown(id)
		}
		return err
	}
	var c Contact
	if !s.known[id] && !s.txKnown[id] {
		// Most identifies of a contact this store has not seen are its
		// first: try the insert before a read. (On SQLite a read costs more
		// than an insert: the driver prepares every query anew.)
		c = Contact{ID: id, LifecycleStage: StageSubscriber, Traits: map[string]any{}}
		c.ApplyTraits(traits, contextTimezone)
		res := skipDuplicates(tx).Create(&c)
		if res.Error != nil {
			return res.Error
		}
		s.noteKnown(id) // a track after this identify need not make sure of it
		if res.RowsAffected > 0 {
			return nil
		}
		c = Contact{}
	}
	err := tx.Where("id = ?", id).Take(&c).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		c = Contact{ID: id, LifecycleStage: StageSubscriber, Traits: map[string]any{}}
		c.ApplyTraits(traits, contextTimezone)
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		s.noteKnown(id)
		return nil
	case err != nil:
		return err
	case len(traits) == 0 && (contextTimezone == "" || c.Timezone != ""):
		return nil
	}
	c.ApplyTraits(traits, contextTimezone)
	return tx.Save(&c).Error
}

// MarkDelivered records that Temporal took these events.
func (s *Store) MarkDelivered(ctx context.Context, ids ...uint64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&Event{}).Where("id IN ?", ids).
		Updates(map[string]any{"status": EventDelivered, "delivered_at": time.Now().UTC()}).Error
}

// CountEvents counts stored events in a state, for readiness and tests.
func (s *Store) CountEvents(ctx context.Context, status string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Event{}).Where("status = ?", status).Count(&n).Error
	return n, err
}
