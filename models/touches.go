package models

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/workflows"
)

// Touch is where a visit came from: an ad click (its click ID) or a tagged
// link (its utm_* parameters). Each contact keeps its first and last touch,
// and each order is stamped with the contact's when it is placed, so
// revenue can be credited to the campaign that brought it.
type Touch struct {
	Source   string `json:"source,omitempty"`   // utm_source
	Medium   string `json:"medium,omitempty"`   // utm_medium
	Campaign string `json:"campaign,omitempty"` // utm_campaign (Segment's context.campaign.name)
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
	// ClickID is an ad platform's click ID and ClickIDType which one:
	// fbclid (Meta), gclid (Google), ttclid (TikTok).
	ClickID     string    `json:"click_id,omitempty"`
	ClickIDType string    `json:"click_id_type,omitempty"`
	URL         string    `json:"url,omitempty"` // the landing page, when known
	At          time.Time `json:"at"`
}

// ClickIDTypes are the ad click IDs Nudge reads from landing URLs, in the
// order one is preferred when a URL has several.
var ClickIDTypes = []string{"gclid", "fbclid", "ttclid"}

// touch limits: a value longer than its column is cut, never refused; a
// touch is a hint, not the event.
const (
	touchValueMax = 191
	touchURLMax   = 1000
)

// TouchOf reads an event's touch: Segment's context.campaign, then the
// query of the page's URL (context.page.url, or a page call's url
// property), whose values win where both have one. It is nil when the event
// carries neither utm_* parameters nor a click ID.
func TouchOf(e *Event) *Touch {
	t := Touch{At: e.Timestamp.UTC()}
	if c, ok := e.Context["campaign"].(map[string]any); ok {
		t.Source, t.Medium, t.Campaign = PropString(c, "source"), PropString(c, "medium"), PropString(c, "name")
		t.Term, t.Content = PropString(c, "term"), PropString(c, "content")
	}
	raw := ""
	if p, ok := e.Context["page"].(map[string]any); ok {
		raw = PropString(p, "url")
		if raw == "" {
			raw = PropString(p, "search")
		}
	}
	if raw == "" && e.Kind == "page" {
		raw = PropString(e.Properties, "url")
	}
	if raw != "" {
		q := url.Values{}
		if u, err := url.Parse(raw); err == nil {
			q = u.Query()
			if strings.HasPrefix(raw, "?") {
				q, _ = url.ParseQuery(raw[1:])
			}
		}
		for _, f := range []struct {
			key string
			v   *string
		}{{"utm_source", &t.Source}, {"utm_medium", &t.Medium}, {"utm_campaign", &t.Campaign}, {"utm_term", &t.Term}, {"utm_content", &t.Content}} {
			if v := q.Get(f.key); v != "" {
				*f.v = v
			}
		}
		for _, k := range ClickIDTypes {
			if v := q.Get(k); v != "" {
				t.ClickID, t.ClickIDType = v, k
				break
			}
		}
		if !strings.HasPrefix(raw, "?") {
			t.URL = clipRunes(raw, touchURLMax)
		}
	}
	if t.Source+t.Medium+t.Campaign+t.Term+t.Content+t.ClickID == "" {
		return nil
	}
	for _, v := range []*string{&t.Source, &t.Medium, &t.Campaign, &t.Term, &t.Content, &t.ClickID} {
		*v = clipRunes(*v, touchValueMax)
	}
	return &t
}

// noteTouch records an event's touch on its contact: the first touch once,
// the last touch when it is the latest, and the time of the latest ad click.
// One UPDATE with each compare in the statement, like noteEngagement, so a
// late event or a stale save cannot move them back. Each value column is
// set before its time column: MySQL reads columns already assigned in the
// same SET at their new values, SQLite at their old ones, and this order
// gives both the old.
func noteTouch(tx *gorm.DB, e *Event) error {
	t := TouchOf(e)
	if e.ContactID == "" || t == nil {
		return nil
	}
	j, err := touchJSON(t)
	if err != nil {
		return err
	}
	click := t.ClickID != ""
	return tx.Exec(`UPDATE contacts SET
		first_touch = CASE WHEN first_touch_at IS NULL OR first_touch_at > ? THEN ? ELSE first_touch END,
		first_touch_at = CASE WHEN first_touch_at IS NULL OR first_touch_at > ? THEN ? ELSE first_touch_at END,
		last_touch = CASE WHEN last_touch_at IS NULL OR last_touch_at <= ? THEN ? ELSE last_touch END,
		last_touch_at = CASE WHEN last_touch_at IS NULL OR last_touch_at <= ? THEN ? ELSE last_touch_at END,
		last_ad_click_at = CASE WHEN ? AND (last_ad_click_at IS NULL OR last_ad_click_at < ?) THEN ? ELSE last_ad_click_at END
		WHERE id = ?`,
		t.At, j, t.At, t.At, t.At, j, t.At, t.At, click, t.At, t.At, e.ContactID).Error
}

func touchJSON(t *Touch) (string, error) {
	b, err := json.Marshal(t)
	return string(b), err
}

// stampTouches copies the contact's first and last touch onto an order
// being placed, and the last touch's campaign and click ID into the
// columns the ad reports match campaigns on.
func stampTouches(tx *gorm.DB, o *Order) error {
	var c Contact
	err := tx.Select("first_touch", "last_touch").Where("id = ?", o.ContactID).Limit(1).Find(&c).Error
	if err != nil {
		return err
	}
	o.FirstTouch, o.LastTouch = c.FirstTouch, c.LastTouch
	if t := c.LastTouch; t != nil {
		o.UTMCampaign, o.UTMSource, o.ClickID = t.Campaign, t.Source, t.ClickID
	}
	return nil
}

// Signal is the event as ContactWorkflow receives it, with the ad click it
// landed from, if any (what starts the ad click follow-up).
func (e *Event) Signal() workflows.Event {
	out := workflows.Event{MessageID: e.MessageID, Kind: e.Kind, Name: e.Name, Properties: e.Properties, Traits: e.Traits, Timestamp: e.Timestamp}
	if t := TouchOf(e); t != nil && t.ClickID != "" {
		out.AdClick = &workflows.AdClick{ClickIDType: t.ClickIDType, Campaign: t.Campaign, URL: t.URL}
	}
	return out
}
