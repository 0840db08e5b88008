package models

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/workflows"
)

// Pipeline is the B2B funnel: where contacts are now, how many moved on,
// and how long they stay in each stage.
type Pipeline struct {
	// Stages counts contacts per stage now, every stage listed, in funnel
	// order.
	Stages []StageCount `json:"stages"`
	// Conversions: of the contacts who reached From in the period, how
	// many reached To after it (by now).
	Conversions []StageConversion `json:"conversions"`
	// TimeInStage: the stays in each stage that ended in the period.
	TimeInStage []StageTime `json:"time_in_stage"`
}

// StageCount is how many contacts are in a stage.
type StageCount struct {
	Stage    string `json:"stage"`
	Contacts int64  `json:"contacts"`
}

// StageConversion is one step of the funnel.
type StageConversion struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Entered int64    `json:"entered"`
	Reached int64    `json:"reached"`
	Rate    *float64 `json:"rate"`
}

// StageTime is how long stays in a stage lasted: the median and the 90th
// percentile, in hours; nil with no stay.
type StageTime struct {
	Stage       string   `json:"stage"`
	Stays       int      `json:"stays"`
	MedianHours *float64 `json:"median_hours"`
	P90Hours    *float64 `json:"p90_hours"`
}

// pipelineStages are the stages reported, in funnel order.
var pipelineStages = []string{workflows.StageSubscriber, workflows.StageLead, workflows.StageMQL, workflows.StageSQL,
	workflows.StageTrial, workflows.StageCustomer, workflows.StageChurned}

// Pipeline reports the funnel for the period.
func (s *Store) Pipeline(ctx context.Context, p Period) (Pipeline, error) {
	db := s.db.WithContext(ctx)
	from, to := p.From.UTC(), p.To.UTC()
	out := Pipeline{}
	var counts []StageCount
	if err := db.Model(&Contact{}).Select("lifecycle_stage AS stage, COUNT(*) AS contacts").Group("lifecycle_stage").Scan(&counts).Error; err != nil {
		return out, err
	}
	for _, st := range pipelineStages {
		n := int64(0)
		for _, c := range counts {
			if c.Stage == st {
				n = c.Contacts
			}
		}
		out.Stages = append(out.Stages, StageCount{Stage: st, Contacts: n})
	}

	for _, step := range [][2]string{{workflows.StageLead, workflows.StageMQL}, {workflows.StageMQL, workflows.StageSQL}} {
		c := StageConversion{From: step[0], To: step[1]}
		entered := db.Model(&StageChange{}).Select("contact_id").Where("to_stage = ? AND at >= ? AND at < ?", step[0], from, to)
		if err := db.Model(&StageChange{}).Where("to_stage = ? AND at >= ? AND at < ?", step[0], from, to).
			Distinct("contact_id").Count(&c.Entered).Error; err != nil {
			return out, err
		}
		err := db.Table("stage_changes AS nxt").Where("nxt.to_stage = ? AND nxt.contact_id IN (?)", step[1], entered).
			Where("EXISTS (SELECT 1 FROM stage_changes AS e WHERE e.contact_id = nxt.contact_id AND e.to_stage = ? AND e.at >= ? AND e.at < ? AND e.at <= nxt.at)", step[0], from, to).
			Distinct("nxt.contact_id").Count(&c.Reached).Error
		if err != nil {
			return out, err
		}
		c.Rate = Ratio(c.Reached, c.Entered)
		out.Conversions = append(out.Conversions, c)
	}

	// Stays that ended in the period: the changes in it, each with how long
	// the contact had been in the stage it left, in hours.
	hours := "(unixepoch(at, 'subsec') - unixepoch(entered_at, 'subsec')) / 3600.0" // to the millisecond
	if s.Dialect == "mysql" {
		hours = "TIMESTAMPDIFF(MICROSECOND, entered_at, at) / 3600000000"
	}
	var ended []struct {
		FromStage string
		Hours     float64
	}
	err := db.Model(&StageChange{}).Select("from_stage, "+hours+" AS hours").
		Where("at >= ? AND at < ? AND entered_at IS NOT NULL", from, to).Scan(&ended).Error
	if err != nil {
		return out, err
	}
	stays := map[string][]float64{}
	for _, e := range ended {
		stays[e.FromStage] = append(stays[e.FromStage], e.Hours)
	}
	for _, st := range pipelineStages {
		h := stays[st]
		t := StageTime{Stage: st, Stays: len(h)}
		if len(h) > 0 {
			slices.Sort(h)
			med, p90 := percentile(h, 0.5), percentile(h, 0.9)
			t.MedianHours, t.P90Hours = &med, &p90
		}
		out.TimeInStage = append(out.TimeInStage, t)
	}
	return out, nil
}

// percentile of sorted values, by the nearest-rank method: the smallest
// value with at least q of the values at or below it.
func percentile(sorted []float64, q float64) float64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// ListHealth is the state of the email list.
type ListHealth struct {
	// Contacts with an address; subscribed: not unsubscribed, not
	// suppressed, not unengaged.
	ListSize   int64 `json:"list_size"`
	Subscribed int64 `json:"subscribed"`
	// Engagement segments now (see the segments API).
	Active      int64         `json:"active"`
	AtRisk      int64         `json:"at_risk"`
	Dormant     int64         `json:"dormant"`
	Suppressed  int64         `json:"suppressed"`
	Unengaged   int64         `json:"unengaged"`
	Daily       []DailyGrowth `json:"daily"`
	Thresholds  []Threshold   `json:"thresholds"`
	SentInRange int64         `json:"sent"`
}

// DailyGrowth is one day of the list: contacts who joined with an address,
// and unsubscribes.
type DailyGrowth struct {
	Day          string `json:"day"` // YYYY-MM-DD, UTC
	New          int64  `json:"new"`
	Unsubscribed int64  `json:"unsubscribed"`
	Net          int64  `json:"net"`
}

// Threshold is one of the seed's list-health rules over the period's
// email: deliverability at least 95%, unsubscribes under 0.5%, bounces
// under 2%. Pass is nil while the rate is undefined.
type Threshold struct {
	Metric string   `json:"metric"`
	Rule   string   `json:"rule"`
	Limit  float64  `json:"limit"`
	Value  *float64 `json:"value"`
	Pass   *bool    `json:"pass"`
	// Daily is the rate on each day of the list's Daily (nil on a day
	// with no email).
	Daily []*float64 `json:"daily"`
}

// ListHealth reports the list now, its daily growth and the thresholds in
// the period.
func (s *Store) ListHealth(ctx context.Context, p Period, now time.Time) (ListHealth, error) {
	db := s.db.WithContext(ctx)
	from, to := p.From.UTC(), p.To.UTC()
	var h ListHealth
	withEmail := db.Model(&Contact{}).Where("email <> ''")
	if err := withEmail.Count(&h.ListSize).Error; err != nil {
		return h, err
	}
	if err := db.Model(&Contact{}).Where("email <> '' AND unsubscribed_at IS NULL AND email_suppressed_at IS NULL AND unengaged_at IS NULL").
		Count(&h.Subscribed).Error; err != nil {
		return h, err
	}
	for _, seg := range []struct {
		name string
		n    *int64
	}{{workflows.SegmentActive, &h.Active}, {workflows.SegmentAtRisk, &h.AtRisk}, {workflows.SegmentDormant, &h.Dormant}} {
		// COUNT(*), not of contacts.id as SegmentQuery selects: SQLite
		// then counts from the index without reading each contact's row.
		c, err := s.segmentCond(seg.name, nil, now)
		if err == nil {
			err = db.Model(&Contact{}).Where(c.sql, c.args...).Count(seg.n).Error
		}
		if err != nil {
			return h, err
		}
	}
	if err := db.Model(&Suppression{}).Where("suppressed = ?", true).Count(&h.Suppressed).Error; err != nil {
		return h, err
	}
	if err := db.Model(&Contact{}).Where("unengaged_at IS NOT NULL").Count(&h.Unengaged).Error; err != nil {
		return h, err
	}

	days, index := periodDays(p)
	for _, d := range days {
		h.Daily = append(h.Daily, DailyGrowth{Day: d})
	}
	var joined, left []dayCount
	if err := s.countByDay(db.Model(&Contact{}).Where("email <> ''"), "created_at", from, to, &joined); err != nil {
		return h, err
	}
	if err := s.countByDay(db.Model(&Contact{}), "unsubscribed_at", from, to, &left); err != nil {
		return h, err
	}
	for _, c := range joined {
		if i, ok := index[c.day()]; ok {
			h.Daily[i].New += c.N
		}
	}
	for _, c := range left {
		if i, ok := index[c.day()]; ok {
			h.Daily[i].Unsubscribed += c.N
		}
	}
	for i := range h.Daily {
		h.Daily[i].Net = h.Daily[i].New - h.Daily[i].Unsubscribed
	}

	emails, _, err := s.messageDays(ctx, p, "channel = ?", ChannelEmail)
	if err != nil {
		return h, err
	}
	var total MessageCounts
	daily := make([]MessageCounts, len(h.Daily))
	for _, d := range emails {
		total.add(d.MessageCounts)
		if i, ok := index[d.Day]; ok {
			daily[i].add(d.MessageCounts)
		}
	}
	m := total.metrics()
	h.SentInRange = m.Sent
	for _, rule := range listRules {
		t := Threshold{Metric: rule.metric, Rule: rule.rule, Limit: rule.limit, Value: rule.rate(m)}
		if t.Value != nil {
			pass := rule.pass(*t.Value)
			t.Pass = &pass
		}
		for _, c := range daily {
			t.Daily = append(t.Daily, rule.rate(c.metrics()))
		}
		h.Thresholds = append(h.Thresholds, t)
	}
	return h, nil
}

type dayCount struct {
	Day int // YYYYMMDD
	N   int64
}

func (c dayCount) day() string {
	return fmt.Sprintf("%04d-%02d-%02d", c.Day/10000, c.Day/100%100, c.Day%100)
}

// countByDay counts q's rows whose column (a UTC time) is in [from, to),
// per UTC day, in the database. The day comes back as a number: the SQLite
// driver reads text shaped like a date as a time.
func (s *Store) countByDay(q *gorm.DB, column string, from, to time.Time, out *[]dayCount) error {
	// SQLite keeps times as text, in UTC here.
	day := "CAST(substr(" + column + ", 1, 4) || substr(" + column + ", 6, 2) || substr(" + column + ", 9, 2) AS INTEGER)"
	if s.Dialect == "mysql" {
		day = "CAST(DATE_FORMAT(" + column + ", '%Y%m%d') AS UNSIGNED)"
	}
	return q.Select(day+" AS day, COUNT(*) AS n").Where(column+" >= ? AND "+column+" < ?", from, to).Group(day).Scan(out).Error
}

// The seed's list-health limits: the list-health page judges a period by
// them, and the guard a journey's latest sends (activities/guard.go).
const (
	DeliverabilityFloor = 0.95
	UnsubscribeLimit    = 0.005
	BounceLimit         = 0.02
)

// listRules are the seed's list-health thresholds.
var listRules = []listRule{
	{"deliverability_rate", "at least 95%", DeliverabilityFloor, true, func(m EmailMetrics) *float64 { return m.Deliverability }},
	{"unsubscribe_rate", "under 0.5%", UnsubscribeLimit, false, func(m EmailMetrics) *float64 { return m.UnsubscribeRate }},
	{"bounce_rate", "under 2%", BounceLimit, false, func(m EmailMetrics) *float64 { return m.BounceRate }},
}

type listRule struct {
	metric, rule string
	limit        float64
	atLeast      bool // pass at or above the limit; otherwise below it
	rate         func(EmailMetrics) *float64
}

func (r listRule) pass(v float64) bool {
	if r.atLeast {
		return v >= r.limit
	}
	return v < r.limit
}
