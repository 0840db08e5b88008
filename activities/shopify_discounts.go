package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
)

// Real discount codes: with NUDGE_SHOPIFY_SHOP and NUDGE_SHOPIFY_ADMIN_TOKEN
// set, each code IssueDiscountCode hands a journey is also created in the
// store through the Admin GraphQL API (discountCodeBasicCreate), so it works
// at checkout: a percentage off all items, used once (usageLimit 1, once
// per customer), for that customer when the contact is a Shopify customer
// (a numeric contact ID), else for anyone, from now until
// NUDGE_DISCOUNT_CODE_DAYS from now.
//
// The code is stored in Nudge first (Store.DiscountCodeFor), then created
// in Shopify, then marked created on its row (ShopifyID, ShopifyCreatedAt).
// A retry after a lost answer finds the row not yet marked and creates the
// code again; see CreateDiscount for why that is safe.

// Discount is one code to create in the store.
type Discount struct {
	Code      string
	ContactID string // a numeric ID is a Shopify customer's
	Campaign  string // the journey
	Percent   int
}

// DiscountCreator creates a discount code in the store and returns its ID
// there. Activities.Discounts is nil when codes live only in Nudge.
type DiscountCreator interface {
	CreateDiscount(ctx context.Context, d Discount) (id string, err error)
}

// ShopifyDiscounts creates codes through Shopify's Admin GraphQL API.
type ShopifyDiscounts struct {
	endpoint string // config.Config.ShopifyAdminEndpoint
	token    string // X-Shopify-Access-Token
	valid    time.Duration
	client   *http.Client
	now      func() time.Time
}

// NewShopifyDiscounts makes the client for the Admin GraphQL URL endpoint,
// with an access token of an app allowed write_discounts (and read_discounts,
// to find a code it already created); codes stay valid for days.
func NewShopifyDiscounts(endpoint, token string, days int) (*ShopifyDiscounts, error) {
	if endpoint == "" || token == "" {
		return nil, errors.New("the Shopify Admin API needs its URL and an access token")
	}
	if days < 1 {
		return nil, fmt.Errorf("codes must be valid for at least a day, not %d", days)
	}
	return &ShopifyDiscounts{
		endpoint: endpoint, token: token, valid: time.Duration(days) * 24 * time.Hour,
		// Under the 10 s a discount code's local activity may take.
		client: &http.Client{Timeout: 8 * time.Second},
		now:    time.Now,
	}, nil
}

const shopifyDiscountCreate = `mutation nudgeDiscountCodeCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}`

const shopifyDiscountByCode = `query nudgeDiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount { ... on DiscountCodeBasic { title } }
  }
}`

// shopifyUserError is a mutation's complaint about its input.
type shopifyUserError struct {
	Field   []string `json:"field"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
}

// taken reports whether e says the code already exists in the store.
func (e shopifyUserError) taken() bool {
	onCode := len(e.Field) > 0 && e.Field[len(e.Field)-1] == "code"
	return onCode && (e.Code == "TAKEN" || strings.Contains(strings.ToLower(e.Message), "must be unique"))
}

// CreateDiscount creates d in the store and returns its Shopify ID.
//
// The idempotency rule: Nudge's codes are random and unique in Nudge, so if
// Shopify answers that the code is taken, the discount with it is the one
// an earlier attempt created and whose answer was lost. CreateDiscount then
// looks the code up (codeDiscountNodeByCode) and, when that discount bears
// Nudge's title for d, returns its ID as a success. A taken code under
// another title belongs to someone else: that is an error, as is any other
// userError, naming the field and Shopify's message; neither is retried.
func (s *ShopifyDiscounts) CreateDiscount(ctx context.Context, d Discount) (string, error) {
	start := s.now().UTC().Truncate(time.Second)
	eligible := map[string]any{"all": "ALL"}
	if gid := shopifyCustomerGID(d.ContactID); gid != "" {
		eligible = map[string]any{"customers": map[string]any{"add": []string{gid}}}
	}
	input := map[string]any{
		"title":                  discountTitle(d),
		"code":                   d.Code,
		"startsAt":               start.Format(time.RFC3339),
		"endsAt":                 start.Add(s.valid).Format(time.RFC3339),
		"usageLimit":             1,
		"appliesOncePerCustomer": true,
		"context":                eligible,
		"customerGets": map[string]any{
			"value": map[string]any{"percentage": float64(d.Percent) / 100},
			"items": map[string]any{"all": true},
		},
	}
	var created struct {
		Result *struct {
			Node *struct {
				ID string `json:"id"`
			} `json:"codeDiscountNode"`
			UserErrors []shopifyUserError `json:"userErrors"`
		} `json:"discountCodeBasicCreate"`
	}
	if err := s.graphQL(ctx, shopifyDiscountCreate, map[string]any{"basicCodeDiscount": input}, &created); err != nil {
		return "", fmt.Errorf("create discount code %s in Shopify: %w", d.Code, err)
	}
	res := created.Result
	if res == nil {
		return "", fmt.Errorf("create discount code %s in Shopify: the answer has no discountCodeBasicCreate", d.Code)
	}
	if len(res.UserErrors) > 0 {
		var others []string
		for _, e := range res.UserErrors {
			if !e.taken() {
				others = append(others, fmt.Sprintf("%s: %s", strings.Join(e.Field, "."), e.Message))
			}
		}
		if len(others) > 0 {
			msg := fmt.Sprintf("Shopify refused discount code %s: %s", d.Code, strings.Join(others, "; "))
			return "", temporal.NewNonRetryableApplicationError(msg, "ShopifyUserError", nil)
		}
		return s.existing(ctx, d)
	}
	if res.Node == nil || res.Node.ID == "" {
		return "", fmt.Errorf("create discount code %s in Shopify: the answer has no codeDiscountNode ID", d.Code)
	}
	return res.Node.ID, nil
}

// existing returns the ID of the discount an earlier attempt created for d.
func (s *ShopifyDiscounts) existing(ctx context.Context, d Discount) (string, error) {
	var found struct {
		Node *struct {
			ID       string `json:"id"`
			Discount struct {
				Title string `json:"title"`
			} `json:"codeDiscount"`
		} `json:"codeDiscountNodeByCode"`
	}
	if err := s.graphQL(ctx, shopifyDiscountByCode, map[string]any{"code": d.Code}, &found); err != nil {
		return "", fmt.Errorf("look up discount code %s in Shopify: %w", d.Code, err)
	}
	switch {
	case found.Node == nil || found.Node.ID == "":
		// Taken a moment ago, gone now (deleted?): try again later.
		return "", fmt.Errorf("Shopify says discount code %s is taken, but finds no discount with it", d.Code)
	case found.Node.Discount.Title != discountTitle(d):
		msg := fmt.Sprintf("discount code %s is taken in Shopify by another discount (%q, %s), not Nudge's", d.Code, found.Node.Discount.Title, found.Node.ID)
		return "", temporal.NewNonRetryableApplicationError(msg, "ShopifyCodeTaken", nil)
	}
	return found.Node.ID, nil
}

// discountTitle is the discount's name in the Shopify admin; it holds the
// code, so it tells Nudge's discount for d from any other.
func discountTitle(d Discount) string {
	return fmt.Sprintf("Nudge %s %d%%: %s", d.Campaign, d.Percent, d.Code)
}

// shopifyCustomerGID is the Shopify customer a contact is, or "": Nudge's
// contact ID for a Shopify customer is the numeric customer ID.
func shopifyCustomerGID(contactID string) string {
	if contactID == "" || len(contactID) > 20 || strings.Trim(contactID, "0123456789") != "" {
		return ""
	}
	return "gid://shopify/Customer/" + contactID
}

// graphQL posts one query and decodes its data into out. Top-level errors
// (throttling, access) and HTTP failures are errors worth retrying.
func (s *ShopifyDiscounts) graphQL(ctx context.Context, query string, variables map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Shopify-Access-Token", s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d from the Admin API: %s", resp.StatusCode, shopifyClip(raw))
	}
	var gql struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &gql); err != nil {
		return fmt.Errorf("the Admin API's answer is not JSON: %v", err)
	}
	if len(gql.Errors) > 0 {
		var msgs []string
		for _, e := range gql.Errors {
			m := e.Message
			if e.Extensions.Code != "" {
				m += " (" + e.Extensions.Code + ")"
			}
			msgs = append(msgs, m)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	if len(gql.Data) == 0 || string(gql.Data) == "null" {
		return errors.New("the Admin API's answer has no data")
	}
	return json.Unmarshal(gql.Data, out)
}

func shopifyClip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// createInStore creates dc in the store and records it there.
func (a *Activities) createInStore(ctx context.Context, dc *models.DiscountCode) error {
	id, err := a.Discounts.CreateDiscount(ctx, Discount{Code: dc.Code, ContactID: dc.ContactID, Campaign: dc.Campaign, Percent: dc.Percent})
	if err != nil {
		return err
	}
	return a.Store.DiscountCreatedInShopify(ctx, dc.ID, id, time.Now())
}
