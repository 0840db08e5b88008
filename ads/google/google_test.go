package google_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/ads"
	"github.com/nudgehq/nudge/ads/adstest"
	"github.com/nudgehq/nudge/ads/audience"
	"github.com/nudgehq/nudge/ads/google"
)

const login = "9876543210"

func oauth(g *adstest.Google) google.OAuth {
	return google.OAuth{ClientID: adstest.GoogleClientID, ClientSecret: adstest.GoogleClientSecret,
		RefreshToken: adstest.GoogleRefreshToken, TokenURL: g.TokenURL}
}

func newClient(t *testing.T) (*google.Client, *adstest.Google) {
	t.Helper()
	g := adstest.NewGoogle()
	t.Cleanup(g.Close)
	g.LoginCustomerID = login
	c, err := google.New(google.Config{
		DeveloperToken: adstest.GoogleDeveloperToken, CustomerID: adstest.GoogleCustomerID, LoginCustomerID: login,
		APIURL: g.AdsURL, Tokens: oauth(g).TokenSource(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, g
}

func seed(g *adstest.Google) {
	g.AddCampaign(adstest.GoogleCampaign{ID: "11", Name: "Search brand", Status: "ENABLED", BudgetID: "501", Budget: 50_000_000})
	g.AddCampaign(adstest.GoogleCampaign{ID: "12", Name: "PMax", Status: "ENABLED", BudgetID: "502", Budget: 20_000_000})
	g.AddStats(
		adstest.GoogleStat{CampaignID: "12", Date: "2026-11-28", Cost: 9_870_000, Impressions: 4000, Clicks: 40, Conversions: 1.5, ConversionValue: 75_250_000},
		adstest.GoogleStat{CampaignID: "11", Date: "2026-11-28", Cost: 12_340_000, Impressions: 1000, Clicks: 50, Conversions: 2, ConversionValue: 150_000_000},
		adstest.GoogleStat{CampaignID: "11", Date: "2026-11-29", Cost: 11_000_000, Impressions: 900, Clicks: 45},
		adstest.GoogleStat{CampaignID: "12", Date: "2026-11-29", Cost: 8_000_000, Impressions: 3500, Clicks: 30, Conversions: 0.3, ConversionValue: 10_000_000},
		adstest.GoogleStat{CampaignID: "11", Date: "2026-11-30", Cost: 10_000_000, Impressions: 800, Clicks: 40},
		adstest.GoogleStat{CampaignID: "11", Date: "2026-11-27", Cost: 1, Impressions: 1},
	)
}

func TestCampaignStatsReadsEveryBatch(t *testing.T) {
	c, g := newClient(t)
	seed(g)
	got, err := c.CampaignStats(context.Background(), "2026-11-28", "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	brand := func(date string, cost ads.Micros, imp, clicks int64, conv float64, value ads.Micros) google.CampaignDay {
		return google.CampaignDay{Date: date, CampaignID: "11", CampaignName: "Search brand", Status: "ENABLED", BudgetID: "501",
			BudgetAmount: 50_000_000, Cost: cost, Impressions: imp, Clicks: clicks, Conversions: conv, ConversionValue: value}
	}
	pmax := func(date string, cost ads.Micros, imp, clicks int64, conv float64, value ads.Micros) google.CampaignDay {
		return google.CampaignDay{Date: date, CampaignID: "12", CampaignName: "PMax", Status: "ENABLED", BudgetID: "502",
			BudgetAmount: 20_000_000, Cost: cost, Impressions: imp, Clicks: clicks, Conversions: conv, ConversionValue: value}
	}
	want := []google.CampaignDay{
		brand("2026-11-28", 12_340_000, 1000, 50, 2, 150_000_000),
		pmax("2026-11-28", 9_870_000, 4000, 40, 1.5, 75_250_000),
		brand("2026-11-29", 11_000_000, 900, 45, 0, 0),
		pmax("2026-11-29", 8_000_000, 3500, 30, 0.3, 10_000_000),
		brand("2026-11-30", 10_000_000, 800, 40, 0, 0),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats:\n got %+v\nwant %+v", got, want)
	}

	// One token refresh, then one searchStream request whose answer came
	// in three batches of at most two rows.
	reqs := g.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want a token refresh and one search", len(reqs))
	}
	tok := reqs[0]
	wantForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {adstest.GoogleRefreshToken},
		"client_id": {adstest.GoogleClientID}, "client_secret": {adstest.GoogleClientSecret}}
	if tok.Path != "/token" || !reflect.DeepEqual(tok.Form, wantForm) {
		t.Errorf("token request = %s %v\nwant form %v", tok.Path, tok.Form, wantForm)
	}
	s := reqs[1]
	if s.Method != "POST" || s.Path != "/v26/customers/1234567890/googleAds:searchStream" {
		t.Errorf("search = %s %s", s.Method, s.Path)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer ya29.standin-1", "Developer-Token": adstest.GoogleDeveloperToken,
		"Login-Customer-Id": login, "Content-Type": "application/json",
	} {
		if got := s.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	wantQuery := "SELECT segments.date, campaign.id, campaign.name, campaign.status, campaign.campaign_budget, " +
		"campaign_budget.amount_micros, metrics.cost_micros, metrics.impressions, metrics.clicks, " +
		"metrics.conversions, metrics.conversions_value FROM campaign " +
		"WHERE segments.date BETWEEN '2026-11-28' AND '2026-11-30' ORDER BY segments.date, campaign.id"
	if !reflect.DeepEqual(s.JSON, map[string]any{"query": wantQuery}) {
		t.Errorf("body = %v\nwant query %s", s.JSON, wantQuery)
	}

	// The same token serves the next call.
	if _, err := c.CampaignStats(context.Background(), "2026-11-28", "2026-11-28"); err != nil {
		t.Fatal(err)
	}
	if issued := g.Issued(); len(issued) != 1 {
		t.Errorf("tokens issued: %v, want one reused", issued)
	}
	if got, err := c.CampaignStats(context.Background(), "2026-12-01", "2026-12-02"); err != nil || len(got) != 0 {
		t.Errorf("no rows: %v, %v", got, err)
	}
}

func TestExpiredTokensAreRefreshed(t *testing.T) {
	c, g := newClient(t)
	seed(g)
	// Shorter than oauth2's 10 s margin: every call needs a new token.
	g.TokenLifetime = 5 * time.Second
	ctx := context.Background()
	for range 2 {
		if _, err := c.CampaignStats(ctx, "2026-11-28", "2026-11-28"); err != nil {
			t.Fatal(err)
		}
	}
	searches := g.RequestsTo(":searchStream")
	if got := []string{searches[0].Header.Get("Authorization"), searches[1].Header.Get("Authorization")}; !reflect.DeepEqual(got,
		[]string{"Bearer ya29.standin-1", "Bearer ya29.standin-2"}) {
		t.Errorf("bearer headers = %v", got)
	}
	if n := len(g.RequestsTo("/token")); n != 2 {
		t.Errorf("%d refreshes, want 2", n)
	}

	// A token Google ended early is refused, typed and final.
	g.TokenLifetime = time.Hour
	if _, err := c.CampaignStats(ctx, "2026-11-28", "2026-11-28"); err != nil {
		t.Fatal(err)
	}
	g.ExpireTokens()
	_, err := c.CampaignStats(ctx, "2026-11-28", "2026-11-28")
	var ge *google.Error
	if !errors.As(err, &ge) || ge.Status != "UNAUTHENTICATED" || ge.HTTPStatus != 401 || ge.Retryable() ||
		!strings.Contains(err.Error(), "check NUDGE_GOOGLE_OAUTH_*") {
		t.Errorf("expired token: %v", err)
	}
}

func TestRefusedRefreshToken(t *testing.T) {
	g := adstest.NewGoogle()
	defer g.Close()
	o := oauth(g)
	o.RefreshToken = "revoked"
	c, err := google.New(google.Config{DeveloperToken: "d", CustomerID: adstest.GoogleCustomerID, APIURL: g.AdsURL, Tokens: o.TokenSource(nil)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SetCampaignStatus(context.Background(), "11", google.Paused, false)
	var ge *google.Error
	if !errors.As(err, &ge) || ge.Status != "invalid_grant" || ge.HTTPStatus != 400 || ads.Retryable(err) {
		t.Fatalf("err = %#v", err)
	}
	want := "google: refresh OAuth access token: Token has been expired or revoked. (invalid_grant, HTTP 400); " +
		"the refresh token was revoked or has expired: make a new one and set NUDGE_GOOGLE_OAUTH_REFRESH_TOKEN"
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
	if n := len(g.RequestsTo(":mutate")); n != 0 {
		t.Errorf("%d mutations sent without a token", n)
	}

	o = oauth(g)
	o.ClientSecret = "wrong"
	c, _ = google.New(google.Config{DeveloperToken: "d", CustomerID: adstest.GoogleCustomerID, APIURL: g.AdsURL, Tokens: o.TokenSource(nil)})
	if _, err := c.SetCampaignStatus(context.Background(), "11", google.Paused, false); err == nil ||
		!strings.Contains(err.Error(), "(invalid_client, HTTP 401); Google does not accept the OAuth client") {
		t.Errorf("wrong client secret: %v", err)
	}
}

func TestSetCampaignStatus(t *testing.T) {
	c, g := newClient(t)
	seed(g)
	ctx := context.Background()
	m, err := c.SetCampaignStatus(ctx, "11", google.Paused, true)
	if err != nil {
		t.Fatal(err)
	}
	if m.ResourceName != "" || m.RequestID == "" {
		t.Errorf("validate-only answer = %+v", m)
	}
	if camp, _ := g.Campaign("11"); camp.Status != "ENABLED" {
		t.Errorf("a validate-only change paused the campaign")
	}
	r := g.RequestsTo(":mutate")[0]
	if r.Path != "/v26/customers/1234567890/campaigns:mutate" || r.Header.Get("Developer-Token") != adstest.GoogleDeveloperToken {
		t.Errorf("request = %s %v", r.Path, r.Header)
	}
	want := map[string]any{
		"operations": []any{map[string]any{
			"updateMask": "status",
			"update":     map[string]any{"resourceName": "customers/1234567890/campaigns/11", "status": "PAUSED"},
		}},
		"validateOnly": true,
	}
	if !reflect.DeepEqual(r.JSON, want) {
		t.Errorf("body = %v\nwant %v", r.JSON, want)
	}

	m, err = c.SetCampaignStatus(ctx, "11", google.Paused, false)
	if err != nil || m.ResourceName != "customers/1234567890/campaigns/11" {
		t.Fatalf("apply = %+v, %v", m, err)
	}
	if camp, _ := g.Campaign("11"); camp.Status != "PAUSED" {
		t.Errorf("status = %s after the change", camp.Status)
	}
	if v := g.RequestsTo(":mutate")[1].JSON.(map[string]any)["validateOnly"]; v != false {
		t.Errorf("validateOnly = %v when applying", v)
	}

	_, err = c.SetCampaignStatus(ctx, "99", google.Enabled, false)
	var ge *google.Error
	if !errors.As(err, &ge) || ge.Retryable() || len(ge.Failures) != 1 ||
		ge.Failures[0] != (google.Failure{Code: "mutateError: RESOURCE_NOT_FOUND", Message: "Resource was not found.", Field: "operations[0].update.resource_name"}) {
		t.Errorf("unknown campaign: %#v", err)
	}
	if _, err := c.SetCampaignStatus(ctx, "11", "REMOVED", false); err == nil || !strings.Contains(err.Error(), `campaign status "REMOVED": Nudge sets only ENABLED or PAUSED`) {
		t.Errorf("REMOVED: %v", err)
	}
	if _, err := c.SetCampaignStatus(ctx, "customers/1/campaigns/11", google.Paused, false); err == nil ||
		!strings.Contains(err.Error(), `campaign ID "customers/1/campaigns/11" is not a Google Ads ID`) {
		t.Errorf("resource name as ID: %v", err)
	}
}

func TestSetBudget(t *testing.T) {
	c, g := newClient(t)
	seed(g)
	ctx := context.Background()
	if _, err := c.SetBudget(ctx, "501", 60_000_000, true); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"operations": []any{map[string]any{
			"updateMask": "amountMicros",
			"update":     map[string]any{"resourceName": "customers/1234567890/campaignBudgets/501", "amountMicros": "60000000"},
		}},
		"validateOnly": true,
	}
	r := g.RequestsTo(":mutate")[0]
	if r.Path != "/v26/customers/1234567890/campaignBudgets:mutate" || !reflect.DeepEqual(r.JSON, want) {
		t.Errorf("request = %s %v\nwant %v", r.Path, r.JSON, want)
	}
	if camp, _ := g.Campaign("11"); camp.Budget != 50_000_000 {
		t.Errorf("a validate-only change set the budget to %s", camp.Budget)
	}
	m, err := c.SetBudget(ctx, "501", 60_000_000, false)
	if err != nil || m.ResourceName != "customers/1234567890/campaignBudgets/501" {
		t.Fatalf("apply = %+v, %v", m, err)
	}
	if camp, _ := g.Campaign("11"); camp.Budget != 60_000_000 {
		t.Errorf("budget = %s, want 60.00", camp.Budget)
	}

	_, err = c.SetBudget(ctx, "501", 60_005_000, false)
	wantMsg := "google: POST /customers/1234567890/campaignBudgets:mutate: Request contains an invalid argument. " +
		"(INVALID_ARGUMENT, HTTP 400, request-id "
	if err == nil || !strings.HasPrefix(err.Error(), wantMsg) || !strings.HasSuffix(err.Error(),
		"); campaignBudgetError: NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT: The budget amount is not a multiple of the currency's minimum unit. at operations[0].update.amount_micros") {
		t.Errorf("half a cent:\n got %v\nwant %s…", err, wantMsg)
	}
	if _, err := c.SetBudget(ctx, "501", 0, false); err == nil || !strings.Contains(err.Error(), "budget amount 0.00 is not positive") {
		t.Errorf("zero budget: %v", err)
	}
}

func members(n int) []google.Member {
	out := make([]google.Member, n)
	for i := range out {
		out[i] = google.Member{Emails: []string{audience.Hash(strings.Repeat("y", i+1) + "@example.com")}}
	}
	return out
}

func TestCustomerMatch(t *testing.T) {
	g := adstest.NewGoogle()
	defer g.Close()
	g.LoginCustomerID = login
	cm, err := google.NewCustomerMatch(google.CustomerMatchConfig{
		CustomerID: adstest.GoogleCustomerID, LoginCustomerID: login, APIURL: g.DataManagerURL,
		Tokens: oauth(g).TokenSource(nil), TermsAccepted: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	email, _ := audience.Google.HashEmail("Jane.Doe+shop@gmail.com")
	phone, _ := audience.Google.HashPhone("+1 555 987 6543")
	granted := google.Consent{AdUserData: google.ConsentGranted, AdPersonalization: google.ConsentGranted}
	batch := google.Members{ListID: "777", Consent: granted, Members: []google.Member{
		{Emails: []string{email}, Phones: []string{phone}},
		{Emails: []string{audience.Hash("bob@example.com")}, Consent: &google.Consent{AdUserData: google.ConsentGranted, AdPersonalization: google.ConsentDenied}},
	}}

	// A dry run first: checked, not applied.
	batch.ValidateOnly = true
	id, err := cm.Add(ctx, batch)
	if err != nil || id == "" {
		t.Fatalf("validate: %q, %v", id, err)
	}
	if got := g.List("777"); len(got) != 0 {
		t.Errorf("a validate-only upload changed the list: %v", got)
	}
	batch.ValidateOnly = false
	if _, err := cm.Add(ctx, batch); err != nil {
		t.Fatal(err)
	}
	wantList := []string{email, phone, audience.Hash("bob@example.com")}
	if got := g.List("777"); len(got) != 3 || !sameSet(got, wantList) {
		t.Errorf("list = %v, want %v", got, wantList)
	}

	reqs := g.RequestsTo(":ingest")
	r := reqs[1]
	if r.Path != "/v1/audienceMembers:ingest" || r.Header.Get("Authorization") != "Bearer ya29.standin-1" {
		t.Errorf("request = %s, Authorization %q", r.Path, r.Header.Get("Authorization"))
	}
	if r.Header.Get("Developer-Token") != "" || r.Header.Get("Login-Customer-Id") != "" {
		t.Errorf("Google Ads headers sent to the Data Manager API: %v", r.Header)
	}
	want := map[string]any{
		"destinations": []any{map[string]any{
			"operatingAccount":     map[string]any{"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
			"loginAccount":         map[string]any{"accountType": "GOOGLE_ADS", "accountId": login},
			"productDestinationId": "777",
		}},
		"audienceMembers": []any{
			map[string]any{"userData": map[string]any{"userIdentifiers": []any{
				map[string]any{"emailAddress": email}, map[string]any{"phoneNumber": phone}}}},
			map[string]any{"userData": map[string]any{"userIdentifiers": []any{
				map[string]any{"emailAddress": audience.Hash("bob@example.com")}}},
				"consent": map[string]any{"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"}},
		},
		"consent":        map[string]any{"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"},
		"validateOnly":   false,
		"encoding":       "HEX",
		"termsOfService": map[string]any{"customerMatchTermsOfServiceStatus": "ACCEPTED"},
	}
	if !reflect.DeepEqual(r.JSON, want) {
		t.Errorf("body = %v\nwant %v", r.JSON, want)
	}
	if v := reqs[0].JSON.(map[string]any)["validateOnly"]; v != true {
		t.Errorf("dry run validateOnly = %v", v)
	}

	// Removal: the same members, no consent or terms.
	if _, err := cm.Remove(ctx, google.Members{ListID: "777", Members: batch.Members[:1]}); err != nil {
		t.Fatal(err)
	}
	rm := g.RequestsTo(":remove")[0]
	body := rm.JSON.(map[string]any)
	if rm.Path != "/v1/audienceMembers:remove" || body["consent"] != nil || body["termsOfService"] != nil || body["encoding"] != "HEX" {
		t.Errorf("remove = %s %v", rm.Path, body)
	}
	if got := g.List("777"); !reflect.DeepEqual(got, []string{audience.Hash("bob@example.com")}) {
		t.Errorf("after removal: %v", got)
	}

	// Exactly the limit goes in one request; one more is refused unsent.
	if _, err := cm.Add(ctx, google.Members{ListID: "778", Members: members(google.MaxMembersPerRequest)}); err != nil {
		t.Fatal(err)
	}
	if n := len(g.List("778")); n != 10_000 {
		t.Errorf("list has %d members", n)
	}
	sent := len(g.Requests())
	for _, tc := range []struct {
		b    google.Members
		want string
	}{
		{google.Members{ListID: "778", Members: members(10_001)}, "google: POST /audienceMembers:ingest: 10001 members; Google takes at most 10000 per request"},
		{google.Members{ListID: "778", Members: []google.Member{{Emails: []string{"jane@example.com"}}}}, `member 0: "jan…" is not a SHA-256 hex hash; hash it with audience.Google`},
		{google.Members{ListID: "778", Members: []google.Member{{}}}, "member 0 has no email address or phone number"},
		{google.Members{ListID: "users/778", Members: members(1)}, `Customer Match list ID "users/778" is not a Google Ads user list ID`},
		{google.Members{ListID: "778"}, "no members"},
	} {
		if _, err := cm.Add(ctx, tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	if n := len(g.Requests()); n != sent {
		t.Errorf("%d requests sent for refused batches", n-sent)
	}
}

func sameSet(a, b []string) bool {
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestErrorsSayWhetherToRetry(t *testing.T) {
	c, g := newClient(t)
	seed(g)
	ctx := context.Background()
	stats := func() error { _, err := c.CampaignStats(ctx, "2026-11-28", "2026-11-29"); return err }
	pause := func() error { _, err := c.SetCampaignStatus(ctx, "11", google.Paused, false); return err }
	for _, tc := range []struct {
		fault     adstest.Fault
		call      func() error
		retryable bool
		message   string
	}{
		// searchStream writes its errors inside an array.
		{adstest.GoogleError(429, "RESOURCE_EXHAUSTED", "Too many requests. Retry in 30 seconds.",
			adstest.GoogleFailure{Kind: "quotaError", Code: "RESOURCE_EXHAUSTED", Message: "Too many requests."}).On(":searchStream"), stats, true,
			"google: POST /customers/1234567890/googleAds:searchStream: Too many requests. Retry in 30 seconds. (RESOURCE_EXHAUSTED, HTTP 429, request-id standin-request); quotaError: RESOURCE_EXHAUSTED: Too many requests."},
		{adstest.GoogleError(503, "UNAVAILABLE", "The service is currently unavailable."), stats, true, "(UNAVAILABLE, HTTP 503"},
		{adstest.GoogleError(500, "INTERNAL", "Internal error encountered."), pause, true, "(INTERNAL, HTTP 500"},
		{adstest.GoogleError(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."), pause, true, "(DEADLINE_EXCEEDED, HTTP 504"},
		{adstest.HTTPError(502), pause, true, "answer without a Google error: <html><body>502 Bad Gateway</body></html> (HTTP 502)"},
		{adstest.HTTPError(429), stats, true, "(HTTP 429)"},
		{adstest.HTTPError(501), pause, false, "(HTTP 501)"},
		{adstest.GoogleError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
			adstest.GoogleFailure{Kind: "queryError", Code: "UNRECOGNIZED_FIELD", Message: "Unrecognized field in the query: 'metrics.foo'."}).On(":searchStream"), stats, false,
			"queryError: UNRECOGNIZED_FIELD: Unrecognized field in the query: 'metrics.foo'."},
	} {
		g.Fail(tc.fault)
		err := tc.call()
		var ge *google.Error
		if !errors.As(err, &ge) {
			t.Fatalf("err = %v, want a *google.Error", err)
		}
		if ge.Retryable() != tc.retryable || ads.Retryable(err) != tc.retryable {
			t.Errorf("%s: retryable = %v, want %v", err, ge.Retryable(), tc.retryable)
		}
		if !strings.Contains(err.Error(), tc.message) {
			t.Errorf("message:\n got %s\nwant %s", err, tc.message)
		}
	}

	// A stream that fails after its first batch: the error is an element.
	g.Fail(adstest.Fault{Path: ":searchStream", Status: 200, Body: `[{"results":[{"campaign":{"id":"11"}}]},` +
		`{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}]`})
	var ge *google.Error
	if err := stats(); !errors.As(err, &ge) || ge.Status != "INTERNAL" || !ge.Retryable() {
		t.Errorf("mid-stream error: %v", err)
	}

	// The Data Manager API explains bad fields with BadRequest details.
	g.Fail(adstest.Fault{Path: ":ingest", Status: 400, Body: `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"There was a problem with the request.",` +
		`"details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"destinations[0].product_destination_id","description":"The user list was not found.","reason":"INVALID_PRODUCT_DESTINATION_ID"}]}]}}`})
	cm, _ := google.NewCustomerMatch(google.CustomerMatchConfig{CustomerID: adstest.GoogleCustomerID, LoginCustomerID: login,
		APIURL: g.DataManagerURL, Tokens: oauth(g).TokenSource(nil)})
	_, err := cm.Add(ctx, google.Members{ListID: "1", Members: members(1)})
	want := "google: POST /audienceMembers:ingest: There was a problem with the request. (INVALID_ARGUMENT, HTTP 400); " +
		"INVALID_PRODUCT_DESTINATION_ID: The user list was not found. at destinations[0].product_destination_id"
	if err == nil || err.Error() != want || ads.Retryable(err) {
		t.Errorf("bad field:\n got %v\nwant %s", err, want)
	}

	// A developer token Google does not know.
	bad, _ := google.New(google.Config{DeveloperToken: "wrong", CustomerID: adstest.GoogleCustomerID, LoginCustomerID: login,
		APIURL: g.AdsURL, Tokens: oauth(g).TokenSource(nil)})
	if err := func() error { _, err := bad.SetBudget(ctx, "501", 10_000_000, true); return err }(); !errors.As(err, &ge) ||
		ge.Status != "UNAUTHENTICATED" || ge.Retryable() || !strings.HasSuffix(err.Error(),
		"authenticationError: DEVELOPER_TOKEN_INVALID: The developer token is not valid.; check NUDGE_GOOGLE_ADS_DEVELOPER_TOKEN and its access level in the Google Ads API Center") {
		t.Errorf("wrong developer token: %v", err)
	}

	// A manager account the stand-in does not know: refused with the hint.
	g.LoginCustomerID = "1111111111"
	if err := pause(); !errors.As(err, &ge) || ge.Status != "PERMISSION_DENIED" || ge.Retryable() ||
		!strings.Contains(err.Error(), "authorizationError: USER_PERMISSION_DENIED") ||
		!strings.Contains(err.Error(), "check the developer token's access level, NUDGE_GOOGLE_ADS_LOGIN_CUSTOMER_ID") {
		t.Errorf("wrong login customer: %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	ts := google.OAuth{}.TokenSource(nil)
	for _, tc := range []struct {
		cfg  google.Config
		want string
	}{
		{google.Config{CustomerID: "1", Tokens: ts}, "google: no developer token"},
		{google.Config{DeveloperToken: "d", CustomerID: "1"}, "google: no OAuth token source"},
		{google.Config{DeveloperToken: "d", Tokens: ts}, "google: no customer ID"},
		{google.Config{DeveloperToken: "d", CustomerID: "123-456-7890", Tokens: ts}, `customer ID "123-456-7890" must be digits only`},
		{google.Config{DeveloperToken: "d", CustomerID: "1", LoginCustomerID: "x", Tokens: ts}, `login customer ID "x" must be digits only`},
		{google.Config{DeveloperToken: "d", CustomerID: "1", Tokens: ts, APIURL: "googleads.googleapis.com"}, `API URL "googleads.googleapis.com" is not an absolute`},
	} {
		if _, err := google.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	c, g := newClient(t)
	if _, err := c.CampaignStats(context.Background(), "2026-11-30", "2026-11-01"); err == nil ||
		err.Error() != "google: until 2026-11-01 is before since 2026-11-30" {
		t.Errorf("reversed range: %v", err)
	}
	if _, err := c.CampaignStats(context.Background(), "2026-11-01' OR '1'='1", "2026-11-02"); err == nil ||
		!strings.Contains(err.Error(), "is not a date") {
		t.Errorf("query injection: %v", err)
	}
	if n := len(g.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Campaign reads one campaign's status and budget now through
// searchStream, without segments or metrics; a campaign Google does not
// return is an error that will not pass by retrying.
func TestCampaignReadsStatusAndBudget(t *testing.T) {
	c, g := newClient(t)
	seed(g)
	g.AddCampaign(adstest.GoogleCampaign{ID: "13", Name: "No stats", Status: "PAUSED", BudgetID: "503", Budget: 7_000_000})
	ctx := context.Background()
	got, err := c.Campaign(ctx, "11")
	if want := (google.Campaign{ID: "11", Status: "ENABLED", BudgetID: "501", BudgetAmount: 50_000_000}); err != nil || got != want {
		t.Fatalf("campaign 11: %+v, %v; want %+v", got, err, want)
	}
	g.SetBudget("501", 75_000_000)
	got, err = c.Campaign(ctx, "11")
	if err != nil || got.BudgetAmount != 75_000_000 {
		t.Errorf("after a change elsewhere: %+v, %v", got, err)
	}
	// A campaign without a single day of metrics is read all the same.
	if got, err := c.Campaign(ctx, "13"); err != nil || got.Status != "PAUSED" || got.BudgetAmount != 7_000_000 {
		t.Errorf("campaign 13: %+v, %v", got, err)
	}
	searches := g.RequestsTo(":searchStream")
	wantQuery := "SELECT campaign.id, campaign.status, campaign.campaign_budget, campaign_budget.amount_micros, " +
		"campaign_budget.resource_name FROM campaign WHERE campaign.id = 11"
	if len(searches) != 3 || !reflect.DeepEqual(searches[0].JSON, map[string]any{"query": wantQuery}) {
		t.Errorf("searches %d, first %v\nwant query %s", len(searches), searches[0].JSON, wantQuery)
	}

	if _, err := c.Campaign(ctx, "99"); err == nil || ads.Retryable(err) ||
		err.Error() != "google: campaign 99: Google returned no such campaign in customer 1234567890" {
		t.Errorf("missing campaign: %v", err)
	}
	if _, err := c.Campaign(ctx, "11 OR campaign.id > 0"); err == nil || len(g.RequestsTo(":searchStream")) != 4 {
		t.Errorf("an ID that is not digits: %v", err)
	}
	g.Fail(adstest.GoogleError(503, "UNAVAILABLE", "The service is currently unavailable.").On(":searchStream"))
	if _, err := c.Campaign(ctx, "11"); !ads.Retryable(err) {
		t.Errorf("503: %v, want retryable", err)
	}
}
