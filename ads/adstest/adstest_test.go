package adstest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func do(t *testing.T, method, u, contentType, body string, h http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetaUsersCountsInvalidRowsAndFaultsRepeat(t *testing.T) {
	m := NewMeta()
	defer m.Close()
	payload, _ := json.Marshal(map[string]any{"schema": "EMAIL_SHA256",
		"data": []string{strings.Repeat("a", 64), "mary@example.com"}})
	form := url.Values{"payload": {string(payload)}, "access_token": {MetaToken}}.Encode()
	code, body := do(t, "POST", m.URL+"/555/users", "application/x-www-form-urlencoded", form, nil)
	if code != 200 || !strings.Contains(body, `"num_received":2`) || !strings.Contains(body, `"num_invalid_entries":1`) {
		t.Errorf("%d %s", code, body)
	}
	if got := m.Audience("555"); len(got) != 1 || got[0] != strings.Repeat("a", 64) {
		t.Errorf("audience = %v", got)
	}
	m.Fail(HTTPError(503).On("/users").Repeat(2))
	for i := range 3 {
		code, _ := do(t, "DELETE", m.URL+"/555/users", "application/x-www-form-urlencoded", form, nil)
		if want := map[bool]int{true: 503, false: 200}[i < 2]; code != want {
			t.Errorf("request %d: %d, want %d", i, code, want)
		}
	}
	if len(m.Audience("555")) != 0 {
		t.Error("DELETE did not remove the member")
	}
	if n := len(m.RequestsTo("/users")); n != 4 {
		t.Errorf("%d requests recorded", n)
	}
	if f := m.Requests()[3].Form; f.Get("payload") != string(payload) {
		t.Errorf("DELETE body not decoded: %v", f)
	}
}

func TestGoogleRefusesWhatGoogleRefuses(t *testing.T) {
	g := NewGoogle()
	defer g.Close()
	code, body := do(t, "POST", g.TokenURL, "application/x-www-form-urlencoded", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {GoogleRefreshToken},
		"client_id": {GoogleClientID}, "client_secret": {GoogleClientSecret}}.Encode(), nil)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); code != 200 || err != nil || tok.AccessToken != "ya29.standin-1" {
		t.Fatalf("%d %s", code, body)
	}
	h := http.Header{"Authorization": {"Bearer " + tok.AccessToken}, "Developer-Token": {GoogleDeveloperToken}}
	search := g.AdsURL + "/customers/" + GoogleCustomerID + "/googleAds:searchStream"
	for _, tc := range []struct {
		query, want string
	}{
		{"SELECT campaign.id, metrics.foo FROM campaign", `"queryError":"UNRECOGNIZED_FIELD"`},
		{"SELECT segments.date, campaign.id FROM campaign", `"queryError":"EXPECTED_FILTERS_ON_DATE_RANGE"`},
		{"SELECT ad_group.id FROM ad_group", `"queryError":"INVALID_RESOURCE_NAME"`},
	} {
		q, _ := json.Marshal(map[string]string{"query": tc.query})
		code, body := do(t, "POST", search, "application/json", string(q), h)
		if code != 400 || !strings.HasPrefix(body, `[{"error":`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s", tc.query, code, body)
		}
	}
	// No rows is one batch with a field mask and no results.
	q, _ := json.Marshal(map[string]string{"query": "SELECT campaign.id FROM campaign"})
	if code, body := do(t, "POST", search, "application/json", string(q), h); code != 200 || !strings.HasPrefix(body, `[{"fieldMask":"campaign.id","requestId":"`) {
		t.Errorf("no rows: %d %s", code, body)
	}
	// Without segments or metrics, a query reads the campaigns themselves,
	// filtered by ID, each resource with its resourceName.
	g.AddCampaign(GoogleCampaign{ID: "11", Name: "Brand", Status: "PAUSED", BudgetID: "501", Budget: 50_000_000})
	g.AddCampaign(GoogleCampaign{ID: "12", Name: "PMax", Status: "ENABLED", BudgetID: "502", Budget: 20_000_000})
	one, _ := json.Marshal(map[string]string{"query": "SELECT campaign.id, campaign.status, campaign_budget.amount_micros FROM campaign WHERE campaign.id = 11"})
	code, body = do(t, "POST", search, "application/json", string(one), h)
	var batches []struct {
		Results   []map[string]map[string]string `json:"results"`
		FieldMask string                         `json:"fieldMask"`
	}
	if err := json.Unmarshal([]byte(body), &batches); code != 200 || err != nil || len(batches) != 1 || len(batches[0].Results) != 1 ||
		batches[0].FieldMask != "campaign.id,campaign.status,campaignBudget.amountMicros" {
		t.Fatalf("one campaign: %d %s", code, body)
	}
	want := map[string]map[string]string{
		"campaign":       {"resourceName": "customers/" + GoogleCustomerID + "/campaigns/11", "id": "11", "status": "PAUSED"},
		"campaignBudget": {"resourceName": "customers/" + GoogleCustomerID + "/campaignBudgets/501", "amountMicros": "50000000"},
	}
	if got := batches[0].Results[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("row %v, want %v", got, want)
	}
	// Without the developer token, Google Ads refuses; the Data Manager API does not ask.
	code, body = do(t, "POST", search, "application/json", string(q), http.Header{"Authorization": h["Authorization"]})
	if code != 401 || !strings.Contains(body, "DEVELOPER_TOKEN_INVALID") {
		t.Errorf("no developer token: %d %s", code, body)
	}
	code, body = do(t, "POST", g.DataManagerURL+"/audienceMembers:ingest", "application/json", `{"destinations":[]}`, http.Header{"Authorization": h["Authorization"]})
	if code != 400 || !strings.Contains(body, "DESTINATIONS_REQUIRED") {
		t.Errorf("no destination: %d %s", code, body)
	}
}
