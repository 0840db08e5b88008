// Package models holds Nudge's database rows and the store that reads and
// writes them, on SQLite (the zero-setup default) or MySQL.
package models

import (
	"time"
)

// Lifecycle stages a contact moves through.
const (
	StageSubscriber = "subscriber"
	StageLead       = "lead"
)

// Contact is one person Nudge talks to, keyed by the source's userId.
type Contact struct {
	ID             string         `gorm:"primaryKey;size:191" json:"id"`
	Email          string         `gorm:"size:320;index" json:"email,omitempty"`
	Phone          string         `gorm:"size:32" json:"phone,omitempty"`
	FirstName      string         `gorm:"size:191" json:"first_name,omitempty"`
	LastName       string         `gorm:"size:191" json:"last_name,omitempty"`
	Title          string         `gorm:"size:191" json:"title,omitempty"`
	Company        string         `gorm:"size:191" json:"company,omitempty"`
	Industry       string         `gorm:"size:191" json:"industry,omitempty"`
	EmployeeCount  int            `json:"employee_count,omitempty"`
	Timezone       string         `gorm:"size:64" json:"timezone,omitempty"`
	Traits         map[string]any `gorm:"serializer:json;type:text" json:"traits"`
	LifecycleStage string         `gorm:"size:32;index" json:"lifecycle_stage"`
	UnsubscribedAt *time.Time     `json:"unsubscribed_at,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

// Name is how an email addresses the contact.
func (c *Contact) Name() string {
	switch {
	case c.FirstName != "" && c.LastName != "":
		return c.FirstName + " " + c.LastName
	case c.FirstName != "":
		return c.FirstName
	}
	return c.LastName
}

// Alias links an anonymousId to the contact it turned out to be.
type Alias struct {
	AnonymousID string `gorm:"primaryKey;size:191"`
	ContactID   string `gorm:"size:191;index;not null"`
	CreatedAt   time.Time
}

// Event delivery states. An event is stored before it is signalled, so a
// client that was told "accepted" never loses it.
const (
	// EventHeld: only an anonymousId so far; delivered once an identify links it.
	EventHeld = "held"
	// EventPending: stored, not yet acknowledged by Temporal.
	EventPending = "pending"
	// EventDelivered: signalled to the contact's workflow.
	EventDelivered = "delivered"
)

// Event is one Segment call (track, identify, page) as received.
type Event struct {
	ID          uint64         `gorm:"primaryKey;index:idx_events_status_id,priority:2" json:"-"`
	MessageID   string         `gorm:"size:191;uniqueIndex;not null" json:"message_id"`
	ContactID   string         `gorm:"size:191;index" json:"contact_id,omitempty"`
	AnonymousID string         `gorm:"size:191;index" json:"anonymous_id,omitempty"`
	Kind        string         `gorm:"size:16;not null" json:"kind"`
	Name        string         `gorm:"size:191" json:"name,omitempty"`
	Properties  map[string]any `gorm:"serializer:json;type:text" json:"properties,omitempty"`
	Traits      map[string]any `gorm:"serializer:json;type:text" json:"traits,omitempty"`
	Context     map[string]any `gorm:"serializer:json;type:text" json:"context,omitempty"`
	Timestamp   time.Time      `json:"timestamp"`
	ReceivedAt  time.Time      `json:"received_at"`
	Status      string         `gorm:"size:16;index:idx_events_status_id,priority:1;not null" json:"status"`
	Attempts    int            `json:"attempts,omitempty"`
	LastError   string         `gorm:"type:text" json:"last_error,omitempty"`
	DeliveredAt *time.Time     `json:"delivered_at,omitempty"`
}

// Message states beyond the outcomes in workflows (sent, recorded, skipped).
const (
	// MessageSending is written before the provider is called. A retry that
	// finds it cannot know whether the provider took the message, so it does
	// not send again: a missed email is better than a double one.
	MessageSending = "sending"
	MessageFailed  = "failed"
)

// Message is one email (later also SMS, Slack) a journey sent, recorded or
// skipped, keyed so that no step sends twice.
type Message struct {
	ID        uint64     `gorm:"primaryKey" json:"id"`
	Key       string     `gorm:"size:191;uniqueIndex;not null" json:"key"`
	ContactID string     `gorm:"size:191;index;not null" json:"contact_id"`
	Journey   string     `gorm:"size:64;index" json:"journey"`
	Step      string     `gorm:"size:64" json:"step"`
	Channel   string     `gorm:"size:16;not null" json:"channel"`
	Template  string     `gorm:"size:191" json:"template"`
	To        string     `gorm:"size:320" json:"to,omitempty"`
	Subject   string     `gorm:"size:500" json:"subject,omitempty"`
	Text      string     `gorm:"type:text" json:"text,omitempty"`
	HTML      string     `gorm:"type:mediumtext" json:"-"`
	Status    string     `gorm:"size:16;index;not null" json:"status"`
	Reason    string     `gorm:"size:500" json:"reason,omitempty"`
	Attempts  int        `json:"attempts"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

// DiscountCode is a single-use code issued to one contact for one campaign.
type DiscountCode struct {
	ID        uint64 `gorm:"primaryKey"`
	Code      string `gorm:"size:64;uniqueIndex;not null"`
	ContactID string `gorm:"size:191;uniqueIndex:idx_discount_contact_campaign;not null"`
	Campaign  string `gorm:"size:64;uniqueIndex:idx_discount_contact_campaign;not null"`
	Percent   int
	CreatedAt time.Time
}

// all lists every table, in the order migrations create them.
var all = []any{&Contact{}, &Alias{}, &Event{}, &Message{}, &DiscountCode{}}
