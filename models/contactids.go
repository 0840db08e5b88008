package models

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A contact's ID travels into Temporal: its workflow ID, the ContactID search
// attribute, its journeys' IDs and summaries. Payloads are encrypted there;
// those are not. So a userId that is an email address or a phone number does
// not become the contact's ID: the contact gets an opaque one instead,
// "c_" and 26 base32 letters of HMAC-SHA256 over the normalized address, and
// the table user_ids maps the address to it. Any other userId ("u-123",
// "42") is the contact's ID as it is.
//
// The HMAC key is made once and kept in the settings table, so every gateway
// on the database makes the same ID for the same address, and an ID cannot be
// recomputed from a list of addresses without the database.
//
// Contacts from before opaque IDs keep their IDs, so their running workflows
// go on receiving events: the first call that names such an address after
// the upgrade finds the contact under the address itself and maps the
// address to it (see contactFor).

// UserID maps a userId that is an email address or phone number, normalized,
// to its contact's ID.
type UserID struct {
	UserID    string `gorm:"primaryKey;size:191"`
	ContactID string `gorm:"size:191;not null;index"`
	CreatedAt time.Time
}

// Setting is one of Nudge's own values, made once and shared by every process.
type Setting struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value string `gorm:"size:255;not null"`
}

// OpaqueIDPrefix starts every contact ID made from an address.
const OpaqueIDPrefix = "c_"

const contactIDKeySetting = "contact_id_key"

// PersonalID says whether a userId is an email address or a phone number,
// and returns it normalized: an address lower-cased, a number as "+" and
// its digits (or its digits alone when it had no "+"). A phone number is
// told by a leading "+" or by the separators people write numbers with
// ("(555) 010-0199"); a bare run of digits is taken for a database ID.
func PersonalID(userID string) (normalized string, ok bool) {
	s := strings.TrimSpace(userID)
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		// Anything shaped like an address counts, parsed or not: better an
		// opaque ID too many than an address in a workflow ID.
		if addr, err := mail.ParseAddress(s); err == nil {
			return strings.ToLower(addr.Address), true
		}
		if at > 0 && at < len(s)-1 {
			return strings.ToLower(s), true
		}
		return "", false
	}
	plus := strings.HasPrefix(s, "+")
	digits, separators := 0, 0
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
			separators++
		default:
			return "", false
		}
	}
	if digits < 7 || digits > 15 || (!plus && separators == 0) {
		return "", false
	}
	if plus {
		return "+" + b.String(), true
	}
	return b.String(), true
}

// opaqueID is the contact ID for a normalized address under key.
func opaqueID(key []byte, normalized string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(normalized))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	return OpaqueIDPrefix + strings.ToLower(enc.EncodeToString(m.Sum(nil))[:26])
}

// loadContactIDKey reads the HMAC key, making it if the database has none.
// Migrate calls it, outside any transaction, so a key is never used unless
// it is committed for every other process to read.
func (s *Store) loadContactIDKey(db *gorm.DB) error {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return err
	}
	// The first process to get here writes it; every other reads that one.
	if err := skipDuplicates(db).Create(&Setting{Name: contactIDKeySetting, Value: base64.StdEncoding.EncodeToString(fresh)}).Error; err != nil {
		return fmt.Errorf("store the contact ID key: %w", err)
	}
	var st Setting
	if err := db.Where("name = ?", contactIDKeySetting).Take(&st).Error; err != nil {
		return fmt.Errorf("read the contact ID key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(st.Value)
	if err != nil || len(key) < 32 {
		return fmt.Errorf("settings.%s is damaged: it must be 32 bytes or more in base64", contactIDKeySetting)
	}
	s.idKey = key
	return nil
}

// contactFor is the contact ID a userId names, mapping an address on first
// sight (inside tx, by the Accept writer only: the caches are its own).
//
// Any other userId is its contact's ID, unless an alias made it another
// name of a contact (merge.go): then user_ids holds it too. Both answers
// are cached, until a merge anywhere (checkMerges).
func (s *Store) contactFor(tx *gorm.DB, userID string) (string, error) {
	if userID == "" {
		return "", nil
	}
	normalized, personal := idKey(userID)
	// This transaction's own mappings first: an alias in it may have
	// changed one the committed cache holds.
	if id, ok := s.txUserIDs[normalized]; ok {
		return id, nil
	}
	if id, ok := s.userIDs[normalized]; ok {
		return id, nil
	}
	if !personal && s.merges == 0 {
		return userID, nil // no alias ever named an ID: nothing to look up
	}
	var row UserID
	err := tx.Where("user_id = ?", normalized).Take(&row).Error
	switch {
	case err == nil:
		s.txUserIDs[normalized] = row.ContactID
		return row.ContactID, nil
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return "", err
	case !personal:
		s.txUserIDs[normalized] = userID
		return userID, nil
	}
	// A contact from before opaque IDs keeps its ID.
	var legacy []string
	if err := tx.Model(&Contact{}).Where("id = ?", userID).Limit(1).Pluck("id", &legacy).Error; err != nil {
		return "", err
	}
	id := userID
	if len(legacy) == 0 {
		if s.idKey == nil {
			return "", errors.New("no contact ID key: the store was not migrated")
		}
		id = opaqueID(s.idKey, normalized)
	}
	if err := skipDuplicates(tx).Create(&UserID{UserID: normalized, ContactID: id}).Error; err != nil {
		return "", err
	}
	s.txUserIDs[normalized] = id
	return id, nil
}

// lookUpUserIDs reads, in one query per 500, the user_ids rows of the
// calls' userIds that contactFor would look up one by one: addresses not
// cached, and, once an alias has named an ID, every other ID not cached
// (found or not: an ID without a row is its own contact's).
func (s *Store) lookUpUserIDs(tx *gorm.DB, calls []Incoming) error {
	var keys []string
	personal := map[string]bool{}
	for _, c := range calls {
		if c.UserID == "" || c.Kind == KindAlias {
			continue
		}
		key, isPersonal := idKey(c.UserID)
		if _, ok := s.txUserIDs[key]; ok {
			continue
		}
		if _, ok := s.userIDs[key]; ok || (!isPersonal && s.merges == 0) {
			continue
		}
		if isPersonal {
			personal[key] = true
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for chunk := range slices.Chunk(slices.Compact(keys), 500) {
		var rows []UserID
		if err := tx.Where("user_id IN ?", chunk).Find(&rows).Error; err != nil {
			return err
		}
		found := map[string]bool{}
		for _, r := range rows {
			s.txUserIDs[r.UserID], found[r.UserID] = r.ContactID, true
		}
		for _, key := range chunk {
			if !found[key] && !personal[key] {
				s.txUserIDs[key] = key
			}
		}
	}
	return nil
}

// commitMapping keeps the mappings a committed transaction wrote, and
// forgets them after a rollback (their rows are gone).
func (s *Store) commitMapping(committed bool) {
	if committed {
		for k, v := range s.txUserIDs {
			if s.userIDs == nil || len(s.userIDs) >= knownContacts {
				s.userIDs = map[string]string{}
			}
			s.userIDs[k] = v
		}
	}
	clear(s.txUserIDs)
}

// ResolveContact is the contact ID for what a person typed: a contact ID, or
// the email address or phone number of a contact that has an opaque ID. It
// is for lookups (the contact API, the CLI) and never creates a mapping.
//
// An ID an alias made another name of a contact, or that of a contact
// merged into another, resolves to the contact it names now.
func (s *Store) ResolveContact(ctx context.Context, idOrAddress string) (string, error) {
	normalized, _ := idKey(idOrAddress)
	var ids []string
	if err := s.db.WithContext(ctx).Model(&UserID{}).Where("user_id = ?", normalized).Limit(1).Pluck("contact_id", &ids).Error; err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return idOrAddress, nil // perhaps a contact from before opaque IDs
	}
	return ids[0], nil
}
