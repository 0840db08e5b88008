package workflows

// Activity names and payloads. The implementations live in package activities;
// workflow code knows them only by name, so nothing in this package does I/O
// and the determinism boundary shows in the import graph.
const (
	SendEmailActivity         = "SendEmail"
	IssueDiscountCodeActivity = "IssueDiscountCode"
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
	// such as a discount code.
	Data map[string]string
}

// Send outcomes.
const (
	StatusSent     = "sent"     // accepted by the SMTP server
	StatusRecorded = "recorded" // rendered and stored; delivery is switched off
	StatusSkipped  = "skipped"  // not sent; Reason says why
)

// SendResult is what became of an EmailRequest.
type SendResult struct {
	Status  string
	Reason  string `json:",omitempty"`
	To      string `json:",omitempty"`
	Subject string `json:",omitempty"`
}

// DiscountRequest asks for a contact's code in a campaign. Asking again returns
// the same code.
type DiscountRequest struct {
	ContactID string
	Campaign  string
	Percent   int
}
