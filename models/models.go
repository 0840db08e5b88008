// Package models holds Nudge's database rows and the store that reads and
// writes them, on SQLite (the zero-setup default) or MySQL.
package models

import (
	"time"

	"github.com/nudgehq/nudge/workflows"
)

// Lifecycle stages, as ContactWorkflow moves contacts through them
// (workflows/lifecycle.go); the store keeps the current one.
const (
	StageSubscriber = workflows.StageSubscriber
	StageLead       = workflows.StageLead
	StageMQL        = workflows.StageMQL
	StageSQL        = workflows.StageSQL
	StageTrial      = workflows.StageTrial
	StageCustomer   = workflows.StageCustomer
	StageChurned    = workflows.StageChurned
)

// Contact is one person Nudge talks to, keyed by the source's userId.
type Contact struct {
	ID             string         `gorm:"primaryKey;size:191" json:"id"`
	Email          string         `gorm:"size:320;index;index:idx_contacts_created,priority:2" json:"email,omitempty"`
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
	// SMS consent: given by an identify trait (sms_consent), a storefront, or
	// a START reply; withdrawn by STOP, which only START undoes.
	SMSConsent    bool       `json:"sms_consent"`
	SMSConsentAt  *time.Time `json:"sms_consent_at,omitempty"`
	SMSOptedOutAt *time.Time `json:"sms_opted_out_at,omitempty"`
	// Email deliverability: a hard bounce or spam complaint suppresses the
	// address for marketing email; a win-back with no response marks the
	// contact unengaged, which also stops marketing email.
	EmailSuppressedAt *time.Time `json:"email_suppressed_at,omitempty"`
	SuppressionReason string     `gorm:"size:191" json:"suppression_reason,omitempty"`
	UnengagedAt       *time.Time `json:"unengaged_at,omitempty"`
	// LastEngagedAt is the latest timestamp of the contact's engagement
	// events (see engagement in segments.go), kept as they are stored, so
	// the engagement segments read a column rather than search a million
	// events. Read-only to gorm: only noteEngagement writes it, with a
	// compare in the statement, so saving a contact read earlier cannot
	// set it back.
	LastEngagedAt *time.Time `gorm:"->;index" json:"last_engaged_at,omitempty"`
	// Where the contact came from (touches.go): the first and the latest
	// visit from an ad or a tagged link, and the latest ad click. Read-only
	// to gorm for the same reason as LastEngagedAt: noteTouch writes them.
	FirstTouch    *Touch     `gorm:"->;serializer:json;type:text" json:"first_touch,omitempty"`
	FirstTouchAt  *time.Time `gorm:"->" json:"-"`
	LastTouch     *Touch     `gorm:"->;serializer:json;type:text" json:"last_touch,omitempty"`
	LastTouchAt   *time.Time `gorm:"->" json:"-"`
	LastAdClickAt *time.Time `gorm:"->;index" json:"last_ad_click_at,omitempty"`
	// MergedInto is the contact this one was merged into (merge.go): its
	// IDs, journeys and later events are that contact's now.
	MergedInto string `gorm:"size:191;index" json:"merged_into,omitempty"`
	// Lead scoring and ownership, kept by ContactWorkflow.
	LeadScore    int64  `json:"lead_score"`
	OwnerName    string `gorm:"size:191" json:"owner_name,omitempty"`
	OwnerEmail   string `gorm:"size:320" json:"owner_email,omitempty"`
	OwnerSlackID string `gorm:"size:64" json:"owner_slack_id,omitempty"`
	// idx_contacts_created counts new contacts with an address by day,
	// from the index alone.
	CreatedAt time.Time `gorm:"index:idx_contacts_created,priority:1" json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
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
	// EventDead: refused by Temporal for reasons of its own, MaxEventAttempts
	// times; it waits for an operator (GET /v1/events/dead, POST
	// /v1/events/:id/retry) and no longer holds back the contact's later
	// events.
	EventDead = "dead"
)

// Event is one Segment call (track, identify, page) as received.
//
// A pending event is delivered by one gateway at a time: the one whose lease
// it carries (LeaseOwner, until LeaseUntil). A gateway leases the events it
// stores to itself and signals them at once; events whose lease ran out (their
// gateway died) or that were left unleased are claimed by any gateway's relay
// (see ClaimPending). A contact's events are signalled in the order stored:
// an event waits while an earlier pending event of its contact is leased
// elsewhere or waiting to be retried (NextAttemptAt).
type Event struct {
	ID        uint64 `gorm:"primaryKey;index:idx_events_pending_contact,priority:3" json:"id"`
	MessageID string `gorm:"size:191;uniqueIndex;not null" json:"message_id"`
	// (contact, kind, name, timestamp) serves segments and attribution:
	// "has this contact done X, and when".
	ContactID   string         `gorm:"size:191;index:idx_events_contact_kind_name_ts,priority:1;index:idx_events_pending_contact,priority:2" json:"contact_id,omitempty"`
	AnonymousID string         `gorm:"size:191;index" json:"anonymous_id,omitempty"`
	Kind        string         `gorm:"size:16;not null;index:idx_events_contact_kind_name_ts,priority:2" json:"kind"`
	Name        string         `gorm:"size:191;index:idx_events_contact_kind_name_ts,priority:3" json:"name,omitempty"`
	Properties  map[string]any `gorm:"serializer:json;type:text" json:"properties,omitempty"`
	Traits      map[string]any `gorm:"serializer:json;type:text" json:"traits,omitempty"`
	Context     map[string]any `gorm:"serializer:json;type:text" json:"context,omitempty"`
	Timestamp   time.Time      `gorm:"index:idx_events_contact_kind_name_ts,priority:4" json:"timestamp"`
	ReceivedAt  time.Time      `json:"received_at"`
	// Source is who sent it, for what it may change: "segment:<key id>",
	// "shopify", SourceAdmin; empty for what Nudge records itself.
	Source        string     `gorm:"size:64" json:"source,omitempty"`
	Status        string     `gorm:"size:16;index:idx_events_pending_contact,priority:1;not null" json:"status"`
	Attempts      int        `json:"attempts,omitempty"`
	LastError     string     `gorm:"type:text" json:"last_error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LeaseOwner    string     `gorm:"size:64" json:"-"`
	LeaseUntil    *time.Time `json:"-"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
}

// Message states beyond the outcomes in workflows (sent, recorded, skipped,
// refused, unknown): the phases of a send in progress (see activities'
// outbox.go for the protocol).
const (
	// MessageClaimed is written before anything goes to the provider. A
	// retry that finds it knows the provider never got the message (the
	// attempt that claimed it died first), so it sends.
	MessageClaimed = "claimed"
	// MessageHanded is written just before the provider gets the whole
	// message (before SMTP's final ".", before the HTTP request). A retry
	// that finds it cannot know whether the provider took it.
	MessageHanded = "handed"
	// MessageFailed: the provider did not take it, for now (a 4xx, a lost
	// connection before the hand-over); a retry sends again.
	MessageFailed = "failed"
	// MessageSending is what rows claimed before the phases existed say;
	// it reads as MessageHanded.
	MessageSending = "sending"
)

// MayHaveGoneOut lists the states of a message that may have reached its
// recipient, which frequency caps count.
var MayHaveGoneOut = []string{"sent", "recorded", "unknown", MessageClaimed, MessageHanded, MessageSending}

// Channels a message goes out on.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelSlack = "slack" // internal alerts
	// ChannelWebhook: signed POSTs to NUDGE_WEBHOOKS (activities/webhook.go).
	ChannelWebhook = "webhook"
	// ChannelInApp: messages in the contact's in-app inbox (activities/inapp.go).
	ChannelInApp = "inapp"
)

// Message is one email or SMS a journey sent, recorded or skipped, keyed so
// that no step sends twice.
type Message struct {
	ID        uint64 `gorm:"primaryKey" json:"id"`
	Key       string `gorm:"size:191;uniqueIndex;not null" json:"key"`
	ContactID string `gorm:"size:191;index:idx_messages_cap,priority:1;not null" json:"contact_id"`
	Journey   string `gorm:"size:64;index:idx_messages_journey_at,priority:1" json:"journey"`
	Step      string `gorm:"size:64" json:"step"`
	Channel   string `gorm:"size:16;index:idx_messages_cap,priority:2;notnull" json:"channel"`
	Marketing bool   `json:"marketing"`
	// At is when the journey sent it, on the workflow's clock: frequency
	// caps count by it, so they hold on a test clock too.
	// idx_messages_at serves the roll-ups' counts of a day or part of one;
	// At never changes, so it costs sends nothing after the insert.
	At       time.Time `gorm:"index:idx_messages_cap,priority:3;index:idx_messages_journey_at,priority:2;index:idx_messages_at;index:idx_messages_status_at,priority:2" json:"at"`
	Template string    `gorm:"size:191" json:"template"`
	To       string    `gorm:"size:320" json:"to,omitempty"`
	Subject  string    `gorm:"size:500" json:"subject,omitempty"`
	Text     string    `gorm:"type:text" json:"text,omitempty"`
	HTML     string    `gorm:"type:mediumtext" json:"-"`
	// idx_messages_status_at finds the sweeper's stuck sends by status,
	// and a day's sent emails by status and time: on status alone, SQLite
	// chose it for a day's recipients and read every sent email.
	Status string `gorm:"size:16;index:idx_messages_status_at,priority:1;not null" json:"status"`
	Reason string `gorm:"size:500" json:"reason,omitempty"`
	// Attempts counts the attempts that claimed the message; each claim
	// bumps it, and an attempt only moves the row while it is its own.
	Attempts int `json:"attempts"`
	// Repeats counts sends made again after an unknown outcome
	// (transactional messages and alerts, at most once).
	Repeats int `json:"repeats,omitempty"`
	// Content and Topic name the catalog piece a nurture email carried.
	Content string `gorm:"size:64" json:"content,omitempty"`
	Topic   string `gorm:"size:64" json:"topic,omitempty"`
	// ProviderID is the provider's ID for the message (Twilio's SID), and
	// DeliveryStatus what its status callbacks last said.
	ProviderID     string    `gorm:"size:64;index" json:"provider_id,omitempty"`
	DeliveryStatus string    `gorm:"size:32" json:"delivery_status,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	// UpdatedAt is when the row last changed: the roll-ups recount the
	// send days of rows changed since they last looked (rollups.go).
	UpdatedAt time.Time  `gorm:"index" json:"-"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	// RunID is the journey run that sent it (journey_runs), for per-step
	// conversions; "" for alerts and for sends of runs before version 3.
	RunID string `gorm:"size:64;index" json:"run_id,omitempty"`
	// The first open, click and unsubscribe this message brought (an email's
	// tracking links; the unsubscribe link carries the message), for its
	// journey's metrics. A click counts as an open too.
	OpenedAt       *time.Time `json:"opened_at,omitempty"`
	ClickedAt      *time.Time `json:"clicked_at,omitempty"`
	UnsubscribedAt *time.Time `json:"unsubscribed_at,omitempty"`
}

// DiscountCode is a single-use code issued to one contact for one campaign.
type DiscountCode struct {
	ID        uint64 `gorm:"primaryKey"`
	Code      string `gorm:"size:64;uniqueIndex;not null"`
	ContactID string `gorm:"size:191;uniqueIndex:idx_discount_contact_campaign;not null"`
	Campaign  string `gorm:"size:64;uniqueIndex:idx_discount_contact_campaign;not null"`
	Percent   int
	CreatedAt time.Time
	// ShopifyID is the discount's ID in the store
	// (gid://shopify/DiscountCodeNode/…) and ShopifyCreatedAt when Nudge
	// created it there; empty while the code lives only in Nudge (no
	// NUDGE_SHOPIFY_ADMIN_TOKEN, or not created yet).
	ShopifyID        string `gorm:"size:191"`
	ShopifyCreatedAt *time.Time
	// RedeemedAt is when an order used the code, and OrderID that order's
	// key (Order.ID); empty until then.
	RedeemedAt *time.Time `gorm:"index"`
	OrderID    string     `gorm:"size:191"`
}

// Order is a purchase, with the journey and message it is attributed to.
type Order struct {
	// ID is the order's key: its source and its ID there (OrderKey).
	ID         string         `gorm:"primaryKey;size:191" json:"id"`
	Source     string         `gorm:"size:64" json:"source,omitempty"`
	OrderID    string         `gorm:"size:191;index" json:"order_id"`
	ContactID  string         `gorm:"size:191;index;not null" json:"contact_id"`
	CheckoutID string         `gorm:"size:191;index" json:"checkout_id,omitempty"`
	Total      float64        `json:"total"`
	Currency   string         `gorm:"size:8" json:"currency,omitempty"`
	Products   []any          `gorm:"serializer:json;type:text" json:"products,omitempty"`
	Status     string         `gorm:"size:16;not null" json:"status"` // completed, shipped, delivered, refunded, cancelled
	Journey    string         `gorm:"size:64;index" json:"journey,omitempty"`
	MessageID  *uint64        `json:"message_id,omitempty"`
	Attributed string         `gorm:"size:32" json:"attributed_by,omitempty"` // cart, click
	Details    map[string]any `gorm:"serializer:json;type:text" json:"details,omitempty"`
	// The contact's touches when the order was placed (touches.go); the
	// last touch's campaign, source and click ID are columns, which the ad
	// reports credit campaigns by.
	FirstTouch  *Touch    `gorm:"serializer:json;type:text" json:"first_touch,omitempty"`
	LastTouch   *Touch    `gorm:"serializer:json;type:text" json:"last_touch,omitempty"`
	UTMCampaign string    `gorm:"size:191;index" json:"utm_campaign,omitempty"`
	UTMSource   string    `gorm:"size:191" json:"utm_source,omitempty"`
	ClickID     string    `gorm:"size:191" json:"click_id,omitempty"`
	OrderedAt   time.Time `json:"ordered_at"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Cart is a checkout the abandoned-cart journey reminded a contact of.
type Cart struct {
	CheckoutID       string              `gorm:"primaryKey;size:191" json:"checkout_id"`
	ContactID        string              `gorm:"size:191;index;not null" json:"contact_id"`
	Value            float64             `json:"value"`
	Currency         string              `gorm:"size:8" json:"currency,omitempty"`
	Products         []workflows.Product `gorm:"serializer:json;type:text" json:"products,omitempty"`
	AbandonedAt      time.Time           `json:"abandoned_at"`
	RecoveredOrderID string              `gorm:"size:191" json:"recovered_order_id,omitempty"`
	RecoveredAt      *time.Time          `json:"recovered_at,omitempty"`
	CreatedAt        time.Time           `json:"created_at"`
	UpdatedAt        time.Time           `json:"updated_at"`
}

// ScoreEntry is one line of a contact's score ledger.
type ScoreEntry struct {
	ID        uint64    `gorm:"primaryKey" json:"-"`
	ContactID string    `gorm:"size:191;index:idx_score_contact,priority:1;not null" json:"-"`
	Rule      string    `gorm:"size:64;not null" json:"rule"`
	Points    int64     `json:"points"`
	Reason    string    `gorm:"size:500" json:"reason"`
	Score     int64     `json:"score"` // after this entry
	At        time.Time `gorm:"index:idx_score_contact,priority:2" json:"at"`
}

// Task states.
const (
	TaskOpen     = "open"
	TaskAccepted = "accepted" // the rep took the lead: SQL
	TaskClosed   = "closed"
)

// Task is a CRM task for sales: follow up a lead that crossed the MQL
// threshold.
type Task struct {
	ID           uint64         `gorm:"primaryKey" json:"id"`
	ContactID    string         `gorm:"size:191;index;not null" json:"contact_id"`
	Kind         string         `gorm:"size:32;not null" json:"kind"`
	Title        string         `gorm:"size:500" json:"title"`
	Details      map[string]any `gorm:"serializer:json;type:text" json:"details,omitempty"`
	RepName      string         `gorm:"size:191" json:"rep_name"`
	RepEmail     string         `gorm:"size:320;index" json:"rep_email"`
	RepSlackID   string         `gorm:"size:64" json:"rep_slack_id,omitempty"`
	Status       string         `gorm:"size:16;index;not null" json:"status"`
	CreatedAt    time.Time      `json:"created_at"`
	ClosedAt     *time.Time     `json:"closed_at,omitempty"`
	ClosedReason string         `gorm:"size:191" json:"closed_reason,omitempty"`
}

// Counter is a named number the store increments atomically (the sales
// rep round robin).
type Counter struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value int64
}

// all lists every table, in the order migrations create them.
var all = []any{&Contact{}, &Alias{}, &Event{}, &Message{}, &DiscountCode{}, &Order{}, &Cart{}, &ScoreEntry{}, &Task{}, &Counter{}, &Suppression{}, &Receipt{}, &UserID{}, &Setting{}, &StageChange{}, &JourneyRun{}, &JourneyPause{}, &ReportDelivery{}, &MessageDay{}, &SkipDay{}, &RecipientDay{}, &AdStat{}, &AdObject{}, &AdAction{}, &AudienceMember{}, &AudienceSync{}, &AudiencePending{}, &Experiment{}, &ExperimentAssignment{}, &SocialPost{}, &InboxItem{}}
