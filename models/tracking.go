package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// MessageIDByKey returns the ID of the message claimed under key.
func (s *Store) MessageIDByKey(ctx context.Context, key string) (uint64, error) {
	var m Message
	err := s.db.WithContext(ctx).Select("id").Where("`key` = ?", key).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, ErrNotFound
	}
	return m.ID, err
}

// SetMessageHTML replaces a message's HTML body: the email as sent, with
// its tracking links.
func (s *Store) SetMessageHTML(ctx context.Context, id uint64, html string) error {
	return s.db.WithContext(ctx).Model(&Message{}).Where("id = ?", id).Update("html", html).Error
}

// SetEmailDeliveryStatus records what the email provider last said about a
// message (delivered, bounced, complained). An unknown ID changes nothing.
func (s *Store) SetEmailDeliveryStatus(ctx context.Context, id uint64, status string) error {
	return s.db.WithContext(ctx).Model(&Message{}).Where("id = ? AND channel = ?", id, ChannelEmail).
		Update("delivery_status", status).Error
}

// What a person did with a message.
const (
	Opened       = "opened"
	Clicked      = "clicked"
	Unsubscribed = "unsubscribed"
)

// MarkMessage records the first time a message was opened, clicked (which
// is an open too) or led to an unsubscribe. Later ones change nothing, so
// the metrics count each message once.
func (s *Store) MarkMessage(ctx context.Context, id uint64, what string, at time.Time) error {
	cols := map[string][]string{Opened: {"opened_at"}, Clicked: {"clicked_at", "opened_at"}, Unsubscribed: {"unsubscribed_at"}}[what]
	if cols == nil {
		return fmt.Errorf("mark message %d: unknown engagement %q", id, what)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, col := range cols {
			if err := tx.Model(&Message{}).Where("id = ? AND "+col+" IS NULL", id).Update(col, at.UTC()).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// ContactIDsWithEmail returns the contacts with this address, in any case.
func (s *Store) ContactIDsWithEmail(ctx context.Context, email string) ([]string, error) {
	return contactIDsWithEmail(s.db.WithContext(ctx), email)
}

func contactIDsWithEmail(db *gorm.DB, email string) (ids []string, err error) {
	return ids, db.Model(&Contact{}).Where("LOWER(email) = LOWER(?)", email).Order("id").Pluck("id", &ids).Error
}

// EngagementProperties are the properties of an open or click of m: which
// journey, step and content it was, so scoring, nurture and reports can
// tell one message from another.
func (m *Message) EngagementProperties() map[string]any {
	return map[string]any{
		"message_id": m.ID,
		"journey":    m.Journey,
		"step":       m.Step,
		"template":   m.Template,
		"topic":      m.Topic,
		"content":    m.Content,
	}
}
