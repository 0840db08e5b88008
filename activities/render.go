package activities

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"path"
	"strings"
	texttemplate "text/template"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/templates"
)

// Brand is who the email comes from, as the footer shows it.
type Brand struct {
	Name    string
	Address string // postal address, required in marketing email
	SiteURL string
}

// CaseStudy is a customer story, chosen by the reader's industry.
type CaseStudy struct {
	Company  string `json:"company"`
	Headline string `json:"headline"`
	Result   string `json:"result"`
	URL      string `json:"url"`
}

// EmailData is what a template can use.
type EmailData struct {
	Contact        *models.Contact
	Brand          Brand
	Owner          mail.Address
	CaseStudy      CaseStudy
	Data           map[string]any
	UnsubscribeURL string // empty for transactional email
}

// Rendered is a finished email.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

type emailTemplate struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Renderer holds every email template, parsed once at start-up so a broken
// template stops the worker instead of a journey.
type Renderer struct {
	emails      map[string]emailTemplate
	caseStudies map[string]CaseStudy
}

var funcs = map[string]any{
	// default gives a fallback for an empty value: {{.Contact.FirstName | default "there"}}.
	"default": func(fallback, v string) string {
		if strings.TrimSpace(v) == "" {
			return fallback
		}
		return v
	},
}

// NewRenderer parses the templates embedded from templates/.
func NewRenderer() (*Renderer, error) { return ParseTemplates(templates.FS) }

// ParseTemplates parses email/<journey>/<step>.{txt,html} from fsys.
func ParseTemplates(fsys fs.FS) (*Renderer, error) {
	r := &Renderer{emails: map[string]emailTemplate{}}
	raw, err := fs.ReadFile(fsys, "content/case_studies.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &r.caseStudies); err != nil {
		return nil, fmt.Errorf("content/case_studies.json: %w", err)
	}
	if _, ok := r.caseStudies["default"]; !ok {
		return nil, fmt.Errorf("content/case_studies.json: needs a \"default\" entry")
	}
	texts, err := fs.Glob(fsys, "email/*/*.txt")
	if err != nil {
		return nil, err
	}
	for _, txt := range texts {
		name := strings.TrimSuffix(strings.TrimPrefix(txt, "email/"), ".txt")
		t, err := texttemplate.New("layout.txt").Funcs(funcs).Option("missingkey=error").ParseFS(fsys, "email/layout.txt", txt)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		h, err := htmltemplate.New("layout.html").Funcs(funcs).Option("missingkey=error").ParseFS(fsys, "email/layout.html", "email/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		if _, err := h.AddParseTree("subject", t.Lookup("subject").Tree); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		for _, def := range []string{"subject", "text"} {
			if t.Lookup(def) == nil {
				return nil, fmt.Errorf("template %s: %s.txt must define %q", name, path.Base(name), def)
			}
		}
		if h.Lookup("body") == nil {
			return nil, fmt.Errorf("template %s: %s.html must define \"body\"", name, path.Base(name))
		}
		r.emails[name] = emailTemplate{text: t, html: h}
	}
	return r, nil
}

// Has reports whether a template exists.
func (r *Renderer) Has(name string) bool {
	_, ok := r.emails[name]
	return ok
}

// CaseStudyFor picks the story for an industry, or the default one.
func (r *Renderer) CaseStudyFor(industry string) CaseStudy {
	if cs, ok := r.caseStudies[strings.ToLower(strings.TrimSpace(industry))]; ok {
		return cs
	}
	return r.caseStudies["default"]
}

// Render fills in a template.
func (r *Renderer) Render(name string, data EmailData) (Rendered, error) {
	t, ok := r.emails[name]
	if !ok {
		return Rendered{}, fmt.Errorf("no email template %q (want templates/email/%s.txt and .html)", name, name)
	}
	if data.Data == nil {
		data.Data = map[string]any{}
	}
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Rendered{}, fmt.Errorf("template %s subject: %w", name, err)
	}
	if err := t.text.Execute(&text, data); err != nil {
		return Rendered{}, fmt.Errorf("template %s text: %w", name, err)
	}
	if err := t.html.Execute(&html, data); err != nil {
		return Rendered{}, fmt.Errorf("template %s html: %w", name, err)
	}
	return Rendered{
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    strings.TrimSpace(text.String()) + "\n",
		HTML:    html.String(),
	}, nil
}
