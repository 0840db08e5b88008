package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/codec"
)

// codecBodyLimit bounds a codec request: Temporal caps a payload at 2 MB,
// base64 in JSON adds a third, and the UI sends a few payloads at a time.
const codecBodyLimit = 8 << 20

const msgCodecOff = "the codec endpoint is off: NUDGE_ENCRYPTION_KEYS is not set, so Temporal payloads are not encrypted"

// codecRoutes serves the codec endpoint for the Temporal UI and CLI:
// POST /codec/encode and /codec/decode, in the protocol of
// converter.NewPayloadCodecHTTPHandler (Payloads as protobuf JSON; only the
// path's last part says which). Decoding shows contacts' personal data, so
// it takes an admin key, or the session cookie /codec/login gives for one:
// the UI calls it from the browser, from another origin, and can send
// cookies but not a key. Preflights are answered without either, as
// browsers send them without credentials.
func (g *Gateway) codecRoutes(r *gin.Engine) {
	serve := func(c *gin.Context) { fail(c, http.StatusNotFound, msgCodecOff) }
	if keys := g.Config.EncryptionKeys; keys != nil {
		h := codec.HTTPHandler(keys)
		serve = func(c *gin.Context) {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, codecBodyLimit)
			h.ServeHTTP(c.Writer, c.Request)
		}
	}
	for _, path := range []string{"/codec/encode", "/codec/decode"} {
		r.OPTIONS(path, g.codecCORS, func(c *gin.Context) { c.AbortWithStatus(http.StatusNoContent) })
		if g.Config.EncryptionKeys == nil {
			// The endpoint does not exist while encryption is off, for any caller.
			r.POST(path, g.codecCORS, serve)
			continue
		}
		r.POST(path, g.codecCORS, g.requireCodecAccess, serve)
	}
	if g.Config.EncryptionKeys == nil {
		r.GET("/codec/login", serve)
		r.POST("/codec/login", serve)
		return
	}
	r.GET("/codec/login", g.codecLoginPage)
	r.POST("/codec/login", g.codecLogin)
}

const (
	codecCookie    = "nudge_codec"
	codecSessionOf = 12 * time.Hour
)

// requireCodecAccess lets through an admin key, as requireAdmin does, or a
// browser signed in at /codec/login with an admin key still configured.
func (g *Gateway) requireCodecAccess(c *gin.Context) {
	if _, sent, _ := headerKey(c.Request); !sent {
		if g.signedIn(c) {
			c.Next()
			return
		}
		c.Header("WWW-Authenticate", `Basic realm="nudge admin"`)
		fail(c, http.StatusUnauthorized, msgNoCodecAccess(g.codecLoginURL()))
		return
	}
	g.requireAdmin(c)
}

func msgNoCodecAccess(loginURL string) string {
	return "missing admin key: send Authorization: Bearer <admin key>, or sign this browser in at " + loginURL +
		" and tick Include cross-origin credentials in the Temporal UI's codec settings"
}

// keyTag names an admin key in a session without holding the key.
func keyTag(key string) string {
	sum := sha256.Sum256([]byte("codec-session\x00" + key))
	return hex.EncodeToString(sum[:8])
}

// signedIn reports whether the request carries a codec session that is
// signed here, unexpired, and made with an admin key still configured.
func (g *Gateway) signedIn(c *gin.Context) bool {
	cookie, err := c.Cookie(codecCookie)
	return err == nil && g.adminSession(cookie, g.Links.CheckCodecSession)
}

// adminSession reports whether a session cookie checks out and was made
// with an admin key that is still configured: removing a key ends its
// sessions.
func (g *Gateway) adminSession(cookie string, check func(string, time.Time) (string, error)) bool {
	tag, err := check(cookie, time.Now())
	if err != nil {
		return false
	}
	found := 0
	for _, k := range g.Config.AdminKeys {
		found |= subtle.ConstantTimeCompare([]byte(keyTag(k)), []byte(tag))
	}
	return found == 1
}

func (g *Gateway) codecLoginURL() string {
	return strings.TrimRight(g.Config.PublicURL, "/") + "/codec/login"
}

type codecLoginData struct {
	SignedIn                       bool
	Error, Lasts, Action, Endpoint string
}

func (g *Gateway) codecLoginData() codecLoginData {
	return codecLoginData{
		Action:   g.codecLoginURL(),
		Endpoint: strings.TrimRight(g.Config.PublicURL, "/") + "/codec",
		Lasts:    fmt.Sprintf("%d hours", int(codecSessionOf.Hours())),
	}
}

// codecLoginPage says whether this browser may decode, and how to let the
// Temporal UI use it.
func (g *Gateway) codecLoginPage(c *gin.Context) {
	d := g.codecLoginData()
	d.SignedIn = g.signedIn(c)
	c.Header("Cache-Control", "no-store")
	g.page(c, http.StatusOK, "codec_login.html", d)
}

// codecLogin trades an admin key, typed into the form, for a session
// cookie: HttpOnly, so page scripts cannot read it, and limited to /codec.
// It is SameSite=Lax over http (the UI and the gateway on one host, as with
// make dev, are the same site) and SameSite=None; Secure over https, where
// the UI may be on another site.
func (g *Gateway) codecLogin(c *gin.Context) {
	d := g.codecLoginData()
	key, refused, problem := g.signInKey(c, "That is a write key. Decoding shows contacts' personal data: sign in with an admin key.")
	if refused != 0 {
		d.Error = problem
		g.page(c, refused, "codec_login.html", d)
		return
	}
	until := time.Now().Add(codecSessionOf)
	secure := strings.HasPrefix(g.Config.PublicURL, "https://")
	cookie := &http.Cookie{
		Name: codecCookie, Value: g.Links.CodecSession(keyTag(key), until), Path: "/codec",
		Expires: until, MaxAge: int(codecSessionOf / time.Second), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
	if secure {
		cookie.SameSite = http.SameSiteNoneMode
	}
	http.SetCookie(c.Writer, cookie)
	c.Redirect(http.StatusSeeOther, g.codecLoginURL())
}

// codecCORS lets the Temporal UI's origin (NUDGE_TEMPORAL_UI_ORIGIN), and no
// other, call the codec endpoint from a browser, with credentials and the
// headers the UI sends. Errors carry the headers too, so the UI can read
// them.
func (g *Gateway) codecCORS(c *gin.Context) {
	c.Header("Vary", "Origin")
	origin := c.GetHeader("Origin")
	if origin == "" || origin != g.Config.TemporalUIOrigin {
		return
	}
	c.Header("Access-Control-Allow-Origin", origin)
	c.Header("Access-Control-Allow-Credentials", "true")
	c.Header("Access-Control-Allow-Methods", "POST, OPTIONS")
	c.Header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
	c.Header("Access-Control-Max-Age", "600")
}
