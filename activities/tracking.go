package activities

import (
	"cmp"
	"context"
	stdhtml "html"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
)

// Engagement tracking in email HTML.
//
// Every <a href="http(s)://…"> becomes a signed click link
// (PublicURL/t/c/<token>) that records "Email Link Clicked" and redirects
// to the original address, which only the token carries. A data-tag="…"
// attribute on the link names it in the event ("pricing") and is dropped
// from the email. mailto:, tel:, #anchors, relative links, the unsubscribe
// link and Nudge's own links are left as they are. A 1×1 open pixel goes
// just before </body>. The text part keeps its plain links.

// trackEmail makes the HTML of the message claimed in row trackable, stores
// it on the row, and returns it. Tracking is never a reason not to send: if
// the message's ID cannot be read, the email goes out untracked, and if the
// tracked HTML cannot be stored, it goes out tracked all the same.
func (a *Activities) trackEmail(ctx context.Context, row *models.Message, html, unsubscribeURL string) string {
	if a.Links == nil || html == "" {
		return html
	}
	if row.ID == 0 {
		// A failed send reclaimed for a retry: an earlier attempt wrote the row.
		id, err := a.Store.MessageIDByKey(ctx, row.Key)
		if err != nil {
			activity.GetLogger(ctx).Warn("email goes out without tracking: its message ID could not be read", "key", row.Key, "error", err)
			return html
		}
		row.ID = id
	}
	tracked := a.track(html, row.ID, unsubscribeURL)
	if err := a.Store.SetMessageHTML(ctx, row.ID, tracked); err != nil {
		activity.GetLogger(ctx).Warn("could not store the tracked HTML; the row keeps the untracked one", "key", row.Key, "error", err)
	}
	row.HTML = tracked
	return tracked
}

// track rewrites html for message messageID: click links, data-tag
// attributes removed, the open pixel added (see the top of this file).
func (a *Activities) track(html string, messageID uint64, unsubscribeURL string) string {
	var edits []edit
	bodyEnd := -1
	for i := 0; i < len(html); {
		lt := strings.IndexByte(html[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := html[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			// Comments, Outlook's conditional ones included, are left alone.
			i = skipPast(html, i+4, "-->")
			continue
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"):
			i = skipPast(html, i+2, ">")
			continue
		}
		t, ok := parseTag(html, i)
		if !ok {
			i++
			continue
		}
		switch {
		case t.name == "a" && !t.closing:
			edits = append(edits, a.trackLink(t, messageID, unsubscribeURL)...)
		case t.name == "body" && t.closing:
			bodyEnd = i
		case !t.closing && rawText[t.name]:
			// Their content is not markup: a "<a" in a <style> is no link.
			if end := indexFold(html, t.end, "</"+t.name); end >= 0 {
				i = end
				continue
			}
			t.end = len(html)
		}
		i = t.end
	}
	if bodyEnd < 0 {
		bodyEnd = len(html)
	}
	pixel := `<img src="` + stdhtml.EscapeString(a.Links.OpenURL(messageID)) + `" alt="" width="1" height="1" style="display:none">`
	edits = append(edits, edit{start: bodyEnd, end: bodyEnd, text: pixel})
	slices.SortStableFunc(edits, func(x, y edit) int { return cmp.Compare(x.start, y.start) })

	var b strings.Builder
	b.Grow(len(html) + 160*len(edits))
	last := 0
	for _, e := range edits {
		b.WriteString(html[last:e.start])
		b.WriteString(e.text)
		last = e.end
	}
	b.WriteString(html[last:])
	return b.String()
}

// trackLink returns the edits for one <a> tag: its data-tag attributes
// removed, and its href pointed at the click link when it is one to track.
func (a *Activities) trackLink(t tag, messageID uint64, unsubscribeURL string) []edit {
	href, tagName := -1, ""
	for i, at := range t.attrs {
		switch {
		case at.name == "href" && href < 0:
			href = i // the first href is the one mail clients follow
		case at.name == "data-tag" && tagName == "":
			tagName = strings.TrimSpace(stdhtml.UnescapeString(at.value))
		}
	}
	var edits []edit
	for i, at := range t.attrs {
		switch {
		case at.name == "data-tag":
			edits = append(edits, edit{start: at.lead, end: at.end})
		case i == href && at.hasValue:
			dest := strings.TrimSpace(stdhtml.UnescapeString(at.value))
			if unsubscribeURL != "" && dest == unsubscribeURL {
				// Not a click: the unsubscribe page credits it to this email.
				edits = append(edits, edit{start: at.start, end: at.end, text: `href="` + stdhtml.EscapeString(UnsubscribeFrom(dest, messageID)) + `"`})
				continue
			}
			if !links.IsWebURL(dest) || a.Links.Ours(dest) {
				continue
			}
			click := a.Links.ClickURL(messageID, dest, tagName)
			edits = append(edits, edit{start: at.start, end: at.end, text: `href="` + stdhtml.EscapeString(click) + `"`})
		}
	}
	return edits
}

// UnsubscribeFrom is the contact's unsubscribe link as it appears in the
// email messageID, so the unsubscribe is credited to that email.
func UnsubscribeFrom(unsubscribeURL string, messageID uint64) string {
	if unsubscribeURL == "" || messageID == 0 {
		return unsubscribeURL
	}
	return unsubscribeURL + "?m=" + strconv.FormatUint(messageID, 10)
}

// edit replaces html[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// tag is one start or end tag, as a browser would read it.
type tag struct {
	name    string // lower case
	closing bool
	attrs   []attr
	end     int // just past the '>'
}

// attr is one attribute: html[lead:start] is the space before it, and
// html[start:end] the attribute itself, name to closing quote.
type attr struct {
	name       string // lower case
	value      string // as written: entities not yet decoded
	hasValue   bool
	lead       int
	start, end int
}

// rawText elements hold text, not markup, up to their end tag.
var rawText = map[string]bool{"script": true, "style": true, "title": true, "textarea": true}

// parseTag reads the tag starting at s[i] == '<', following the HTML
// tokenizer's rules for names, quoted and unquoted attribute values. ok is
// false when this '<' starts no tag (a "<" in text) or the tag never ends.
func parseTag(s string, i int) (t tag, ok bool) {
	j := i + 1
	if j < len(s) && s[j] == '/' {
		t.closing = true
		j++
	}
	if j >= len(s) || !isLetter(s[j]) {
		return tag{}, false
	}
	start := j
	for j < len(s) && !isSpace(s[j]) && s[j] != '/' && s[j] != '>' {
		j++
	}
	t.name = strings.ToLower(s[start:j])
	for {
		lead := j
		for j < len(s) && (isSpace(s[j]) || s[j] == '/') {
			j++
		}
		if j >= len(s) {
			return tag{}, false
		}
		if s[j] == '>' {
			t.end = j + 1
			return t, true
		}
		a := attr{lead: lead, start: j}
		j++ // the first character belongs to the name, even an '='
		for j < len(s) && !isSpace(s[j]) && s[j] != '/' && s[j] != '>' && s[j] != '=' {
			j++
		}
		a.name = strings.ToLower(s[a.start:j])
		a.end = j
		k := j
		for k < len(s) && isSpace(s[k]) {
			k++
		}
		if k < len(s) && s[k] == '=' {
			k++
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			if k >= len(s) {
				return tag{}, false
			}
			a.hasValue = true
			if q := s[k]; q == '"' || q == '\'' {
				close := strings.IndexByte(s[k+1:], q)
				if close < 0 {
					return tag{}, false
				}
				a.value = s[k+1 : k+1+close]
				j = k + 1 + close + 1
			} else {
				v := k
				for v < len(s) && !isSpace(s[v]) && s[v] != '>' {
					v++
				}
				a.value = s[k:v]
				j = v
			}
			a.end = j
		}
		t.attrs = append(t.attrs, a)
	}
}

// skipPast returns the index just past the first end at or after i, or
// len(s) when there is none.
func skipPast(s string, i int, end string) int {
	if k := strings.Index(s[i:], end); k >= 0 {
		return i + k + len(end)
	}
	return len(s)
}

// indexFold finds sub (lower case ASCII) in s from i on, ignoring case.
func indexFold(s string, i int, sub string) int {
	for ; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
