package config

import (
	"strings"
	"testing"
)

func TestShopifyAdmin(t *testing.T) {
	c, err := LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ShopifyAdminEnabled() || c.DiscountCodeDays != DefaultDiscountCodeDays {
		t.Errorf("unset: enabled %v, days %d", c.ShopifyAdminEnabled(), c.DiscountCodeDays)
	}

	c, err = LoadFrom(map[string]string{
		"NUDGE_SHOPIFY_SHOP":        " Harbor-and-Pine.myshopify.com ",
		"NUDGE_SHOPIFY_ADMIN_TOKEN": "shpat_0123456789abcdef",
		"NUDGE_DISCOUNT_CODE_DAYS":  "30",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.ShopifyAdminEnabled() || c.ShopifyShop != "harbor-and-pine.myshopify.com" || c.DiscountCodeDays != 30 {
		t.Errorf("set: enabled %v, shop %q, days %d", c.ShopifyAdminEnabled(), c.ShopifyShop, c.DiscountCodeDays)
	}
	if got, want := c.ShopifyAdminEndpoint(), "https://harbor-and-pine.myshopify.com/admin/api/"+ShopifyAdminAPIVersion+"/graphql.json"; got != want {
		t.Errorf("endpoint = %q, want %q", got, want)
	}

	c, err = LoadFrom(map[string]string{
		"NUDGE_SHOPIFY_SHOP": "harbor-and-pine.myshopify.com", "NUDGE_SHOPIFY_ADMIN_TOKEN": "shpat_x",
		"NUDGE_SHOPIFY_ADMIN_URL": "http://127.0.0.1:8089/graphql",
	})
	if err != nil || c.ShopifyAdminEndpoint() != "http://127.0.0.1:8089/graphql" {
		t.Errorf("override: %v", err)
	}
}

// Each bad value stops start-up, naming its variable.
func TestBadShopifyAdmin(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"no token", map[string]string{"NUDGE_SHOPIFY_SHOP": "harbor-and-pine.myshopify.com"},
			"NUDGE_SHOPIFY_ADMIN_TOKEN: is empty, but NUDGE_SHOPIFY_SHOP is set"},
		{"no shop", map[string]string{"NUDGE_SHOPIFY_ADMIN_TOKEN": "shpat_x"},
			"NUDGE_SHOPIFY_SHOP: is empty, but NUDGE_SHOPIFY_ADMIN_TOKEN is set"},
		{"shop as URL", map[string]string{"NUDGE_SHOPIFY_SHOP": "https://harbor-and-pine.myshopify.com/", "NUDGE_SHOPIFY_ADMIN_TOKEN": "shpat_x"},
			`NUDGE_SHOPIFY_SHOP: "https://harbor-and-pine.myshopify.com/" is not a shop's .myshopify.com domain`},
		{"custom domain", map[string]string{"NUDGE_SHOPIFY_SHOP": "harborandpine.com", "NUDGE_SHOPIFY_ADMIN_TOKEN": "shpat_x"},
			`NUDGE_SHOPIFY_SHOP: "harborandpine.com" is not a shop's .myshopify.com domain`},
		{"relative URL", map[string]string{"NUDGE_SHOPIFY_ADMIN_URL": "/graphql"},
			`NUDGE_SHOPIFY_ADMIN_URL: "/graphql" is not an absolute http(s) URL`},
		{"zero days", map[string]string{"NUDGE_DISCOUNT_CODE_DAYS": "0"},
			"NUDGE_DISCOUNT_CODE_DAYS: 0 is not a number of days between 1 and 365"},
		{"days not a number", map[string]string{"NUDGE_DISCOUNT_CODE_DAYS": "two weeks"},
			"NUDGE_DISCOUNT_CODE_DAYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFrom(tc.vars)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
