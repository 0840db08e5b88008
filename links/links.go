// Package links makes and checks the signed links Nudge puts in email, so a
// link works for the one contact it was made for and cannot be forged.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
)

// ErrInvalid is returned for a token that was not made with our secret, or
// was altered.
var ErrInvalid = errors.New("invalid or altered link")

// Signer signs tokens with NUDGE_SECRET.
type Signer struct {
	secret  []byte
	baseURL string
}

// NewSigner signs with secret and builds links under baseURL (NUDGE_PUBLIC_URL).
func NewSigner(secret, baseURL string) *Signer {
	return &Signer{secret: []byte(secret), baseURL: strings.TrimRight(baseURL, "/")}
}

// purpose keeps a token made for one use from being replayed for another.
const (
	purposeUnsubscribe = "unsubscribe"
	purposePreferences = "preferences"
)

// PreferencesURL is the contact's preference page: how often, which topics.
func (s *Signer) PreferencesURL(contactID string) string {
	return s.baseURL + "/preferences/" + s.token(purposePreferences, contactID)
}

// Preferences returns the contact a preferences token was made for.
func (s *Signer) Preferences(token string) (contactID string, err error) {
	return s.verify(purposePreferences, token)
}

// UnsubscribeURL is the contact's one-click unsubscribe link.
func (s *Signer) UnsubscribeURL(contactID string) string {
	return s.baseURL + "/unsubscribe/" + s.token(purposeUnsubscribe, contactID)
}

// Unsubscribe returns the contact an unsubscribe token was made for.
func (s *Signer) Unsubscribe(token string) (contactID string, err error) {
	return s.verify(purposeUnsubscribe, token)
}

func (s *Signer) token(purpose, value string) string {
	return strict.EncodeToString([]byte(value)) + "." + strict.EncodeToString(s.mac(purpose, value))
}

// verify decodes strictly (see strict): a lax decoder ignores the spare
// low bits of the last character, so several strings would pass for one
// token, and changing its last character would not always break it.
func (s *Signer) verify(purpose, token string) (string, error) {
	v, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", ErrInvalid
	}
	value, err1 := decode(v)
	mac, err2 := decode(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(purpose, string(value))) {
		return "", ErrInvalid
	}
	return string(value), nil
}

func (s *Signer) mac(purpose, value string) []byte {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(value))
	return h.Sum(nil)[:16]
}

// BaseURL is where the links point (NUDGE_PUBLIC_URL), without a trailing slash.
func (s *Signer) BaseURL() string { return s.baseURL }
