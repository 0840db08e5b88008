package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	texttemplate "text/template"

	"github.com/yuin/goldmark"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/workflows"
)

// The in-app inbox: a journey's j.InApp("step", …) puts a message in the
// contact's inbox, which the app reads through the inbox API
// (gateway/inbox.go). It is a channel on the send pipeline like email and
// SMS: a row in messages on the channel "inapp" (Subject: the title; Text:
// the Markdown; HTML: the rendered HTML), keyed by the step, following the
// send protocol in outbox.go; delivering it is writing the inbox item
// (models/inbox.go), idempotently, so a step is in the inbox at most once.
//
// Rules, as for email: a marketing message skips a contact who unsubscribed
// from marketing or went unengaged, and counts against its own frequency
// cap (NUDGE_FREQUENCY_CAP_INAPP, default 3/24h). There is no address to
// check and no separate consent: the inbox is only read by the contact's
// own signed-in app.
//
// Markdown is rendered with goldmark without its unsafe option: raw HTML in
// the Markdown is dropped ("<!-- raw HTML omitted -->") and links with
// dangerous schemes (javascript:, vbscript:, data: other than images) lose
// their destination, so the HTML is safe to show in the app.

// Skip reasons for in-app messages.
const (
	SkipInAppUnsubscribed = "unsubscribed from marketing"
	SkipInAppUnengaged    = "unengaged: no response to the win-back emails"
)

// embeddedInApp are the in-app templates in the binary, parsed once.
var embeddedInApp = sync.OnceValues(func() (*InAppTemplates, error) { return ParseInAppTemplates(templates.FS) })

func (a *Activities) inAppTemplates() (*InAppTemplates, error) {
	if a.InAppTemplates != nil {
		return a.InAppTemplates, nil
	}
	return embeddedInApp()
}

// SendInApp renders one in-app message and puts it in the contact's inbox,
// at most once per request key (see pipeline.go and outbox.go).
func (a *Activities) SendInApp(ctx context.Context, req workflows.InAppRequest) (workflows.SendResult, error) {
	// The pipeline applies the in-app cap (capReason, NUDGE_FREQUENCY_CAP_INAPP).
	return a.sendThrough(ctx, newRow(req.Message, models.ChannelInApp), req.HoldForSales, &inAppSend{a: a, req: req})
}

// inAppSend is one in-app message in the pipeline.
type inAppSend struct {
	a   *Activities
	req workflows.InAppRequest
}

func (s *inAppSend) check(_ context.Context, c *models.Contact, row models.Message) (string, string, error) {
	to := c.ID
	switch {
	case !row.Marketing:
		return to, "", nil
	case c.UnsubscribedAt != nil:
		return to, SkipInAppUnsubscribed, nil
	case c.UnengagedAt != nil:
		return to, SkipInAppUnengaged, nil
	}
	return to, "", nil
}

func (s *inAppSend) render(_ context.Context, c *models.Contact, row models.Message) (outgoing, string, error) {
	a, req := s.a, s.req
	tmpls, err := a.inAppTemplates()
	if err != nil {
		return outgoing{}, "", err
	}
	msg, err := tmpls.Render(row.Template, InAppData{Contact: c, Brand: a.Brand, Data: req.Data})
	if err != nil {
		return outgoing{}, "", err
	}
	row.Subject, row.Text, row.HTML = msg.Title, msg.Markdown, msg.HTML
	var id uint64
	out := outgoing{row: row, result: workflows.SendResult{To: row.To, Subject: msg.Title},
		prepare: func(_ context.Context, r *models.Message) { id = r.ID }}
	out.deliver = oneRequest("put in-app message "+row.Template+" in the inbox of "+c.ID, func(ctx context.Context) (string, error) {
		item := &models.InboxItem{MessageID: id, ContactID: c.ID, ActionURL: req.ActionURL, ExpiresAt: utc(req.ExpiresAt)}
		return "", a.Store.PutInboxItem(context.WithoutCancel(ctx), item)
	})
	return out, "", nil
}

// InAppData is what an in-app template can use.
type InAppData struct {
	Contact *models.Contact
	Brand   Brand
	Data    workflows.MessageData
}

// InAppMessage is a rendered in-app message.
type InAppMessage struct {
	Title, Markdown, HTML string
}

// InAppTemplates are the in-app templates: templates/inapp/<journey>/<step>.md,
// each a text template whose first line is the title (a leading "# " is
// dropped) and the rest the Markdown body.
type InAppTemplates struct {
	byName map[string]*texttemplate.Template
}

// ParseInAppTemplates parses inapp/**/*.md from fsys; a template's name is
// its path under inapp/ without .md. No inapp directory is no templates.
func ParseInAppTemplates(fsys fs.FS) (*InAppTemplates, error) {
	t := &InAppTemplates{byName: map[string]*texttemplate.Template{}}
	err := fs.WalkDir(fsys, "inapp", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".md") {
			return err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "inapp/"), ".md")
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		tt, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return fmt.Errorf("in-app template %s: %w", name, err)
		}
		t.byName[name] = tt
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return t, nil
}

// Render fills in a template and renders its Markdown to safe HTML.
func (t *InAppTemplates) Render(name string, data InAppData) (InAppMessage, error) {
	tt, ok := t.byName[name]
	if !ok {
		return InAppMessage{}, fmt.Errorf("no in-app template %q (want templates/inapp/%s.md)", name, name)
	}
	var buf bytes.Buffer
	if err := tt.Execute(&buf, data); err != nil {
		return InAppMessage{}, fmt.Errorf("in-app template %s: %w", name, err)
	}
	title, body, _ := strings.Cut(strings.TrimLeft(buf.String(), "\r\n"), "\n")
	title = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(title), "#"))
	body = strings.TrimSpace(body)
	if title == "" {
		return InAppMessage{}, fmt.Errorf("in-app template %s has no title (its first line)", name)
	}
	html, err := RenderMarkdown(body)
	if err != nil {
		return InAppMessage{}, fmt.Errorf("in-app template %s: %w", name, err)
	}
	return InAppMessage{Title: title, Markdown: body, HTML: html}, nil
}

// markdown is goldmark without html.WithUnsafe: raw HTML and dangerous
// link destinations are left out.
var markdown = goldmark.New()

// RenderMarkdown renders Markdown to HTML that is safe to show (see above).
func RenderMarkdown(src string) (string, error) {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}
