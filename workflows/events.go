package workflows

import "time"

// Signal names.
const (
	SignalEvent        = "event"         // an Event, to a contact or a journey
	SignalJourneyEnded = "journey-ended" // a JourneyEnded, from a journey to its contact
)

// Event kinds, as in the Segment spec.
const (
	KindTrack    = "track"
	KindIdentify = "identify"
	KindPage     = "page"
)

// Event names Nudge itself acts on. Names follow the Segment spec.
const (
	EventSignedUp       = "Signed Up"
	EventSetupCompleted = "Setup Completed"
	EventOrderCompleted = "Order Completed"
	EventUnsubscribed   = "Unsubscribed"
)

// Event is something a contact did, as delivered to workflows.
type Event struct {
	MessageID  string
	Kind       string
	Name       string         // the event for a track, the page's name for a page
	Properties map[string]any `json:",omitempty"`
	Traits     map[string]any `json:",omitempty"`
	Timestamp  time.Time
}

// Is reports whether e is the track event called name.
func (e Event) Is(name string) bool { return e.Kind == KindTrack && e.Name == name }

// Property returns a string property, or "" when it is absent or not a string.
func (e Event) Property(key string) string {
	s, _ := e.Properties[key].(string)
	return s
}

// JourneyEnded tells a contact's workflow that one of its journeys is over.
type JourneyEnded struct {
	WorkflowID string
}
