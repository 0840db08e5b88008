package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/nudgehq/nudge/workflows"
)

// Engagement windows. A contact's last engagement is its latest Email
// Opened or Email Link Clicked track event, or page event, at or before the
// moment a segment is evaluated (now):
//
//	active:   last >= now-30d
//	at_risk:  now-60d <= last < now-30d
//	dormant:  last < now-60d, or no engagement at all and created_at < now-60d
//
// A contact with no engagement created within the last 60 days is in none of
// the three: it has not had the chance to lapse.
const (
	ActiveWindow  = 30 * 24 * time.Hour
	DormantWindow = 60 * 24 * time.Hour
)

// The retarget segment: an ad click with no order for RetargetAfter (the
// ad click follow-up's wait), for up to RetargetWindow.
const (
	RetargetAfter  = 4 * time.Hour
	RetargetWindow = 30 * 24 * time.Hour
)

// Segment groups.
const (
	SegmentGroupEngagement = "engagement"
	SegmentGroupFunnel     = "funnel"
	SegmentGroupBehaviour  = "behaviour"
)

// SegmentInfo describes a segment: what the API lists.
type SegmentInfo struct {
	Name        string         `json:"name"`
	Group       string         `json:"group"`
	Description string         `json:"description"`
	Params      []SegmentParam `json:"params"`
}

// SegmentParam is a parameter a segment requires.
type SegmentParam struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// UnknownSegmentError says no segment has that name.
type UnknownSegmentError struct{ Name string }

func (e *UnknownSegmentError) Error() string {
	return fmt.Sprintf("no segment %q; the segments are %s", e.Name, strings.Join(segmentNames(), ", "))
}

// SegmentParamError says a segment's parameter is missing, empty or not
// one it takes.
type SegmentParamError struct {
	Segment string
	Param   string
	Problem string
}

func (e *SegmentParamError) Error() string {
	return fmt.Sprintf("segment %s: parameter %q %s", e.Segment, e.Param, e.Problem)
}

// segment is one definition: what it is, and the condition on a contacts
// row that selects its members.
type segment struct {
	SegmentInfo
	where func(q *segmentQuery) cond
}

// segments is the registry, in the order the API lists it. Every condition
// is evaluated at q.now, passed in by the caller; events with a timestamp
// after it are not counted, so a segment answers "as of now". Stage segments
// read the contact's stage as stored now.
var segments = []segment{
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentActive, Group: SegmentGroupEngagement,
			Description: "Engaged (opened or clicked an email, or viewed a page) within the last 30 days: last engagement >= now-30d."},
		where: func(q *segmentQuery) cond {
			since := q.now.Add(-ActiveWindow)
			return q.lastEngaged(lastEngagedIn(since, q.now), q.engagedSince(since))
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentAtRisk, Group: SegmentGroupEngagement,
			Description: "Last engagement 30 to 60 days ago: now-60d <= last engagement < now-30d."},
		where: func(q *segmentQuery) cond {
			from, to := q.now.Add(-DormantWindow), q.now.Add(-ActiveWindow)
			return q.lastEngaged(and(lastEngagedIn(from, q.now), cond{"contacts.last_engaged_at < ?", []any{to}}), and(
				q.exists(engagement(), atOrAfter(from), before(to)),
				not(q.engagedSince(to)),
			))
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentDormant, Group: SegmentGroupEngagement,
			Description: "Last engagement more than 60 days ago (last < now-60d), or never engaged and created more than 60 days ago (created_at < now-60d)."},
		where: func(q *segmentQuery) cond {
			cutoff := q.now.Add(-DormantWindow)
			neverOrLong := cond{"contacts.last_engaged_at < ? OR (contacts.last_engaged_at IS NULL AND contacts.created_at < ?)", []any{cutoff, cutoff}}
			return q.lastEngaged(neverOrLong, and(
				not(q.engagedSince(cutoff)),
				or(q.exists(engagement(), before(cutoff)), cond{"contacts.created_at < ?", []any{cutoff}}),
			))
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentNewSubscriber, Group: SegmentGroupFunnel,
			Description: "Stage subscriber: on the list, not yet a lead (a contact with no stage counts as a subscriber)."},
		where: func(*segmentQuery) cond { return stageIn(StageSubscriber, "") },
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentActiveLead, Group: SegmentGroupFunnel,
			Description: "Stage lead, mql or sql, and engaged within the last 30 days (last engagement >= now-30d)."},
		where: func(q *segmentQuery) cond {
			since := q.now.Add(-ActiveWindow)
			return and(stageIn(StageLead, StageMQL, StageSQL), q.lastEngaged(lastEngagedIn(since, q.now), q.engagedSince(since)))
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentTrialUser, Group: SegmentGroupFunnel, Description: "Stage trial."},
		where:       func(*segmentQuery) cond { return stageIn(StageTrial) },
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentPayingCustomer, Group: SegmentGroupFunnel, Description: "Stage customer."},
		where:       func(*segmentQuery) cond { return stageIn(StageCustomer) },
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentChurned, Group: SegmentGroupFunnel, Description: "Stage churned."},
		where:       func(*segmentQuery) cond { return stageIn(StageChurned) },
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentVisitedPage, Group: SegmentGroupBehaviour,
			Description: "Viewed a page (a page or screen call) named exactly `page`, or whose properties.path or properties.url contains `page` (case-sensitive).",
			Params:      []SegmentParam{{Name: "page", Description: "a page name (Pricing), or part of its path or URL (/pricing)"}}},
		where: func(q *segmentQuery) cond {
			page := q.params["page"]
			return q.exists(cond{"e.kind = ?", []any{workflows.KindPage}}, atOrBefore(q.now),
				or(cond{"e.name = ?", []any{page}}, q.propContains("path", page), q.propContains("url", page)))
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentDownloadedContent, Group: SegmentGroupBehaviour,
			Description: "Has a Content Downloaded event whose properties.content_id or properties.content_type equals `content`.",
			Params:      []SegmentParam{{Name: "content", Description: "a content_id (roi-guide) or a content_type (case_study)"}}},
		where: func(q *segmentQuery) cond {
			content := q.params["content"]
			return q.exists(track(workflows.EventContentDownloaded), atOrBefore(q.now),
				or(q.propEquals("content_id", content), q.propEquals("content_type", content)))
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentUsedFeature, Group: SegmentGroupBehaviour,
			Description: "Has a Feature Used event whose properties.feature equals `feature`.",
			Params:      []SegmentParam{{Name: "feature", Description: "the feature's name, as the app sends it in properties.feature"}}},
		where: func(q *segmentQuery) cond {
			return q.exists(track(workflows.EventFeatureUsed), atOrBefore(q.now), q.propEquals("feature", q.params["feature"]))
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentNotOnboarded, Group: SegmentGroupBehaviour,
			Description: "Signed up (a Signed Up event) and has no Setup Completed event."},
		where: func(q *segmentQuery) cond {
			return and(
				q.exists(track(workflows.EventSignedUp), atOrBefore(q.now)),
				not(q.exists(track(workflows.EventSetupCompleted), atOrBefore(q.now))),
			)
		},
	},
	{
		SegmentInfo: SegmentInfo{Name: workflows.SegmentRetarget, Group: SegmentGroupBehaviour,
			Description: "Clicked an ad (a landing URL with gclid, fbclid or ttclid) between 4 hours and 30 days ago, and has placed no order since: the retargeting audience (NUDGE_RETARGET_AUDIENCE)."},
		where: func(q *segmentQuery) cond {
			return and(
				cond{"contacts.last_ad_click_at >= ? AND contacts.last_ad_click_at <= ?", []any{q.now.Add(-RetargetWindow), q.now.Add(-RetargetAfter)}},
				cond{"NOT EXISTS (SELECT 1 FROM orders o WHERE o.contact_id = contacts.id AND o.ordered_at >= contacts.last_ad_click_at)", nil},
			)
		},
	},
}

func segmentNames() []string {
	names := make([]string, len(segments))
	for i, s := range segments {
		names[i] = s.Name
	}
	return names
}

// Segments lists the segment definitions.
func Segments() []SegmentInfo {
	out := make([]SegmentInfo, len(segments))
	for i, s := range segments {
		out[i] = s.SegmentInfo
		out[i].Params = slices.Clone(s.Params)
		if out[i].Params == nil {
			out[i].Params = []SegmentParam{}
		}
	}
	return out
}

// LookupSegment returns a segment's definition.
func LookupSegment(name string) (SegmentInfo, bool) {
	for _, s := range Segments() {
		if s.Name == name {
			return s, true
		}
	}
	return SegmentInfo{}, false
}

// SegmentQuery returns the query selecting the IDs of the contacts in a
// segment at now (SELECT contacts.id FROM contacts WHERE ...), to use as a
// subquery: db.Where("contact_id IN (?)", q). An unknown segment is an
// *UnknownSegmentError; a missing, empty or unexpected parameter a
// *SegmentParamError.
func (s *Store) SegmentQuery(ctx context.Context, name string, params map[string]string, now time.Time) (*gorm.DB, error) {
	c, err := s.segmentCond(name, params, now)
	if err != nil {
		return nil, err
	}
	return s.db.WithContext(ctx).Model(&Contact{}).Select("contacts.id").Where(c.sql, c.args...), nil
}

// SegmentContacts returns one page of the contacts in a segment at now,
// ordered by ID, and how many there are in all. A limit of zero or less
// means no limit.
func (s *Store) SegmentContacts(ctx context.Context, name string, params map[string]string, now time.Time, limit, offset int) ([]Contact, int64, error) {
	c, err := s.segmentCond(name, params, now)
	if err != nil {
		return nil, 0, err
	}
	db := s.db.WithContext(ctx)
	var total int64
	if err := db.Model(&Contact{}).Where(c.sql, c.args...).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count segment %s: %w", name, err)
	}
	contacts := []Contact{}
	if total == 0 || int64(max(offset, 0)) >= total {
		return contacts, total, nil
	}
	if limit <= 0 || int64(limit) > total {
		limit = int(total) // MySQL takes no OFFSET without a LIMIT
	}
	q := db.Where(c.sql, c.args...).Order("contacts.id").Limit(limit)
	if offset > 0 {
		q = q.Offset(offset)
	}
	if err := q.Find(&contacts).Error; err != nil {
		return nil, 0, fmt.Errorf("list segment %s: %w", name, err)
	}
	return contacts, total, nil
}

// InSegment reports whether the contact is in the segment at now. A contact
// that does not exist is in no segment.
func (s *Store) InSegment(ctx context.Context, contactID, name string, params map[string]string, now time.Time) (bool, error) {
	c, err := s.segmentCond(name, params, now)
	if err != nil {
		return false, err
	}
	var ids []string
	err = s.db.WithContext(ctx).Model(&Contact{}).
		Where("contacts.id = ?", contactID).Where(c.sql, c.args...).Limit(1).Pluck("contacts.id", &ids).Error
	if err != nil {
		return false, fmt.Errorf("segment %s for %s: %w", name, contactID, err)
	}
	return len(ids) > 0, nil
}

// segmentCond checks the name and parameters and builds the condition.
func (s *Store) segmentCond(name string, params map[string]string, now time.Time) (cond, error) {
	i := slices.IndexFunc(segments, func(d segment) bool { return d.Name == name })
	if i < 0 {
		return cond{}, &UnknownSegmentError{Name: name}
	}
	def := segments[i]
	for _, p := range def.Params {
		v, ok := params[p.Name]
		switch {
		case !ok:
			return cond{}, &SegmentParamError{Segment: name, Param: p.Name, Problem: "is required: " + p.Description}
		case strings.TrimSpace(v) == "":
			return cond{}, &SegmentParamError{Segment: name, Param: p.Name, Problem: "is empty: " + p.Description}
		}
	}
	extra := []string{}
	for k := range params {
		if !slices.ContainsFunc(def.Params, func(p SegmentParam) bool { return p.Name == k }) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		takes := "takes no parameters"
		if len(def.Params) > 0 {
			var names []string
			for _, p := range def.Params {
				names = append(names, p.Name)
			}
			takes = "takes only " + strings.Join(names, ", ")
		}
		return cond{}, &SegmentParamError{Segment: name, Param: extra[0], Problem: "is not a parameter of this segment, which " + takes}
	}
	q := &segmentQuery{now: now.UTC(), params: params, mysql: s.Dialect == "mysql"}
	c := def.where(q)
	c.sql = "(" + c.sql + ")"
	return c, nil
}

// cond is a piece of SQL with its arguments, in order.
type cond struct {
	sql  string
	args []any
}

func join(op string, cs []cond) cond {
	var out cond
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = "(" + c.sql + ")"
		out.args = append(out.args, c.args...)
	}
	out.sql = strings.Join(parts, " "+op+" ")
	return out
}

func and(cs ...cond) cond { return join("AND", cs) }
func or(cs ...cond) cond  { return join("OR", cs) }
func not(c cond) cond     { return cond{"NOT (" + c.sql + ")", c.args} }

func stageIn(stages ...string) cond {
	return cond{"contacts.lifecycle_stage IN ?", []any{stages}}
}

// Conditions on an events row, e.
func track(name string) cond {
	return cond{"e.kind = ? AND e.name = ?", []any{workflows.KindTrack, name}}
}

// engagement: an email opened or clicked, or a page viewed (as
// workflows.isEngagement has it). isEngagement says the same of one event.
func engagement() cond {
	return cond{"e.kind = ? OR (e.kind = ? AND e.name IN ?)", []any{workflows.KindPage, workflows.KindTrack, engagementEvents}}
}

var engagementEvents = []string{workflows.EventEmailOpened, workflows.EventEmailClicked, workflows.EventInAppRead, workflows.EventInAppClicked}

func isEngagement(e *Event) bool {
	return e.Kind == workflows.KindPage || (e.Kind == workflows.KindTrack && slices.Contains(engagementEvents, e.Name))
}

// noteEngagement moves the contact's LastEngagedAt up to an engagement
// event's timestamp; an earlier one (sent late) leaves it be. A contact
// marked unengaged (win-back's last step) who engages after it, or changes
// their preferences, is unengaged no more: marketing reaches them again.
func noteEngagement(tx *gorm.DB, e *Event) error {
	if e.ContactID == "" {
		return nil
	}
	at := e.Timestamp.UTC()
	switch {
	case isEngagement(e):
		// One statement on the intake path; each CASE reads the row as it
		// was (neither column reads the other).
		return tx.Exec(`UPDATE contacts SET
			last_engaged_at = CASE WHEN last_engaged_at IS NULL OR last_engaged_at < ? THEN ? ELSE last_engaged_at END,
			unengaged_at = CASE WHEN unengaged_at < ? THEN NULL ELSE unengaged_at END
			WHERE id = ? AND (last_engaged_at IS NULL OR last_engaged_at < ? OR unengaged_at < ?)`, at, at, at, e.ContactID, at, at).Error
	case e.Kind == workflows.KindTrack && e.Name == workflows.EventPreferencesUpdated:
		return tx.Exec("UPDATE contacts SET unengaged_at = NULL WHERE id = ? AND unengaged_at < ?", e.ContactID, at).Error
	}
	return nil
}

// AfterCreate keeps LastEngagedAt and the touches for events written outside Accept (which
// notes them itself): imports, fixtures.
func (e *Event) AfterCreate(tx *gorm.DB) error {
	if err := noteEngagement(tx, e); err != nil {
		return err
	}
	return noteTouch(tx, e)
}

const lastEngagedSetting = "contacts_last_engaged_at"

// backfillLastEngaged sets LastEngagedAt from the events stored before the
// column existed, once: later events keep it up to date as they arrive.
func backfillLastEngaged(db *gorm.DB) error {
	var done int64
	if err := db.Model(&Setting{}).Where("name = ?", lastEngagedSetting).Count(&done).Error; err != nil || done > 0 {
		return err
	}
	c := engagement()
	err := db.Exec("UPDATE contacts SET last_engaged_at = (SELECT MAX(e.timestamp) FROM events e WHERE e.contact_id = contacts.id AND ("+c.sql+"))", c.args...).Error
	if err != nil {
		return err
	}
	return db.Save(&Setting{Name: lastEngagedSetting, Value: "backfilled"}).Error
}

func atOrAfter(t time.Time) cond  { return cond{"e.timestamp >= ?", []any{t}} }
func before(t time.Time) cond     { return cond{"e.timestamp < ?", []any{t}} }
func atOrBefore(t time.Time) cond { return cond{"e.timestamp <= ?", []any{t}} }

// segmentQuery is what a definition builds its condition from.
type segmentQuery struct {
	now    time.Time // UTC
	params map[string]string
	mysql  bool
}

// exists is true when the contact has an event matching every condition.
func (q *segmentQuery) exists(cs ...cond) cond {
	c := and(cs...)
	return cond{"EXISTS (SELECT 1 FROM events e WHERE e.contact_id = contacts.id AND " + c.sql + ")", c.args}
}

// engagedSince: an engagement in [since, now].
func (q *segmentQuery) engagedSince(since time.Time) cond {
	return q.exists(engagement(), atOrAfter(since), atOrBefore(q.now))
}

// lastEngaged answers an engagement condition from contacts.last_engaged_at
// where it can: fast, for a contact whose last engagement is at or before
// now (or who has none), as nearly every contact's is; fast must hold for
// no other, so the two branches never overlap and each is one index range.
// A contact with an engagement timestamped after now (a client's clock
// ahead, or a segment evaluated in the past) falls back to exact, the
// condition over its events, which ignores the ones after now.
func (q *segmentQuery) lastEngaged(fast, exact cond) cond {
	return or(fast, and(cond{"contacts.last_engaged_at > ?", []any{q.now}}, exact))
}

// lastEngagedIn: the last engagement is in [from, to], to at most now.
func lastEngagedIn(from, to time.Time) cond {
	return cond{"contacts.last_engaged_at >= ? AND contacts.last_engaged_at <= ?", []any{from, to}}
}

// prop is a top-level property of e as text, or NULL when it is absent or
// the properties are not valid JSON. Numbers read as their text (42, 1.5).
// SQLite's json_extract returns the SQL value; MySQL's a JSON value, which
// JSON_UNQUOTE turns into text (MariaDB has no ->> operator). Keys are
// constants of this file, never user input.
func (q *segmentQuery) prop(key string) string {
	if q.mysql {
		return "(CASE WHEN JSON_VALID(e.properties) THEN JSON_UNQUOTE(JSON_EXTRACT(e.properties, '$." + key + "')) END) COLLATE utf8mb4_bin"
	}
	return "(CASE WHEN json_valid(e.properties) THEN CAST(json_extract(e.properties, '$." + key + "') AS TEXT) END)"
}

// propEquals compares a property with a value exactly (case-sensitive on
// both databases).
func (q *segmentQuery) propEquals(key, value string) cond {
	return cond{q.prop(key) + " = ?", []any{value}}
}

// propContains tells whether a property contains a value (case-sensitive;
// instr, not LIKE, so % and _ in the value are plain characters).
func (q *segmentQuery) propContains(key, value string) cond {
	return cond{"INSTR(" + q.prop(key) + ", ?) > 0", []any{value}}
}
