package links

import (
	"strings"
	"testing"
)

// Fuzz targets for the signed tokens: unsubscribe, preferences, open and
// click. Their seed corpora (testdata/fuzz/<Name>) run with every
// `go test`; `make fuzz` runs each target for a while.

// fuzzSecret signs the token seeds in testdata/fuzz: change it and they
// verify no more.
const (
	fuzzSecret = "fuzz-link-secret-0123456789"
	fuzzBase   = "http://gateway.test"
)

// FuzzVerify feeds any string to every verifier. None may panic, a string
// may pass as at most one kind of token, and one that passes must be the
// very token the signer makes for what it carries: a token verifies only
// if the signer produced it.
func FuzzVerify(f *testing.F) {
	s := NewSigner(fuzzSecret, fuzzBase)
	f.Fuzz(func(t *testing.T, token string) {
		passed := 0
		if id, err := s.Unsubscribe(token); err == nil {
			passed++
			if want := s.token(purposeUnsubscribe, id); token != want {
				t.Fatalf("Unsubscribe(%q) = %q, but the signer's token for it is %q", token, id, want)
			}
		} else if err != ErrInvalid {
			t.Fatalf("Unsubscribe(%q): %v, not ErrInvalid", token, err)
		}
		if id, err := s.Preferences(token); err == nil {
			passed++
			if want := s.token(purposePreferences, id); token != want {
				t.Fatalf("Preferences(%q) = %q, but the signer's token for it is %q", token, id, want)
			}
		} else if err != ErrInvalid {
			t.Fatalf("Preferences(%q): %v, not ErrInvalid", token, err)
		}
		if id, err := s.Open(token); err == nil {
			passed++
			want := strings.TrimPrefix(s.OpenURL(id), fuzzBase+OpenPrefix)
			if token != want && token != strings.TrimSuffix(want, openSuffix) {
				t.Fatalf("Open(%q) = %d, but the signer's token for it is %q", token, id, want)
			}
			if id == 0 {
				t.Fatalf("Open(%q) passed message 0", token)
			}
		} else if err != ErrInvalid {
			t.Fatalf("Open(%q): %v, not ErrInvalid", token, err)
		}
		if c, err := s.Click(token); err == nil {
			passed++
			if want := strings.TrimPrefix(s.ClickURL(c.MessageID, c.URL, c.Tag), fuzzBase+ClickPrefix); token != want {
				t.Fatalf("Click(%q) = %+v, but the signer's token for it is %q", token, c, want)
			}
			if c.MessageID == 0 || !IsWebURL(c.URL) {
				t.Fatalf("Click(%q) passed %+v", token, c)
			}
		} else if err != ErrInvalid {
			t.Fatalf("Click(%q): %v, not ErrInvalid", token, err)
		}
		if passed > 1 {
			t.Fatalf("%q passes as %d kinds of token", token, passed)
		}
		_ = s.Ours(token)
		_ = s.Ours(fuzzBase + "/" + token)
		_ = IsWebURL(token)
	})
}

// FuzzRoundTrip signs values and verifies the tokens: each gives back what
// was signed, passes as no other kind of token, and fails once any one of
// its bytes is changed (the byte at pos, to b).
func FuzzRoundTrip(f *testing.F) {
	s := NewSigner(fuzzSecret, fuzzBase)
	f.Fuzz(func(t *testing.T, contactID string, messageID uint64, dest, tag string, pos uint, b byte) {
		// alter changes one byte of a token; "" when b is already there.
		alter := func(tok string) string {
			if tok == "" {
				return ""
			}
			i := int(pos % uint(len(tok)))
			if tok[i] == b {
				return ""
			}
			return tok[:i] + string([]byte{b}) + tok[i+1:]
		}
		others := func(kind, tok string) {
			t.Helper()
			n := 0
			if _, err := s.Unsubscribe(tok); err == nil {
				n++
			}
			if _, err := s.Preferences(tok); err == nil {
				n++
			}
			if _, err := s.Open(tok); err == nil {
				n++
			}
			if _, err := s.Click(tok); err == nil {
				n++
			}
			if n > 1 {
				t.Fatalf("%s token %q passes as %d kinds of token", kind, tok, n)
			}
		}

		unsub := strings.TrimPrefix(s.UnsubscribeURL(contactID), fuzzBase+"/unsubscribe/")
		if got, err := s.Unsubscribe(unsub); err != nil || got != contactID {
			t.Fatalf("Unsubscribe(UnsubscribeURL(%q)) = %q, %v", contactID, got, err)
		}
		others("unsubscribe", unsub)
		if bad := alter(unsub); bad != "" {
			if got, err := s.Unsubscribe(bad); err == nil {
				t.Fatalf("unsubscribe token %q altered to %q still passes, for %q", unsub, bad, got)
			}
		}
		if !s.Ours(s.UnsubscribeURL(contactID)) {
			t.Fatalf("Ours(UnsubscribeURL(%q)) is false", contactID)
		}

		prefs := strings.TrimPrefix(s.PreferencesURL(contactID), fuzzBase+"/preferences/")
		if got, err := s.Preferences(prefs); err != nil || got != contactID {
			t.Fatalf("Preferences(PreferencesURL(%q)) = %q, %v", contactID, got, err)
		}
		others("preferences", prefs)
		if bad := alter(prefs); bad != "" {
			if got, err := s.Preferences(bad); err == nil {
				t.Fatalf("preferences token %q altered to %q still passes, for %q", prefs, bad, got)
			}
		}

		open := strings.TrimPrefix(s.OpenURL(messageID), fuzzBase+OpenPrefix)
		got, err := s.Open(open)
		switch {
		case messageID == 0 && err == nil:
			t.Fatalf("Open passed a token for message 0")
		case messageID != 0 && (err != nil || got != messageID):
			t.Fatalf("Open(OpenURL(%d)) = %d, %v", messageID, got, err)
		}
		others("open", open)
		if bad := alter(open); bad != "" {
			if got, err := s.Open(bad); err == nil {
				t.Fatalf("open token %q altered to %q still passes, for %d", open, bad, got)
			}
		}

		click := strings.TrimPrefix(s.ClickURL(messageID, dest, tag), fuzzBase+ClickPrefix)
		c, err := s.Click(click)
		switch {
		case messageID == 0 || !IsWebURL(dest):
			if err == nil {
				t.Fatalf("Click passed %+v, made for message %d and %q", c, messageID, dest)
			}
		case err != nil || c != (Click{MessageID: messageID, URL: dest, Tag: tag}):
			t.Fatalf("Click(ClickURL(%d, %q, %q)) = %+v, %v", messageID, dest, tag, c, err)
		}
		others("click", click)
		if bad := alter(click); bad != "" {
			if c, err := s.Click(bad); err == nil {
				t.Fatalf("click token %q altered to %q still passes, for %+v", click, bad, c)
			}
		}

		// Another secret's tokens never pass.
		other := NewSigner(fuzzSecret+"x", fuzzBase)
		if _, err := s.Unsubscribe(strings.TrimPrefix(other.UnsubscribeURL(contactID), fuzzBase+"/unsubscribe/")); err == nil {
			t.Fatalf("an unsubscribe token made with another secret passes")
		}
		if _, err := s.Open(strings.TrimPrefix(other.OpenURL(messageID), fuzzBase+OpenPrefix)); err == nil {
			t.Fatalf("an open token made with another secret passes")
		}
	})
}
