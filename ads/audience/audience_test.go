package audience

import (
	"strings"
	"testing"
)

// Meta's own published examples: these exact hashes are what Meta matches.
func TestMetaPublishedVectors(t *testing.T) {
	const (
		mary  = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
		phone = "1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e"
	)
	if got := Hash("mary@example.com"); got != mary {
		t.Errorf("sha256(mary@example.com) = %s, want %s", got, mary)
	}
	if got := Hash("15559876543"); got != phone {
		t.Errorf("sha256(15559876543) = %s, want %s", got, phone)
	}
	for _, raw := range []string{"mary@example.com", "  Mary@Example.COM\t", "MARY@EXAMPLE.COM"} {
		if got, err := Meta.HashEmail(raw); err != nil || got != mary {
			t.Errorf("Meta.HashEmail(%q) = %s, %v; want %s", raw, got, err, mary)
		}
	}
	for _, raw := range []string{"+15559876543", "+1 (555) 987-6543", " +1.555.987.6543 ", "0015559876543"} {
		if got, err := Meta.HashPhone(raw); err != nil || got != phone {
			t.Errorf("Meta.HashPhone(%q) = %s, %v; want %s", raw, got, err, phone)
		}
	}
}

func TestNormalizedForms(t *testing.T) {
	for _, tc := range []struct {
		p         Platform
		email     string
		want      string
		phone     string
		wantPhone string
	}{
		// Meta keeps a Gmail address as written, lowercased.
		{Meta, " Jane.Doe+Shop@GMail.com ", "jane.doe+shop@gmail.com", "+44 20 7946 0958", "442079460958"},
		// Google drops the dots and the +tag for gmail.com and googlemail.com...
		{Google, " Jane.Doe+Shop@GMail.com ", "janedoe@gmail.com", "+44 20 7946 0958", "+442079460958"},
		{Google, "j.o.h.n@googlemail.com", "john@googlemail.com", "", ""},
		// ...and for other domains keeps them, as Google's own example does.
		{Google, "User.Name+NYC@Example.com", "user.name+nyc@example.com", "+1 800 555 0100", "+18005550100"},
		// Google removes whitespace inside; Meta refuses it (below).
		{Google, "jane doe@example.com", "janedoe@example.com", "0018005550100", "+18005550100"},
	} {
		got, err := tc.p.Email(tc.email)
		if err != nil || got != tc.want {
			t.Errorf("%s.Email(%q) = %q, %v; want %q", tc.p, tc.email, got, err, tc.want)
		}
		if tc.wantPhone == "" {
			continue
		}
		got, err = tc.p.Phone(tc.phone)
		if err != nil || got != tc.wantPhone {
			t.Errorf("%s.Phone(%q) = %q, %v; want %q", tc.p, tc.phone, got, err, tc.wantPhone)
		}
	}
	h, err := Google.HashEmail("Jane.Doe+shop@gmail.com")
	if err != nil || h != Hash("janedoe@gmail.com") {
		t.Errorf("Google.HashEmail = %s, %v", h, err)
	}
	h, err = Google.HashPhone("+1 555 987 6543")
	if err != nil || h != Hash("+15559876543") {
		t.Errorf("Google.HashPhone = %s, %v", h, err)
	}
}

func TestBadInputSaysWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		p     Platform
		email bool
		in    string
		want  string
	}{
		{Meta, true, "", "email address is empty"},
		{Google, true, "   ", "email address is empty"},
		{Meta, true, "mary.example.com", `email address "mary.example.com" has no @`},
		{Meta, true, "@example.com", "has nothing before the @"},
		{Google, true, "mary@", "has no domain after the @"},
		{Meta, true, "a@b@example.com", "has more than one @"},
		{Meta, true, "mary@localhost", `has a domain "localhost" that is not a host name`},
		{Meta, true, "ma ry@example.com", "has a space inside"},
		{Google, true, "+tag@gmail.com", "has no mailbox name"},
		{Meta, false, "", "phone number is empty"},
		{Google, false, "(555) 987-6543", `phone number "(555) 987-6543" has no country code: write it like +15559876543`},
		{Meta, false, "15559876543", "has no country code"},
		{Meta, false, "+1 555", "has too few digits (4)"},
		{Google, false, "+1234567890123456", "has 16 digits; E.164 allows at most 15"},
		{Google, false, "+1 555 CALL NOW", `has a letter ('C')`},
		{Meta, false, "+1 555/987/6543", `has a '/'`},
		{Google, false, "+044 20 7946 0958", "starts its country code with 0"},
		{Platform("tiktok"), true, "mary@example.com", `no normalization rules for ad platform "tiktok"`},
	} {
		var err error
		if tc.email {
			_, err = tc.p.HashEmail(tc.in)
		} else {
			_, err = tc.p.HashPhone(tc.in)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: err = %v, want it to contain %q", tc.p, tc.in, err, tc.want)
		}
	}
}

func TestIsHash(t *testing.T) {
	if !IsHash(Hash("x")) {
		t.Error("a hash is not a hash")
	}
	for _, s := range []string{"", "mary@example.com", strings.ToUpper(Hash("x")), Hash("x")[:63]} {
		if IsHash(s) {
			t.Errorf("IsHash(%q) = true", s)
		}
	}
}
