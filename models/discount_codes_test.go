package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
)

func issueCode(t *testing.T, s *models.Store, contactID, campaign, code string) *models.DiscountCode {
	t.Helper()
	dc, err := s.DiscountCodeFor(context.Background(), contactID, campaign, 10, func() string { return code })
	if err != nil || dc.Code != code {
		t.Fatalf("issue %s: %+v, %v", code, dc, err)
	}
	return dc
}

// An Order Completed whose coupon is one of Nudge's codes marks the code
// redeemed by that order, once; the journey's metrics count it.
func TestOrderRedeemsDiscountCode(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		issueCode(t, s, "u1", "welcome_ecommerce", "HELLO-AAAA-BBBB")
		cart := issueCode(t, s, "u2", "abandoned_cart", "HELLO-CCCC-DDDD")
		issueCode(t, s, "u3", "welcome_ecommerce", "HELLO-EEEE-FFFF")

		if err := s.DiscountCreatedInShopify(ctx, cart.ID, "gid://shopify/DiscountCodeNode/7", t0); err != nil {
			t.Fatal(err)
		}
		// Typed in lower case; a second order with the same code moves nothing.
		accept(t, s,
			orderEvent("o1", "u1", "Order Completed", t0.Add(time.Hour), map[string]any{"order_id": "1001", "total": 90.0, "coupon": "hello-aaaa-bbbb"}),
			orderEvent("o2", "u2", "Order Completed", t0.Add(2*time.Hour), map[string]any{"order_id": "1002", "total": 50.0, "coupon": "SPRING10,HELLO-CCCC-DDDD"}),
			orderEvent("o3", "u1", "Order Completed", t0.Add(3*time.Hour), map[string]any{"order_id": "1003", "total": 20.0, "coupon": "HELLO-AAAA-BBBB"}),
			// Not a completed order: no redemption.
			orderEvent("o4", "u3", "Order Shipped", t0.Add(3*time.Hour), map[string]any{"order_id": "1004", "coupon": "HELLO-EEEE-FFFF"}),
		)

		row := func(contactID, campaign string) *models.DiscountCode {
			dc, err := s.DiscountCodeFor(ctx, contactID, campaign, 10, func() string { t.Fatal("no row"); return "" })
			if err != nil {
				t.Fatal(err)
			}
			return dc
		}
		if dc := row("u1", "welcome_ecommerce"); dc.OrderID != "1001" || dc.RedeemedAt == nil || !dc.RedeemedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("u1's code = %+v", dc)
		}
		if dc := row("u2", "abandoned_cart"); dc.OrderID != "1002" || dc.RedeemedAt == nil ||
			dc.ShopifyID != "gid://shopify/DiscountCodeNode/7" || dc.ShopifyCreatedAt == nil || !dc.ShopifyCreatedAt.Equal(t0) {
			t.Errorf("u2's code = %+v", dc)
		}
		if dc := row("u3", "welcome_ecommerce"); dc.RedeemedAt != nil || dc.OrderID != "" {
			t.Errorf("u3's code = %+v", dc)
		}

		ms, err := s.JourneyMetrics(ctx, []string{"welcome_ecommerce", "abandoned_cart", "winback"}, models.Period{From: t0, To: t0.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int64{1, 1, 0} {
			if ms[i].DiscountsRedeemed != want {
				t.Errorf("%s: %d redeemed, want %d", ms[i].Journey, ms[i].DiscountsRedeemed, want)
			}
		}
		// Redeemed before the period: not counted in it.
		ms, err = s.JourneyMetrics(ctx, []string{"welcome_ecommerce"}, models.Period{From: t0.Add(24 * time.Hour), To: t0.Add(48 * time.Hour)})
		if err != nil || ms[0].DiscountsRedeemed != 0 {
			t.Errorf("later period: %+v, %v", ms, err)
		}
	})
}
