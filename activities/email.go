package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Mailer delivers a finished message. It calls handOver once the server
// has all of the message but the final "." that makes it take it: from
// then on a lost connection leaves the outcome unknown. If handOver fails,
// the message is not completed, and the server drops it. Errors say what is
// known: *Refused (5xx), ErrOutcomeUnknown, or anything else for a send
// that did not happen and may be tried again.
type Mailer interface {
	Send(ctx context.Context, msg *gomail.Msg, handOver func() error) error
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

// Send dials (go-mail does the greeting, STARTTLS and AUTH), sends one
// message, and hangs up. A client per message keeps concurrent activities
// from queueing behind one connection. It walks the SMTP transaction
// itself, with go-mail's SMTP client, so that it knows which side of the
// final "." a failure falls on, which go-mail's one-call send does not say.
func (m *SMTPMailer) Send(ctx context.Context, msg *gomail.Msg, handOver func() error) error {
	c, err := gomail.NewClient(m.host, m.opts...)
	if err != nil {
		return &Refused{Err: err} // a setting go-mail refuses will not change
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return smtpFailure("connect", err)
	}
	complete := false
	defer func() {
		if complete {
			_ = c.CloseWithSMTPClient(sc) // QUIT; its answer changes nothing
		} else {
			_ = sc.Close() // hang up mid-transaction: the server keeps nothing
		}
	}()
	from, err := msg.GetSender(false)
	if err != nil {
		return &Refused{Err: err}
	}
	rcpts, err := msg.GetRecipients()
	if err != nil {
		return &Refused{Err: err}
	}
	if err := sc.Mail(from); err != nil {
		return smtpFailure("MAIL FROM", err)
	}
	for _, rcpt := range rcpts {
		if err := sc.Rcpt(rcpt); err != nil {
			return smtpFailure("RCPT TO "+strings.Trim(rcpt, "<>"), err)
		}
	}
	w, err := sc.Data()
	if err != nil {
		return smtpFailure("DATA", err)
	}
	if _, err := msg.WriteTo(w); err != nil {
		return smtpFailure("send the message", err)
	}
	if err := handOver(); err != nil {
		return err // the "." never goes out
	}
	err = w.Close()
	var reply *textproto.Error
	switch {
	case err == nil:
		complete = true
		return nil
	case errors.As(err, &reply):
		complete = true
		return smtpFailure("end of DATA", err)
	}
	return fmt.Errorf("%w: the connection failed after the message was sent, before the server answered: %v", ErrOutcomeUnknown, err)
}

// smtpFailure sorts a failure before the server took the message: a 5xx
// reply is a refusal for good; a 4xx or a lost connection, for now.
func smtpFailure(step string, err error) error {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		err = fmt.Errorf("SMTP %s: %d %s", step, reply.Code, reply.Msg)
		if reply.Code >= 500 {
			return &Refused{Err: err}
		}
		return &Deferred{Err: err}
	}
	return &Deferred{Err: fmt.Errorf("SMTP %s: %w", step, err)}
}

// SendEmail renders and sends one email, at most once per request key (see
// the pipeline in pipeline.go and the send protocol in outbox.go).
func (a *Activities) SendEmail(ctx context.Context, req workflows.EmailRequest) (workflows.SendResult, error) {
	return a.sendThrough(ctx, newRow(req.Message, models.ChannelEmail), req.HoldForSales, &emailSend{a: a, req: req})
}

// emailSend is one email in the pipeline.
type emailSend struct {
	a   *Activities
	req workflows.EmailRequest
	to  *mail.Address
}

// check: an address that takes email (no hard bounce or complaint, under
// this contact or another with the same address), and for marketing, no
// unsubscribe and no win-back that went unanswered.
func (s *emailSend) check(ctx context.Context, c *models.Contact, row models.Message) (string, string, error) {
	// What the address is known for, whichever contact it came from.
	address, err := s.a.Store.Suppression(ctx, models.ChannelEmail, c.Email)
	if err != nil {
		return c.Email, "", err
	}
	switch {
	case c.Email == "":
		return "", "no email address", nil
	case c.EmailSuppressedAt != nil:
		// A hard bounce or a complaint: the address takes no more email.
		return c.Email, "address suppressed: " + c.SuppressionReason, nil
	case address.Suppressed:
		return c.Email, "address suppressed: " + address.Reason, nil
	case row.Marketing && c.UnsubscribedAt != nil:
		return c.Email, "unsubscribed from marketing email", nil
	case row.Marketing && address.Unsubscribed:
		return c.Email, "unsubscribed from marketing email under another contact with this address", nil
	case row.Marketing && c.UnengagedAt != nil:
		return c.Email, "unengaged: no response to the win-back emails", nil
	}
	if s.to, err = mail.ParseAddress(c.Email); err != nil {
		return c.Email, "email address is not valid", nil
	}
	s.to.Name = c.Name()
	return c.Email, "", nil
}

func (s *emailSend) render(ctx context.Context, c *models.Contact, row models.Message) (outgoing, string, error) {
	a, req := s.a, s.req
	data := EmailData{
		Contact:   c,
		Brand:     a.Brand,
		Owner:     a.Owner,
		CaseStudy: a.Renderer.CaseStudyFor(c.Industry),
		Store:     a.Renderer.Store(),
		Reviews:   a.Renderer.ReviewsFor(req.Data.Products),
		CrossSell: a.Renderer.CrossSellFor(req.Data.Products),
		Data:      req.Data,
	}
	if req.Marketing {
		data.UnsubscribeURL = a.Links.UnsubscribeURL(c.ID)
		data.PreferencesURL = a.Links.PreferencesURL(c.ID)
		data.Featured = a.Renderer.Featured()
	}
	if stage := req.Data.ContentStage; stage != "" {
		// A nurture step: pick what it carries.
		piece, found := a.Renderer.PickContent(stage, chosenTopics(c), req.Data.FavoriteTopic, req.Data.SentContent)
		if !found && stage != "case_study" {
			return outgoing{}, "nothing left in the content catalog for " + stage, nil
		}
		data.Content, row.Content, row.Topic = piece, piece.ID, piece.Topic
	}
	email, err := a.Renderer.Render(req.Template, data)
	if err != nil {
		return outgoing{}, "", err
	}

	to, unsubscribe := s.to, data.UnsubscribeURL
	row.To, row.Subject, row.Text, row.HTML = to.String(), email.Subject, email.Text, email.HTML
	out := outgoing{
		row:    row,
		result: workflows.SendResult{To: to.String(), Subject: email.Subject, Content: row.Content, Topic: row.Topic},
		// Tracking links carry the message's ID, known once it is claimed.
		prepare: func(ctx context.Context, row *models.Message) {
			email.HTML = a.trackEmail(ctx, row, email.HTML, data.UnsubscribeURL)
			unsubscribe = UnsubscribeFrom(data.UnsubscribeURL, row.ID)
		},
	}
	if a.Mailer != nil {
		out.deliver = func(ctx context.Context, handOver func() error) (string, error) {
			msg, err := a.compose(req, to, email, unsubscribe)
			if err != nil {
				return "", &Refused{Err: err}
			}
			if err := a.Mailer.Send(ctx, msg, handOver); err != nil {
				return "", fmt.Errorf("send %s to %s: %w", req.Template, to.Address, err)
			}
			return "", nil
		}
	}
	return out, "", nil
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
