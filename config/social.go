package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/nudgehq/nudge/workflows"
)

// Social posts: NUDGE_SOCIAL_POSTS names a YAML file of scheduled posts
// (deploy/social.example.yaml), each under its name, which is its stable
// key (workflow ID social/<name>):
//
//	posts:
//	  spring-launch:
//	    text: Spring is here, and so is our new collection.
//	    link: https://shop.example.com/spring
//	    image: https://shop.example.com/img/spring.jpg
//	    image_alt: A linen dress on a line of spring washing.
//	    at: "2027-03-20 09:00"
//	    zone: Europe/Paris
//	    to: mastodon            # or webhook:<name from NUDGE_WEBHOOKS>
//	    approve: true           # ask in NUDGE_SLACK_SOCIAL_CHANNEL first
//
// A mistake in the file stops start-up, naming the file, the post and the
// field.

// socialName is what a post may be called: it is part of a workflow ID
// and a Slack button's value.
var socialName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// socialTimeLayouts are the ways a post's time may be written, on the
// clock of its zone.
var socialTimeLayouts = []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

// socialEntry is one post as the file writes it.
type socialEntry struct {
	Text     string `yaml:"text"`
	Link     string `yaml:"link"`
	Image    string `yaml:"image"`
	ImageAlt string `yaml:"image_alt"`
	At       string `yaml:"at"`
	Zone     string `yaml:"zone"`
	To       string `yaml:"to"`
	Approve  bool   `yaml:"approve"`
}

var socialFields = []string{"text", "link", "image", "image_alt", "at", "zone", "to", "approve"}

// socialAltLimit is the longest media description Mastodon takes.
const socialAltLimit = 1500

// SocialTargets are what a post's to: may name: Mastodon when it is
// configured, and the webhooks by name.
type SocialTargets struct {
	Mastodon bool
	Webhooks []string
}

// LoadSocialPosts reads and checks the posts file. defaultZone is the zone
// of a post that names none.
func LoadSocialPosts(path string, defaultZone *time.Location, targets SocialTargets) ([]workflows.SocialPost, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSocialPosts(path, b, defaultZone, targets)
}

// ParseSocialPosts reads the posts file's contents; file names it in
// errors.
func ParseSocialPosts(file string, b []byte, defaultZone *time.Location, targets SocialTargets) ([]workflows.SocialPost, error) {
	if defaultZone == nil {
		defaultZone = time.UTC
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil // an empty file: no posts
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: the file must be a mapping with posts: under it", file, root.Line)
	}
	var posts *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i]; k.Value {
		case "posts":
			posts = root.Content[i+1]
		default:
			return nil, fmt.Errorf("%s: line %d: unknown key %q (the file has posts: only)", file, k.Line, k.Value)
		}
	}
	if posts == nil || posts.Tag == "!!null" {
		return nil, nil
	}
	if posts.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: posts: must map each post's name to the post", file, posts.Line)
	}
	var out []workflows.SocialPost
	for i := 0; i+1 < len(posts.Content); i += 2 {
		k, v := posts.Content[i], posts.Content[i+1]
		name := k.Value
		bad := func(line int, field, format string, args ...any) error {
			return fmt.Errorf("%s: post %q (line %d): %s: %s", file, name, line, field, fmt.Sprintf(format, args...))
		}
		if !socialName.MatchString(name) {
			return nil, fmt.Errorf("%s: line %d: the post name %q is not lower-case letters, digits, _ and - (up to 64)", file, k.Line, name)
		}
		if slices.ContainsFunc(out, func(p workflows.SocialPost) bool { return p.Name == name }) {
			return nil, fmt.Errorf("%s: line %d: the post name %q is used twice", file, k.Line, name)
		}
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: post %q (line %d): must be a mapping of %s", file, name, v.Line, strings.Join(socialFields, ", "))
		}
		lines := map[string]int{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			f := v.Content[j]
			if !slices.Contains(socialFields, f.Value) {
				return nil, bad(f.Line, f.Value, "unknown field (fields: %s)", strings.Join(socialFields, ", "))
			}
			lines[f.Value] = f.Line
		}
		line := func(field string) int {
			if l, ok := lines[field]; ok {
				return l
			}
			return v.Line
		}
		var e socialEntry
		if err := v.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s: post %q (line %d): %v", file, name, v.Line, err)
		}
		p := workflows.SocialPost{Name: name, Text: strings.TrimSpace(e.Text), Link: strings.TrimSpace(e.Link),
			Image: strings.TrimSpace(e.Image), ImageAlt: strings.TrimSpace(e.ImageAlt), Zone: strings.TrimSpace(e.Zone), To: strings.TrimSpace(e.To),
			Approve: e.Approve}
		if p.Text == "" {
			return nil, bad(line("text"), "text", "is empty")
		}
		for _, u := range []struct{ field, value string }{{"link", p.Link}, {"image", p.Image}} {
			if u.value == "" {
				continue
			}
			if pu, err := url.Parse(u.value); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				return nil, bad(line(u.field), u.field, "%q is not an absolute http(s) URL", u.value)
			}
		}
		if p.ImageAlt != "" && p.Image == "" {
			return nil, bad(line("image_alt"), "image_alt", "is set but image is not; alt text describes the image")
		}
		if n := utf8.RuneCountInString(p.ImageAlt); n > socialAltLimit {
			return nil, bad(line("image_alt"), "image_alt", "is %d characters, over Mastodon's %d", n, socialAltLimit)
		}
		loc, err := defaultZone, error(nil)
		if p.Zone == "" {
			p.Zone = loc.String()
		} else if loc, err = time.LoadLocation(p.Zone); err != nil || p.Zone == "Local" {
			return nil, bad(line("zone"), "zone", "%q is not an IANA time zone like Europe/Paris", p.Zone)
		}
		at := strings.TrimSpace(e.At)
		if at == "" {
			return nil, bad(line("at"), "at", "is empty; write the post's time like \"2027-03-20 09:00\" (on the clock of zone)")
		}
		for _, layout := range socialTimeLayouts {
			if t, err := time.ParseInLocation(layout, at, loc); err == nil {
				p.At = t
				break
			}
		}
		if p.At.IsZero() {
			return nil, bad(line("at"), "at", "%q is not a time like \"2027-03-20 09:00\" (on the clock of zone)", at)
		}
		switch hook, isHook := strings.CutPrefix(p.To, workflows.SocialToWebhookPrefix); {
		case p.To == workflows.SocialToMastodon:
			if !targets.Mastodon {
				return nil, bad(line("to"), "to", "mastodon, but NUDGE_MASTODON_URL and NUDGE_MASTODON_TOKEN are not both set")
			}
			// The image goes as media, not in the text.
			if n := utf8.RuneCountInString(workflows.MastodonStatus(p)); n > workflows.MastodonStatusLimit {
				return nil, bad(line("text"), "text", "with its link the status is %d characters, over Mastodon's %d", n, workflows.MastodonStatusLimit)
			}
		case isHook:
			if !slices.Contains(targets.Webhooks, hook) {
				known := "none are set"
				if len(targets.Webhooks) > 0 {
					known = "known: " + strings.Join(targets.Webhooks, ", ")
				}
				return nil, bad(line("to"), "to", "no webhook %q in NUDGE_WEBHOOKS (%s)", hook, known)
			}
		case p.To == "":
			return nil, bad(line("to"), "to", "is empty; write mastodon or webhook:<name>")
		default:
			return nil, bad(line("to"), "to", "unknown target %q; write mastodon or webhook:<name from NUDGE_WEBHOOKS>", p.To)
		}
		out = append(out, p)
	}
	return out, nil
}

// validateSocial checks the Mastodon settings and reads NUDGE_SOCIAL_POSTS.
// It runs after validateWebhooks, whose names posts may use.
func (c *Config) validateSocial() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	c.MastodonURL = strings.TrimRight(strings.TrimSpace(c.MastodonURL), "/")
	if c.MastodonURL != "" {
		if u, err := url.Parse(c.MastodonURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("MASTODON_URL", "%q is not an absolute http(s) URL like https://mastodon.social", c.MastodonURL)
		}
	}
	if (c.MastodonURL == "") != (strings.TrimSpace(c.MastodonToken) == "") {
		bad("MASTODON_TOKEN", "set it together with NUDGE_MASTODON_URL, or neither")
	}
	if c.SocialApprovalTimeout <= 0 {
		bad("SOCIAL_APPROVAL_TIMEOUT", "must be a positive duration like 24h")
	}
	if strings.TrimSpace(c.SocialPostsFile) == "" {
		return errs
	}
	targets := SocialTargets{Mastodon: c.MastodonEnabled()}
	for _, w := range c.Webhooks {
		targets.Webhooks = append(targets.Webhooks, w.Name)
	}
	posts, err := LoadSocialPosts(c.SocialPostsFile, c.Timezone, targets)
	if err != nil {
		bad("SOCIAL_POSTS", "%v", err)
		return errs
	}
	for i := range posts {
		posts[i].Channel, posts[i].ApprovalTimeout = c.SlackSocialChannel, c.SocialApprovalTimeout
	}
	c.SocialPosts = posts
	return errs
}

// MastodonEnabled says whether posts can go to Mastodon.
func (c *Config) MastodonEnabled() bool {
	return c.MastodonURL != "" && strings.TrimSpace(c.MastodonToken) != ""
}
