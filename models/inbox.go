package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// The in-app inbox (activities/inapp.go, gateway/inbox.go). An in-app
// message is a row in messages on the channel "inapp" (Subject: the title;
// Text: the Markdown; HTML: the rendered, safe HTML) and, once delivered,
// an InboxItem: what only the inbox needs. The item's ID is the message's.

// InboxItem is one message in a contact's in-app inbox.
type InboxItem struct {
	MessageID uint64 `gorm:"primaryKey;autoIncrement:false" json:"id"`
	// idx_inbox_contact lists a contact's inbox, newest first.
	ContactID string `gorm:"size:191;not null;index:idx_inbox_contact,priority:1" json:"-"`
	// ActionURL is the destination as the journey gave it; the inbox API
	// shows it through the signed click redirect.
	ActionURL   string     `gorm:"size:2048" json:"-"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
	DismissedAt *time.Time `json:"dismissed_at,omitempty"`
	CreatedAt   time.Time  `gorm:"index:idx_inbox_contact,priority:2" json:"created_at"`
}

// InboxEntry is an item with its message's content, as the inbox lists it.
type InboxEntry struct {
	InboxItem
	Title    string
	HTML     string
	Markdown string
}

// PutInboxItem delivers an item; putting one that is there already (a
// retried activity) changes nothing.
func (s *Store) PutInboxItem(ctx context.Context, it *InboxItem) error {
	if it.MessageID == 0 || it.ContactID == "" {
		return errors.New("inbox item: a message ID and a contact are required")
	}
	if it.CreatedAt.IsZero() {
		it.CreatedAt = time.Now().UTC()
	}
	return skipDuplicates(s.db.WithContext(ctx)).Create(it).Error
}

// Inbox lists a contact's messages at now, newest first, at most limit:
// every unread one, and read ones no older than recent. Dismissed and
// expired ones are left out.
func (s *Store) Inbox(ctx context.Context, contactID string, now time.Time, recent time.Duration, limit int) ([]InboxEntry, error) {
	now = now.UTC()
	var items []InboxItem
	err := s.db.WithContext(ctx).Where("contact_id = ? AND dismissed_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", contactID, now).
		Where("read_at IS NULL OR created_at > ?", now.Add(-recent)).
		Order("created_at DESC, message_id DESC").Limit(limit).Find(&items).Error
	if err != nil || len(items) == 0 {
		return nil, err
	}
	ids := make([]uint64, len(items))
	for i, it := range items {
		ids[i] = it.MessageID
	}
	var msgs []Message
	if err := s.db.WithContext(ctx).Select("id", "subject", "text", "html").Where("id IN ?", ids).Find(&msgs).Error; err != nil {
		return nil, err
	}
	byID := make(map[uint64]Message, len(msgs))
	for _, m := range msgs {
		byID[m.ID] = m
	}
	out := make([]InboxEntry, 0, len(items))
	for _, it := range items {
		m := byID[it.MessageID]
		out = append(out, InboxEntry{InboxItem: it, Title: m.Subject, HTML: m.HTML, Markdown: m.Text})
	}
	return out, nil
}

// Inbox item marks.
const (
	InboxRead      = "read"
	InboxDismissed = "dismissed"
)

// MarkInboxItem marks the contact's item read or dismissed at at. first is
// true only the first time (so engagement is recorded once); an item that
// is not the contact's is ErrNotFound, the same as one that does not exist.
func (s *Store) MarkInboxItem(ctx context.Context, contactID string, id uint64, what string, at time.Time) (item *InboxItem, first bool, err error) {
	col := map[string]string{InboxRead: "read_at", InboxDismissed: "dismissed_at"}[what]
	if col == "" {
		return nil, false, errors.New("inbox: unknown mark " + what)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&InboxItem{}).Where("message_id = ? AND contact_id = ? AND "+col+" IS NULL", id, contactID).Update(col, at.UTC())
		if res.Error != nil {
			return res.Error
		}
		first = res.RowsAffected == 1
		var it InboxItem
		if err := tx.Where("message_id = ? AND contact_id = ?", id, contactID).Take(&it).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return err
		}
		item = &it
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return item, first, nil
}
