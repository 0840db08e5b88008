package workflows

import (
	"strconv"
	"time"
)

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
	EventSignedUp        = "Signed Up"
	EventSetupCompleted  = "Setup Completed"
	EventCheckoutStarted = "Checkout Started"
	EventOrderCompleted  = "Order Completed"
	EventOrderShipped    = "Order Shipped"
	EventOrderDelivered  = "Order Delivered"
	EventOrderRefunded   = "Order Refunded"
	EventOrderCancelled  = "Order Cancelled"
	EventUnsubscribed    = "Unsubscribed"
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

// Number returns a numeric property, reading numbers sent as strings too
// (Shopify sends money as "129.00").
func (e Event) Number(key string) (float64, bool) {
	switch v := e.Properties[key].(type) {
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// Products returns the event's products list (Segment's products[]).
func (e Event) Products() []any {
	ps, _ := e.Properties["products"].([]any)
	return ps
}

// JourneyEnded tells a contact's workflow that one of its journeys is over.
type JourneyEnded struct {
	WorkflowID string
}
