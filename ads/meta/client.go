// Package meta is a thin client for the parts of Meta's Marketing API (the
// Graph API) that Nudge uses: daily insights per campaign and ad set, the
// status and daily budget of campaigns and ad sets, and the users of Custom
// Audiences. Request and response shapes follow Meta's public reference.
//
// Every call makes its requests and returns; nothing is retried here. A
// failure Meta answered is an *Error, whose Retryable tells a Temporal
// activity whether to try again (ads.Retryable covers transport failures).
package meta

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
)

// DefaultAPIURL is the Graph API version Nudge is written against.
const DefaultAPIURL = "https://graph.facebook.com/v25.0"

// maxBody bounds what a response may make the client read, so a broken
// proxy cannot exhaust memory.
const maxBody = 64 << 20

// Config is how to reach Meta.
type Config struct {
	// AccessToken is a system user's or a long-lived user's token with
	// ads_read and ads_management.
	AccessToken string
	// APIURL is the Graph API base with its version, DefaultAPIURL if
	// empty; tests point it at a stand-in.
	APIURL string
	// HTTPClient makes the requests; nil means one with a 60 s timeout.
	HTTPClient *http.Client
	// PurchaseActions are the action types counted as purchases, in order
	// of preference; nil means DefaultPurchaseActions.
	PurchaseActions []string
}

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	hc        *http.Client
	purchases []string
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.AccessToken == "" {
		return nil, errors.New("meta: no access token")
	}
	raw := cfg.APIURL
	if raw == "" {
		raw = DefaultAPIURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("meta: API URL %q is not an absolute http(s) URL", raw)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	p := cfg.PurchaseActions
	if len(p) == 0 {
		p = DefaultPurchaseActions
	}
	return &Client{base: base, token: cfg.AccessToken, hc: hc, purchases: p}, nil
}

// endpoint is the URL of a Graph path such as "act_1/insights".
func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + "/" + path
	u.RawQuery = q.Encode()
	return u.String()
}

// call sends one request and decodes a 2xx JSON answer into out. The token
// goes in the Authorization header, not the URL, so it stays out of logs.
// POST and DELETE carry form, Graph's usual encoding; DELETE does too
// because 10,000 hashed users do not fit in a URL.
func (c *Client) call(ctx context.Context, method, rawURL string, form url.Values, out any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return fmt.Errorf("meta: %s %s: %w", method, c.describe(rawURL), err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("meta: %s %s: %w", method, c.describe(rawURL), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("meta: %s %s: reading the answer: %w", method, c.describe(rawURL), err)
	}
	var envelope struct {
		Error *graphError `json:"error"`
	}
	jsonErr := json.Unmarshal(data, &envelope)
	if resp.StatusCode/100 != 2 || envelope.Error != nil {
		return newError(method, c.describe(rawURL), resp, data, envelope.Error)
	}
	if jsonErr != nil {
		return fmt.Errorf("meta: %s %s: answer is not JSON: %s", method, c.describe(rawURL), snippet(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("meta: %s %s: unexpected answer: %w", method, c.describe(rawURL), err)
	}
	return nil
}

// describe is a URL's path below the API base, for messages: no host, no
// query (which may hold a paging token).
func (c *Client) describe(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "?"
	}
	p := strings.TrimPrefix(u.Path, c.base.Path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// checkID refuses an ID that is not Meta's: digits only (an ad account's
// with "act_" in front). It keeps a bad value from reaching another path.
func checkID(kind, id string, account bool) error {
	digits := id
	if account {
		if !strings.HasPrefix(id, "act_") {
			return fmt.Errorf("meta: %s %q does not start with act_ (like act_1234567890)", kind, id)
		}
		digits = id[len("act_"):]
	}
	if digits == "" {
		return fmt.Errorf("meta: %s is empty", kind)
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return fmt.Errorf("meta: %s %q is not a Meta ID (digits only)", kind, id)
		}
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(b, []byte("?"))))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
