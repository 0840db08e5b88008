package activities_test

import (
	"testing"
	"time"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func (f *smsFixture) window(t *testing.T, contactID string, at time.Time) workflows.SMSWindow {
	t.Helper()
	v, err := f.env.ExecuteActivity(workflows.SMSWindowActivity, workflows.SMSWindowRequest{ContactID: contactID, At: at})
	if err != nil {
		t.Fatal(err)
	}
	var w workflows.SMSWindow
	if err := v.Get(&w); err != nil {
		t.Fatal(err)
	}
	return w
}

// Quiet hours 21:00-08:00 on the contact's own clock.
func TestSMSWindow(t *testing.T) {
	la, berlin, tokyo, chicago := zone(t, "America/Los_Angeles"), zone(t, "Europe/Berlin"), zone(t, "Asia/Tokyo"), zone(t, "America/Chicago")
	type window struct {
		notBefore   time.Time // zero: open, NotBefore is At
		zone, local string
	}
	for _, tc := range []struct {
		name     string
		timezone string         // the contact's trait
		fallback *time.Location // Activities.Timezone
		at       time.Time
		want     window
	}{
		{"LA 20:59 open", "America/Los_Angeles", nil, time.Date(2025, 1, 15, 20, 59, 0, 0, la),
			window{zone: "America/Los_Angeles", local: "20:59 PST"}},
		{"LA 20:59:59 open", "America/Los_Angeles", nil, time.Date(2025, 1, 15, 20, 59, 59, 0, la),
			window{zone: "America/Los_Angeles", local: "20:59 PST"}},
		{"LA 21:00 closed until tomorrow 08:00", "America/Los_Angeles", nil, time.Date(2025, 1, 15, 21, 0, 0, 0, la),
			window{time.Date(2025, 1, 16, 8, 0, 0, 0, la), "America/Los_Angeles", "08:00 PST"}},
		{"LA 23:45 closed", "America/Los_Angeles", nil, time.Date(2025, 1, 15, 23, 45, 0, 0, la),
			window{time.Date(2025, 1, 16, 8, 0, 0, 0, la), "America/Los_Angeles", "08:00 PST"}},
		{"LA 00:00 closed until 08:00 today", "America/Los_Angeles", nil, time.Date(2025, 1, 16, 0, 0, 0, 0, la),
			window{time.Date(2025, 1, 16, 8, 0, 0, 0, la), "America/Los_Angeles", "08:00 PST"}},
		{"LA 07:59 closed", "America/Los_Angeles", nil, time.Date(2025, 1, 16, 7, 59, 0, 0, la),
			window{time.Date(2025, 1, 16, 8, 0, 0, 0, la), "America/Los_Angeles", "08:00 PST"}},
		{"LA 08:00 open", "America/Los_Angeles", nil, time.Date(2025, 1, 16, 8, 0, 0, 0, la),
			window{zone: "America/Los_Angeles", local: "08:00 PST"}},
		// 17:00 UTC is 19:00 in Berlin in summer: open; 20:30 UTC is 22:30 there.
		{"Berlin 19:00 open", "Europe/Berlin", nil, time.Date(2025, 7, 1, 17, 0, 0, 0, time.UTC),
			window{zone: "Europe/Berlin", local: "19:00 CEST"}},
		{"Berlin 22:30 closed", "Europe/Berlin", nil, time.Date(2025, 7, 1, 20, 30, 0, 0, time.UTC),
			window{time.Date(2025, 7, 2, 8, 0, 0, 0, berlin), "Europe/Berlin", "08:00 CEST"}},
		// 17:00 UTC is 02:00 the next day in Tokyo.
		{"Tokyo 02:00 closed", "Asia/Tokyo", nil, time.Date(2025, 7, 1, 17, 0, 0, 0, time.UTC),
			window{time.Date(2025, 7, 2, 8, 0, 0, 0, tokyo), "Asia/Tokyo", "08:00 JST"}},
		{"Tokyo 12:00 open", "Asia/Tokyo", nil, time.Date(2025, 7, 1, 3, 0, 0, 0, time.UTC),
			window{zone: "Asia/Tokyo", local: "12:00 JST"}},
		// Without a usable trait, the fallback zone (NUDGE_DEFAULT_TIMEZONE).
		{"no trait: fallback zone", "", chicago, time.Date(2025, 1, 15, 22, 0, 0, 0, chicago),
			window{time.Date(2025, 1, 16, 8, 0, 0, 0, chicago), "America/Chicago", "08:00 CST"}},
		{"invalid trait: fallback zone", "Mars/Olympus_Mons", chicago, time.Date(2025, 1, 15, 22, 0, 0, 0, chicago),
			window{time.Date(2025, 1, 16, 8, 0, 0, 0, chicago), "America/Chicago", "08:00 CST"}},
		{"server's Local is no contact's zone", "Local", chicago, time.Date(2025, 1, 15, 12, 0, 0, 0, chicago),
			window{zone: "America/Chicago", local: "12:00 CST"}},
		{"no trait, no fallback: UTC", "", nil, time.Date(2025, 1, 15, 6, 0, 0, 0, time.UTC),
			window{time.Date(2025, 1, 15, 8, 0, 0, 0, time.UTC), "UTC", "08:00 UTC"}},
		// The trait wins over the fallback.
		{"trait over fallback", "Asia/Tokyo", chicago, time.Date(2025, 7, 1, 3, 0, 0, 0, time.UTC),
			window{zone: "Asia/Tokyo", local: "12:00 JST"}},
		// Spring forward (LA, 9 March 2025, 02:00 -> 03:00): the night is an
		// hour short, and 08:00 is still 08:00 on the clock.
		{"LA night before spring forward", "America/Los_Angeles", nil, time.Date(2025, 3, 8, 22, 0, 0, 0, la),
			window{time.Date(2025, 3, 9, 15, 0, 0, 0, time.UTC), "America/Los_Angeles", "08:00 PDT"}},
		{"LA spring forward, 03:30", "America/Los_Angeles", nil, time.Date(2025, 3, 9, 3, 30, 0, 0, la),
			window{time.Date(2025, 3, 9, 15, 0, 0, 0, time.UTC), "America/Los_Angeles", "08:00 PDT"}},
		// Fall back (LA, 2 November 2025, 02:00 -> 01:00): an hour longer.
		{"LA night before fall back", "America/Los_Angeles", nil, time.Date(2025, 11, 1, 22, 0, 0, 0, la),
			window{time.Date(2025, 11, 2, 16, 0, 0, 0, time.UTC), "America/Los_Angeles", "08:00 PST"}},
		// Berlin springs forward on 30 March 2025 at 02:00.
		{"Berlin spring forward", "Europe/Berlin", nil, time.Date(2025, 3, 29, 23, 0, 0, 0, berlin),
			window{time.Date(2025, 3, 30, 6, 0, 0, 0, time.UTC), "Europe/Berlin", "08:00 CEST"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSMSFixture(t)
			f.acts.Timezone = tc.fallback
			f.addContact(t, models.Contact{ID: "c", Phone: "+15551230009", SMSConsent: true, Timezone: tc.timezone})
			got := f.window(t, "c", tc.at)
			want := tc.want.notBefore
			if want.IsZero() {
				want = tc.at
			}
			if !got.NotBefore.Equal(want) || got.Zone != tc.want.zone || got.Local != tc.want.local {
				t.Errorf("window = %v in %s (%s), want %v in %s (%s)",
					got.NotBefore.UTC(), got.Zone, got.Local, want.UTC(), tc.want.zone, tc.want.local)
			}
		})
	}
}

// Quiet hours that do not wrap past midnight, such as a lunch break.
func TestQuietUntilWithinADay(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	lunch := config.QuietHours{Start: 13 * time.Hour, End: 14 * time.Hour}
	at := func(h, m int) time.Time { return time.Date(2025, 7, 1, h, m, 0, 0, berlin) }
	for _, tc := range []struct {
		at, want time.Time
	}{
		{at(12, 59), at(12, 59)},
		{at(13, 0), at(14, 0)},
		{at(13, 59), at(14, 0)},
		{at(14, 0), at(14, 0)},
		{at(23, 0), at(23, 0)},
		{at(0, 30), at(0, 30)},
	} {
		if got := activities.QuietUntil(tc.at, berlin, lunch); !got.Equal(tc.want) {
			t.Errorf("%s: %s, want %s", tc.at.Format("15:04"), got.In(berlin).Format("15:04"), tc.want.Format("15:04"))
		}
	}
	// No quiet hours at all.
	if got := activities.QuietUntil(at(23, 0), berlin, config.QuietHours{}); !got.Equal(at(23, 0)) {
		t.Errorf("without quiet hours: %v", got)
	}
}

// A contact that is gone gets the fallback zone; SendSMS skips it anyway.
func TestSMSWindowUnknownContact(t *testing.T) {
	f := newSMSFixture(t)
	at := time.Date(2025, 1, 15, 23, 0, 0, 0, time.UTC)
	got := f.window(t, "nobody", at)
	if want := time.Date(2025, 1, 16, 8, 0, 0, 0, time.UTC); !got.NotBefore.Equal(want) || got.Zone != "UTC" {
		t.Errorf("window = %+v", got)
	}
}
