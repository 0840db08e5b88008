package models

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nudgehq/nudge/workflows"
)

// Period is a range of time for metrics: From inclusive, To exclusive.
// Sends count by their send date (messages.at), as Klaviyo counts them:
// an open a week later still counts for the day the email went out.
type Period struct {
	From, To time.Time
}

// JourneyMetrics is how one journey did in a period.
type JourneyMetrics struct {
	Journey string `json:"journey"`

	// Runs that entered in the period, how many converted (its Converts
	// events), and how many are running now, whenever they entered.
	Entered        int64    `json:"entered"`
	Converted      int64    `json:"converted"`
	ConversionRate *float64 `json:"conversion_rate"`
	Active         int64    `json:"active"`

	EmailMetrics

	SMS SMSMetrics `json:"sms"`

	InApp InAppMetrics `json:"inapp"`

	// Orders attributed to the journey (by click or abandoned cart) whose
	// message went out in the period (or, for a cart, ordered in it), less
	// refunds and cancellations.
	Orders              int64    `json:"orders"`
	Revenue             float64  `json:"revenue"`
	RevenuePerRecipient *float64 `json:"revenue_per_recipient"`

	// DiscountsRedeemed counts the journey's discount codes (their campaign
	// is the journey) that an order used in the period.
	DiscountsRedeemed int64 `json:"discounts_redeemed"`
}

// EmailMetrics counts a set of emails. Sent are the emails the provider
// took (or, with delivery off, recorded), and those whose outcome is
// unknown; delivered are those not bounced since. Rates are fractions of
// delivered (bounces of sent; click-to-open of opened), nil when there is
// nothing to divide by.
type EmailMetrics struct {
	Sent             int64            `json:"sent"`
	Delivered        int64            `json:"delivered"`
	Deliverability   *float64         `json:"deliverability_rate"`
	Opened           int64            `json:"opened"`
	OpenRate         *float64         `json:"open_rate"`
	Clicked          int64            `json:"clicked"`
	ClickRate        *float64         `json:"click_rate"`
	ClickToOpen      *float64         `json:"click_to_open_rate"`
	Unsubscribed     int64            `json:"unsubscribed"`
	UnsubscribeRate  *float64         `json:"unsubscribe_rate"`
	Bounced          int64            `json:"bounced"`
	BounceRate       *float64         `json:"bounce_rate"`
	Complaints       int64            `json:"complaints"`
	Skipped          int64            `json:"skipped"`
	SkippedByReason  map[string]int64 `json:"skipped_by_reason"`
	recipientsWithIt int64
}

// SMSMetrics counts the SMS of a journey: sent (Twilio took them),
// delivered and failed (as Twilio's status callbacks say).
type SMSMetrics struct {
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
}

// InAppMetrics counts the in-app messages of a journey: sent (put in the
// inbox), read, and clicked (their action; a click reads the message too),
// as the inbox marks their rows (gateway/inbox.go).
type InAppMetrics struct {
	Sent    int64 `json:"sent"`
	Read    int64 `json:"read"`
	Clicked int64 `json:"clicked"`
}

// StepMetrics is one step's funnel: entered (the step came up for a
// contact), sent, opened, clicked, and converted (the run it was sent in
// converted, at any time).
type StepMetrics struct {
	Step      string `json:"step"`
	Channel   string `json:"channel"`
	Entered   int64  `json:"entered"`
	Converted int64  `json:"converted"`
	EmailMetrics
}

// Statuses that count as sent, and delivery statuses that count as bounced.
var (
	sentStatuses    = []string{workflows.StatusSent, workflows.StatusRecorded, workflows.StatusUnknown}
	bouncedStatuses = []string{"bounced", "soft_bounced"}
)

// messageCounts is the one pass over messages that every email figure
// comes from.
const messageCounts = `
	SUM(CASE WHEN status IN ? THEN 1 ELSE 0 END) AS sent,
	SUM(CASE WHEN status IN ? AND delivery_status IN ? THEN 1 ELSE 0 END) AS bounced,
	SUM(CASE WHEN status IN ? AND delivery_status = ? THEN 1 ELSE 0 END) AS complaints,
	SUM(CASE WHEN status IN ? AND opened_at IS NOT NULL THEN 1 ELSE 0 END) AS opened,
	SUM(CASE WHEN status IN ? AND clicked_at IS NOT NULL THEN 1 ELSE 0 END) AS clicked,
	SUM(CASE WHEN status IN ? AND unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END) AS unsubscribed,
	SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS skipped`

func messageCountArgs() []any {
	return []any{sentStatuses, sentStatuses, bouncedStatuses, sentStatuses, "complained", sentStatuses, sentStatuses, sentStatuses,
		workflows.StatusSkipped}
}

// MessageCounts are the raw counts behind EmailMetrics. Recipients, the
// distinct contacts, does not add up across days or steps: only the
// recipients query sets it.
type MessageCounts struct {
	Sent, Bounced, Complaints, Opened, Clicked, Unsubscribed, Skipped, Recipients int64
}

func (r MessageCounts) metrics() EmailMetrics {
	m := EmailMetrics{
		Sent: r.Sent, Bounced: r.Bounced, Delivered: r.Sent - r.Bounced, Complaints: r.Complaints,
		Opened: r.Opened, Clicked: r.Clicked, Unsubscribed: r.Unsubscribed, Skipped: r.Skipped,
		SkippedByReason: map[string]int64{}, recipientsWithIt: r.Recipients,
	}
	m.Deliverability = Ratio(m.Delivered, m.Sent)
	m.OpenRate = Ratio(m.Opened, m.Delivered)
	m.ClickRate = Ratio(m.Clicked, m.Delivered)
	m.ClickToOpen = Ratio(m.Clicked, m.Opened)
	m.UnsubscribeRate = Ratio(m.Unsubscribed, m.Delivered)
	m.BounceRate = Ratio(m.Bounced, m.Sent)
	return m
}

// Ratio is n/d, or nil when d is 0: a rate that is not defined.
func Ratio(n, d int64) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// SkipReason is the kind of a skip reason, for counting: the reason up to
// its first colon ("frequency cap: 3 marketing emails…" is "frequency
// cap").
func SkipReason(reason string) string {
	kind, _, _ := strings.Cut(reason, ":")
	return strings.TrimSpace(kind)
}

// JourneyMetrics reports every journey in names (in that order) for the
// period.
func (s *Store) JourneyMetrics(ctx context.Context, names []string, p Period) ([]JourneyMetrics, error) {
	db := s.db.WithContext(ctx)
	from, to := p.From.UTC(), p.To.UTC()
	byName := map[string]*JourneyMetrics{}
	out := make([]JourneyMetrics, len(names))
	for i, n := range names {
		out[i] = JourneyMetrics{Journey: n, EmailMetrics: MessageCounts{}.metrics()}
		byName[n] = &out[i]
	}

	days, skips, err := s.messageDays(ctx, p, "journey IN ?", names)
	if err != nil {
		return nil, err
	}
	emails := map[string]*MessageCounts{}
	for _, d := range days {
		m := byName[d.Journey]
		switch d.Channel {
		case ChannelEmail:
			if emails[d.Journey] == nil {
				emails[d.Journey] = &MessageCounts{}
			}
			emails[d.Journey].add(d.MessageCounts)
		case ChannelSMS:
			m.SMS.Sent += d.Sent
			m.SMS.Delivered += d.SMSDelivered
			m.SMS.Failed += d.SMSFailed
		case ChannelInApp:
			m.InApp.Sent += d.Sent
			m.InApp.Read += d.Opened
			m.InApp.Clicked += d.Clicked
		}
	}
	recipients, err := s.recipients(ctx, names, p)
	if err != nil {
		return nil, err
	}
	for j, c := range emails {
		c.Recipients = recipients[j]
		byName[j].EmailMetrics = c.metrics()
	}
	for _, sk := range skips {
		if sk.Channel == ChannelEmail {
			byName[sk.Journey].SkippedByReason[sk.Reason] += sk.N
		}
	}

	var runs []struct {
		Journey            string
		Entered, Converted int64
	}
	err = db.Model(&JourneyRun{}).Select("journey, COUNT(*) AS entered, SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END) AS converted", workflows.OutcomeConverted).
		Where("journey IN ? AND started_at >= ? AND started_at < ?", names, from, to).Group("journey").Scan(&runs).Error
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		m := byName[r.Journey]
		m.Entered, m.Converted = r.Entered, r.Converted
	}
	var active []struct {
		Journey string
		N       int64
	}
	err = db.Model(&JourneyRun{}).Select("journey, COUNT(*) AS n").Where("outcome = '' AND journey IN ?", names).Group("journey").Scan(&active).Error
	if err != nil {
		return nil, err
	}
	for _, r := range active {
		byName[r.Journey].Active = r.N
	}

	var revenue []struct {
		Journey string
		Orders  int64
		Revenue float64
	}
	err = attributedOrders(db.Table("orders AS o"), from, to).Select("o.journey, COUNT(*) AS orders, COALESCE(SUM(o.total), 0) AS revenue").
		Where("o.journey IN ?", names).Group("o.journey").Scan(&revenue).Error
	if err != nil {
		return nil, err
	}
	for _, r := range revenue {
		m := byName[r.Journey]
		m.Orders, m.Revenue = r.Orders, r.Revenue
	}
	var redeemed []struct {
		Campaign string
		N        int64
	}
	err = db.Model(&DiscountCode{}).Select("campaign, COUNT(*) AS n").
		Where("campaign IN ? AND redeemed_at >= ? AND redeemed_at < ?", names, from, to).Group("campaign").Scan(&redeemed).Error
	if err != nil {
		return nil, err
	}
	for _, r := range redeemed {
		byName[r.Campaign].DiscountsRedeemed = r.N
	}
	for i := range out {
		m := &out[i]
		m.ConversionRate = Ratio(m.Converted, m.Entered)
		if m.recipientsWithIt > 0 {
			rpr := m.Revenue / float64(m.recipientsWithIt)
			m.RevenuePerRecipient = &rpr
		}
	}
	return out, nil
}

// JourneySteps is one journey's per-step funnel for the period, steps in the
// order they were first sent.
func (s *Store) JourneySteps(ctx context.Context, journey string, p Period) ([]StepMetrics, error) {
	db := s.db.WithContext(ctx)
	from, to := p.From.UTC(), p.To.UTC()
	days, skips, err := s.messageDays(ctx, p, "journey = ?", journey)
	if err != nil {
		return nil, err
	}
	type step struct{ name, channel string }
	counts := map[step]*MessageDay{}
	var order []step
	for _, d := range days {
		k := step{d.Step, d.Channel}
		c := counts[k]
		if c == nil {
			c = &MessageDay{FirstID: d.FirstID}
			counts[k] = c
			order = append(order, k)
		}
		c.FirstID = min(c.FirstID, d.FirstID)
		c.Messages += d.Messages
		c.MessageCounts.add(d.MessageCounts)
	}
	slices.SortFunc(order, func(a, b step) int { return cmp.Compare(counts[a].FirstID, counts[b].FirstID) })

	// Conversions are counted live: a run converts after its messages went
	// out, which the send day's roll-up does not see.
	var converted []struct {
		Step, Channel string
		N             int64
	}
	// As IN, not a join: the converted runs are listed once (an index on
	// outcome and journey), then the period's messages test against them.
	convertedRuns := db.Model(&JourneyRun{}).Select("run_id").Where("journey = ? AND outcome = ?", journey, workflows.OutcomeConverted)
	err = db.Model(&Message{}).Select("step, channel, COUNT(*) AS n").
		Where("journey = ? AND at >= ? AND at < ? AND run_id <> '' AND run_id IN (?)", journey, from, to, convertedRuns).
		Group("step, channel").Scan(&converted).Error
	if err != nil {
		return nil, err
	}
	out := make([]StepMetrics, len(order))
	index := map[step]int{}
	for i, k := range order {
		c := counts[k]
		out[i] = StepMetrics{Step: k.name, Channel: k.channel, Entered: c.Messages, EmailMetrics: c.MessageCounts.metrics()}
		index[k] = i
	}
	for _, c := range converted {
		if i, ok := index[step{c.Step, c.Channel}]; ok {
			out[i].Converted = c.N
		}
	}
	for _, sk := range skips {
		if i, ok := index[step{sk.Step, sk.Channel}]; ok {
			out[i].SkippedByReason[sk.Reason] += sk.N
		}
	}
	return out, nil
}

// recipients counts, per journey, the distinct contacts who were sent an
// email in the period that did not bounce: revenue per recipient divides by
// it. Distinct contacts do not add up across days, so whole days count the
// contacts of each day in journey_recipient_days (one narrow row per
// contact, journey and day, kept with the roll-ups), and the parts of days
// at either end add the contacts of their messages that no whole day has.
// An index on messages that covered this query made it as fast, but slowed
// every send's writes: the 5,000-email chaos batch drained in 7m37s with it,
// 5m43s without. It reads the roll-ups as they are: call it after
// messageDays, which refreshed them.
func (s *Store) recipients(ctx context.Context, names []string, p Period) (map[string]int64, error) {
	parts := periodParts(p)
	out := map[string]int64{}
	var rows []struct {
		Journey string
		N       int64
	}
	add := func(err error) error {
		for _, r := range rows {
			out[r.Journey] += r.N
		}
		rows = rows[:0]
		return err
	}
	wholeDays := parts.head.Before(parts.tail)
	if wholeDays {
		// MySQL would take idx_recipient_days_day for the days and sort
		// what it finds (200 ms for a month); the key, in order, needs no
		// sort. SQLite takes the key by itself.
		table := "journey_recipient_days"
		if s.Dialect == "mysql" {
			table += " FORCE INDEX (PRIMARY)"
		}
		err := s.db.WithContext(ctx).Table(table).Select("journey, COUNT(DISTINCT contact_id) AS n").
			Where("journey IN ? AND day >= ? AND day < ?", names, dayOf(parts.head), dayOf(parts.tail)).Group("journey").Scan(&rows).Error
		if err := add(err); err != nil {
			return nil, err
		}
	}
	edges := parts.edges()
	if len(edges) == 0 {
		return out, nil
	}
	// One SELECT per edge, so each reads its own stretch of
	// idx_messages_journey_at: joined by OR, they read the journeys whole.
	var union []string
	var args []any
	for _, edge := range edges {
		union = append(union, "SELECT journey, contact_id FROM messages WHERE journey IN ? AND at >= ? AND at < ? AND "+recipientMessage)
		args = append(append(args, names, edge[0], edge[1]), recipientArgs()...)
	}
	q := s.db.WithContext(ctx).Table("("+strings.Join(union, " UNION ALL ")+") AS m", args...).Select("m.journey, COUNT(DISTINCT m.contact_id) AS n")
	if wholeDays {
		q = q.Where("NOT EXISTS (SELECT 1 FROM journey_recipient_days r WHERE r.journey = m.journey AND r.contact_id = m.contact_id AND r.day >= ? AND r.day < ?)",
			dayOf(parts.head), dayOf(parts.tail))
	}
	if err := add(q.Group("m.journey").Scan(&rows).Error); err != nil {
		return nil, err
	}
	return out, nil
}

// recipientMessage: an email the provider took that has not bounced.
const recipientMessage = "channel = ? AND status IN ? AND (delivery_status IS NULL OR delivery_status NOT IN ?)"

func recipientArgs() []any { return []any{ChannelEmail, sentStatuses, bouncedStatuses} }
