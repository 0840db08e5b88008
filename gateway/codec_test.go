package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/links"
)

const uiOrigin = "http://localhost:8233"

// newCodecEnv is a gateway with NUDGE_ENCRYPTION_KEYS set.
func newCodecEnv(t *testing.T) (*env, *codec.Keys) {
	t.Helper()
	e := newEnv(t)
	keys, err := codec.ParseKeys("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	require.NoError(t, err)
	e.gw.Config.EncryptionKeys = keys
	e.gw.Config.TemporalUIOrigin = uiOrigin
	e.h = e.gw.Handler()
	return e, keys
}

// plainPayloads are what the SDK writes for a contact without encryption.
func plainPayloads(t *testing.T) *commonpb.Payloads {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(
		map[string]any{"email": "ada@example.com", "phone": "+15551234567"}, "Signed Up")
	require.NoError(t, err)
	return p
}

func payloadsJSON(t *testing.T, p *commonpb.Payloads) string {
	t.Helper()
	b, err := protojson.Marshal(p)
	require.NoError(t, err)
	return string(b)
}

func readPayloads(t *testing.T, body string) *commonpb.Payloads {
	t.Helper()
	var p commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(body), &p), "body: %s", body)
	return &p
}

func TestCodecNeedsAnAdminKey(t *testing.T) {
	e, keys := newCodecEnv(t)
	enc, err := codec.DataConverter(keys).ToPayloads("ada@example.com")
	require.NoError(t, err)
	body := payloadsJSON(t, enc)
	for _, path := range []string{"/codec/decode", "/codec/encode"} {
		rec := e.do(http.MethodPost, path, body, "Content-Type: application/json")
		requireJSON(t, rec, http.StatusUnauthorized, `{"success":false,"error":"missing admin key: send Authorization: Bearer <admin key>, `+
			`or sign this browser in at http://gateway.test/codec/login and tick Include cross-origin credentials in the Temporal UI's codec settings"}`)
		rec = e.do(http.MethodPost, path, body, "Content-Type: application/json", bearer("nope"))
		requireJSON(t, rec, http.StatusUnauthorized, `{"success":false,"error":"`+msgBadAdminKey+`"}`)
		rec = e.do(http.MethodPost, path, body, "Content-Type: application/json", bearer(writeKey))
		requireJSON(t, rec, http.StatusForbidden, `{"success":false,"error":"`+msgWriteAdmin+`"}`)
		rec = e.do(http.MethodPost, path, body, "Content-Type: application/json", basic(writeKey))
		requireJSON(t, rec, http.StatusForbidden, `{"success":false,"error":"`+msgWriteAdmin+`"}`)
		require.NotContains(t, rec.Body.String(), "ada@example.com")
	}
}

// What the worker and gateway write to Temporal, the endpoint decodes for
// the UI, exactly as the SDK first produced it.
func TestCodecDecodesForTheUI(t *testing.T) {
	e, keys := newCodecEnv(t)
	plain := plainPayloads(t)
	enc, err := codec.DataConverter(keys).ToPayloads(map[string]any{"email": "ada@example.com", "phone": "+15551234567"}, "Signed Up")
	require.NoError(t, err)
	require.NotContains(t, payloadsJSON(t, enc), "ada@example.com")

	rec := e.do(http.MethodPost, "/codec/decode", payloadsJSON(t, enc),
		"Content-Type: application/json", "X-Namespace: default", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	got := readPayloads(t, rec.Body.String())
	require.Len(t, got.Payloads, len(plain.Payloads))
	for i := range plain.Payloads {
		require.True(t, proto.Equal(plain.Payloads[i], got.Payloads[i]), "payload %d: got %v, want %v", i, got.Payloads[i], plain.Payloads[i])
	}

	// Plain payloads, from histories written before encryption, come back as they are.
	rec = e.do(http.MethodPost, "/codec/decode", payloadsJSON(t, plain), "Content-Type: application/json", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body.String())
	got = readPayloads(t, rec.Body.String())
	for i := range plain.Payloads {
		require.True(t, proto.Equal(plain.Payloads[i], got.Payloads[i]), "plain payload %d changed: %v", i, got.Payloads[i])
	}
}

// /codec/encode encrypts with the first key, as the worker would (the UI
// uses it to send signals and queries with arguments).
func TestCodecEncodes(t *testing.T) {
	e, keys := newCodecEnv(t)
	plain := plainPayloads(t)
	rec := e.do(http.MethodPost, "/codec/encode", payloadsJSON(t, plain), "Content-Type: application/json", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body.String())
	require.NotContains(t, rec.Body.String(), "ada@example.com")
	enc := readPayloads(t, rec.Body.String())
	for _, p := range enc.Payloads {
		require.Equal(t, "k1", string(p.Metadata[codec.MetadataKeyID]))
	}
	var v map[string]any
	var name string
	require.NoError(t, codec.DataConverter(keys).FromPayloads(enc, &v, &name))
	require.Equal(t, "ada@example.com", v["email"])
	require.Equal(t, "Signed Up", name)
}

// A payload that does not decrypt is the caller's bad request, and the error
// names the key ID.
func TestCodecRefusesWhatItCannotDecrypt(t *testing.T) {
	e, _ := newCodecEnv(t)
	other, err := codec.ParseKeys("retired:AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	require.NoError(t, err)
	enc, err := codec.DataConverter(other).ToPayloads("ada@example.com")
	require.NoError(t, err)
	rec := e.do(http.MethodPost, "/codec/decode", payloadsJSON(t, enc), "Content-Type: application/json", bearer(adminKey))
	require.Equal(t, http.StatusBadRequest, rec.Code, "body: %s", rec.Body.String())
	require.Contains(t, rec.Body.String(), `key ID "retired"`)

	rec = e.do(http.MethodPost, "/codec/decode", `{"payloads": 12}`, "Content-Type: application/json", bearer(adminKey))
	require.Equal(t, http.StatusBadRequest, rec.Code, "body: %s", rec.Body.String())
}

func TestCodecOffWithoutKeys(t *testing.T) {
	e := newEnv(t)
	for _, key := range []string{"", bearer(adminKey)} {
		headers := []string{"Content-Type: application/json"}
		if key != "" {
			headers = append(headers, key)
		}
		rec := e.do(http.MethodPost, "/codec/decode", payloadsJSON(t, plainPayloads(t)), headers...)
		require.Equal(t, http.StatusNotFound, rec.Code, "body: %s", rec.Body.String())
		var body errorBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Contains(t, body.Error, "NUDGE_ENCRYPTION_KEYS is not set")
	}
}

func TestCodecCORS(t *testing.T) {
	e, _ := newCodecEnv(t)
	preflight := func(origin string) http.Header {
		rec := e.do(http.MethodOptions, "/codec/decode", "", "Origin: "+origin,
			"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization,content-type,x-namespace")
		require.Equal(t, http.StatusNoContent, rec.Code, "body: %s", rec.Body.String())
		return rec.Header()
	}
	h := preflight(uiOrigin)
	require.Equal(t, uiOrigin, h.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", h.Get("Access-Control-Allow-Credentials"))
	for _, want := range []string{"Authorization", "Content-Type", "X-Namespace"} {
		require.Contains(t, h.Get("Access-Control-Allow-Headers"), want)
	}
	require.Contains(t, h.Get("Access-Control-Allow-Methods"), "POST")

	for _, origin := range []string{"http://evil.example", "http://localhost:8234", "https://localhost:8233"} {
		h := preflight(origin)
		for name := range h {
			require.False(t, strings.HasPrefix(name, "Access-Control-"), "origin %s got %s", origin, name)
		}
	}

	// The answer itself, an error included, is readable by the UI only.
	rec := e.do(http.MethodPost, "/codec/decode", "{}", "Origin: "+uiOrigin, "Content-Type: application/json")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, uiOrigin, rec.Header().Get("Access-Control-Allow-Origin"))
	rec = e.do(http.MethodPost, "/codec/decode", "{}", "Origin: "+uiOrigin, "Content-Type: application/json", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, uiOrigin, rec.Header().Get("Access-Control-Allow-Origin"))
	rec = e.do(http.MethodPost, "/codec/decode", "{}", "Origin: http://evil.example", "Content-Type: application/json", bearer(adminKey))
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
}

// The Temporal UI can send cookies but not a key: an operator signs the
// browser in with an admin key at /codec/login, and the UI's calls carry the
// session cookie. Without it, or with a forged, expired or revoked one,
// decoding is refused.
func TestCodecSessionForTheUI(t *testing.T) {
	e, keys := newCodecEnv(t)
	enc, err := codec.DataConverter(keys).ToPayloads("ada@example.com")
	require.NoError(t, err)
	body := payloadsJSON(t, enc)
	decode := func(cookie string) *httptest.ResponseRecorder {
		return e.do(http.MethodPost, "/codec/decode", body, "Content-Type: application/json", "Origin: "+uiOrigin, "Cookie: "+cookie)
	}
	login := func(key string) *httptest.ResponseRecorder {
		return e.do(http.MethodPost, "/codec/login", "key="+url.QueryEscape(key), "Content-Type: application/x-www-form-urlencoded")
	}

	page := e.do(http.MethodGet, "/codec/login", "")
	require.Equal(t, http.StatusOK, page.Code)
	require.Contains(t, page.Body.String(), `<form method="post" action="http://gateway.test/codec/login">`)
	require.Contains(t, page.Body.String(), `<code>http://gateway.test/codec</code>`)

	for key, status := range map[string]int{writeKey: http.StatusForbidden, "ak_guess": http.StatusUnauthorized, "": http.StatusUnauthorized} {
		rec := login(key)
		require.Equal(t, status, rec.Code, "key %q", key)
		require.Empty(t, rec.Header().Values("Set-Cookie"), "key %q", key)
	}
	require.Contains(t, login(writeKey).Body.String(), "That is a write key.")

	rec := login(adminKey)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "http://gateway.test/codec/login", rec.Header().Get("Location"))
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	require.Equal(t, codecCookie, ck.Name)
	require.Equal(t, "/codec", ck.Path)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	require.Equal(t, int(codecSessionOf/time.Second), ck.MaxAge)
	require.NotContains(t, ck.Value, adminKey)
	session := codecCookie + "=" + ck.Value

	rec = decode(session)
	require.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body.String())
	require.Contains(t, rec.Body.String(), base64.StdEncoding.EncodeToString([]byte(`"ada@example.com"`)))
	require.Equal(t, uiOrigin, rec.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", rec.Header().Get("Access-Control-Allow-Credentials"))
	require.Contains(t, e.do(http.MethodGet, "/codec/login", "", "Cookie: "+session).Body.String(), "Signed in.")

	expired := codecCookie + "=" + e.gw.Links.CodecSession(keyTag(adminKey), time.Now().Add(-time.Second))
	forged := codecCookie + "=" + ck.Value[:len(ck.Value)-2] + "AA"
	otherSecret := codecCookie + "=" + links.NewSigner("another-secret-0123456789", "").CodecSession(keyTag(adminKey), time.Now().Add(time.Hour))
	for name, cookie := range map[string]string{"none": "x=1", "expired": expired, "forged": forged, "other secret": otherSecret} {
		rec := decode(cookie)
		require.Equal(t, http.StatusUnauthorized, rec.Code, name)
		require.NotContains(t, rec.Body.String(), "ada@example.com", name)
	}

	// Taking the admin key out of NUDGE_ADMIN_KEYS ends its sessions.
	e.gw.Config.AdminKeys = []string{"ak_rotated"}
	require.Equal(t, http.StatusUnauthorized, decode(session).Code)
}
