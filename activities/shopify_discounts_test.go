package activities_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// fakeShopify stands in for the Admin GraphQL API, answering in its shape:
// discountCodeBasicCreate creates a discount (a code already there is a
// TAKEN userError), codeDiscountNodeByCode finds one.
type fakeShopify struct {
	t        *testing.T
	mu       sync.Mutex
	requests []shopifyRequest
	tokens   []string
	paths    []string
	// discounts by code: the ID and title.
	discounts map[string][2]string
	// loseNext drops the answer to the next create after creating it.
	loseNext bool
	// userErrors, when set, is the answer to the next create.
	userErrors []map[string]any
}

type shopifyRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
}

func newFakeShopify(t *testing.T) (*fakeShopify, *httptest.Server) {
	f := &fakeShopify{t: t, discounts: map[string][2]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeShopify) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req shopifyRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.t.Errorf("request body: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	f.tokens = append(f.tokens, r.Header.Get("X-Shopify-Access-Token"))
	f.paths = append(f.paths, r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.Contains(req.Query, "discountCodeBasicCreate"):
		in, _ := req.Variables["basicCodeDiscount"].(map[string]any)
		code, _ := in["code"].(string)
		title, _ := in["title"].(string)
		result := map[string]any{"codeDiscountNode": nil, "userErrors": []any{}}
		switch _, exists := f.discounts[code]; {
		case f.userErrors != nil:
			result["userErrors"], f.userErrors = f.userErrors, nil
		case exists:
			result["userErrors"] = []any{map[string]any{"field": []string{"basicCodeDiscount", "code"}, "code": "TAKEN",
				"message": "Code must be unique. Please try a different code."}}
		default:
			id := "gid://shopify/DiscountCodeNode/" + string(rune('1'+len(f.discounts)))
			f.discounts[code] = [2]string{id, title}
			result["codeDiscountNode"] = map[string]any{"id": id}
			if f.loseNext {
				f.loseNext = false
				// Created, but the answer never arrives.
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"discountCodeBasicCreate": result}})
	case strings.Contains(req.Query, "codeDiscountNodeByCode"):
		code, _ := req.Variables["code"].(string)
		var node any
		if d, ok := f.discounts[code]; ok {
			node = map[string]any{"id": d[0], "codeDiscount": map[string]any{"title": d[1]}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"codeDiscountNodeByCode": node}})
	default:
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": "unknown query"}}})
	}
}

func (f *fakeShopify) calls() []shopifyRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]shopifyRequest(nil), f.requests...)
}

func newShopifyTestbed(t *testing.T, url string) testbed {
	t.Helper()
	acts := &activities.Activities{}
	if url != "" {
		client, err := activities.NewShopifyDiscounts(url+"/admin/api/2026-07/graphql.json", "shpat_test", 14)
		if err != nil {
			t.Fatal(err)
		}
		acts.Discounts = client
	}
	return newTestbed(t, acts)
}

// storedCode reads the contact's code row back.
func storedCode(t *testing.T, b testbed, contactID, campaign string) *models.DiscountCode {
	t.Helper()
	dc, err := b.store.DiscountCodeFor(context.Background(), contactID, campaign, 10, func() string {
		t.Fatal("no code was stored")
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

func TestShopifyDiscountCodeRequest(t *testing.T) {
	f, srv := newFakeShopify(t)
	b := newShopifyTestbed(t, srv.URL)
	before := time.Now().UTC().Truncate(time.Second)
	var code string
	if err := b.run(t, workflows.IssueDiscountCodeActivity, workflows.DiscountRequest{ContactID: "7890123456", Campaign: "welcome_ecommerce", Percent: 10}, &code); err != nil {
		t.Fatal(err)
	}
	calls := f.calls()
	if len(calls) != 1 {
		t.Fatalf("%d requests, want 1", len(calls))
	}
	if f.tokens[0] != "shpat_test" || f.paths[0] != "/admin/api/2026-07/graphql.json" {
		t.Errorf("token %q, path %q", f.tokens[0], f.paths[0])
	}
	if !strings.Contains(calls[0].Query, "mutation") || !strings.Contains(calls[0].Query, "discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount)") ||
		!strings.Contains(calls[0].Query, "userErrors { field code message }") {
		t.Errorf("query = %s", calls[0].Query)
	}
	in := calls[0].Variables["basicCodeDiscount"].(map[string]any)
	starts, err1 := time.Parse(time.RFC3339, in["startsAt"].(string))
	ends, err2 := time.Parse(time.RFC3339, in["endsAt"].(string))
	if err1 != nil || err2 != nil || starts.Before(before) || starts.After(time.Now()) || ends.Sub(starts) != 14*24*time.Hour {
		t.Errorf("startsAt %v, endsAt %v (%v, %v)", in["startsAt"], in["endsAt"], err1, err2)
	}
	delete(in, "startsAt")
	delete(in, "endsAt")
	want := map[string]any{
		"title": "Nudge welcome_ecommerce 10%: " + code, "code": code,
		"usageLimit": 1.0, "appliesOncePerCustomer": true,
		"context": map[string]any{"customers": map[string]any{"add": []any{"gid://shopify/Customer/7890123456"}}},
		"customerGets": map[string]any{
			"value": map[string]any{"percentage": 0.1},
			"items": map[string]any{"all": true},
		},
	}
	if got, _ := json.Marshal(in); string(got) != mustJSON(t, want) {
		t.Errorf("input =\n%s\nwant\n%s", got, mustJSON(t, want))
	}
	dc := storedCode(t, b, "7890123456", "welcome_ecommerce")
	if dc.Code != code || dc.ShopifyID != "gid://shopify/DiscountCodeNode/1" || dc.ShopifyCreatedAt == nil {
		t.Errorf("row = %+v", dc)
	}

	// Asked again, the code is the same and Shopify is not asked.
	var again string
	if err := b.run(t, workflows.IssueDiscountCodeActivity, workflows.DiscountRequest{ContactID: "7890123456", Campaign: "welcome_ecommerce", Percent: 10}, &again); err != nil {
		t.Fatal(err)
	}
	if again != code || len(f.calls()) != 1 {
		t.Errorf("again: %q (want %q), %d requests", again, code, len(f.calls()))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A guest (an email as contact ID) gets a code any customer may use, once.
func TestShopifyDiscountCodeForGuest(t *testing.T) {
	f, srv := newFakeShopify(t)
	b := newShopifyTestbed(t, srv.URL)
	if err := b.run(t, workflows.IssueDiscountCodeActivity, workflows.DiscountRequest{ContactID: "ana@example.com", Campaign: "abandoned_cart", Percent: 15}, nil); err != nil {
		t.Fatal(err)
	}
	in := f.calls()[0].Variables["basicCodeDiscount"].(map[string]any)
	if got := mustJSON(t, in["context"]); got != `{"all":"ALL"}` {
		t.Errorf("context = %s", got)
	}
	if in["usageLimit"] != 1.0 || in["appliesOncePerCustomer"] != true || mustJSON(t, in["customerGets"]) != `{"items":{"all":true},"value":{"percentage":0.15}}` {
		t.Errorf("input = %v", in)
	}
}

// A retry after a lost answer finds the code taken, sees it is Nudge's,
// and succeeds without creating it twice.
func TestShopifyDiscountCodeRetryAfterLostAnswer(t *testing.T) {
	f, srv := newFakeShopify(t)
	f.loseNext = true
	b := newShopifyTestbed(t, srv.URL)
	req := workflows.DiscountRequest{ContactID: "42", Campaign: "welcome_ecommerce", Percent: 10}
	if err := b.run(t, workflows.IssueDiscountCodeActivity, req, nil); err == nil {
		t.Fatal("the lost answer is no error")
	}
	if dc := storedCode(t, b, "42", "welcome_ecommerce"); dc.ShopifyCreatedAt != nil {
		t.Fatalf("marked created without an answer: %+v", dc)
	}
	var code string
	if err := b.run(t, workflows.IssueDiscountCodeActivity, req, &code); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(f.discounts) != 1 {
		t.Errorf("%d discounts in Shopify, want 1", len(f.discounts))
	}
	calls := f.calls()
	if len(calls) != 3 || !strings.Contains(calls[2].Query, "codeDiscountNodeByCode(code: $code)") || calls[2].Variables["code"] != code {
		t.Errorf("requests = %+v", calls)
	}
	dc := storedCode(t, b, "42", "welcome_ecommerce")
	if dc.ShopifyID != "gid://shopify/DiscountCodeNode/1" || dc.ShopifyCreatedAt == nil {
		t.Errorf("row = %+v", dc)
	}
}

// Shopify's userErrors are clear errors, not retried; so is our code taken
// by someone else's discount.
func TestShopifyDiscountCodeUserErrors(t *testing.T) {
	f, srv := newFakeShopify(t)
	b := newShopifyTestbed(t, srv.URL)
	f.userErrors = []map[string]any{{"field": []string{"basicCodeDiscount", "context", "customers", "add"}, "code": "INVALID",
		"message": "Customer does not exist"}}
	err := b.run(t, workflows.IssueDiscountCodeActivity, workflows.DiscountRequest{ContactID: "99", Campaign: "winback", Percent: 20}, nil)
	if err == nil || !strings.Contains(err.Error(), "Shopify refused discount code HELLO-") ||
		!strings.Contains(err.Error(), "basicCodeDiscount.context.customers.add: Customer does not exist") {
		t.Errorf("err = %v", err)
	}
	if dc := storedCode(t, b, "99", "winback"); dc.ShopifyCreatedAt != nil {
		t.Errorf("marked created: %+v", dc)
	}

	// The code exists in Shopify under another title: not ours.
	code := storedCode(t, b, "99", "winback").Code
	f.discounts[code] = [2]string{"gid://shopify/DiscountCodeNode/77", "Spring sale"}
	err = b.run(t, workflows.IssueDiscountCodeActivity, workflows.DiscountRequest{ContactID: "99", Campaign: "winback", Percent: 20}, nil)
	if err == nil || !strings.Contains(err.Error(), "is taken in Shopify by another discount (\"Spring sale\"") {
		t.Errorf("err = %v", err)
	}
}

// Without the settings, and offline, codes live only in Nudge.
func TestShopifyDiscountCodeNotConfigured(t *testing.T) {
	f, srv := newFakeShopify(t)
	b := newShopifyTestbed(t, "")
	var code string
	if err := b.run(t, workflows.IssueDiscountCodeActivity, workflows.DiscountRequest{ContactID: "42", Campaign: "welcome_ecommerce", Percent: 10}, &code); err != nil || code == "" {
		t.Fatalf("%q, %v", code, err)
	}
	if len(f.calls()) != 0 {
		t.Errorf("%d requests", len(f.calls()))
	}

	client, err := activities.NewShopifyDiscounts(srv.URL, "shpat_test", 14)
	if err != nil {
		t.Fatal(err)
	}
	on := &activities.Activities{Discounts: client}
	if on.Offline().Discounts != nil || on.Discounts == nil {
		t.Error("Offline keeps the Shopify client")
	}
}
