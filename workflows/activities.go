package workflows

import "time"

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
)

// Senders an email can come from.
const (
	SenderBrand = ""      // NUDGE_EMAIL_FROM
	SenderOwner = "owner" // the contact's account owner: a real person who reads replies
)

// EmailRequest asks for one email to one contact. Key makes the send
// idempotent: a retried activity with the same key never sends twice.
type EmailRequest struct {
	Key       string
	ContactID string
	Journey   string
	Step      string
	Template  string
	// Marketing emails carry an unsubscribe link and are never sent to a contact
	// who unsubscribed; transactional ones (an order receipt) are.
	Marketing bool
	Sender    string
	// Data adds values the template may use beside the contact's own fields,
	// such as a discount code or the products in a cart.
	Data map[string]any `json:",omitempty"`
	// At is the journey's time of the send, which frequency caps count by.
	At time.Time
}

// SMSRequest asks for one SMS to one contact, idempotent by Key like email.
// The template is templates/sms/<Template>.txt.
type SMSRequest struct {
	Key       string
	ContactID string
	Journey   string
	Step      string
	Template  string
	Marketing bool
	Data      map[string]any `json:",omitempty"`
	At        time.Time
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
	Currency   string `json:",omitempty"`
	Products   []any  `json:",omitempty"`
	At         time.Time
}

// Send outcomes.
const (
	StatusSent     = "sent"     // accepted by the provider (SMTP server, Twilio, Slack)
	StatusRecorded = "recorded" // rendered and stored; delivery is switched off
	StatusSkipped  = "skipped"  // not sent; Reason says why
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
	At        time.Time
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
	To        string         `json:",omitempty"`
	Data      map[string]any `json:",omitempty"`
	At        time.Time
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
