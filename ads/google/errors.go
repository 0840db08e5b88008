package google

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"golang.org/x/oauth2"
)

// Error is a failure Google answered: the google.rpc.Status error body
// ({"error": {code, message, status, details}}), with the Google Ads
// failures (GoogleAdsFailure) or field violations (BadRequest) its details
// carry.
type Error struct {
	Op         string // the request, like "POST /customers/1/campaigns:mutate"
	HTTPStatus int
	Code       int    // error.code, usually the HTTP status
	Status     string // error.status, such as INVALID_ARGUMENT
	Message    string // error.message
	Failures   []Failure
	RequestID  string // for Google's support
}

// Failure is one specific error inside an answer.
type Failure struct {
	// Code names the error, like "fieldError: REQUIRED" (Google Ads'
	// errorCode) or a BadRequest / ErrorInfo reason.
	Code    string
	Message string
	// Field is where, like "operations[0].update.amount_micros".
	Field string
}

// Retryable reports whether the same request may succeed later: Google said
// UNAVAILABLE, RESOURCE_EXHAUSTED (quota), INTERNAL or DEADLINE_EXCEEDED,
// or answered HTTP 429 or a 5xx other than 501 (not implemented). Bad
// arguments, permissions and authentication fail again unchanged.
func (e *Error) Retryable() bool {
	switch e.Status {
	case "UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL", "DEADLINE_EXCEEDED":
		return true
	}
	return e.HTTPStatus == http.StatusTooManyRequests ||
		e.HTTPStatus >= 500 && e.HTTPStatus != http.StatusNotImplemented
}

// Error says what Google refused and why, failures included.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "google: %s: %s", e.Op, e.Message)
	var parts []string
	if e.Status != "" {
		parts = append(parts, e.Status)
	}
	parts = append(parts, fmt.Sprintf("HTTP %d", e.HTTPStatus))
	if e.RequestID != "" {
		parts = append(parts, "request-id "+e.RequestID)
	}
	fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	for _, f := range e.Failures {
		b.WriteString("; ")
		if f.Code != "" {
			b.WriteString(f.Code + ": ")
		}
		b.WriteString(f.Message)
		if f.Field != "" {
			b.WriteString(" at " + f.Field)
		}
	}
	if hint := e.hint(); hint != "" {
		b.WriteString("; " + hint)
	}
	return b.String()
}

func (e *Error) hint() string {
	for _, f := range e.Failures {
		if strings.Contains(f.Code, "DEVELOPER_TOKEN") {
			return "check NUDGE_GOOGLE_ADS_DEVELOPER_TOKEN and its access level in the Google Ads API Center"
		}
	}
	switch e.Status {
	case "UNAUTHENTICATED":
		return "check NUDGE_GOOGLE_OAUTH_* (the refresh token may be revoked)"
	case "PERMISSION_DENIED":
		return "check the developer token's access level, NUDGE_GOOGLE_ADS_LOGIN_CUSTOMER_ID and the OAuth user's access to the account"
	case "invalid_grant":
		return "the refresh token was revoked or has expired: make a new one and set NUDGE_GOOGLE_OAUTH_REFRESH_TOKEN"
	case "invalid_client", "unauthorized_client":
		return "Google does not accept the OAuth client: check NUDGE_GOOGLE_OAUTH_CLIENT_ID and NUDGE_GOOGLE_OAUTH_CLIENT_SECRET"
	}
	return ""
}

// rpcStatus is google.rpc.Status as JSON.
type rpcStatus struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details"`
}

// detail is the union of the detail kinds Nudge reads.
type detail struct {
	Type string `json:"@type"`
	// GoogleAdsFailure
	Errors []struct {
		ErrorCode map[string]string `json:"errorCode"`
		Message   string            `json:"message"`
		Location  struct {
			FieldPathElements []struct {
				FieldName string `json:"fieldName"`
				Index     *int   `json:"index"`
			} `json:"fieldPathElements"`
		} `json:"location"`
	} `json:"errors"`
	RequestID string `json:"requestId"`
	// google.rpc.BadRequest
	FieldViolations []struct {
		Field       string `json:"field"`
		Description string `json:"description"`
		Reason      string `json:"reason"`
	} `json:"fieldViolations"`
	// google.rpc.ErrorInfo
	Reason string `json:"reason"`
	Domain string `json:"domain"`
}

// decodeError reads an error answer: one {"error": ...} object, or the
// array searchStream answers with.
func decodeError(op string, status int, reqID string, body []byte) *Error {
	e := &Error{Op: op, HTTPStatus: status, Code: status, RequestID: reqID}
	var st *rpcStatus
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var arr []struct {
			Error *rpcStatus `json:"error"`
		}
		if json.Unmarshal(trimmed, &arr) == nil {
			for _, a := range arr {
				if a.Error != nil {
					st = a.Error
					break
				}
			}
		}
	} else {
		var one struct {
			Error *rpcStatus `json:"error"`
		}
		if json.Unmarshal(trimmed, &one) == nil {
			st = one.Error
		}
	}
	if st == nil {
		e.Message = "answer without a Google error: " + snippet(body)
		return e
	}
	e.fill(st)
	return e
}

func (e *Error) fill(st *rpcStatus) {
	if st.Code != 0 {
		e.Code = st.Code
	}
	e.Status, e.Message = st.Status, st.Message
	for _, raw := range st.Details {
		var d detail
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		switch {
		case strings.HasSuffix(d.Type, ".GoogleAdsFailure"):
			if e.RequestID == "" {
				e.RequestID = d.RequestID
			}
			for _, fe := range d.Errors {
				f := Failure{Message: fe.Message}
				kinds := make([]string, 0, len(fe.ErrorCode))
				for k, v := range fe.ErrorCode {
					kinds = append(kinds, k+": "+v)
				}
				sort.Strings(kinds)
				f.Code = strings.Join(kinds, ", ")
				var path []string
				for _, p := range fe.Location.FieldPathElements {
					s := p.FieldName
					if p.Index != nil {
						s += fmt.Sprintf("[%d]", *p.Index)
					}
					path = append(path, s)
				}
				f.Field = strings.Join(path, ".")
				e.Failures = append(e.Failures, f)
			}
		case strings.HasSuffix(d.Type, "google.rpc.BadRequest"):
			for _, v := range d.FieldViolations {
				e.Failures = append(e.Failures, Failure{Code: v.Reason, Message: v.Description, Field: v.Field})
			}
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && d.Reason != "":
			e.Failures = append(e.Failures, Failure{Code: d.Reason, Message: "(" + d.Domain + ")"})
		}
	}
}

// tokenError turns a failed token refresh into an *Error: Google's token
// endpoint refusing the refresh token (invalid_grant, invalid_client) is
// not worth retrying; its outage is.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("google: refreshing the OAuth access token: %w", err)
	}
	e := &Error{Op: "refresh OAuth access token", Status: re.ErrorCode, Message: re.ErrorDescription}
	if re.Response != nil {
		e.HTTPStatus, e.Code = re.Response.StatusCode, re.Response.StatusCode
	}
	if e.Message == "" {
		e.Message = "token endpoint answered " + snippet(re.Body)
	}
	return e
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(b, []byte("?"))))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
