package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Webhook is one NUDGE_WEBHOOKS entry: a name a journey posts to with
// j.Webhook(name, …), and the URL it stands for.
type Webhook struct {
	Name string
	URL  string
}

// webhookName is what a webhook may be called: it names the step's row and
// the event type receivers see, so it stays short and plain.
var webhookName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ParseWebhooks reads NUDGE_WEBHOOKS: comma-separated name=URL entries, such
// as "crm=https://crm.example.com/hooks/nudge,ops=https://ops.example.com/in".
// A name is lower-case letters, digits, _ and -; a URL is absolute http(s)
// (a comma inside one is written %2C). The same name twice is an error.
func ParseWebhooks(raw string) ([]Webhook, error) {
	var out []Webhook
	for _, entry := range strings.Split(raw, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, target, ok := strings.Cut(entry, "=")
		name, target = strings.TrimSpace(name), strings.TrimSpace(target)
		switch {
		case !ok:
			return nil, fmt.Errorf("%q is not name=URL, like crm=https://crm.example.com/hooks/nudge", entry)
		case !webhookName.MatchString(name):
			return nil, fmt.Errorf("%q: the name %q is not lower-case letters, digits, _ and - (up to 64)", entry, name)
		case slices.ContainsFunc(out, func(w Webhook) bool { return w.Name == name }):
			return nil, fmt.Errorf("%q: the name %q is listed twice", entry, name)
		}
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q: %q is not an absolute http(s) URL", entry, target)
		}
		out = append(out, Webhook{Name: name, URL: target})
	}
	return out, nil
}

// ParseWebhookSecret checks a Standard Webhooks signing secret: "whsec_"
// and the key in base64, 24 to 64 bytes (the spec's advice), like
// whsec_$(openssl rand -base64 32). It returns the key.
func ParseWebhookSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return nil, fmt.Errorf("does not start with whsec_; make one with: echo whsec_$(openssl rand -base64 32)")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("the part after whsec_ is not standard base64: %v", err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("the key is %d bytes; use 24 to 64 random bytes (echo whsec_$(openssl rand -base64 32))", len(key))
	}
	return key, nil
}

// validateWebhooks checks NUDGE_WEBHOOKS and NUDGE_WEBHOOK_SECRET, which
// signs every request and is required once a webhook is listed.
func (c *Config) validateWebhooks() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	hooks, err := ParseWebhooks(c.WebhooksRaw)
	if err != nil {
		bad("WEBHOOKS", "%v", err)
	} else {
		c.Webhooks = hooks
	}
	switch {
	case strings.TrimSpace(c.WebhookSecret) != "":
		if _, err := ParseWebhookSecret(c.WebhookSecret); err != nil {
			bad("WEBHOOK_SECRET", "%v", err)
		}
		c.WebhookSecret = strings.TrimSpace(c.WebhookSecret)
	case strings.TrimSpace(c.WebhooksRaw) != "":
		bad("WEBHOOK_SECRET", "is empty, but NUDGE_WEBHOOKS is set; every webhook is signed with it (echo whsec_$(openssl rand -base64 32))")
	}
	return errs
}

// WebhookURLs maps each webhook's name to its URL.
func (c *Config) WebhookURLs() map[string]string {
	if len(c.Webhooks) == 0 {
		return nil
	}
	m := make(map[string]string, len(c.Webhooks))
	for _, w := range c.Webhooks {
		m[w.Name] = w.URL
	}
	return m
}
