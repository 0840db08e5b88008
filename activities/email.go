package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Mailer delivers a finished message.
type Mailer interface {
	Send(ctx context.Context, msg *gomail.Msg) error
}

// SMTPMailer delivers over SMTP with go-mail.
type SMTPMailer struct {
	opts []gomail.Option
	host string
}

// NewSMTPMailer sends through the server NUDGE_SMTP_URL names.
func NewSMTPMailer(s *config.SMTP) *SMTPMailer {
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(30 * time.Second)}
	switch {
	case s.ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.RequireSTARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		// Use STARTTLS when the server offers it; a local mail catcher does not.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	return &SMTPMailer{host: s.Host, opts: opts}
}

// Send dials, delivers and hangs up. A client per message keeps concurrent
// activities from queueing behind one connection.
func (m *SMTPMailer) Send(ctx context.Context, msg *gomail.Msg) error {
	c, err := gomail.NewClient(m.host, m.opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// SendEmail renders and sends one email, at most once per request key (see
// the send protocol in outbox.go).
func (a *Activities) SendEmail(ctx context.Context, req workflows.EmailRequest) (workflows.SendResult, error) {
	row := models.Message{
		Key: req.Key, ContactID: req.ContactID, Journey: req.Journey, Step: req.Step, Channel: models.ChannelEmail,
		Marketing: req.Marketing, At: req.At.UTC(), Template: req.Template,
	}
	contact, res, done, err := a.recipient(ctx, row)
	if done {
		return res, err
	}
	row.To = contact.Email
	switch {
	case contact.Email == "":
		return a.skip(ctx, row, "no email address")
	case contact.EmailSuppressedAt != nil:
		// A hard bounce or a complaint: the address takes no more email.
		return a.skip(ctx, row, "address suppressed: "+contact.SuppressionReason)
	case req.Marketing && contact.UnsubscribedAt != nil:
		return a.skip(ctx, row, "unsubscribed from marketing email")
	case req.Marketing && contact.UnengagedAt != nil:
		return a.skip(ctx, row, "unengaged: no response to the win-back emails")
	}
	to, err := mail.ParseAddress(contact.Email)
	if err != nil {
		return a.skip(ctx, row, "email address is not valid")
	}
	to.Name = contact.Name()
	if req.Marketing {
		if reason, err := a.emailCapReason(ctx, contact, req.At); err != nil || reason != "" {
			if err != nil {
				return workflows.SendResult{}, err
			}
			return a.skip(ctx, row, reason)
		}
	}

	products, _ := req.Data["products"].([]any)
	data := EmailData{
		Contact:   contact,
		Brand:     a.Brand,
		Owner:     a.Owner,
		CaseStudy: a.Renderer.CaseStudyFor(contact.Industry),
		Store:     a.Renderer.Store(),
		Reviews:   a.Renderer.ReviewsFor(products),
		CrossSell: a.Renderer.CrossSellFor(products),
		Data:      req.Data,
	}
	if req.Marketing {
		data.UnsubscribeURL = a.Links.UnsubscribeURL(contact.ID)
		data.PreferencesURL = a.Links.PreferencesURL(contact.ID)
		data.Featured = a.Renderer.Featured()
	}
	if stage, ok := req.Data["content_stage"].(string); ok {
		// A nurture step: pick what it carries.
		favorite, _ := req.Data["favorite_topic"].(string)
		piece, found := a.Renderer.PickContent(stage, chosenTopics(contact), favorite, stringList(req.Data["sent_content"]))
		if !found && stage != "case_study" {
			return a.skip(ctx, row, "nothing left in the content catalog for "+stage)
		}
		data.Content, row.Content, row.Topic = piece, piece.ID, piece.Topic
	}
	email, err := a.Renderer.Render(req.Template, data)
	if err != nil {
		// Retrying will not fix a template: fail the step so the run shows it.
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "TemplateError", err)
	}

	row.To, row.Subject, row.Text, row.HTML = to.String(), email.Subject, email.Text, email.HTML
	if prior, done, err := a.claim(ctx, &row); done || err != nil {
		return prior, err
	}
	email.HTML = a.trackEmail(ctx, &row, email.HTML, data.UnsubscribeURL)
	result := workflows.SendResult{Status: workflows.StatusRecorded, To: to.String(), Subject: email.Subject, Content: row.Content, Topic: row.Topic}
	if a.Mailer != nil {
		msg, err := a.compose(req, to, email, data.UnsubscribeURL)
		if err == nil {
			err = a.Mailer.Send(ctx, msg)
		}
		if err != nil {
			return workflows.SendResult{}, a.refused(ctx, req.Key, fmt.Errorf("send %s to %s: %w", req.Template, to.Address, err))
		}
		result.Status = workflows.StatusSent
	}
	a.settle(ctx, req.Key, result)
	return result, nil
}

func (a *Activities) compose(req workflows.EmailRequest, to *mail.Address, email Rendered, unsubscribeURL string) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	from := a.From
	if req.Sender == workflows.SenderOwner {
		// A person writes this one: their name, our sending domain, their inbox for replies.
		from.Name = a.Owner.Name
		if err := msg.ReplyToFormat(a.Owner.Name, a.Owner.Address); err != nil {
			return nil, err
		}
	}
	if err := msg.FromFormat(from.Name, from.Address); err != nil {
		return nil, err
	}
	if err := msg.AddToFormat(to.Name, to.Address); err != nil {
		return nil, err
	}
	msg.Subject(email.Subject)
	msg.SetDate()
	// The same key always yields the same Message-ID, so a receiving system
	// can drop a duplicate even if one ever got through.
	sum := sha256.Sum256([]byte(req.Key))
	msg.SetMessageIDWithValue(hex.EncodeToString(sum[:16]) + "@" + domainOf(from.Address))
	if unsubscribeURL != "" {
		msg.SetListUnsubscribe(unsubscribeURL)
		msg.SetListUnsubscribePost()
	}
	msg.SetBodyString(gomail.TypeTextPlain, email.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, email.HTML)
	return msg, nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "nudge.localhost"
}

// chosenTopics are the topics the contact picked on the preference page.
func chosenTopics(c *models.Contact) []string {
	return stringList(c.Traits["topics"])
}

// stringList reads a list of strings that came through JSON.
func stringList(v any) []string {
	if ss, ok := v.([]string); ok {
		return ss
	}
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Email frequencies a contact can pick on the preference page, as caps that
// apply on top of NUDGE_FREQUENCY_CAP_EMAIL.
var frequencyCaps = map[string]config.Cap{
	"weekly":  {Max: 1, Window: 7 * 24 * time.Hour},
	"monthly": {Max: 1, Window: 30 * 24 * time.Hour},
}

// emailCapReason checks the global email cap and the contact's own choice.
func (a *Activities) emailCapReason(ctx context.Context, c *models.Contact, at time.Time) (string, error) {
	if reason, err := a.capReason(ctx, c.ID, models.ChannelEmail, at); err != nil || reason != "" {
		return reason, err
	}
	freq, _ := c.Traits["email_frequency"].(string)
	limit, ok := frequencyCaps[freq]
	if !ok {
		return "", nil
	}
	n, err := a.Store.CountMarketing(ctx, c.ID, models.ChannelEmail, at.Add(-limit.Window))
	if err != nil || n < int64(limit.Max) {
		return "", err
	}
	return fmt.Sprintf("the contact asked for email %s", freq), nil
}
