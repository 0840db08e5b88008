package meta_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/ads"
	"github.com/nudgehq/nudge/ads/adstest"
	"github.com/nudgehq/nudge/ads/audience"
	"github.com/nudgehq/nudge/ads/meta"
)

func newClient(t *testing.T) (*meta.Client, *adstest.Meta) {
	t.Helper()
	m := adstest.NewMeta()
	t.Cleanup(m.Close)
	c, err := meta.New(meta.Config{AccessToken: adstest.MetaToken, APIURL: m.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

// Two campaigns, the first with two ad sets, over three days.
func seed(m *adstest.Meta) {
	m.AddStats(
		adstest.MetaStat{Account: "act_42", CampaignID: "100", CampaignName: "Spring", AdSetID: "1001", AdSetName: "Lookalike",
			Date: "2026-11-28", Spend: 10_500_000, Impressions: 1000, Clicks: 30, Purchases: 2, PurchaseValue: 80_000_000},
		adstest.MetaStat{Account: "act_42", CampaignID: "100", CampaignName: "Spring", AdSetID: "1002", AdSetName: "Retarget",
			Date: "2026-11-28", Spend: 4_250_000, Impressions: 500, Clicks: 20, Purchases: 1, PurchaseValue: 19_990_000},
		adstest.MetaStat{Account: "act_42", CampaignID: "200", CampaignName: "Winter", AdSetID: "2001", AdSetName: "Broad",
			Date: "2026-11-28", Spend: 7_000_000, Impressions: 900, Clicks: 9},
		adstest.MetaStat{Account: "act_42", CampaignID: "100", CampaignName: "Spring", AdSetID: "1001", AdSetName: "Lookalike",
			Date: "2026-11-29", Spend: 12_000_000, Impressions: 1100, Clicks: 31, Purchases: 3, PurchaseValue: 120_000_000},
		adstest.MetaStat{Account: "act_42", CampaignID: "200", CampaignName: "Winter", AdSetID: "2001", AdSetName: "Broad",
			Date: "2026-11-29", Spend: 6_000_000, Impressions: 800, Clicks: 8},
		// Outside the range asked, and another account.
		adstest.MetaStat{Account: "act_42", CampaignID: "100", AdSetID: "1001", Date: "2026-11-30", Spend: 1_000_000},
		adstest.MetaStat{Account: "act_7", CampaignID: "900", AdSetID: "9001", Date: "2026-11-28", Spend: 1_000_000},
	)
}

func TestInsightsPerCampaignFollowPaging(t *testing.T) {
	c, m := newClient(t)
	seed(m)
	got, err := c.Insights(context.Background(), "act_42", meta.LevelCampaign, "2026-11-28", "2026-11-29")
	if err != nil {
		t.Fatal(err)
	}
	want := []meta.Insight{
		{Level: meta.LevelCampaign, AccountID: "42", Currency: "USD", CampaignID: "100", CampaignName: "Spring", Date: "2026-11-28",
			Spend: 14_750_000, Impressions: 1500, Clicks: 50, Conversions: 3, ConversionValue: 99_990_000, PurchaseAction: "omni_purchase"},
		{Level: meta.LevelCampaign, AccountID: "42", Currency: "USD", CampaignID: "200", CampaignName: "Winter", Date: "2026-11-28",
			Spend: 7_000_000, Impressions: 900, Clicks: 9},
		{Level: meta.LevelCampaign, AccountID: "42", Currency: "USD", CampaignID: "100", CampaignName: "Spring", Date: "2026-11-29",
			Spend: 12_000_000, Impressions: 1100, Clicks: 31, Conversions: 3, ConversionValue: 120_000_000, PurchaseAction: "omni_purchase"},
		{Level: meta.LevelCampaign, AccountID: "42", Currency: "USD", CampaignID: "200", CampaignName: "Winter", Date: "2026-11-29",
			Spend: 6_000_000, Impressions: 800, Clicks: 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("insights:\n got %+v\nwant %+v", got, want)
	}

	reqs := m.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 pages of 2 rows", len(reqs))
	}
	first := reqs[0]
	if first.Method != "GET" || first.Path != "/v25.0/act_42/insights" {
		t.Errorf("first request = %s %s", first.Method, first.Path)
	}
	wantQuery := url.Values{
		"level":          {"campaign"},
		"time_increment": {"1"},
		"time_range":     {`{"since":"2026-11-28","until":"2026-11-29"}`},
		"fields":         {"account_id,account_currency,campaign_id,campaign_name,spend,impressions,clicks,actions,action_values,date_start,date_stop"},
		"limit":          {"500"},
	}
	if !reflect.DeepEqual(first.Query, wantQuery) {
		t.Errorf("query = %v\nwant %v", first.Query, wantQuery)
	}
	for _, r := range reqs {
		if h := r.Header.Get("Authorization"); h != "Bearer "+adstest.MetaToken {
			t.Errorf("Authorization = %q", h)
		}
		if r.Query.Has("access_token") {
			t.Error("the token went into the URL")
		}
	}
	second := reqs[1]
	if second.Query.Get("after") == "" || second.Query.Get("level") != "campaign" || second.Path != first.Path {
		t.Errorf("second page = %s?%v, want paging.next with an after cursor", second.Path, second.Query)
	}
}

func TestInsightsPerAdSet(t *testing.T) {
	c, m := newClient(t)
	seed(m)
	m.PageSize = 100
	got, err := c.Insights(context.Background(), "act_42", meta.LevelAdSet, "2026-11-28", "2026-11-28")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3 ad sets: %+v", len(got), got)
	}
	want := meta.Insight{Level: meta.LevelAdSet, AccountID: "42", Currency: "USD", CampaignID: "100", CampaignName: "Spring",
		AdSetID: "1002", AdSetName: "Retarget", Date: "2026-11-28", Spend: 4_250_000, Impressions: 500, Clicks: 20,
		Conversions: 1, ConversionValue: 19_990_000, PurchaseAction: "omni_purchase"}
	if got[1] != want {
		t.Errorf("row 2 = %+v\nwant %+v", got[1], want)
	}
	r := m.RequestsTo("/insights")[0]
	if f := r.Query.Get("fields"); !strings.Contains(f, "campaign_name,adset_id,adset_name,spend") || r.Query.Get("level") != "adset" {
		t.Errorf("fields = %q, level = %q", f, r.Query.Get("level"))
	}
}

// Shapes the stand-in does not produce: numbers as JSON numbers, a row
// with only the plain "purchase" type, and a paging link to another host.
func TestInsightsEdgeShapes(t *testing.T) {
	var page string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()
	c, err := meta.New(meta.Config{AccessToken: "t", APIURL: srv.URL + "/v25.0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	page = `{"data":[{"campaign_id":"5","spend":3.5,"impressions":10,"clicks":"1",
		"actions":[{"action_type":"purchase","value":"2"},{"action_type":"offsite_conversion.fb_pixel_purchase","value":"2"}],
		"action_values":[{"action_type":"purchase","value":"45.10"},{"action_type":"offsite_conversion.fb_pixel_purchase","value":"45.10"}],
		"date_start":"2026-11-01","date_stop":"2026-11-01"}]}`
	got, err := c.Insights(ctx, "act_1", meta.LevelCampaign, "2026-11-01", "2026-11-01")
	if err != nil {
		t.Fatal(err)
	}
	want := meta.Insight{Level: meta.LevelCampaign, CampaignID: "5", Date: "2026-11-01", Spend: 3_500_000, Impressions: 10,
		Clicks: 1, Conversions: 2, ConversionValue: 45_100_000, PurchaseAction: "purchase"}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	page = `{"data":[],"paging":{"next":"https://evil.example/v25.0/act_1/insights?after=x"}}`
	if _, err := c.Insights(ctx, "act_1", meta.LevelCampaign, "2026-11-01", "2026-11-01"); err == nil ||
		!strings.Contains(err.Error(), `paging.next "https://evil.example/v25.0/act_1/insights?after=x" is not on 127.0.0.1`) {
		t.Errorf("err = %v, want a refusal to follow another host", err)
	}

	page = `{"data":[{"campaign_id":"5","spend":"1","date_start":"2026-11-01","date_stop":"2026-11-07"}]}`
	if _, err := c.Insights(ctx, "act_1", meta.LevelCampaign, "2026-11-01", "2026-11-07"); err == nil ||
		!strings.Contains(err.Error(), `row for campaign 5 spans "2026-11-01" to "2026-11-07", not one day`) {
		t.Errorf("err = %v", err)
	}

	page = `{"data":[{"campaign_id":"5","spend":"12,50","date_start":"2026-11-01","date_stop":"2026-11-01"}]}`
	if _, err := c.Insights(ctx, "act_1", meta.LevelCampaign, "2026-11-01", "2026-11-01"); err == nil ||
		!strings.Contains(err.Error(), `campaign 5 on 2026-11-01: spend: "12,50" is not an amount`) {
		t.Errorf("err = %v", err)
	}
}

func TestBadArgumentsAreRefusedBeforeSending(t *testing.T) {
	c, m := newClient(t)
	ctx := context.Background()
	insights := func(account string, level meta.Level, since, until string) func() error {
		return func() error { _, err := c.Insights(ctx, account, level, since, until); return err }
	}
	update := func(id string, ch meta.Change) func() error { return func() error { return c.Update(ctx, id, ch) } }
	for _, tc := range []struct {
		call func() error
		want string
	}{
		{insights("42", meta.LevelCampaign, "2026-11-01", "2026-11-02"), `ad account "42" does not start with act_`},
		{insights("act_4/2", meta.LevelCampaign, "2026-11-01", "2026-11-02"), `is not a Meta ID`},
		{insights("act_42", "ad", "2026-11-01", "2026-11-02"), `level "ad" is not campaign or adset`},
		{insights("act_42", meta.LevelAdSet, "11/01/2026", "2026-11-02"), `since "11/01/2026" is not a date`},
		{insights("act_42", meta.LevelAdSet, "2026-11-03", "2026-11-02"), `until 2026-11-02 is before since 2026-11-03`},
		{update("100", meta.Change{Status: "DELETED"}), `status "DELETED": Nudge sets only ACTIVE or PAUSED`},
		{update("100", meta.Change{}), `an update needs a status or a daily budget`},
		{update("../me", meta.Change{Status: meta.Paused}), `object ID "../me" is not a Meta ID`},
		{update("100", meta.Change{DailyBudget: -1}), `daily budget -1 is negative`},
	} {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	if n := len(m.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	if _, err := meta.New(meta.Config{}); err == nil || err.Error() != "meta: no access token" {
		t.Errorf("New without a token: %v", err)
	}
	if _, err := meta.New(meta.Config{AccessToken: "t", APIURL: "graph.facebook.com"}); err == nil ||
		!strings.Contains(err.Error(), `API URL "graph.facebook.com" is not an absolute http(s) URL`) {
		t.Errorf("New with a bad URL: %v", err)
	}
}

func TestReadAndUpdateObjects(t *testing.T) {
	c, m := newClient(t)
	ctx := context.Background()
	m.SetObject(adstest.MetaObject{ID: "100", Name: "Spring", Status: "ACTIVE", DailyBudget: 5000})
	m.SetObject(adstest.MetaObject{ID: "1001", Name: "Lookalike", Status: "ACTIVE"})

	o, err := c.Object(ctx, "100")
	if err != nil {
		t.Fatal(err)
	}
	if want := (meta.Object{ID: "100", Name: "Spring", Status: meta.Active, EffectiveStatus: "ACTIVE", DailyBudget: 5000}); o != want {
		t.Errorf("object = %+v, want %+v", o, want)
	}
	get := m.Requests()[0]
	if get.Method != "GET" || get.Path != "/v25.0/100" || get.Query.Get("fields") != "id,name,status,effective_status,daily_budget" {
		t.Errorf("read = %s %s?%v", get.Method, get.Path, get.Query)
	}

	// A dry run: Meta checks, nothing changes.
	if err := c.Update(ctx, "100", meta.Change{Status: meta.Paused, DailyBudget: 2500, ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	post := m.Requests()[1]
	wantForm := url.Values{"status": {"PAUSED"}, "daily_budget": {"2500"}, "execution_options": {`["validate_only"]`}}
	if post.Method != "POST" || post.Path != "/v25.0/100" || !reflect.DeepEqual(post.Form, wantForm) {
		t.Errorf("update = %s %s %v, want form %v", post.Method, post.Path, post.Form, wantForm)
	}
	if ct := post.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	if o, _ := m.Object("100"); o.Status != "ACTIVE" || o.DailyBudget != 5000 {
		t.Errorf("a validate-only update changed the object: %+v", o)
	}

	if err := c.Update(ctx, "100", meta.Change{Status: meta.Paused, DailyBudget: 2500}); err != nil {
		t.Fatal(err)
	}
	if o, _ := m.Object("100"); o.Status != "PAUSED" || o.DailyBudget != 2500 {
		t.Errorf("after the update: %+v", o)
	}
	if f := m.Requests()[2].Form; f.Has("execution_options") {
		t.Errorf("an applied update sent %v", f)
	}

	// Meta's refusals come back typed, with the words meant for a person.
	err = c.Update(ctx, "100", meta.Change{DailyBudget: 50})
	var me *meta.Error
	if !errors.As(err, &me) || me.Code != 100 || me.UserTitle != "Your Budget Is Too Low" || me.Retryable() {
		t.Fatalf("err = %#v", err)
	}
	if got, want := err.Error(), "meta: POST /100: Invalid parameter (code 100, OAuthException, HTTP 400, fbtrace_id AbCdEfStandIn): Your Budget Is Too Low: The minimum daily budget is 100."; got != want {
		t.Errorf("message:\n got %s\nwant %s", got, want)
	}
	err = c.Update(ctx, "1001", meta.Change{DailyBudget: 5000})
	if !errors.As(err, &me) || me.Subcode != 1885621 {
		t.Errorf("an ad set budget under a campaign budget: %v", err)
	}
	if _, err := c.Object(ctx, "999"); !errors.As(err, &me) || me.Subcode != 33 || ads.Retryable(err) {
		t.Errorf("unknown object: %v", err)
	}
}

func hashes(n int) [][]string {
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = []string{audience.Hash(strings.Repeat("x", i+1) + "@example.com")}
	}
	return rows
}

func TestCustomAudienceUsers(t *testing.T) {
	c, m := newClient(t)
	ctx := context.Background()
	rows := hashes(3)
	s := meta.Session{ID: 7001, BatchSeq: 1, LastBatch: false, EstimatedTotal: 4}
	res, err := c.AddUsers(ctx, "23850000", meta.Users{Schema: []string{meta.SchemaEmailSHA256}, Rows: rows, Session: s})
	if err != nil {
		t.Fatal(err)
	}
	if res.AudienceID != "23850000" || res.SessionID != "7001" || res.Received != 3 || res.Invalid != 0 {
		t.Errorf("result = %+v", res)
	}
	add := m.Requests()[0]
	if add.Method != "POST" || add.Path != "/v25.0/23850000/users" {
		t.Errorf("add = %s %s", add.Method, add.Path)
	}
	var payload struct {
		Schema string   `json:"schema"`
		Data   []string `json:"data"`
	}
	if err := add.FormJSON("payload", &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Schema != "EMAIL_SHA256" || !reflect.DeepEqual(payload.Data, []string{rows[0][0], rows[1][0], rows[2][0]}) {
		t.Errorf("payload = %+v", payload)
	}
	var session map[string]any
	if err := add.FormJSON("session", &session); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"session_id": 7001.0, "batch_seq": 1.0, "last_batch_flag": false, "estimated_num_total": 4.0}; !reflect.DeepEqual(session, want) {
		t.Errorf("session = %v, want %v", session, want)
	}

	// The last batch of the session, then a removal: a DELETE with the
	// same payload in its body.
	s.BatchSeq, s.LastBatch = 2, true
	if _, err := c.AddUsers(ctx, "23850000", meta.Users{Schema: []string{meta.SchemaEmailSHA256}, Rows: hashes(4)[3:], Session: s}); err != nil {
		t.Fatal(err)
	}
	if got := m.Audience("23850000"); len(got) != 4 {
		t.Errorf("audience has %d members, want 4", len(got))
	}
	if _, err := c.RemoveUsers(ctx, "23850000", meta.Users{Schema: []string{meta.SchemaEmailSHA256}, Rows: rows[:2]}); err != nil {
		t.Fatal(err)
	}
	del := m.Requests()[2]
	if del.Method != "DELETE" || del.Path != "/v25.0/23850000/users" || del.Form.Get("payload") == "" || del.Form.Has("session") {
		t.Errorf("remove = %s %s %v", del.Method, del.Path, del.Form)
	}
	if got := m.Audience("23850000"); len(got) != 2 || got[0] == rows[0][0] || got[1] == rows[0][0] {
		t.Errorf("after removal: %v", got)
	}

	// Several keys: a schema list and rows, empty values allowed.
	phone, _ := audience.Meta.HashPhone("+1 555 987 6543")
	if _, err := c.AddUsers(ctx, "23850001", meta.Users{Schema: []string{meta.KeyEmail, meta.KeyPhone},
		Rows: [][]string{{rows[0][0], phone}, {"", phone}}}); err != nil {
		t.Fatal(err)
	}
	var multi struct {
		Schema []string   `json:"schema"`
		Data   [][]string `json:"data"`
	}
	if err := m.Requests()[3].FormJSON("payload", &multi); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(multi.Schema, []string{"EMAIL", "PHONE"}) || !reflect.DeepEqual(multi.Data, [][]string{{rows[0][0], phone}, {"", phone}}) {
		t.Errorf("multi-key payload = %+v", multi)
	}
}

func TestCustomAudienceUsersChecks(t *testing.T) {
	c, m := newClient(t)
	ctx := context.Background()
	email := []string{meta.SchemaEmailSHA256}
	for _, tc := range []struct {
		u    meta.Users
		want string
	}{
		{meta.Users{Schema: email, Rows: hashes(meta.MaxUsersPerRequest + 1)}, "10001 rows; Meta takes at most 10000 per request"},
		{meta.Users{Schema: email, Rows: [][]string{{"mary@example.com"}}}, "row 0: EMAIL_SHA256 is not a SHA-256 hex hash; hash it with audience.Meta"},
		{meta.Users{Schema: []string{meta.KeyEmail, meta.KeyPhone}, Rows: [][]string{{audience.Hash("a")}}}, "row 0 has 1 values for a schema of 2 (EMAIL,PHONE)"},
		{meta.Users{Schema: []string{meta.KeyEmail, meta.KeyPhone}, Rows: [][]string{{"", ""}}}, "row 0 is empty"},
		{meta.Users{Schema: email}, "no rows"},
		{meta.Users{Schema: email, Rows: hashes(1), Session: meta.Session{ID: 5}}, "session batch_seq 0: batches are numbered from 1"},
	} {
		if _, err := c.AddUsers(ctx, "23850000", tc.u); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	if n := len(m.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	// Exactly the limit goes in one request.
	if res, err := c.AddUsers(ctx, "23850000", meta.Users{Schema: email, Rows: hashes(meta.MaxUsersPerRequest)}); err != nil || res.Received != 10_000 {
		t.Errorf("10,000 rows: %+v, %v", res, err)
	}
	if id := meta.NewSessionID(); id <= 0 || id == meta.NewSessionID() {
		t.Errorf("session IDs %d", id)
	}
}

func TestErrorsSayWhetherToRetry(t *testing.T) {
	c, m := newClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		fault     adstest.Fault
		retryable bool
		message   string
	}{
		{adstest.GraphError(400, 17, 2446079, "User request limit reached"), true,
			"meta: GET /act_42/insights: User request limit reached (code 17, subcode 2446079, OAuthException, HTTP 400, fbtrace_id AbCdEfStandIn); Meta is limiting the request rate; try again later"},
		{adstest.GraphError(400, 4, 0, "Application request limit reached"), true, "(code 4,"},
		{adstest.GraphError(400, 32, 0, "Page request limit reached"), true, "(code 32,"},
		{adstest.GraphError(400, 613, 0, "Calls to this api have exceeded the rate limit."), true, "(code 613,"},
		{adstest.GraphError(400, 80004, 2446079, "There have been too many calls to this ad-account."), true, "(code 80004,"},
		{adstest.GraphError(500, 2, 0, "Service temporarily unavailable"), true, "(code 2, OAuthException, HTTP 500"},
		{adstest.HTTPError(502), true, "meta: GET /act_42/insights: answer without a Graph error: <html><body>502 Bad Gateway</body></html> (HTTP 502)"},
		{adstest.HTTPError(429), true, "(HTTP 429)"},
		{adstest.GraphError(400, 100, 0, "Invalid parameter"), false, "Invalid parameter (code 100,"},
		{adstest.GraphError(400, 190, 460, "Error validating access token"), false,
			"(code 190, subcode 460, OAuthException, HTTP 400, fbtrace_id AbCdEfStandIn); the access token is invalid or expired: set a new NUDGE_META_ACCESS_TOKEN"},
		{adstest.GraphError(403, 200, 0, "Permissions error"), false, "the token lacks a permission"},
	} {
		m.Fail(tc.fault.On("/insights"))
		_, err := c.Insights(ctx, "act_42", meta.LevelCampaign, "2026-11-28", "2026-11-29")
		var me *meta.Error
		if !errors.As(err, &me) {
			t.Fatalf("err = %v, want a *meta.Error", err)
		}
		if me.Retryable() != tc.retryable || ads.Retryable(err) != tc.retryable {
			t.Errorf("%s: retryable = %v, want %v", err, me.Retryable(), tc.retryable)
		}
		if !strings.Contains(err.Error(), tc.message) {
			t.Errorf("message:\n got %s\nwant %s", err, tc.message)
		}
	}

	// A wrong token is Meta's code 190, from the stand-in itself.
	bad, _ := meta.New(meta.Config{AccessToken: "expired", APIURL: m.URL})
	if _, err := bad.Object(ctx, "100"); err == nil || !strings.Contains(err.Error(), "code 190") {
		t.Errorf("wrong token: %v", err)
	}

	// No answer at all: retry. A cancelled call: do not.
	m.Close()
	_, err := c.Object(ctx, "100")
	if err == nil || !ads.Retryable(err) || !strings.HasPrefix(err.Error(), "meta: GET /100: ") {
		t.Errorf("server gone: %v (retryable %v)", err, ads.Retryable(err))
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Object(cancelled, "100"); err == nil || ads.Retryable(err) {
		t.Errorf("cancelled: %v (retryable %v)", err, ads.Retryable(err))
	}
}

// A Graph error object in a 200 answer is still an error.
func TestErrorObjectInASuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "Unknown error", "code": 1, "is_transient": true}})
	}))
	defer srv.Close()
	c, _ := meta.New(meta.Config{AccessToken: "t", APIURL: srv.URL})
	err := c.Update(context.Background(), "1", meta.Change{Status: meta.Paused})
	var me *meta.Error
	if !errors.As(err, &me) || !me.Transient || !me.Retryable() || me.HTTPStatus != 200 {
		t.Errorf("err = %#v", err)
	}
}
