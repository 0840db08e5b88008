// Package adstest runs loopback stand-ins for the ad platforms Nudge talks
// to, like net/http/httptest does for a handler: Meta's Graph API (NewMeta)
// and, in one server, Google's OAuth token endpoint, Google Ads and the Data
// Manager API (NewGoogle). They answer in the platforms' real shapes, keep
// state (objects, budgets, audience members) so a test can see what a
// change did, record every request, and fail on demand (Fail).
//
// A test seeds figures, points a client at the stand-in's URL, and asserts
// on the answers and on Requests:
//
//	m := adstest.NewMeta()
//	defer m.Close()
//	m.AddStats(adstest.MetaStat{Account: "act_1", CampaignID: "10", Date: "2026-11-30", Spend: 12_340_000})
//	c, _ := meta.New(meta.Config{AccessToken: adstest.MetaToken, APIURL: m.URL})
//
// Seeding and Fail are safe at any time; set a stand-in's exported knobs
// (PageSize, TokenLifetime, …) before the requests that should see them.
// The stand-ins import no client, so any package's tests can use them.
package adstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Request is one request a stand-in received.
type Request struct {
	Method string
	Path   string // as received, version prefix included, like /v25.0/act_1/insights
	Query  url.Values
	Header http.Header
	// Form is a form body, decoded (Graph's POST and DELETE).
	Form url.Values
	// JSON is a JSON body, decoded into maps and slices (Google).
	JSON any
	Body []byte
}

// FormJSON decodes a form value that is itself JSON, such as Graph's
// payload, session or time_range, into v.
func (r Request) FormJSON(key string, v any) error {
	s := r.Form.Get(key)
	if s == "" {
		s = r.Query.Get(key)
	}
	if s == "" {
		return fmt.Errorf("request has no %s", key)
	}
	return json.Unmarshal([]byte(s), v)
}

// DecodeJSON decodes the body into v.
func (r Request) DecodeJSON(v any) error { return json.Unmarshal(r.Body, v) }

// recorder keeps requests and pending faults; both stand-ins embed it.
type recorder struct {
	mu       sync.Mutex
	requests []Request
	faults   []Fault
}

// record reads the request's body, keeps a copy of the request, and
// returns it.
func (rec *recorder) record(r *http.Request) Request {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	q := r.URL.Query()
	req := Request{Method: r.Method, Path: r.URL.Path, Query: q, Header: r.Header.Clone(), Body: body}
	switch {
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		// Parsed by hand: net/http ignores the body of a DELETE.
		req.Form, _ = url.ParseQuery(string(body))
	case len(body) > 0:
		var v any
		if json.Unmarshal(body, &v) == nil {
			req.JSON = v
		}
	}
	rec.mu.Lock()
	rec.requests = append(rec.requests, req)
	rec.mu.Unlock()
	return req
}

// Requests returns every request received so far, in order.
func (rec *recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.requests...)
}

// RequestsTo returns the requests whose path ends with suffix, such as
// "/insights" or ":mutate".
func (rec *recorder) RequestsTo(suffix string) []Request {
	var out []Request
	for _, r := range rec.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// Fail makes the next request whose path contains f.Path (any request if
// empty) get f's answer instead, f.Times times. Faults queue in order.
func (rec *recorder) Fail(f Fault) {
	if f.Times < 1 {
		f.Times = 1
	}
	rec.mu.Lock()
	rec.faults = append(rec.faults, f)
	rec.mu.Unlock()
}

// fault takes the first pending fault for path, if any.
func (rec *recorder) fault(path string) (Fault, bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, f := range rec.faults {
		if !strings.Contains(path, f.Path) {
			continue
		}
		rec.faults[i].Times--
		if rec.faults[i].Times == 0 {
			rec.faults = append(rec.faults[:i], rec.faults[i+1:]...)
		}
		return f, true
	}
	return Fault{}, false
}

// Fault is a canned failure: GraphError, GoogleError or HTTPError make one.
type Fault struct {
	// Path limits the fault to requests whose path contains it.
	Path string
	// Times is how many matching requests get it; 0 means once.
	Times  int
	Status int
	Body   string
	// google is a google.rpc.Status, written as searchStream writes
	// errors (an array) or as other methods do (an object).
	google map[string]any
}

// On limits the fault to requests whose path contains path.
func (f Fault) On(path string) Fault { f.Path = path; return f }

// Repeat makes the fault answer n requests.
func (f Fault) Repeat(n int) Fault { f.Times = n; return f }

// GraphError is Graph's error object with an HTTP status, such as
// GraphError(400, 17, 2446079, "User request limit reached"). Codes 1 and
// 2 are marked is_transient, as Meta marks its temporary failures.
func GraphError(status, code, subcode int, message string) Fault {
	e := map[string]any{
		"message":    message,
		"type":       "OAuthException",
		"code":       code,
		"fbtrace_id": "AbCdEfStandIn",
	}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	if code == 1 || code == 2 {
		e["is_transient"] = true
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return Fault{Status: status, Body: string(b)}
}

// GoogleFailure is one GoogleAdsFailure error: Kind and Code name its
// errorCode ({"quotaError": "RESOURCE_EXHAUSTED"}); Field is a dotted path
// such as "operations.0.update.amount_micros" (numbers are indexes).
type GoogleFailure struct {
	Kind, Code, Message, Field string
}

// GoogleError is Google's error body (google.rpc.Status) with an HTTP
// status and a status name, such as GoogleError(429, "RESOURCE_EXHAUSTED",
// "Too many requests."), with GoogleAdsFailure errors if any.
func GoogleError(httpStatus int, status, message string, failures ...GoogleFailure) Fault {
	st := googleStatus(httpStatus, status, message, failures...)
	b, _ := json.Marshal(map[string]any{"error": st})
	return Fault{Status: httpStatus, Body: string(b), google: st}
}

// HTTPError is a bare status with a plain-text page, as a proxy or an
// outage answers.
func HTTPError(status int) Fault {
	return Fault{Status: status, Body: fmt.Sprintf("<html><body>%d %s</body></html>", status, http.StatusText(status))}
}

// write sends the fault's answer; searchStream wraps a Google error in
// an array, as Google does.
func (f Fault) write(w http.ResponseWriter, stream bool) {
	body := f.Body
	ct := "text/html"
	switch {
	case f.google != nil && stream:
		b, _ := json.Marshal([]any{map[string]any{"error": f.google}})
		body, ct = string(b), "application/json"
	case strings.HasPrefix(strings.TrimSpace(body), "{"):
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
