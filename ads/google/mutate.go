package google

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nudgehq/nudge/ads"
)

// CampaignStatus is a status Nudge sets on a campaign.
type CampaignStatus string

const (
	Enabled CampaignStatus = "ENABLED"
	Paused  CampaignStatus = "PAUSED"
)

// Mutation is Google's answer to a change.
type Mutation struct {
	// ResourceName of the changed resource; empty for a validate-only
	// request, which Google answers without results.
	ResourceName string
	RequestID    string
}

// SetCampaignStatus pauses or enables a campaign (campaigns:mutate with
// updateMask "status"). validateOnly asks Google to check the change
// without making it.
func (c *Client) SetCampaignStatus(ctx context.Context, campaignID string, status CampaignStatus, validateOnly bool) (Mutation, error) {
	if err := checkNumericID("campaign ID", campaignID); err != nil {
		return Mutation{}, err
	}
	if status != Enabled && status != Paused {
		return Mutation{}, fmt.Errorf("google: campaign status %q: Nudge sets only ENABLED or PAUSED", status)
	}
	return c.mutate(ctx, "campaigns", map[string]any{
		"updateMask": "status",
		"update": map[string]any{
			"resourceName": "customers/" + c.customer + "/campaigns/" + campaignID,
			"status":       status,
		},
	}, validateOnly)
}

// SetBudget sets a campaign budget's daily amount (campaignBudgets:mutate
// with updateMask "amountMicros"). A budget shared by several campaigns
// changes for all of them. validateOnly asks Google to check the change
// without making it.
func (c *Client) SetBudget(ctx context.Context, budgetID string, amount ads.Micros, validateOnly bool) (Mutation, error) {
	if err := checkNumericID("campaign budget ID", budgetID); err != nil {
		return Mutation{}, err
	}
	if amount <= 0 {
		return Mutation{}, fmt.Errorf("google: budget amount %s is not positive", amount)
	}
	return c.mutate(ctx, "campaignBudgets", map[string]any{
		"updateMask": "amountMicros",
		"update": map[string]any{
			"resourceName": "customers/" + c.customer + "/campaignBudgets/" + budgetID,
			// int64 fields are strings in Google's JSON.
			"amountMicros": strconv.FormatInt(int64(amount), 10),
		},
	}, validateOnly)
}

// mutate sends one operation to a service's :mutate method.
func (c *Client) mutate(ctx context.Context, service string, op map[string]any, validateOnly bool) (Mutation, error) {
	path := "customers/" + c.customer + "/" + service + ":mutate"
	body, reqID, err := c.api.post(ctx, path, c.headers(), map[string]any{
		"operations":   []any{op},
		"validateOnly": validateOnly,
	})
	if err != nil {
		return Mutation{}, err
	}
	var r struct {
		Results []struct {
			ResourceName string `json:"resourceName"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Mutation{}, fmt.Errorf("google: POST /%s: unexpected answer %s", path, snippet(body))
	}
	m := Mutation{RequestID: reqID}
	if len(r.Results) > 0 {
		m.ResourceName = r.Results[0].ResourceName
	} else if !validateOnly {
		return m, fmt.Errorf("google: POST /%s: Google answered no result for the change", path)
	}
	return m, nil
}
