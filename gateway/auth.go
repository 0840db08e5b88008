package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
)

type keyKind int

const (
	keyUnknown keyKind = iota
	keyWrite
	keyAdmin
)

// headerKey reads the key the way Segment libraries send it: HTTP Basic with
// the key as user name and an empty password, or a Bearer token. ok is false
// when the header is absent; problem is set when it is present but malformed.
func headerKey(r *http.Request) (key string, ok bool, problem string) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", false, ""
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer") && rest != "":
		return rest, true, ""
	case strings.EqualFold(scheme, "Basic") && rest != "":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", true, "the Basic credentials are not valid base64"
		}
		user, _, _ := strings.Cut(string(raw), ":")
		if user == "" {
			return "", true, "the Basic credentials carry no user name; put the key there, with an empty password"
		}
		return user, true, ""
	}
	return "", true, "the Authorization header must be Basic (key as user name, empty password) or Bearer <key>"
}

// kind tells which of the configured keys key is. Every configured key is
// compared, in constant time over hashes of equal length, so neither the
// time taken nor an early exit tells a caller how close a guess was.
func (g *Gateway) kind(key string) keyKind {
	if key == "" {
		return keyUnknown
	}
	given := sha256.Sum256([]byte(key))
	match := func(keys []string) bool {
		found := 0
		for _, k := range keys {
			want := sha256.Sum256([]byte(k))
			found |= subtle.ConstantTimeCompare(given[:], want[:])
		}
		return found == 1
	}
	write, admin := match(g.Config.WriteKeys), match(g.Config.AdminKeys)
	switch {
	case admin:
		return keyAdmin
	case write:
		return keyWrite
	}
	return keyUnknown
}

// caller is who sent a request: the kind of key, and the source its events
// are recorded under. A write key's source names the key by a hash, so the
// database never holds the key and each key's orders stay its own.
type caller struct {
	kind   keyKind
	source string
}

func (g *Gateway) caller(key string) caller {
	switch g.kind(key) {
	case keyAdmin:
		return caller{kind: keyAdmin, source: models.SourceAdmin}
	case keyWrite:
		sum := sha256.Sum256([]byte(key))
		return caller{kind: keyWrite, source: "segment:" + hex.EncodeToString(sum[:6])}
	}
	return caller{}
}

const (
	msgNoWriteKey  = "missing write key: send it as the HTTP Basic user name with an empty password, or as Authorization: Bearer <key>"
	msgBadWriteKey = "unknown write key: check the key your source sends against the gateway's NUDGE_WRITE_KEYS"
	msgNoAdminKey  = "missing admin key: send Authorization: Bearer <admin key>"
	msgBadAdminKey = "unknown admin key: check it against the gateway's NUDGE_ADMIN_KEYS"
	msgWriteAdmin  = "write keys can only send events; use an admin key (NUDGE_ADMIN_KEYS) to read contacts and messages"
)

// requireAdmin guards the read API. A 401 asks browsers for Basic
// credentials, so a person can open a recorded email with the admin key as
// user name.
func (g *Gateway) requireAdmin(c *gin.Context) {
	key, ok, problem := headerKey(c.Request)
	deny := func(status int, msg string) {
		if status == http.StatusUnauthorized {
			c.Header("WWW-Authenticate", `Basic realm="nudge admin"`)
		}
		fail(c, status, msg)
	}
	switch {
	case !ok:
		deny(http.StatusUnauthorized, msgNoAdminKey)
	case problem != "":
		deny(http.StatusUnauthorized, problem)
	default:
		switch g.kind(key) {
		case keyAdmin:
			c.Next()
		case keyWrite:
			deny(http.StatusForbidden, msgWriteAdmin)
		default:
			deny(http.StatusUnauthorized, msgBadAdminKey)
		}
	}
}

// signInKey reads the admin key a sign-in form posted (the dashboard's,
// the codec's). It returns the key, or the status to refuse it with and
// why: 403 for a write key, which web pages carry, 401 for anything else.
func (g *Gateway) signInKey(c *gin.Context, writeKeyProblem string) (key string, status int, problem string) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 4<<10)
	key = strings.TrimSpace(c.PostForm("key"))
	switch g.kind(key) {
	case keyAdmin:
		return key, 0, ""
	case keyWrite:
		return "", http.StatusForbidden, writeKeyProblem
	}
	return "", http.StatusUnauthorized, "That is not one of this gateway's admin keys (NUDGE_ADMIN_KEYS)."
}
