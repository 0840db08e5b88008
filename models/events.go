package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Incoming is one accepted Segment call, ready to store.
type Incoming struct {
	Event
	UserID          string
	ContextTimezone string
}

// Accept stores a batch of calls in one transaction and returns the events to
// signal now, in order. For each call:
//   - a messageId seen before is a duplicate: acknowledged, not stored again;
//   - a call with a userId names its contact (created if new); with an
//     anonymousId too, the two are linked, and events held for that
//     anonymousId are released to the contact ahead of this one;
//   - a call with only an anonymousId goes to the contact it is linked to, or
//     is held until an identify links it;
//   - identify traits are merged into the contact.
func (s *Store) Accept(ctx context.Context, calls []Incoming) (toSignal []*Event, err error) {
	now := time.Now().UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		toSignal = nil
		for i := range calls {
			call := &calls[i]
			ev := call.Event
			ev.ReceivedAt = now
			ev.ContactID = call.UserID

			if ev.ContactID != "" && ev.AnonymousID != "" {
				released, err := linkAnonymous(tx, ev.AnonymousID, ev.ContactID)
				if err != nil {
					return err
				}
				toSignal = append(toSignal, released...)
			} else if ev.ContactID == "" {
				var alias Alias
				err := tx.Where("anonymous_id = ?", ev.AnonymousID).Take(&alias).Error
				switch {
				case err == nil:
					ev.ContactID = alias.ContactID
				case !errors.Is(err, gorm.ErrRecordNotFound):
					return err
				}
			}

			ev.Status = EventPending
			if ev.ContactID == "" {
				ev.Status = EventHeld
			}
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&ev)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				continue // a resent messageId
			}
			if ev.ContactID != "" {
				if err := upsertContact(tx, ev.ContactID, ev.Traits, call.ContextTimezone); err != nil {
					return err
				}
				stored := ev
				toSignal = append(toSignal, &stored)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return toSignal, nil
}

// linkAnonymous records that anonymousID is contactID and releases the events
// held for it.
func linkAnonymous(tx *gorm.DB, anonymousID, contactID string) ([]*Event, error) {
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&Alias{AnonymousID: anonymousID, ContactID: contactID})
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
	if err := upsertContact(tx, contactID, nil, ""); err != nil {
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

func upsertContact(tx *gorm.DB, id string, traits map[string]any, contextTimezone string) error {
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
