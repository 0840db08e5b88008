package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/nudgehq/nudge/models"
)

// segNow is the moment segments are evaluated at in these tests.
var segNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// ago is a moment before segNow.
func ago(d time.Duration) time.Time { return segNow.Add(-d) }

// seeder writes contacts and events straight into the tables, at chosen
// times.
type seeder struct {
	t *testing.T
	s *models.Store
	n int
}

func (sd *seeder) contact(id, stage string, created time.Time) {
	sd.t.Helper()
	c := &models.Contact{ID: id, LifecycleStage: stage, CreatedAt: created.UTC(), Traits: map[string]any{}}
	if err := sd.s.SaveContact(context.Background(), c); err != nil {
		sd.t.Fatal(err)
	}
}

func (sd *seeder) event(contactID, kind, name string, at time.Time, props map[string]any) uint64 {
	sd.t.Helper()
	sd.n++
	ev := &models.Event{
		MessageID: fmt.Sprintf("seg-%d", sd.n), ContactID: contactID, Kind: kind, Name: name,
		Properties: props, Timestamp: at.UTC(), ReceivedAt: at.UTC(), Status: models.EventDelivered,
	}
	if err := sd.s.DB().Create(ev).Error; err != nil {
		sd.t.Fatal(err)
	}
	return ev.ID
}

func (sd *seeder) track(contactID, name string, at time.Time, props map[string]any) uint64 {
	return sd.event(contactID, "track", name, at, props)
}

func (sd *seeder) page(contactID, name string, at time.Time, props map[string]any) uint64 {
	return sd.event(contactID, "page", name, at, props)
}

// members lists a segment's contact IDs, and checks that InSegment agrees
// for every contact in ids.
func members(t *testing.T, s *models.Store, name string, params map[string]string, all []string) []string {
	t.Helper()
	ctx := context.Background()
	cs, total, err := s.SegmentContacts(ctx, name, params, segNow, 0, 0)
	if err != nil {
		t.Fatalf("SegmentContacts(%s, %v): %v", name, params, err)
	}
	got := []string{}
	for _, c := range cs {
		got = append(got, c.ID)
	}
	if total != int64(len(got)) {
		t.Errorf("%s %v: total %d, but %d contacts listed", name, params, total, len(got))
	}
	for _, id := range all {
		in, err := s.InSegment(ctx, id, name, params, segNow)
		if err != nil {
			t.Fatalf("InSegment(%s, %s): %v", id, name, err)
		}
		if in != slices.Contains(got, id) {
			t.Errorf("InSegment(%s, %s %v) = %v, but the listing says otherwise (%v)", id, name, params, in, got)
		}
	}
	return got
}

func expectSegments(t *testing.T, s *models.Store, all []string, want map[string][]string) {
	t.Helper()
	for key, ids := range want {
		name, param, _ := strings.Cut(key, " ")
		var params map[string]string
		if param != "" {
			k, v, _ := strings.Cut(param, "=")
			params = map[string]string{k: v}
		}
		got := members(t, s, name, params, all)
		if ids == nil {
			ids = []string{}
		}
		if !slices.Equal(got, ids) {
			t.Errorf("segment %s: %v, want %v", key, got, ids)
		}
	}
}

func TestEngagementSegments(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		sd := &seeder{t: t, s: s}
		old := ago(400 * day)
		for _, id := range []string{"a_29d23h", "b_30d", "c_30d1h", "d_60d", "e_60d1h", "h_mixed", "i_other_events", "j_future_only", "k_identify"} {
			sd.contact(id, models.StageSubscriber, old)
		}
		sd.contact("f_none_61d", models.StageSubscriber, ago(61*day))
		sd.contact("g_none_59d", models.StageSubscriber, ago(59*day))
		sd.contact("l_none_60d", models.StageSubscriber, ago(60*day)) // created exactly 60 days ago: not yet dormant

		sd.track("a_29d23h", "Email Opened", ago(29*day+23*time.Hour), nil)
		sd.page("b_30d", "Pricing", ago(30*day), nil) // exactly 30 days: still active
		sd.track("c_30d1h", "Email Link Clicked", ago(30*day+time.Hour), nil)
		sd.track("d_60d", "Email Opened", ago(60*day), nil) // exactly 60 days: still at risk
		sd.page("e_60d1h", "", ago(60*day+time.Hour), nil)
		sd.track("h_mixed", "Email Opened", ago(90*day), nil)
		sd.track("h_mixed", "Email Opened", ago(45*day), nil)
		sd.page("h_mixed", "Docs", ago(10*day), nil)
		// Events that are not engagements: any other track call.
		sd.track("i_other_events", "Signed Up", ago(2*day), nil)
		sd.track("i_other_events", "Email Bounced", ago(2*day), nil)
		sd.event("k_identify", "identify", "", ago(day), nil)
		// Only an engagement after now: as of now, it has none.
		sd.track("j_future_only", "Email Opened", segNow.Add(time.Hour), nil)

		all := []string{"a_29d23h", "b_30d", "c_30d1h", "d_60d", "e_60d1h", "f_none_61d", "g_none_59d", "h_mixed", "i_other_events", "j_future_only", "k_identify", "l_none_60d"}
		expectSegments(t, s, all, map[string][]string{
			"active":  {"a_29d23h", "b_30d", "h_mixed"},
			"at_risk": {"c_30d1h", "d_60d"},
			"dormant": {"e_60d1h", "f_none_61d", "i_other_events", "j_future_only", "k_identify"},
		})

		// An hour later, the 30-day boundary has moved past b_30d.
		ctx := context.Background()
		if in, _ := s.InSegment(ctx, "b_30d", "at_risk", nil, segNow.Add(time.Hour)); !in {
			t.Error("b_30d is not at risk an hour after its 30 days")
		}
		if in, _ := s.InSegment(ctx, "l_none_60d", "dormant", nil, segNow.Add(time.Second)); !in {
			t.Error("l_none_60d is not dormant a second after 60 days")
		}
		// And seen from before its open, a contact has not opened yet.
		if in, _ := s.InSegment(ctx, "a_29d23h", "dormant", nil, ago(30*day)); !in {
			t.Error("a_29d23h should be dormant before its only open (created 400 days ago)")
		}
	})
}

func TestFunnelSegments(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		sd := &seeder{t: t, s: s}
		created := ago(100 * day)
		for id, stage := range map[string]string{
			"sub1": models.StageSubscriber, "sub_nostage": "", "sub_engaged": models.StageSubscriber,
			"lead_engaged": models.StageLead, "lead_idle": models.StageLead, "lead_lapsed": models.StageLead,
			"mql_engaged": models.StageMQL, "mql_lapsed": models.StageMQL, "sql_engaged": models.StageSQL,
			"trial1": models.StageTrial, "cust1": models.StageCustomer, "cust2": models.StageCustomer,
			"churned1": models.StageChurned,
		} {
			sd.contact(id, stage, created)
		}
		sd.track("sub_engaged", "Email Opened", ago(day), nil)
		sd.track("lead_engaged", "Email Link Clicked", ago(29*day+23*time.Hour), nil)
		sd.track("lead_lapsed", "Email Opened", ago(30*day+time.Hour), nil)
		sd.track("lead_idle", "Signed Up", ago(day), nil) // not an engagement
		sd.page("mql_engaged", "Pricing", ago(3*day), nil)
		sd.page("mql_lapsed", "Pricing", ago(40*day), nil)
		sd.track("sql_engaged", "Email Opened", ago(time.Hour), nil)
		sd.track("trial1", "Email Opened", ago(time.Hour), nil)

		all := []string{"churned1", "cust1", "cust2", "lead_engaged", "lead_idle", "lead_lapsed", "mql_engaged", "mql_lapsed", "sql_engaged", "sub1", "sub_engaged", "sub_nostage", "trial1"}
		expectSegments(t, s, all, map[string][]string{
			"new_subscriber":  {"sub1", "sub_engaged", "sub_nostage"},
			"active_lead":     {"lead_engaged", "mql_engaged", "sql_engaged"},
			"trial_user":      {"trial1"},
			"paying_customer": {"cust1", "cust2"},
			"churned":         {"churned1"},
		})
	})
}

func TestBehaviourSegments(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		sd := &seeder{t: t, s: s}
		ids := []string{"p_name", "p_path", "p_url", "p_case", "p_track", "p_future", "p_percent", "p_number",
			"d_type", "d_id", "d_num", "d_bad_json", "d_other_event",
			"f_reports", "f_case", "f_none",
			"n_signed", "n_done", "n_setup_only", "n_done_later", "n_twice"}
		for _, id := range ids {
			sd.contact(id, models.StageLead, ago(10*day))
		}
		// Pages.
		sd.page("p_name", "Pricing", ago(day), map[string]any{"path": "/plans", "url": "https://acme.example/plans"})
		sd.page("p_path", "", ago(day), map[string]any{"path": "/pricing/enterprise"})
		sd.page("p_url", "", ago(80*day), map[string]any{"url": "https://acme.example/pricing?plan=pro"})
		sd.page("p_case", "", ago(day), map[string]any{"path": "/Pricing"})
		sd.track("p_track", "Page Viewed", ago(day), map[string]any{"path": "/pricing"}) // a track call, not a page
		sd.page("p_future", "", segNow.Add(time.Minute), map[string]any{"path": "/pricing"})
		sd.page("p_percent", "", ago(day), map[string]any{"path": "/sale/100%_off"})
		sd.page("p_number", "", ago(day), map[string]any{"path": 404.0})
		// Downloads.
		sd.track("d_type", "Content Downloaded", ago(day), map[string]any{"content_type": "case_study", "content_id": "acme-story"})
		sd.track("d_id", "Content Downloaded", ago(day), map[string]any{"content_type": "guide", "content_id": "roi-guide"})
		sd.track("d_num", "Content Downloaded", ago(day), map[string]any{"content_id": 42.0})
		bad := sd.track("d_bad_json", "Content Downloaded", ago(day), map[string]any{"content_type": "case_study"})
		if err := s.DB().Exec("UPDATE events SET properties = ? WHERE id = ?", `{"content_type": "case_study"`, bad).Error; err != nil {
			t.Fatal(err)
		}
		sd.track("d_other_event", "Content Viewed", ago(day), map[string]any{"content_type": "case_study"})
		// Features.
		sd.track("f_reports", "Feature Used", ago(day), map[string]any{"feature": "reports"})
		sd.track("f_case", "Feature Used", ago(day), map[string]any{"feature": "Reports"})
		sd.track("f_none", "Feature Used", ago(day), nil)
		// Onboarding.
		sd.track("n_signed", "Signed Up", ago(5*day), nil)
		sd.track("n_done", "Signed Up", ago(5*day), nil)
		sd.track("n_done", "Setup Completed", ago(4*day), nil)
		sd.track("n_setup_only", "Setup Completed", ago(4*day), nil)
		sd.track("n_done_later", "Signed Up", ago(5*day), nil)
		sd.track("n_done_later", "Setup Completed", segNow.Add(time.Hour), nil)
		sd.track("n_twice", "Signed Up", ago(5*day), nil)
		sd.track("n_twice", "Signed Up", ago(4*day), nil)

		slices.Sort(ids)
		expectSegments(t, s, ids, map[string][]string{
			"visited_page page=/pricing":            {"p_path", "p_url"},
			"visited_page page=Pricing":             {"p_case", "p_name"}, // the name, or part of the path
			"visited_page page=acme.example":        {"p_name", "p_url"},
			"visited_page page=100%_off":            {"p_percent"},
			"visited_page page=1%0_off":             nil, // % is a plain character, not a wildcard
			"visited_page page=/sale/100_%":         nil,
			"visited_page page=40":                  {"p_number"},
			"downloaded_content content=case_study": {"d_type"},
			"downloaded_content content=roi-guide":  {"d_id"},
			"downloaded_content content=42":         {"d_num"},
			"downloaded_content content=Case_Study": nil,
			"used_feature feature=reports":          {"f_reports"},
			"used_feature feature=Reports":          {"f_case"},
			"used_feature feature=report":           nil,
			"not_onboarded":                         {"n_done_later", "n_signed", "n_twice"},
		})
	})
}

func TestSegmentPaging(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		sd := &seeder{t: t, s: s}
		// Byte order: upper case sorts before lower case on both databases.
		for _, id := range []string{"c05", "c01", "Zed", "c03", "c02", "c06", "abe", "c04"} {
			sd.contact(id, models.StageTrial, ago(day))
		}
		sd.contact("other", models.StageCustomer, ago(day))
		ctx := context.Background()
		page := func(limit, offset int) string {
			cs, total, err := s.SegmentContacts(ctx, "trial_user", nil, segNow, limit, offset)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.ID)
			}
			return fmt.Sprintf("%d %v", total, got)
		}
		for _, tc := range []struct {
			limit, offset int
			want          string
		}{
			{3, 0, "8 [Zed abe c01]"},
			{3, 3, "8 [c02 c03 c04]"},
			{3, 6, "8 [c05 c06]"},
			{3, 8, "8 []"},
			{3, 100, "8 []"},
			{0, 0, "8 [Zed abe c01 c02 c03 c04 c05 c06]"},
			{0, 5, "8 [c04 c05 c06]"},
			{1, 7, "8 [c06]"},
		} {
			if got := page(tc.limit, tc.offset); got != tc.want {
				t.Errorf("limit %d offset %d: %s, want %s", tc.limit, tc.offset, got, tc.want)
			}
		}
		cs, total, err := s.SegmentContacts(ctx, "churned", nil, segNow, 10, 0)
		if err != nil || total != 0 || cs == nil || len(cs) != 0 {
			t.Errorf("empty segment: %v %d %v; want an empty, non-nil list", cs, total, err)
		}
	})
}

func TestSegmentQueryAsSubquery(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		sd := &seeder{t: t, s: s}
		sd.contact("u1", models.StageLead, ago(day))
		sd.contact("u2", models.StageLead, ago(day))
		sd.track("u1", "Feature Used", ago(time.Hour), map[string]any{"feature": "export"})
		sd.track("u1", "Feature Used", ago(time.Hour), map[string]any{"feature": "import"})
		sd.track("u2", "Feature Used", ago(time.Hour), map[string]any{"feature": "import"})
		q, err := s.SegmentQuery(context.Background(), "used_feature", map[string]string{"feature": "export"}, segNow)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := s.DB().Model(&models.Event{}).Where("contact_id IN (?)", q).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("%d events of contacts who used export, want 2", n)
		}
	})
}

func TestSegmentErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, _, err := s.SegmentContacts(ctx, "vip", nil, segNow, 10, 0)
		var unknown *models.UnknownSegmentError
		if !errors.As(err, &unknown) || unknown.Name != "vip" || !strings.HasPrefix(err.Error(), `no segment "vip"; the segments are active, at_risk, dormant`) {
			t.Errorf("unknown segment: %v", err)
		}
		if _, err := s.InSegment(ctx, "u1", "vip", nil, segNow); !errors.As(err, &unknown) {
			t.Errorf("InSegment on an unknown segment: %v", err)
		}
		for _, tc := range []struct {
			segment string
			params  map[string]string
			param   string
			msg     string
		}{
			{"visited_page", nil, "page", `segment visited_page: parameter "page" is required: a page name (Pricing), or part of its path or URL (/pricing)`},
			{"visited_page", map[string]string{"page": " "}, "page", `segment visited_page: parameter "page" is empty: a page name (Pricing), or part of its path or URL (/pricing)`},
			{"visited_page", map[string]string{"page": "/pricing", "path": "/x"}, "path", `segment visited_page: parameter "path" is not a parameter of this segment, which takes only page`},
			{"active", map[string]string{"days": "7", "b": "1"}, "b", `segment active: parameter "b" is not a parameter of this segment, which takes no parameters`},
			{"used_feature", map[string]string{}, "feature", `segment used_feature: parameter "feature" is required: the feature's name, as the app sends it in properties.feature`},
		} {
			_, _, err := s.SegmentContacts(ctx, tc.segment, tc.params, segNow, 10, 0)
			var pe *models.SegmentParamError
			if !errors.As(err, &pe) || pe.Param != tc.param || err.Error() != tc.msg {
				t.Errorf("%s %v: %v", tc.segment, tc.params, err)
			}
			if _, err := s.InSegment(ctx, "u1", tc.segment, tc.params, segNow); !errors.As(err, &pe) {
				t.Errorf("InSegment %s %v: %v", tc.segment, tc.params, err)
			}
		}
		// A contact that does not exist is in no segment.
		if in, err := s.InSegment(ctx, "nobody", "new_subscriber", nil, segNow); in || err != nil {
			t.Errorf("unknown contact: %v, %v", in, err)
		}
	})
}

func TestSegmentsList(t *testing.T) {
	var names []string
	for _, s := range models.Segments() {
		names = append(names, s.Name)
		if s.Description == "" || s.Params == nil || s.Group == "" {
			t.Errorf("segment %+v lacks a description, group or params list", s)
		}
	}
	want := "active at_risk dormant new_subscriber active_lead trial_user paying_customer churned visited_page downloaded_content used_feature not_onboarded retarget"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("segments %s, want %s", got, want)
	}
	// The list is a copy: changing it changes no definition.
	models.Segments()[8].Params[0].Name = "changed"
	if info, _ := models.LookupSegment("visited_page"); info.Params[0].Name != "page" {
		t.Errorf("the registry was changed through Segments(): %+v", info)
	}
}

// TestLastEngagementFollowsEvents: contacts.last_engaged_at, which the
// engagement segments read, follows every way an event is stored: Accept for
// a new contact, events held for an anonymous visitor until they identify,
// an older event arriving late, and events stored before the column existed.
func TestLastEngagementFollowsEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		last := func(id string) string {
			t.Helper()
			c, err := s.Contact(ctx, id)
			if err != nil {
				t.Fatalf("contact %s: %v", id, err)
			}
			if c.LastEngagedAt == nil {
				return "none"
			}
			return c.LastEngagedAt.UTC().Format(time.RFC3339)
		}
		at := func(in models.Incoming, ts time.Time) models.Incoming { in.Timestamp = ts; return in }
		page := func(messageID, userID, anonymousID string, ts time.Time) models.Incoming {
			in := track(messageID, userID, anonymousID, "")
			in.Kind, in.Timestamp = "page", ts
			return in
		}
		accept := func(calls ...models.Incoming) {
			t.Helper()
			if _, err := s.Accept(ctx, calls, models.Lease{}); err != nil {
				t.Fatal(err)
			}
		}

		// A contact's first call is an open: the contact is created and
		// engaged in one request.
		accept(at(track("o1", "new1", "", "Email Opened"), ago(5*day)))
		if got := last("new1"); got != "2026-02-24T12:00:00Z" {
			t.Errorf("after an open 5 days ago: %s", got)
		}
		// A later click moves it; an older page view sent late and a
		// non-engagement event do not.
		accept(at(track("o2", "new1", "", "Email Link Clicked"), ago(2*day)), page("o3", "new1", "", ago(20*day)),
			at(track("o4", "new1", "", "Signed Up"), ago(day)))
		if got := last("new1"); got != "2026-02-27T12:00:00Z" {
			t.Errorf("after a click 2 days ago, then older and other events: %s", got)
		}

		// Pages viewed before signing in count once the visitor is known.
		accept(page("a1", "", "anon-7", ago(40*day)), page("a2", "", "anon-7", ago(35*day)))
		accept(at(track("a3", "known7", "anon-7", "Signed Up"), ago(34*day)))
		if got := last("known7"); got != "2026-01-25T12:00:00Z" {
			t.Errorf("after held page views are linked: %s", got)
		}
		if in, _ := s.InSegment(ctx, "known7", "at_risk", nil, segNow); !in {
			t.Error("known7 (last page view 35 days ago) is not at risk")
		}

		// A contact with an engagement in the window and one timestamped
		// after now is active, from the exact count.
		sd := &seeder{t: t, s: s}
		sd.contact("mixed", models.StageSubscriber, ago(100*day))
		sd.track("mixed", "Email Opened", ago(10*day), nil)
		sd.track("mixed", "Email Opened", segNow.Add(48*time.Hour), nil)
		if got := last("mixed"); got != "2026-03-03T12:00:00Z" {
			t.Errorf("mixed: %s", got)
		}
		for seg, want := range map[string]bool{"active": true, "at_risk": false, "dormant": false} {
			if in, _ := s.InSegment(ctx, "mixed", seg, nil, segNow); in != want {
				t.Errorf("mixed in %s: %v, want %v", seg, in, want)
			}
		}

		// Events from before the column: Migrate fills it in, once.
		sd.contact("old1", models.StageSubscriber, ago(100*day))
		err := s.DB().Session(&gorm.Session{SkipHooks: true}).Create(&models.Event{MessageID: "old-e1", ContactID: "old1", Kind: "page",
			Timestamp: ago(70 * day), ReceivedAt: ago(70 * day), Status: models.EventDelivered}).Error
		if err != nil {
			t.Fatal(err)
		}
		if got := last("old1"); got != "none" {
			t.Fatalf("old1 before the backfill: %s", got)
		}
		if err := s.DB().Where("name = ?", "contacts_last_engaged_at").Delete(&models.Setting{}).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if got := last("old1"); got != "2025-12-21T12:00:00Z" {
			t.Errorf("old1 after the backfill: %s", got)
		}
		if got := last("new1"); got != "2026-02-27T12:00:00Z" {
			t.Errorf("new1 after the backfill: %s", got)
		}
		if in, _ := s.InSegment(ctx, "old1", "dormant", nil, segNow); !in {
			t.Error("old1 (last page view 70 days ago) is not dormant")
		}
	})
}

// A contact marked unengaged (win-back's end) who engages again, by an
// open, a click, a page view or a preference change after the marking, is
// unengaged no more; one older event arriving late, or a non-engagement
// event, changes nothing.
func TestEngagingAgainClearsUnengaged(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		unengaged := func(id string) bool {
			t.Helper()
			c, err := s.Contact(ctx, id)
			require.NoError(t, err)
			return c.UnengagedAt != nil
		}
		accept := func(in models.Incoming, ts time.Time) {
			t.Helper()
			in.Timestamp = ts
			_, err := s.Accept(ctx, []models.Incoming{in}, models.Lease{})
			require.NoError(t, err)
		}
		page := func(messageID, userID string) models.Incoming {
			in := track(messageID, userID, "", "")
			in.Kind = "page"
			return in
		}
		for i, engage := range []func(id string){
			func(id string) { accept(track("open-"+id, id, "", "Email Opened"), ago(day)) },
			func(id string) { accept(track("click-"+id, id, "", "Email Link Clicked"), ago(day)) },
			func(id string) { accept(page("page-"+id, id), ago(day)) },
			func(id string) { accept(track("prefs-"+id, id, "", "Preferences Updated"), ago(day)) },
		} {
			id := fmt.Sprintf("lapsed%d", i)
			accept(track("first-"+id, id, "", "Signed Up"), ago(90*day))
			require.NoError(t, s.MarkUnengaged(ctx, id, ago(3*day)))
			accept(track("late-"+id, id, "", "Email Opened"), ago(5*day)) // before the marking
			accept(track("other-"+id, id, "", "Feature Used"), ago(day))
			require.True(t, unengaged(id), "%s: an open from before the marking and a non-engagement event leave it unengaged", id)
			engage(id)
			assert.False(t, unengaged(id), "%s engaged again after the marking", id)
		}
	})
}
