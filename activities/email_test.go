package activities_test

import (
	"context"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

type fixture struct {
	testbed
	smtp *smtptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	smtpCfg, err := config.ParseSMTP("smtp://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := activities.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{smtp: srv, testbed: newTestbed(t, &activities.Activities{
		Renderer: r, Mailer: activities.NewSMTPMailer(smtpCfg),
		Links: links.NewSigner("test-secret-0123456789", "https://nudge.example.com"),
		Brand: activities.Brand{Name: "Acme", Address: "1 Main St, Springfield", SiteURL: "https://acme.example.com"},
		From:  mail.Address{Name: "Acme", Address: "hello@acme.example.com"},
		Owner: mail.Address{Name: "Sam Lee", Address: "sam@acme.example.com"},
	})}
	f.addContact(t, models.Contact{ID: "u1", Email: "dana@example.com", FirstName: "Dana", LastName: "Kim", Company: "Ledgerly"})
	return f
}

func (f *fixture) send(t *testing.T, req workflows.EmailRequest) (workflows.SendResult, error) {
	t.Helper()
	var res workflows.SendResult
	err := f.run(t, workflows.SendEmailActivity, req, &res)
	return res, err
}

func welcome(key string) workflows.EmailRequest {
	return workflows.EmailRequest{Key: key, ContactID: "u1", Journey: "welcome_b2b", Step: "welcome", Template: "welcome_b2b/welcome", Marketing: true}
}

func TestSendEmailOverSMTP(t *testing.T) {
	f := newFixture(t)
	res, err := f.send(t, welcome("journey/welcome_b2b/u1/run1/welcome"))
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.SendResult{Status: "sent", To: `"Dana Kim" <dana@example.com>`, Subject: "Welcome to Acme, Dana: one step to get started"}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	msgs := f.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("SMTP server got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "hello@acme.example.com" || len(m.To) != 1 || m.To[0] != "dana@example.com" {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}
	unsubscribe := f.acts.Links.UnsubscribeURL("u1")
	for header, want := range map[string]string{
		"From":                  `"Acme" <hello@acme.example.com>`,
		"To":                    `"Dana Kim" <dana@example.com>`,
		"Subject":               "Welcome to Acme, Dana: one step to get started",
		"List-Unsubscribe":      "<" + unsubscribe + ">",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	} {
		if got := m.Header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, "@acme.example.com>") {
		t.Errorf("Message-ID = %q", id)
	}
	raw := string(m.Raw)
	for _, part := range []string{"text/plain", "text/html", "Complete your profile"} {
		if !strings.Contains(raw, part) {
			t.Errorf("message lacks %q", part)
		}
	}

	var row models.Message
	if err := f.store.DB().Where("`key` = ?", "journey/welcome_b2b/u1/run1/welcome").Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.Status != "sent" || row.SentAt == nil || row.Subject != want.Subject || row.Channel != "email" {
		t.Errorf("row = %+v", row)
	}
}

// The same key never sends twice, whatever happened to the first attempt.
func TestSendEmailIsIdempotent(t *testing.T) {
	f := newFixture(t)
	req := welcome("k-once")
	first, err := f.send(t, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.send(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("retry reported %+v, first %+v", second, first)
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Errorf("SMTP server got %d messages for one key", n)
	}
}

// A crash between claiming the row and recording the result leaves it
// "sending": the provider may have the message, so a retry does not send.
func TestSendEmailDoesNotResendAnUncertainAttempt(t *testing.T) {
	f := newFixture(t)
	if err := f.store.DB().Create(&models.Message{Key: "k-crash", ContactID: "u1", Channel: "email", Status: models.MessageSending}).Error; err != nil {
		t.Fatal(err)
	}
	res, err := f.send(t, welcome("k-crash"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "skipped" || res.Reason != "an earlier attempt may have sent this message; not sending it twice" {
		t.Errorf("result = %+v", res)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Errorf("sent %d messages", n)
	}
}

// A send the server refused is known not to have happened: the retry sends.
func TestSendEmailRetriesAFailedSend(t *testing.T) {
	f := newFixture(t)
	down, _ := config.ParseSMTP("smtp://127.0.0.1:1") // nothing listens there
	working := f.acts.Mailer
	f.acts.Mailer = activities.NewSMTPMailer(down)
	if _, err := f.send(t, welcome("k-retry")); err == nil || !strings.Contains(err.Error(), "send welcome_b2b/welcome to dana@example.com") {
		t.Fatalf("err = %v", err)
	}
	var row models.Message
	f.store.DB().Where("`key` = ?", "k-retry").Take(&row)
	if row.Status != models.MessageFailed {
		t.Errorf("after a refused send the row is %q", row.Status)
	}
	f.acts.Mailer = working
	res, err := f.send(t, welcome("k-retry"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	f.store.DB().Where("`key` = ?", "k-retry").Take(&row)
	if row.Status != "sent" || row.Attempts != 2 {
		t.Errorf("row = %s after %d attempts", row.Status, row.Attempts)
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Errorf("sent %d messages", n)
	}
}

func TestSendEmailFromAccountOwner(t *testing.T) {
	f := newFixture(t)
	req := welcome("k-owner")
	req.Template, req.Step, req.Sender = "welcome_b2b/check_in", "check_in", workflows.SenderOwner
	if _, err := f.send(t, req); err != nil {
		t.Fatal(err)
	}
	m := f.smtp.Messages()[0]
	if got := m.Header.Get("From"); got != `"Sam Lee" <hello@acme.example.com>` {
		t.Errorf("From = %q", got)
	}
	if got := m.Header.Get("Reply-To"); got != `"Sam Lee" <sam@acme.example.com>` {
		t.Errorf("Reply-To = %q", got)
	}
	if !strings.Contains(string(m.Raw), "I'm Sam Lee, and I look after Ledgerly's account") {
		t.Errorf("body does not introduce the owner:\n%s", m.Raw)
	}
}

func TestSendEmailSkipsUnsubscribedForMarketingOnly(t *testing.T) {
	f := newFixture(t)
	if _, err := f.store.Unsubscribe(context.Background(), "u1", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := f.send(t, welcome("k-unsub"))
	if err != nil || res.Status != "skipped" || res.Reason != "unsubscribed from marketing email" {
		t.Errorf("marketing = %+v, %v", res, err)
	}
	receipt := welcome("k-receipt")
	receipt.Marketing = false
	res, err = f.send(t, receipt)
	if err != nil || res.Status != "sent" {
		t.Errorf("transactional = %+v, %v", res, err)
	}
	msgs := f.smtp.Messages()
	if len(msgs) != 1 || msgs[0].Header.Get("List-Unsubscribe") != "" {
		t.Errorf("transactional email: %d messages, List-Unsubscribe %q", len(msgs), msgs[0].Header.Get("List-Unsubscribe"))
	}
}

func TestSendEmailUnknownTemplateFailsTheStep(t *testing.T) {
	f := newFixture(t)
	req := welcome("k-tpl")
	req.Template = "welcome_b2b/nope"
	_, err := f.send(t, req)
	if err == nil || !strings.Contains(err.Error(), `no email template "welcome_b2b/nope" (want templates/email/welcome_b2b/nope.txt and .html)`) {
		t.Fatalf("err = %v", err)
	}
}

func TestIssueDiscountCodeOncePerContact(t *testing.T) {
	f := newFixture(t)
	code := func() string {
		v, err := f.env.ExecuteActivity(workflows.IssueDiscountCodeActivity, workflows.DiscountRequest{ContactID: "u1", Campaign: "welcome_ecommerce", Percent: 10})
		if err != nil {
			t.Fatal(err)
		}
		var s string
		v.Get(&s)
		return s
	}
	a, b := code(), code()
	if a == "" || a != b {
		t.Errorf("codes %q and %q, want one stable code", a, b)
	}
}
