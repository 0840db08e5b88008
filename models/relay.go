package models

import (
	"context"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"
)

// MaxEventAttempts is how many times Temporal may refuse an event for a
// reason of the event's own (a payload it will not take, say) before the
// event is dead-lettered. Temporal being unreachable is not the event's
// fault and costs no attempt.
const MaxEventAttempts = 8

// RetryBackoff is how long an event waits after its nth refusal: 1 s,
// doubling, at most 5 minutes; eight attempts span about eight minutes.
func RetryBackoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 20)
	return min(d, 5*time.Minute)
}

// Claim asks ClaimPending for work.
type Claim struct {
	Owner string
	Now   time.Time
	Until time.Time // the lease's expiry
	// Contacts is how many contacts one claim takes; PerContact how many
	// of each contact's events.
	Contacts, PerContact int
	// Skip leaves out contacts the caller is busy with already.
	Skip func(contactID string) bool
}

// ClaimPending leases to c.Owner the next deliverable events of up to
// c.Contacts contacts, oldest first, and returns them in order. A contact's
// events are deliverable from its oldest pending event on, while each is
// neither leased (to anyone, the caller included) nor waiting for a retry;
// the first that is stops the run, so a contact's events are always
// signalled in the order stored. Two gateways claiming at once never both
// get an event, nor events of one contact out of order: a claim that finds
// it lost part of a contact's run gives the rest of that run back.
func (s *Store) ClaimPending(ctx context.Context, c Claim) ([]*Event, error) {
	db := s.db.WithContext(ctx)
	now := c.Now.UTC()
	// The head (oldest pending event) of every contact with pending events,
	// where that head is ready: one row per contact, so a contact with a
	// flood of events, or one stuck behind a retry, cannot crowd out the rest.
	var heads []struct {
		ID        uint64
		ContactID string
	}
	err := db.Raw(`SELECT e.id, e.contact_id FROM events e
		JOIN (SELECT contact_id, MIN(id) AS id FROM events WHERE status = ? GROUP BY contact_id) h ON e.id = h.id
		WHERE (e.lease_until IS NULL OR e.lease_until < ?) AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= ?)
		ORDER BY e.id LIMIT ?`, EventPending, now, now, c.Contacts*2).Scan(&heads).Error
	if err != nil {
		return nil, err
	}
	var contacts []string
	for _, h := range heads {
		if len(contacts) < c.Contacts && (c.Skip == nil || !c.Skip(h.ContactID)) {
			contacts = append(contacts, h.ContactID)
		}
	}
	if len(contacts) == 0 {
		return nil, nil
	}
	// Their first PerContact pending events, in order.
	var evs []*Event
	err = db.Raw(`SELECT * FROM (
			SELECT events.*, ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY id) AS rn
			FROM events WHERE status = ? AND contact_id IN ?) t
		WHERE rn <= ? ORDER BY contact_id, id`, EventPending, contacts, c.PerContact).Scan(&evs).Error
	if err != nil {
		return nil, err
	}
	runs := deliverableRuns(evs, now)
	var ids []uint64
	for _, run := range runs {
		for _, ev := range run {
			ids = append(ids, ev.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	until := c.Until.UTC()
	res := db.Model(&Event{}).
		Where("id IN ? AND status = ? AND (lease_until IS NULL OR lease_until < ?)", ids, EventPending, now).
		Updates(map[string]any{"lease_owner": c.Owner, "lease_until": until})
	if res.Error != nil {
		return nil, res.Error
	}
	if int(res.RowsAffected) != len(ids) {
		// Another gateway got some of them first: keep, per contact, only a
		// run that is wholly ours from its start, and give back the rest.
		var mine []uint64
		if err := db.Model(&Event{}).Where("id IN ? AND status = ? AND lease_owner = ? AND lease_until >= ?", ids, EventPending, c.Owner, now).
			Pluck("id", &mine).Error; err != nil {
			return nil, err
		}
		var giveBack []uint64
		for contact, run := range runs {
			keep := 0
			for keep < len(run) && slices.Contains(mine, run[keep].ID) {
				keep++
			}
			if keep == 0 || keep < len(run) {
				for _, ev := range run[keep:] {
					if slices.Contains(mine, ev.ID) {
						giveBack = append(giveBack, ev.ID)
					}
				}
				if keep == 0 {
					delete(runs, contact)
				} else {
					runs[contact] = run[:keep]
				}
				// A run that starts with someone else's event is not ours at all.
			}
		}
		if err := s.ReleaseEvents(ctx, c.Owner, giveBack, ""); err != nil {
			return nil, err
		}
	}
	var out []*Event
	for _, contact := range contacts {
		for _, ev := range runs[contact] {
			ev.LeaseOwner, ev.LeaseUntil = c.Owner, &until
			out = append(out, ev)
		}
	}
	return out, nil
}

// deliverableRuns splits events (ordered by contact, then id) into each
// contact's run of deliverable events from its first.
func deliverableRuns(evs []*Event, now time.Time) map[string][]*Event {
	runs := map[string][]*Event{}
	stopped := map[string]bool{}
	for _, ev := range evs {
		if stopped[ev.ContactID] {
			continue
		}
		leased := ev.LeaseUntil != nil && !ev.LeaseUntil.Before(now)
		waiting := ev.NextAttemptAt != nil && ev.NextAttemptAt.After(now)
		if leased || waiting {
			stopped[ev.ContactID] = true
			continue
		}
		runs[ev.ContactID] = append(runs[ev.ContactID], ev)
	}
	return runs
}

// ReleaseEvents gives back events leased to owner without delivering them
// (Temporal is unreachable, or the gateway is stopping), so any relay may
// claim them at once. lastError, when set, says why.
func (s *Store) ReleaseEvents(ctx context.Context, owner string, ids []uint64, lastError string) error {
	if len(ids) == 0 {
		return nil
	}
	change := map[string]any{"lease_owner": "", "lease_until": nil}
	if lastError != "" {
		change["last_error"] = lastError
	}
	return s.db.WithContext(ctx).Model(&Event{}).
		Where("id IN ? AND status = ? AND lease_owner = ?", ids, EventPending, owner).Updates(change).Error
}

// RenewLeases extends owner's leases on these events until until.
func (s *Store) RenewLeases(ctx context.Context, owner string, ids []uint64, until time.Time) error {
	for chunk := range slices.Chunk(ids, 1000) {
		err := s.db.WithContext(ctx).Model(&Event{}).Where("id IN ? AND status = ? AND lease_owner = ?", chunk, EventPending, owner).
			Update("lease_until", until.UTC()).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// FailEvent records that Temporal refused an event for a reason of its own.
// It waits until retryAt(attempts so far) before the next try, holding back
// its contact's later events, or is dead-lettered after MaxEventAttempts.
// It reports whether the event is now dead.
func (s *Store) FailEvent(ctx context.Context, owner string, id uint64, cause string, retryAt func(attempts int) time.Time) (dead bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ev Event
		if err := tx.Select("id", "attempts").Where("id = ? AND status = ? AND lease_owner = ?", id, EventPending, owner).Take(&ev).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil // no longer ours: whoever has it now decides
			}
			return err
		}
		attempts := ev.Attempts + 1
		change := map[string]any{"attempts": attempts, "last_error": cause, "lease_owner": "", "lease_until": nil}
		if dead = attempts >= MaxEventAttempts; dead {
			change["status"], change["next_attempt_at"] = EventDead, nil
		} else {
			change["next_attempt_at"] = retryAt(attempts).UTC()
		}
		return tx.Model(&Event{}).Where("id = ?", id).Updates(change).Error
	})
	return dead, err
}

// DeadEvents lists dead-lettered events, oldest first, and how many there are.
func (s *Store) DeadEvents(ctx context.Context, limit, offset int) ([]Event, int64, error) {
	db := s.db.WithContext(ctx).Model(&Event{}).Where("status = ?", EventDead)
	var n int64
	if err := db.Count(&n).Error; err != nil {
		return nil, 0, err
	}
	var evs []Event
	err := db.Order("id").Limit(limit).Offset(offset).Find(&evs).Error
	return evs, n, err
}

// RetryEvent makes a dead-lettered event pending again, with a fresh count
// of attempts. It returns ErrNotFound when there is no such dead event.
func (s *Store) RetryEvent(ctx context.Context, id uint64) (*Event, error) {
	db := s.db.WithContext(ctx)
	res := db.Model(&Event{}).Where("id = ? AND status = ?", id, EventDead).
		Updates(map[string]any{"status": EventPending, "attempts": 0, "next_attempt_at": nil, "lease_owner": "", "lease_until": nil})
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	var ev Event
	return &ev, db.Where("id = ?", id).Take(&ev).Error
}

// Backlog is the state of delivery, for readiness and metrics.
type Backlog struct {
	Pending int64 `json:"pending"`
	// OldestPending is when the oldest pending event arrived; zero when
	// none is pending.
	OldestPending time.Time `json:"oldest_pending,omitzero"`
	Dead          int64     `json:"dead"`
}

// Backlog counts pending and dead events.
func (s *Store) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	db := s.db.WithContext(ctx)
	if err := db.Model(&Event{}).Where("status = ?", EventPending).Count(&b.Pending).Error; err != nil {
		return b, err
	}
	if b.Pending > 0 {
		var first Event
		if err := db.Select("received_at").Where("status = ?", EventPending).Order("id").Take(&first).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return b, err
		}
		b.OldestPending = first.ReceivedAt
	}
	err := db.Model(&Event{}).Where("status = ?", EventDead).Count(&b.Dead).Error
	return b, err
}
