package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/workflows"
)

// Daily roll-ups of messages. The results read a month of sending on every
// page; counting it from the messages themselves takes seconds at 200,000
// messages, so each UTC day's counts per journey, step and channel are kept
// in message_days (and the skips' reasons in skip_days), and read from
// there.
//
// A roll-up is always a pure function of that day's messages: a day is
// recounted whole, never incremented. Which days to recount is found from
// messages.updated_at, which gorm sets on every insert and update made
// through the Message model (every write in this package; a raw UPDATE
// would bypass it, so there is none). Each refresh recounts the days of the
// rows changed since the last refresh began, less rollupMargin, so a row
// written by a process whose clock runs behind, or committed just after a
// refresh looked, is still seen. Reads refresh first, so the figures are
// never stale; a refresh with nothing changed costs one indexed query.

// MessageDay counts one step's messages on one day, by send date (At, UTC).
type MessageDay struct {
	Day     string `gorm:"primaryKey;size:10"` // YYYY-MM-DD
	Journey string `gorm:"primaryKey;size:64"`
	Step    string `gorm:"primaryKey;size:64"`
	Channel string `gorm:"primaryKey;size:16"`
	// FirstID is the day's first message of the step: steps are listed in
	// the order they were first sent.
	FirstID uint64
	// Messages counts every row, skipped and refused too: the step came
	// up for that many contacts.
	Messages int64
	MessageCounts
	// SMS outcomes from Twilio's status callbacks.
	SMSDelivered, SMSFailed int64
}

// SkipDay counts one step's skips on one day by the kind of reason.
type SkipDay struct {
	Day     string `gorm:"primaryKey;size:10"`
	Journey string `gorm:"primaryKey;size:64"`
	Step    string `gorm:"primaryKey;size:64"`
	Channel string `gorm:"primaryKey;size:16"`
	Reason  string `gorm:"primaryKey;size:191"`
	N       int64
}

// RecipientDay is one contact emailed (and not bounced) by a journey on one
// day: the distinct recipients of a period are counted from these.
type RecipientDay struct {
	Day       string `gorm:"primaryKey;size:10"`
	Journey   string `gorm:"primaryKey;size:64"`
	ContactID string `gorm:"primaryKey;size:191"`
}

// rollupMargin is how far before the last refresh's start the next one
// looks for changed messages: more than any commit delay or clock skew
// between Nudge's processes should be.
const rollupMargin = 5 * time.Minute

const rollupMarkSetting = "message_days_mark"

// refreshRollups recounts the days whose messages changed since the last
// refresh. Concurrent callers in one process share one refresh; refreshes in
// other processes are harmless, as a recount writes the same rows.
func (s *Store) refreshRollups(ctx context.Context) error {
	asked := time.Now()
	s.rollupMu.Lock()
	defer s.rollupMu.Unlock()
	if s.rollupStarted.After(asked) {
		return nil // a refresh that began after this call, so saw what it wants, ended meanwhile
	}
	began := time.Now()
	start := began.UTC()
	db := s.db.WithContext(ctx)
	var mark Setting
	err := db.Where("name = ?", rollupMarkSetting).Take(&mark).Error
	var days []string
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		days, err = s.allMessageDays(db)
	case err == nil:
		var since time.Time
		if since, err = time.Parse(time.RFC3339Nano, mark.Value); err != nil {
			return fmt.Errorf("roll-up mark %q: %w", mark.Value, err)
		}
		var at []time.Time
		// No DISTINCT: with it the databases walk idx_messages_at whole to
		// skip a sort; the changed rows are few, and the days are made
		// unique below.
		err = db.Model(&Message{}).Where("updated_at >= ?", since.Add(-rollupMargin)).Pluck("at", &at).Error
		for _, t := range at {
			days = append(days, t.UTC().Format(time.DateOnly))
		}
	}
	if err != nil {
		return fmt.Errorf("find the days to roll up: %w", err)
	}
	slices.Sort(days)
	for _, day := range slices.Compact(days) {
		if err := s.rollUpDay(db, day); err != nil {
			return fmt.Errorf("roll up %s: %w", day, err)
		}
	}
	if err := db.Save(&Setting{Name: rollupMarkSetting, Value: start.Format(time.RFC3339Nano)}).Error; err != nil {
		return err
	}
	s.rollupStarted = began
	return nil
}

// allMessageDays lists every day from the first message to the last: the
// first refresh (after an upgrade, or on a new database) rolls up them all.
func (s *Store) allMessageDays(db *gorm.DB) ([]string, error) {
	var span struct{ First, Last *time.Time }
	if err := db.Model(&Message{}).Select("MIN(at) AS first, MAX(at) AS last").Scan(&span).Error; err != nil {
		return nil, err
	}
	if span.First == nil {
		return nil, nil
	}
	var days []string
	for d := span.First.UTC().Truncate(24 * time.Hour); !d.After(*span.Last); d = d.Add(24 * time.Hour) {
		days = append(days, d.Format(time.DateOnly))
	}
	return days, nil
}

// rollUpDay recounts one day from its messages and replaces its rows.
func (s *Store) rollUpDay(db *gorm.DB, day string) error {
	from, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return err
	}
	rows, skips, err := countMessages(db, day, from, from.Add(24*time.Hour), "")
	if err != nil {
		return err
	}
	return db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("day = ?", day).Delete(&MessageDay{}).Error; err != nil {
			return err
		}
		if err := tx.Where("day = ?", day).Delete(&SkipDay{}).Error; err != nil {
			return err
		}
		if err := tx.Where("day = ?", day).Delete(&RecipientDay{}).Error; err != nil {
			return err
		}
		err := tx.Exec("INSERT INTO recipient_days (day, journey, contact_id) SELECT DISTINCT ?, journey, contact_id FROM messages WHERE at >= ? AND at < ? AND "+recipientMessage,
			append([]any{day, from, from.Add(24 * time.Hour)}, recipientArgs()...)...).Error
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			if err := tx.CreateInBatches(rows, 500).Error; err != nil {
				return err
			}
		}
		if len(skips) > 0 {
			return tx.CreateInBatches(skips, 500).Error
		}
		return nil
	})
}

// countMessages counts the messages sent in [from, to) that match where
// (on journey, step and channel), per journey, step and channel, as day's
// rows: what a roll-up holds, counted from the messages themselves. One
// pass: the rows come grouped by skip reason too, and are added up here.
func countMessages(db *gorm.DB, day string, from, to time.Time, where string, args ...any) ([]MessageDay, []SkipDay, error) {
	q := db.Model(&Message{}).Where("at >= ? AND at < ?", from.UTC(), to.UTC())
	if where != "" {
		q = q.Where(where, args...)
	}
	// Inlined, not bound: GROUP BY repeats it, and takes no arguments.
	skipReason := "CASE WHEN status = '" + workflows.StatusSkipped + "' THEN reason END"
	var parts []struct {
		MessageDay
		SkipReason *string
	}
	err := q.Select(`journey, step, channel, `+skipReason+` AS skip_reason, MIN(id) AS first_id, COUNT(*) AS messages, `+messageCounts+`,
		SUM(CASE WHEN status IN ? AND delivery_status = ? THEN 1 ELSE 0 END) AS sms_delivered,
		SUM(CASE WHEN status = ? OR delivery_status IN ? THEN 1 ELSE 0 END) AS sms_failed`,
		append(messageCountArgs(), sentStatuses, "delivered", workflows.StatusRefused, []string{"failed", "undelivered"})...).
		Group("journey, step, channel, " + skipReason).Scan(&parts).Error
	if err != nil {
		return nil, nil, err
	}
	type step struct{ journey, step, channel string }
	var rows []MessageDay
	index := map[step]int{}
	// Reasons carry their details ("frequency cap: 3 marketing emails…"):
	// add them up by kind.
	var kinds []SkipDay
	byKind := map[SkipDay]int{}
	for _, p := range parts {
		k := step{p.Journey, p.Step, p.Channel}
		i, seen := index[k]
		if !seen {
			i = len(rows)
			index[k] = i
			rows = append(rows, MessageDay{Day: day, Journey: p.Journey, Step: p.Step, Channel: p.Channel, FirstID: p.FirstID})
		}
		r := &rows[i]
		r.FirstID = min(r.FirstID, p.FirstID)
		r.Messages += p.Messages
		r.MessageCounts.add(p.MessageCounts)
		r.SMSDelivered += p.SMSDelivered
		r.SMSFailed += p.SMSFailed
		if p.SkipReason != nil {
			sk := SkipDay{Day: day, Journey: p.Journey, Step: p.Step, Channel: p.Channel, Reason: clipRunes(SkipReason(*p.SkipReason), 191)}
			j, seen := byKind[sk]
			if !seen {
				j = len(kinds)
				byKind[sk] = j
				kinds = append(kinds, sk)
			}
			kinds[j].N += p.Skipped
		}
	}
	return rows, kinds, nil
}

// messageDays counts the period's messages that match where (on journey,
// step and channel) per day, journey, step and channel, with their skips:
// whole days from the roll-ups (refreshed first), and the parts of days at
// either end of a period that does not start or end at midnight UTC from
// the messages themselves.
func (s *Store) messageDays(ctx context.Context, p Period, where string, args ...any) ([]MessageDay, []SkipDay, error) {
	if err := s.refreshRollups(ctx); err != nil {
		return nil, nil, err
	}
	return s.rolledUpDays(ctx, p, where, args...)
}

// rolledUpDays is messageDays without the refresh, for a caller that has
// just refreshed: a second refresh in one read would recount the same
// changed days again.
func (s *Store) rolledUpDays(ctx context.Context, p Period, where string, args ...any) ([]MessageDay, []SkipDay, error) {
	db := s.db.WithContext(ctx)
	parts := periodParts(p)
	head, tail := parts.head, parts.tail
	var rows []MessageDay
	var skips []SkipDay
	for _, edge := range parts.edges() {
		r, sk, err := countMessages(db, dayOf(edge[0]), edge[0], edge[1], where, args...)
		if err != nil {
			return nil, nil, err
		}
		rows, skips = append(rows, r...), append(skips, sk...)
	}
	if head.Before(tail) {
		q := func() *gorm.DB {
			q := db.Where("day >= ? AND day < ?", dayOf(head), dayOf(tail))
			if where != "" {
				q = q.Where(where, args...)
			}
			return q
		}
		var whole []MessageDay
		var wholeSkips []SkipDay
		if err := q().Order("day, first_id").Find(&whole).Error; err != nil {
			return nil, nil, err
		}
		if err := q().Order("day, journey, step, channel, reason").Find(&wholeSkips).Error; err != nil {
			return nil, nil, err
		}
		rows, skips = append(rows, whole...), append(skips, wholeSkips...)
	}
	return rows, skips, nil
}

// periodRange splits a period at midnight UTC: [from, head) and [tail, to)
// are parts of days, [head, tail), when not empty, whole days.
type periodRange struct{ from, head, tail, to time.Time }

func periodParts(p Period) periodRange {
	from, to := p.From.UTC(), p.To.UTC()
	head := from.Truncate(24 * time.Hour)
	if head.Before(from) {
		head = head.Add(24 * time.Hour)
	}
	if to.Before(head) {
		head = to
	}
	tail := to.Truncate(24 * time.Hour)
	if tail.Before(head) {
		tail = head
	}
	return periodRange{from, head, tail, to}
}

// edges are the parts of days that are not empty, as [start, end) pairs.
func (r periodRange) edges() [][2]time.Time {
	var out [][2]time.Time
	for _, e := range [][2]time.Time{{r.from, r.head}, {r.tail, r.to}} {
		if e[0].Before(e[1]) {
			out = append(out, e)
		}
	}
	return out
}

func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// add sums counts.
func (c *MessageCounts) add(o MessageCounts) {
	c.Sent += o.Sent
	c.Bounced += o.Bounced
	c.Complaints += o.Complaints
	c.Opened += o.Opened
	c.Clicked += o.Clicked
	c.Unsubscribed += o.Unsubscribed
	c.Skipped += o.Skipped
	c.Recipients += o.Recipients
}
