// Package codec encrypts Temporal payloads with AES-256-GCM, so contacts'
// personal data (emails, phone numbers, traits) is not readable by whoever
// can open the Temporal Web UI or read its database. It plugs into the SDK as
// a PayloadCodec, and the gateway serves it to the UI as a codec endpoint.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

const (
	// MetadataKeyID names the key a payload was encrypted with, so a payload
	// outlives a rotation: any key still listed decrypts it.
	MetadataKeyID = "encryption-key-id"
	// Encoding is the metadata "encoding" of an encrypted payload.
	Encoding = "binary/encrypted"

	keySize  = 32 // AES-256
	maxIDLen = 64 // key IDs ride in every payload; keep them short
)

// Keys are the encryption keys, in order: the first encrypts, every one
// decrypts. Build them with ParseKeys.
type Keys struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// IDs lists the key IDs in order; the first is the one that encrypts.
func (k *Keys) IDs() []string { return append([]string(nil), k.ids...) }

// String names the keys by ID only, so a Keys printed by mistake shows no
// key material.
func (k *Keys) String() string {
	if k == nil || len(k.ids) == 0 {
		return "no keys"
	}
	return fmt.Sprintf("keys %s (%s encrypts)", strings.Join(k.ids, ", "), k.ids[0])
}

// ParseKeys reads "id:base64key,id2:base64key2". Each key is 32 random bytes
// in standard base64 (openssl rand -base64 32). Errors name the entry by its
// position and ID, never by its key.
func ParseKeys(s string) (*Keys, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no keys: use id:base64key, comma-separated, with a 32-byte key from openssl rand -base64 32")
	}
	k := &Keys{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(s, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("entry %d is empty (a stray comma?)", n)
		}
		id, b64, ok := strings.Cut(entry, ":")
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		switch {
		case !ok:
			return nil, fmt.Errorf("entry %d is not id:base64key", n)
		case id == "":
			return nil, fmt.Errorf("entry %d has an empty key ID", n)
		case len(id) > maxIDLen:
			return nil, fmt.Errorf("entry %d: key ID is %d bytes; keep it to %d", n, len(id), maxIDLen)
		case strings.ContainsFunc(id, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }):
			return nil, fmt.Errorf("entry %d: key ID %q has spaces or unprintable characters", n, id)
		case k.aeads[id] != nil:
			return nil, fmt.Errorf("entry %d: key ID %q is listed twice", n, id)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			// Unpadded base64 is a common copy-paste result; accept it too.
			raw, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil {
			return nil, fmt.Errorf("key %q (entry %d) is not standard base64", id, n)
		}
		if len(raw) != keySize {
			return nil, fmt.Errorf("key %q (entry %d) decodes to %d bytes; AES-256 needs exactly %d (openssl rand -base64 32)", id, n, len(raw), keySize)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("key %q (entry %d): %v", id, n, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q (entry %d): %v", id, n, err)
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	return k, nil
}

// Encryption is a PayloadCodec that encrypts each payload whole (data and
// metadata, so even its encoding is hidden) with the first key, and decrypts
// by the key ID a payload carries.
type Encryption struct{ keys *Keys }

// NewEncryption returns the encrypting codec for keys.
func NewEncryption(keys *Keys) *Encryption { return &Encryption{keys: keys} }

var _ converter.PayloadCodec = (*Encryption)(nil)

// Encode encrypts every payload with the first key: nonce || ciphertext,
// with a fresh random 12-byte nonce each time. The key ID is bound to the
// ciphertext as additional data, so relabelling a payload fails it.
func (e *Encryption) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := e.keys.ids[0]
	aead := e.keys.aeads[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("encrypt payload %d: %w", i, err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("encrypt payload %d: nonce: %w", i, err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(id),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(id)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads that carry a key ID. Payloads without one
// pass through unchanged: histories written before encryption was turned on
// still read, and replay.
func (e *Encryption) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		rawID, ok := p.GetMetadata()[MetadataKeyID]
		if !ok {
			out[i] = p
			continue
		}
		id := string(rawID)
		aead := e.keys.aeads[id]
		if aead == nil {
			return payloads, fmt.Errorf("decrypt payload %d: key ID %q is not among NUDGE_ENCRYPTION_KEYS (known: %s)",
				i, id, strings.Join(e.keys.ids, ", "))
		}
		if len(p.Data) < aead.NonceSize()+aead.Overhead() {
			return payloads, fmt.Errorf("decrypt payload %d: %d bytes is too short to be encrypted with key %q", i, len(p.Data), id)
		}
		nonce, sealed := p.Data[:aead.NonceSize()], p.Data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, rawID)
		if err != nil {
			return payloads, fmt.Errorf("decrypt payload %d with key %q: it was altered or encrypted with another key of that ID", i, id)
		}
		inner := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, inner); err != nil {
			return payloads, fmt.Errorf("decrypt payload %d with key %q: not a payload inside: %w", i, id, err)
		}
		out[i] = inner
	}
	return out, nil
}

// Codecs is the chain Nudge uses, in the SDK's order: on encode the last
// runs first, so payloads are compressed (zlib, when it saves space), then
// encrypted; ciphertext would not compress.
func Codecs(keys *Keys) []converter.PayloadCodec {
	return []converter.PayloadCodec{NewEncryption(keys), converter.NewZlibCodec(converter.ZlibCodecOptions{})}
}

// DataConverter is the SDK's default data converter with payloads
// compressed and encrypted; give it to every client and replayer.
func DataConverter(keys *Keys) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), Codecs(keys)...)
}

// HTTPHandler serves the codec protocol the Temporal UI and CLI speak: a
// POST to a path ending in /encode or /decode with Payloads as JSON.
func HTTPHandler(keys *Keys) http.Handler {
	return converter.NewPayloadCodecHTTPHandler(Codecs(keys)...)
}
