package workflows

import "testing"

// What a contact run forwards to a running journey depends on the contact
// run's version: an older run must forward what its history shows it did.
func TestJourneysHearByVersion(t *testing.T) {
	page := Event{Kind: KindPage, Name: "Pricing"}
	closed := Event{Kind: KindTrack, Name: EventSalesTaskClosed}
	read := Event{Kind: KindTrack, Name: EventInAppRead}
	clicked := Event{Kind: KindTrack, Name: EventInAppClicked}
	for _, c := range []struct {
		journey string
		ev      Event
		version int
		want    bool
	}{
		{"nurture", page, 3, false},
		{"nurture", page, 4, true},
		{"welcome_ecommerce", page, 4, false}, // not a journey that counts visits
		{"welcome_ecommerce", closed, 3, false},
		{"welcome_ecommerce", closed, 4, true}, // releases a send held for the sales task
		{"nurture", closed, 3, true},           // nurture always listed it
		{"nurture", read, 4, false},
		{"nurture", read, 5, true},
		{"winback", clicked, 4, false}, // a goal, but not for the runs recorded before version 5
		{"winback", clicked, 5, true},
		{"welcome_ecommerce", read, 5, false},
	} {
		j, ok := Lookup(c.journey)
		if !ok {
			t.Fatalf("no journey %s", c.journey)
		}
		if got := j.listensTo(c.ev, c.version); got != c.want {
			t.Errorf("%s hears %s from a version %d contact run: %v, want %v", c.journey, c.ev.Action(), c.version, got, c.want)
		}
	}
}
