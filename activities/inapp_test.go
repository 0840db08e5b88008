package activities_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/templates"
)

func TestMarkdownIsSafe(t *testing.T) {
	html, err := activities.RenderMarkdown("Hi **you**. <img src=x onerror=alert(1)> <script>alert(1)</script>\n\n" +
		"[ok](https://acme.example.com) [bad](javascript:alert(1)) [worse](vbscript:msgbox)\n\n<iframe src=https://evil.example></iframe>")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<img", "onerror", "javascript:", "vbscript:", "<iframe"} {
		if strings.Contains(html, bad) {
			t.Errorf("%q in %s", bad, html)
		}
	}
	for _, good := range []string{"<strong>you</strong>", `<a href="https://acme.example.com">ok</a>`} {
		if !strings.Contains(html, good) {
			t.Errorf("%q not in %s", good, html)
		}
	}
}

func TestInAppTemplates(t *testing.T) {
	tm, err := activities.ParseInAppTemplates(fstest.MapFS{
		"inapp/j/a.md":       {Data: []byte("\n# Hello {{.Contact.FirstName}}\nBody *{{.Brand.Name}}*\n")},
		"inapp/j/notitle.md": {Data: []byte("\n\n")},
		"inapp/j/bad.md":     {Data: []byte("T\n{{.Nope}}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	data := activities.InAppData{Contact: &models.Contact{FirstName: "Ana"}, Brand: activities.Brand{Name: "Acme"}}
	m, err := tm.Render("j/a", data)
	if err != nil || m.Title != "Hello Ana" || m.Markdown != "Body *Acme*" || m.HTML != "<p>Body <em>Acme</em></p>\n" {
		t.Errorf("a = %+v, %v", m, err)
	}
	for _, name := range []string{"j/notitle", "j/bad", "j/missing"} {
		if _, err := tm.Render(name, data); err == nil {
			t.Errorf("%s rendered", name)
		}
	}
	// No inapp directory: no templates, not an error.
	if _, err := activities.ParseInAppTemplates(fstest.MapFS{}); err != nil {
		t.Error(err)
	}
}

// The binary carries the in-app templates: the welcome's getting-started
// message renders from the embedded files, its title from the first line.
func TestEmbeddedInAppTemplates(t *testing.T) {
	tmpls, err := activities.ParseInAppTemplates(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tmpls.Render("welcome_b2b/getting_started", activities.InAppData{Contact: &models.Contact{ID: "dana", FirstName: "Dana"}, Brand: activities.Brand{Name: "Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Title != "Welcome to Acme, Dana" {
		t.Errorf("title = %q", msg.Title)
	}
	if !strings.Contains(msg.HTML, "<strong>Connect your data</strong>") || !strings.Contains(msg.HTML, "<ol>") {
		t.Errorf("html = %s", msg.HTML)
	}
}
