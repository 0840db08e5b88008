package google

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/nudgehq/nudge/ads"
)

// Campaign is one campaign's status and budget as they stand now.
type Campaign struct {
	ID     string
	Status string // ENABLED, PAUSED or REMOVED
	// BudgetID is the campaign budget's ID (a budget may be shared by
	// several campaigns); BudgetAmount its daily amount.
	BudgetID     string
	BudgetAmount ads.Micros
}

// Campaign reads one campaign's status and its budget's daily amount now,
// with googleAds:searchStream. A campaign Google does not return (no such
// ID in the account, or not visible to the credentials) is an error.
func (c *Client) Campaign(ctx context.Context, campaignID string) (Campaign, error) {
	if err := checkNumericID("campaign ID", campaignID); err != nil {
		return Campaign{}, err
	}
	query := "SELECT campaign.id, campaign.status, campaign.campaign_budget, campaign_budget.amount_micros, " +
		"campaign_budget.resource_name FROM campaign WHERE campaign.id = " + campaignID
	var out []Campaign
	err := c.search(ctx, query, func(raw json.RawMessage) error {
		var r struct {
			Campaign struct {
				ID             int64String `json:"id"`
				Status         string      `json:"status"`
				CampaignBudget string      `json:"campaignBudget"`
			} `json:"campaign"`
			CampaignBudget struct {
				ResourceName string      `json:"resourceName"`
				AmountMicros int64String `json:"amountMicros"`
			} `json:"campaignBudget"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("unexpected row %s: %w", snippet(raw), err)
		}
		camp := Campaign{ID: strconv.FormatInt(int64(r.Campaign.ID), 10), Status: r.Campaign.Status,
			BudgetAmount: ads.Micros(r.CampaignBudget.AmountMicros)}
		budget := r.Campaign.CampaignBudget
		if budget == "" {
			budget = r.CampaignBudget.ResourceName
		}
		if i := strings.LastIndex(budget, "/"); i >= 0 {
			camp.BudgetID = budget[i+1:]
		}
		out = append(out, camp)
		return nil
	})
	if err != nil {
		return Campaign{}, err
	}
	want, _ := strconv.ParseInt(campaignID, 10, 64)
	for _, camp := range out {
		if camp.ID == strconv.FormatInt(want, 10) {
			return camp, nil
		}
	}
	return Campaign{}, fmt.Errorf("google: campaign %s: Google returned no such campaign in customer %s", campaignID, c.customer)
}
