package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/ads/audience"
)

// AudienceMember is one contact in (or once in) one ad audience, keyed by
// the audience's key (config.Audience.Key: segment/platform/id). It keeps
// the hashes that were sent, so a removal sends exactly those, even after
// the contact changed its address or was deleted.
type AudienceMember struct {
	Audience   string `gorm:"primaryKey;size:191;index:idx_audience_members_in,priority:1"`
	ContactID  string `gorm:"primaryKey;size:191;index:idx_audience_members_in,priority:3"`
	InAudience bool   `gorm:"index:idx_audience_members_in,priority:2"`
	// EmailHash and PhoneHash are SHA-256 hex of the address and number,
	// normalized by the platform's rules (ads/audience); either may be
	// empty.
	EmailHash string `gorm:"size:64"`
	PhoneHash string `gorm:"size:64"`
	// Consent says the contact's ads_consent was true when last sent,
	// which Google is told (CONSENT_GRANTED); always false for Meta,
	// which takes no per-person consent.
	Consent   bool
	AddedAt   *time.Time // the latest addition
	RemovedAt *time.Time // the latest removal
	UpdatedAt time.Time
}

// AudienceSync is the state of one audience's syncs: the last one's start,
// end and counts, and the last error until a sync succeeds.
type AudienceSync struct {
	Audience   string     `gorm:"primaryKey;size:191" json:"audience"`
	Segment    string     `gorm:"size:191" json:"segment"`
	Platform   string     `gorm:"size:16" json:"platform"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"` // nil while a sync runs, or after one failed
	PlannedAdd int        `json:"planned_add"`        // additions and removals found at the start
	PlannedRem int        `json:"planned_remove"`
	Added      int        `json:"added"` // uploaded so far by the last sync
	Removed    int        `json:"removed"`
	Members    int64      `json:"members"` // in the audience when the last sync ended
	LastError  string     `gorm:"type:text" json:"last_error,omitempty"`
	ErrorAt    *time.Time `json:"error_at,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// AudiencePending is one row of the batch being uploaded: staged before the
// upload and applied to audience_members after it succeeds, in one
// transaction. A retry, or the next sync after a crash, uploads the staged
// batch again as it was (adding or removing twice is harmless on both
// platforms) rather than computing another, so nobody is uploaded without
// being recorded.
type AudiencePending struct {
	Audience  string `gorm:"primaryKey;size:191"`
	ContactID string `gorm:"primaryKey;size:191"`
	Op        string `gorm:"size:8"` // AudienceAdd or AudienceRemove
	EmailHash string `gorm:"size:64"`
	PhoneHash string `gorm:"size:64"`
	Consent   bool
	// The upload's place in its Meta session.
	SessionID int64
	Seq       int
	Last      bool
}

// What a batch does to its members.
const (
	AudienceAdd    = "add"
	AudienceRemove = "remove"
)

// audiencePage is how many contacts or members one query reads while
// looking for changes: memory holds a page and a batch, whatever the size
// of the segment.
const audiencePage = 1000

// AudienceSpec is an audience and the moment its segment is read at.
type AudienceSpec struct {
	Key      string // segment/platform/id
	Segment  string
	Platform string // meta or google
	// ConsentDefault takes contacts without an ads_consent trait too.
	ConsentDefault bool
	At             time.Time
}

func (sp AudienceSpec) hashing() (audience.Platform, error) {
	switch p := audience.Platform(sp.Platform); p {
	case audience.Meta, audience.Google:
		return p, nil
	}
	return "", fmt.Errorf("audience %s: platform %q is not meta or google", sp.Key, sp.Platform)
}

// AudienceRow is one person in a batch: what is sent for them.
type AudienceRow struct {
	ContactID string
	EmailHash string
	PhoneHash string
	Consent   bool
}

// AudienceBatch is the next upload of a sync.
type AudienceBatch struct {
	Op   string
	Rows []AudienceRow
	// Session, Seq and Last are as staged: a batch staged by another sync
	// (interrupted) carries that sync's session, not the caller's.
	SessionID int64
	Seq       int
	Last      bool
	// Staged is true when the batch was staged before this call: a retry
	// of an upload, or a sync's unfinished batch.
	Staged bool
}

// Cursor is the last contact the batch reaches; the next batch of the
// same kind starts after it.
func (b AudienceBatch) Cursor() string {
	if len(b.Rows) == 0 {
		return ""
	}
	return b.Rows[len(b.Rows)-1].ContactID
}

// AudienceNext says which batch to compute: its kind, where to start, and
// its place in the Meta session.
type AudienceNext struct {
	Op        string
	After     string // contact ID; "" from the start
	SessionID int64
	Seq       int
}

// adsConsent reads the ads_consent trait: yes, no, or not given. Segment
// sends booleans; a string "true" or "false" (a form field passed through)
// counts the same.
func adsConsent(traits map[string]any) (granted, given bool) {
	switch v := traits["ads_consent"].(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes":
			return true, true
		case "false", "no":
			return false, true
		}
	}
	return false, false
}

// want says whether a contact in the segment belongs in the audience, and
// with what: it must not have unsubscribed from marketing (itself, or its
// address under any contact), must have consented (ads_consent true, or no
// answer under ConsentDefault; a "no" always wins), and must have an email
// address or phone number the platform's rules accept.
func (sp AudienceSpec) want(p audience.Platform, c *Contact, addressUnsubscribed bool) (AudienceRow, bool) {
	if c.UnsubscribedAt != nil || addressUnsubscribed {
		return AudienceRow{}, false
	}
	granted, given := adsConsent(c.Traits)
	if !granted && (given || !sp.ConsentDefault) {
		return AudienceRow{}, false
	}
	r := AudienceRow{ContactID: c.ID, Consent: granted && p == audience.Google}
	if c.Email != "" {
		r.EmailHash, _ = p.HashEmail(c.Email) // an address the platform cannot match is left out
	}
	if c.Phone != "" {
		r.PhoneHash, _ = p.HashPhone(c.Phone)
	}
	return r, r.EmailHash != "" || r.PhoneHash != ""
}

// audienceColumns are what want reads of a contact.
const audienceColumns = "contacts.id, contacts.email, contacts.phone, contacts.traits, contacts.unsubscribed_at"

// contactsByID reads contacts by a list of IDs under a segment's
// condition, through the primary key: given a thousand IDs and a condition
// on an indexed column (a stage), SQLite's planner, without statistics,
// takes the stage's index and sorts the whole segment for every page.
func (s *Store) contactsByID(db *gorm.DB) *gorm.DB {
	if s.Dialect == "mysql" {
		return db.Table("contacts FORCE INDEX (PRIMARY)")
	}
	return db.Table("contacts INDEXED BY sqlite_autoindex_contacts_1")
}

// unsubscribedAddresses returns which of the contacts' email addresses are
// unsubscribed from marketing under any contact (suppressions).
func unsubscribedAddresses(db *gorm.DB, cs []Contact) (map[string]bool, error) {
	var addrs []string
	for _, c := range cs {
		if a := NormalizeAddress(ChannelEmail, c.Email); a != "" {
			addrs = append(addrs, a)
		}
	}
	out := map[string]bool{}
	if len(addrs) == 0 {
		return out, nil
	}
	var hits []string
	err := db.Model(&Suppression{}).Where("channel = ? AND address IN ? AND unsubscribed = ?", ChannelEmail, addrs, true).
		Pluck("address", &hits).Error
	for _, a := range hits {
		out[a] = true
	}
	return out, err
}

// desired returns, of the given contacts, those that belong in the
// audience now, with what to send for them.
func (s *Store) desired(db *gorm.DB, sp AudienceSpec, p audience.Platform, seg cond, ids []string) (map[string]AudienceRow, error) {
	var cs []Contact
	if err := s.contactsByID(db).Select(audienceColumns).Where("contacts.id IN ?", ids).Where(seg.sql, seg.args...).Find(&cs).Error; err != nil {
		return nil, err
	}
	unsub, err := unsubscribedAddresses(db, cs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]AudienceRow, len(cs))
	for i := range cs {
		if r, ok := sp.want(p, &cs[i], unsub[NormalizeAddress(ChannelEmail, cs[i].Email)]); ok {
			out[cs[i].ID] = r
		}
	}
	return out, nil
}

// audienceRule is what decides membership: the platform's hashing and the
// segment's condition at the sync's time.
func (s *Store) audienceRule(sp AudienceSpec) (audience.Platform, cond, error) {
	p, err := sp.hashing()
	if err != nil {
		return "", cond{}, err
	}
	seg, err := s.segmentCond(sp.Segment, nil, sp.At)
	return p, seg, err
}

// eachRemoval calls fn, in contact order after after, with each member
// that has to go: deleted, out of the segment, unsubscribed, without
// consent or a usable address, or whose address changed (the old hashes go
// now; the addition phase sends the new ones). It stops when fn says so.
func (s *Store) eachRemoval(ctx context.Context, sp AudienceSpec, after string, fn func(AudienceRow) bool) error {
	p, seg, err := s.audienceRule(sp)
	if err != nil {
		return err
	}
	db := s.db.WithContext(ctx)
	for {
		var ms []AudienceMember
		err := db.Where("audience = ? AND in_audience = ? AND contact_id > ?", sp.Key, true, after).
			Order("contact_id").Limit(audiencePage).Find(&ms).Error
		if err != nil || len(ms) == 0 {
			return err
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.ContactID
		}
		keep, err := s.desired(db, sp, p, seg, ids)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if d, ok := keep[m.ContactID]; ok && d.EmailHash == m.EmailHash && d.PhoneHash == m.PhoneHash {
				continue
			}
			if !fn(AudienceRow{ContactID: m.ContactID, EmailHash: m.EmailHash, PhoneHash: m.PhoneHash, Consent: m.Consent}) {
				return nil
			}
		}
		if len(ms) < audiencePage {
			return nil
		}
		after = ms[len(ms)-1].ContactID
	}
}

// eachAddition calls fn, in contact order after after, with each contact
// that belongs in the audience and is not in it as it should be: new, or
// in with another consent (Google is told again). A member whose address
// changed is left to the next sync's removal phase, so its old hashes are
// never overwritten before they are removed.
func (s *Store) eachAddition(ctx context.Context, sp AudienceSpec, after string, fn func(AudienceRow) bool) error {
	p, seg, err := s.audienceRule(sp)
	if err != nil {
		return err
	}
	db := s.db.WithContext(ctx)
	for {
		// Keyset pages of contact IDs by the primary key alone, then the
		// segment within the page (see contactsByID).
		var page []string
		if err := db.Model(&Contact{}).Where("id > ?", after).Order("id").Limit(audiencePage).Pluck("id", &page).Error; err != nil || len(page) == 0 {
			return err
		}
		var cs []Contact
		err := s.contactsByID(db).Select(audienceColumns).Where("contacts.id IN ?", page).Where(seg.sql, seg.args...).
			Where("contacts.email <> '' OR contacts.phone <> ''").Order("contacts.id").Find(&cs).Error
		if err != nil {
			return err
		}
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.ID
		}
		var ms []AudienceMember
		if err := db.Where("audience = ? AND contact_id IN ? AND in_audience = ?", sp.Key, ids, true).Find(&ms).Error; err != nil {
			return err
		}
		in := make(map[string]AudienceMember, len(ms))
		for _, m := range ms {
			in[m.ContactID] = m
		}
		unsub, err := unsubscribedAddresses(db, cs)
		if err != nil {
			return err
		}
		for i := range cs {
			r, ok := sp.want(p, &cs[i], unsub[NormalizeAddress(ChannelEmail, cs[i].Email)])
			if !ok {
				continue
			}
			if m, was := in[r.ContactID]; was && (m.Consent == r.Consent || m.EmailHash != r.EmailHash || m.PhoneHash != r.PhoneHash) {
				continue
			}
			if !fn(r) {
				return nil
			}
		}
		if len(page) < audiencePage {
			return nil
		}
		after = page[len(page)-1]
	}
}

// StartAudienceSync counts the removals and additions a sync of the
// audience has to make and records its start. Counting reads the segment
// page by page, like the batches will.
func (s *Store) StartAudienceSync(ctx context.Context, sp AudienceSpec) (removals, additions int, err error) {
	count := func(n *int) func(AudienceRow) bool { return func(AudienceRow) bool { *n++; return true } }
	if err := s.eachRemoval(ctx, sp, "", count(&removals)); err != nil {
		return 0, 0, fmt.Errorf("audience %s: %w", sp.Key, err)
	}
	if err := s.eachAddition(ctx, sp, "", count(&additions)); err != nil {
		return 0, 0, fmt.Errorf("audience %s: %w", sp.Key, err)
	}
	now := time.Now().UTC()
	row := AudienceSync{Audience: sp.Key, Segment: sp.Segment, Platform: sp.Platform, StartedAt: &now,
		PlannedAdd: additions, PlannedRem: removals, UpdatedAt: now}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := skipDuplicates(tx).Create(&row).Error; err != nil {
			return err
		}
		return tx.Model(&AudienceSync{}).Where("audience = ?", sp.Key).Updates(map[string]any{
			"segment": sp.Segment, "platform": sp.Platform, "started_at": now, "ended_at": nil,
			"planned_add": additions, "planned_rem": removals, "added": 0, "removed": 0, "updated_at": now,
		}).Error
	})
	if err != nil {
		return 0, 0, fmt.Errorf("audience %s: record the start: %w", sp.Key, err)
	}
	return removals, additions, nil
}

// NextAudienceBatch returns the batch to upload next: the staged one if
// there is one (a retry, or a sync that stopped half way), else the next
// at most max changes of kind next.Op after next.After, staged before it
// is returned. A batch without rows means the phase has nothing left.
func (s *Store) NextAudienceBatch(ctx context.Context, sp AudienceSpec, next AudienceNext, max int) (AudienceBatch, error) {
	if max <= 0 {
		return AudienceBatch{}, fmt.Errorf("audience %s: batch size %d", sp.Key, max)
	}
	db := s.db.WithContext(ctx)
	var staged []AudiencePending
	if err := db.Where("audience = ?", sp.Key).Order("contact_id").Find(&staged).Error; err != nil {
		return AudienceBatch{}, fmt.Errorf("audience %s: staged batch: %w", sp.Key, err)
	}
	if len(staged) > 0 {
		b := AudienceBatch{Op: staged[0].Op, SessionID: staged[0].SessionID, Seq: staged[0].Seq, Last: staged[0].Last, Staged: true}
		for _, p := range staged {
			b.Rows = append(b.Rows, AudienceRow{ContactID: p.ContactID, EmailHash: p.EmailHash, PhoneHash: p.PhoneHash, Consent: p.Consent})
		}
		return b, nil
	}

	b := AudienceBatch{Op: next.Op, SessionID: next.SessionID, Seq: next.Seq, Last: true}
	collect := func(r AudienceRow) bool {
		if len(b.Rows) == max {
			b.Last = false // one more change waits: this is not the session's last batch
			return false
		}
		b.Rows = append(b.Rows, r)
		return true
	}
	var err error
	switch next.Op {
	case AudienceRemove:
		err = s.eachRemoval(ctx, sp, next.After, collect)
	case AudienceAdd:
		err = s.eachAddition(ctx, sp, next.After, collect)
	default:
		err = fmt.Errorf("batch kind %q is not %s or %s", next.Op, AudienceAdd, AudienceRemove)
	}
	if err != nil {
		return AudienceBatch{}, fmt.Errorf("audience %s: %w", sp.Key, err)
	}
	if len(b.Rows) == 0 {
		return b, nil
	}
	rows := make([]AudiencePending, len(b.Rows))
	for i, r := range b.Rows {
		rows[i] = AudiencePending{Audience: sp.Key, ContactID: r.ContactID, Op: b.Op, EmailHash: r.EmailHash, PhoneHash: r.PhoneHash,
			Consent: r.Consent, SessionID: b.SessionID, Seq: b.Seq, Last: b.Last}
	}
	err = db.Transaction(func(tx *gorm.DB) error { return tx.CreateInBatches(rows, 1000).Error })
	if err != nil {
		return AudienceBatch{}, fmt.Errorf("audience %s: stage the batch: %w", sp.Key, err)
	}
	return b, nil
}

// CommitAudienceBatch records the staged batch as uploaded, in one
// transaction: its members go in (with the hashes sent) or out, the stage
// is emptied, and the sync's counts grow. With nothing staged it does
// nothing, so a retry after a commit is harmless.
func (s *Store) CommitAudienceBatch(ctx context.Context, key string, at time.Time) (added, removed int, err error) {
	at = at.UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var counts []struct {
			Op string
			N  int
		}
		if err := tx.Model(&AudiencePending{}).Select("op, COUNT(*) AS n").Where("audience = ?", key).Group("op").Scan(&counts).Error; err != nil {
			return err
		}
		for _, c := range counts {
			switch c.Op {
			case AudienceAdd:
				added = c.N
			case AudienceRemove:
				removed = c.N
			}
		}
		if added+removed == 0 {
			return nil
		}
		staged := func(op string) *gorm.DB {
			return tx.Model(&AudiencePending{}).Select("contact_id").Where("audience = ? AND op = ?", key, op)
		}
		if removed > 0 {
			err := tx.Model(&AudienceMember{}).Where("audience = ? AND contact_id IN (?)", key, staged(AudienceRemove)).
				Updates(map[string]any{"in_audience": false, "removed_at": at, "updated_at": at}).Error
			if err != nil {
				return err
			}
		}
		if added > 0 {
			insert := "INSERT OR IGNORE"
			if s.Dialect == "mysql" {
				insert = "INSERT IGNORE"
			}
			err := tx.Exec(insert+" INTO audience_members (audience, contact_id, in_audience, email_hash, phone_hash, consent, updated_at) "+
				"SELECT audience, contact_id, ?, '', '', ?, ? FROM audience_pendings WHERE audience = ? AND op = ?",
				false, false, at, key, AudienceAdd).Error
			if err != nil {
				return err
			}
			// added_at before in_audience: MySQL assigns left to right,
			// reading the values already set.
			pending := func(col string) string {
				return "(SELECT p." + col + " FROM audience_pendings p WHERE p.audience = audience_members.audience AND p.contact_id = audience_members.contact_id)"
			}
			err = tx.Exec("UPDATE audience_members SET added_at = CASE WHEN in_audience THEN added_at ELSE ? END, "+
				"email_hash = "+pending("email_hash")+", phone_hash = "+pending("phone_hash")+", consent = "+pending("consent")+", "+
				"in_audience = ?, updated_at = ? "+
				"WHERE audience = ? AND contact_id IN (SELECT contact_id FROM audience_pendings WHERE audience = ? AND op = ?)",
				at, true, at, key, key, AudienceAdd).Error
			if err != nil {
				return err
			}
		}
		if err := tx.Where("audience = ?", key).Delete(&AudiencePending{}).Error; err != nil {
			return err
		}
		return tx.Model(&AudienceSync{}).Where("audience = ?", key).Updates(map[string]any{
			"added": gorm.Expr("added + ?", added), "removed": gorm.Expr("removed + ?", removed), "updated_at": at,
		}).Error
	})
	if err != nil {
		return 0, 0, fmt.Errorf("audience %s: record the batch: %w", key, err)
	}
	return added, removed, nil
}

// FinishAudienceSync records a sync's end: with failure "", its success
// (clearing the last error) and the audience's size; else the error, and
// no end.
func (s *Store) FinishAudienceSync(ctx context.Context, key string, failure string) (members int64, err error) {
	db := s.db.WithContext(ctx)
	if err := db.Model(&AudienceMember{}).Where("audience = ? AND in_audience = ?", key, true).Count(&members).Error; err != nil {
		return 0, fmt.Errorf("audience %s: count members: %w", key, err)
	}
	now := time.Now().UTC()
	change := map[string]any{"members": members, "updated_at": now}
	if failure == "" {
		change["ended_at"], change["last_error"], change["error_at"] = now, "", nil
	} else {
		change["last_error"], change["error_at"] = failure, now
	}
	if err := db.Model(&AudienceSync{}).Where("audience = ?", key).Updates(change).Error; err != nil {
		return 0, fmt.Errorf("audience %s: record the end: %w", key, err)
	}
	return members, nil
}

// AudienceSyncs lists the state of every audience synced so far, by key.
func (s *Store) AudienceSyncs(ctx context.Context) ([]AudienceSync, error) {
	out := []AudienceSync{}
	err := s.db.WithContext(ctx).Order("audience").Find(&out).Error
	return out, err
}

// AudienceSyncState returns one audience's sync state, or ErrNotFound
// before its first sync.
func (s *Store) AudienceSyncState(ctx context.Context, key string) (*AudienceSync, error) {
	var st AudienceSync
	err := s.db.WithContext(ctx).Where("audience = ?", key).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &st, err
}

// AudienceMembers returns up to limit members of an audience (in or out)
// after a contact ID, in contact order.
func (s *Store) AudienceMembers(ctx context.Context, key, after string, limit int) ([]AudienceMember, error) {
	out := []AudienceMember{}
	err := s.db.WithContext(ctx).Where("audience = ? AND contact_id > ?", key, after).Order("contact_id").Limit(limit).Find(&out).Error
	return out, err
}
