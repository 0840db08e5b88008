package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/ads"
)

// Level is how insights are broken down.
type Level string

const (
	LevelCampaign Level = "campaign"
	LevelAdSet    Level = "adset"
)

// DefaultPurchaseActions are the action types read as purchases, in order:
// the first one a row has is used, and only that one, because Meta reports
// one purchase under several overlapping types. "omni_purchase" counts
// purchases on every channel (website, app, offline), as Ads Manager's
// Purchases column does; rows without it (older setups) fall back to
// "purchase", then to the pixel's own "offsite_conversion.fb_pixel_purchase".
// Values follow the same choice, from action_values.
var DefaultPurchaseActions = []string{"omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase"}

// Insight is one day of one campaign (or ad set) in an ad account.
type Insight struct {
	Level        Level
	AccountID    string // as Meta reports it, without "act_"
	Currency     string // the account currency, such as USD
	CampaignID   string
	CampaignName string
	AdSetID      string // empty at campaign level
	AdSetName    string
	Date         string // YYYY-MM-DD in the ad account's time zone
	Spend        ads.Micros
	Impressions  int64
	Clicks       int64
	// Conversions are purchases (see DefaultPurchaseActions); fractional
	// when Meta models them.
	Conversions     float64
	ConversionValue ads.Micros
	// PurchaseAction is the action type Conversions came from, empty
	// when the row had none.
	PurchaseAction string
}

// insightsPageSize asks for large pages: fewer round trips against the
// account's rate limit. Meta may return fewer.
const insightsPageSize = 500

// maxPages stops a paging loop that does not end.
const maxPages = 10_000

// Insights reads one row per day and per campaign (LevelCampaign) or ad set
// (LevelAdSet) of an ad account ("act_…"), for the days since to until
// ("2006-01-02", both included, in the account's time zone), following
// Meta's paging to the end. Days without delivery have no row.
func (c *Client) Insights(ctx context.Context, account string, level Level, since, until string) ([]Insight, error) {
	if err := checkID("ad account", account, true); err != nil {
		return nil, err
	}
	if level != LevelCampaign && level != LevelAdSet {
		return nil, fmt.Errorf("meta: insights level %q is not campaign or adset", level)
	}
	if err := checkRange(since, until); err != nil {
		return nil, err
	}
	fields := []string{"account_id", "account_currency", "campaign_id", "campaign_name"}
	if level == LevelAdSet {
		fields = append(fields, "adset_id", "adset_name")
	}
	fields = append(fields, "spend", "impressions", "clicks", "actions", "action_values", "date_start", "date_stop")
	tr, _ := json.Marshal(map[string]string{"since": since, "until": until})
	q := url.Values{
		"level":          {string(level)},
		"time_increment": {"1"},
		"time_range":     {string(tr)},
		"fields":         {strings.Join(fields, ",")},
		"limit":          {strconv.Itoa(insightsPageSize)},
	}
	next := c.endpoint(account+"/insights", q)
	var out []Insight
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("meta: GET /%s/insights: more than %d pages; narrow the range", account, maxPages)
		}
		var resp struct {
			Data   []insightRow `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.call(ctx, "GET", next, nil, &resp); err != nil {
			return nil, err
		}
		for _, r := range resp.Data {
			in, err := c.insight(level, r)
			if err != nil {
				return nil, fmt.Errorf("meta: GET /%s/insights: %w", account, err)
			}
			out = append(out, in)
		}
		if resp.Paging.Next != "" {
			if err := c.sameHost(resp.Paging.Next); err != nil {
				return nil, err
			}
			if resp.Paging.Next == next {
				return nil, fmt.Errorf("meta: GET /%s/insights: paging.next repeats the page just read", account)
			}
		}
		next = resp.Paging.Next
	}
	return out, nil
}

// sameHost refuses a paging link to another host: the client would send
// it the access token.
func (c *Client) sameHost(link string) error {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return fmt.Errorf("meta: paging.next %q is not on %s; not following it", link, c.base.Host)
	}
	return nil
}

func checkRange(since, until string) error {
	a, err1 := time.Parse(time.DateOnly, since)
	b, err2 := time.Parse(time.DateOnly, until)
	switch {
	case err1 != nil:
		return fmt.Errorf("meta: since %q is not a date like 2006-01-02", since)
	case err2 != nil:
		return fmt.Errorf("meta: until %q is not a date like 2006-01-02", until)
	case b.Before(a):
		return fmt.Errorf("meta: until %s is before since %s", until, since)
	}
	return nil
}

// insightRow is one element of Insights' data as Meta sends it: numbers
// are strings.
type insightRow struct {
	AccountID       string   `json:"account_id"`
	AccountCurrency string   `json:"account_currency"`
	CampaignID      string   `json:"campaign_id"`
	CampaignName    string   `json:"campaign_name"`
	AdSetID         string   `json:"adset_id"`
	AdSetName       string   `json:"adset_name"`
	Spend           number   `json:"spend"`
	Impressions     number   `json:"impressions"`
	Clicks          number   `json:"clicks"`
	Actions         []action `json:"actions"`
	ActionValues    []action `json:"action_values"`
	DateStart       string   `json:"date_start"`
	DateStop        string   `json:"date_stop"`
}

type action struct {
	Type  string `json:"action_type"`
	Value number `json:"value"`
}

// number is a JSON number Meta may send as a string ("361324") or not.
type number string

func (n *number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = number(s)
		return nil
	}
	if string(b) == "null" {
		*n = ""
		return nil
	}
	var f json.Number
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*n = number(f)
	return nil
}

func (n number) int() (int64, error) {
	if n == "" {
		return 0, nil
	}
	return strconv.ParseInt(string(n), 10, 64)
}

func (n number) micros() (ads.Micros, error) {
	if n == "" {
		return 0, nil
	}
	return ads.ParseMicros(string(n))
}

func (c *Client) insight(level Level, r insightRow) (Insight, error) {
	in := Insight{
		Level: level, AccountID: r.AccountID, Currency: r.AccountCurrency,
		CampaignID: r.CampaignID, CampaignName: r.CampaignName,
		AdSetID: r.AdSetID, AdSetName: r.AdSetName, Date: r.DateStart,
	}
	if r.DateStart == "" || r.DateStop != r.DateStart {
		return in, fmt.Errorf("row for campaign %s spans %q to %q, not one day", r.CampaignID, r.DateStart, r.DateStop)
	}
	var err error
	if in.Spend, err = r.Spend.micros(); err != nil {
		return in, fmt.Errorf("campaign %s on %s: spend: %w", r.CampaignID, r.DateStart, err)
	}
	if in.Impressions, err = r.Impressions.int(); err != nil {
		return in, fmt.Errorf("campaign %s on %s: impressions %q: %w", r.CampaignID, r.DateStart, r.Impressions, err)
	}
	if in.Clicks, err = r.Clicks.int(); err != nil {
		return in, fmt.Errorf("campaign %s on %s: clicks %q: %w", r.CampaignID, r.DateStart, r.Clicks, err)
	}
	for _, t := range c.purchases {
		count, ok := find(r.Actions, t)
		if !ok {
			continue
		}
		in.PurchaseAction = t
		if in.Conversions, err = strconv.ParseFloat(string(count), 64); err != nil {
			return in, fmt.Errorf("campaign %s on %s: %s count %q is not a number", r.CampaignID, r.DateStart, t, count)
		}
		if v, ok := find(r.ActionValues, t); ok {
			if in.ConversionValue, err = v.micros(); err != nil {
				return in, fmt.Errorf("campaign %s on %s: %s value: %w", r.CampaignID, r.DateStart, t, err)
			}
		}
		break
	}
	return in, nil
}

func find(as []action, t string) (number, bool) {
	for _, a := range as {
		if a.Type == t {
			return a.Value, true
		}
	}
	return "", false
}
