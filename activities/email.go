package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.temporal.io/sdk/activity"
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

// SendEmail renders and sends one email, at most once per request key.
//
// A row in messages is claimed before the SMTP server is called. A retry
// that finds the row sent (or recorded, or skipped) returns that outcome; one
// that finds it still "sending" cannot know whether the server took the
// message, and does not send again. Only a send known to have failed is
// tried again.
func (a *Activities) SendEmail(ctx context.Context, req workflows.EmailRequest) (workflows.SendResult, error) {
	contact, err := a.Store.Contact(ctx, req.ContactID)
	if errors.Is(err, models.ErrNotFound) {
		return a.skip(ctx, req, "", "contact not found")
	}
	if err != nil {
		return workflows.SendResult{}, err
	}
	switch {
	case contact.Email == "":
		return a.skip(ctx, req, "", "no email address")
	case req.Marketing && contact.UnsubscribedAt != nil:
		return a.skip(ctx, req, contact.Email, "unsubscribed from marketing email")
	}
	to, err := mail.ParseAddress(contact.Email)
	if err != nil {
		return a.skip(ctx, req, contact.Email, "email address is not valid")
	}
	to.Name = contact.Name()

	data := EmailData{
		Contact:   contact,
		Brand:     a.Brand,
		Owner:     a.Owner,
		CaseStudy: a.Renderer.CaseStudyFor(contact.Industry),
		Data:      req.Data,
	}
	if req.Marketing {
		data.UnsubscribeURL = a.Links.UnsubscribeURL(contact.ID)
	}
	email, err := a.Renderer.Render(req.Template, data)
	if err != nil {
		// Retrying will not fix a template: fail the step so the run shows it.
		return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "TemplateError", err)
	}

	row := &models.Message{
		Key: req.Key, ContactID: contact.ID, Journey: req.Journey, Step: req.Step, Channel: "email",
		Template: req.Template, To: to.String(), Subject: email.Subject, Text: email.Text, HTML: email.HTML,
		Status: models.MessageSending, Attempts: 1,
	}
	if prior, err := a.Store.BeginMessage(ctx, row); err != nil {
		return workflows.SendResult{}, err
	} else if prior != nil {
		if done, ok := priorOutcome(prior); ok {
			return done, nil
		}
		if claimed, err := a.Store.RetryMessage(ctx, req.Key); err != nil || !claimed {
			return workflows.SendResult{Status: workflows.StatusSkipped, To: prior.To, Subject: prior.Subject,
				Reason: "another attempt is sending this message"}, err
		}
	}

	result := workflows.SendResult{Status: workflows.StatusRecorded, To: to.String(), Subject: email.Subject}
	if a.Mailer != nil {
		msg, err := a.compose(req, to, email, data.UnsubscribeURL)
		if err == nil {
			err = a.Mailer.Send(ctx, msg)
		}
		if err != nil {
			activity.GetLogger(ctx).Warn("email not accepted", "key", req.Key, "to", to.Address, "error", err)
			if ferr := a.Store.FinishMessage(ctx, req.Key, models.MessageFailed, err.Error(), nil); ferr != nil {
				return workflows.SendResult{}, ferr
			}
			return workflows.SendResult{}, fmt.Errorf("send %s to %s: %w", req.Template, to.Address, err)
		}
		result.Status = workflows.StatusSent
	}
	now := time.Now().UTC()
	if err := a.Store.FinishMessage(ctx, req.Key, result.Status, "", &now); err != nil {
		// The server has the message; a retry must not send it again, and
		// will not: the row still says "sending".
		activity.GetLogger(ctx).Error("email sent but not recorded", "key", req.Key, "error", err)
	}
	return result, nil
}

// priorOutcome turns a message already settled under this key into the
// result to report again.
func priorOutcome(m *models.Message) (workflows.SendResult, bool) {
	res := workflows.SendResult{Status: m.Status, Reason: m.Reason, To: m.To, Subject: m.Subject}
	switch m.Status {
	case workflows.StatusSent, workflows.StatusRecorded, workflows.StatusSkipped:
		return res, true
	case models.MessageSending:
		res.Status = workflows.StatusSkipped
		res.Reason = "an earlier attempt may have sent this message; not sending it twice"
		return res, true
	}
	return res, false // failed: safe to try again
}

// skip records a send that will not happen, with its reason.
func (a *Activities) skip(ctx context.Context, req workflows.EmailRequest, to, reason string) (workflows.SendResult, error) {
	row := &models.Message{
		Key: req.Key, ContactID: req.ContactID, Journey: req.Journey, Step: req.Step, Channel: "email",
		Template: req.Template, To: to, Status: workflows.StatusSkipped, Reason: reason,
	}
	prior, err := a.Store.BeginMessage(ctx, row)
	if err != nil {
		return workflows.SendResult{}, err
	}
	if prior != nil {
		if done, ok := priorOutcome(prior); ok {
			return done, nil
		}
	}
	return workflows.SendResult{Status: workflows.StatusSkipped, Reason: reason, To: to}, nil
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
