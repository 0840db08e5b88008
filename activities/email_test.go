package activities_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

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
	return workflows.EmailRequest{Message: workflows.Message{Key: key, ContactID: "u1", Journey: "welcome_b2b", Step: "welcome", Template: "welcome_b2b/welcome", Marketing: true}}
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
		"List-Unsubscribe":      "<" + unsubscribe + "?m=1>", // credited to this message
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

// leftBy writes the row an attempt that died would leave behind.
func (f *fixture) leftBy(t *testing.T, key, status string, marketing bool) {
	t.Helper()
	row := models.Message{Key: key, ContactID: "u1", Channel: "email", Status: status, Marketing: marketing, Attempts: 1}
	if err := f.store.DB().Create(&row).Error; err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) row(t *testing.T, key string) models.Message {
	t.Helper()
	var row models.Message
	if err := f.store.DB().Where("`key` = ?", key).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	return row
}

func receipt(key string) workflows.EmailRequest {
	req := welcome(key)
	req.Marketing = false
	return req
}

// A worker that died after claiming a send, before handing it to the
// server, left the row "claimed": the server never got the message, so the
// retry sends it, once.
func TestSendEmailSendsWhatADeadAttemptNeverHandedOver(t *testing.T) {
	f := newFixture(t)
	f.leftBy(t, "k-crash", models.MessageClaimed, true)
	res, err := f.send(t, welcome("k-crash"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if row := f.row(t, "k-crash"); row.Status != "sent" || row.Attempts != 2 || row.Repeats != 0 {
		t.Errorf("row = %s after %d attempts, %d repeats", row.Status, row.Attempts, row.Repeats)
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Errorf("sent %d messages", n)
	}
}

// A worker that died after handing the message over, before the server's
// answer, left it "handed" (or, before phases existed, "sending"): nobody
// knows whether the server took it. Marketing is not sent again; the row
// and the result say so.
func TestSendEmailDoesNotResendAnUncertainMarketingEmail(t *testing.T) {
	for _, status := range []string{models.MessageHanded, models.MessageSending} {
		f := newFixture(t)
		f.leftBy(t, "k-crash", status, true)
		res, err := f.send(t, welcome("k-crash"))
		want := "the attempt that handed it to the provider died before the answer; a marketing message is not sent again"
		if err != nil || res.Status != workflows.StatusUnknown || res.Reason != want {
			t.Fatalf("%s: result = %+v, %v", status, res, err)
		}
		if row := f.row(t, "k-crash"); row.Status != workflows.StatusUnknown || row.Attempts != 1 {
			t.Errorf("%s: row = %s after %d attempts", status, row.Status, row.Attempts)
		}
		if n := len(f.smtp.Messages()); n != 0 {
			t.Errorf("%s: sent %d messages", status, n)
		}
		if again, err := f.send(t, welcome("k-crash")); err != nil || again != res {
			t.Errorf("%s: another retry = %+v, %v", status, again, err)
		}
	}
}

// The same for a transactional email: it is sent once more, with the
// Message-ID the first would have had, so a receiving system can drop a copy.
func TestSendEmailRepeatsAnUncertainTransactionalEmailOnce(t *testing.T) {
	f := newFixture(t)
	f.leftBy(t, "k-receipt", models.MessageHanded, false)
	res, err := f.send(t, receipt("k-receipt"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if row := f.row(t, "k-receipt"); row.Status != "sent" || row.Repeats != 1 || row.Attempts != 2 {
		t.Errorf("row = %s, %d repeats, %d attempts", row.Status, row.Repeats, row.Attempts)
	}
	msgs := f.smtp.Messages()
	if len(msgs) != 1 || msgs[0].Header.Get("Message-Id") != messageIDFor("k-receipt") {
		t.Errorf("sent %d, Message-ID %q", len(msgs), msgs[0].Header.Get("Message-Id"))
	}
}

func messageIDFor(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "<" + hex.EncodeToString(sum[:16]) + "@acme.example.com>"
}

// The server keeps the message and hangs up without answering: the outcome
// is unknown. Marketing stops there; a transactional email goes once more
// with the same Message-ID; the server never gets a third copy.
func TestSendEmailWhenTheServerHangsUpAfterTheMessage(t *testing.T) {
	f := newFixture(t)
	f.smtp.Inject(smtptest.DropAfterData)
	res, err := f.send(t, welcome("k-market"))
	if err != nil || res.Status != workflows.StatusUnknown ||
		!strings.HasPrefix(res.Reason, "send welcome_b2b/welcome to dana@example.com: the provider may have taken the message: the connection failed after the message was sent, before the server answered") ||
		!strings.HasSuffix(res.Reason, "; a marketing message is not sent again") {
		t.Fatalf("marketing: result = %+v, %v", res, err)
	}
	if again, err := f.send(t, welcome("k-market")); err != nil || again != res {
		t.Fatalf("marketing retry = %+v, %v", again, err)
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Fatalf("server holds %d copies of the marketing email, want the one it kept", n)
	}

	f.smtp.Inject(smtptest.DropAfterData, smtptest.DropAfterData)
	if _, err := f.send(t, receipt("k-receipt")); err == nil || !strings.Contains(err.Error(), "it will be sent once more") {
		t.Fatalf("transactional: err = %v", err)
	}
	res, err = f.send(t, receipt("k-receipt"))
	if err != nil || res.Status != workflows.StatusUnknown || !strings.HasSuffix(res.Reason, "; it was sent once more, and that too is unknown") {
		t.Fatalf("transactional repeat = %+v, %v", res, err)
	}
	if again, err := f.send(t, receipt("k-receipt")); err != nil || again.Status != workflows.StatusUnknown {
		t.Fatalf("third attempt = %+v, %v", again, err)
	}
	msgs := f.smtp.Messages()
	if len(msgs) != 3 {
		t.Fatalf("server holds %d messages, want 1 marketing and 2 copies of the receipt", len(msgs))
	}
	if msgs[1].Header.Get("Message-Id") != messageIDFor("k-receipt") || msgs[2].Header.Get("Message-Id") != messageIDFor("k-receipt") {
		t.Errorf("the receipt's copies carry Message-IDs %q and %q", msgs[1].Header.Get("Message-Id"), msgs[2].Header.Get("Message-Id"))
	}
	if row := f.row(t, "k-receipt"); row.Status != workflows.StatusUnknown || row.Repeats != 1 {
		t.Errorf("row = %s, %d repeats", row.Status, row.Repeats)
	}
}

// The server answers 250 and then hangs up: the email was taken, and the
// hang-up before QUIT changes nothing.
func TestSendEmailTakenThenHungUpIsSent(t *testing.T) {
	f := newFixture(t)
	f.smtp.Inject(smtptest.DropAfterAccept)
	res, err := f.send(t, welcome("k-250"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if again, _ := f.send(t, welcome("k-250")); again.Status != "sent" || len(f.smtp.Messages()) != 1 {
		t.Errorf("retry = %+v with %d messages", again, len(f.smtp.Messages()))
	}
}

// SMTP replies decide: 4xx fails the attempt (the retry sends), 5xx refuses
// for good (the step is settled, and the journey goes on).
func TestSendEmailSortsTheServersReplies(t *testing.T) {
	f := newFixture(t)
	f.smtp.Inject(smtptest.DeferData)
	if _, err := f.send(t, welcome("k-451")); err == nil || !strings.Contains(err.Error(), "SMTP end of DATA: 451") {
		t.Fatalf("451: err = %v", err)
	}
	if row := f.row(t, "k-451"); row.Status != models.MessageFailed || !strings.Contains(row.Reason, "451 4.3.0 try again later") {
		t.Errorf("after a 451 the row is %s: %q", row.Status, row.Reason)
	}
	if res, err := f.send(t, welcome("k-451")); err != nil || res.Status != "sent" {
		t.Fatalf("retry after 451 = %+v, %v", res, err)
	}

	for fault, want := range map[smtptest.Fault]string{
		smtptest.RejectData:      "send welcome_b2b/welcome to dana@example.com: SMTP end of DATA: 554 5.7.1 rejected by policy",
		smtptest.RefuseRecipient: "send welcome_b2b/welcome to dana@example.com: SMTP RCPT TO dana@example.com: 550 5.1.1 no such mailbox here",
	} {
		key := fmt.Sprintf("k-%d", fault)
		f.smtp.Inject(fault)
		res, err := f.send(t, welcome(key))
		if err != nil || res.Status != workflows.StatusRefused || res.Reason != want {
			t.Errorf("%s: result = %+v, %v", key, res, err)
		}
		if again, _ := f.send(t, welcome(key)); again != res {
			t.Errorf("%s: retry = %+v", key, again)
		}
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Errorf("server took %d messages, want only the one retried after 451", n)
	}
}

// An attempt that lost the message to a newer attempt (Temporal retried
// while the old one was stuck) does not complete the send.
func TestSendEmailStaleAttemptDoesNotSend(t *testing.T) {
	f := newFixture(t)
	stale := &takeoverMailer{Mailer: f.acts.Mailer, takeOver: func() {
		// A newer attempt takes the row over while this one is mid-send.
		if err := f.store.DB().Model(&models.Message{}).Where("`key` = ?", "k-zombie").Update("attempts", 2).Error; err != nil {
			t.Error(err)
		}
	}}
	f.acts.Mailer = stale
	if _, err := f.send(t, welcome("k-zombie")); err == nil || !strings.Contains(err.Error(), "another attempt of this activity has taken the message over") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Errorf("the stale attempt completed %d sends", n)
	}
	if row := f.row(t, "k-zombie"); row.Status != models.MessageClaimed || row.Attempts != 2 {
		t.Errorf("row = %s, attempts %d: the newer attempt's to settle", row.Status, row.Attempts)
	}
}

type takeoverMailer struct {
	activities.Mailer
	takeOver func()
}

func (m *takeoverMailer) Send(ctx context.Context, msg *gomail.Msg, handOver func() error) error {
	return m.Mailer.Send(ctx, msg, func() error {
		m.takeOver()
		return handOver()
	})
}

// A sweep settles the rows of sends whose activities ended for good
// without settling them.
func TestSettleAbandonedSends(t *testing.T) {
	f := newFixture(t)
	f.leftBy(t, "k-claimed", models.MessageClaimed, true)
	f.leftBy(t, "k-handed", models.MessageHanded, false)
	f.leftBy(t, "k-sending", models.MessageSending, true)
	if err := f.store.DB().Model(&models.Message{}).Where("1 = 1").Update("created_at", time.Now().Add(-26*time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	f.leftBy(t, "k-young", models.MessageClaimed, true)
	if failed, unknown, err := f.acts.SettleAbandoned(context.Background(), 25*time.Hour); err != nil || failed != 1 || unknown != 2 {
		t.Fatalf("settled %d failed, %d unknown, %v", failed, unknown, err)
	}
	for key, want := range map[string]string{"k-claimed": "failed", "k-handed": "unknown", "k-sending": "unknown", "k-young": "claimed"} {
		if row := f.row(t, key); row.Status != want {
			t.Errorf("%s is %s, want %s", key, row.Status, want)
		}
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
	if row := f.row(t, "k-retry"); row.Status != models.MessageFailed || !strings.Contains(row.Reason, "SMTP connect") {
		t.Errorf("after a failed send the row is %q: %q", row.Status, row.Reason)
	}
	f.acts.Mailer = working
	res, err := f.send(t, welcome("k-retry"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if row := f.row(t, "k-retry"); row.Status != "sent" || row.Attempts != 2 {
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

// An unsubscribe is about the address: a second contact that carries it
// (a Shopify guest keyed by the email, in other case) gets no marketing
// email either, now or when it is created later; a bounce stops all email
// to it.
func TestSuppressionFollowsTheAddressAcrossContacts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.Unsubscribe(ctx, "u1", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.addContact(t, models.Contact{ID: "guest-dana", Email: "Dana@Example.com", FirstName: "Dana"})
	req := welcome("k-guest")
	req.ContactID = "guest-dana"
	res, err := f.send(t, req)
	if err != nil || res.Status != "skipped" || res.Reason != "unsubscribed from marketing email under another contact with this address" {
		t.Fatalf("marketing to the same address = %+v, %v", res, err)
	}
	receipt := welcome("k-guest-receipt")
	receipt.ContactID, receipt.Marketing = "guest-dana", false
	if res, err := f.send(t, receipt); err != nil || res.Status != "sent" {
		t.Fatalf("transactional = %+v, %v", res, err)
	}

	// A hard bounce reported for u1's address stops everything to it.
	if _, err := f.store.SuppressEmail(ctx, "dana@example.com", "hard bounce", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.addContact(t, models.Contact{ID: "later-dana", Email: "DANA@example.com"})
	receipt = welcome("k-later-receipt")
	receipt.ContactID, receipt.Marketing = "later-dana", false
	if res, err := f.send(t, receipt); err != nil || res.Status != "skipped" || res.Reason != "address suppressed: hard bounce" {
		t.Fatalf("after the bounce = %+v, %v", res, err)
	}
	if n := len(f.smtp.Messages()); n != 1 {
		t.Fatalf("%d emails reached SMTP, want only the first receipt", n)
	}
}
