package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// newKey returns a fresh "id:base64" entry.
func newKey(t *testing.T, id string) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b)
}

func mustKeys(t *testing.T, s string) *Keys {
	t.Helper()
	k, err := ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type contact struct {
	Email  string            `json:"email"`
	Phone  string            `json:"phone"`
	Traits map[string]string `json:"traits"`
}

var sam = contact{Email: "sam.lee@acme.example", Phone: "+15551234567", Traits: map[string]string{"first_name": "Sam"}}

func TestRoundTrip(t *testing.T) {
	dc := DataConverter(mustKeys(t, newKey(t, "k1")))
	payloads, err := dc.ToPayloads(sam, "hello", 42)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range payloads.Payloads {
		if got := string(p.Metadata[converter.MetadataEncoding]); got != Encoding {
			t.Errorf("payload %d: encoding %q, want %q", i, got, Encoding)
		}
		if got := string(p.Metadata[MetadataKeyID]); got != "k1" {
			t.Errorf("payload %d: key ID %q, want k1", i, got)
		}
	}
	var c contact
	var s string
	var n int
	if err := dc.FromPayloads(payloads, &c, &s, &n); err != nil {
		t.Fatal(err)
	}
	if c.Email != sam.Email || c.Phone != sam.Phone || c.Traits["first_name"] != "Sam" || s != "hello" || n != 42 {
		t.Errorf("round trip = %+v, %q, %d", c, s, n)
	}
}

// The codec chain restores the payload exactly, metadata included: the
// codec endpoint hands the Temporal UI what the SDK first produced.
func TestRoundTripRestoresPayloadExactly(t *testing.T) {
	keys := mustKeys(t, newKey(t, "k1"))
	orig, err := converter.GetDefaultDataConverter().ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	big := &commonpb.Payload{ // compresses, so zlib takes part
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte("json/plain")},
		Data:     []byte(`"` + strings.Repeat("sam.lee@acme.example ", 200) + `"`),
	}
	in := []*commonpb.Payload{orig, big}
	codecs := Codecs(keys)
	enc := in
	for i := len(codecs) - 1; i >= 0; i-- {
		if enc, err = codecs[i].Encode(enc); err != nil {
			t.Fatal(err)
		}
	}
	dec := enc
	for _, c := range codecs {
		if dec, err = c.Decode(dec); err != nil {
			t.Fatal(err)
		}
	}
	for i := range in {
		if !proto.Equal(in[i], dec[i]) {
			t.Errorf("payload %d: decoded %v, want %v", i, dec[i], in[i])
		}
	}
	if len(enc[1].Data) >= len(big.Data) {
		t.Errorf("a repetitive payload was not compressed before encryption: %d bytes from %d", len(enc[1].Data), len(big.Data))
	}
}

func TestCiphertextHidesPlaintext(t *testing.T) {
	dc := DataConverter(mustKeys(t, newKey(t, "k1")))
	p, err := dc.ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := proto.Marshal(p) // everything stored, metadata included
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{sam.Email, "acme.example", sam.Phone, "first_name", "json/plain"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the encrypted payload contains %q", secret)
		}
	}
	// A fresh nonce each time: the same value never encrypts the same way.
	p2, err := dc.ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p.Data, p2.Data) {
		t.Error("the same value encrypted twice gave the same ciphertext")
	}
}

// Rotation: a payload encrypted while "old" was first still decrypts after
// "new" is put in front, and new payloads use "new".
func TestRotation(t *testing.T) {
	oldKey, newerKey := newKey(t, "old"), newKey(t, "new")
	before := DataConverter(mustKeys(t, oldKey))
	p, err := before.ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	after := DataConverter(mustKeys(t, newerKey+","+oldKey))
	var c contact
	if err := after.FromPayload(p, &c); err != nil {
		t.Fatal(err)
	}
	if c.Email != sam.Email {
		t.Errorf("decrypted after rotation = %+v", c)
	}
	p2, err := after.ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p2.Metadata[MetadataKeyID]); got != "new" {
		t.Errorf("after rotation payloads are encrypted with %q, want new", got)
	}
	// Once "old" is dropped, its payloads no longer read.
	if err := DataConverter(mustKeys(t, newerKey)).FromPayload(p, &c); err == nil || !strings.Contains(err.Error(), `"old"`) {
		t.Errorf("decrypt with the old key gone: err = %v, want it to name key ID \"old\"", err)
	}
}

func TestUnknownKeyID(t *testing.T) {
	p, err := DataConverter(mustKeys(t, newKey(t, "2024-01"))).ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	var c contact
	err = DataConverter(mustKeys(t, newKey(t, "2025-06"))).FromPayload(p, &c)
	if err == nil || !strings.Contains(err.Error(), `key ID "2024-01"`) {
		t.Errorf("err = %v, want it to name key ID \"2024-01\"", err)
	}
}

// A key with the right ID but other bytes (a mistyped key) fails, too.
func TestWrongKeyWithSameID(t *testing.T) {
	p, err := DataConverter(mustKeys(t, newKey(t, "k1"))).ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	var c contact
	if err := DataConverter(mustKeys(t, newKey(t, "k1"))).FromPayload(p, &c); err == nil {
		t.Error("a payload decrypted with a different key of the same ID")
	}
}

func TestTamperedCiphertextFails(t *testing.T) {
	// One key under two IDs, so relabelling k1's payload as k2 would
	// decrypt were the key ID not bound to the ciphertext.
	secret := strings.TrimPrefix(newKey(t, ""), ":")
	keys := mustKeys(t, "k1:"+secret+",k2:"+secret)
	dc := DataConverter(keys)
	p, err := dc.ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	for name, tamper := range map[string]func(*commonpb.Payload){
		"flipped bit":   func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 },
		"flipped tag":   func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 },
		"flipped nonce": func(p *commonpb.Payload) { p.Data[0] ^= 1 },
		"truncated":     func(p *commonpb.Payload) { p.Data = p.Data[:len(p.Data)-1] },
		"too short":     func(p *commonpb.Payload) { p.Data = p.Data[:5] },
		"relabelled":    func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("k2") },
	} {
		t.Run(name, func(t *testing.T) {
			bad := proto.Clone(p).(*commonpb.Payload)
			tamper(bad)
			var c contact
			if err := dc.FromPayload(bad, &c); err == nil {
				t.Error("a tampered payload decoded")
			}
		})
	}
	var c contact
	if err := dc.FromPayload(p, &c); err != nil || c.Email != sam.Email {
		t.Errorf("the untampered payload = %+v, %v", c, err)
	}
}

// Histories written before encryption was turned on hold plain payloads:
// they pass through decode untouched.
func TestPlainPayloadPassesThrough(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload(sam)
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewEncryption(mustKeys(t, newKey(t, "k1"))).Decode([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != plain {
		t.Errorf("a plain payload was changed: %v", out[0])
	}
	var c contact
	if err := DataConverter(mustKeys(t, newKey(t, "k1"))).FromPayload(plain, &c); err != nil || c.Email != sam.Email {
		t.Errorf("plain payload through the data converter = %+v, %v", c, err)
	}
}

func TestParseKeys(t *testing.T) {
	a, b := newKey(t, "a"), newKey(t, "b")
	k, err := ParseKeys(" " + a + " , " + b + " ")
	if err != nil {
		t.Fatal(err)
	}
	if ids := k.IDs(); len(ids) != 2 || ids[0] != "a" || ids[1] != "b" {
		t.Errorf("IDs = %v, want [a b]", ids)
	}
	if s := k.String(); s != "keys a, b (a encrypts)" {
		t.Errorf("String = %q", s)
	}
	// Unpadded base64 is accepted.
	if _, err := ParseKeys(strings.TrimRight(a, "=")); err != nil {
		t.Errorf("unpadded key: %v", err)
	}
}

func TestParseKeysErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	good := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for name, tc := range map[string]struct{ in, want string }{
		"empty":         {"", "no keys"},
		"blank":         {"  ", "no keys"},
		"no colon":      {good, "entry 1 is not id:base64key"},
		"empty id":      {":" + good, "entry 1 has an empty key ID"},
		"stray comma":   {"a:" + good + ",", "entry 2 is empty"},
		"short key":     {"a:" + good + ",b:" + short, `key "b" (entry 2) decodes to 16 bytes; AES-256 needs exactly 32`},
		"long key":      {"a:" + base64.StdEncoding.EncodeToString(make([]byte, 33)), `key "a" (entry 1) decodes to 33 bytes`},
		"not base64":    {"a:not*base64!", `key "a" (entry 1) is not standard base64`},
		"duplicate id":  {"a:" + good + ",a:" + good, `entry 2: key ID "a" is listed twice`},
		"space in id":   {"my key:" + good, `entry 1: key ID "my key" has spaces or unprintable characters`},
		"control in id": {"a\x01:" + good, "has spaces or unprintable characters"},
		"long id":       {strings.Repeat("x", 65) + ":" + good, "entry 1: key ID is 65 bytes; keep it to 64"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKeys(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			// An error never repeats key material.
			if strings.Contains(err.Error(), good) || strings.Contains(err.Error(), short) {
				t.Errorf("the error shows a key: %v", err)
			}
		})
	}
}
