package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const (
	testSID      = "AC0123456789abcdef0123456789abcdef"
	testToken    = "0123456789abcdef0123456789abcdef"
	testFrom     = "+15550009999"
	testCallback = "https://nudge.example.com/webhooks/twilio/status"
	danaPhone    = "+15551230001"
)

// twilioRequest is one call the fake Twilio API received.
type twilioRequest struct {
	Method, Path, ContentType string
	User, Password            string
	BasicAuth                 bool
	Form                      url.Values
}

// fakeTwilio stands in for api.twilio.com: it records each request and
// answers with the next scripted reply, or a created message.
type fakeTwilio struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []twilioRequest
	replies []func(http.ResponseWriter) // consumed in order; then 201 Created
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	f := &fakeTwilio{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		user, pass, ok := r.BasicAuth()
		f.mu.Lock()
		f.reqs = append(f.reqs, twilioRequest{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"),
			User: user, Password: pass, BasicAuth: ok, Form: form})
		n := len(f.reqs)
		var reply func(http.ResponseWriter)
		if len(f.replies) > 0 {
			reply, f.replies = f.replies[0], f.replies[1:]
		}
		f.mu.Unlock()
		if reply != nil {
			reply(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sid": fmt.Sprintf("SM%032d", n), "status": "queued", "to": form.Get("To"), "body": form.Get("Body"),
			"account_sid": testSID, "direction": "outbound-api",
		})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTwilio) then(reply func(http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, reply)
}

func (f *fakeTwilio) requests() []twilioRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]twilioRequest(nil), f.reqs...)
}

// twilioError answers the way Twilio's API refuses a request.
func twilioError(status, code int, message string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"code": code, "message": message, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status,
		})
	}
}

// hangUp drops the connection after reading the request: Twilio may have
// taken the message, and nobody knows.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

type smsFixture struct {
	testbed
	twilio *fakeTwilio
}

// newSMSFixture has Dana, who consented to SMS, and a Twilio sender that
// talks to a fake Twilio API through the real twilio-go client.
func newSMSFixture(t *testing.T) *smsFixture {
	t.Helper()
	fake := newFakeTwilio(t)
	sender, err := activities.NewTwilioSender(&config.Twilio{AccountSID: testSID, AuthToken: testToken, From: testFrom, APIURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	f := &smsFixture{twilio: fake, testbed: newTestbed(t, &activities.Activities{
		Brand:             activities.Brand{Name: "Acme", Address: "1 Main St, Springfield", SiteURL: "https://acme.example.com"},
		SMS:               sender,
		StatusCallbackURL: testCallback,
		QuietHours:        config.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour},
	})}
	consent := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.addContact(t, models.Contact{ID: "u1", Phone: danaPhone, FirstName: "Dana", SMSConsent: true, SMSConsentAt: &consent})
	return f
}

func (f *smsFixture) send(t *testing.T, req workflows.SMSRequest) (workflows.SendResult, error) {
	t.Helper()
	var res workflows.SendResult
	err := f.run(t, workflows.SendSMSActivity, req, &res)
	return res, err
}

var sendAt = time.Date(2025, 6, 3, 17, 0, 0, 0, time.UTC)

func cartSMS(key, contactID string) workflows.SMSRequest {
	return workflows.SMSRequest{
		Message: workflows.Message{
			Key: key, ContactID: contactID, Journey: "abandoned_cart", Step: "reminder", Template: "abandoned_cart/reminder",
			Marketing: true, At: sendAt,
		},
		Data: workflows.MessageData{ValueDisplay: "$129.00", CartURL: "https://shop.example.com/cart/c1", Value: 129},
	}
}

const cartBody = "Acme: Hi Dana, your $129.00 cart is saved. Pick up where you left off: https://shop.example.com/cart/c1 Reply STOP to opt out."

func TestSendSMSThroughTwilio(t *testing.T) {
	f := newSMSFixture(t)
	res, err := f.send(t, cartSMS("journey/abandoned_cart/u1/c1/run1/reminder", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (workflows.SendResult{Status: "sent", To: danaPhone}); res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	reqs := f.twilio.requests()
	if len(reqs) != 1 {
		t.Fatalf("Twilio got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/2010-04-01/Accounts/"+testSID+"/Messages.json" {
		t.Errorf("request = %s %s", r.Method, r.Path)
	}
	if !r.BasicAuth || r.User != testSID || r.Password != testToken {
		t.Errorf("auth = %v %q:%q, want Basic with the account SID and token", r.BasicAuth, r.User, r.Password)
	}
	if r.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", r.ContentType)
	}
	want := url.Values{"To": {danaPhone}, "From": {testFrom}, "Body": {cartBody}, "StatusCallback": {testCallback}}
	if r.Form.Encode() != want.Encode() {
		t.Errorf("form =\n  %v\nwant\n  %v", r.Form, want)
	}

	row := f.row(t, "journey/abandoned_cart/u1/c1/run1/reminder")
	if row.Status != "sent" || row.SentAt == nil || row.Channel != models.ChannelSMS || !row.Marketing {
		t.Errorf("row = %+v", row)
	}
	if row.ProviderID != "SM"+fmt.Sprintf("%032d", 1) {
		t.Errorf("provider ID = %q, want the SID Twilio answered with", row.ProviderID)
	}
	if row.To != danaPhone || row.Text != cartBody || row.Subject != "" || row.HTML != "" || !row.At.Equal(sendAt) {
		t.Errorf("row to %q, text %q, subject %q, at %v", row.To, row.Text, row.Subject, row.At)
	}
}

// With a messaging service, Twilio picks the sender; NUDGE_TWILIO_API_URL
// may carry a path (a proxy), which goes before Twilio's own.
func TestSendSMSThroughMessagingService(t *testing.T) {
	f := newSMSFixture(t)
	sender, err := activities.NewTwilioSender(&config.Twilio{AccountSID: testSID, AuthToken: testToken,
		MessagingServiceSID: "MG0123456789abcdef0123456789abcdef", APIURL: f.twilio.URL + "/twilio/"})
	if err != nil {
		t.Fatal(err)
	}
	f.acts.SMS, f.acts.StatusCallbackURL = sender, ""
	if _, err := f.send(t, cartSMS("k-service", "u1")); err != nil {
		t.Fatal(err)
	}
	reqs := f.twilio.requests()
	if len(reqs) != 1 {
		t.Fatalf("Twilio got %d requests", len(reqs))
	}
	if reqs[0].Path != "/twilio/2010-04-01/Accounts/"+testSID+"/Messages.json" {
		t.Errorf("path = %s", reqs[0].Path)
	}
	want := url.Values{"To": {danaPhone}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {cartBody}}
	if reqs[0].Form.Encode() != want.Encode() {
		t.Errorf("form = %v, want %v", reqs[0].Form, want)
	}
}

func TestSendSMSIsIdempotent(t *testing.T) {
	f := newSMSFixture(t)
	first, err := f.send(t, cartSMS("k-once", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.send(t, cartSMS("k-once", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	if first != second || first.Status != "sent" {
		t.Errorf("retry reported %+v, first %+v", second, first)
	}
	if n := len(f.twilio.requests()); n != 1 {
		t.Errorf("Twilio got %d requests for one key", n)
	}
}

// Each reason a marketing SMS does not go out, exactly as the timeline
// shows it; none reaches Twilio.
func TestSendSMSSkips(t *testing.T) {
	stopped := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		contact *models.Contact
		setup   func(t *testing.T, f *smsFixture)
		reason  string
	}{
		{name: "unknown contact", reason: "contact not found"},
		{name: "no phone", contact: &models.Contact{SMSConsent: true}, reason: "no valid E.164 phone number"},
		{name: "phone not E.164", contact: &models.Contact{Phone: "(555) 123-0002", SMSConsent: true}, reason: "no valid E.164 phone number"},
		{name: "replied STOP", contact: &models.Contact{Phone: "+15551230003", SMSOptedOutAt: &stopped}, reason: "opted out of SMS (replied STOP)"},
		// A STOP outranks consent given before or after it by a trait.
		{name: "STOP with consent flag", contact: &models.Contact{Phone: "+15551230004", SMSConsent: true, SMSOptedOutAt: &stopped}, reason: "opted out of SMS (replied STOP)"},
		{name: "no consent", contact: &models.Contact{Phone: "+15551230005"}, reason: "no SMS consent"},
		{
			name:    "frequency cap",
			contact: &models.Contact{Phone: "+15551230006", SMSConsent: true},
			setup: func(t *testing.T, f *smsFixture) {
				f.acts.Caps = config.Caps{SMS: config.Cap{Max: 1, Window: 24 * time.Hour}}
				seedMessages(t, f.store, models.Message{Key: "earlier-sms", ContactID: "c", Channel: "sms", Marketing: true, At: sendAt.Add(-2 * time.Hour), Status: "sent"})
			},
			reason: "frequency cap: 1 marketing SMS already in the last 24h",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSMSFixture(t)
			if tc.contact != nil {
				tc.contact.ID = "c"
				f.addContact(t, *tc.contact)
			}
			if tc.setup != nil {
				tc.setup(t, f)
			}
			res, err := f.send(t, cartSMS("k-skip", "c"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != "skipped" || res.Reason != tc.reason {
				t.Errorf("result = %+v, want skipped: %q", res, tc.reason)
			}
			if n := len(f.twilio.requests()); n != 0 {
				t.Errorf("Twilio got %d requests", n)
			}
			row := f.row(t, "k-skip")
			if row.Status != "skipped" || row.Reason != tc.reason || row.Channel != "sms" {
				t.Errorf("row = %s %q on %s", row.Status, row.Reason, row.Channel)
			}
		})
	}
}

func seedMessages(t *testing.T, store *models.Store, ms ...models.Message) {
	t.Helper()
	for _, m := range ms {
		if err := store.DB().Create(&m).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// The SMS cap counts only marketing SMS inside the window: email, a
// transactional SMS, a skipped one and an older one leave room.
func TestSendSMSCapCountsOnlyMarketingSMSInTheWindow(t *testing.T) {
	f := newSMSFixture(t)
	f.acts.Caps = config.Caps{SMS: config.Cap{Max: 1, Window: 24 * time.Hour}, Email: config.Cap{Max: 3, Window: 24 * time.Hour}}
	seedMessages(t, f.store,
		models.Message{Key: "email", ContactID: "u1", Channel: "email", Marketing: true, At: sendAt.Add(-time.Hour), Status: "sent"},
		models.Message{Key: "receipt", ContactID: "u1", Channel: "sms", Marketing: false, At: sendAt.Add(-time.Hour), Status: "sent"},
		models.Message{Key: "skipped", ContactID: "u1", Channel: "sms", Marketing: true, At: sendAt.Add(-time.Hour), Status: "skipped"},
		models.Message{Key: "old", ContactID: "u1", Channel: "sms", Marketing: true, At: sendAt.Add(-25 * time.Hour), Status: "sent"},
	)
	res, err := f.send(t, cartSMS("k-cap", "u1"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	// Now the window holds one: the next marketing SMS waits for tomorrow.
	next := cartSMS("k-cap-2", "u1")
	next.At = sendAt.Add(time.Hour)
	if res, err := f.send(t, next); err != nil || res.Reason != "frequency cap: 1 marketing SMS already in the last 24h" {
		t.Fatalf("second = %+v, %v", res, err)
	}
}

// A transactional SMS needs no marketing consent, ignores the cap, and
// carries no opt-out line.
func TestSendTransactionalSMS(t *testing.T) {
	f := newSMSFixture(t)
	f.acts.Caps = config.Caps{SMS: config.Cap{Max: 1, Window: 24 * time.Hour}}
	seedMessages(t, f.store, models.Message{Key: "earlier", ContactID: "c", Channel: "sms", Marketing: true, At: sendAt, Status: "sent"})
	f.addContact(t, models.Contact{ID: "c", Phone: "+15551230007"})
	req := cartSMS("k-receipt", "c")
	req.Marketing = false
	res, err := f.send(t, req)
	if err != nil || res.Status != "sent" {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if body := f.twilio.requests()[0].Form.Get("Body"); strings.Contains(body, "STOP") || !strings.HasPrefix(body, "Acme: Hi there, your $129.00 cart") {
		t.Errorf("body = %q", body)
	}
}

// START after STOP: consent is back, and so are marketing SMS.
func TestSendSMSAfterOptingBackIn(t *testing.T) {
	f := newSMSFixture(t)
	ctx := context.Background()
	if _, err := f.store.OptOutSMS(ctx, danaPhone, sendAt.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.send(t, cartSMS("k-stopped", "u1")); res.Reason != "opted out of SMS (replied STOP)" {
		t.Fatalf("after STOP: %+v", res)
	}
	if _, err := f.store.OptInSMS(ctx, danaPhone, sendAt.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if res, err := f.send(t, cartSMS("k-started", "u1")); err != nil || res.Status != "sent" {
		t.Fatalf("after START: %+v, %v", res, err)
	}
	if n := len(f.twilio.requests()); n != 1 {
		t.Errorf("Twilio got %d requests", n)
	}
}

func TestSMSCopy(t *testing.T) {
	f := newSMSFixture(t)
	tmpls, err := activities.ParseSMSTemplates(fstest.MapFS{
		"sms/j/says_stop.txt": {Data: []byte("{{.Brand.Name}}: 20% off today.\n  Text STOP to end.\n")},
		"sms/j/plain.txt":     {Data: []byte("{{.Brand.Name}} news\nfor {{.Contact.FirstName | default \"you\"}}.\n")},
		"sms/j/needs.txt":     {Data: []byte("{{.Data.code}}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.acts.SMSTemplates = tmpls
	f.acts.SMS = nil // recorded, not delivered
	for _, tc := range []struct{ template, want string }{
		// Copy that already says STOP gets no second opt-out line.
		{"j/says_stop", "Acme: 20% off today. Text STOP to end."},
		// Lines collapse into one message.
		{"j/plain", "Acme news for Dana. Reply STOP to opt out."},
	} {
		req := cartSMS("k-"+tc.template, "u1")
		req.Template, req.Data = tc.template, workflows.MessageData{}
		res, err := f.send(t, req)
		if err != nil || res.Status != "recorded" || res.To != danaPhone {
			t.Fatalf("%s: %+v, %v", tc.template, res, err)
		}
		if row := f.row(t, req.Key); row.Text != tc.want || row.Status != "recorded" || row.ProviderID != "" {
			t.Errorf("%s: text %q (want %q), status %s, provider ID %q", tc.template, row.Text, tc.want, row.Status, row.ProviderID)
		}
	}
	for _, name := range []string{"j/missing", "j/needs"} {
		req := cartSMS("k-"+name, "u1")
		req.Template, req.Data = name, workflows.MessageData{}
		_, err := f.send(t, req)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != "TemplateError" {
			t.Errorf("%s: err = %v, want a non-retryable TemplateError", name, err)
		}
	}
}

func TestEmbeddedSMSTemplates(t *testing.T) {
	tmpls, err := activities.NewSMSTemplates()
	if err != nil {
		t.Fatal(err)
	}
	if !tmpls.Has("abandoned_cart/reminder") {
		t.Fatal("templates/sms/abandoned_cart/reminder.txt is missing")
	}
	got, err := tmpls.Render("abandoned_cart/reminder", activities.SMSData{
		Contact: &models.Contact{}, Brand: activities.Brand{Name: "Acme"},
		Data: workflows.MessageData{ValueDisplay: "$129.00"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Acme: Hi there, your $129.00 cart is saved."; got != want {
		t.Errorf("without a name or URL: %q, want %q", got, want)
	}
	if n := len(cartBody); n > 160 {
		t.Errorf("the reminder is %d characters, more than one SMS", n)
	}
}

// A send Twilio refused did not happen: the retry sends it, once.
func TestSendSMSRetriesARefusedSend(t *testing.T) {
	f := newSMSFixture(t)
	f.twilio.then(twilioError(http.StatusInternalServerError, 20500, "Internal Server Error"))
	_, err := f.send(t, cartSMS("k-retry", "u1"))
	var appErr *temporal.ApplicationError
	if err == nil || !strings.Contains(err.Error(), "send SMS abandoned_cart/reminder to "+danaPhone) ||
		(errors.As(err, &appErr) && appErr.NonRetryable()) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if row := f.row(t, "k-retry"); row.Status != models.MessageFailed || !strings.Contains(row.Reason, "20500") {
		t.Errorf("after a refused send the row is %s: %q", row.Status, row.Reason)
	}
	res, err := f.send(t, cartSMS("k-retry", "u1"))
	if err != nil || res.Status != "sent" {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	row := f.row(t, "k-retry")
	if row.Status != "sent" || row.Attempts != 2 || row.ProviderID != fmt.Sprintf("SM%032d", 2) || row.Reason != "" {
		t.Errorf("row = %s after %d attempts, provider ID %q, reason %q", row.Status, row.Attempts, row.ProviderID, row.Reason)
	}
	if res, _ := f.send(t, cartSMS("k-retry", "u1")); res.Status != "sent" {
		t.Errorf("third attempt = %+v", res)
	}
	if n := len(f.twilio.requests()); n != 2 {
		t.Errorf("Twilio got %d requests, want the refused one and one more", n)
	}
}

// A 4xx that the same request will always get settles the SMS as refused
// at once, saying why; the journey goes on.
func TestSendSMSInvalidNumberIsNotRetried(t *testing.T) {
	for _, code := range []int{21211, 21610} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			f := newSMSFixture(t)
			f.twilio.then(twilioError(http.StatusBadRequest, code, "The 'To' number is not valid."))
			res, err := f.send(t, cartSMS("k-bad", "u1"))
			if err != nil || res.Status != workflows.StatusRefused || !strings.HasPrefix(res.Reason, "send SMS abandoned_cart/reminder to "+danaPhone+": ") ||
				!strings.Contains(res.Reason, fmt.Sprint(code)) {
				t.Fatalf("result = %+v, %v; want refused, naming the code", res, err)
			}
			if row := f.row(t, "k-bad"); row.Status != workflows.StatusRefused || row.Reason != res.Reason {
				t.Errorf("row = %s: %q", row.Status, row.Reason)
			}
		})
	}
}

// Throttling and account problems are retried: the SMS goes out late,
// not never.
func TestSendSMSRetryableRefusals(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusServiceUnavailable} {
		f := newSMSFixture(t)
		f.twilio.then(twilioError(status, 20429, "Too Many Requests"))
		_, err := f.send(t, cartSMS("k", "u1"))
		var appErr *temporal.ApplicationError
		if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
			t.Errorf("%d: err = %v, want retryable", status, err)
		}
	}
}

// Twilio unreachable: nothing was sent, so a retry may send.
func TestSendSMSTwilioDown(t *testing.T) {
	f := newSMSFixture(t)
	sender, err := activities.NewTwilioSender(&config.Twilio{AccountSID: testSID, AuthToken: testToken, From: testFrom, APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	f.acts.SMS = sender
	if _, err := f.send(t, cartSMS("k-down", "u1")); err == nil {
		t.Fatal("want an error")
	}
	if row := f.row(t, "k-down"); row.Status != models.MessageFailed {
		t.Errorf("row = %s", row.Status)
	}
}

// The connection drops after Twilio read the request: the message may be
// out. A marketing SMS is not sent again; the outcome is recorded as
// unknown, and the retry reports the same.
func TestSendSMSDoesNotResendAnUncertainAttempt(t *testing.T) {
	f := newSMSFixture(t)
	f.twilio.then(hangUp)
	res, err := f.send(t, cartSMS("k-unsure", "u1"))
	if err != nil || res.Status != workflows.StatusUnknown || !strings.Contains(res.Reason, "may have taken the message") ||
		!strings.HasSuffix(res.Reason, "; a marketing message is not sent again") {
		t.Fatalf("result = %+v, %v", res, err)
	}
	if row := f.row(t, "k-unsure"); row.Status != workflows.StatusUnknown || !strings.Contains(row.Reason, "may have taken the message") {
		t.Errorf("row = %s: %q", row.Status, row.Reason)
	}
	again, err := f.send(t, cartSMS("k-unsure", "u1"))
	if err != nil || again != res {
		t.Fatalf("retry = %+v, %v; want %+v", again, err, res)
	}
	if n := len(f.twilio.requests()); n != 1 {
		t.Errorf("Twilio got %d requests", n)
	}
}

func TestNewTwilioSenderNeedsAnAccount(t *testing.T) {
	for _, c := range []*config.Twilio{nil, {AccountSID: testSID}, {AccountSID: testSID, AuthToken: testToken, APIURL: "ftp://x"}} {
		if _, err := activities.NewTwilioSender(c); err == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
}

// A STOP is about the number: a contact created later with it gets no SMS.
func TestStopFollowsTheNumberToLaterContacts(t *testing.T) {
	f := newSMSFixture(t)
	if _, err := f.store.OptOutSMS(context.Background(), danaPhone, sendAt.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.addContact(t, models.Contact{ID: "dana-shop", Phone: danaPhone, SMSConsent: true})
	req := cartSMS("k-later", "dana-shop")
	req.Marketing = false
	if res, err := f.send(t, req); err != nil || res.Status != "skipped" || res.Reason != "opted out of SMS (replied STOP)" {
		t.Fatalf("to the stopped number under a new contact: %+v, %v", res, err)
	}
	if n := len(f.twilio.requests()); n != 0 {
		t.Errorf("Twilio got %d requests", n)
	}
}
