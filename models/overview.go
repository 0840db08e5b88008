package models

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/workflows"
)

// Overview is the period at a glance: its KPIs beside the period of the
// same length just before, and a daily series.
type Overview struct {
	KPIs  []KPI      `json:"kpis"`
	Daily []DayStats `json:"daily"`
}

// KPI is one figure now and in the previous period, with the change:
// Change is now minus before, Relative that over before (nil when before
// is 0 or undefined).
type KPI struct {
	Name     string   `json:"name"`
	Value    *float64 `json:"value"`
	Previous *float64 `json:"previous"`
	Change   *float64 `json:"change"`
	Relative *float64 `json:"relative_change"`
}

// DayStats is one day of sending, by send date (UTC).
type DayStats struct {
	Day     string  `json:"day"`
	Sent    int64   `json:"sent"`
	Opened  int64   `json:"opened"`
	Clicked int64   `json:"clicked"`
	Revenue float64 `json:"revenue"`
}

// periodFigures are the figures an overview compares.
type periodFigures struct {
	email              EmailMetrics
	entered, converted int64
	orders             int64
	revenue            float64
	newContacts        int64
}

// figures reads both periods an overview compares, the one before ending
// where the other starts: email from the roll-ups, and runs, new contacts
// and orders each in one pass over both periods, split at p.From. It also
// returns the daily series of p.
func (s *Store) figures(ctx context.Context, p, before Period) (now, prev periodFigures, days []DayStats, err error) {
	db := s.db.WithContext(ctx)
	from, mid, to := before.From.UTC(), p.From.UTC(), p.To.UTC()
	if err = s.refreshRollups(ctx); err != nil {
		return
	}
	var emailDays []MessageDay // p's, for the daily series
	for _, f := range []struct {
		p Period
		f *periodFigures
	}{{p, &now}, {before, &prev}} {
		var rolled []MessageDay
		if rolled, _, err = s.rolledUpDays(ctx, f.p, "channel = ?", ChannelEmail); err != nil {
			return
		}
		var c MessageCounts
		for _, d := range rolled {
			c.add(d.MessageCounts)
		}
		f.f.email = c.metrics()
		if f.f == &now {
			emailDays = rolled
		}
	}

	var runs struct{ Entered, Converted, EnteredBefore, ConvertedBefore int64 }
	if err = db.Model(&JourneyRun{}).Select(`SUM(CASE WHEN started_at >= ? THEN 1 ELSE 0 END) AS entered,
		SUM(CASE WHEN started_at >= ? AND outcome = ? THEN 1 ELSE 0 END) AS converted,
		SUM(CASE WHEN started_at < ? THEN 1 ELSE 0 END) AS entered_before,
		SUM(CASE WHEN started_at < ? AND outcome = ? THEN 1 ELSE 0 END) AS converted_before`,
		mid, mid, workflows.OutcomeConverted, mid, mid, workflows.OutcomeConverted).
		Where("started_at >= ? AND started_at < ?", from, to).Scan(&runs).Error; err != nil {
		return
	}
	now.entered, now.converted, prev.entered, prev.converted = runs.Entered, runs.Converted, runs.EnteredBefore, runs.ConvertedBefore

	var joined struct{ Joined, JoinedBefore int64 }
	if err = db.Model(&Contact{}).Select("SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END) AS joined, SUM(CASE WHEN created_at < ? THEN 1 ELSE 0 END) AS joined_before", mid, mid).
		Where("email <> '' AND created_at >= ? AND created_at < ?", from, to).Scan(&joined).Error; err != nil {
		return
	}
	now.newContacts, prev.newContacts = joined.Joined, joined.JoinedBefore

	names, index := periodDays(p)
	days = make([]DayStats, len(names))
	for i, d := range names {
		days[i].Day = d
	}
	for _, m := range emailDays {
		if i, ok := index[m.Day]; ok {
			days[i].Sent += m.Sent
			days[i].Opened += m.Opened
			days[i].Clicked += m.Clicked
		}
	}
	// Orders count on their email's send date, or a recovered cart's on
	// its order date.
	var orders []struct {
		At      *time.Time
		Ordered time.Time
		Total   float64
	}
	if err = attributedOrders(db.Table("orders AS o"), from, to).Select("m.at AS at, o.ordered_at AS ordered, o.total AS total").
		Scan(&orders).Error; err != nil {
		return
	}
	for _, o := range orders {
		at := o.Ordered
		if o.At != nil {
			at = *o.At
		}
		f := &prev
		if !at.Before(mid) {
			f = &now
			if i, ok := index[dayOf(at)]; ok {
				days[i].Revenue += o.Total
			}
		}
		f.orders++
		f.revenue += o.Total
	}
	return
}

// Overview reports the period against the one of the same length before it.
func (s *Store) Overview(ctx context.Context, p Period) (Overview, error) {
	var o Overview
	length := p.To.Sub(p.From)
	now, before, days, err := s.figures(ctx, p, Period{From: p.From.Add(-length), To: p.From})
	if err != nil {
		return o, err
	}
	o.Daily = days
	num := func(n int64) *float64 { v := float64(n); return &v }
	money := func(v float64) *float64 { return &v }
	for _, k := range []struct {
		name      string
		now, prev *float64
	}{
		{"emails_sent", num(now.email.Sent), num(before.email.Sent)},
		{"open_rate", now.email.OpenRate, before.email.OpenRate},
		{"click_rate", now.email.ClickRate, before.email.ClickRate},
		{"unsubscribe_rate", now.email.UnsubscribeRate, before.email.UnsubscribeRate},
		{"bounce_rate", now.email.BounceRate, before.email.BounceRate},
		{"journeys_entered", num(now.entered), num(before.entered)},
		{"conversions", num(now.converted), num(before.converted)},
		{"orders", num(now.orders), num(before.orders)},
		{"revenue", money(now.revenue), money(before.revenue)},
		{"new_contacts", num(now.newContacts), num(before.newContacts)},
	} {
		kpi := KPI{Name: k.name, Value: k.now, Previous: k.prev}
		if k.now != nil && k.prev != nil {
			d := *k.now - *k.prev
			kpi.Change = &d
			if *k.prev != 0 {
				r := d / *k.prev
				kpi.Relative = &r
			}
		}
		o.KPIs = append(o.KPIs, kpi)
	}
	return o, nil
}

// attributedOrders narrows orders (as o) to those credited to a journey in
// the period by send date: the email's, or for a recovered cart (no email)
// the order's; refunds and cancellations left out.
func attributedOrders(q *gorm.DB, from, to time.Time) *gorm.DB {
	return q.Joins("LEFT JOIN messages AS m ON m.id = o.message_id").
		Where("o.journey <> '' AND o.status NOT IN ?", []string{"refunded", "cancelled"}).
		Where("((m.id IS NOT NULL AND m.at >= ? AND m.at < ?) OR (m.id IS NULL AND o.ordered_at >= ? AND o.ordered_at < ?))", from, to, from, to)
}

// ReportDelivery notes that a report went to one destination, so a retried
// report does not send it twice. The row is written before the send: a
// crash in between loses that copy rather than doubling it.
type ReportDelivery struct {
	Key    string    `gorm:"primaryKey;size:191"` // the report run's key and the destination
	SentAt time.Time `gorm:"not null"`
}

// ClaimReportDelivery reports whether this report may go to this
// destination: true the first time, false ever after.
func (s *Store) ClaimReportDelivery(ctx context.Context, key string, at time.Time) (bool, error) {
	res := skipDuplicates(s.db.WithContext(ctx)).Create(&ReportDelivery{Key: key, SentAt: at.UTC()})
	return res.RowsAffected == 1, res.Error
}

// kpiLabels name the overview's figures, for pages and reports.
var kpiLabels = map[string]string{
	"emails_sent": "Emails sent", "open_rate": "Open rate", "click_rate": "Click rate", "unsubscribe_rate": "Unsubscribe rate",
	"bounce_rate": "Bounce rate", "journeys_entered": "Journeys entered", "conversions": "Conversions", "orders": "Orders",
	"revenue": "Revenue", "new_contacts": "New contacts", "deliverability_rate": "Deliverability",
}

// KPILabel names a figure for people: open_rate is "Open rate".
func KPILabel(name string) string { return kpiLabels[name] }

// FormatKPI writes a figure for people: a rate as a percentage, revenue
// with cents, a count whole, an undefined one as a dash.
func FormatKPI(name string, v *float64) string {
	switch {
	case v == nil:
		return "—"
	case strings.HasSuffix(name, "_rate"):
		return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
	case name == "revenue":
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
	return strconv.FormatFloat(*v, 'f', 0, 64)
}

// JourneyDailySent is each journey's emails sent per UTC day of the period,
// from the roll-ups: the journeys table's sparklines.
func (s *Store) JourneyDailySent(ctx context.Context, names []string, p Period) (map[string][]int64, error) {
	days, _, err := s.messageDays(ctx, p, "journey IN ? AND channel = ?", names, ChannelEmail)
	if err != nil {
		return nil, err
	}
	_, index := periodDays(p)
	out := map[string][]int64{}
	for _, name := range names {
		out[name] = make([]int64, len(index))
	}
	for _, d := range days {
		if i, ok := index[d.Day]; ok {
			out[d.Journey][i] += d.Sent
		}
	}
	return out, nil
}

// periodDays lists the UTC days a period touches, YYYY-MM-DD, and where
// each is in the list: the daily series' buckets.
func periodDays(p Period) ([]string, map[string]int) {
	var days []string
	index := map[string]int{}
	for d := p.From.UTC().Truncate(24 * time.Hour); d.Before(p.To); d = d.Add(24 * time.Hour) {
		index[d.Format(time.DateOnly)] = len(days)
		days = append(days, d.Format(time.DateOnly))
	}
	return days, index
}

// FormatKPIChange writes a figure's change for people: a rate's in
// percentage points ("+1.5 pts"), a count's or revenue's with its relative
// change when there is one ("+9, +900%"); "" with nothing to compare.
func FormatKPIChange(name string, change, relative *float64) string {
	switch {
	case change == nil:
		return ""
	case strings.HasSuffix(name, "_rate"):
		return fmt.Sprintf("%+.1f pts", *change*100)
	}
	s := fmt.Sprintf("%+.0f", *change)
	if name == "revenue" {
		s = fmt.Sprintf("%+.2f", *change)
	}
	if relative != nil {
		s += fmt.Sprintf(", %+.0f%%", *relative*100)
	}
	return s
}
