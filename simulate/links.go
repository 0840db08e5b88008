package simulate

import (
	"fmt"
	"html"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
)

var (
	attrLink = regexp.MustCompile(`(?i)\b(?:href|src)\s*=\s*"([^"]*)"`)
	textLink = regexp.MustCompile(`https?://[^\s<>"')\]]+`)
)

// linksIn lists the href and src targets in an HTML body.
func linksIn(body string) []string {
	var out []string
	for _, m := range attrLink.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// checkLinks follows every link of every message and lists those that do
// not work, with the message they are in. Nudge's own links (open pixel,
// click redirect, unsubscribe and preference pages) must decode with the
// run's signer and name this run's message or contact; a click's
// destination, and every other link, must be an absolute http(s) URL
// (mailto: with a valid address is allowed in HTML).
func (r *run) checkLinks(msgs []models.Message) []string {
	ids := map[uint64]bool{}
	for _, m := range msgs {
		ids[m.ID] = true
	}
	var broken []string
	for _, m := range msgs {
		var targets []string
		if m.Channel == models.ChannelEmail {
			targets = append(targets, linksIn(m.HTML)...)
		}
		if m.Channel != models.ChannelSlack {
			targets = append(targets, textLink.FindAllString(m.Text, -1)...)
		}
		for _, u := range targets {
			if why := r.checkLink(u, ids); why != "" {
				broken = append(broken, fmt.Sprintf("%s %s/%s at %s: %s: %s", m.Channel, m.Journey, m.Step, offsetLabel(r.offset(m.At)), u, why))
			}
		}
	}
	return broken
}

// nudgePages are the gateway's pages that messages link to. A link under
// NUDGE_PUBLIC_URL elsewhere is the brand's site (the two may share a host).
var nudgePages = []string{links.OpenPrefix, links.ClickPrefix, "/unsubscribe/", "/preferences/"}

func messageOf(raw string, messages map[uint64]bool) bool {
	id, err := strconv.ParseUint(raw, 10, 64)
	return err == nil && messages[id]
}

// checkLink says what is wrong with one link, or "".
func (r *run) checkLink(u string, messages map[uint64]bool) string {
	signer := r.acts.Links
	base := signer.BaseURL()
	rest, ours := strings.CutPrefix(u, base+"/")
	path := "/" + rest
	ours = ours && base != "" && slices.ContainsFunc(nudgePages, func(p string) bool { return strings.HasPrefix(path, p) })
	if ours {
		path, query, _ := strings.Cut(path, "?")
		token := path[strings.LastIndex(path, "/")+1:]
		switch {
		case strings.HasPrefix(path, links.OpenPrefix):
			id, err := signer.Open(token)
			if err != nil || !messages[id] {
				return "the open pixel's token does not decode to a message of this run"
			}
		case strings.HasPrefix(path, links.ClickPrefix):
			c, err := signer.Click(token)
			if err != nil || !messages[c.MessageID] {
				return "the click link's token does not decode to a message of this run"
			}
			if !links.IsWebURL(c.URL) {
				return fmt.Sprintf("the click link leads to %q, not an absolute http(s) URL", c.URL)
			}
		case strings.HasPrefix(path, "/unsubscribe/"):
			if id, err := signer.Unsubscribe(token); err != nil || id != r.contactID {
				return "the unsubscribe link does not decode to this contact"
			}
			// ?m= credits the unsubscribe to an email: one of this run's.
			if m, ok := strings.CutPrefix(query, "m="); query != "" && (!ok || !messageOf(m, messages)) {
				return "the unsubscribe link credits a message that is not of this run"
			}
		case strings.HasPrefix(path, "/preferences/"):
			if id, err := signer.Preferences(token); err != nil || id != r.contactID {
				return "the preference link does not decode to this contact"
			}
		}
		return ""
	}
	if addr, ok := strings.CutPrefix(u, "mailto:"); ok {
		if _, err := mail.ParseAddress(addr); err != nil {
			return "not a valid email address"
		}
		return ""
	}
	if !links.IsWebURL(u) {
		return "not an absolute http(s) URL"
	}
	return ""
}
