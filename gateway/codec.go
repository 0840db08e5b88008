package gateway

import (
	"net/http"

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
// it takes an admin key. The UI calls it from the browser, from another
// origin: preflights are answered without a key, as browsers send them
// without credentials.
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
		r.POST(path, g.codecCORS, g.requireAdmin, serve)
	}
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
