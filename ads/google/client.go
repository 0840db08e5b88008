// Package google is a thin client for Google Ads' REST interface (campaign
// metrics with GAQL, campaign status, campaign budgets) and for Customer
// Match uploads through Google's Data Manager API (see CustomerMatch).
// Request and response shapes follow Google's public references.
//
// Both APIs take an OAuth 2.0 access token, refreshed here from a refresh
// token with golang.org/x/oauth2 (see OAuth). Calls are not retried; a
// failure Google answered is an *Error whose Retryable tells a Temporal
// activity whether to try again.
package google

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

const (
	// DefaultAPIURL is Google Ads API v26, the current version (released
	// 2026-10-14) when this was written. Google sunsets each major version
	// about a year after its release.
	DefaultAPIURL = "https://googleads.googleapis.com/v26"
	// DefaultDataManagerURL is the Data Manager API, for Customer Match.
	DefaultDataManagerURL = "https://datamanager.googleapis.com/v1"
	// DefaultTokenURL is Google's OAuth 2.0 token endpoint.
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
)

// Scopes to ask for when making the refresh token (Google's consent flow,
// outside Nudge): Google Ads for metrics and changes, Data Manager for
// Customer Match.
const (
	ScopeAds         = "https://www.googleapis.com/auth/adwords"
	ScopeDataManager = "https://www.googleapis.com/auth/datamanager"
)

const maxBody = 64 << 20

// OAuth is an installed app's client and a refresh token for the Google
// account that runs the ads (made once with Google's OAuth consent flow).
type OAuth struct {
	ClientID     string
	ClientSecret string
	RefreshToken string
	// TokenURL is DefaultTokenURL if empty; tests use a stand-in.
	TokenURL string
}

// TokenSource returns access tokens, refreshing them with hc as they
// expire and reusing each until then. It is safe for concurrent use.
func (o OAuth) TokenSource(hc *http.Client) oauth2.TokenSource {
	if hc == nil {
		hc = defaultHTTPClient()
	}
	tokenURL := o.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	cfg := &oauth2.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		// Google reads the client's credentials from the form, not a
		// Basic header; saying so saves the library a failed first try.
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		// No Scopes: a refresh keeps those the consent granted.
	}
	// The refresh runs on this context, not a call's: a token is shared by
	// calls, so one call's cancellation must not fail the others'. hc's
	// timeout bounds it.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: o.RefreshToken})
}

func defaultHTTPClient() *http.Client { return &http.Client{Timeout: 60 * time.Second} }

// Config is how to reach Google Ads for one account.
type Config struct {
	// DeveloperToken is the Google Ads API developer token.
	DeveloperToken string
	// CustomerID is the Google Ads account the ads run in, digits only.
	CustomerID string
	// LoginCustomerID is the manager account the OAuth user signs in
	// through, digits only; empty when the user has direct access.
	LoginCustomerID string
	// APIURL is the base with its version, DefaultAPIURL if empty.
	APIURL string
	// Tokens gives OAuth access tokens, usually OAuth.TokenSource.
	Tokens oauth2.TokenSource
	// HTTPClient makes the API requests; nil means one with a 60 s timeout.
	HTTPClient *http.Client
}

// Client calls Google Ads for one customer. It is safe for concurrent use.
type Client struct {
	api      transport
	devToken string
	customer string
	login    string
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.DeveloperToken == "":
		return nil, errors.New("google: no developer token")
	case cfg.Tokens == nil:
		return nil, errors.New("google: no OAuth token source")
	}
	if err := checkCustomerID("customer ID", cfg.CustomerID, false); err != nil {
		return nil, err
	}
	if err := checkCustomerID("login customer ID", cfg.LoginCustomerID, true); err != nil {
		return nil, err
	}
	t, err := newTransport(cfg.APIURL, DefaultAPIURL, cfg.Tokens, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &Client{api: t, devToken: cfg.DeveloperToken, customer: cfg.CustomerID, login: cfg.LoginCustomerID}, nil
}

// headers are the ones every Google Ads request carries.
func (c *Client) headers() http.Header {
	h := http.Header{"Developer-Token": {c.devToken}}
	if c.login != "" {
		h.Set("Login-Customer-Id", c.login)
	}
	return h
}

func checkCustomerID(what, id string, optional bool) error {
	if id == "" && optional {
		return nil
	}
	if id == "" {
		return fmt.Errorf("google: no %s", what)
	}
	if !allDigits(id) {
		return fmt.Errorf("google: %s %q must be digits only, like 1234567890 (no dashes)", what, id)
	}
	return nil
}

func checkNumericID(what, id string) error {
	if id == "" || !allDigits(id) {
		return fmt.Errorf("google: %s %q is not a Google Ads ID (digits only)", what, id)
	}
	return nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// transport sends JSON requests with a bearer token to one API base.
type transport struct {
	base   *url.URL
	tokens oauth2.TokenSource
	hc     *http.Client
}

func newTransport(raw, def string, tokens oauth2.TokenSource, hc *http.Client) (transport, error) {
	if raw == "" {
		raw = def
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return transport{}, fmt.Errorf("google: API URL %q is not an absolute http(s) URL", raw)
	}
	if hc == nil {
		hc = defaultHTTPClient()
	}
	return transport{base: base, tokens: tokens, hc: hc}, nil
}

// post sends body as JSON to path below the base and returns the answer's
// body and request ID, or an *Error.
func (t transport) post(ctx context.Context, path string, h http.Header, body any) ([]byte, string, error) {
	op := "POST /" + path
	tok, err := t.tokens.Token()
	if err != nil {
		return nil, "", tokenError(err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, "", fmt.Errorf("google: %s: %w", op, err)
	}
	u := *t.base
	u.Path = t.base.Path + "/" + path
	req, err := http.NewRequestWithContext(ctx, "POST", u.String(), bytes.NewReader(b))
	if err != nil {
		return nil, "", fmt.Errorf("google: %s: %w", op, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("google: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, "", fmt.Errorf("google: %s: reading the answer: %w", op, err)
	}
	reqID := resp.Header.Get("Request-Id")
	if resp.StatusCode/100 != 2 {
		return nil, reqID, decodeError(op, resp.StatusCode, reqID, data)
	}
	return data, reqID, nil
}
