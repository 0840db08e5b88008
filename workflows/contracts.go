package workflows

import (
	"encoding/json"
	"fmt"
	"time"
)

// Activity names and payloads. The implementations live in package activities;
// workflow code knows them only by name, so nothing in this package does I/O
// and the determinism boundary shows in the import graph.
const (
	SendEmailActivity         = "SendEmail"
	SendSMSActivity           = "SendSMS"
	SMSWindowActivity         = "SMSWindow"
	IssueDiscountCodeActivity = "IssueDiscountCode"
	RecordCartActivity        = "RecordCart"
	RecordScoreActivity       = "RecordScore"
	HandOffLeadActivity       = "HandOffLead"
	SendSlackActivity         = "SendSlack"
	MarkUnengagedActivity     = "MarkUnengaged"
	InSegmentActivity         = "InSegment"
	RecordJourneyActivity     = "RecordJourney"
	SendReportActivity        = "SendReport"
	AssignArmActivity         = "AssignArm" // an experiment's arm for a contact (split.go)
)

// Senders an email can come from.
const (
	SenderBrand = ""      // NUDGE_EMAIL_FROM
	SenderOwner = "owner" // the contact's account owner: a real person who reads replies
)

// Message is what every send asks for, whatever the channel: which
// contact, which template, and the key that makes the send idempotent (a
// retried activity with the same key never sends twice).
type Message struct {
	Key       string
	ContactID string
	Journey   string
	Step      string
	Template  string
	// Marketing messages carry an unsubscribe link, count against the
	// frequency caps and wait out quiet hours; transactional ones (an order
	// receipt) go to every contact who can receive them.
	Marketing bool
	// At is the journey's time of the send, which frequency caps count by.
	At time.Time
	// RunID is the journey run that sends it, which its metrics join on.
	RunID string `json:",omitempty"`
	// HoldForSales: while the contact has an open sales task, the send is
	// held (StatusHeld). Marketing sends of runs from version 4 ask it.
	HoldForSales bool `json:",omitempty"`
}

// EmailRequest asks for one email to one contact. The template is
// templates/email/<Template>.{txt,html}.
type EmailRequest struct {
	Message
	Sender string
	Data   MessageData
}

// SMSRequest asks for one SMS to one contact, idempotent by Key like email.
// The template is templates/sms/<Template>.txt.
type SMSRequest struct {
	Message
	Data MessageData
}

// MessageData is what a journey hands a message's template beside the
// contact's own fields; templates read it as .Data (.Data.DiscountCode,
// .Data.CartURL). Each journey fills the part it has: an offer, a cart, an
// order and its parcel, a nurture step.
//
// The JSON names are the keys runs of version 2 and before sent in a map,
// so a send they scheduled, retried by a newer worker, reads the same.
type MessageData struct {
	// An offer: a discount code (free shipping when Incentive says so).
	Incentive       string  `json:"incentive,omitempty"`
	DiscountCode    string  `json:"discount_code,omitempty"`
	DiscountPercent Percent `json:"discount_percent,omitempty"`

	// What was bought or left behind (a cart or an order).
	Products []Product `json:"products,omitempty"`
	Currency string    `json:"currency,omitempty"`

	// A cart the contact left at checkout.
	CheckoutID   string  `json:"checkout_id,omitempty"`
	CartURL      string  `json:"cart_url,omitempty"`
	Value        float64 `json:"value,omitempty"`
	ValueDisplay string  `json:"value_display,omitempty"` // $129.00

	// An order, and its parcel once it has shipped.
	OrderID        string  `json:"order_id,omitempty"`
	OrderNumber    string  `json:"order_number,omitempty"` // what the shopper sees, like #1042
	Total          float64 `json:"total,omitempty"`
	TotalDisplay   string  `json:"total_display,omitempty"`
	Shipped        bool    `json:"shipped,omitempty"`
	TrackingNumber string  `json:"tracking_number,omitempty"`
	Carrier        string  `json:"carrier,omitempty"`
	TrackingURL    string  `json:"tracking_url,omitempty"`

	// An ad click followed up: the page the ad brought the contact to.
	LandingURL string `json:"landing_url,omitempty"`

	// A nurture step: the activity picks the catalog piece for the stage,
	// preferring the favorite topic, never one already sent.
	ContentStage  string   `json:"content_stage,omitempty"`
	FavoriteTopic string   `json:"favorite_topic,omitempty"`
	SentContent   []string `json:"sent_content,omitempty"`
}

// Percent is a whole percentage. It also reads a number written as a
// string: runs of the e-commerce welcome before version 3 sent "10".
type Percent int

// UnmarshalJSON reads 10 or "10".
func (p *Percent) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return fmt.Errorf("percent: want a number, got %s", b)
		}
		n = json.Number(s)
	}
	v, err := n.Int64()
	if err != nil {
		return fmt.Errorf("percent: want a whole number, got %s", b)
	}
	*p = Percent(v)
	return nil
}

// Product is one line of a cart or an order, with the fields Segment's
// e-commerce spec names.
type Product struct {
	ProductID string  `json:"product_id,omitempty"`
	SKU       string  `json:"sku,omitempty"`
	Category  string  `json:"category,omitempty"`
	Name      string  `json:"name,omitempty"`
	Price     float64 `json:"price,omitempty"`
	Quantity  float64 `json:"quantity,omitempty"`
	URL       string  `json:"url,omitempty"`
	ImageURL  string  `json:"image_url,omitempty"`
}

// UnmarshalJSON reads a product as storefronts send it, as ProductFrom
// does: numbers may come as strings ("129.00") and IDs as numbers.
func (p *Product) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("product: %w", err)
	}
	*p = ProductFrom(m)
	return nil
}

// ProductFrom reads one entry of an event's products list.
func ProductFrom(m map[string]any) Product {
	item := Event{Properties: m}
	p := Product{
		ProductID: item.Text("product_id"), SKU: item.Text("sku"), Category: item.Text("category"),
		Name: item.Text("name"), URL: item.Text("url"), ImageURL: item.Text("image_url"),
	}
	p.Price, _ = item.Number("price")
	p.Quantity, _ = item.Number("quantity")
	return p
}

// SMSWindowRequest asks when a marketing SMS may go to a contact, given
// quiet hours in the contact's time zone.
type SMSWindowRequest struct {
	ContactID string
	At        time.Time
}

// SMSWindow is the answer: not before NotBefore (At itself when the window is
// open), in Zone.
type SMSWindow struct {
	NotBefore time.Time
	Zone      string
	Local     string `json:",omitempty"` // NotBefore on the contact's clock, like 08:00
}

// CartRequest records a checkout the abandoned-cart journey has begun to
// remind the contact of, for recovery reporting and order attribution.
type CartRequest struct {
	ContactID  string
	CheckoutID string
	Value      float64
	Currency   string    `json:",omitempty"`
	Products   []Product `json:",omitempty"`
	At         time.Time
}

// JourneyRun is a run of a journey for its results: recorded when it
// starts, and again when it ends, with how.
type JourneyRun struct {
	RunID      string
	WorkflowID string
	Journey    string
	Key        string `json:",omitempty"`
	ContactID  string
	StartedAt  time.Time
	EndedAt    *time.Time `json:",omitempty"`
	Outcome    string     `json:",omitempty"` // "" while it runs
	// Reason says why: the goal or conversion event, why it exited, the
	// failure.
	Reason string `json:",omitempty"`
}

// How a journey run ends.
const (
	OutcomeCompleted    = "completed"    // every step done
	OutcomeConverted    = "converted"    // a conversion event arrived (Journey.Converts)
	OutcomeExited       = "exited"       // a goal that is no conversion, an exit the journey took, or ops cancelled it
	OutcomeUnsubscribed = "unsubscribed" // the contact unsubscribed while in it
	OutcomeFailed       = "failed"       // a step failed for good
)

// ReportRequest is what a scheduled report is started with: its name, how
// far back it looks, and where it goes.
type ReportRequest struct {
	Name   string
	Period time.Duration
	Emails []string `json:",omitempty"`
	Slack  []string `json:",omitempty"`
}

// ReportRun is one report to send: the period From (inclusive) To
// (exclusive), and Key, which makes its sends idempotent.
type ReportRun struct {
	ReportRequest
	Key      string
	From, To time.Time
}

// ReportResult says where a report went.
type ReportResult struct {
	Emailed []string `json:",omitempty"`
	Posted  []string `json:",omitempty"`
	Skipped []string `json:",omitempty"` // a destination already sent to, or with delivery off
}

// Send outcomes.
const (
	StatusSent     = "sent"     // accepted by the provider (SMTP server, Twilio, Slack)
	StatusRecorded = "recorded" // rendered and stored; delivery is switched off
	StatusSkipped  = "skipped"  // not sent; Reason says why
	StatusPaused   = "paused"   // not sent, nothing recorded: the journey is paused; the run holds and asks again
	StatusHeld     = "held"     // not sent, nothing recorded: a sales task is open; the run holds and asks again
	StatusRefused  = "refused"  // the provider refused it for good (a 5xx); Reason says why
	// StatusUnknown: the provider may have taken it (the connection was
	// lost after the hand-over). A marketing message is not sent again.
	StatusUnknown = "unknown"
)

// SendResult is what became of an EmailRequest.
type SendResult struct {
	Status  string
	Reason  string `json:",omitempty"`
	To      string `json:",omitempty"`
	Subject string `json:",omitempty"`
	// Content is the catalog piece the email carried (nurture), and Topic
	// its topic, so the journey knows what it has sent.
	Content string `json:",omitempty"`
	Topic   string `json:",omitempty"`
}

// ScoreUpdate records score changes and the contact's new score and stage.
type ScoreUpdate struct {
	ContactID string
	Changes   []ScoreChange `json:",omitempty"`
	Score     int64
	Stage     string
	// StageReason says what moved the stage, if it moved: the event
	// ("Trial Started"), or the score crossing the MQL threshold.
	StageReason string `json:",omitempty"`
	At          time.Time
}

// ScoreChange is one line of the score ledger: which rule, how many points,
// and why.
type ScoreChange struct {
	Rule   string
	Points int64
	Reason string
}

// HandoffRequest hands a lead that crossed the MQL threshold to sales: an
// owner (the existing one, else the next rep in turn) and a task.
type HandoffRequest struct {
	ContactID    string
	Score        int64
	Breakdown    []ScoreChange // points by rule
	RecentEvents []string
	At           time.Time
}

// Handoff says who took the lead and which task tracks it.
type Handoff struct {
	RepName    string
	RepEmail   string
	RepSlackID string `json:",omitempty"`
	TaskID     uint64
}

// Slack alert kinds.
const (
	SlackMQL     = "mql"     // to the assigned rep, with the task
	SlackPricing = "pricing" // to the account owner: a lead is on the pricing page
	SlackTrial   = "trial"   // to the sales channel: free went to trial
)

// SlackActionAcceptLead is the action_id of the Accept lead button on an MQL
// alert; its value is the task ID. The gateway accepts the task when a rep
// clicks it.
const SlackActionAcceptLead = "accept_lead"

// SlackRequest asks for one internal alert. Key makes it idempotent like a
// send; To is a Slack user ID or a channel ("" for the sales channel).
type SlackRequest struct {
	Key       string
	ContactID string
	Kind      string
	To        string `json:",omitempty"`
	Data      SlackData
	At        time.Time
}

// SlackData is what an alert says beyond the contact's row. JSON names are
// the map keys of version 2 and before, as for MessageData.
type SlackData struct {
	// An MQL: the task the Accept lead button accepts, the rep, the score
	// by rule, and the latest activity.
	TaskID       uint64        `json:"task_id,omitempty"`
	Rep          string        `json:"rep,omitempty"`
	Breakdown    []ScoreChange `json:"breakdown,omitempty"`
	RecentEvents []string      `json:"recent_events,omitempty"`
	// Score, when set, wins over the contact row's lead score.
	Score *int64 `json:"score,omitempty"`
	// A pricing-page visit: the page's URL, else its path.
	URL  string `json:"url,omitempty"`
	Path string `json:"path,omitempty"`
	// A trial: the stage the contact came from.
	FromStage string `json:"from_stage,omitempty"`
}

// ContactRequest names a contact, at a moment on the journey's clock.
type ContactRequest struct {
	ContactID string
	At        time.Time
}

// SegmentRequest asks whether a contact is in a segment at At, the
// journey's time (so replay and time skipping hold).
type SegmentRequest struct {
	ContactID string
	Segment   string
	Params    map[string]string `json:",omitempty"`
	At        time.Time
}

// DiscountRequest asks for a contact's code in a campaign. Asking again returns
// the same code.
type DiscountRequest struct {
	ContactID string
	Campaign  string
	Percent   int
}
