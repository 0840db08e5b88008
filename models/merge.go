package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/nudgehq/nudge/workflows"
)

// Segment's alias call says two IDs are one person: previousId (what the
// person was called) and userId (what they are called now). What Nudge
// does depends on what each ID names so far:
//
//   - one of them names no contact: it becomes another name of the other's
//     contact (a row in user_ids). Nothing moves and no workflow changes;
//     later calls with either ID reach the same contact. The same goes for
//     an anonymousId: events held for it are released to the contact.
//   - both name the same contact: nothing to do.
//   - both name contacts: the previous one is merged into the current one.
//     Its IDs point at the kept contact from then on; its orders, carts,
//     sales tasks and inbox move over; the kept contact takes the details
//     it lacks; and each contact's workflow is told with a Contact Merged
//     event. The merged contact's workflow hands its running journeys to
//     the kept one's, then forwards whatever still reaches it
//     (workflows/merge.go). Past events and messages stay under the ID
//     they happened to; the contact API shows them with the kept contact.
//
// Merging moves someone's history and future mail, so only a caller that
// may merge does it (Incoming.MayMerge): the admin key, or a signed
// webhook. The write key ships in web pages; with it, an alias of two known
// contacts is refused (MergeRefusedError) and changes nothing.

// KindAlias marks an alias call among the calls Accept stores.
const KindAlias = "alias"

// MergeRefusedError is an alias of two known contacts from a caller that
// may not merge them.
type MergeRefusedError struct{ PreviousID, UserID string }

func (e *MergeRefusedError) Error() string {
	return fmt.Sprintf("alias: previousId %q and userId %q are two contacts with their own history; merging them takes the admin key, since the write key is public", e.PreviousID, e.UserID)
}

// mergesSetting counts the merges and renames alias calls made, so every
// store can tell its cached ID mappings are out of date.
const mergesSetting = "contact_merges"

// alias applies one alias call inside tx and returns the events it makes
// (the two Contact Merged events of a merge, stored and pending).
func (s *Store) alias(tx *gorm.DB, call *Incoming, now time.Time, leaseFor func(*Event) error) ([]*Event, error) {
	previous, previousKnown, err := s.resolve(tx, call.PreviousID)
	if err != nil {
		return nil, err
	}
	current, currentKnown, err := s.resolve(tx, call.UserID)
	if err != nil {
		return nil, err
	}
	switch {
	case previous == current:
		return nil, nil
	case !previousKnown:
		if err := s.nameContact(tx, call.PreviousID, current); err != nil {
			return nil, err
		}
		if err := s.upsertContact(tx, current, nil, ""); err != nil {
			return nil, err
		}
		// previousId may be an anonymousId with events held for it.
		released, err := s.linkAnonymous(tx, call.PreviousID, current, leaseFor)
		if err != nil {
			return nil, err
		}
		for _, r := range released {
			if err := s.recordOrder(tx, r); err != nil {
				return nil, err
			}
		}
		return released, nil
	case !currentKnown:
		return nil, s.nameContact(tx, call.UserID, previous)
	case !call.MayMerge:
		return nil, &MergeRefusedError{PreviousID: call.PreviousID, UserID: call.UserID}
	}
	if err := s.merge(tx, previous, current, now); err != nil {
		return nil, err
	}
	// One merge of a pair ever happens (after it, both IDs name the kept
	// contact), so the pair names its events.
	sum := sha256.Sum256([]byte(previous + "\x00" + current))
	tag := hex.EncodeToString(sum[:12])
	made := []*Event{
		{MessageID: workflows.OwnID("merged", tag, "from"), ContactID: previous, Kind: workflows.KindTrack, Name: workflows.EventContactMerged,
			Properties: map[string]any{"into": current}, Timestamp: now, Source: call.Source},
		{MessageID: workflows.OwnID("merged", tag, "into"), ContactID: current, Kind: workflows.KindTrack, Name: workflows.EventContactMerged,
			Properties: map[string]any{"from": previous}, Timestamp: now, Source: call.Source},
	}
	var stored []*Event
	for _, ev := range made {
		ev.ReceivedAt, ev.Status = now, EventPending
		if err := leaseFor(ev); err != nil {
			return nil, err
		}
		res := skipDuplicates(tx).Session(&gorm.Session{SkipHooks: true}).Create(ev)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected > 0 {
			stored = append(stored, ev)
		}
	}
	return stored, nil
}

// resolve is the contact an ID names and whether that contact exists,
// without mapping anything (contactFor maps an address on first sight).
func (s *Store) resolve(tx *gorm.DB, id string) (contactID string, known bool, err error) {
	key, personal := idKey(id)
	var row UserID
	err = tx.Where("user_id = ?", key).Take(&row).Error
	switch {
	case err == nil:
		contactID = row.ContactID
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return "", false, err
	case !personal:
		contactID = id
	default:
		// A contact from before opaque IDs is its address; any other's ID
		// is made from it.
		var legacy []string
		if err := tx.Model(&Contact{}).Where("id = ?", id).Limit(1).Pluck("id", &legacy).Error; err != nil {
			return "", false, err
		}
		if contactID = id; len(legacy) == 0 {
			if s.idKey == nil {
				return "", false, errors.New("no contact ID key: the store was not migrated")
			}
			contactID = opaqueID(s.idKey, key)
		}
	}
	var ids []string
	if err := tx.Model(&Contact{}).Where("id = ?", contactID).Limit(1).Pluck("id", &ids).Error; err != nil {
		return "", false, err
	}
	return contactID, len(ids) > 0, nil
}

// idKey is the key an ID has in user_ids: an address normalized, any other
// ID as it is.
func idKey(id string) (key string, personal bool) {
	if normalized, ok := PersonalID(id); ok {
		return normalized, true
	}
	return id, false
}

// nameContact makes id another name of contactID and tells every store to
// look again.
func (s *Store) nameContact(tx *gorm.DB, id, contactID string) error {
	key, _ := idKey(id)
	err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "user_id"}}, DoUpdates: clause.AssignmentColumns([]string{"contact_id"})}).
		Create(&UserID{UserID: key, ContactID: contactID}).Error
	if err != nil {
		return err
	}
	s.txUserIDs[key] = contactID
	// Forgetting is always safe: the committed cache may hold the old
	// answer for this name, or for a merged contact's others.
	clear(s.userIDs)
	return s.bumpMerges(tx)
}

// merge moves contact from into contact into, inside tx.
func (s *Store) merge(tx *gorm.DB, from, into string, now time.Time) error {
	var a, b Contact
	if err := tx.Where("id = ?", from).Take(&a).Error; err != nil {
		return err
	}
	if err := tx.Where("id = ?", into).Take(&b).Error; err != nil {
		return err
	}
	// Every name of the merged contact names the kept one, its own ID too.
	if err := tx.Model(&UserID{}).Where("contact_id = ?", from).Update("contact_id", into).Error; err != nil {
		return err
	}
	for k, v := range s.txUserIDs {
		if v == from {
			s.txUserIDs[k] = into
		}
	}
	if err := s.nameContact(tx, from, into); err != nil {
		return err
	}
	if err := tx.Model(&Alias{}).Where("contact_id = ?", from).Update("contact_id", into).Error; err != nil {
		return err
	}
	// Contacts merged into the merged one follow it: one hop, always.
	if err := tx.Model(&Contact{}).Where("merged_into = ?", from).Update("merged_into", into).Error; err != nil {
		return err
	}
	// What drives later behaviour moves: orders (refunds and deliveries
	// find their contact by them), carts, sales tasks (a held send waits
	// on them) and the inbox.
	for _, row := range []any{&Order{}, &Cart{}, &Task{}, &InboxItem{}} {
		if err := tx.Model(row).Where("contact_id = ?", from).Update("contact_id", into).Error; err != nil {
			return err
		}
	}
	if err := tx.Model(&Contact{}).Where("id = ?", from).Updates(map[string]any{"merged_into": into, "updated_at": now}).Error; err != nil {
		return err
	}
	changes, traits := takeDetails(&b, &a)
	if len(changes) > 0 {
		changes["updated_at"] = now
		if err := tx.Model(&Contact{}).Where("id = ?", into).Updates(changes).Error; err != nil {
			return err
		}
	}
	if traits != nil {
		if err := tx.Model(&Contact{}).Where("id = ?", into).Select("traits").Updates(&Contact{Traits: traits}).Error; err != nil {
			return err
		}
	}
	if a.LastEngagedAt != nil {
		err := tx.Model(&Contact{}).Where("id = ? AND (last_engaged_at IS NULL OR last_engaged_at < ?)", into, *a.LastEngagedAt).
			Update("last_engaged_at", *a.LastEngagedAt).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// takeDetails is what the kept contact takes from the merged one: the
// details it lacks, an address with its consent and suppression, and any
// opt-out (the person asked for less under either ID, and the stricter
// answer holds). traits is nil when the kept contact's stay as they are.
func takeDetails(kept, merged *Contact) (changes map[string]any, traits map[string]any) {
	changes = map[string]any{}
	fill := func(column string, have, other string) {
		if have == "" && other != "" {
			changes[column] = other
		}
	}
	if kept.Email == "" && merged.Email != "" {
		changes["email"] = merged.Email
		changes["email_suppressed_at"] = merged.EmailSuppressedAt
		changes["suppression_reason"] = merged.SuppressionReason
	}
	if kept.Phone == "" && merged.Phone != "" {
		changes["phone"] = merged.Phone
		changes["sms_consent"] = merged.SMSConsent
		changes["sms_consent_at"] = merged.SMSConsentAt
		changes["sms_opted_out_at"] = merged.SMSOptedOutAt
	}
	fill("first_name", kept.FirstName, merged.FirstName)
	fill("last_name", kept.LastName, merged.LastName)
	fill("title", kept.Title, merged.Title)
	fill("company", kept.Company, merged.Company)
	fill("industry", kept.Industry, merged.Industry)
	fill("timezone", kept.Timezone, merged.Timezone)
	if kept.EmployeeCount == 0 && merged.EmployeeCount != 0 {
		changes["employee_count"] = merged.EmployeeCount
	}
	if kept.UnsubscribedAt == nil && merged.UnsubscribedAt != nil {
		changes["unsubscribed_at"] = merged.UnsubscribedAt
	}
	if kept.UnengagedAt == nil && merged.UnengagedAt != nil {
		changes["unengaged_at"] = merged.UnengagedAt
	}
	added := false
	all := maps.Clone(kept.Traits)
	if all == nil {
		all = map[string]any{}
	}
	for _, k := range slices.Sorted(maps.Keys(merged.Traits)) {
		if _, ok := all[k]; !ok && len(all) < workflows.MaxTraits {
			all[k], added = merged.Traits[k], true
		}
	}
	if added {
		traits = all
	}
	return changes, traits
}

// bumpMerges counts one more change to the ID mappings.
func (s *Store) bumpMerges(tx *gorm.DB) error {
	locked := tx
	if tx.Dialector.Name() == "mysql" {
		locked = tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	n, err := readMerges(locked)
	if err != nil {
		return err
	}
	// From here on this transaction looks names up; a rollback puts the
	// count back, which the next checkMerges notices.
	s.merges = n + 1
	next := strconv.FormatInt(n+1, 10)
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"value"})}).
		Create(&Setting{Name: mergesSetting, Value: next}).Error
}

func readMerges(db *gorm.DB) (int64, error) {
	var values []string
	if err := db.Model(&Setting{}).Where("name = ?", mergesSetting).Limit(1).Pluck("value", &values).Error; err != nil {
		return 0, err
	}
	if len(values) == 0 {
		return 0, nil
	}
	return strconv.ParseInt(values[0], 10, 64)
}

// checkMerges forgets the cached ID mappings when any store has changed
// them since this one last looked: once per group commit, one key read.
// While the count is 0, no ID but an address is looked up at all.
func (s *Store) checkMerges(tx *gorm.DB) error {
	n, err := readMerges(tx)
	if err != nil {
		return err
	}
	if n != s.merges {
		clear(s.userIDs)
		s.merges = n
	}
	return nil
}

// MergedFrom lists the contacts merged into contactID, in ID order.
func (s *Store) MergedFrom(ctx context.Context, contactID string) ([]string, error) {
	ids := []string{}
	err := s.db.WithContext(ctx).Model(&Contact{}).Where("merged_into = ?", contactID).Order("id").Pluck("id", &ids).Error
	return ids, err
}

// withMerged is contactID and the contacts merged into it: whose history
// the contact's pages show.
func (s *Store) withMerged(ctx context.Context, contactID string) ([]string, error) {
	from, err := s.MergedFrom(ctx, contactID)
	return append([]string{contactID}, from...), err
}
