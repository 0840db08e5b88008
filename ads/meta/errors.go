package meta

import (
	"fmt"
	"net/http"
	"strings"
)

// Error is a failure Meta answered: Graph's error object, with the request
// it answered. See Meta's "Handling Errors" guide for the codes.
type Error struct {
	Method, Path string // the request, without host or query
	HTTPStatus   int
	Message      string // error.message
	Type         string // error.type, such as OAuthException
	Code         int    // error.code
	Subcode      int    // error.error_subcode
	UserTitle    string // error.error_user_title
	UserMessage  string // error.error_user_msg, meant for a person
	TraceID      string // error.fbtrace_id, for Meta's support
	Transient    bool   // error.is_transient
}

// graphError is Graph's error object as sent.
type graphError struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	UserTitle   string `json:"error_user_title"`
	UserMessage string `json:"error_user_msg"`
	TraceID     string `json:"fbtrace_id"`
	Transient   bool   `json:"is_transient"`
}

func newError(method, path string, resp *http.Response, body []byte, g *graphError) *Error {
	e := &Error{Method: method, Path: path, HTTPStatus: resp.StatusCode}
	if g == nil {
		// No error object: a proxy or an outage page. Keep its start.
		e.Message = "answer without a Graph error: " + snippet(body)
		e.TraceID = resp.Header.Get("X-Fb-Trace-Id")
		return e
	}
	e.Message, e.Type, e.Code, e.Subcode = g.Message, g.Type, g.Code, g.Subcode
	e.UserTitle, e.UserMessage, e.TraceID, e.Transient = g.UserTitle, g.UserMessage, g.TraceID, g.Transient
	return e
}

// Error says what Meta refused and why, with the codes Meta's support asks
// for: "meta: POST /123/users: Invalid parameter (code 100, subcode 1713230,
// OAuthException, HTTP 400, fbtrace_id X): Audience Upload Blocked: ...".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "meta: %s %s: %s (", e.Method, e.Path, e.Message)
	var parts []string
	if e.Code != 0 {
		parts = append(parts, fmt.Sprintf("code %d", e.Code))
	}
	if e.Subcode != 0 {
		parts = append(parts, fmt.Sprintf("subcode %d", e.Subcode))
	}
	if e.Type != "" {
		parts = append(parts, e.Type)
	}
	parts = append(parts, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	if e.TraceID != "" {
		parts = append(parts, "fbtrace_id "+e.TraceID)
	}
	b.WriteString(strings.Join(parts, ", "))
	b.WriteString(")")
	if e.UserTitle != "" || e.UserMessage != "" {
		b.WriteString(": " + strings.TrimPrefix(e.UserTitle+": "+e.UserMessage, ": "))
	}
	if hint := e.hint(); hint != "" {
		b.WriteString("; " + hint)
	}
	return b.String()
}

// hint says what a person should do about the commonest refusals.
func (e *Error) hint() string {
	switch {
	case e.Code == 190:
		return "the access token is invalid or expired: set a new NUDGE_META_ACCESS_TOKEN"
	case e.Code == 10 || e.Code >= 200 && e.Code <= 299:
		return "the token lacks a permission (ads_read, ads_management) or access to this object"
	case e.rateLimited():
		return "Meta is limiting the request rate; try again later"
	}
	return ""
}

// Retryable reports whether the same request may succeed later: Meta marked
// the error transient, or it is a rate limit (codes 4, 17, 32, 613 and the
// ads management limits 80000-80014), a temporary service error (1, 2), or
// an HTTP 5xx or 429. Everything else (bad parameters, tokens, permissions,
// policy) will fail again unchanged.
func (e *Error) Retryable() bool {
	return e.Transient || e.rateLimited() || e.Code == 1 || e.Code == 2 ||
		e.HTTPStatus >= 500 || e.HTTPStatus == http.StatusTooManyRequests
}

func (e *Error) rateLimited() bool {
	switch {
	case e.Code == 4, e.Code == 17, e.Code == 32, e.Code == 341, e.Code == 613:
		return true
	case e.Code >= 80000 && e.Code <= 80014:
		return true
	}
	return false
}
