package simulate

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/workflows"
)

func testActivities(t *testing.T) *activities.Activities {
	t.Helper()
	r, err := activities.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return &activities.Activities{
		Renderer:   r,
		QuietHours: config.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour},
		Brand:      activities.Brand{Name: "Acme", Address: "1 Main St", SiteURL: "https://acme.example.com"},
		From:       mail.Address{Name: "Acme", Address: "hello@acme.example.com"},
		Owner:      mail.Address{Name: "Sam Lee", Address: "sam@acme.example.com"},
	}
}

func simulateFile(t *testing.T, name string) string {
	t.Helper()
	return simulateFileWith(t, name, nil)
}

func simulateFileWith(t *testing.T, name string, dc converter.DataConverter) string {
	t.Helper()
	f, err := os.Open(filepath.Join("examples", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseScript(f)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Run(context.Background(), s, Options{Activities: testActivities(t), Settings: workflows.DefaultSettings(), DataConverter: dc}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return squeeze(out.String())
}

// With NUDGE_ENCRYPTION_KEYS set, nudge simulate runs every payload through
// the encrypting converter, as the worker does, with the same outcome.
func TestSimulateEncryptedMatchesPlain(t *testing.T) {
	keys, err := codec.ParseKeys("sim:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"welcome_b2b.json", "abandoned_cart.json"} {
		plain, encrypted := simulateFile(t, name), simulateFileWith(t, name, codec.DataConverter(keys))
		if plain != encrypted {
			t.Errorf("%s: encrypted run differs:\n%s\nplain:\n%s", name, encrypted, plain)
		}
	}
}

// squeeze collapses runs of spaces, so assertions do not depend on column widths.
func squeeze(s string) string {
	return regexp.MustCompile(` +`).ReplaceAllString(s, " ")
}

func TestSimulateB2BSetupCompleted(t *testing.T) {
	out := simulateFile(t, "welcome_b2b.json")
	for _, want := range []string{
		"Simulating Dana Kim <dana@ledgerly.example> at Ledgerly (fintech), journeys: welcome_b2b. Nothing is delivered.",
		`+0h welcome_b2b email welcome recorded to "Dana Kim" <dana@ledgerly.example>: "Welcome to Acme, Dana: one step to get started"`,
		"+0h welcome_b2b inapp getting_started sent",
		"+50h contact track Setup Completed",
		"+72h (day 3) welcome_b2b check Setup Completed received at +50h",
		`+72h (day 3) welcome_b2b email next_milestone recorded to "Dana Kim" <dana@ledgerly.example>: "Setup done. Here is your next milestone, Dana"`,
		`+240h (day 10) welcome_b2b email case_study`,
		"welcome_b2b completed at +336h (day 14): 6 emails, 0 SMS, 0 webhooks, 1 in-app, 0 skipped.",
		// The whole contact runs: scoring, and its decay after 30 quiet days.
		"+0h contact score industry +10: industry matches the ideal customer profile (score 10)",
		"+720h (day 30) contact score inactive -10: no engagement for 30 days (score 0)",
		"Contact: stage lead, lead score 0, 0 Slack alerts.",
	} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The summary counts every channel a journey sends on: webhooks and in-app
// messages beside emails and SMS, a skip of any of them as skipped.
func TestSendCountsEveryChannel(t *testing.T) {
	var timeline []workflows.Entry
	for _, kind := range []string{"start", "email", "wait", "webhook", "inapp", "email", "sms", "skip", "webhook", "check", "inapp", "skip", "exit"} {
		timeline = append(timeline, workflows.Entry{Kind: kind})
	}
	if got, want := sendCounts(timeline), "2 emails, 1 SMS, 2 webhooks, 2 in-app, 2 skipped"; got != want {
		t.Errorf("sendCounts = %q, want %q", got, want)
	}
}

func TestSimulateB2BStalled(t *testing.T) {
	out := simulateFile(t, "welcome_b2b_stalled.json")
	for _, want := range []string{
		"Setup Completed not received",
		"finish_setup",
		"How Brightpath's product team shipped onboarding changes in days, not sprints",
	} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulateEcommercePurchaseEndsIt(t *testing.T) {
	out := simulateFile(t, "welcome_ecommerce.json")
	for _, want := range []string{
		"+20h contact track Product Viewed",
		"+72h (day 3) welcome_ecommerce exit Order Completed arrived: goal reached, no further steps",
		"Contact: stage customer",
		"welcome_ecommerce completed at +72h (day 3): 2 emails, 0 SMS, 0 webhooks, 0 in-app, 0 skipped.",
	} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "still_thinking") {
		t.Errorf("the day-5 reminder went out after the order:\n%s", out)
	}
}

// The cart simulation shows the SMS after email 2 waiting out Chicago's
// night, and the order ending the run before the incentive.
func TestSimulateAbandonedCart(t *testing.T) {
	out := simulateFile(t, "abandoned_cart.json")
	for _, want := range []string{
		`+1h abandoned_cart email reminder recorded to "Sam" <sam@example.com>: "You left something behind, Sam"`,
		"+24h (day 1) abandoned_cart wait for quiet hours to end (08:00 CST)",
		"+29h abandoned_cart sms reminder recorded to +15125550100",
		"+50h abandoned_cart exit Order Completed arrived: goal reached, no further steps",
		"abandoned_cart completed at +50h: 2 emails, 1 SMS, 0 webhooks, 0 in-app, 0 skipped.",
	} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulatePostPurchase(t *testing.T) {
	out := simulateFile(t, "post_purchase.json")
	for _, want := range []string{
		`"Order #1042 confirmed: thank you, Ana"`,
		`+20h post_purchase email shipping recorded to "Ana" <ana@example.com>: "Order #1042 has shipped"`,
		"+144h (day 6) post_purchase email review_request",
		`"Wool wash goes well with your last order"`,
		"post_purchase completed at +720h (day 30): 5 emails, 0 SMS, 0 webhooks, 0 in-app, 0 skipped.",
	} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestParseScriptErrors(t *testing.T) {
	for script, want := range map[string]string{
		`{"journey": "nope", "events": ["+0h Signed Up"]}`:                           `script: no journey "nope"`,
		`{"journey": "welcome_b2b", "events": []}`:                                   `script: "events" needs at least one call`,
		`{"journey": "welcome_b2b", "events": ["Signed Up"]}`:                        `event "Signed Up": write it as "+<offset> <event name>"`,
		`{"journey": "welcome_b2b", "events": ["+2x Signed Up"]}`:                    `offset "+2x": use minutes (m), hours (h) or days (d)`,
		`{"journey": "welcome_b2b", "events": ["+1h Signed Up"]}`:                    `the first event starts the run and must be at +0h, not +1h0m0s`,
		`{"journey": "welcome_b2b", "events": [{"at": "+0h"}]}`:                      `"event" is required`,
		`{"journey": "welcome_b2b", "events": ["+0h Signed Up"], "contatc": {}}`:     `unknown field "contatc"`,
		`{"journey": "welcome_b2b", "events": [{"at": "1h", "event": "Signed Up"}]}`: `offset "1h" must start with +`,
	} {
		_, err := ParseScript(strings.NewReader(script))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseScript(%s) = %v, want error containing %q", script, err, want)
		}
	}
}

func TestParseOffset(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"+0h": 0, "+90m": 90 * time.Minute, "+50h": 50 * time.Hour, "+3d": 72 * time.Hour, "+1d12h": 36 * time.Hour,
	} {
		if got, err := ParseOffset(in); err != nil || got != want {
			t.Errorf("ParseOffset(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// A script whose first event does not start the journey is refused with a reason.
func TestSimulateTriggerMismatch(t *testing.T) {
	s, err := ParseScript(strings.NewReader(`{"journey": "welcome_b2b", "contact": {"email": "a@b.c"}, "events": ["+0h Signed Up"]}`))
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), s, Options{Activities: testActivities(t), Settings: workflows.DefaultSettings()}, &bytes.Buffer{})
	if err == nil || err.Error() != `"Signed Up" at +0h does not start welcome_b2b for this contact: check the journey's trigger in workflows/welcome_b2b.go` {
		t.Errorf("err = %v", err)
	}
}

func runScript(t *testing.T, script string, o Options) (string, error) {
	t.Helper()
	s, err := ParseScript(strings.NewReader(script))
	if err != nil {
		t.Fatal(err)
	}
	o.Activities, o.Settings = testActivities(t), workflows.DefaultSettings()
	var out bytes.Buffer
	err = Run(context.Background(), s, o, &out)
	return squeeze(out.String()), err
}

const cartScript = `{"journey":"abandoned_cart","contact":{"firstName":"Sam","email":"sam@example.com"},
 "events":[{"at":"+0h","event":"Checkout Started","properties":{"checkout_id":"ch-9","value":50,"cart_url":%q,
   "products":[{"product_id":"p1","name":"Tote","price":50,"quantity":1}]}},
 {"at":"+2h","open":"reminder"},{"at":"+3h","click":"reminder","url":%q}], "until":"+4d"}`

// Opens and clicks of messages sent earlier in the run reach the contact as
// the tracking links would: scored, and seen by the journeys; every message
// is written out with an index.
func TestSimulateOpensClicksAndOut(t *testing.T) {
	dir := t.TempDir()
	cart := "https://shop.example.com/cart/ch-9"
	out, err := runScript(t, fmt.Sprintf(cartScript, cart, cart), Options{OutDir: dir})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"+2h contact open opens abandoned_cart/reminder",
		"+2h contact score email_opened +2: opened an email (score 2)",
		"+3h contact click clicks https://shop.example.com/cart/ch-9 in abandoned_cart/reminder",
		"abandoned_cart completed at +72h (day 3): 3 emails, 0 SMS, 0 webhooks, 0 in-app, 0 skipped.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"01-email-abandoned_cart-reminder.html", "01-email-abandoned_cart-reminder.txt", "03-email-abandoned_cart-incentive.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
		if !strings.Contains(string(index), `<a href="`+f+`">`) {
			t.Errorf("index.html does not list %s", f)
		}
	}
}

// A link that would not work in a real inbox fails the run, naming it.
func TestSimulateBrokenLinkFails(t *testing.T) {
	out, err := runScript(t, fmt.Sprintf(cartScript, "shop.example.com/cart/ch-9", ""), Options{})
	if !errors.Is(err, ErrBrokenLinks) && (err == nil || !strings.Contains(err.Error(), "has no tracked link")) {
		t.Fatalf("err = %v, want broken links", err)
	}
	want := "email abandoned_cart/reminder at +1h: shop.example.com/cart/ch-9: not an absolute http(s) URL"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

// Every example script runs to the end with no broken link, and every
// journey has one.
func TestEveryExampleRuns(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, f := range files {
		out := simulateFile(t, filepath.Base(f))
		for _, name := range workflows.JourneyNames() {
			if strings.Contains(out, " "+name+" start entered on ") {
				covered[name] = true
			}
		}
	}
	for _, name := range workflows.JourneyNames() {
		if !covered[name] {
			t.Errorf("no example script enters %s", name)
		}
	}
}
