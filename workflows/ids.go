package workflows

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IDs from the outside world (a userId, a checkout ID) become parts of
// workflow IDs. Temporal's clients send a workflow ID in a gRPC header
// (temporal-resource-id), and a header takes printable ASCII only, so an ID
// like "müller" would be refused on every call. EncodeID makes any valid ID
// fit: printable ASCII stays as it is, except '%', and every other byte is
// written %XX, as in a URL. "müller" becomes "m%C3%BCller"; DecodeID reverses it.
//
// An ID is checked at the door with CheckID before any of this: valid UTF-8,
// no control characters, not blank, at most MaxIDLength characters, and at
// most MaxEncodedIDLength bytes once encoded, so that the longest journey
// workflow ID (journey/<name>/<contact>/<key>) stays under Temporal's
// default limit of 1,000 bytes.
const (
	MaxIDLength        = 191 // characters: what the database columns hold
	MaxEncodedIDLength = 400 // bytes, once encoded for a workflow ID
)

// CheckID says what is wrong with an ID, or returns nil. The message reads
// after the field's name: "userId: contains a control character (U+0000) at
// character 3".
func CheckID(id string) error {
	if !utf8.ValidString(id) {
		return fmt.Errorf("is not valid UTF-8")
	}
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("is blank; send a non-empty ID or leave the field out")
	}
	n := 0
	for _, r := range id {
		n++
		if unicode.IsControl(r) || r == utf8.RuneError {
			return fmt.Errorf("contains a control character (%U) at character %d; IDs take printable text only", r, n)
		}
	}
	if n > MaxIDLength {
		return fmt.Errorf("is %d characters long; the limit is %d", n, MaxIDLength)
	}
	if e := encodedLen(id); e > MaxEncodedIDLength {
		return fmt.Errorf("takes %d bytes in a workflow ID, over the limit of %d; non-ASCII characters take 6 to 12 bytes each there, so use a shorter ID", e, MaxEncodedIDLength)
	}
	return nil
}

// EncodeID writes an ID in the characters a workflow ID may hold.
func EncodeID(id string) string {
	if !needsEncoding(id) {
		return id // the common case: no copy
	}
	var b strings.Builder
	b.Grow(encodedLen(id))
	for i := 0; i < len(id); i++ {
		c := id[i]
		if plain(c) {
			b.WriteByte(c)
		} else {
			const hexDigits = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	return b.String()
}

// DecodeID reverses EncodeID.
func DecodeID(s string) (string, error) { return url.PathUnescape(s) }

// plain bytes stand for themselves in an encoded ID: printable ASCII,
// space included (a header may hold it), but not the escape character.
func plain(c byte) bool { return c >= ' ' && c < 0x7f && c != '%' }

func needsEncoding(id string) bool {
	for i := 0; i < len(id); i++ {
		if !plain(id[i]) {
			return true
		}
	}
	return false
}

func encodedLen(id string) int {
	n := len(id)
	for i := 0; i < len(id); i++ {
		if !plain(id[i]) {
			n += 2
		}
	}
	return n
}
