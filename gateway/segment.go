package gateway

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Segment's size limits, so a library that respects them never sees a 413.
const (
	callLimit  = 32 << 10  // one call, or one call inside a batch
	batchLimit = 500 << 10 // a whole batch
)

// callKinds maps Segment call types to the kind Nudge stores. Screens are
// the app's pages. A group call is stored as an identify whose traits hold
// the account (kindGroup, read by parser.call): B2B scoring reads company
// size and industry from there. An alias call names one person's two IDs
// (parser.alias; what the store does with it is in models/merge.go).
var callKinds = map[string]string{
	"identify": workflows.KindIdentify,
	"track":    workflows.KindTrack,
	"page":     workflows.KindPage,
	"screen":   workflows.KindPage,
	"group":    kindGroup,
	"alias":    models.KindAlias,
}

// kindGroup marks a group call while it is read; it is stored as an identify.
const kindGroup = "group"

func (g *Gateway) segmentRoutes(r *gin.Engine) {
	v1 := r.Group("/v1", cors)
	// The long paths are what server libraries call; the one-letter paths
	// are what analytics.js (in the browser) calls.
	for name, kind := range callKinds {
		h := g.call(kind)
		v1.POST("/"+name, h)
		v1.POST("/"+name[:1], h)
	}
	v1.POST("/batch", g.batch)
	v1.POST("/b", g.batch)
	v1.OPTIONS("/*path", func(c *gin.Context) { c.Status(http.StatusNoContent) })
}

// cors lets analytics.js post from a storefront's own domain. The write key
// is public by design (it ships in web pages), so any origin may send.
func cors(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding")
	h.Set("Access-Control-Max-Age", "86400")
}

// call handles /v1/identify, /v1/track, /v1/page and /v1/screen. An empty
// kind acknowledges a call type Nudge does not use.
func (g *Gateway) call(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		fields, who, ok := g.readAuthorized(c, callLimit, "one call")
		if !ok {
			return
		}
		p := &parser{fields: fields, admin: who.kind == keyAdmin, source: who.source}
		in := p.call(kind, time.Now().UTC(), time.Time{}, nil)
		if p.err != nil {
			p.err.send(c)
			return
		}
		g.ingest(c, []models.Incoming{in})
	}
}

// batch handles /v1/batch. Every call is checked before any is stored: a
// batch is taken whole or not at all.
func (g *Gateway) batch(c *gin.Context) {
	fields, who, ok := g.readAuthorized(c, batchLimit, "a batch")
	if !ok {
		return
	}
	received := time.Now().UTC()
	top := &parser{fields: fields}
	sentAt, _ := top.time("sentAt")
	sharedContext := top.obj("context")
	raw := top.raw("batch")
	switch {
	case top.err != nil:
	case raw == nil:
		top.fail("batch", "required: an array of identify, track, page or screen calls")
	case jsonType(raw) != "an array":
		top.fail("batch", "must be an array of calls, got %s", jsonType(raw))
	}
	var items []json.RawMessage
	if top.err == nil {
		if err := json.Unmarshal(raw, &items); err != nil {
			top.fail("batch", "must be an array of calls: %v", err)
		} else if len(items) == 0 {
			top.fail("batch", "is empty; send at least one call")
		}
	}
	if top.err != nil {
		top.err.send(c)
		return
	}

	calls := make([]models.Incoming, 0, len(items))
	for i, item := range items {
		at := fmt.Sprintf("batch[%d]", i)
		if len(item) > callLimit {
			(&apiError{
				Status: http.StatusRequestEntityTooLarge,
				Error:  fmt.Sprintf("%s: the call is %d bytes, over the 32 KB limit for one call; send fewer properties or traits", at, len(item)),
				Index:  &i,
				Limit:  callLimit,
			}).send(c)
			return
		}
		p := &parser{prefix: at + ".", index: &i, admin: who.kind == keyAdmin, source: who.source}
		if t := jsonType(item); t != "an object" {
			(&apiError{Status: http.StatusBadRequest, Error: at + ": must be an object (one call), got " + t, Index: &i}).send(c)
			return
		}
		if err := json.Unmarshal(item, &p.fields); err != nil {
			(&apiError{Status: http.StatusBadRequest, Error: at + ": " + err.Error(), Index: &i}).send(c)
			return
		}
		typ := p.str("type")
		kind, known := callKinds[typ]
		switch {
		case p.err != nil:
		case typ == "":
			p.fail("type", "required: identify, track, page or screen")
		case !known:
			p.fail("type", "unknown call type %q; use identify, track, page or screen", clip(typ))
		}
		if p.err != nil {
			p.err.send(c)
			return
		}
		in := p.call(kind, received, sentAt, sharedContext)
		if p.err != nil {
			p.err.send(c)
			return
		}
		calls = append(calls, in)
	}
	g.ingestBatch(c, calls)
}

// call reads one Segment call. batchSentAt and batchContext are the batch's
// own sentAt and context, which the calls in it share.
func (p *parser) call(kind string, received, batchSentAt time.Time, batchContext map[string]any) models.Incoming {
	if kind == models.KindAlias {
		return p.alias(received)
	}
	userID := p.id("userId")
	anonymousID := p.id("anonymousId")
	messageID := p.messageID()
	var name string
	switch kind {
	case workflows.KindTrack:
		if name = p.str("event"); strings.TrimSpace(name) == "" {
			p.fail("event", "required for a track call")
		}
		name = p.id("event")
		if p.err == nil && !p.admin && workflows.Reserved(name) {
			p.failWith(http.StatusForbidden, "event", "%q is reserved: only Nudge records it (from its tracking links, "+
				"unsubscribe and preference pages, provider webhooks and sales routes); a write key may not send it, an admin key may", name)
		}
	case workflows.KindPage:
		name = p.id("name")
	}
	properties := p.obj("properties")
	p.keyProperties(properties)
	p.moneyProperties(properties)
	traits := p.obj("traits")
	if kind == kindGroup {
		traits = p.groupTraits(traits)
		kind = workflows.KindIdentify
	}
	callContext := p.obj("context")
	timestamp, hasTimestamp := p.time("timestamp")
	sentAt, hasSentAt := p.time("sentAt")
	if p.err != nil {
		return models.Incoming{}
	}

	if batchContext != nil {
		merged := cloneMap(batchContext)
		for k, v := range callContext {
			merged[k] = v
		}
		callContext = merged
	}
	// context.traits are the traits a library knows for the user; traits
	// sent on the call itself win over them.
	var allTraits map[string]any
	if v, ok := callContext["traits"]; ok && v != nil {
		ct, isObj := v.(map[string]any)
		if !isObj {
			p.fail("context.traits", "must be an object, got %s", valueType(v))
			return models.Incoming{}
		}
		allTraits = cloneMap(ct)
	}
	if len(traits) > 0 {
		if allTraits == nil {
			allTraits = map[string]any{}
		}
		for k, v := range traits {
			allTraits[k] = v
		}
	}
	if len(allTraits) > workflows.MaxTraits {
		p.fail("traits", "holds %d traits (with context.traits); the limit is %d", len(allTraits), workflows.MaxTraits)
		return models.Incoming{}
	}
	if key, err := models.CheckTraits(allTraits); err != nil {
		p.fail("traits."+key, "%v", err)
		return models.Incoming{}
	}
	var timezone string
	if v, ok := callContext["timezone"]; ok && v != nil {
		tz, isStr := v.(string)
		if !isStr {
			p.fail("context.timezone", "must be a string such as \"Europe/Berlin\", got %s", valueType(v))
			return models.Incoming{}
		}
		timezone = tz
	}
	if userID == "" && anonymousID == "" {
		p.fail("userId", "missing; every call needs a userId or an anonymousId")
		return models.Incoming{}
	}

	if !hasSentAt && !batchSentAt.IsZero() {
		sentAt, hasSentAt = batchSentAt, true
	}
	switch {
	case !hasTimestamp:
		timestamp = received
	case hasSentAt:
		// Segment's clock-skew correction: the device's clock may be off,
		// but the time between timestamp and sentAt is measured on it alone.
		timestamp = timestamp.Add(received.Sub(sentAt))
	}
	if messageID == "" {
		// Without a messageId a resent call cannot be recognised; this one
		// at least gets a unique key.
		messageID = uuid.NewString()
	}
	return models.Incoming{
		Event: models.Event{
			MessageID:   messageID,
			AnonymousID: anonymousID,
			Kind:        kind,
			Name:        name,
			Properties:  properties,
			Traits:      allTraits,
			Context:     callContext,
			Timestamp:   timestamp.UTC(),
			Source:      p.source,
		},
		UserID:          userID,
		ContextTimezone: timezone,
	}
}

// messageID reads the call's messageId, which may not be in the namespace
// of the events Nudge records itself.
func (p *parser) messageID() string {
	id := p.id("messageId")
	if strings.HasPrefix(id, workflows.OwnIDPrefix) || strings.HasPrefix(id, "nudge/") {
		p.fail("messageId", "%q starts with %q, which Nudge keeps for the events it records itself; use another messageId", clip(id), id[:6])
	}
	return id
}

// alias reads an alias call: previousId is what the person was called,
// userId what they are called now. Only an admin key may merge two
// contacts that both have history (models.MergeRefusedError).
func (p *parser) alias(received time.Time) models.Incoming {
	userID := p.id("userId")
	previousID := p.id("previousId")
	messageID := p.messageID()
	switch {
	case p.err != nil:
	case userID == "":
		p.fail("userId", "required for an alias call: the ID the person has now")
	case previousID == "":
		p.fail("previousId", "required for an alias call: the ID the person had before (a userId or an anonymousId)")
	}
	if p.err != nil {
		return models.Incoming{}
	}
	if messageID == "" {
		messageID = uuid.NewString()
	}
	return models.Incoming{
		Event:      models.Event{MessageID: messageID, Kind: models.KindAlias, Timestamp: received, Source: p.source},
		UserID:     userID,
		PreviousID: previousID,
		MayMerge:   p.admin,
	}
}

// groupTraits turns a group call's traits (the account's: name, industry,
// employees, plan, …) into the user's traits: the company object, with the
// groupId as its id. Segment sends a group's traits whole, so they replace
// the company the contact had.
func (p *parser) groupTraits(group map[string]any) map[string]any {
	id := p.id("groupId")
	if p.err == nil && id == "" {
		p.fail("groupId", "required for a group call: the account the user belongs to")
	}
	company := cloneMap(group)
	company["id"] = id
	return map[string]any{"company": company}
}

// keyProperties are the properties keyed journeys take their key from (a
// run per checkout, a run per order): the key becomes part of a workflow ID,
// so it is held to the rules of an ID.
var keyProperties = []string{"checkout_id", "cart_id", "order_id"}

func (p *parser) keyProperties(properties map[string]any) {
	for _, k := range keyProperties {
		switch v := properties[k].(type) {
		case string:
			if v == "" {
				continue
			}
			if err := workflows.CheckID(v); err != nil {
				p.fail("properties."+k, "%v", err)
			}
		case float64:
			// Stored as its digits (an order's ID), so only a whole number
			// a float64 holds exactly will do.
			if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
				p.fail("properties."+k, "must be a string or a whole number up to 2^53, got %v", v)
			}
		case nil:
		default:
			p.fail("properties."+k, "must be a string or a whole number, got %s", valueType(v))
		}
	}
}

// moneyProperties are the amounts orders and carts are valued by: revenue
// reports add them up, so none may be negative (a refund is its own event).
var moneyProperties = []string{"total", "value", "revenue"}

func (p *parser) moneyProperties(properties map[string]any) {
	for _, k := range moneyProperties {
		if v, ok := (workflows.Event{Properties: properties}).Number(k); ok && v < 0 {
			p.fail("properties."+k, "must not be negative, got %v; send a refund as Order Refunded", v)
		}
	}
}

// readAuthorized reads the body within limit and checks the write key, sent
// in the Authorization header or, as analytics.js does, as "writeKey" in the
// body, and says who is calling. An unauthenticated request learns nothing
// about its body.
func (g *Gateway) readAuthorized(c *gin.Context, limit int64, what string) (map[string]json.RawMessage, caller, bool) {
	key, inHeader, problem := headerKey(c.Request)
	who := g.caller(key) // every key compared once, on the hot path
	switch {
	case problem != "":
		fail(c, http.StatusUnauthorized, problem)
		return nil, caller{}, false
	case inHeader && who.kind == keyUnknown:
		fail(c, http.StatusUnauthorized, msgBadWriteKey)
		return nil, caller{}, false
	}
	body, aerr := readBody(c, limit, what)
	if aerr != nil {
		aerr.send(c)
		return nil, caller{}, false
	}
	fields, aerr := decodeObject(body)
	if inHeader {
		if aerr != nil {
			aerr.send(c)
			return nil, caller{}, false
		}
		return fields, who, true
	}
	var bodyKey string
	if aerr == nil {
		_ = json.Unmarshal(fields["writeKey"], &bodyKey)
	}
	switch {
	case bodyKey == "":
		fail(c, http.StatusUnauthorized, msgNoWriteKey)
		return nil, caller{}, false
	}
	if who = g.caller(bodyKey); who.kind == keyUnknown {
		fail(c, http.StatusUnauthorized, msgBadWriteKey)
		return nil, caller{}, false
	}
	return fields, who, true
}

// readBody reads at most limit bytes, unzipping a gzip body as Segment's
// API does.
func readBody(c *gin.Context, limit int64, what string) ([]byte, *apiError) {
	tooLarge := &apiError{
		Status: http.StatusRequestEntityTooLarge,
		Error:  fmt.Sprintf("the body is over the %d KB limit for %s; split it into smaller calls", limit>>10, what),
		Limit:  int(limit),
	}
	var src io.Reader = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(c.GetHeader("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge
			}
			return nil, &apiError{Status: http.StatusBadRequest, Error: "Content-Encoding is gzip but the body is not gzip data"}
		}
		src = io.LimitReader(zr, limit+1)
	default:
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Error: fmt.Sprintf("Content-Encoding %q is not supported; send the body plain or gzip-compressed", enc)}
	}
	body, err := io.ReadAll(src)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(len(body)) > limit:
		return nil, tooLarge
	case err != nil:
		return nil, &apiError{Status: http.StatusBadRequest, Error: "could not read the body: " + err.Error()}
	}
	return body, nil
}

// ingest stores the calls and waits for the relay to signal them (see
// accept); ingestBatch only stores them, so a large batch is answered at once.
func (g *Gateway) ingest(c *gin.Context, calls []models.Incoming) {
	g.respond(c, calls, g.accept(c.Request.Context(), calls))
}

func (g *Gateway) ingestBatch(c *gin.Context, calls []models.Incoming) {
	g.respond(c, calls, g.acceptAsync(c.Request.Context(), calls))
}

func (g *Gateway) respond(c *gin.Context, calls []models.Incoming, err error) {
	var refused *models.MergeRefusedError
	if errors.As(err, &refused) {
		fail(c, http.StatusForbidden, refused.Error()+"; nothing in the request was stored")
		return
	}
	if err != nil {
		g.log().Error("could not store events", "calls", len(calls), "error", err)
		fail(c, http.StatusServiceUnavailable, "could not store the events, so none were accepted; send them again")
		return
	}
	ok200(c)
}

func ok200(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"success": true})
}
