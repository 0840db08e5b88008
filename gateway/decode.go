package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nudgehq/nudge/workflows"
)

// maxIDLength is the longest ID or event name the database columns hold.
const maxIDLength = workflows.MaxIDLength

// parser reads one JSON object field by field, checking each field's JSON
// type itself so an error names the field as the client spelled it. The
// first problem found is kept; later reads are no-ops.
type parser struct {
	fields map[string]json.RawMessage
	prefix string // "batch[3]." inside a batch
	index  *int   // the batch index, reported with the error
	admin  bool   // the caller used an admin key: reserved events allowed
	source string // the caller, as events record it (models.Event.Source)
	err    *apiError
}

func (p *parser) fail(field, format string, args ...any) {
	p.failWith(http.StatusBadRequest, field, format, args...)
}

func (p *parser) failWith(status int, field, format string, args ...any) {
	if p.err != nil {
		return
	}
	p.err = &apiError{
		Status: status,
		Error:  p.prefix + field + ": " + fmt.Sprintf(format, args...),
		Field:  field,
		Index:  p.index,
	}
}

// raw returns a field's JSON, or nil when it is absent or null: Segment
// libraries send null for what they do not know (userId before identify).
func (p *parser) raw(key string) json.RawMessage {
	raw, ok := p.fields[key]
	if !ok || jsonType(raw) == "null" {
		return nil
	}
	return raw
}

// str reads an optional string field; "" means absent.
func (p *parser) str(key string) string {
	raw := p.raw(key)
	if raw == nil || p.err != nil {
		return ""
	}
	var s string
	if jsonType(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		p.fail(key, "must be a string, got %s", jsonType(raw))
		return ""
	}
	return s
}

// id reads an optional ID field (userId, messageId, an event's name): text
// that is stored in an indexed column and may become part of a workflow ID.
// "" means absent; anything else must pass workflows.CheckID.
func (p *parser) id(key string) string {
	s := p.str(key)
	if s == "" {
		return ""
	}
	if err := workflows.CheckID(s); err != nil {
		p.fail(key, "%v", err)
		return ""
	}
	return s
}

// obj reads an optional object field.
func (p *parser) obj(key string) map[string]any {
	raw := p.raw(key)
	if raw == nil || p.err != nil {
		return nil
	}
	var m map[string]any
	if jsonType(raw) != "an object" || json.Unmarshal(raw, &m) != nil {
		p.fail(key, "must be an object, got %s", jsonType(raw))
		return nil
	}
	return m
}

// time reads an optional date-time field.
func (p *parser) time(key string) (time.Time, bool) {
	const want = "must be an ISO-8601 date-time string such as \"2024-05-01T12:30:00.000Z\""
	if raw := p.raw(key); raw != nil && jsonType(raw) != "a string" {
		p.fail(key, "%s, got %s", want, jsonType(raw))
		return time.Time{}, false
	}
	s := p.str(key)
	if s == "" {
		return time.Time{}, false
	}
	t, err := readTime(s)
	switch {
	case err == errTimeRange:
		p.fail(key, "must be a date-time from the years %d to %d, got %q", minTime.Year(), maxTime.Year()-1, clip(s))
	case err != nil:
		p.fail(key, "%s, got %q", want, clip(s))
	}
	return t, err == nil
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700", // offset without a colon, as some Java libraries write it
	"2006-01-02T15:04:05.999999999",      // no offset: taken as UTC
}

// Times are taken from minTime up to (not including) maxTime. Beyond, the
// store cannot hold them: MySQL's DATETIME ends at the year 9999, and
// SQLite stores a later time as text it cannot read back. The bounds leave
// room for Segment's clock-skew correction, which moves a timestamp by
// (received − sentAt), at most some 290 years.
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

var (
	errNotTime   = errors.New("not a date-time")
	errTimeRange = errors.New("date-time out of range")
)

// readTime reads a date-time in range, in UTC.
func readTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t = t.UTC(); t.Before(minTime) || !t.Before(maxTime) {
				return time.Time{}, errTimeRange
			}
			return t, nil
		}
	}
	return time.Time{}, errNotTime
}

// parseTime reads a date-time in range; ok is false for anything else.
func parseTime(s string) (t time.Time, ok bool) {
	t, err := readTime(s)
	return t, err == nil
}

// jsonType names the JSON type of a value the way an error message says it.
func jsonType(raw json.RawMessage) string {
	b := bytes.TrimLeft(raw, " \t\r\n")
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// valueType is jsonType for a decoded value.
func valueType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

// decodeObject parses a request body that must be one JSON object.
func decodeObject(body []byte) (map[string]json.RawMessage, *apiError) {
	bad := func(msg string) *apiError { return &apiError{Status: http.StatusBadRequest, Error: msg} }
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, bad("the body is empty; send a JSON object")
	}
	if err := json.Unmarshal(body, new(any)); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// Valid JSON, but with a number no float64 holds, such as 1e400.
			if t := jsonType(body); t != "an object" {
				return nil, bad("the body must be a JSON object, got " + t)
			}
			if aerr := badValue(body, true, 0); aerr != nil {
				return nil, aerr
			}
		}
		msg := err.Error()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg = fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
		}
		return nil, bad("the body is not valid JSON: " + msg)
	}
	if t := jsonType(body); t != "an object" {
		return nil, bad("the body must be a JSON object, got " + t)
	}
	// encoding/json would quietly turn bad text into U+FFFD.
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) {
		// the common case: nothing to look for
	} else if aerr := badValue(body, false, 0); aerr != nil {
		return nil, aerr
	}
	if nesting(body) > maxNesting {
		return nil, badValue(body, false, maxNesting)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, bad("the body is not valid JSON: " + err.Error())
	}
	return fields, nil
}

// maxNesting is how deep objects and arrays may nest in a body. A batch
// call's products sit 6 levels down; 32 leaves room for rich properties
// and keeps every stored document well inside MySQL's JSON limit of 100.
const maxNesting = 32

// nesting is how deep a JSON document's objects and arrays nest.
func nesting(body []byte) int {
	deepest, depth, inString, escaped := 0, 0, false, false
	for _, b := range body {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch b {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			deepest = max(deepest, depth)
		case b == '}' || b == ']':
			depth--
		}
	}
	return deepest
}

// badValue finds the first string in a JSON document (a key or a value)
// that is not valid UTF-8 or escapes half a surrogate pair, or, with
// numbers, the first number a float64 cannot hold, or, with a depth limit,
// the first object or array nested deeper, and refuses it naming where it
// is, like "batch[3].properties.name". Inside the top-level "batch" array,
// the field is named within the call, with the call's index. body must be
// valid JSON; nil means nothing was found.
func badValue(body []byte, numbers bool, depthLimit int) *apiError {
	type level struct {
		object bool
		key    string // the current key, in an object
		index  int    // the next index, in an array
		onKey  bool   // in an object: the next string is a key
	}
	var stack []level
	// where writes the path of the levels in stack; with key, the path
	// names a key of the object it ends at: "a top-level key", or the
	// object's path and " (a key in it)".
	where := func(stack []level, key bool) string {
		var b strings.Builder
		for _, l := range stack {
			switch {
			case !l.object:
				fmt.Fprintf(&b, "[%d]", l.index-1)
			case b.Len() > 0:
				b.WriteString("." + l.key)
			default:
				b.WriteString(l.key)
			}
		}
		switch {
		case !key:
		case b.Len() == 0:
			b.WriteString("a top-level key")
		default:
			b.WriteString(" (a key in it)")
		}
		return b.String()
	}
	refuse := func(stack []level, key bool, problem string) *apiError {
		if key {
			stack = stack[:len(stack)-1] // the key names the object it is in
		}
		aerr := &apiError{Status: http.StatusBadRequest, Error: where(stack, key) + ": " + problem}
		if len(stack) >= 2 && stack[0].object && stack[0].key == "batch" && !stack[1].object {
			i := stack[1].index - 1
			aerr.Index = &i
			if len(stack) > 2 || key {
				aerr.Field = where(stack[2:], key)
			}
		} else {
			aerr.Field = where(stack, key)
		}
		return aerr
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var offset int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		raw := body[offset:dec.InputOffset()]
		offset = dec.InputOffset()
		var top *level
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		isKey := top != nil && top.object && top.onKey
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].onKey = true
			}
			continue
		}
		if top != nil && !top.object {
			top.index++
		}
		switch tok := tok.(type) {
		case string:
			if !numbers && !validJSONString(raw) {
				return refuse(stack, isKey, "is not valid UTF-8 text (or holds a lone surrogate escape); send text as UTF-8")
			}
			if isKey {
				top.key, top.onKey = tok, false
				continue
			}
		case json.Number:
			if _, err := strconv.ParseFloat(string(tok), 64); numbers && err != nil {
				return refuse(stack, false, fmt.Sprintf("the number %s is out of range; numbers must fit a 64-bit float (at most about 1.8e308)", clip(string(tok))))
			}
		}
		if top != nil && top.object {
			top.onKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			if depthLimit > 0 && len(stack) >= depthLimit {
				return refuse(stack, false, fmt.Sprintf("nests objects and arrays more than %d levels deep; send flatter data", depthLimit))
			}
			stack = append(stack, level{object: d == '{', onKey: d == '{'})
		}
	}
}

// validJSONString checks a string token as it appears in the document
// (from somewhere before its opening quote to its closing quote): valid
// UTF-8, and every \u escape of a surrogate paired.
func validJSONString(raw []byte) bool {
	raw = raw[bytes.IndexByte(raw, '"'):]
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] != 'u' {
			i++
			continue
		}
		if i+6 > len(raw) {
			return false
		}
		r, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		if err != nil {
			return false
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // the second half alone
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 > len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return false
			}
			lo, err := strconv.ParseUint(string(raw[i+3:i+7]), 16, 32)
			if err != nil || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// clip shortens a value quoted back in an error message.
func clip(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
