package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
)

// Paging of segment listings.
const (
	DefaultSegmentLimit = 50
	MaxSegmentLimit     = 500
)

// segmentationRoutes adds the behavioural segments API to the admin group:
//
//	GET /v1/segments                       the definitions
//	GET /v1/segments/:name/contacts        the members, a page at a time:
//	    ?limit= (default 50, at most 500) &offset= (default 0)
//	    &at= (RFC 3339; default now: evaluate the segment as of then)
//	    and the segment's own parameters (?page=/pricing)
func (g *Gateway) segmentationRoutes(admin *gin.RouterGroup) {
	admin.GET("/segments", g.listSegments)
	admin.GET("/segments/:name/contacts", g.segmentContacts)
}

// listSegments returns every segment definition.
func (g *Gateway) listSegments(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"segments": models.Segments()})
}

// reservedSegmentQuery are the query parameters of the listing itself; every
// other one is a parameter of the segment.
var reservedSegmentQuery = map[string]bool{"limit": true, "offset": true, "at": true}

// segmentContacts lists the contacts in a segment, ordered by ID.
func (g *Gateway) segmentContacts(c *gin.Context) {
	name := c.Param("name")
	if _, ok := models.LookupSegment(name); !ok {
		fail(c, http.StatusNotFound, (&models.UnknownSegmentError{Name: clip(name)}).Error()+"; GET /v1/segments describes them")
		return
	}
	query := c.Request.URL.Query()
	limit, ok := boundedQueryInt(c, "limit", DefaultSegmentLimit, 1, MaxSegmentLimit)
	if !ok {
		return
	}
	offset, ok := boundedQueryInt(c, "offset", 0, 0, -1)
	if !ok {
		return
	}
	at := time.Now().UTC()
	if s, given := oneQueryValue(c, "at"); !given {
		return
	} else if s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			badQueryParam(c, "at", fmt.Sprintf("%q is not an RFC 3339 time like 2026-01-31T09:00:00Z", clip(s)))
			return
		}
		at = t.UTC()
	}
	params := map[string]string{}
	for k, vs := range query {
		if reservedSegmentQuery[k] {
			continue
		}
		if len(vs) != 1 {
			badQueryParam(c, k, "give it once")
			return
		}
		params[k] = vs[0]
	}

	contacts, total, err := g.Store.SegmentContacts(c.Request.Context(), name, params, at, limit, offset)
	var paramErr *models.SegmentParamError
	switch {
	case errors.As(err, &paramErr):
		(&apiError{Status: http.StatusBadRequest, Error: paramErr.Error(), Field: paramErr.Param}).send(c)
		return
	case err != nil:
		g.serverError(c, "list segment "+name, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"segment":  name,
		"params":   params,
		"at":       at.Format(time.RFC3339Nano),
		"total":    total,
		"limit":    limit,
		"offset":   offset,
		"contacts": contacts,
	})
}

// oneQueryValue reads a query parameter given at most once. ok is false (and
// a 400 sent) when it was repeated.
func oneQueryValue(c *gin.Context, key string) (value string, ok bool) {
	vs := c.Request.URL.Query()[key]
	switch len(vs) {
	case 0:
		return "", true
	case 1:
		return vs[0], true
	}
	badQueryParam(c, key, "give it once")
	return "", false
}

// boundedQueryInt reads a whole-number query parameter in [lo, hi] (hi < 0: no
// upper bound), or def when it is absent. ok is false (and a 400 sent) when
// it is malformed or out of range.
func boundedQueryInt(c *gin.Context, key string, def, lo, hi int) (int, bool) {
	s, ok := oneQueryValue(c, key)
	if !ok {
		return 0, false
	}
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || (hi >= 0 && n > hi) {
		want := fmt.Sprintf("a whole number from %d to %d", lo, hi)
		if hi < 0 {
			want = fmt.Sprintf("a whole number, %d or more", lo)
		}
		badQueryParam(c, key, fmt.Sprintf("must be %s, got %q", want, clip(s)))
		return 0, false
	}
	return n, true
}

func badQueryParam(c *gin.Context, key, problem string) {
	(&apiError{Status: http.StatusBadRequest, Error: clip(key) + ": " + problem, Field: clip(key)}).send(c)
}
