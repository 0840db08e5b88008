// Package audience normalizes and hashes the contact details Nudge sends to
// ad platforms for audience matching. Each platform publishes its own rules,
// and they differ: Meta keeps the dots in a Gmail address and wants phone
// digits without '+'; Google drops Gmail's dots and "+tag" and wants E.164
// with '+'. A value normalized for one platform hashes to something the other
// cannot match, so every function here is per platform:
//
//	h, err := audience.Meta.HashEmail(" Mary@Example.com ")
//	h, err := audience.Google.HashPhone("+1 (555) 987-6543")
//
// Hashes are SHA-256, lowercase hex, which both platforms accept.
package audience

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// Platform names whose rules to follow.
type Platform string

const (
	// Meta follows Meta's Custom Audience rules: email trimmed and
	// lowercased; phone as digits only, country code first, no '+'.
	Meta Platform = "meta"
	// Google follows the Data Manager API's Customer Match rules: email
	// lowercased with all whitespace removed, and for gmail.com and
	// googlemail.com the dots and any "+tag" of the local part dropped;
	// phone in E.164 with its '+'.
	Google Platform = "google"
)

// Email normalizes an email address by p's rules, or says what is wrong
// with it.
func (p Platform) Email(raw string) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	s := strings.ToLower(strings.TrimSpace(raw))
	if p == Google {
		// Google asks for whitespace inside the value to go too.
		s = strings.Join(strings.Fields(s), "")
	}
	switch {
	case s == "":
		return "", fmt.Errorf("email address is empty")
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return "", fmt.Errorf("email address %q has a space inside", raw)
	case !strings.Contains(s, "@"):
		return "", fmt.Errorf("email address %q has no @", raw)
	}
	at := strings.LastIndex(s, "@")
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "":
		return "", fmt.Errorf("email address %q has nothing before the @", raw)
	case domain == "":
		return "", fmt.Errorf("email address %q has no domain after the @", raw)
	case strings.Contains(local, "@"):
		return "", fmt.Errorf("email address %q has more than one @", raw)
	case !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, "."):
		return "", fmt.Errorf("email address %q has a domain %q that is not a host name like example.com", raw, domain)
	}
	if p == Google && (domain == "gmail.com" || domain == "googlemail.com") {
		// Gmail ignores dots and delivers "name+tag" to "name": Google
		// matches on the mailbox, so the upload must name it the same way.
		local, _, _ = strings.Cut(local, "+")
		local = strings.ReplaceAll(local, ".", "")
		if local == "" {
			return "", fmt.Errorf("email address %q has no mailbox name before the + or @", raw)
		}
	}
	return local + "@" + domain, nil
}

// Phone normalizes a phone number by p's rules, or says what is wrong with
// it. The number must carry its country code, written the international way
// ("+1 555 987 6543" or "001 555 987 6543"): a national number such as
// "(555) 987-6543" could belong to any country, so it is refused rather
// than guessed. Spaces, dashes, dots and parentheses are ignored.
func (p Platform) Phone(raw string) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	s := strings.TrimSpace(raw)
	var rest string
	switch {
	case s == "":
		return "", fmt.Errorf("phone number is empty")
	case strings.HasPrefix(s, "+"):
		rest = s[1:]
	case strings.HasPrefix(s, "00"):
		rest = s[2:]
	default:
		return "", fmt.Errorf("phone number %q has no country code: write it like +15559876543", raw)
	}
	var b strings.Builder
	for _, r := range rest {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		case unicode.IsLetter(r):
			return "", fmt.Errorf("phone number %q has a letter (%q); use digits only", raw, r)
		default:
			return "", fmt.Errorf("phone number %q has a %q; use digits, spaces and dashes", raw, r)
		}
	}
	d := b.String()
	switch {
	case len(d) < 7:
		return "", fmt.Errorf("phone number %q has too few digits (%d) for a number with its country code", raw, len(d))
	case len(d) > 15:
		return "", fmt.Errorf("phone number %q has %d digits; E.164 allows at most 15", raw, len(d))
	case d[0] == '0':
		return "", fmt.Errorf("phone number %q starts its country code with 0; no country code does", raw)
	}
	if p == Google {
		return "+" + d, nil
	}
	return d, nil
}

func (p Platform) check() error {
	if p != Meta && p != Google {
		return fmt.Errorf("no normalization rules for ad platform %q (known: meta, google)", string(p))
	}
	return nil
}

// HashEmail normalizes an email address by p's rules and hashes it.
func (p Platform) HashEmail(raw string) (string, error) {
	n, err := p.Email(raw)
	if err != nil {
		return "", err
	}
	return Hash(n), nil
}

// HashPhone normalizes a phone number by p's rules and hashes it.
func (p Platform) HashPhone(raw string) (string, error) {
	n, err := p.Phone(raw)
	if err != nil {
		return "", err
	}
	return Hash(n), nil
}

// Hash is the SHA-256 of an already normalized value, in lowercase hex.
func Hash(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}

// IsHash reports whether s looks like Hash's output: 64 lowercase hex
// digits. Clients check uploads with it so that a raw address never leaves
// by mistake.
func IsHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
