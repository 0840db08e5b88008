package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// ShopifyAdminAPIVersion is the Admin GraphQL API version Nudge speaks.
// The discount codes use the `context` input (customer eligibility), which
// replaced `customerSelection` in 2025-10.
const ShopifyAdminAPIVersion = "2026-07"

// DefaultDiscountCodeDays is how long a code created in Shopify stays
// valid (NUDGE_DISCOUNT_CODE_DAYS).
const DefaultDiscountCodeDays = 14

// shopDomain is a shop's permanent domain, like harbor-and-pine.myshopify.com.
var shopDomain = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.myshopify\.com$`)

// ShopifyAdminEnabled reports whether discount codes are created in the
// store through the Admin API: a shop and an admin token are both set.
func (c *Config) ShopifyAdminEnabled() bool {
	return c.ShopifyShop != "" && c.ShopifyAdminToken != ""
}

// ShopifyAdminEndpoint is the Admin GraphQL URL: NUDGE_SHOPIFY_ADMIN_URL
// when set (tests, a proxy), else
// https://<shop>/admin/api/<ShopifyAdminAPIVersion>/graphql.json.
func (c *Config) ShopifyAdminEndpoint() string {
	if c.ShopifyAdminURL != "" {
		return c.ShopifyAdminURL
	}
	return "https://" + c.ShopifyShop + "/admin/api/" + ShopifyAdminAPIVersion + "/graphql.json"
}

// validateShopify checks the Admin API settings: the shop's
// .myshopify.com domain and the token work only together, the URL override
// is absolute http(s), and the codes' lifetime is 1 to 365 days.
func (c *Config) validateShopify() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	c.ShopifyShop = strings.ToLower(strings.TrimSpace(c.ShopifyShop))
	c.ShopifyAdminToken = strings.TrimSpace(c.ShopifyAdminToken)
	c.ShopifyAdminURL = strings.TrimSpace(c.ShopifyAdminURL)
	if c.ShopifyShop != "" && !shopDomain.MatchString(c.ShopifyShop) {
		bad("SHOPIFY_SHOP", "%q is not a shop's .myshopify.com domain, like harbor-and-pine.myshopify.com (no https://, no path)", c.ShopifyShop)
	}
	switch {
	case c.ShopifyShop != "" && c.ShopifyAdminToken == "":
		bad("SHOPIFY_ADMIN_TOKEN", "is empty, but NUDGE_SHOPIFY_SHOP is set; set the Admin API access token of an app with the write_discounts scope")
	case c.ShopifyShop == "" && c.ShopifyAdminToken != "":
		bad("SHOPIFY_SHOP", "is empty, but NUDGE_SHOPIFY_ADMIN_TOKEN is set; set the shop's domain, like harbor-and-pine.myshopify.com")
	}
	if c.ShopifyAdminURL != "" {
		if u, err := url.Parse(c.ShopifyAdminURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("SHOPIFY_ADMIN_URL", "%q is not an absolute http(s) URL", c.ShopifyAdminURL)
		}
	}
	if c.DiscountCodeDays < 1 || c.DiscountCodeDays > 365 {
		bad("DISCOUNT_CODE_DAYS", "%d is not a number of days between 1 and 365", c.DiscountCodeDays)
	}
	return errs
}
