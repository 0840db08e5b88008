package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// maxIDLength is the longest ID or event name the database columns hold.
const maxIDLength = 191

// parser reads one JSON object field by field, checking each field's JSON
// type itself so an error names the field as the client spelled it. The
// first problem found is kept; later reads are no-ops.
type parser struct {
	fields map[string]json.RawMessage
	prefix string // "batch[3]." inside a batch
	index  *int   // the batch index, reported with the error
	err    *apiError
}

func (p *parser) fail(field, format string, args ...any) {
	if p.err != nil {
		return
	}
	p.err = &apiError{
		Status: http.StatusBadRequest,
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

// id reads an optional string field that is stored in an indexed column.
func (p *parser) id(key string) string {
	s := p.str(key)
	if utf8.RuneCountInString(s) > maxIDLength {
		p.fail(key, "is %d characters long; the limit is %d", utf8.RuneCountInString(s), maxIDLength)
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
	t, ok := parseTime(s)
	if !ok {
		p.fail(key, "%s, got %q", want, clip(s))
	}
	return t, ok
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700", // offset without a colon, as some Java libraries write it
	"2006-01-02T15:04:05.999999999",      // no offset: taken as UTC
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
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
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, bad("the body is not valid JSON: " + err.Error())
	}
	return fields, nil
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
