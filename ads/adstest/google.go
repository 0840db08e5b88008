package adstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nudgehq/nudge/ads"
)

// Credentials the Google stand-in accepts by default.
const (
	GoogleClientID       = "standin-client.apps.googleusercontent.com"
	GoogleClientSecret   = "standin-secret"
	GoogleRefreshToken   = "1//standin-refresh-token"
	GoogleDeveloperToken = "standin-developer-token"
	GoogleCustomerID     = "1234567890"
	// GoogleAdsVersion is the Google Ads API version in AdsURL.
	GoogleAdsVersion = "v26"
)

// Google is one loopback server standing in for three Google endpoints,
// each at its own URL: the OAuth 2.0 token endpoint (TokenURL), Google Ads
// REST (AdsURL: searchStream, campaigns:mutate, campaignBudgets:mutate),
// and the Data Manager API's Customer Match methods (DataManagerURL:
// audienceMembers:ingest and :remove). The APIs accept only access tokens
// the token endpoint issued and that have not expired.
type Google struct {
	recorder
	TokenURL       string
	AdsURL         string
	DataManagerURL string

	// What the stand-in accepts; change before the first request.
	ClientID, ClientSecret, RefreshToken string
	DeveloperToken                       string
	CustomerID                           string
	// LoginCustomerID, when set, must come as the login-customer-id
	// header and as the Data Manager destination's loginAccount.
	LoginCustomerID string
	// TokenLifetime is how long an issued access token lasts (default an
	// hour). golang.org/x/oauth2 refreshes a token 10 s before it
	// expires, so a lifetime under 10 s makes every call refresh.
	TokenLifetime time.Duration
	// BatchSize is how many rows each searchStream batch carries
	// (default 2), so several batches are exercised.
	BatchSize int

	srv       *httptest.Server
	mu        sync.Mutex
	tokens    map[string]time.Time // access token → expiry
	issued    []string
	campaigns map[string]GoogleCampaign
	budgets   map[string]ads.Micros
	stats     []GoogleStat
	lists     map[string]map[string]bool
}

// GoogleCampaign is a campaign and its budget.
type GoogleCampaign struct {
	ID     string
	Name   string
	Status string // ENABLED, PAUSED or REMOVED
	// BudgetID names its campaign budget; Budget is the budget's daily
	// amount when AddCampaign creates it (a budget already there keeps
	// its amount: budgets can be shared).
	BudgetID string
	Budget   ads.Micros
}

// GoogleStat is one campaign's day.
type GoogleStat struct {
	CampaignID      string
	Date            string // YYYY-MM-DD
	Cost            ads.Micros
	Impressions     int64
	Clicks          int64
	Conversions     float64
	ConversionValue ads.Micros
}

// NewGoogle starts the Google stand-in. Close it when done.
func NewGoogle() *Google {
	g := &Google{
		ClientID: GoogleClientID, ClientSecret: GoogleClientSecret, RefreshToken: GoogleRefreshToken,
		DeveloperToken: GoogleDeveloperToken, CustomerID: GoogleCustomerID,
		TokenLifetime: time.Hour, BatchSize: 2,
		tokens: map[string]time.Time{}, campaigns: map[string]GoogleCampaign{},
		budgets: map[string]ads.Micros{}, lists: map[string]map[string]bool{},
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	g.TokenURL = g.srv.URL + "/token"
	g.AdsURL = g.srv.URL + "/" + GoogleAdsVersion
	g.DataManagerURL = g.srv.URL + "/v1"
	return g
}

// Close shuts the server down.
func (g *Google) Close() { g.srv.Close() }

// AddCampaign creates or replaces a campaign, and its budget if new.
func (g *Google) AddCampaign(c GoogleCampaign) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.campaigns[c.ID] = c
	if _, ok := g.budgets[c.BudgetID]; !ok && c.BudgetID != "" {
		g.budgets[c.BudgetID] = c.Budget
	}
}

// Campaign returns a campaign as it stands, its budget's current amount
// in Budget.
func (g *Google) Campaign(id string) (GoogleCampaign, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.campaigns[id]
	c.Budget = g.budgets[c.BudgetID]
	return c, ok
}

// SetBudget sets a campaign budget's daily amount, as a change in the
// Google Ads UI would (every campaign sharing the budget sees it).
func (g *Google) SetBudget(id string, amount ads.Micros) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.budgets[id] = amount
}

// AddStats seeds metrics.
func (g *Google) AddStats(s ...GoogleStat) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stats = append(g.stats, s...)
}

// List returns the identifier hashes on a Customer Match list, sorted.
func (g *Google) List(id string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.lists[id]))
}

// Issued returns the access tokens the token endpoint issued, in order.
func (g *Google) Issued() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.issued...)
}

// ExpireTokens ends every issued access token now: the APIs answer 401
// until the client refreshes.
func (g *Google) ExpireTokens() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for t := range g.tokens {
		g.tokens[t] = time.Time{}
	}
}

func (g *Google) serve(w http.ResponseWriter, r *http.Request) {
	req := g.record(r)
	if f, ok := g.fault(r.URL.Path); ok {
		f.write(w, strings.HasSuffix(r.URL.Path, ":searchStream"))
		return
	}
	p := r.URL.Path
	switch {
	case p == "/token" && r.Method == "POST":
		g.token(w, req)
	case strings.HasPrefix(p, "/"+GoogleAdsVersion+"/customers/") && r.Method == "POST":
		g.ads(w, req, strings.TrimPrefix(p, "/"+GoogleAdsVersion+"/customers/"))
	case (p == "/v1/audienceMembers:ingest" || p == "/v1/audienceMembers:remove") && r.Method == "POST":
		if g.authenticated(w, req) {
			g.members(w, req, strings.HasSuffix(p, ":ingest"))
		}
	default:
		googleErr(w, 404, "NOT_FOUND", "The requested URL "+p+" was not found on this server.")
	}
}

func googleStatus(httpStatus int, status, message string, failures ...GoogleFailure) map[string]any {
	st := map[string]any{"code": httpStatus, "message": message, "status": status}
	if len(failures) > 0 {
		var errs []map[string]any
		for _, f := range failures {
			e := map[string]any{"errorCode": map[string]string{f.Kind: f.Code}, "message": f.Message}
			if f.Field != "" {
				var path []map[string]any
				for _, part := range strings.Split(f.Field, ".") {
					if n, err := strconv.Atoi(part); err == nil && len(path) > 0 {
						path[len(path)-1]["index"] = n
						continue
					}
					path = append(path, map[string]any{"fieldName": part})
				}
				e["location"] = map[string]any{"fieldPathElements": path}
			}
			errs = append(errs, e)
		}
		st["details"] = []any{map[string]any{
			"@type":     "type.googleapis.com/google.ads.googleads." + GoogleAdsVersion + ".errors.GoogleAdsFailure",
			"errors":    errs,
			"requestId": "standin-request",
		}}
	}
	return st
}

func googleErr(w http.ResponseWriter, httpStatus int, status, message string, failures ...GoogleFailure) {
	GoogleError(httpStatus, status, message, failures...).write(w, false)
}

// token is the refresh-token grant of Google's token endpoint.
func (g *Google) token(w http.ResponseWriter, req Request) {
	f := req.Form
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := basicAuth(req.Header.Get("Authorization")); ok {
		id, secret = u, p
	}
	switch {
	case f.Get("grant_type") != "refresh_token":
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + f.Get("grant_type")})
		return
	case id != g.ClientID || secret != g.ClientSecret:
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "The OAuth client was not found."})
		return
	case f.Get("refresh_token") != g.RefreshToken:
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
		return
	}
	g.mu.Lock()
	tok := fmt.Sprintf("ya29.standin-%d", len(g.issued)+1)
	g.issued = append(g.issued, tok)
	g.tokens[tok] = time.Now().Add(g.TokenLifetime)
	g.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"access_token": tok,
		"expires_in":   int(g.TokenLifetime.Seconds()),
		"scope":        "https://www.googleapis.com/auth/adwords https://www.googleapis.com/auth/datamanager",
		"token_type":   "Bearer",
	})
}

func basicAuth(h string) (string, string, bool) {
	r := &http.Request{Header: http.Header{"Authorization": {h}}}
	return r.BasicAuth()
}

// authenticated checks the bearer token, answering 401 if it is not one
// the stand-in issued and still valid.
func (g *Google) authenticated(w http.ResponseWriter, req Request) bool {
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	exp, known := g.tokens[tok]
	g.mu.Unlock()
	if !ok || !known || time.Now().After(exp) {
		googleErr(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return false
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ads serves /vNN/customers/{id}/{method}.
func (g *Google) ads(w http.ResponseWriter, req Request, rest string) {
	if !g.authenticated(w, req) {
		return
	}
	if req.Header.Get("Developer-Token") != g.DeveloperToken {
		googleErr(w, 401, "UNAUTHENTICATED", "Request is missing required authentication credential.",
			GoogleFailure{Kind: "authenticationError", Code: "DEVELOPER_TOKEN_INVALID", Message: "The developer token is not valid."})
		return
	}
	cid, method, _ := strings.Cut(rest, "/")
	if g.LoginCustomerID != "" && req.Header.Get("Login-Customer-Id") != g.LoginCustomerID || cid != g.CustomerID {
		googleErr(w, 403, "PERMISSION_DENIED", "The caller does not have permission",
			GoogleFailure{Kind: "authorizationError", Code: "USER_PERMISSION_DENIED",
				Message: "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header."})
		return
	}
	w.Header().Set("Request-Id", newRequestID())
	switch method {
	case "googleAds:searchStream":
		g.searchStream(w, req)
	case "campaigns:mutate":
		g.mutateCampaigns(w, req)
	case "campaignBudgets:mutate":
		g.mutateBudgets(w, req)
	default:
		googleErr(w, 404, "NOT_FOUND", "Method not found: "+method)
	}
}

var gaql = regexp.MustCompile(`(?is)^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+(.+?))?(?:\s+LIMIT\s+\d+)?\s*$`)
var campaignIDFilter = regexp.MustCompile(`(?i)campaign\.id\s*=\s*(\d+)`)
var between = regexp.MustCompile(`(?i)segments\.date\s+BETWEEN\s+'(\d{4}-\d{2}-\d{2})'\s+AND\s+'(\d{4}-\d{2}-\d{2})'`)

// camel turns GAQL's snake_case into the JSON's lowerCamelCase.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// searchStream answers a GAQL query over campaigns as Google does: an
// array of batches, each with results, fieldMask and requestId, holding
// only the fields selected (and each resource's resourceName).
func (g *Google) searchStream(w http.ResponseWriter, req Request) {
	var body struct {
		Query string `json:"query"`
	}
	_ = req.DecodeJSON(&body)
	m := gaql.FindStringSubmatch(body.Query)
	if m == nil {
		g.streamErr(w, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
			GoogleFailure{Kind: "queryError", Code: "UNEXPECTED_END_OF_QUERY", Message: "Error in query: unexpected end of query."})
		return
	}
	if !strings.EqualFold(m[2], "campaign") {
		g.streamErr(w, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
			GoogleFailure{Kind: "queryError", Code: "INVALID_RESOURCE_NAME", Message: "The stand-in serves FROM campaign only, not " + m[2] + "."})
		return
	}
	var fields []string
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if !googleFields[f] {
			g.streamErr(w, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
				GoogleFailure{Kind: "queryError", Code: "UNRECOGNIZED_FIELD", Message: "Unrecognized field in the query: '" + f + "'."})
			return
		}
		fields = append(fields, f)
	}
	since, until := "0000-00-00", "9999-99-99"
	if d := between.FindStringSubmatch(m[3]); d != nil {
		since, until = d[1], d[2]
	} else if strings.Contains(m[1], "segments.date") {
		g.streamErr(w, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
			GoogleFailure{Kind: "queryError", Code: "EXPECTED_FILTERS_ON_DATE_RANGE", Message: "A date range must be specified when segments.date is selected."})
		return
	}
	var only []string
	for _, id := range campaignIDFilter.FindAllStringSubmatch(m[3], -1) {
		only = append(only, id[1])
	}
	rows := g.select_(fields, since, until, only)
	mask := make([]string, len(fields))
	for i, f := range fields {
		res, name, _ := strings.Cut(f, ".")
		mask[i] = camel(res) + "." + camel(name)
	}
	reqID := w.Header().Get("Request-Id")
	size := g.BatchSize
	if size < 1 {
		size = 10_000
	}
	batches := []any{}
	for start := 0; start < len(rows) || start == 0; start += size {
		b := map[string]any{"fieldMask": strings.Join(mask, ","), "requestId": reqID}
		if end := min(start+size, len(rows)); start < end {
			b["results"] = rows[start:end]
		}
		batches = append(batches, b)
		if len(rows) == 0 {
			break
		}
	}
	writeJSON(w, 200, batches)
}

func (g *Google) streamErr(w http.ResponseWriter, httpStatus int, status, message string, failures ...GoogleFailure) {
	GoogleError(httpStatus, status, message, failures...).write(w, true)
}

var googleFields = map[string]bool{
	"segments.date": true, "campaign.id": true, "campaign.name": true, "campaign.status": true,
	"campaign.campaign_budget": true, "campaign.resource_name": true,
	"campaign_budget.id": true, "campaign_budget.amount_micros": true, "campaign_budget.resource_name": true,
	"metrics.cost_micros": true, "metrics.impressions": true, "metrics.clicks": true,
	"metrics.conversions": true, "metrics.conversions_value": true,
}

// select_ joins the seeded days with their campaigns, in date and campaign
// order, and writes each row with only the fields asked for. A query that
// selects neither segments nor metrics reads the campaigns themselves, one
// row each in ID order, as Google does. only, when not empty, keeps the
// campaigns with those IDs (WHERE campaign.id = …).
func (g *Google) select_(fields []string, since, until string, only []string) []map[string]map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	kept := func(id string) bool {
		_, ok := g.campaigns[id]
		return ok && (len(only) == 0 || slices.Contains(only, id))
	}
	resources := !slices.ContainsFunc(fields, func(f string) bool {
		return strings.HasPrefix(f, "segments.") || strings.HasPrefix(f, "metrics.")
	})
	var days []GoogleStat
	if resources {
		for id := range g.campaigns {
			if kept(id) {
				days = append(days, GoogleStat{CampaignID: id})
			}
		}
	}
	for _, s := range g.stats {
		if !resources && kept(s.CampaignID) && s.Date >= since && s.Date <= until {
			days = append(days, s)
		}
	}
	sort.SliceStable(days, func(i, j int) bool {
		if days[i].Date != days[j].Date {
			return days[i].Date < days[j].Date
		}
		a, _ := strconv.ParseInt(days[i].CampaignID, 10, 64)
		b, _ := strconv.ParseInt(days[j].CampaignID, 10, 64)
		return a < b
	})
	out := make([]map[string]map[string]any, 0, len(days))
	for _, s := range days {
		c := g.campaigns[s.CampaignID]
		campaign := "customers/" + g.CustomerID + "/campaigns/" + c.ID
		budget := "customers/" + g.CustomerID + "/campaignBudgets/" + c.BudgetID
		values := map[string]any{
			"segments.date":                 s.Date,
			"campaign.id":                   c.ID,
			"campaign.name":                 c.Name,
			"campaign.status":               c.Status,
			"campaign.campaign_budget":      budget,
			"campaign.resource_name":        campaign,
			"campaign_budget.id":            c.BudgetID,
			"campaign_budget.amount_micros": strconv.FormatInt(int64(g.budgets[c.BudgetID]), 10),
			"campaign_budget.resource_name": budget,
			"metrics.cost_micros":           strconv.FormatInt(int64(s.Cost), 10),
			"metrics.impressions":           strconv.FormatInt(s.Impressions, 10),
			"metrics.clicks":                strconv.FormatInt(s.Clicks, 10),
			"metrics.conversions":           s.Conversions,
			"metrics.conversions_value":     s.ConversionValue.Units(),
		}
		row := map[string]map[string]any{}
		for _, f := range fields {
			res, name, _ := strings.Cut(f, ".")
			res = camel(res)
			if row[res] == nil {
				row[res] = map[string]any{}
				switch res {
				case "campaign":
					row[res]["resourceName"] = campaign
				case "campaignBudget":
					row[res]["resourceName"] = budget
				}
			}
			row[res][camel(name)] = values[f]
		}
		out = append(out, row)
	}
	return out
}

type mutateOperation struct {
	UpdateMask string                     `json:"updateMask"`
	Update     map[string]json.RawMessage `json:"update"`
}

type mutateRequest struct {
	Operations   []mutateOperation `json:"operations"`
	ValidateOnly bool              `json:"validateOnly"`
}

// mutate serves a :mutate of one resource kind (campaigns,
// campaignBudgets). Every operation is checked before any applies: all or
// none, as Google does without partialFailure. check validates what an
// operation sets on the resource id and returns how to apply it, or the
// error to answer with.
func (g *Google) mutate(w http.ResponseWriter, req Request, collection string, masks []string, exists func(id string) bool,
	check func(op mutateOperation, id, field string) (apply func(), fail *googleFault)) {
	var body mutateRequest
	if err := req.DecodeJSON(&body); err != nil || len(body.Operations) == 0 {
		googleErr(w, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
			GoogleFailure{Kind: "mutateError", Code: "OPERATION_REQUIRED", Message: "The request has no operations."})
		return
	}
	var applies []func()
	var results []map[string]string
	for i, op := range body.Operations {
		field := fmt.Sprintf("operations.%d.update", i)
		var rn string
		_ = json.Unmarshal(op.Update["resourceName"], &rn)
		id, ok := strings.CutPrefix(rn, "customers/"+g.CustomerID+"/"+collection+"/")
		g.mu.Lock()
		ok = ok && exists(id)
		g.mu.Unlock()
		var fail *googleFault
		switch {
		case !slices.Contains(masks, op.UpdateMask):
			fail = &googleFault{"Request contains an invalid argument.",
				GoogleFailure{Kind: "fieldMaskError", Code: "FIELD_NOT_FOUND", Message: "The stand-in updates only " + masks[len(masks)-1] + ", not " + op.UpdateMask + ".", Field: field}}
		case !ok:
			fail = &googleFault{"Request contains an invalid argument.",
				GoogleFailure{Kind: "mutateError", Code: "RESOURCE_NOT_FOUND", Message: "Resource was not found.", Field: field + ".resource_name"}}
		}
		var apply func()
		if fail == nil {
			apply, fail = check(op, id, field)
		}
		if fail != nil {
			googleErr(w, 400, "INVALID_ARGUMENT", fail.message, fail.failure)
			return
		}
		applies = append(applies, apply)
		results = append(results, map[string]string{"resourceName": rn})
	}
	if body.ValidateOnly {
		writeJSON(w, 200, map[string]any{})
		return
	}
	g.mu.Lock()
	for _, apply := range applies {
		apply()
	}
	g.mu.Unlock()
	writeJSON(w, 200, map[string]any{"results": results})
}

// googleFault is the message and failure a refused operation answers with.
type googleFault struct {
	message string
	failure GoogleFailure
}

// mutateCampaigns applies status updates.
func (g *Google) mutateCampaigns(w http.ResponseWriter, req Request) {
	exists := func(id string) bool { _, ok := g.campaigns[id]; return ok }
	g.mutate(w, req, "campaigns", []string{"status"}, exists, func(op mutateOperation, id, field string) (func(), *googleFault) {
		var status string
		_ = json.Unmarshal(op.Update["status"], &status)
		if status != "ENABLED" && status != "PAUSED" && status != "REMOVED" {
			return nil, &googleFault{"Invalid value at 'operations[0].update.status'",
				GoogleFailure{Kind: "requestError", Code: "INVALID_ENUM_VALUE", Message: "Enum value '" + status + "' is not valid.", Field: field + ".status"}}
		}
		return func() {
			camp := g.campaigns[id]
			camp.Status = status
			g.campaigns[id] = camp
		}, nil
	})
}

// mutateBudgets applies budget amounts, which Google wants in whole cents
// (multiples of 10,000 micros).
func (g *Google) mutateBudgets(w http.ResponseWriter, req Request) {
	exists := func(id string) bool { _, ok := g.budgets[id]; return ok }
	g.mutate(w, req, "campaignBudgets", []string{"amountMicros", "amount_micros"}, exists, func(op mutateOperation, id, field string) (func(), *googleFault) {
		var amount string
		_ = json.Unmarshal(op.Update["amountMicros"], &amount)
		n, err := strconv.ParseInt(amount, 10, 64)
		switch {
		case err != nil || n <= 0:
			return nil, &googleFault{"Request contains an invalid argument.",
				GoogleFailure{Kind: "rangeError", Code: "TOO_LOW", Message: "Too low.", Field: field + ".amount_micros"}}
		case n%10_000 != 0:
			return nil, &googleFault{"Request contains an invalid argument.",
				GoogleFailure{Kind: "campaignBudgetError", Code: "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
					Message: "The budget amount is not a multiple of the currency's minimum unit.", Field: field + ".amount_micros"}}
		}
		return func() { g.budgets[id] = ads.Micros(n) }, nil
	})
}

// members serves audienceMembers:ingest and :remove. Like the Data Manager
// API it fails the whole request on the first problem.
func (g *Google) members(w http.ResponseWriter, req Request, ingest bool) {
	var body struct {
		Destinations []struct {
			OperatingAccount     struct{ AccountType, AccountID string }  `json:"operatingAccount"`
			LoginAccount         *struct{ AccountType, AccountID string } `json:"loginAccount"`
			ProductDestinationID string                                   `json:"productDestinationId"`
		} `json:"destinations"`
		AudienceMembers []struct {
			UserData struct {
				UserIdentifiers []struct {
					EmailAddress string `json:"emailAddress"`
					PhoneNumber  string `json:"phoneNumber"`
				} `json:"userIdentifiers"`
			} `json:"userData"`
		} `json:"audienceMembers"`
		ValidateOnly bool   `json:"validateOnly"`
		Encoding     string `json:"encoding"`
	}
	bad := func(field, reason, desc string) {
		st := map[string]any{"code": 400, "status": "INVALID_ARGUMENT", "message": "There was a problem with the request.",
			"details": []any{map[string]any{
				"@type":           "type.googleapis.com/google.rpc.BadRequest",
				"fieldViolations": []any{map[string]string{"field": field, "description": desc, "reason": reason}},
			}}}
		writeJSON(w, 400, map[string]any{"error": st})
	}
	if err := req.DecodeJSON(&body); err != nil {
		bad("", "INVALID_ARGUMENT", "The body is not JSON: "+err.Error())
		return
	}
	if len(body.Destinations) == 0 {
		bad("destinations", "DESTINATIONS_REQUIRED", "At least one destination is required.")
		return
	}
	var lists []string
	for i, d := range body.Destinations {
		f := fmt.Sprintf("destinations[%d]", i)
		switch {
		case d.OperatingAccount.AccountType != "GOOGLE_ADS":
			bad(f+".operating_account.account_type", "INVALID_ACCOUNT_TYPE", "The stand-in serves GOOGLE_ADS accounts.")
			return
		case d.OperatingAccount.AccountID != g.CustomerID:
			googleErr(w, 403, "PERMISSION_DENIED", "The caller does not have permission to access the operating account.")
			return
		case g.LoginCustomerID != "" && (d.LoginAccount == nil || d.LoginAccount.AccountID != g.LoginCustomerID):
			googleErr(w, 403, "PERMISSION_DENIED", "The login account is missing or has no access to the operating account.")
			return
		case d.ProductDestinationID == "":
			bad(f+".product_destination_id", "INVALID_PRODUCT_DESTINATION_ID", "product_destination_id is required.")
			return
		}
		lists = append(lists, d.ProductDestinationID)
	}
	switch n := len(body.AudienceMembers); {
	case n == 0:
		bad("audience_members", "AUDIENCE_MEMBERS_REQUIRED", "At least one audience member is required.")
		return
	case n > 10_000:
		bad("audience_members", "TOO_MANY_AUDIENCE_MEMBERS", fmt.Sprintf("%d audience members; at most 10000 are allowed per request.", n))
		return
	}
	if body.Encoding != "HEX" && body.Encoding != "BASE64" {
		bad("encoding", "INVALID_ENCODING", "encoding is required for UserData uploads: HEX or BASE64.")
		return
	}
	var ids []string
	for i, m := range body.AudienceMembers {
		if len(m.UserData.UserIdentifiers) == 0 {
			bad(fmt.Sprintf("audience_members[%d].user_data", i), "USER_DATA_REQUIRED", "user_identifiers is empty.")
			return
		}
		for j, u := range m.UserData.UserIdentifiers {
			v := u.EmailAddress + u.PhoneNumber
			if (u.EmailAddress == "") == (u.PhoneNumber == "") || body.Encoding == "HEX" && !isSHA256Hex(v) {
				bad(fmt.Sprintf("audience_members[%d].user_data.user_identifiers[%d]", i, j), "INVALID_SHA256_FORMAT",
					"The identifier is not a SHA-256 hash in the request's encoding.")
				return
			}
			ids = append(ids, strings.ToLower(v))
		}
	}
	if !body.ValidateOnly {
		g.mu.Lock()
		for _, l := range lists {
			set := g.lists[l]
			if set == nil {
				set = map[string]bool{}
				g.lists[l] = set
			}
			for _, id := range ids {
				if ingest {
					set[id] = true
				} else {
					delete(set, id)
				}
			}
		}
		g.mu.Unlock()
	}
	writeJSON(w, 200, map[string]string{"requestId": newRequestID()})
}
