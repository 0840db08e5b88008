package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nudgehq/nudge/internal/smtptest"
)

// channels configures every delivering channel against loopback stand-ins
// and counts what reaches each.
func channels(t *testing.T) (mail *smtptest.Server, twilio, slack *atomic.Int64) {
	t.Helper()
	mail, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mail.Close() })
	standIn := func() (*atomic.Int64, string) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			n.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		t.Cleanup(srv.Close)
		return &n, srv.URL
	}
	twilio, twilioURL := standIn()
	slack, slackURL := standIn()
	for k, v := range map[string]string{
		"NUDGE_SMTP_URL":            "smtp://" + mail.Addr,
		"NUDGE_TWILIO_ACCOUNT_SID":  "AC0123456789abcdef0123456789abcdef",
		"NUDGE_TWILIO_AUTH_TOKEN":   "token",
		"NUDGE_TWILIO_FROM":         "+15005550006",
		"NUDGE_TWILIO_API_URL":      twilioURL,
		"NUDGE_SLACK_BOT_TOKEN":     "xoxb-test",
		"NUDGE_SLACK_API_URL":       slackURL + "/api/",
		"NUDGE_SLACK_SALES_CHANNEL": "#sales",
	} {
		t.Setenv(k, v)
	}
	return mail, twilio, slack
}

// nudge simulate delivers nothing on any channel, whatever is configured:
// a cart with an SMS and a lead that becomes an MQL (Slack alerts) reach no
// stand-in.
func TestSimulateDeliversNothing(t *testing.T) {
	mail, twilio, slack := channels(t)
	var out bytes.Buffer
	for _, script := range []string{"../../simulate/examples/abandoned_cart.json", "../../simulate/examples/b2b_lead_to_mql.json"} {
		if err := runSimulate(context.Background(), []string{script}, &out); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out.String())
		}
	}
	for _, want := range []string{"sms reminder recorded to +15125550100", "slack mql recorded to #sales", "Contact: stage mql"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if n := len(mail.Messages()); n != 0 {
		t.Errorf("the SMTP stand-in received %d messages", n)
	}
	if n := twilio.Load(); n != 0 {
		t.Errorf("the Twilio stand-in received %d requests", n)
	}
	if n := slack.Load(); n != 0 {
		t.Errorf("the Slack stand-in received %d requests", n)
	}
}

// --send-to delivers each rendered email once, marked as a test, to that
// address only.
func TestSimulateSendTo(t *testing.T) {
	mail, twilio, slack := channels(t)
	var out bytes.Buffer
	if err := runSimulate(context.Background(), []string{"--send-to", "me@example.com", "../../simulate/examples/abandoned_cart.json"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := mail.Messages()
	subjects := []string{}
	for _, m := range got {
		if len(m.To) != 1 || m.To[0] != "me@example.com" {
			t.Errorf("a test email went to %v", m.To)
		}
		subjects = append(subjects, m.Header.Get("Subject"))
	}
	want := []string{"[TEST +1h] You left something behind, Sam", "[TEST +24h (day 1)] What people say about what is in your cart"}
	if strings.Join(subjects, "|") != strings.Join(want, "|") {
		t.Errorf("subjects = %q, want %q", subjects, want)
	}
	if !strings.Contains(out.String(), "Sent 2 test emails to me@example.com.") {
		t.Errorf("output: %s", out.String())
	}
	if twilio.Load() != 0 || slack.Load() != 0 {
		t.Errorf("Twilio got %d, Slack %d requests", twilio.Load(), slack.Load())
	}
}
