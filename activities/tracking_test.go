package activities

import (
	"context"
	"errors"
	"net/mail"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	gomail "github.com/wneessen/go-mail"
	"go.temporal.io/sdk/testsuite"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const trackBase = "https://nudge.example.com"

func trackingActivities() *Activities {
	return &Activities{Links: links.NewSigner("test-secret-0123456789", trackBase)}
}

func TestTrackRewritesLinks(t *testing.T) {
	a := trackingActivities()
	const id = 42
	unsub := a.Links.UnsubscribeURL("u1")
	click := func(dest, tag string) string { return a.Links.ClickURL(id, dest, tag) }
	pixel := `<img src="` + a.Links.OpenURL(id) + `" alt="" width="1" height="1" style="display:none">`

	cases := []struct {
		name, in, want string
	}{{
		name: "double quotes, other attributes kept",
		in:   `<body><p><a href="https://acme.example.com/shop" style="color:#1d2330;font-family:'Segoe UI'" title="a > b">Shop</a></p></body>`,
		want: `<body><p><a href="` + click("https://acme.example.com/shop", "") + `" style="color:#1d2330;font-family:'Segoe UI'" title="a > b">Shop</a></p>` + pixel + `</body>`,
	}, {
		name: "single quotes holding a double quote",
		in:   `<body><a class='btn' href='https://acme.example.com/?q="x"'>Go</a></body>`,
		want: `<body><a class='btn' href="` + click(`https://acme.example.com/?q="x"`, "") + `">Go</a>` + pixel + `</body>`,
	}, {
		name: "unquoted, upper case, spaces around =",
		in:   `<BODY><A HREF = https://acme.example.com/a>A</A></BODY>`,
		want: `<BODY><A ` + `href="` + click("https://acme.example.com/a", "") + `">A</A>` + pixel + `</BODY>`,
	}, {
		name: "entities decoded into the destination",
		in:   `<body><a href="https://acme.example.com/r?order=7&amp;photo=1">Review</a></body>`,
		want: `<body><a href="` + click("https://acme.example.com/r?order=7&photo=1", "") + `">Review</a>` + pixel + `</body>`,
	}, {
		name: "several links, data-tag read and removed wherever it is",
		in: `<body><a href="https://acme.example.com/pricing" data-tag="pricing">Pricing</a>` +
			`<a data-tag='hero' href="http://acme.example.com/">Home</a>` +
			`<a href="https://acme.example.com/blog">Blog</a></body>`,
		want: `<body><a href="` + click("https://acme.example.com/pricing", "pricing") + `">Pricing</a>` +
			`<a href="` + click("http://acme.example.com/", "hero") + `">Home</a>` +
			`<a href="` + click("https://acme.example.com/blog", "") + `">Blog</a>` + pixel + `</body>`,
	}, {
		name: "mailto, tel, anchors, relative and Nudge's own links untouched; the unsubscribe link credits the message",
		in: `<body><a href="mailto:help@example.com">Help</a> <a href="tel:+15551234567">Call</a>` +
			` <a href="#top">Top</a> <a href="/shop">Shop</a> <a href="//acme.example.com/x">X</a> <a name="x">x</a>` +
			` <a href="` + unsub + `" style="color:#6b7280">Unsubscribe</a>` +
			` <a href="` + a.Links.ClickURL(1, "https://a.example/", "") + `">tracked already</a></body>`,
		want: `<body><a href="mailto:help@example.com">Help</a> <a href="tel:+15551234567">Call</a>` +
			` <a href="#top">Top</a> <a href="/shop">Shop</a> <a href="//acme.example.com/x">X</a> <a name="x">x</a>` +
			` <a href="` + unsub + `?m=42" style="color:#6b7280">Unsubscribe</a>` +
			` <a href="` + a.Links.ClickURL(1, "https://a.example/", "") + `">tracked already</a>` + pixel + `</body>`,
	}, {
		name: "data-tag removed from an untracked link too",
		in:   `<body><a href="mailto:a@example.com" data-tag="support">Mail</a></body>`,
		want: `<body><a href="mailto:a@example.com">Mail</a>` + pixel + `</body>`,
	}, {
		name: "comments and style blocks are not links; the last </body> counts",
		in: `<html><head><style>a[href]:hover{color:red} /* <a href="https://x.example/">no</a> */</style></head>` +
			`<body><!-- <a href="https://x.example/">old</a> </body> --><p>1 < 2</p><img alt="<a href='https://x.example/'>">` +
			`<a href="https://acme.example.com/">Yes</a></body></html>`,
		want: `<html><head><style>a[href]:hover{color:red} /* <a href="https://x.example/">no</a> */</style></head>` +
			`<body><!-- <a href="https://x.example/">old</a> </body> --><p>1 < 2</p><img alt="<a href='https://x.example/'>">` +
			`<a href="` + click("https://acme.example.com/", "") + `">Yes</a>` + pixel + `</body></html>`,
	}, {
		name: "no body tag: pixel at the end",
		in:   `<p>Hi <a href="https://acme.example.com/">there</a></p>`,
		want: `<p>Hi <a href="` + click("https://acme.example.com/", "") + `">there</a></p>` + pixel,
	}, {
		name: "first href wins; a tag cut short is left alone",
		in:   `<body><a href="https://acme.example.com/1" href="https://evil.example/">1</a></body><a href="https://x.example/`,
		want: `<body><a href="` + click("https://acme.example.com/1", "") + `" href="https://evil.example/">1</a>` + pixel + `</body><a href="https://x.example/`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := a.track(c.in, id, unsub); got != c.want {
				t.Errorf("track\n got: %s\nwant: %s", got, c.want)
			}
		})
	}
}

// The click links the rewrite makes carry what it read, and nothing else.
func TestTrackClickTokensCarryDestinationAndTag(t *testing.T) {
	a := trackingActivities()
	out := a.track(`<a data-tag="cta" href="https://acme.example.com/p?a=1&amp;b=&quot;2&quot;">x</a>`, 9, "")
	m := regexp.MustCompile(`href="` + regexp.QuoteMeta(trackBase) + `/t/c/([^"]+)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no click link in %s", out)
	}
	got, err := a.Links.Click(m[1])
	want := links.Click{MessageID: 9, URL: `https://acme.example.com/p?a=1&b="2"`, Tag: "cta"}
	if err != nil || got != want {
		t.Fatalf("Click = %+v, %v; want %+v", got, err, want)
	}
	if strings.Contains(out, "data-tag") {
		t.Errorf("data-tag left in %s", out)
	}
}

// capturingMailer keeps what SendEmail hands it; it refuses while failing
// is set.
type capturingMailer struct {
	mu      sync.Mutex
	failing bool
	html    []string
	text    []string
}

func (m *capturingMailer) Send(_ context.Context, msg *gomail.Msg, handOver func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing {
		return errors.New("421 try again later")
	}
	if err := handOver(); err != nil {
		return err
	}
	for _, p := range msg.GetParts() {
		b, err := p.GetContent()
		if err != nil {
			return err
		}
		switch p.GetContentType() {
		case gomail.TypeTextHTML:
			m.html = append(m.html, string(b))
		case gomail.TypeTextPlain:
			m.text = append(m.text, string(b))
		}
	}
	return nil
}

type trackFixture struct {
	acts   *Activities
	mailer *capturingMailer
	env    *testsuite.TestActivityEnvironment
}

func newTrackFixture(t *testing.T) *trackFixture {
	t.Helper()
	store, err := models.Open("sqlite://" + filepath.Join(t.TempDir(), "nudge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	m := &capturingMailer{}
	acts := &Activities{
		Store: store, Renderer: r, Mailer: m,
		Links: links.NewSigner("test-secret-0123456789", trackBase),
		Brand: Brand{Name: "Acme", Address: "1 Main St, Springfield", SiteURL: "https://acme.example.com"},
		From:  mail.Address{Name: "Acme", Address: "hello@acme.example.com"},
		Owner: mail.Address{Name: "Sam Lee", Address: "sam@acme.example.com"},
	}
	if err := store.SaveContact(context.Background(), &models.Contact{ID: "u1", Email: "dana@example.com", FirstName: "Dana"}); err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	acts.Register(env)
	return &trackFixture{acts: acts, mailer: m, env: env}
}

func (f *trackFixture) send(req workflows.EmailRequest) (workflows.SendResult, error) {
	v, err := f.env.ExecuteActivity(workflows.SendEmailActivity, req)
	if err != nil {
		return workflows.SendResult{}, err
	}
	var res workflows.SendResult
	return res, v.Get(&res)
}

func (f *trackFixture) row(t *testing.T, key string) models.Message {
	t.Helper()
	var row models.Message
	if err := f.acts.Store.DB().Where("`key` = ?", key).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	return row
}

func TestSendEmailTracksMarketingEmail(t *testing.T) {
	f := newTrackFixture(t)
	res, err := f.send(workflows.EmailRequest{Message: workflows.Message{Key: "k1", ContactID: "u1", Journey: "welcome_b2b", Step: "welcome", Template: "welcome_b2b/welcome", Marketing: true}})
	if err != nil || res.Status != workflows.StatusSent {
		t.Fatalf("send = %+v, %v", res, err)
	}
	row := f.row(t, "k1")
	if len(f.mailer.html) != 1 {
		t.Fatalf("mailer got %d emails", len(f.mailer.html))
	}
	html, text := f.mailer.html[0], f.mailer.text[0]
	if row.HTML != html {
		t.Errorf("the row keeps other HTML than was sent:\n%s\nvs\n%s", row.HTML, html)
	}
	signer := f.acts.Links
	for _, want := range []string{
		`<a href="` + signer.ClickURL(row.ID, "https://acme.example.com/settings/profile", "") + `"`,
		`<a href="` + signer.UnsubscribeURL("u1") + "?m=" + strconv.FormatUint(row.ID, 10) + `"`,
		`<img src="` + signer.OpenURL(row.ID) + `" alt="" width="1" height="1" style="display:none"></body>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %s:\n%s", want, html)
		}
	}
	if strings.Contains(html, `href="https://acme.example.com`) {
		t.Errorf("an untracked link is left:\n%s", html)
	}
	if !strings.Contains(text, "https://acme.example.com/settings/profile") || strings.Contains(text, "/t/c/") || strings.Contains(text, "/t/o/") {
		t.Errorf("the text part should keep plain links:\n%s", text)
	}
}

func TestSendEmailTracksTransactionalEmail(t *testing.T) {
	f := newTrackFixture(t)
	req := workflows.EmailRequest{
		Message: workflows.Message{Key: "k2", ContactID: "u1", Journey: "post_purchase", Step: "confirmation", Template: "post_purchase/confirmation"},
		Data: workflows.MessageData{OrderNumber: "1001", TotalDisplay: "$48.00",
			Products: []workflows.Product{{Name: "Tote", URL: "https://acme.example.com/shop/tote", Quantity: 1}}}}
	if res, err := f.send(req); err != nil || res.Status != workflows.StatusSent {
		t.Fatalf("send = %+v, %v", res, err)
	}
	row := f.row(t, "k2")
	html := f.mailer.html[0]
	for _, want := range []string{
		`<a href="` + f.acts.Links.ClickURL(row.ID, "https://acme.example.com/shop/tote", "") + `"`,
		`<a href="mailto:help@example.com">`,
		`<img src="` + f.acts.Links.OpenURL(row.ID) + `"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %s:\n%s", want, html)
		}
	}
	if row.HTML != html {
		t.Error("the row keeps other HTML than was sent")
	}
}

// A retry of a refused send reclaims the row an earlier attempt wrote, and
// tracks under that row's ID.
func TestSendEmailRetryTracksUnderTheSameMessage(t *testing.T) {
	f := newTrackFixture(t)
	req := workflows.EmailRequest{Message: workflows.Message{Key: "k3", ContactID: "u1", Journey: "welcome_b2b", Step: "welcome", Template: "welcome_b2b/welcome", Marketing: true}}
	f.mailer.failing = true
	if _, err := f.send(req); err == nil {
		t.Fatal("the refused send should fail the attempt")
	}
	f.mailer.failing = false
	if res, err := f.send(req); err != nil || res.Status != workflows.StatusSent {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	row := f.row(t, "k3")
	html := f.mailer.html[0]
	if !strings.Contains(html, `<img src="`+f.acts.Links.OpenURL(row.ID)+`"`) || row.HTML != html {
		t.Errorf("retry not tracked under message %d:\n%s", row.ID, html)
	}
}
