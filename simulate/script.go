// Package simulate runs one made-up contact through Nudge on the SDK's
// time-skipping test clock: its ContactWorkflow and every journey that
// starts, with the real activities and templates on a throwaway database,
// from a script of calls at offsets. It prints what happened, when and why,
// can write every message out as files, and checks every link in them.
// Nothing is delivered: this is how a journey is checked before it goes live.
package simulate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
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
//	    {"at": "+2h", "type": "page", "name": "Pricing", "properties": {"path": "/pricing"}},
//	    {"at": "+26h", "open": "welcome"},
//	    {"at": "+27h", "click": "welcome"},
//	    {"at": "+50h", "event": "Setup Completed"},
//	    {"at": "+3d", "type": "identify", "traits": {"title": "CTO"}}
//	  ]
//	}
//
// "contact" holds the traits the contact is identified with before the
// first call. "journey" names the journey under test: only it may start,
// and the first call must start it. Without it, "journeys" lists the ones
// that may start ("all", the default, is every journey NUDGE_JOURNEYS
// enables). Offsets count from the first call, in minutes (m), hours (h) or
// days (d); "until" is when the simulation stops (default: 45 days after the
// last call, long enough for every journey's waits).
type Script struct {
	Journey  string         `json:"journey"`
	Journeys Journeys       `json:"journeys"`
	UserID   string         `json:"userId"`
	Contact  map[string]any `json:"contact"`
	Events   []ScriptEvent  `json:"events"`
	Until    string         `json:"until"`

	until time.Duration
}

// Journeys is "all" or a list of journey names.
type Journeys []string

func (j *Journeys) UnmarshalJSON(b []byte) error {
	var all string
	if json.Unmarshal(b, &all) == nil {
		if all != "all" {
			return fmt.Errorf("\"journeys\": want \"all\" or a list of names, got %q", all)
		}
		*j = nil
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return errors.New("\"journeys\": want \"all\" or a list of names")
	}
	for _, n := range names {
		if _, ok := workflows.Lookup(n); !ok {
			return fmt.Errorf("\"journeys\": no journey %q (known: %s)", n, strings.Join(workflows.JourneyNames(), ", "))
		}
	}
	*j = names
	return nil
}

// ScriptEvent is one thing the contact does at an offset: a Segment call
// (identify, track, page or screen), or an open or click of an email sent
// earlier in the run (named by its step, or journey/step).
type ScriptEvent struct {
	At         time.Duration
	Kind       string // identify, track, page, screen, open or click
	Event      string // a track call's event, a page's or screen's name
	Properties map[string]any
	Traits     map[string]any
	Step       string // the email an open or click is of
	URL        string // the link a click follows; "" is the first tracked link
}

// UnmarshalJSON reads "+50h Setup Completed" or an object with "at" and one
// of "event", "type", "open" or "click".
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
		*e = ScriptEvent{At: d, Kind: workflows.KindTrack, Event: strings.TrimSpace(name)}
		return nil
	}
	var obj struct {
		At         string         `json:"at"`
		Type       string         `json:"type"`
		Event      string         `json:"event"`
		Name       string         `json:"name"`
		Properties map[string]any `json:"properties"`
		Traits     map[string]any `json:"traits"`
		Open       string         `json:"open"`
		Click      string         `json:"click"`
		URL        string         `json:"url"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("event %s: %v; want \"+50h Setup Completed\" or {\"at\": \"+50h\", \"event\": \"Setup Completed\"}", b, err)
	}
	d, err := ParseOffset(obj.At)
	if err != nil {
		return fmt.Errorf("event %s: %w", b, err)
	}
	*e = ScriptEvent{At: d, Properties: obj.Properties, Traits: obj.Traits, URL: obj.URL}
	switch {
	case obj.Open != "":
		e.Kind, e.Step = "open", obj.Open
	case obj.Click != "":
		e.Kind, e.Step = "click", obj.Click
	case obj.Type == "" || obj.Type == workflows.KindTrack:
		if obj.Event == "" {
			return fmt.Errorf("event %s: \"event\" is required", b)
		}
		e.Kind, e.Event = workflows.KindTrack, obj.Event
	case obj.Type == workflows.KindIdentify:
		e.Kind = workflows.KindIdentify
	case obj.Type == workflows.KindPage || obj.Type == "screen":
		e.Kind, e.Event = obj.Type, obj.Name
	default:
		return fmt.Errorf("event %s: \"type\" must be identify, track, page or screen", b)
	}
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
	if s.Journey != "" {
		if _, ok := workflows.Lookup(s.Journey); !ok {
			return nil, fmt.Errorf("script: no journey %q (known: %s)", s.Journey, strings.Join(workflows.JourneyNames(), ", "))
		}
		if s.Journeys == nil {
			s.Journeys = Journeys{s.Journey}
		} else if !slices.Contains(s.Journeys, s.Journey) {
			s.Journeys = append(s.Journeys, s.Journey)
		}
	}
	if len(s.Events) == 0 {
		return nil, errors.New("script: \"events\" needs at least one call, like \"+0h Signed Up\"")
	}
	sort.SliceStable(s.Events, func(i, j int) bool { return s.Events[i].At < s.Events[j].At })
	if s.Events[0].At != 0 {
		return nil, fmt.Errorf("script: the first event starts the run and must be at +0h, not +%s", s.Events[0].At)
	}
	if s.Journey != "" && s.Events[0].Kind != workflows.KindTrack {
		return nil, fmt.Errorf("script: the first event starts %s and must be a track call", s.Journey)
	}
	s.until = s.Events[len(s.Events)-1].At + 45*workflows.Day
	if s.Until != "" {
		d, err := ParseOffset(s.Until)
		if err != nil {
			return nil, fmt.Errorf("script: until: %w", err)
		}
		if d < s.Events[len(s.Events)-1].At {
			return nil, fmt.Errorf("script: until %s is before the last event", s.Until)
		}
		s.until = d
	}
	if s.UserID == "" {
		s.UserID = "simulated-contact"
	}
	return &s, nil
}
