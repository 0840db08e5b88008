package links

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

const base = "https://nudge.example.com"

func tokenOf(t *testing.T, u, prefix string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(u, base+prefix)
	if !ok {
		t.Fatalf("%s does not start with %s%s", u, base, prefix)
	}
	return tok
}

func TestOpenRoundTrip(t *testing.T) {
	s := NewSigner("secret-one", base+"/")
	for _, id := range []uint64{1, 127, 128, 300, 1 << 40, ^uint64(0)} {
		u := s.OpenURL(id)
		if !strings.HasSuffix(u, ".gif") {
			t.Fatalf("open URL %s does not end in .gif", u)
		}
		tok := tokenOf(t, u, "/t/o/")
		got, err := s.Open(tok)
		if err != nil || got != id {
			t.Fatalf("Open(%s) = %d, %v; want %d", tok, got, err, id)
		}
		// With or without the .gif.
		if got, err := s.Open(strings.TrimSuffix(tok, ".gif")); err != nil || got != id {
			t.Fatalf("Open without .gif = %d, %v", got, err)
		}
	}
	if n := len(tokenOf(t, s.OpenURL(123456), "/t/o/")); n > 40 {
		t.Errorf("open token is %d characters; want it compact", n)
	}
}

func TestClickRoundTrip(t *testing.T) {
	s := NewSigner("secret-one", base)
	cases := []Click{
		{MessageID: 42, URL: "https://acme.example.com/pricing?plan=pro&utm_source=email#top", Tag: "pricing"},
		{MessageID: 7, URL: "http://acme.example.com/"},
		{MessageID: 1 << 33, URL: "https://acme.example.com/caf%C3%A9?q=\"quoted\"&x='y'", Tag: "héllo wörld"},
	}
	for _, want := range cases {
		tok := tokenOf(t, s.ClickURL(want.MessageID, want.URL, want.Tag), "/t/c/")
		if strings.ContainsAny(tok, "/?#&=+ ") {
			t.Fatalf("token %q needs escaping in a URL", tok)
		}
		got, err := s.Click(tok)
		if err != nil || got != want {
			t.Fatalf("Click = %+v, %v; want %+v", got, err, want)
		}
	}
}

func TestTrackingTokensRefuseTampering(t *testing.T) {
	s := NewSigner("secret-one", base)
	open := tokenOf(t, s.OpenURL(42), "/t/o/")
	open = strings.TrimSuffix(open, ".gif")
	click := tokenOf(t, s.ClickURL(42, "https://acme.example.com/a", "cta"), "/t/c/")

	alter := func(tok string, part int) string {
		parts := strings.SplitN(tok, ".", 2)
		b, err := strict.DecodeString(parts[part])
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-1] ^= 1
		parts[part] = strict.EncodeToString(b)
		return strings.Join(parts, ".")
	}
	payloadOf := func(tok string) string { p, _, _ := strings.Cut(tok, "."); return p }
	macOf := func(tok string) string { _, m, _ := strings.Cut(tok, "."); return m }

	// Another message's payload under this MAC; a swapped URL under this MAC.
	otherOpen := strings.TrimSuffix(tokenOf(t, s.OpenURL(43), "/t/o/"), ".gif")
	evil := binary.AppendUvarint(nil, 42)
	evil = binary.AppendUvarint(evil, 3)
	evil = append(evil, "ctahttps://evil.example/"...)
	swapped := strict.EncodeToString(evil) + "." + macOf(click)

	other := NewSigner("secret-two", base)
	unsub := strings.TrimPrefix(s.UnsubscribeURL("u1"), base+"/unsubscribe/")

	opens := map[string]string{
		"altered payload":      alter(open, 0),
		"altered MAC":          alter(open, 1),
		"another message":      payloadOf(otherOpen) + "." + macOf(open),
		"click token":          click,
		"unsubscribe token":    unsub,
		"other secret":         strings.TrimSuffix(tokenOf(t, other.OpenURL(42), "/t/o/"), ".gif"),
		"cut short":            open[:len(open)-2],
		"no MAC":               payloadOf(open),
		"empty":                "",
		"non-canonical base64": payloadOf(open) + "." + macOf(open)[:len(macOf(open))-1] + "B",
	}
	for name, tok := range opens {
		if _, err := s.Open(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("open, %s (%q): err = %v, want ErrInvalid", name, tok, err)
		}
	}
	clicks := map[string]string{
		"altered payload":   alter(click, 0),
		"altered MAC":       alter(click, 1),
		"swapped URL":       swapped,
		"open token":        open,
		"unsubscribe token": unsub,
		"other secret":      tokenOf(t, other.ClickURL(42, "https://acme.example.com/a", "cta"), "/t/c/"),
		"cut short":         click[:len(click)-2],
		"no MAC":            payloadOf(click),
	}
	for name, tok := range clicks {
		if _, err := s.Click(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("click, %s: err = %v, want ErrInvalid", name, err)
		}
	}
	// And an open token is no unsubscribe token.
	if _, err := s.Unsubscribe(open); !errors.Is(err, ErrInvalid) {
		t.Errorf("open token passed as an unsubscribe token: %v", err)
	}
}

func TestClickRefusesNonWebDestinations(t *testing.T) {
	s := NewSigner("secret-one", base)
	for _, dest := range []string{"javascript:alert(1)", "mailto:a@example.com", "/relative", "//evil.example/x", "https://user@evil.example/", ""} {
		tok := tokenOf(t, s.ClickURL(1, dest, ""), "/t/c/")
		if _, err := s.Click(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("click to %q: err = %v, want ErrInvalid", dest, err)
		}
	}
}

func TestOurs(t *testing.T) {
	s := NewSigner("secret-one", base)
	for u, want := range map[string]bool{
		s.UnsubscribeURL("u1"):                 true,
		base + "/preferences/abc.def":          false,
		s.OpenURL(1):                           true,
		s.ClickURL(1, "https://a.example", ""): true,
		base + "/pricing":                      false,
		"https://acme.example.com/t/c/x":       false,
	} {
		if got := s.Ours(u); got != want {
			t.Errorf("Ours(%s) = %v, want %v", u, got, want)
		}
	}
}
