package gateway

// Fuzz targets for everything the gateway reads from outside: the Segment
// calls and batches, the Shopify, Twilio, Slack and email provider
// webhooks, and the routes that take a signed token. Their seed corpora
// (testdata/fuzz/<Name>) run with every `go test`; `make fuzz` runs each
// target for a while (scripts/fuzz.sh).
//
// Every target checks the same things of each input:
//   - no 5xx: a handler panic is recovered as a 500, so a 5xx is a bug;
//   - a 4xx is JSON with a non-empty "error", and a refusal that is about a
//     part of the payload names it in "field" (or, in a batch, "index");
//     the refusals listed as whole-request ones (auth, a body that is not
//     JSON, a missing header) name none;
//   - a request that is not 2xx changes nothing in the store;
//   - after a 2xx, what was stored is valid: UTF-8 text, IDs that pass
//     workflows.CheckID, and no U+FFFD the request did not send (which is
//     what encoding/json makes of bad text, silently).
//
// One gateway and database serves every input of a target (a fuzz worker
// is a process of its own), so the checks compare the store before and
// after each input rather than expecting it empty.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	twclient "github.com/twilio/twilio-go/client"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The fuzz gateway's secrets. The token seeds in testdata/fuzz were made
// with fzLinkSecret: change it and they verify no more.
const (
	fzWriteKey      = "wk_fuzz_write"
	fzAdminKey      = "ak_fuzz_admin"
	fzLinkSecret    = "fuzz-link-secret-0123456789"
	fzShopifySecret = "shpss_fuzz_0123456789abcdef0123456789abcdef"
	fzTwilioToken   = "fedcba9876543210fedcba9876543210"
	fzSlackSecret   = "fuzz-slack-signing-secret-0123456789"
	fzPublicURL     = "http://gateway.test"
	fzSiteURL       = "https://shop.fuzz.example"

	// What the gateway is seeded with (see newFz): Ana, with an email
	// address, a phone number, a sent email (message 1), an SMS (message 2,
	// Twilio SID fzSMSSID) and an open task (task 1); Ben, whose traits
	// were never set; and two contacts whose IDs are as long and as far
	// from ASCII as IDs get.
	fzAna      = "ana"
	fzAnaEmail = "ana@example.com"
	fzAnaPhone = "+15551230001"
	fzBen      = "ben"
	fzWide     = "müller/ünï 用户"
	fzSMSSID   = "SM0123456789abcdef0123456789abcdef"
)

// fzLong is a contact ID as long as an ID may be.
var fzLong = "long-" + strings.Repeat("x", workflows.MaxIDLength-len("long-"))

// fz is the gateway under fuzzing, with its own store. It is built here
// rather than with newEnv, which wants a *testing.T that lives as long as
// the target: a *testing.F does, a fuzz input's T does not.
type fz struct {
	gw    *Gateway
	store *models.Store
	h     http.Handler
}

func newFz(f *testing.F) *fz {
	f.Helper()
	ctx := context.Background()
	store, err := models.Open("sqlite://" + f.TempDir() + "/fuzz.db")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	cfg := &config.Config{
		WriteKeys:            []string{fzWriteKey},
		AdminKeys:            []string{fzAdminKey},
		TaskQueue:            "nudge-fuzz",
		TemporalNamespace:    "default",
		TemporalUIURL:        "http://temporal-ui.test/",
		PublicURL:            fzPublicURL,
		SiteURL:              fzSiteURL,
		BrandName:            "Acme",
		ShopifyWebhookSecret: fzShopifySecret,
		SlackSigningSecret:   fzSlackSecret,
		Twilio:               &config.Twilio{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: fzTwilioToken, From: "+15550009999"},
	}
	gw, err := New(cfg, store, &fakeTemporal{}, links.NewSigner(fzLinkSecret, cfg.PublicURL), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	z := &fz{gw: gw, store: store, h: gw.Handler()}

	must := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	consent := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	must(store.SaveContact(ctx, &models.Contact{ID: fzAna, Email: fzAnaEmail, Phone: fzAnaPhone, FirstName: "Ana",
		SMSConsent: true, SMSConsentAt: &consent, LifecycleStage: models.StageSubscriber, Traits: map[string]any{}}))
	must(store.SaveContact(ctx, &models.Contact{ID: fzBen, Email: "ben@example.com", LifecycleStage: models.StageSubscriber}))
	for _, id := range []string{fzLong, fzWide} {
		must(store.SaveContact(ctx, &models.Contact{ID: id, LifecycleStage: models.StageSubscriber, Traits: map[string]any{}}))
	}
	for _, m := range []*models.Message{
		{Key: "fuzz-email", ContactID: fzAna, Journey: "nurture_b2b", Step: "lesson_2", Channel: models.ChannelEmail, Marketing: true,
			Template: "nurture_b2b/lesson", To: fzAnaEmail, Status: workflows.StatusSent},
		{Key: "fuzz-sms", ContactID: fzAna, Journey: "abandoned_cart", Step: "sms", Channel: models.ChannelSMS, Marketing: true,
			Template: "abandoned_cart/sms", To: fzAnaPhone, Status: workflows.StatusSent, ProviderID: fzSMSSID},
	} {
		prior, err := store.BeginMessage(ctx, m)
		must(err)
		if prior != nil {
			f.Fatalf("message %s stored twice", m.Key)
		}
	}
	_, err = store.OpenTask(ctx, &models.Task{ContactID: fzAna, Kind: "mql_follow_up", Title: "Follow up with Ana",
		RepName: "Sam", RepEmail: "sam@nudge.example"})
	must(err)
	return z
}

// do sends one request. target must be a valid request target (escape
// what the fuzzer made).
func (z *fz) do(t *testing.T, method, target string, body []byte, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	// A request that never answers would stall the fuzzer without a word:
	// crash instead, which reports the input, and leave the goroutines'
	// stacks behind.
	hang := time.AfterFunc(hangAfter, func() {
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		path := filepath.Join(os.TempDir(), fmt.Sprintf("nudge-fuzz-hang-%d.txt", os.Getpid()))
		_ = os.WriteFile(path, buf, 0o644)
		panic(fmt.Sprintf("%s %s has not answered in %v; the goroutines are in %s", method, target, hangAfter, path))
	})
	defer hang.Stop()
	z.h.ServeHTTP(rec, req)
	if took := time.Since(start); took > slowRequest {
		t.Fatalf("%s %s took %v (status %d): %s", method, target, took.Round(time.Millisecond), rec.Code, clip(rec.Body.String()))
	}
	return rec
}

// slowRequest is how long a request may take before the input counts as
// a failure: every endpoint here answers in milliseconds (the Slack one
// waits up to 2s for an accept; a request waits up to 10s for the relay),
// and this leaves room for a busy machine.
const slowRequest = 8 * time.Second

// hangAfter is when a request counts as hung.
const hangAfter = 30 * time.Second

// fzHeader builds a header from name, value pairs.
func fzHeader(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
	return h
}

// headerValue is v as an HTTP server would let it through: no control
// characters but tab, and no surrounding white space. Bytes 0x80 and up
// (obs-text) pass, as they do on the wire.
func headerValue(v string) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\t' || (c >= 0x20 && c != 0x7f) {
			b = append(b, c)
		}
	}
	return strings.Trim(string(b), " \t")
}

// fzState is what the checks compare before and after a request: row
// counts, and enough of the rows to tell whether any was written.
type fzState struct {
	Events      int64
	MaxEvent    uint64
	Contacts    int64
	ContactsAt  string
	Unsubscribe int64
	Suppressed  int64
	SMSConsent  int64
	SMSOptedOut int64
	Aliases     int64
	Orders      int64
	OrdersAt    string
	Carts       int64
	Messages    string
	Tasks       string
}

func (z *fz) state(t *testing.T) fzState {
	t.Helper()
	var s fzState
	err := z.store.DB().Raw(`SELECT
		(SELECT COUNT(*) FROM events) AS events,
		(SELECT COALESCE(MAX(id), 0) FROM events) AS max_event,
		(SELECT COUNT(*) FROM contacts) AS contacts,
		(SELECT COALESCE(CAST(MAX(updated_at) AS TEXT), '') FROM contacts) AS contacts_at,
		(SELECT COUNT(unsubscribed_at) FROM contacts) AS unsubscribe,
		(SELECT COUNT(email_suppressed_at) FROM contacts) AS suppressed,
		(SELECT COALESCE(SUM(sms_consent), 0) FROM contacts) AS sms_consent,
		(SELECT COUNT(sms_opted_out_at) FROM contacts) AS sms_opted_out,
		(SELECT COUNT(*) FROM aliases) AS aliases,
		(SELECT COUNT(*) FROM orders) AS orders,
		(SELECT COALESCE(CAST(MAX(updated_at) AS TEXT), '') FROM orders) AS orders_at,
		(SELECT COUNT(*) FROM carts) AS carts,
		(SELECT COALESCE(GROUP_CONCAT(id || '|' || status || '|' || COALESCE(delivery_status, '') || '|' || COALESCE(reason, ''), ';'), '') FROM messages) AS messages,
		(SELECT COALESCE(GROUP_CONCAT(id || '|' || status || '|' || COALESCE(closed_reason, ''), ';'), '') FROM tasks) AS tasks`).
		Scan(&s).Error
	if err != nil {
		t.Fatalf("read the store: %v", err)
	}
	return s
}

// refusal is what a 4xx body says.
type refusal struct {
	Error string `json:"error"`
	Field string `json:"field"`
	Index *int   `json:"index"`
}

// fzCase is one request's outcome, checked against the store as it was
// before the request.
type fzCase struct {
	t      *testing.T
	z      *fz
	before fzState
	rec    *httptest.ResponseRecorder
	input  []byte // the request's payload as sent, uncompressed: what U+FFFD may come from
	// whole lists the starts of the 400 refusals that are about the whole
	// request (a body that is not JSON, a missing header), which name no
	// field. 401, 403, 404, 405, 413 and 415 never need one.
	whole []string
}

// check runs the checks every JSON endpoint shares, and returns the
// refusal of a 4xx (nil otherwise).
func (c *fzCase) check() *refusal {
	t, rec := c.t, c.rec
	t.Helper()
	t.Logf("%d %s", rec.Code, clip(rec.Body.String()))
	if rec.Code >= 500 {
		t.Fatalf("status %d for a client's input: %s", rec.Code, rec.Body.String())
	}
	var r *refusal
	if rec.Code >= 400 {
		r = c.refusal()
	}
	if rec.Code < 200 || rec.Code > 299 {
		c.unchanged()
		return r
	}
	c.z.storedValid(t, c.before, c.input)
	return nil
}

func (c *fzCase) refusal() *refusal {
	t, rec := c.t, c.rec
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q, not JSON: %s", rec.Code, ct, rec.Body.String())
	}
	var r refusal
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("status %d with a body that is not JSON (%v): %s", rec.Code, err, rec.Body.String())
	}
	if strings.TrimSpace(r.Error) == "" {
		t.Fatalf("status %d with no error: %s", rec.Code, rec.Body.String())
	}
	if !utf8.ValidString(r.Error) {
		t.Fatalf("status %d with an error that is not UTF-8: %q", rec.Code, r.Error)
	}
	if r.Field != "" && !utf8.ValidString(r.Field) {
		t.Fatalf("status %d names the field %q", rec.Code, r.Field)
	}
	if rec.Code == http.StatusBadRequest && r.Field == "" && r.Index == nil &&
		!slices.ContainsFunc(c.whole, func(p string) bool { return strings.HasPrefix(r.Error, p) }) {
		t.Fatalf("400 that names no field: %s", rec.Body.String())
	}
	return &r
}

// unchanged fails when the store is not as it was before the request.
func (c *fzCase) unchanged() {
	c.t.Helper()
	if after := c.z.state(c.t); after != c.before {
		c.t.Fatalf("status %d, but the store changed:\nbefore %+v\nafter  %+v\nbody: %s", c.rec.Code, c.before, after, c.rec.Body.String())
	}
}

// storedValid checks what was stored since before: the new events, their
// contacts and orders, and every message and task (there are few).
func (z *fz) storedValid(t *testing.T, before fzState, input []byte) {
	t.Helper()
	db := z.store.DB()
	v := fzValidator{t: t, replacementSent: hasReplacement(input)}
	var evs []models.Event
	if err := db.Where("id > ?", before.MaxEvent).Order("id").Find(&evs).Error; err != nil {
		t.Fatalf("read back the events stored: %v", err)
	}
	var contactIDs []string
	for _, ev := range evs {
		at := "event " + strconv.Quote(ev.MessageID)
		v.id(at+" message_id", ev.MessageID)
		v.text(at+" kind", ev.Kind)
		if ev.Name != "" {
			v.id(at+" name", ev.Name)
		}
		if ev.AnonymousID != "" {
			v.id(at+" anonymous_id", ev.AnonymousID)
		}
		if ev.ContactID != "" {
			v.id(at+" contact_id", ev.ContactID)
			contactIDs = append(contactIDs, ev.ContactID)
		}
		for _, k := range keyProperties {
			// Keyed journeys take their key from these: it becomes part
			// of a workflow ID.
			if key, ok := ev.Properties[k].(string); ok {
				v.id(at+" properties."+k, key)
			}
		}
		v.value(at+" properties", ev.Properties)
		v.value(at+" traits", ev.Traits)
		v.value(at+" context", ev.Context)
		v.time(at+" timestamp", ev.Timestamp)
	}
	if len(contactIDs) > 0 {
		var cs []models.Contact
		if err := db.Where("id IN ?", contactIDs).Find(&cs).Error; err != nil {
			t.Fatalf("read back the contacts: %v", err)
		}
		for _, c := range cs {
			v.id("contact id", c.ID)
			v.strings("contact "+strconv.Quote(c.ID), c)
			v.value("contact "+strconv.Quote(c.ID)+" traits", c.Traits)
		}
		var orders []models.Order
		err := db.Where("contact_id IN ? AND CAST(updated_at AS TEXT) > ?", contactIDs, before.OrdersAt).Find(&orders).Error
		if err != nil {
			t.Fatalf("read back the orders: %v", err)
		}
		for _, o := range orders {
			v.id("order id", o.ID)
			v.strings("order "+strconv.Quote(o.ID), o)
			v.value("order "+strconv.Quote(o.ID)+" products", o.Products)
			v.value("order "+strconv.Quote(o.ID)+" details", o.Details)
			v.time("order "+strconv.Quote(o.ID)+" ordered_at", o.OrderedAt)
		}
	}
	var ms []models.Message
	if err := db.Find(&ms).Error; err != nil {
		t.Fatalf("read back the messages: %v", err)
	}
	for _, m := range ms {
		v.strings(fmt.Sprintf("message %d", m.ID), m)
	}
	var ts []models.Task
	if err := db.Find(&ts).Error; err != nil {
		t.Fatalf("read back the tasks: %v", err)
	}
	for _, task := range ts {
		v.strings(fmt.Sprintf("task %d", task.ID), task)
	}
}

// hasReplacement tells whether a request sent U+FFFD itself: as UTF-8, as
// a JSON escape, or percent-encoded in a form.
func hasReplacement(input []byte) bool {
	has := func(b []byte) bool {
		return bytes.Contains(b, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(b), []byte(`\ufffd`))
	}
	if has(input) {
		return true
	}
	if u, err := url.QueryUnescape(string(input)); err == nil && has([]byte(u)) {
		return true
	}
	return bytes.Contains(bytes.ToUpper(input), []byte("%EF%BF%BD"))
}

type fzValidator struct {
	t               *testing.T
	replacementSent bool
}

func (v fzValidator) text(where, s string) {
	v.t.Helper()
	if !utf8.ValidString(s) {
		v.t.Fatalf("%s is stored as invalid UTF-8: %q", where, s)
	}
	if !v.replacementSent && strings.ContainsRune(s, utf8.RuneError) {
		v.t.Fatalf("%s holds U+FFFD, which the request did not send: bad text was silently replaced: %q", where, s)
	}
}

func (v fzValidator) id(where, s string) {
	v.t.Helper()
	v.text(where, s)
	if err := workflows.CheckID(s); err != nil {
		v.t.Fatalf("%s is stored, but is no valid ID (%v): %q", where, err, s)
	}
}

// time checks that a stored time fits a MySQL DATETIME column, which the
// store also runs on.
func (v fzValidator) time(where string, at time.Time) {
	v.t.Helper()
	if y := at.UTC().Year(); y < 1000 || y > 9999 {
		v.t.Fatalf("%s is stored as %s, outside the years 1000 to 9999 a DATETIME column holds", where, at.UTC())
	}
}

// value checks every string in a decoded JSON value, keys too.
func (v fzValidator) value(where string, x any) {
	v.t.Helper()
	switch x := x.(type) {
	case string:
		v.text(where, x)
	case map[string]any:
		for k, e := range x {
			v.text(where+" (a key)", k)
			v.value(where+"."+k, e)
		}
	case []any:
		for i, e := range x {
			v.value(fmt.Sprintf("%s[%d]", where, i), e)
		}
	}
}

// strings checks the string fields of a row.
func (v fzValidator) strings(where string, row any) {
	v.t.Helper()
	rv := reflect.ValueOf(row)
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.String {
			v.text(where+" "+rv.Type().Field(i).Name, f.String())
		}
	}
}

// seedFixtures adds the Shopify test fixtures to a target's corpus, so it
// starts from complete, real payloads.
func seedFixtures(f *testing.F, add func(topic string, body []byte)) {
	f.Helper()
	for name, topic := range map[string]string{
		"checkouts_create.json":          "checkouts/create",
		"customers_create.json":          "customers/create",
		"orders_create.json":             "orders/create",
		"orders_fulfilled.json":          "orders/fulfilled",
		"fulfillment_events_create.json": "fulfillment_events/create",
		"refunds_create.json":            "refunds/create",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "shopify", name))
		if err != nil {
			f.Fatal(err)
		}
		add(topic, b)
	}
}

// Segment.

var segmentPaths = []string{
	"/v1/identify", "/v1/track", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias",
	"/v1/i", "/v1/t", "/v1/p", "/v1/s", "/v1/g", "/v1/a",
}

// segmentWhole are the Segment refusals about the whole request.
var segmentWhole = []string{
	"Content-Encoding is gzip but the body is not gzip data",
	"could not read the body",
	"the body is empty",
	"the body is not valid JSON",
	"the body must be a JSON object",
}

// segmentRequest builds a Segment request. enc "gzip" compresses the body;
// any other Content-Encoding is sent as is, over the body as is. auth
// picks how the write key is sent: 0 Basic, 1 Bearer, 2 not at all (only
// a writeKey in the body lets the call in), 3 an unknown key.
func segmentRequest(body []byte, enc string, auth byte) ([]byte, http.Header) {
	h := fzHeader("Content-Type", "application/json")
	switch auth % 4 {
	case 0:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(fzWriteKey+":")))
	case 1:
		h.Set("Authorization", "Bearer "+fzWriteKey)
	case 3:
		h.Set("Authorization", "Bearer wk_unknown")
	}
	enc = headerValue(enc)
	if enc == "" {
		return body, h
	}
	h.Set("Content-Encoding", enc)
	if enc != "gzip" {
		return body, h
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(body)
	_ = zw.Close()
	return b.Bytes(), h
}

// FuzzSegmentCall posts one call to one of /v1/identify, track, page,
// screen, group and alias (long or one-letter path; any other path is
// taken as one of those).
func FuzzSegmentCall(f *testing.F) {
	z := newFz(f)
	f.Fuzz(func(t *testing.T, path string, body []byte, enc string, auth byte) {
		if !slices.Contains(segmentPaths, path) {
			path = segmentPaths[len(path)%len(segmentPaths)]
		}
		sent, h := segmentRequest(body, enc, auth)
		c := &fzCase{t: t, z: z, before: z.state(t), input: body, whole: segmentWhole}
		c.rec = z.do(t, http.MethodPost, path, sent, h)
		c.check()
		if c.rec.Code == http.StatusOK && auth%4 == 3 {
			t.Fatalf("an unknown write key in the header was let in")
		}
	})
}

// FuzzSegmentBatch posts to /v1/batch.
func FuzzSegmentBatch(f *testing.F) {
	z := newFz(f)
	f.Fuzz(func(t *testing.T, body []byte, enc string, auth byte) {
		sent, h := segmentRequest(body, enc, auth)
		c := &fzCase{t: t, z: z, before: z.state(t), input: body, whole: segmentWhole}
		c.rec = z.do(t, http.MethodPost, "/v1/batch", sent, h)
		r := c.check()
		if c.rec.Code == http.StatusOK && auth%4 == 3 {
			t.Fatalf("an unknown write key in the header was let in")
		}
		if r != nil && r.Index != nil && *r.Index < 0 {
			t.Fatalf("a refusal with a negative batch index: %s", c.rec.Body.String())
		}
	})
}

// Shopify.

// shopifyWhole are the Shopify refusals about the whole request: headers,
// and a body that is not a JSON object.
var shopifyWhole = append([]string{"X-Shopify-"}, segmentWhole...)

// shopifyTopic is the topic the fuzzer asked for when it looks like one;
// anything else becomes one of the topics Nudge uses, so most inputs reach
// a decoder.
func shopifyTopic(topic string) string {
	if topic == "" || strings.Contains(topic, "/") {
		return topic
	}
	known := make([]string, 0, len(shopifyTopics))
	for k := range shopifyTopics {
		known = append(known, k)
	}
	sort.Strings(known)
	return known[len(topic)%len(known)]
}

func fzShopifyHMAC(body []byte) string {
	mac := hmac.New(sha256.New, []byte(fzShopifySecret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func shopifyHeader(topic, webhookID, shop, sig string) http.Header {
	return fzHeader(
		"Content-Type", "application/json",
		hdrShopifyTopic, headerValue(topic),
		hdrShopifyWebhook, headerValue(webhookID),
		hdrShopifyHmac, headerValue(sig),
		hdrShopifyShop, headerValue(shop),
		hdrShopifyVersion, "2024-04",
	)
}

// FuzzShopifyWebhook posts webhooks signed with the configured secret, so
// every input reaches the topic's decoder.
func FuzzShopifyWebhook(f *testing.F) {
	z := newFz(f)
	seedFixtures(f, func(topic string, body []byte) {
		f.Add(topic, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "harbor-and-pine.myshopify.com", body)
	})
	f.Fuzz(func(t *testing.T, topic, webhookID, shop string, body []byte) {
		h := shopifyHeader(shopifyTopic(topic), webhookID, shop, fzShopifyHMAC(body))
		c := &fzCase{t: t, z: z, before: z.state(t), input: append([]byte(webhookID+"\n"+shop+"\n"), body...), whole: shopifyWhole}
		c.rec = z.do(t, http.MethodPost, "/webhooks/shopify", body, h)
		if r := c.check(); r != nil && (c.rec.Code == http.StatusUnauthorized) {
			t.Fatalf("a correctly signed webhook was refused as unsigned: %s", r.Error)
		}
	})
}

// FuzzShopifyUnsigned posts webhooks with whatever signature the fuzzer
// made, or the signature of another body: every one must be 401 and change
// nothing.
func FuzzShopifyUnsigned(f *testing.F) {
	z := newFz(f)
	seedFixtures(f, func(topic string, body []byte) {
		f.Add(topic, body, fzShopifyHMAC(append(body, ' ')))
	})
	f.Fuzz(func(t *testing.T, topic string, body []byte, sig string) {
		if sig := headerValue(sig); sig != "" {
			if given, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(given, mustDecode(fzShopifyHMAC(body))) {
				t.Skip("the fuzzer signed the body")
			}
		}
		h := shopifyHeader(shopifyTopic(topic), "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "harbor-and-pine.myshopify.com", sig)
		c := &fzCase{t: t, z: z, before: z.state(t), input: body}
		c.rec = z.do(t, http.MethodPost, "/webhooks/shopify", body, h)
		c.check()
		if c.rec.Code != http.StatusUnauthorized {
			t.Fatalf("a webhook without a valid signature got %d, not 401: %s", c.rec.Code, c.rec.Body.String())
		}
	})
}

func mustDecode(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Twilio.

// twilioWhole are the Twilio refusals that name no field in "field"; the
// first two name them in the error.
var twilioWhole = []string{
	"From and MessageSid are required",
	"MessageSid and MessageStatus are required",
	"could not read the body",
}

// fzTwilioSign signs a form body as Twilio does: HMAC-SHA1 over the URL
// and each parameter's name and first value, sorted by name. ok is false
// when the body is no form, which Twilio's validator refuses whatever the
// signature.
func fzTwilioSign(fullURL string, body []byte) (sig string, ok bool) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", false
	}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := fullURL
	for _, k := range keys {
		s += k + form.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(fzTwilioToken))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), true
}

// FuzzTwilioWebhook posts form bodies to /webhooks/twilio/inbound (status
// false) or /webhooks/twilio/status, signed so that twilio-go's validator
// takes them.
func FuzzTwilioWebhook(f *testing.F) {
	z := newFz(f)
	f.Fuzz(func(t *testing.T, status bool, body []byte) {
		path := "/webhooks/twilio/inbound"
		if status {
			path = "/webhooks/twilio/status"
		}
		sig, form := fzTwilioSign(fzPublicURL+path, body)
		if !form {
			sig = "bm90IGEgZm9ybQ==" // any: the body cannot be validated
		} else {
			v := twclient.NewRequestValidator(fzTwilioToken)
			if !v.ValidateBody(fzPublicURL+path, body, sig) {
				t.Fatalf("twilio-go's validator does not take our signature")
			}
		}
		c := &fzCase{t: t, z: z, before: z.state(t), input: body, whole: twilioWhole}
		c.rec = z.do(t, http.MethodPost, path, body, fzHeader("Content-Type", "application/x-www-form-urlencoded", hdrTwilioSignature, sig))
		c.check()
		if form && c.rec.Code == http.StatusForbidden {
			t.Fatalf("a correctly signed webhook was refused: %s", c.rec.Body.String())
		}
	})
}

// Slack.

// FuzzSlackInteractive posts interactions signed with the signing secret:
// the payload as Slack sends it (a form with a payload field), or, with
// raw, as the whole body.
func FuzzSlackInteractive(f *testing.F) {
	z := newFz(f)
	f.Fuzz(func(t *testing.T, payload string, raw bool) {
		body := []byte(payload)
		if !raw {
			body = []byte(url.Values{"payload": {payload}}.Encode())
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(fzSlackSecret))
		mac.Write([]byte("v0:" + ts + ":"))
		mac.Write(body)
		h := fzHeader("Content-Type", "application/x-www-form-urlencoded",
			"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
		c := &fzCase{t: t, z: z, before: z.state(t), input: []byte(payload), whole: []string{"could not read the body"}}
		c.rec = z.do(t, http.MethodPost, "/webhooks/slack/interactive", body, h)
		c.check()
		if c.rec.Code == http.StatusUnauthorized {
			t.Fatalf("a correctly signed interaction was refused: %s", c.rec.Body.String())
		}
	})
}

// Email provider webhook.

// FuzzEmailWebhook posts bounce, complaint and delivered events.
func FuzzEmailWebhook(f *testing.F) {
	z := newFz(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := &fzCase{t: t, z: z, before: z.state(t), input: body, whole: segmentWhole}
		c.rec = z.do(t, http.MethodPost, "/webhooks/email", body, fzHeader("Content-Type", "application/json", "Authorization", "Bearer "+fzAdminKey))
		c.check()
	})
}

// Signed tokens.

// tokenRoutes are the routes that take a signed token, and the verifier
// each checks it with.
var tokenRoutes = []struct {
	method, prefix string
	verify         func(s *links.Signer, token string) bool
}{
	{http.MethodGet, "/unsubscribe/", func(s *links.Signer, tok string) bool { _, err := s.Unsubscribe(tok); return err == nil }},
	{http.MethodPost, "/unsubscribe/", func(s *links.Signer, tok string) bool { _, err := s.Unsubscribe(tok); return err == nil }},
	{http.MethodGet, "/preferences/", func(s *links.Signer, tok string) bool { _, err := s.Preferences(tok); return err == nil }},
	{http.MethodPost, "/preferences/", func(s *links.Signer, tok string) bool { _, err := s.Preferences(tok); return err == nil }},
	{http.MethodGet, links.OpenPrefix, func(s *links.Signer, tok string) bool { _, err := s.Open(tok); return err == nil }},
	{http.MethodHead, links.OpenPrefix, func(s *links.Signer, tok string) bool { _, err := s.Open(tok); return err == nil }},
	{http.MethodGet, links.ClickPrefix, func(s *links.Signer, tok string) bool { _, err := s.Click(tok); return err == nil }},
	{http.MethodHead, links.ClickPrefix, func(s *links.Signer, tok string) bool { _, err := s.Click(tok); return err == nil }},
}

// FuzzTokenRoutes requests the pages and links that take a signed token:
// unsubscribe and preferences (GET and POST), the open pixel and the click
// redirect. None may answer 5xx; a token the signer did not make changes
// nothing; a redirect goes to the link's own destination, or the brand's
// site, never elsewhere.
func FuzzTokenRoutes(f *testing.F) {
	z := newFz(f)
	f.Fuzz(func(t *testing.T, route byte, token string, body string) {
		r := tokenRoutes[int(route)%len(tokenRoutes)]
		valid := r.verify(z.gw.Links, token)
		before := z.state(t)
		h := fzHeader("Content-Type", "application/x-www-form-urlencoded")
		rec := z.do(t, r.method, r.prefix+url.PathEscape(token), []byte(body), h)
		t.Logf("%s %s: %d %s", r.method, r.prefix, rec.Code, rec.Header().Get("Location"))
		if rec.Code >= 500 {
			t.Fatalf("%s %s%q: status %d: %s", r.method, r.prefix, token, rec.Code, rec.Body.String())
		}
		// Only a valid token changes anything, and of the pages only by a
		// POST: opening an unsubscribe or preferences link changes nothing.
		writes := valid && (r.method == http.MethodPost || (r.method == http.MethodGet && strings.HasPrefix(r.prefix, "/t/")))
		if !writes {
			c := &fzCase{t: t, z: z, before: before, rec: rec}
			c.unchanged()
		} else if rec.Code < 400 {
			z.storedValid(t, before, []byte(body)) // a page, the pixel or a redirect
		}
		if rec.Code >= 300 && rec.Code <= 399 {
			loc := rec.Header().Get("Location")
			want := fzSiteURL
			if click, err := z.gw.Links.Click(token); err == nil && r.prefix == links.ClickPrefix {
				want = click.URL
			}
			if loc != want {
				t.Fatalf("%s %s%q redirects to %q, not %q", r.method, r.prefix, token, loc, want)
			}
		}
		if r.prefix == links.OpenPrefix && (rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/gif") {
			t.Fatalf("the open pixel answered %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}
