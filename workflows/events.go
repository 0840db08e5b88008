package workflows

import (
	"slices"
	"strconv"
	"time"
)

// Signal names.
const (
	SignalEvent        = "event"         // an Event, to a contact or a journey
	SignalEvents       = "events"        // []Event, in order: several of a contact's events in one signal
	SignalJourneyEnded = "journey-ended" // a JourneyEnded, from a journey to its contact
	// SignalJourneyResumed tells a journey's runs that it was resumed, so
	// those holding a send go on at once (no payload).
	SignalJourneyResumed = "journey-resumed"
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
	EventProductViewed   = "Product Viewed"
	EventProductAdded    = "Product Added"
	EventOrderCompleted  = "Order Completed"
	EventOrderShipped    = "Order Shipped"
	EventOrderDelivered  = "Order Delivered"
	EventOrderRefunded   = "Order Refunded"
	EventOrderCancelled  = "Order Cancelled"
	EventUnsubscribed    = "Unsubscribed"

	// Engagement, recorded by Nudge's tracking links and provider webhooks.
	EventEmailOpened  = "Email Opened"
	EventEmailClicked = "Email Link Clicked"
	EventEmailBounced = "Email Bounced"
	EventEmailSpam    = "Email Marked as Spam"
	// In-app inbox engagement, recorded by the inbox API (gateway/inbox.go).
	EventInAppRead    = "In-App Read"
	EventInAppClicked = "In-App Clicked"

	// B2B funnel.
	EventDemoRequested         = "Demo Requested"
	EventContentDownloaded     = "Content Downloaded" // content_type "case_study", content_id
	EventTrialStarted          = "Trial Started"
	EventSubscriptionStarted   = "Subscription Started"
	EventSubscriptionCancelled = "Subscription Cancelled"
	EventFeatureUsed           = "Feature Used"
	EventLeadAccepted          = "Lead Accepted" // a sales rep took the lead: SQL
	EventSalesTaskClosed       = "Sales Task Closed"
	// EventContactMerged tells both contacts of a merge (Segment's alias of
	// two known contacts, or a Shopify guest who became a customer): the
	// one merged away carries "into", the one kept carries "from".
	EventContactMerged = "Contact Merged"

	// EventPageViewed is what journeys call a page call.
	EventPageViewed = "Page Viewed"
)

// Events ContactWorkflow makes itself, to start and steer journeys.
const (
	EventBecameLead       = "Became Lead"       // a subscriber showed interest
	EventHandedOff        = "Lead Handed Off"   // crossed the MQL threshold; a sales task is open
	EventEngagementLapsed = "Engagement Lapsed" // no open, click or page view for the win-back window
)

// Events the Twilio webhooks and the preference page record.
const (
	EventSMSOptedOut        = "SMS Opted Out"
	EventSMSOptedIn         = "SMS Opted In"
	EventSMSReceived        = "SMS Received"
	EventPreferencesUpdated = "Preferences Updated"
)

// reservedEvents are the events only Nudge records: from its tracking links,
// its unsubscribe and preference pages, provider webhooks, the sales task
// routes and ContactWorkflow itself. They move scores, stages, consent and
// revenue credit, so a write key, which ships in web pages, may not send
// them; an admin key may, for imports and repairs.
var reservedEvents = []string{
	EventEmailOpened, EventEmailClicked, EventEmailBounced, EventEmailSpam,
	EventInAppRead, EventInAppClicked,
	EventUnsubscribed, EventPreferencesUpdated,
	EventSMSOptedOut, EventSMSOptedIn, EventSMSReceived,
	EventLeadAccepted, EventSalesTaskClosed, EventContactMerged,
	EventBecameLead, EventHandedOff, EventEngagementLapsed,
}

// OwnIDPrefix starts the messageId of every event Nudge records itself
// (tracking, webhooks, unsubscribes, sales routes). Clients may not send a
// messageId with it, so none can take an ID Nudge will use and have the
// real event dropped as a duplicate.
const OwnIDPrefix = "nudge:"

// OwnID is the messageId of an event Nudge records, from what identifies it:
// OwnID("open", "42") is "nudge:open-42".
func OwnID(kind string, parts ...string) string {
	id := OwnIDPrefix + kind
	for _, p := range parts {
		id += "-" + p
	}
	return id
}

// Reserved reports whether only Nudge (or an admin key) may record the
// track event called name.
func Reserved(name string) bool { return slices.Contains(reservedEvents, name) }

// ReservedEvents lists the reserved events, for documentation and errors.
func ReservedEvents() []string { return slices.Clone(reservedEvents) }

// Event is something a contact did, as delivered to workflows.
type Event struct {
	MessageID  string
	Kind       string
	Name       string         // the event for a track, the page's name for a page
	Properties map[string]any `json:",omitempty"`
	Traits     map[string]any `json:",omitempty"`
	Timestamp  time.Time
	// AdClick is set when the call landed from an ad: its URL carried a
	// click ID (the gateway reads it from the call's context).
	AdClick *AdClick `json:",omitempty"`
}

// AdClick is the ad a visit came from.
type AdClick struct {
	ClickIDType string // gclid, fbclid or ttclid
	Campaign    string `json:",omitempty"` // utm_campaign
	URL         string `json:",omitempty"` // the landing page
}

// Is reports whether e is the track event called name.
func (e Event) Is(name string) bool { return e.Kind == KindTrack && e.Name == name }

// Action is the event's name as journeys and scoring see it: the event for
// a track call, Page Viewed for a page.
func (e Event) Action() string {
	if e.Kind == KindPage {
		return EventPageViewed
	}
	return e.Name
}

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

// Text returns a property as text: a string as it is, a number written
// out (storefronts send IDs either way), else "".
func (e Event) Text(key string) string {
	switch v := e.Properties[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// Products returns the event's products list (Segment's products[]).
func (e Event) Products() []Product {
	items, _ := e.Properties["products"].([]any)
	ps := make([]Product, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			ps = append(ps, ProductFrom(m))
		}
	}
	return ps
}

// Cart is a checkout as a Checkout Started event tells it.
type Cart struct {
	CheckoutID string // checkout_id, or Segment's cart_id
	URL        string // cart_url, else url: the way back to it
	Value      float64
	Currency   string
	Products   []Product
}

// Cart reads the checkout the event is about. Its value is the event's
// value (or total, or revenue), else the sum of its products; the currency
// is USD unless it says otherwise.
func (e Event) Cart() Cart {
	c := Cart{CheckoutID: checkoutID(e), URL: e.Property("cart_url"), Currency: e.currency(), Products: e.Products()}
	if c.URL == "" {
		c.URL = e.Property("url")
	}
	if v, ok := e.firstNumber("value", "total", "revenue"); ok {
		c.Value = v
		return c
	}
	for _, p := range c.Products {
		qty := p.Quantity
		if qty == 0 {
			qty = 1
		}
		c.Value += p.Price * qty
	}
	return c
}

// Order is an order as Order Completed (and the later order events) tell it.
type Order struct {
	ID       string // order_id
	Number   string // order_number, what the shopper sees (#1042), else the ID
	Total    float64
	Currency string
	Products []Product
}

// Order reads the order the event is about.
func (e Event) Order() Order {
	o := Order{ID: orderID(e), Number: e.Text("order_number"), Currency: e.currency(), Products: e.Products()}
	if o.Number == "" {
		o.Number = o.ID
	}
	o.Total, _ = e.firstNumber("total", "value")
	return o
}

// Shipment is the parcel an Order Shipped event tells of.
type Shipment struct {
	TrackingNumber string
	Carrier        string
	TrackingURL    string
}

// Shipment reads the parcel an Order Shipped event is about.
func (e Event) Shipment() Shipment {
	return Shipment{TrackingNumber: e.Text("tracking_number"), Carrier: e.Property("carrier"), TrackingURL: e.Property("tracking_url")}
}

func (e Event) currency() string {
	if c := e.Property("currency"); c != "" {
		return c
	}
	return "USD"
}

func (e Event) firstNumber(keys ...string) (float64, bool) {
	for _, k := range keys {
		if v, ok := e.Number(k); ok {
			return v, true
		}
	}
	return 0, false
}

// JourneyEnded tells a contact's workflow that one of its journeys is over.
type JourneyEnded struct {
	WorkflowID string
}
