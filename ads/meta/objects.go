package meta

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// Status is the status an advertiser sets on a campaign or ad set.
type Status string

const (
	Active Status = "ACTIVE"
	Paused Status = "PAUSED"
)

// Object is a campaign or an ad set: the fields ad rules read and change.
type Object struct {
	ID     string
	Name   string
	Status Status // as set: ACTIVE, PAUSED, DELETED or ARCHIVED
	// EffectiveStatus is what delivery does, such as CAMPAIGN_PAUSED for
	// an active ad set in a paused campaign.
	EffectiveStatus string
	// DailyBudget is in the account currency's minor units (cents for
	// USD; whole yen for JPY), as Meta takes it. 0: the budget is set
	// elsewhere (on the ad sets, or as a lifetime budget).
	DailyBudget int64
}

// Object reads a campaign or an ad set.
func (c *Client) Object(ctx context.Context, id string) (Object, error) {
	if err := checkID("object ID", id, false); err != nil {
		return Object{}, err
	}
	var r struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		Status          Status `json:"status"`
		EffectiveStatus string `json:"effective_status"`
		DailyBudget     number `json:"daily_budget"`
	}
	q := url.Values{"fields": {"id,name,status,effective_status,daily_budget"}}
	if err := c.call(ctx, "GET", c.endpoint(id, q), nil, &r); err != nil {
		return Object{}, err
	}
	budget, err := r.DailyBudget.int()
	if err != nil {
		return Object{}, fmt.Errorf("meta: GET /%s: daily_budget %q is not a whole number", id, r.DailyBudget)
	}
	return Object{ID: r.ID, Name: r.Name, Status: r.Status, EffectiveStatus: r.EffectiveStatus, DailyBudget: budget}, nil
}

// Change is what Update sets; zero fields are left as they are.
type Change struct {
	Status Status
	// DailyBudget in the account currency's minor units.
	DailyBudget int64
	// ValidateOnly asks Meta to check the change without making it
	// (execution_options=["validate_only"]): a dry run that still hears
	// "budget too low" or a campaign-budget conflict.
	ValidateOnly bool
}

// Update changes a campaign's or an ad set's status or daily budget. Meta
// answers {"success": true}; anything else is an error.
func (c *Client) Update(ctx context.Context, id string, ch Change) error {
	if err := checkID("object ID", id, false); err != nil {
		return err
	}
	form := url.Values{}
	switch ch.Status {
	case "":
	case Active, Paused:
		form.Set("status", string(ch.Status))
	default:
		return fmt.Errorf("meta: status %q: Nudge sets only ACTIVE or PAUSED", ch.Status)
	}
	switch {
	case ch.DailyBudget < 0:
		return fmt.Errorf("meta: daily budget %d is negative", ch.DailyBudget)
	case ch.DailyBudget > 0:
		form.Set("daily_budget", strconv.FormatInt(ch.DailyBudget, 10))
	}
	if len(form) == 0 {
		return errors.New("meta: an update needs a status or a daily budget")
	}
	if ch.ValidateOnly {
		form.Set("execution_options", `["validate_only"]`)
	}
	var r struct {
		Success bool `json:"success"`
	}
	if err := c.call(ctx, "POST", c.endpoint(id, nil), form, &r); err != nil {
		return err
	}
	if !r.Success {
		return fmt.Errorf("meta: POST /%s: Meta did not answer success", id)
	}
	return nil
}
