package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Report is one scheduled performance report (NUDGE_REPORTS), for
// example `weekly@mon 09:00 America/New_York=email:ops@example.com,slack:#marketing`:
// every Monday at 09:00 New York time, the week before, by email and in
// Slack.
type Report struct {
	// Name is the entry as written before "=", which names its Temporal
	// Schedule too.
	Name    string
	Every   string       // "daily" or "weekly"
	Weekday time.Weekday // weekly reports
	Hour    int
	Minute  int
	Zone    string // an IANA time zone name
	Emails  []string
	Slack   []string // channels, like #marketing, or channel IDs
}

// Period is how far back a report looks: a day or a week.
func (r Report) Period() time.Duration {
	if r.Every == "weekly" {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// ID is the report's Temporal Schedule ID: stable for the same entry.
func (r Report) ID() string {
	return "nudge-report-" + strings.ToLower(strings.NewReplacer(" ", "-", "/", "-", ":", "", "@", "-").Replace(r.Name))
}

var reportWhen = regexp.MustCompile(`^(daily|weekly)@(?:(mon|tue|wed|thu|fri|sat|sun) )?([0-2][0-9]):([0-5][0-9]) (\S+)$`)

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseReports reads NUDGE_REPORTS: entries split by ";", each
// `daily@HH:MM Zone=destinations` or `weekly@day HH:MM Zone=destinations`,
// destinations split by "," as email:address or slack:channel.
func ParseReports(raw string) ([]Report, error) {
	var out []Report
	for i, entry := range strings.Split(raw, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		r, err := parseReport(entry)
		if err != nil {
			return nil, fmt.Errorf("entry %d (%q): %w", i+1, entry, err)
		}
		for _, o := range out {
			if o.ID() == r.ID() {
				return nil, fmt.Errorf("entry %d (%q): the same schedule twice; put its destinations in one entry", i+1, entry)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func parseReport(entry string) (Report, error) {
	when, dests, ok := strings.Cut(entry, "=")
	if !ok {
		return Report{}, fmt.Errorf("want schedule=destinations, like weekly@mon 09:00 UTC=email:ops@example.com")
	}
	r := Report{Name: strings.TrimSpace(when)}
	m := reportWhen.FindStringSubmatch(r.Name)
	if m == nil {
		return r, fmt.Errorf("the schedule must read daily@HH:MM Zone or weekly@day HH:MM Zone (day: mon to sun)")
	}
	r.Every = m[1]
	switch {
	case r.Every == "weekly" && m[2] == "":
		return r, fmt.Errorf("a weekly report needs its day, like weekly@mon 09:00 UTC")
	case r.Every == "daily" && m[2] != "":
		return r, fmt.Errorf("a daily report has no day: daily@08:00 UTC")
	}
	r.Weekday = weekdays[m[2]]
	r.Hour, _ = strconv.Atoi(m[3])
	r.Minute, _ = strconv.Atoi(m[4])
	if r.Hour > 23 {
		return r, fmt.Errorf("hour %d: want 00 to 23", r.Hour)
	}
	r.Zone = m[5]
	if _, err := time.LoadLocation(r.Zone); err != nil {
		return r, fmt.Errorf("unknown time zone %q: want an IANA name like America/New_York or UTC", r.Zone)
	}
	for _, d := range strings.Split(dests, ",") {
		kind, to, _ := strings.Cut(strings.TrimSpace(d), ":")
		to = strings.TrimSpace(to)
		switch {
		case kind == "email" && strings.Contains(to, "@") && !strings.ContainsAny(to, " <>"):
			r.Emails = append(r.Emails, to)
		case kind == "slack" && to != "" && !strings.ContainsAny(to, " "):
			r.Slack = append(r.Slack, to)
		default:
			return r, fmt.Errorf("destination %q: want email:address or slack:#channel", strings.TrimSpace(d))
		}
	}
	return r, nil
}
