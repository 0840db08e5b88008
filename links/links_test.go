package links

import (
	"strings"
	"testing"
)

func TestUnsubscribeRoundTrip(t *testing.T) {
	s := NewSigner("0123456789abcdef-secret", "https://nudge.example.com/")
	u := s.UnsubscribeURL("user/42 é")
	const prefix = "https://nudge.example.com/unsubscribe/"
	if !strings.HasPrefix(u, prefix) {
		t.Fatalf("url = %q, want prefix %q", u, prefix)
	}
	id, err := s.Unsubscribe(strings.TrimPrefix(u, prefix))
	if err != nil || id != "user/42 é" {
		t.Fatalf("Unsubscribe = %q, %v; want user/42 é", id, err)
	}
}

func TestUnsubscribeRejectsForgeries(t *testing.T) {
	s := NewSigner("0123456789abcdef-secret", "https://x")
	good := strings.TrimPrefix(s.UnsubscribeURL("u1"), "https://x/unsubscribe/")
	other := strings.TrimPrefix(NewSigner("another-secret-0123456", "https://x").UnsubscribeURL("u1"), "https://x/unsubscribe/")
	swapped := strings.TrimPrefix(s.UnsubscribeURL("u2"), "https://x/unsubscribe/")
	value, _, _ := strings.Cut(swapped, ".")
	_, sig, _ := strings.Cut(good, ".")
	for name, tok := range map[string]string{
		"other secret":      other,
		"value swapped":     value + "." + sig,
		"no signature":      value,
		"truncated":         good[:len(good)-3],
		"not base64":        "!!!.???",
		"empty":             "",
		"signature for u1.": good + "x",
	} {
		if id, err := s.Unsubscribe(tok); err != ErrInvalid {
			t.Errorf("%s: Unsubscribe(%q) = %q, %v; want ErrInvalid", name, tok, id, err)
		}
	}
}
