package google

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/ads"
)

// CampaignDay is one day of one campaign.
type CampaignDay struct {
	Date         string // YYYY-MM-DD in the account's time zone
	CampaignID   string
	CampaignName string
	Status       string // ENABLED, PAUSED or REMOVED
	// BudgetID is the campaign budget's ID (a budget may be shared by
	// several campaigns); BudgetAmount its daily amount.
	BudgetID     string
	BudgetAmount ads.Micros
	Cost         ads.Micros
	Impressions  int64
	Clicks       int64
	// Conversions and ConversionValue are the account's primary
	// conversion actions, fractional under data-driven attribution.
	Conversions     float64
	ConversionValue ads.Micros
}

// CampaignStats reads one row per campaign and day from since to until
// ("2006-01-02", both included, in the account's time zone), with
// googleAds:searchStream. Days without impressions have no row.
func (c *Client) CampaignStats(ctx context.Context, since, until string) ([]CampaignDay, error) {
	a, err1 := time.Parse(time.DateOnly, since)
	b, err2 := time.Parse(time.DateOnly, until)
	switch {
	case err1 != nil:
		return nil, fmt.Errorf("google: since %q is not a date like 2006-01-02", since)
	case err2 != nil:
		return nil, fmt.Errorf("google: until %q is not a date like 2006-01-02", until)
	case b.Before(a):
		return nil, fmt.Errorf("google: until %s is before since %s", until, since)
	}
	query := "SELECT segments.date, campaign.id, campaign.name, campaign.status, campaign.campaign_budget, " +
		"campaign_budget.amount_micros, metrics.cost_micros, metrics.impressions, metrics.clicks, " +
		"metrics.conversions, metrics.conversions_value FROM campaign " +
		"WHERE segments.date BETWEEN '" + since + "' AND '" + until + "' ORDER BY segments.date, campaign.id"
	var out []CampaignDay
	err := c.search(ctx, query, func(raw json.RawMessage) error {
		var r struct {
			Segments struct {
				Date string `json:"date"`
			} `json:"segments"`
			Campaign struct {
				ID             int64String `json:"id"`
				Name           string      `json:"name"`
				Status         string      `json:"status"`
				CampaignBudget string      `json:"campaignBudget"`
			} `json:"campaign"`
			CampaignBudget struct {
				AmountMicros int64String `json:"amountMicros"`
			} `json:"campaignBudget"`
			Metrics struct {
				CostMicros       int64String `json:"costMicros"`
				Impressions      int64String `json:"impressions"`
				Clicks           int64String `json:"clicks"`
				Conversions      json.Number `json:"conversions"`
				ConversionsValue json.Number `json:"conversionsValue"`
			} `json:"metrics"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("unexpected row %s: %w", snippet(raw), err)
		}
		d := CampaignDay{
			Date: r.Segments.Date, CampaignID: strconv.FormatInt(int64(r.Campaign.ID), 10), CampaignName: r.Campaign.Name,
			Status:       r.Campaign.Status,
			BudgetAmount: ads.Micros(r.CampaignBudget.AmountMicros),
			Cost:         ads.Micros(r.Metrics.CostMicros),
			Impressions:  int64(r.Metrics.Impressions), Clicks: int64(r.Metrics.Clicks),
		}
		if i := strings.LastIndex(r.Campaign.CampaignBudget, "/"); i >= 0 {
			d.BudgetID = r.Campaign.CampaignBudget[i+1:]
		}
		if r.Metrics.Conversions != "" {
			f, err := r.Metrics.Conversions.Float64()
			if err != nil {
				return fmt.Errorf("campaign %s on %s: conversions %q: %w", d.CampaignID, d.Date, r.Metrics.Conversions, err)
			}
			d.Conversions = f
		}
		if r.Metrics.ConversionsValue != "" {
			// conversions_value is a double in currency units; read its
			// decimal text exactly rather than through a float.
			v, err := ads.ParseMicros(roundDecimal(string(r.Metrics.ConversionsValue)))
			if err != nil {
				return fmt.Errorf("campaign %s on %s: conversions value: %w", d.CampaignID, d.Date, err)
			}
			d.ConversionValue = v
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// roundDecimal brings a JSON number to at most six decimals (micros),
// rounding half up, and writes exponents out. JSON doubles such as
// 0.30000000000000004 carry noise below a micro.
func roundDecimal(s string) string {
	if !strings.ContainsAny(s, "eE") {
		whole, frac, ok := strings.Cut(s, ".")
		if !ok || len(frac) <= 6 {
			return s
		}
		if frac[6] < '5' {
			return whole + "." + frac[:6]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// search runs a GAQL query with googleAds:searchStream and calls row for
// each result. The answer is a JSON array of batches, each with its
// results; an error after the first batch arrives as an element too.
func (c *Client) search(ctx context.Context, query string, row func(json.RawMessage) error) error {
	path := "customers/" + c.customer + "/googleAds:searchStream"
	body, reqID, err := c.api.post(ctx, path, c.headers(), map[string]string{"query": query})
	if err != nil {
		return err
	}
	op := "POST /" + path
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return fmt.Errorf("google: %s: answer is not an array of batches: %s", op, snippet(body))
	}
	for dec.More() {
		var batch struct {
			Results   []json.RawMessage `json:"results"`
			RequestID string            `json:"requestId"`
			Error     *rpcStatus        `json:"error"`
		}
		if err := dec.Decode(&batch); err != nil {
			return fmt.Errorf("google: %s: unexpected batch: %w", op, err)
		}
		if batch.Error != nil {
			e := &Error{Op: op, HTTPStatus: 200, RequestID: reqID}
			e.fill(batch.Error)
			return e
		}
		for _, r := range batch.Results {
			if err := row(r); err != nil {
				return fmt.Errorf("google: %s: %w", op, err)
			}
		}
	}
	return nil
}

// int64String is an int64, which Google's JSON writes as a string.
type int64String int64

func (n *int64String) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a whole number", b)
	}
	*n = int64String(v)
	return nil
}
