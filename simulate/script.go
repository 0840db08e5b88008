// Package simulate runs one journey for one made-up contact on the SDK's
// time-skipping test clock, from a script of events at offsets, and prints
// what the journey would send, when, and why. Nothing is delivered: this is
// how a marketer checks a journey before it goes live.
package simulate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/workflows"
)

// Script is what `nudge simulate` reads:
//
//	{
//	  "journey": "welcome_b2b",
//	  "contact": {"firstName": "Dana", "email": "dana@example.com", "industry": "fintech"},
//	  "events": [
//	    "+0h Signed Up",
//	    {"at": "+50h", "event": "Setup Completed"},
//	    {"at": "+3d", "event": "Order Completed", "properties": {"total": 42}}
//	  ]
//	}
//
// The first event starts the journey; offsets are counted from it, in
// minutes (m), hours (h) or days (d).
type Script struct {
	Journey string         `json:"journey"`
	Contact map[string]any `json:"contact"`
	Events  []ScriptEvent  `json:"events"`
}

// ScriptEvent is one event at an offset from the start.
type ScriptEvent struct {
	At         time.Duration
	Event      string
	Properties map[string]any
}

// UnmarshalJSON reads "+50h Setup Completed" or {"at": "+50h", "event": …}.
func (e *ScriptEvent) UnmarshalJSON(b []byte) error {
	var line string
	if err := json.Unmarshal(b, &line); err == nil {
		at, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.TrimSpace(name) == "" || !strings.HasPrefix(at, "+") {
			return fmt.Errorf("event %q: write it as \"+<offset> <event name>\", like \"+50h Setup Completed\"", line)
		}
		d, err := ParseOffset(at)
		if err != nil {
			return fmt.Errorf("event %q: %w", line, err)
		}
		*e = ScriptEvent{At: d, Event: strings.TrimSpace(name)}
		return nil
	}
	var obj struct {
		At         string         `json:"at"`
		Event      string         `json:"event"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("event %s: want \"+50h Setup Completed\" or {\"at\": \"+50h\", \"event\": \"Setup Completed\"}", b)
	}
	if obj.Event == "" {
		return fmt.Errorf("event %s: \"event\" is required", b)
	}
	d, err := ParseOffset(obj.At)
	if err != nil {
		return fmt.Errorf("event %q: %w", obj.Event, err)
	}
	*e = ScriptEvent{At: d, Event: obj.Event, Properties: obj.Properties}
	return nil
}

// ParseOffset reads +90m, +50h, +3d or +1d12h.
func ParseOffset(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "+")
	if !ok || rest == "" {
		return 0, fmt.Errorf("offset %q must start with + and a number, like +0h, +50h or +3d", s)
	}
	var total time.Duration
	if days, after, found := strings.Cut(rest, "d"); found {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("offset %q: %q is not a number of days", s, days)
		}
		total, rest = time.Duration(n)*workflows.Day, after
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("offset %q: use minutes (m), hours (h) or days (d), like +90m, +50h or +3d", s)
		}
		total += d
	}
	return total, nil
}

// ParseScript reads and checks a script.
func ParseScript(r io.Reader) (*Script, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Script
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("script: %w", err)
	}
	if s.Journey == "" {
		return nil, errors.New("script: \"journey\" is required (one of: " + strings.Join(workflows.JourneyNames(), ", ") + ")")
	}
	if _, ok := workflows.Lookup(s.Journey); !ok {
		return nil, fmt.Errorf("script: no journey %q (known: %s)", s.Journey, strings.Join(workflows.JourneyNames(), ", "))
	}
	if len(s.Events) == 0 {
		return nil, errors.New("script: \"events\" needs at least the event that starts the journey, like \"+0h Signed Up\"")
	}
	sort.SliceStable(s.Events, func(i, j int) bool { return s.Events[i].At < s.Events[j].At })
	if s.Events[0].At != 0 {
		return nil, fmt.Errorf("script: the first event starts the journey and must be at +0h, not +%s", s.Events[0].At)
	}
	return &s, nil
}
