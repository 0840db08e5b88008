package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Suppression is what Nudge may no longer send to an address, whichever
// contact carries it, now or later: an unsubscribe, a bounce or a STOP is
// about the address, and a second contact with the same email (a Shopify
// guest keyed by it, say) must not be mailed again.
type Suppression struct {
	Channel string `gorm:"primaryKey;size:16"`  // ChannelEmail or ChannelSMS
	Address string `gorm:"primaryKey;size:320"` // NormalizeAddress
	// Unsubscribed stops marketing; Suppressed stops everything (a hard
	// bounce or a complaint for email, a STOP for SMS).
	Unsubscribed bool
	Suppressed   bool
	Reason       string `gorm:"size:64"`
	// ChangedAt is when the last change happened at its source (the time
	// Twilio took the SMS, the unsubscribe click): a change older than this
	// one arrived late and is not applied.
	ChangedAt time.Time
	Source    string `gorm:"size:191"` // what made the last change: a message SID, a contact
	UpdatedAt time.Time
}

// NormalizeAddress is the form an address is suppressed under: email
// trimmed and lower-cased (suppressing a case-sensitive mailbox too broadly
// is the safe mistake), phone numbers as given (E.164).
func NormalizeAddress(channel, address string) string {
	address = strings.TrimSpace(address)
	if channel == ChannelEmail {
		return strings.ToLower(address)
	}
	return address
}

// SuppressionChange is one fact about an address.
type SuppressionChange struct {
	Channel, Address string
	Unsubscribed     *bool // nil: unchanged
	Suppressed       *bool
	Reason           string
	At               time.Time
	Source           string
}

// Suppression returns what is known about an address; the zero value when
// nothing is.
func (s *Store) Suppression(ctx context.Context, channel, address string) (Suppression, error) {
	addr := NormalizeAddress(channel, address)
	if addr == "" {
		return Suppression{Channel: channel}, nil
	}
	var sup Suppression
	err := s.db.WithContext(ctx).Where("channel = ? AND address = ?", channel, addr).Take(&sup).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Suppression{Channel: channel, Address: NormalizeAddress(channel, address)}, nil
	}
	return sup, err
}

// ChangeSuppression applies ch unless a later change to the address is
// already recorded, and reports whether it applied.
func (s *Store) ChangeSuppression(ctx context.Context, ch SuppressionChange) (applied bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		applied, err = changeSuppression(tx, ch)
		return err
	})
	return applied, err
}

func changeSuppression(tx *gorm.DB, ch SuppressionChange) (bool, error) {
	addr := NormalizeAddress(ch.Channel, ch.Address)
	if addr == "" {
		return false, nil
	}
	row := Suppression{Channel: ch.Channel, Address: addr}
	// Create the row if it is new, then lock it: two changes to one
	// address are applied one after the other.
	if err := skipDuplicates(tx).Create(&row).Error; err != nil {
		return false, err
	}
	q := tx
	if tx.Dialector.Name() == "mysql" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("channel = ? AND address = ?", ch.Channel, addr).Take(&row).Error; err != nil {
		return false, err
	}
	at := ch.At.UTC()
	if !row.ChangedAt.IsZero() && at.Before(row.ChangedAt) {
		// SMS consent goes both ways (STOP, START): a late change is
		// stale. Email suppression only adds up, so it still counts.
		if ch.Channel == ChannelSMS {
			return false, nil
		}
		at = row.ChangedAt
	}
	change := map[string]any{"changed_at": at, "source": ch.Source, "updated_at": time.Now().UTC()}
	if ch.Suppressed != nil || !row.Suppressed {
		change["reason"] = ch.Reason // an unsubscribe does not hide why an address bounced
	}
	if ch.Unsubscribed != nil {
		change["unsubscribed"] = *ch.Unsubscribed
	}
	if ch.Suppressed != nil {
		change["suppressed"] = *ch.Suppressed
	}
	return true, tx.Model(&Suppression{}).Where("channel = ? AND address = ?", ch.Channel, addr).Updates(change).Error
}

// ReceiptTwilio is the provider of receipts for Twilio's inbound messages,
// by MessageSid.
const ReceiptTwilio = "twilio"

// Receipt records that a provider's webhook with this ID was handled, so a
// replay of it changes nothing.
type Receipt struct {
	Provider  string `gorm:"primaryKey;size:32"`
	ID        string `gorm:"primaryKey;size:191"`
	CreatedAt time.Time
}

// Received reports whether a provider's webhook with this ID was handled,
// so a replay can be told apart before any work is spent on it.
func (s *Store) Received(ctx context.Context, provider, id string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Receipt{}).Where("provider = ? AND id = ?", provider, id).Count(&n).Error
	return n > 0, err
}

// firstReceipt records a receipt inside tx and reports whether it is the
// first with that ID.
func firstReceipt(tx *gorm.DB, provider, id string) (bool, error) {
	res := skipDuplicates(tx).Create(&Receipt{Provider: provider, ID: id, CreatedAt: time.Now().UTC()})
	return res.RowsAffected == 1, res.Error
}
