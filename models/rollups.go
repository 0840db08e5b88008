package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

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
// day: the distinct recipients of a period are counted from these. The key
// leads with journey and contact, so a count of distinct contacts walks it
// in order, with no sort (SQLite spent 250 ms sorting 60,000 rows for one
// month of eight journeys); a roll-up finds its day by idx_recipient_days_day.
type RecipientDay struct {
	Journey   string `gorm:"primaryKey;size:64"`
	ContactID string `gorm:"primaryKey;size:191"`
	Day       string `gorm:"primaryKey;size:10;index:idx_recipient_days_day"`
}

// TableName is new with the key's order: the table before it (day first)
// is dropped, and its absence makes the first refresh roll up every day.
func (RecipientDay) TableName() string { return "journey_recipient_days" }

// rollupMargin is how far before the last refresh's start the next one
// looks for changed messages: more than any commit delay or clock skew
// between Nudge's processes should be.
const rollupMargin = 5 * time.Minute

const rollupMarkSetting = "message_days_mark"

// refreshRollups recounts the days whose messages changed since the last
// refresh. Concurrent callers in one process share one refresh; refreshes in
// other processes are harmless, as a recount writes the same rows.
func (s *Store) refreshRollups(ctx context.Context) error {
	_, err := s.recountChangedDays(ctx)
	return err
}

// recountChangedDays is refreshRollups, returning the days it recounted.
func (s *Store) recountChangedDays(ctx context.Context) ([]string, error) {
	asked := time.Now()
	s.rollupMu.Lock()
	defer s.rollupMu.Unlock()
	if s.rollupStarted.After(asked) {
		return nil, nil // a refresh that began after this call, so saw what it wants, ended meanwhile
	}
	began := time.Now()
	start := began.UTC()
	db := s.db.WithContext(ctx)
	var mark Setting
	err := db.Where("name = ?", rollupMarkSetting).Take(&mark).Error
	var days []string
	var found []countedPending
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		days, err = s.allMessageDays(db)
	case err == nil:
		var since time.Time
		if since, err = time.Parse(time.RFC3339Nano, mark.Value); err != nil {
			return nil, fmt.Errorf("roll-up mark %q: %w", mark.Value, err)
		}
		// No DISTINCT: with it the databases walk idx_messages_at whole to
		// skip a sort; the changed rows are few, and the days are made
		// unique below.
		var changed []countedState
		err = db.Model(&Message{}).Select(countedColumns).Where("updated_at >= ?", since.Add(-rollupMargin)).Scan(&changed).Error
		days, found = s.uncounted(changed, since.Add(-rollupMargin))
	}
	if err != nil {
		return nil, fmt.Errorf("find the days to roll up: %w", err)
	}
	slices.Sort(days)
	days = slices.Compact(days)
	for _, day := range days {
		if err := s.rollUpDay(db, day); err != nil {
			return nil, fmt.Errorf("roll up %s: %w", day, err)
		}
	}
	if err := db.Save(&Setting{Name: rollupMarkSetting, Value: start.Format(time.RFC3339Nano)}).Error; err != nil {
		return nil, err
	}
	for _, p := range found {
		s.rollupSeen[p.id] = p.countedSeen
	}
	s.rollupStarted = began
	return days, nil
}

// countedColumns are what a roll-up counts of a message, beside what a
// message never changes (journey, step, channel, contact, time).
const countedColumns = "id, at, updated_at, status, delivery_status, reason, opened_at IS NOT NULL AS opened, clicked_at IS NOT NULL AS clicked, unsubscribed_at IS NOT NULL AS unsubscribed"

// countedState is a changed message as the roll-ups see it.
type countedState struct {
	ID                             uint64
	At, UpdatedAt                  time.Time
	Status, DeliveryStatus, Reason string
	Opened, Clicked, Unsubscribed  bool
}

func (c countedState) fingerprint() string {
	return fmt.Sprint(c.Status, "|", c.DeliveryStatus, "|", c.Reason, "|", c.Opened, c.Clicked, c.Unsubscribed)
}

// uncounted returns the days of the changed messages whose counted state
// this process has not yet counted. The margin brings a change back for
// five minutes, so that one committed late is not missed; without this, a
// busy store recounted the same days on every read for those five minutes.
// A recount reads after this finds a row, so it included at least the
// state found here: a row is skipped only when its counted state is one a
// finished recount included. The states found are remembered when the
// refresh succeeds, and forgotten once older than the margin, as their rows
// are not found again. Called under rollupMu.
func (s *Store) uncounted(changed []countedState, horizon time.Time) (days []string, found []countedPending) {
	if s.rollupSeen == nil {
		s.rollupSeen = map[uint64]countedSeen{}
	}
	for _, c := range changed {
		fp := c.fingerprint()
		if seen, ok := s.rollupSeen[c.ID]; ok && seen.fingerprint == fp {
			continue
		}
		days = append(days, c.At.UTC().Format(time.DateOnly))
		found = append(found, countedPending{c.ID, countedSeen{fp, c.UpdatedAt}})
	}
	for id, seen := range s.rollupSeen {
		if seen.updatedAt.Before(horizon) {
			delete(s.rollupSeen, id)
		}
	}
	return days, found
}

type countedSeen struct {
	fingerprint string
	updatedAt   time.Time
}

type countedPending struct {
	id uint64
	countedSeen
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
// Recipients change rarely (a new send, a bounce) while the day is
// recounted on every open: only the rows that changed are written, as
// rewriting a day's thousands of recipients cost a read 80 ms on SQLite.
func (s *Store) rollUpDay(db *gorm.DB, day string) error {
	from, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return err
	}
	rows, skips, err := countMessages(db, day, from, from.Add(24*time.Hour), "")
	if err != nil {
		return err
	}
	var want []RecipientDay
	err = db.Model(&Message{}).Distinct("journey", "contact_id").Where("at >= ? AND at < ? AND "+recipientMessage,
		append([]any{from, from.Add(24 * time.Hour)}, recipientArgs()...)...).Scan(&want).Error
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
		if err := replaceRecipients(tx, day, want); err != nil {
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

// replaceRecipients makes day's recipient rows those of want, writing only
// the difference.
func replaceRecipients(tx *gorm.DB, day string, want []RecipientDay) error {
	var have []RecipientDay
	if err := tx.Select("journey", "contact_id").Where("day = ?", day).Find(&have).Error; err != nil {
		return err
	}
	type key struct{ journey, contact string }
	held := make(map[key]bool, len(have))
	for _, r := range have {
		held[key{r.Journey, r.ContactID}] = true
	}
	var add []RecipientDay
	for _, r := range want {
		k := key{r.Journey, r.ContactID}
		if held[k] {
			delete(held, k)
			continue
		}
		add = append(add, RecipientDay{Journey: r.Journey, ContactID: r.ContactID, Day: day})
	}
	// What is left held is no longer a recipient: removed a journey at a time.
	gone := map[string][]string{}
	for k := range held {
		gone[k.journey] = append(gone[k.journey], k.contact)
	}
	for journey, contacts := range gone {
		for batch := range slices.Chunk(contacts, 500) {
			if err := tx.Where("journey = ? AND day = ? AND contact_id IN ?", journey, day, batch).Delete(&RecipientDay{}).Error; err != nil {
				return err
			}
		}
	}
	if len(add) == 0 {
		return nil
	}
	// Another process recounting the same day may have added some first.
	return tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(add, 500).Error
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
