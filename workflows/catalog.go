package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Day is the unit marketing plans are written in.
const Day = 24 * time.Hour

// Journey describes when a journey starts, what ends it, and the workflow
// that runs it. Each journey file registers its own in an init function.
type Journey struct {
	Name string
	// Workflow is the journey itself: func(workflow.Context, JourneyInput) error.
	Workflow any
	// Starts reports whether an event, given the contact's traits, enters the
	// contact into this journey.
	Starts func(ev Event, traits map[string]any) bool
	// Key, when set, gives each key its own run (one per checkout, say); a
	// second trigger with the same key reaches the running one instead.
	Key func(ev Event) string
	// Reentry says whether a contact who has been through the journey can
	// start it again.
	Reentry Reentry
	// Goals end the journey at once: the contact did what it was for, or
	// (a refund) it no longer applies.
	Goals []string
	// Converts lists the events that count as the journey's conversion in
	// its results: goals that mean success, and events it keeps going after
	// (the B2B welcome converts on Setup Completed). Those that are not
	// goals are forwarded to runs of version 3 and later, so they can tell.
	Converts []string
	// Waits lists the other events the journey reacts to.
	Waits []string
	// WaitsFrom4 lists events the journey reacts to that contact runs of
	// version 4 and later forward: listed in Waits, older runs would start
	// forwarding them too, which their recorded histories do not show.
	WaitsFrom4 []string
	// Since gives the first version that hears an event added to Goals,
	// Converts or Waits after runs without it were recorded: contact runs
	// of older versions do not forward it (their histories show no such
	// signal), and journey runs of older versions ignore it.
	Since map[string]int
	// KeyName says what the key is ("checkout", "order"), for timelines.
	KeyName string
	// ForStages, when set, limits the journey to contacts in these
	// lifecycle stages when it would start.
	ForStages []string
	// AnyKeyGoal, for a keyed journey, lets a goal for another key end the
	// run too (any order ends an abandoned cart, say), when settings ask.
	AnyKeyGoal func(Settings) bool
}

// Reentry is a journey's re-entry rule.
type Reentry struct {
	// Window: 0 means once ever, a positive window once per that long, and
	// Always (negative) every time the trigger fires.
	Window time.Duration
}

var (
	EnterOnce   = Reentry{}
	EnterAlways = Reentry{Window: -1}
)

// EnterOncePer lets a contact start the journey again once window has passed
// since they last entered it.
func EnterOncePer(window time.Duration) Reentry { return Reentry{Window: window} }

// allows reports whether a contact who last entered at last (zero: never)
// may enter again at now.
func (r Reentry) allows(last, now time.Time) bool {
	switch {
	case last.IsZero() || r.Window < 0:
		return true
	case r.Window == 0:
		return false
	}
	return !now.Before(last.Add(r.Window))
}

// ListensTo reports whether a running journey wants an event forwarded: its
// goals, the events it waits for, and Unsubscribed.
func (j *Journey) ListensTo(ev Event) bool {
	name := ev.Action()
	return ev.Kind != KindIdentify && (slices.Contains(j.Goals, name) || slices.Contains(j.Waits, name) || name == EventUnsubscribed)
}

// listensTo is ListensTo for a contact run of version: from version 3 a
// journey also hears its conversion events; from version 4 its WaitsFrom4,
// and every journey hears Sales Task Closed, which releases a marketing
// send held while the task was open; an event in Since only from its
// version.
func (j *Journey) listensTo(ev Event, version int) bool {
	name := ev.Action()
	switch {
	case version < j.Since[name]:
		return false
	case j.ListensTo(ev):
		return true
	case ev.Kind == KindIdentify:
		return false
	case version >= 3 && slices.Contains(j.Converts, name):
		return true
	}
	return version >= 4 && (name == EventSalesTaskClosed || slices.Contains(j.WaitsFrom4, name))
}

// concerns reports whether an event is about the run with this key: for a
// keyed journey, an event that carries another key (another checkout, another
// order) is not, unless it is a goal the settings let any key reach.
func (j *Journey) concerns(key string, ev Event, goal bool, s Settings) bool {
	if j.Key == nil || key == "" {
		return true
	}
	evKey := j.Key(ev)
	return evKey == "" || evKey == key || (goal && j.AnyKeyGoal != nil && j.AnyKeyGoal(s))
}

// keyName is how a run's key reads on its timeline.
func (j *Journey) keyName() string {
	if j.KeyName == "" {
		return "key"
	}
	return j.KeyName
}

// WorkflowID is the readable ID of a contact's run of the journey, with the
// contact ID and key encoded as EncodeID says.
func (j *Journey) WorkflowID(contactID, key string) string {
	if key == "" {
		return fmt.Sprintf("journey/%s/%s", j.Name, EncodeID(contactID))
	}
	return fmt.Sprintf("journey/%s/%s/%s", j.Name, EncodeID(contactID), EncodeID(key))
}

var catalog []Journey

func register(j Journey) {
	if _, ok := Lookup(j.Name); ok {
		panic("journey registered twice: " + j.Name)
	}
	catalog = append(catalog, j)
}

// Catalog lists every journey, in the order their triggers are checked.
func Catalog() []Journey { return slices.Clone(catalog) }

// JourneyNames lists every journey's name.
func JourneyNames() []string {
	names := make([]string, len(catalog))
	for i, j := range catalog {
		names[i] = j.Name
	}
	return names
}

// Lookup finds a journey by name.
func Lookup(name string) (Journey, bool) {
	for _, j := range catalog {
		if j.Name == name {
			return j, true
		}
	}
	return Journey{}, false
}

// JourneyInput starts a journey for one contact.
type JourneyInput struct {
	ContactID string
	Key       string `json:",omitempty"`
	// Trigger is the event that started the journey.
	Trigger Event
	// Settings in force when the run started; a run keeps them to its end.
	Settings Settings
	// Version is the behaviour the run has (see Version in ContactState).
	Version int `json:",omitempty"`
}

// Settings are the journeys' tunable numbers (NUDGE_CART_* and friends).
type Settings struct {
	// CartSMSThreshold: carts worth at least this get an SMS after the
	// second reminder.
	CartSMSThreshold float64
	// CartIncentive is the third reminder's offer: free_shipping, discount
	// or none (when margin matters more).
	CartIncentive       string
	CartDiscountPercent int
	// CartEndsOnAnyOrder: any order ends a cart's reminders, not only an
	// order of that checkout.
	CartEndsOnAnyOrder bool

	// Lead scoring and handoff.
	ICP             ICP
	MQLThreshold    int64
	ScoreDecayAfter time.Duration // silence after which a lead loses points, again each time

	// Nurture and win-back.
	NurtureCadence     time.Duration
	NurtureMaxUnopened int           // sends in a row without an open before nurture stops
	WinbackAfter       time.Duration // silence that starts the win-back journey
}

// ICP is the ideal customer profile fit scoring compares contacts with.
type ICP struct {
	Titles                     []string // words a matching job title contains
	MinEmployees, MaxEmployees int
	Industries                 []string
}

// Cart incentives.
const (
	IncentiveFreeShipping = "free_shipping"
	IncentiveDiscount     = "discount"
	IncentiveNone         = "none"
	// IncentiveExperiment tests free shipping against a discount, with a
	// holdout (CartIncentiveExperiment in split.go).
	IncentiveExperiment = "experiment"
)

// DefaultSettings are the settings NUDGE_* defaults give.
func DefaultSettings() Settings {
	return Settings{
		CartSMSThreshold: 100, CartIncentive: IncentiveFreeShipping, CartDiscountPercent: 10,
		ICP: ICP{
			Titles:       []string{"founder", "ceo", "cto", "cmo", "vp", "head of", "director"},
			MinEmployees: 50, MaxEmployees: 1000,
			Industries: []string{"software", "fintech", "saas"},
		},
		MQLThreshold:       80,
		ScoreDecayAfter:    30 * Day,
		NurtureCadence:     4 * Day,
		NurtureMaxUnopened: 3,
		WinbackAfter:       60 * Day,
	}
}

// Search attributes, so ops can find runs in the Temporal UI by contact,
// journey and step. The dev server registers them (scripts/dev.sh).
var (
	ContactIDKey      = temporal.NewSearchAttributeKeyKeyword("ContactID")
	JourneyKey        = temporal.NewSearchAttributeKeyKeyword("Journey")
	JourneyStepKey    = temporal.NewSearchAttributeKeyKeyword("JourneyStep")
	LeadScoreKey      = temporal.NewSearchAttributeKeyInt64("LeadScore")
	LifecycleStageKey = temporal.NewSearchAttributeKeyKeyword("LifecycleStage")
)

// SearchAttributes lists the search attributes Nudge needs, as the Temporal
// CLI's --search-attribute flag spells them.
func SearchAttributes() []string {
	return []string{"ContactID=Keyword", "Journey=Keyword", "JourneyStep=Keyword", "LeadScore=Int", "LifecycleStage=Keyword"}
}
