package activities

import (
	"context"
	"errors"
	"fmt"
	"net/mail"

	gomail "github.com/wneessen/go-mail"

	"github.com/nudgehq/nudge/models"
)

// Offline is a copy of a that delivers nothing, on any channel: every
// sender is cleared, so each send is rendered and recorded, never handed to
// a provider. nudge simulate runs on it, whatever is configured. This is the
// one place that decides it: a new channel's sender is cleared here too, and
// TestOfflineDeliversNothing fails until it is.
func (a *Activities) Offline() *Activities {
	off := *a
	off.Mailer, off.SMS, off.Slack = nil, nil, nil
	off.Webhooks = nil
	off.Mastodon = nil  // no social posts
	off.Discounts = nil // no codes created in the Shopify store
	return &off
}

// TestSend delivers a recorded email once to one address through a's
// mailer, marked as a test in its subject: "[TEST +26h] Welcome to Acme".
// It is how nudge simulate --send-to shows a marketer the real thing in a
// real inbox; the contact's own address is never used.
func (a *Activities) TestSend(ctx context.Context, m models.Message, to mail.Address, label string) error {
	if a.Mailer == nil {
		return errors.New("no SMTP server configured (NUDGE_SMTP_URL) to send test emails through")
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(a.From.Name, a.From.Address); err != nil {
		return err
	}
	if err := msg.AddToFormat(to.Name, to.Address); err != nil {
		return err
	}
	msg.Subject(fmt.Sprintf("[TEST %s] %s", label, m.Subject))
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return a.Mailer.Send(ctx, msg, func() error { return nil })
}
