package activities

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/templates"
	"github.com/nudgehq/nudge/workflows"
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

// Review is a customer's review of a product, for social proof.
type Review struct {
	Author string `json:"author"`
	Rating int    `json:"rating"`
	Text   string `json:"text"`
}

// Recommendation is a product suggested beside an order.
type Recommendation struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	Price     string `json:"price"`
	URL       string `json:"url"`
	Why       string `json:"why"`
}

// crossSellRule recommends a product when an order holds a given product or
// a product of a given category.
type crossSellRule struct {
	WhenProduct  string         `json:"when_product"`
	WhenCategory string         `json:"when_category"`
	Recommend    Recommendation `json:"recommend"`
}

// ContentPiece is an article, guide or offer in the nurture catalog
// (templates/content/nurture.json).
type ContentPiece struct {
	ID       string `json:"id"`
	Stage    string `json:"stage"`
	Topic    string `json:"topic"`
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	Path     string `json:"path"`
	Featured bool   `json:"featured"`
}

// EmailData is what a template can use.
type EmailData struct {
	Contact   *models.Contact
	Brand     Brand
	Owner     mail.Address
	CaseStudy CaseStudy
	// Store is the shop's standing copy: shipping window, support address
	// (templates/content/store.json).
	Store map[string]string
	// Reviews of the products in .Data.Products, and a product that goes
	// with them.
	Reviews   []Review
	CrossSell Recommendation
	// Content is the catalog piece a nurture email carries; Featured the
	// pieces marked featured, for "the best of recent content".
	Content        ContentPiece
	Featured       []ContentPiece
	Data           workflows.MessageData
	UnsubscribeURL string // empty for transactional email
	PreferencesURL string // where the contact picks frequency and topics
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
	store       map[string]string
	reviews     map[string][]Review
	nurture     struct {
		Pieces []ContentPiece `json:"pieces"`
	}
	featured  []ContentPiece // the nurture pieces marked featured, picked once
	crossSell struct {
		Rules   []crossSellRule `json:"rules"`
		Default Recommendation  `json:"default"`
	}
}

var funcs = map[string]any{
	// default gives a fallback for an empty value: {{.Contact.FirstName | default "there"}}.
	"default": func(fallback string, v any) string {
		s := fmt.Sprint(v)
		if v == nil || strings.TrimSpace(s) == "" {
			return fallback
		}
		return s
	},
	// money writes a price in the message's currency: {{money .Price $.Data.Currency}}.
	"money": func(v float64, currency string) string {
		if currency == "" {
			currency = "USD"
		}
		return workflows.Money(v, currency)
	},

	// stars draws a rating out of five.
	"stars": func(n int) string { return strings.Repeat("★", n) + strings.Repeat("☆", max(0, 5-n)) },
}

// NewRenderer parses the templates embedded from templates/.
func NewRenderer() (*Renderer, error) { return ParseTemplates(templates.FS) }

// ParseTemplates parses email/<journey>/<step>.{txt,html} from fsys.
func ParseTemplates(fsys fs.FS) (*Renderer, error) {
	r := &Renderer{emails: map[string]emailTemplate{}}
	for file, into := range map[string]any{
		"content/case_studies.json": &r.caseStudies,
		"content/store.json":        &r.store,
		"content/reviews.json":      &r.reviews,
		"content/cross_sell.json":   &r.crossSell,
		"content/nurture.json":      &r.nurture,
	} {
		raw, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	if _, ok := r.caseStudies["default"]; !ok {
		return nil, fmt.Errorf("content/case_studies.json: needs a \"default\" entry")
	}
	for _, p := range r.nurture.Pieces {
		if p.Featured {
			r.featured = append(r.featured, p)
		}
	}
	if _, ok := r.reviews["default"]; !ok {
		return nil, fmt.Errorf("content/reviews.json: needs a \"default\" entry")
	}
	texts, err := fs.Glob(fsys, "email/*/*.txt")
	if err != nil {
		return nil, err
	}
	for _, txt := range texts {
		name := strings.TrimSuffix(strings.TrimPrefix(txt, "email/"), ".txt")
		t, err := texttemplate.New("layout.txt").Funcs(funcs).Option("missingkey=error").ParseFS(fsys, "email/layout.txt", "email/partials.txt", txt)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		h, err := htmltemplate.New("layout.html").Funcs(funcs).Option("missingkey=error").ParseFS(fsys, "email/layout.html", "email/partials.html", "email/"+name+".html")
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

// PickContent chooses the catalog piece for a nurture stage: not one sent
// before, on a topic the contact chose if there is one, else on their
// favourite topic, else the first in the catalog.
func (r *Renderer) PickContent(stage string, chosen []string, favorite string, sent []string) (ContentPiece, bool) {
	var candidates []ContentPiece
	for _, p := range r.nurture.Pieces {
		if p.Stage == stage && !slices.Contains(sent, p.ID) {
			candidates = append(candidates, p)
		}
	}
	for _, wanted := range append(slices.Clone(chosen), favorite) {
		for _, p := range candidates {
			if wanted != "" && p.Topic == wanted {
				return p, true
			}
		}
	}
	if len(candidates) == 0 {
		return ContentPiece{}, false
	}
	return candidates[0], true
}

// Featured lists the catalog pieces marked featured.
func (r *Renderer) Featured() []ContentPiece { return r.featured }

// Store is the shop's standing copy.
func (r *Renderer) Store() map[string]string { return r.store }

// ReviewsFor gathers the reviews of the given products (Segment products,
// by product_id), or the shop-wide ones when none of them has any.
func (r *Renderer) ReviewsFor(products []workflows.Product) []Review {
	var out []Review
	for _, p := range products {
		out = append(out, r.reviews[p.ProductID]...)
	}
	if len(out) == 0 {
		return r.reviews["default"]
	}
	return out
}

// CrossSellFor picks a product to suggest beside an order: the first rule
// that an ordered product matches (by product_id, or category), skipping
// what the order already holds; else the default.
func (r *Renderer) CrossSellFor(products []workflows.Product) Recommendation {
	owned := map[string]bool{}
	for _, p := range products {
		owned[p.ProductID] = true
	}
	for _, p := range products {
		id, category := p.ProductID, p.Category
		for _, rule := range r.crossSell.Rules {
			matches := (rule.WhenProduct != "" && rule.WhenProduct == id) ||
				(rule.WhenCategory != "" && strings.EqualFold(rule.WhenCategory, category))
			if matches && !owned[rule.Recommend.ProductID] {
				return rule.Recommend
			}
		}
	}
	return r.crossSell.Default
}

// Render fills in a template.
func (r *Renderer) Render(name string, data EmailData) (Rendered, error) {
	t, ok := r.emails[name]
	if !ok {
		return Rendered{}, fmt.Errorf("no email template %q (want templates/email/%s.txt and .html)", name, name)
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
