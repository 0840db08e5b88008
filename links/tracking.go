package links

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"strings"
)

// Tracking links: an open pixel and a click redirect per email link.
//
// A token is base64url(payload) "." base64url(MAC), both unpadded, where
// MAC is the first 16 bytes of HMAC-SHA256(NUDGE_SECRET, purpose 0x00
// payload) (the same MAC as unsubscribe links, under purposes of its own,
// so no kind of token passes for another). Payloads are small binaries:
//
//	open:  uvarint(message ID)
//	click: uvarint(message ID) uvarint(len(tag)) tag URL
//
// An open token is about 27 characters; a click token is the URL's length
// times 4/3 plus about 30. The destination of a click lives only inside the
// signed payload, so the redirect can go nowhere we did not put in an email.
const (
	purposeOpen  = "track-open"
	purposeClick = "track-click"

	// OpenPrefix and ClickPrefix are the paths the tracking links live under.
	OpenPrefix  = "/t/o/"
	ClickPrefix = "/t/c/"
	// openSuffix makes the pixel's URL look like the image it is, which some
	// mail clients and proxies want.
	openSuffix = ".gif"
)

// strict decoding rejects the non-canonical encodings (stray low bits in
// the last character) that would otherwise make several tokens of one value.
var strict = base64.RawURLEncoding.Strict()

// decode reads one part of a token. Even a strict decoder skips \r and \n,
// so "ab\rc" would pass for "abc": a token holds neither, and one that
// does is refused, so that only the signer's own string passes.
func decode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, ErrInvalid
	}
	return strict.DecodeString(s)
}

// Click is what a click token carries.
type Click struct {
	MessageID uint64
	URL       string // where the link goes: an absolute http or https URL
	Tag       string // the link's data-tag, e.g. "pricing"; may be empty
}

// OpenURL is the open pixel's address for a message:
// PublicURL/t/o/<token>.gif.
func (s *Signer) OpenURL(messageID uint64) string {
	return s.baseURL + OpenPrefix + s.seal(purposeOpen, binary.AppendUvarint(nil, messageID)) + openSuffix
}

// Open returns the message an open token was made for. The ".gif" the URL
// ends in may be left on or off.
func (s *Signer) Open(token string) (messageID uint64, err error) {
	payload, err := s.unseal(purposeOpen, strings.TrimSuffix(token, openSuffix))
	if err != nil {
		return 0, err
	}
	id, n := binary.Uvarint(payload)
	if n <= 0 || n != len(payload) || id == 0 {
		return 0, ErrInvalid
	}
	return id, nil
}

// ClickURL is the tracked address of a link to dest in a message, with an
// optional tag naming the link: PublicURL/t/c/<token>.
func (s *Signer) ClickURL(messageID uint64, dest, tag string) string {
	b := binary.AppendUvarint(make([]byte, 0, 2*binary.MaxVarintLen64+len(tag)+len(dest)), messageID)
	b = binary.AppendUvarint(b, uint64(len(tag)))
	b = append(b, tag...)
	b = append(b, dest...)
	return s.baseURL + ClickPrefix + s.seal(purposeClick, b)
}

// Click returns what a click token carries. A token whose URL is not an
// absolute http or https URL is refused too, so the redirect it leads to
// can only be one of those.
func (s *Signer) Click(token string) (Click, error) {
	payload, err := s.unseal(purposeClick, token)
	if err != nil {
		return Click{}, err
	}
	id, n := binary.Uvarint(payload)
	if n <= 0 || id == 0 {
		return Click{}, ErrInvalid
	}
	payload = payload[n:]
	tagLen, n := binary.Uvarint(payload)
	if n <= 0 || tagLen > uint64(len(payload)-n) {
		return Click{}, ErrInvalid
	}
	payload = payload[n:]
	c := Click{MessageID: id, Tag: string(payload[:tagLen]), URL: string(payload[tagLen:])}
	if !IsWebURL(c.URL) {
		return Click{}, ErrInvalid
	}
	return c, nil
}

// IsWebURL reports whether u is an absolute http or https URL with a host:
// the only kind of link Nudge tracks and redirects to.
func IsWebURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil {
		return false
	}
	return p.Scheme == "http" || p.Scheme == "https"
}

// ownPaths are where the links tracking leaves alone live on the gateway:
// unsubscribing is no engagement, and a tracking link is tracked already.
// The preference page is tracked like any link: visiting it is engagement.
var ownPaths = []string{"/unsubscribe/", OpenPrefix, ClickPrefix}

// Ours reports whether u is an unsubscribe, open or click link this signer
// made, which tracking must leave as it is. Only those paths count:
// NUDGE_SITE_URL may share the gateway's host.
func (s *Signer) Ours(u string) bool {
	if s.baseURL == "" {
		return false
	}
	rest, ok := strings.CutPrefix(u, s.baseURL)
	if !ok {
		return false
	}
	for _, p := range ownPaths {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	return false
}

func (s *Signer) seal(purpose string, payload []byte) string {
	return strict.EncodeToString(payload) + "." + strict.EncodeToString(s.mac(purpose, string(payload)))
}

func (s *Signer) unseal(purpose, token string) ([]byte, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || p == "" {
		return nil, ErrInvalid
	}
	payload, err1 := decode(p)
	mac, err2 := decode(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(purpose, string(payload))) {
		return nil, ErrInvalid
	}
	return payload, nil
}
