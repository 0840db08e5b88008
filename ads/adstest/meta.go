package adstest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nudgehq/nudge/ads"
)

// MetaToken is the access token the Meta stand-in accepts by default.
const MetaToken = "meta-standin-token"

// MetaVersion is the Graph API version in the stand-in's URL.
const MetaVersion = "v25.0"

// Meta is a stand-in for the Graph API: ad account insights, campaigns and
// ad sets (GET and POST /{id}), and Custom Audience users (POST and DELETE
// /{id}/users).
type Meta struct {
	recorder
	// URL is the Graph base with its version, for meta.Config.APIURL.
	URL string
	// Token is the access token accepted (MetaToken unless changed before
	// the first request).
	Token string
	// PageSize caps insights rows per page, so paging is exercised
	// (default 2); the request's limit applies when smaller.
	PageSize int
	// MinDailyBudget refuses smaller daily budgets, in minor units, as
	// Meta refuses budgets below the account minimum (default 100).
	MinDailyBudget int64

	srv       *httptest.Server
	mu        sync.Mutex
	stats     []MetaStat
	objects   map[string]MetaObject
	audiences map[string]map[string]bool
}

// MetaStat is one ad set's day. Campaign-level insights add up a
// campaign's ad sets per day, as Meta's do.
type MetaStat struct {
	Account      string // act_…
	Currency     string // USD if empty
	CampaignID   string
	CampaignName string
	AdSetID      string
	AdSetName    string
	Date         string // YYYY-MM-DD
	Spend        ads.Micros
	Impressions  int64
	Clicks       int64
	// Purchases and PurchaseValue are reported under every purchase
	// action type Meta uses at once (omni_purchase, purchase, the pixel's
	// own), as Meta does; a client must count them once.
	Purchases     int64
	PurchaseValue ads.Micros
}

// MetaObject is a campaign or an ad set.
type MetaObject struct {
	ID     string
	Name   string
	Status string // ACTIVE, PAUSED, …
	// DailyBudget in minor units; 0 when the budget is elsewhere.
	DailyBudget int64
}

// NewMeta starts a Graph API stand-in. Close it when done.
func NewMeta() *Meta {
	m := &Meta{Token: MetaToken, PageSize: 2, MinDailyBudget: 100,
		objects: map[string]MetaObject{}, audiences: map[string]map[string]bool{}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	m.URL = m.srv.URL + "/" + MetaVersion
	return m
}

// Close shuts the server down.
func (m *Meta) Close() { m.srv.Close() }

// AddStats seeds insights.
func (m *Meta) AddStats(s ...MetaStat) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats = append(m.stats, s...)
}

// SetObject creates or replaces a campaign or an ad set.
func (m *Meta) SetObject(o MetaObject) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[o.ID] = o
}

// Object returns a campaign or an ad set as it stands.
func (m *Meta) Object(id string) (MetaObject, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[id]
	return o, ok
}

// Audience returns a Custom Audience's members, sorted, each the values
// of one uploaded row joined with "|".
func (m *Meta) Audience(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.audiences[id]))
}

func (m *Meta) serve(w http.ResponseWriter, r *http.Request) {
	req := m.record(r)
	if f, ok := m.fault(r.URL.Path); ok {
		f.write(w, false)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/"+MetaVersion+"/")
	if !ok {
		graphErr(w, 400, 2500, 0, "Unknown path components: "+r.URL.Path)
		return
	}
	if !m.authorized(req) {
		graphErr(w, 400, 190, 0, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	parts := strings.Split(path, "/")
	switch {
	case len(parts) == 2 && parts[1] == "insights" && r.Method == "GET":
		m.insights(w, r, parts[0], req.Query)
	case len(parts) == 2 && parts[1] == "users" && (r.Method == "POST" || r.Method == "DELETE"):
		m.users(w, r.Method, parts[0], req.Form)
	case len(parts) == 1 && r.Method == "GET":
		m.getObject(w, parts[0], req.Query)
	case len(parts) == 1 && r.Method == "POST":
		m.updateObject(w, parts[0], req.Form)
	default:
		graphErr(w, 400, 100, 0, fmt.Sprintf("Unsupported %s request.", r.Method))
	}
}

// authorized accepts the token as a bearer header or an access_token
// parameter, as Graph does.
func (m *Meta) authorized(req Request) bool {
	h := req.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "OAuth "} {
		if t, ok := strings.CutPrefix(h, p); ok {
			return t == m.Token
		}
	}
	return req.Query.Get("access_token") == m.Token || req.Form.Get("access_token") == m.Token
}

func graphErr(w http.ResponseWriter, status, code, subcode int, msg string) {
	GraphError(status, code, subcode, msg).write(w, false)
}

func (m *Meta) insights(w http.ResponseWriter, r *http.Request, account string, q url.Values) {
	if !strings.HasPrefix(account, "act_") {
		graphErr(w, 400, 100, 33, fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist", account))
		return
	}
	level := q.Get("level")
	if level != "campaign" && level != "adset" {
		graphErr(w, 400, 100, 0, "(#100) level must be one of the following values: ad, adset, campaign, account")
		return
	}
	if q.Get("time_increment") != "1" {
		graphErr(w, 400, 100, 0, "(#100) the stand-in serves daily insights only: time_increment=1")
		return
	}
	var tr struct{ Since, Until string }
	if err := json.Unmarshal([]byte(q.Get("time_range")), &tr); err != nil || !isDate(tr.Since) || !isDate(tr.Until) {
		graphErr(w, 400, 100, 0, "(#100) time_range must be {'since':YYYY-MM-DD,'until':YYYY-MM-DD}")
		return
	}
	fields := map[string]bool{}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		fields[strings.TrimSpace(f)] = true
	}
	rows := m.rows(account, level, tr.Since, tr.Until)

	size := 25
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		size = n
	}
	if m.PageSize > 0 && m.PageSize < size {
		size = m.PageSize
	}
	start := 0
	if a := q.Get("after"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(rows) {
			graphErr(w, 400, 100, 0, "(#100) Invalid cursor")
			return
		}
		start = n
	}
	end := min(start+size, len(rows))
	data := make([]map[string]any, 0, end-start)
	for _, row := range rows[start:end] {
		data = append(data, row.json(fields))
	}
	resp := map[string]any{"data": data}
	cursor := func(n int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(n))) }
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end)}}
		if end < len(rows) {
			nq := url.Values{}
			for k, v := range q {
				nq[k] = v
			}
			nq.Set("after", cursor(end))
			paging["next"] = "http://" + r.Host + r.URL.Path + "?" + nq.Encode()
		}
		resp["paging"] = paging
	}
	writeJSON(w, 200, resp)
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// rows adds up the seeded ad set days to the level asked, in Meta's order:
// by day, then campaign, then ad set.
func (m *Meta) rows(account, level, since, until string) []MetaStat {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum := map[string]*MetaStat{}
	var keys []string
	for _, s := range m.stats {
		if s.Account != account || s.Date < since || s.Date > until {
			continue
		}
		if level == "campaign" {
			s.AdSetID, s.AdSetName = "", ""
		}
		k := s.Date + "\x00" + s.CampaignID + "\x00" + s.AdSetID
		t, ok := sum[k]
		if !ok {
			c := s
			sum[k] = &c
			keys = append(keys, k)
			continue
		}
		t.Spend += s.Spend
		t.Impressions += s.Impressions
		t.Clicks += s.Clicks
		t.Purchases += s.Purchases
		t.PurchaseValue += s.PurchaseValue
	}
	sort.Strings(keys)
	out := make([]MetaStat, len(keys))
	for i, k := range keys {
		out[i] = *sum[k]
	}
	return out
}

// json writes a row as Meta does: numbers as strings, purchases under
// several action types, and only the fields asked for (with the dates,
// which Meta always adds).
func (s MetaStat) json(fields map[string]bool) map[string]any {
	cur := s.Currency
	if cur == "" {
		cur = "USD"
	}
	all := map[string]any{
		"account_id":       strings.TrimPrefix(s.Account, "act_"),
		"account_currency": cur,
		"campaign_id":      s.CampaignID,
		"campaign_name":    s.CampaignName,
		"adset_id":         s.AdSetID,
		"adset_name":       s.AdSetName,
		"spend":            trimMoney(s.Spend),
		"impressions":      strconv.FormatInt(s.Impressions, 10),
		"clicks":           strconv.FormatInt(s.Clicks, 10),
	}
	var actions, values []map[string]string
	if s.Clicks > 0 {
		actions = append(actions, map[string]string{"action_type": "link_click", "value": strconv.FormatInt(s.Clicks, 10)})
	}
	if s.Purchases > 0 {
		for _, t := range []string{"offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase"} {
			actions = append(actions, map[string]string{"action_type": t, "value": strconv.FormatInt(s.Purchases, 10)})
			values = append(values, map[string]string{"action_type": t, "value": trimMoney(s.PurchaseValue)})
		}
	}
	if actions != nil {
		all["actions"] = actions
	}
	if values != nil {
		all["action_values"] = values
	}
	out := map[string]any{"date_start": s.Date, "date_stop": s.Date}
	for k, v := range all {
		if fields[k] && v != "" {
			out[k] = v
		}
	}
	return out
}

// trimMoney writes an amount as Meta does: "5339.5", "12", "0.01".
func trimMoney(m ads.Micros) string {
	s := m.String()
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func (m *Meta) getObject(w http.ResponseWriter, id string, q url.Values) {
	o, ok := m.Object(id)
	if !ok {
		graphErr(w, 400, 100, 33, fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id))
		return
	}
	all := map[string]any{"name": o.Name, "status": o.Status, "effective_status": o.Status}
	if o.DailyBudget > 0 {
		all["daily_budget"] = strconv.FormatInt(o.DailyBudget, 10)
	}
	out := map[string]any{"id": o.ID}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		if v, ok := all[f]; ok {
			out[f] = v
		}
	}
	writeJSON(w, 200, out)
}

func (m *Meta) updateObject(w http.ResponseWriter, id string, form url.Values) {
	o, ok := m.Object(id)
	if !ok {
		graphErr(w, 400, 100, 33, fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id))
		return
	}
	if s := form.Get("status"); s != "" {
		switch s {
		case "ACTIVE", "PAUSED", "DELETED", "ARCHIVED":
			o.Status = s
		default:
			graphErr(w, 400, 100, 0, "(#100) Param status must be one of {ACTIVE, PAUSED, DELETED, ARCHIVED}")
			return
		}
	}
	if b := form.Get("daily_budget"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		switch {
		case err != nil:
			graphErr(w, 400, 100, 0, "(#100) Param daily_budget must be an integer")
			return
		case o.DailyBudget == 0:
			// The budget lives elsewhere (campaign budget optimization).
			GraphErrorUser(400, 100, 1885621, "Invalid parameter", "Budget Is Set on the Campaign",
				"You can't set an ad set budget when the campaign has a campaign budget.").write(w, false)
			return
		case n < m.MinDailyBudget:
			GraphErrorUser(400, 100, 0, "Invalid parameter", "Your Budget Is Too Low",
				fmt.Sprintf("The minimum daily budget is %d.", m.MinDailyBudget)).write(w, false)
			return
		}
		o.DailyBudget = n
	}
	var opts []string
	if e := form.Get("execution_options"); e != "" {
		if err := json.Unmarshal([]byte(e), &opts); err != nil {
			graphErr(w, 400, 100, 0, "(#100) execution_options must be a JSON array")
			return
		}
	}
	validateOnly := false
	for _, o := range opts {
		validateOnly = validateOnly || o == "validate_only"
	}
	if !validateOnly {
		m.SetObject(o)
	}
	writeJSON(w, 200, map[string]bool{"success": true})
}

// GraphErrorUser is GraphError with the title and message Meta writes for
// a person (error_user_title, error_user_msg).
func GraphErrorUser(status, code, subcode int, message, title, userMsg string) Fault {
	e := map[string]any{"message": message, "type": "OAuthException", "code": code,
		"error_user_title": title, "error_user_msg": userMsg, "fbtrace_id": "AbCdEfStandIn"}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return Fault{Status: status, Body: string(b)}
}

// metaHashed are schema keys whose values must be SHA-256 hex.
var metaHashed = map[string]bool{"EMAIL_SHA256": true, "PHONE_SHA256": true, "EMAIL": true, "PHONE": true}

func (m *Meta) users(w http.ResponseWriter, method, audienceID string, form url.Values) {
	var payload struct {
		Schema json.RawMessage   `json:"schema"`
		Data   []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(form.Get("payload")), &payload); err != nil {
		graphErr(w, 400, 100, 0, "(#100) The parameter payload is required")
		return
	}
	var schema []string
	var one string
	if json.Unmarshal(payload.Schema, &one) == nil && one != "" {
		schema = []string{one}
	} else if json.Unmarshal(payload.Schema, &schema) != nil || len(schema) == 0 {
		graphErr(w, 400, 100, 0, "(#100) payload.schema must be a key or a list of keys")
		return
	}
	if len(payload.Data) > 10_000 {
		graphErr(w, 400, 100, 0, fmt.Sprintf("(#100) Too many users in this request: %d; the limit is 10000", len(payload.Data)))
		return
	}
	var session struct {
		ID        json.Number `json:"session_id"`
		BatchSeq  int         `json:"batch_seq"`
		LastBatch *bool       `json:"last_batch_flag"`
		Estimated int         `json:"estimated_num_total"`
	}
	sessionID := ""
	if s := form.Get("session"); s != "" {
		if err := json.Unmarshal([]byte(s), &session); err != nil || session.ID == "" || session.BatchSeq < 1 || session.LastBatch == nil {
			graphErr(w, 400, 100, 0, "(#100) session needs session_id, batch_seq (from 1) and last_batch_flag")
			return
		}
		sessionID = session.ID.String()
	} else {
		sessionID = strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	invalid := map[string]string{}
	var valid []string
	for _, raw := range payload.Data {
		var row []string
		if len(schema) == 1 {
			var v string
			if json.Unmarshal(raw, &v) != nil {
				_ = json.Unmarshal(raw, &row)
			} else {
				row = []string{v}
			}
		} else {
			_ = json.Unmarshal(raw, &row)
		}
		if len(row) != len(schema) {
			invalid[string(raw)] = "Wrong number of values for the schema"
			continue
		}
		bad := false
		for i, v := range row {
			if metaHashed[schema[i]] && v != "" && !isSHA256Hex(v) {
				bad = true
			}
		}
		if bad {
			invalid[strings.Join(row, "|")] = "Invalid SHA-256 hash"
			continue
		}
		valid = append(valid, strings.Join(row, "|"))
	}
	m.mu.Lock()
	set := m.audiences[audienceID]
	if set == nil {
		set = map[string]bool{}
		m.audiences[audienceID] = set
	}
	for _, k := range valid {
		if method == "POST" {
			set[k] = true
		} else {
			delete(set, k)
		}
	}
	m.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"audience_id":           audienceID,
		"session_id":            sessionID,
		"num_received":          len(payload.Data),
		"num_invalid_entries":   len(invalid),
		"invalid_entry_samples": invalid,
	})
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
