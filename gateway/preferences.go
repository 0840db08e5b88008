package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// The choices on the preference page. Frequencies other than "normal" are
// caps the email activity applies (activities.frequencyCaps); topics steer
// which nurture content a contact gets.
var (
	frequencies = []choice{{"normal", "Whenever there is something worth reading"}, {"weekly", "At most once a week"}, {"monthly", "At most once a month"}}
	topics      = []choice{{"automation", "Automation"}, {"analytics", "Analytics and reporting"}, {"integrations", "Connecting your tools"}, {"pricing", "Plans and offers"}}
)

type choice struct{ Value, Label string }

type checked struct {
	choice
	Checked bool
}

type preferencesData struct {
	Brand          string
	Saved          bool
	Frequencies    []checked
	TopicChoices   []checked
	FrequencyLabel string
	Topics         []string
	TopicsLabel    string
	UnsubscribeURL string
}

// preferencesPage shows the contact's choices (GET /preferences/:token).
func (g *Gateway) preferencesPage(c *gin.Context) {
	if contact := g.tokenContact(c, g.Links.Preferences); contact != nil {
		g.page(c, http.StatusOK, "preferences.html", g.preferences(contact, false))
	}
}

// savePreferences stores the choices as traits (email_frequency, topics) and
// records a Preferences Updated event.
func (g *Gateway) savePreferences(c *gin.Context) {
	contact := g.tokenContact(c, g.Links.Preferences)
	if contact == nil {
		return
	}
	freq := c.PostForm("frequency")
	if !slices.ContainsFunc(frequencies, func(f choice) bool { return f.Value == freq }) {
		freq = "normal"
	}
	var picked []any
	for _, t := range c.PostFormArray("topics") {
		if slices.ContainsFunc(topics, func(x choice) bool { return x.Value == t }) {
			picked = append(picked, t)
		}
	}
	traits := map[string]any{"email_frequency": freq, "topics": picked}
	ctx := context.WithoutCancel(c.Request.Context())
	if err := g.Store.SetTraits(ctx, contact.ID, traits); err != nil {
		g.log().Error("could not save preferences", "contact", contact.ID, "error", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Sorry, we could not save that just now. Please try again in a minute."))
		return
	}
	now := time.Now().UTC()
	messageID := workflows.OwnID("preferences", contact.ID, strconv.FormatInt(now.UnixNano(), 10))
	if len(messageID) > maxIDLength {
		messageID = workflows.OwnID("preferences", fmt.Sprintf("%x", contactHash(contact.ID)), strconv.FormatInt(now.UnixNano(), 10))
	}
	err := g.accept(ctx, []models.Incoming{{UserID: contact.ID, Event: models.Event{
		MessageID: messageID, Kind: workflows.KindTrack,
		Name: workflows.EventPreferencesUpdated, Properties: traits, Timestamp: now,
	}}})
	if err != nil {
		g.log().Error("preferences saved, but the event was not recorded", "contact", contact.ID, "error", err)
	}
	if contact.Traits == nil {
		contact.Traits = map[string]any{} // a contact whose traits were never set
	}
	for k, v := range traits {
		contact.Traits[k] = v
	}
	g.page(c, http.StatusOK, "preferences.html", g.preferences(contact, true))
}

func (g *Gateway) preferences(contact *models.Contact, saved bool) preferencesData {
	freq, _ := contact.Traits["email_frequency"].(string)
	if freq == "" {
		freq = "normal"
	}
	var chosen []string
	if list, ok := contact.Traits["topics"].([]any); ok {
		for _, t := range list {
			if s, ok := t.(string); ok {
				chosen = append(chosen, s)
			}
		}
	}
	d := preferencesData{Brand: g.Config.BrandName, Saved: saved, Topics: chosen, UnsubscribeURL: g.Links.UnsubscribeURL(contact.ID)}
	for _, f := range frequencies {
		d.Frequencies = append(d.Frequencies, checked{f, f.Value == freq})
		if f.Value == freq {
			d.FrequencyLabel = strings.ToLower(f.Label)
		}
	}
	var labels []string
	for _, t := range topics {
		on := slices.Contains(chosen, t.Value)
		d.TopicChoices = append(d.TopicChoices, checked{t, on})
		if on {
			labels = append(labels, strings.ToLower(t.Label))
		}
	}
	d.TopicsLabel = strings.Join(labels, ", ")
	return d
}
