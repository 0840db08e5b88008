package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The lead scoring rules, in one table. Fit rules compare the contact's
// traits with the ideal customer profile and count once; behaviour rules
// count each time the event happens (some at most once a day or once a
// session). Inactivity is scored by ContactWorkflow's engagement clock.
var scoringRules = []scoringRule{
	// Fit: who they are.
	{Name: "title", Points: 15, Reason: "job title matches the ideal customer profile", Fit: titleFits},
	{Name: "company_size", Points: 10, Reason: "company size matches the ideal customer profile", Fit: sizeFits},
	{Name: "industry", Points: 10, Reason: "industry matches the ideal customer profile", Fit: industryFits},

	// Behaviour: what they do.
	{Name: "email_opened", Points: 2, Reason: "opened an email", On: is(EventEmailOpened)},
	{Name: "email_clicked", Points: 5, Reason: "clicked a link in an email", On: is(EventEmailClicked)},
	// An in-app message read or acted on is worth what an email is (runs
	// from version 5).
	{Name: "inapp_read", Points: 2, Reason: "read an in-app message", On: is(EventInAppRead), From: 5},
	{Name: "inapp_clicked", Points: 5, Reason: "clicked the action of an in-app message", On: is(EventInAppClicked), From: 5},
	{Name: "pricing_page", Points: 25, Reason: "viewed the pricing page", On: isPricingPage, Daily: true},
	{Name: "demo_requested", Points: 50, Reason: "requested a demo", On: is(EventDemoRequested)},
	{Name: "case_study", Points: 10, Reason: "downloaded a case study", On: isCaseStudy},
	{Name: "engaged_session", Points: 15, Reason: "viewed 3 or more pages in one session", On: func(c *contact, ev Event) bool {
		return ev.Kind == KindPage && c.Session.Pages == sessionPages
	}},
}

// inactivity is the engagement clock's rule: points lost for each stretch
// of silence (Settings.ScoreDecayAfter, 30 days by default).
var inactivity = scoringRule{Name: "inactive", Points: -10, Reason: "no engagement for %d days"}

const (
	sessionPages = 3                // pages in one session that score engaged_session
	sessionGap   = 30 * time.Minute // a pause this long starts a new session
)

type scoringRule struct {
	Name   string
	Points int64
	Reason string
	// Fit rules score once, when the traits first match.
	Fit func(traits map[string]any, icp ICP) bool
	// Behaviour rules score on each matching event; Daily ones at most once
	// a calendar day (UTC).
	On    func(c *contact, ev Event) bool
	Daily bool
	// From is the first contact run version the rule applies to: a rule
	// added later must not change how older runs replay.
	From int
}

func is(name string) func(*contact, Event) bool {
	return func(_ *contact, ev Event) bool { return ev.Is(name) }
}

func isPricingPage(_ *contact, ev Event) bool {
	if ev.Kind != KindPage {
		return false
	}
	return strings.EqualFold(ev.Name, "pricing") || strings.Contains(ev.Property("path"), "/pricing") || strings.Contains(ev.Property("url"), "/pricing")
}

func isCaseStudy(_ *contact, ev Event) bool {
	return ev.Is(EventContentDownloaded) && ev.Property("content_type") == "case_study"
}

func titleFits(traits map[string]any, icp ICP) bool {
	title := strings.ToLower(traitString(traits, "title"))
	return title != "" && slices.ContainsFunc(icp.Titles, func(t string) bool { return strings.Contains(title, strings.ToLower(t)) })
}

func sizeFits(traits map[string]any, icp ICP) bool {
	n, ok := employees(traits)
	return ok && n >= icp.MinEmployees && n <= icp.MaxEmployees
}

func industryFits(traits map[string]any, icp ICP) bool {
	industry := traitString(traits, "industry")
	if company, ok := traits["company"].(map[string]any); ok && industry == "" {
		industry, _ = company["industry"].(string)
	}
	return industry != "" && slices.ContainsFunc(icp.Industries, func(i string) bool { return strings.EqualFold(i, industry) })
}

func traitString(traits map[string]any, key string) string {
	s, _ := traits[key].(string)
	return strings.TrimSpace(s)
}

// employees reads the company size from Segment's traits: employees, or the
// company object's employee_count.
func employees(traits map[string]any) (int, bool) {
	for _, m := range []map[string]any{traits, asMap(traits["company"])} {
		for _, k := range []string{"employees", "employee_count", "employeeCount"} {
			if f, ok := m[k].(float64); ok {
				return int(f), true
			}
		}
	}
	return 0, false
}

// score applies the rules to an event and returns the changes it earns,
// updating the contact's score and rule memory. Deterministic: it reads only
// the event, the state and the workflow's time.
func (c *contact) score(ev Event, now time.Time, icp ICP) []ScoreChange {
	var changes []ScoreChange
	add := func(r scoringRule, reason string) {
		points := r.Points
		if c.LeadScore+points < 0 {
			points = -c.LeadScore // a score never goes below zero
		}
		if points == 0 {
			return
		}
		c.LeadScore += points
		changes = append(changes, ScoreChange{Rule: r.Name, Points: points, Reason: reason})
	}
	if ev.Kind == KindPage {
		c.trackSession(ev.Timestamp, now)
	}
	today := now.UTC().Format(time.DateOnly)
	for _, r := range scoringRules {
		if c.Version < r.From {
			continue
		}
		switch {
		case r.Fit != nil:
			if !c.Scored[r.Name] && r.Fit(c.Traits, icp) {
				c.Scored[r.Name] = true
				add(r, r.Reason)
			}
		case r.On != nil && r.On(c, ev):
			if r.Daily && c.ScoredOn[r.Name] == today {
				continue
			}
			if r.Daily {
				c.ScoredOn[r.Name] = today
			}
			add(r, r.Reason)
		}
	}
	return changes
}

// decay takes the inactivity points for one more stretch of silence.
func (c *contact) decay(days int) []ScoreChange {
	if c.LeadScore == 0 {
		return nil
	}
	points := max(inactivity.Points, -c.LeadScore)
	c.LeadScore += points
	return []ScoreChange{{Rule: inactivity.Name, Points: points, Reason: fmt.Sprintf(inactivity.Reason, days)}}
}

// trackSession counts page views in the current session: pages no more
// than sessionGap apart.
func (c *contact) trackSession(at, now time.Time) {
	if at.IsZero() {
		at = now
	}
	if c.Session.Last.IsZero() || at.Sub(c.Session.Last) > sessionGap {
		c.Session = Session{Start: at}
	}
	c.Session.Pages++
	c.Session.Last = at
}

// Session is the contact's current run of page views.
type Session struct {
	Start, Last time.Time
	Pages       int
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
