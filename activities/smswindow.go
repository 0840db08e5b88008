package activities

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	// Zones load from the binary's own copy of the tz database, so quiet
	// hours work on hosts and images without one.
	_ "time/tzdata"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// SMSWindow says when a marketing SMS may go to a contact: at req.At, or,
// when that falls in quiet hours on the contact's clock, when they end. The
// contact's clock is its timezone trait, or Activities.Timezone when the
// trait is missing or not a zone, or UTC. A contact not found gets the
// fallback zone (SendSMS skips it anyway).
func (a *Activities) SMSWindow(ctx context.Context, req workflows.SMSWindowRequest) (workflows.SMSWindow, error) {
	loc := a.Timezone
	if loc == nil {
		loc = time.UTC
	}
	contact, err := a.Store.Contact(ctx, req.ContactID)
	switch {
	case err == nil:
		if zone, ok := zoneNamed(contact.Timezone); ok {
			loc = zone
		}
	case !errors.Is(err, models.ErrNotFound):
		return workflows.SMSWindow{}, err
	}
	notBefore := QuietUntil(req.At, loc, a.QuietHours)
	return workflows.SMSWindow{NotBefore: notBefore, Zone: loc.String(), Local: notBefore.In(loc).Format("15:04 MST")}, nil
}

// QuietUntil returns at itself when at, on the clock of loc, is outside the
// quiet hours q, else the moment they end. q may wrap past midnight
// (21:00-08:00) or not (13:00-14:00); the span includes its start and
// excludes its end. The end is a wall-clock time found with time.Date, so
// it stays right across daylight-saving changes.
func QuietUntil(at time.Time, loc *time.Location, q config.QuietHours) time.Time {
	if q.Start == q.End {
		return at
	}
	local := at.In(loc)
	y, m, d := local.Date()
	clock := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	endOn := func(day int) time.Time {
		end := time.Date(y, m, day, int(q.End/time.Hour), int(q.End%time.Hour/time.Minute), int(q.End%time.Minute/time.Second), 0, loc)
		if !end.After(at) { // cannot happen with sane spans; never answer with the past
			return at
		}
		return end.UTC()
	}
	switch {
	case q.Start < q.End && clock >= q.Start && clock < q.End:
		return endOn(d)
	case q.Start > q.End && clock >= q.Start:
		return endOn(d + 1)
	case q.Start > q.End && clock < q.End:
		return endOn(d)
	}
	return at
}

// zones caches loaded time zones by name; only valid names are stored, so
// it is bounded by the tz database.
var zones sync.Map

// zoneNamed loads an IANA zone such as America/Chicago. "" and "Local"
// (the server's own zone) are not a contact's zone.
func zoneNamed(name string) (*time.Location, bool) {
	name = strings.TrimSpace(name)
	if name == "" || strings.EqualFold(name, "Local") {
		return nil, false
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), true
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	zones.Store(name, loc)
	return loc, true
}
