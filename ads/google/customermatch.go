package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/nudgehq/nudge/ads/audience"
)

// CustomerMatch adds people to and removes them from Google Ads Customer
// Match lists through the Data Manager API (POST /v1/audienceMembers:ingest
// and :remove).
//
// Why the Data Manager API and not the Google Ads API's
// OfflineUserDataJobService: Google's Customer Match guides now send
// developers to the Data Manager API ("Upgrade from the Google Ads API"),
// where new Customer Match features land. Each batch is one request that
// either succeeds or fails whole (no offline job to create, fill, run and
// poll); it has a validateOnly dry run, takes up to 10,000 members a
// request, supports confidential matching, and needs no developer token
// (its quota is the Cloud project's). The same OAuth refresh token serves
// both APIs when it was granted both scopes (ScopeAds, ScopeDataManager).
type CustomerMatch struct {
	api      transport
	customer string
	login    string
	terms    bool
}

// CustomerMatchConfig is how to reach the Data Manager API.
type CustomerMatchConfig struct {
	// CustomerID is the Google Ads account that owns the lists, digits
	// only; LoginCustomerID the manager account signed in through, if any.
	CustomerID      string
	LoginCustomerID string
	// APIURL is DefaultDataManagerURL if empty.
	APIURL     string
	Tokens     oauth2.TokenSource
	HTTPClient *http.Client
	// TermsAccepted tells Google, on each upload, that the advertiser has
	// accepted the Customer Match terms (required for uploads to Customer
	// Match lists). Set it only when they have.
	TermsAccepted bool
}

// MaxMembersPerRequest is the Data Manager API's limit per request.
const MaxMembersPerRequest = 10_000

// NewCustomerMatch checks cfg and returns a client.
func NewCustomerMatch(cfg CustomerMatchConfig) (*CustomerMatch, error) {
	if cfg.Tokens == nil {
		return nil, errors.New("google: no OAuth token source")
	}
	if err := checkCustomerID("customer ID", cfg.CustomerID, false); err != nil {
		return nil, err
	}
	if err := checkCustomerID("login customer ID", cfg.LoginCustomerID, true); err != nil {
		return nil, err
	}
	t, err := newTransport(cfg.APIURL, DefaultDataManagerURL, cfg.Tokens, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &CustomerMatch{api: t, customer: cfg.CustomerID, login: cfg.LoginCustomerID, terms: cfg.TermsAccepted}, nil
}

// ConsentStatus is a person's answer to one of Google's consent questions
// (EU user consent policy).
type ConsentStatus string

const (
	ConsentGranted ConsentStatus = "CONSENT_GRANTED"
	ConsentDenied  ConsentStatus = "CONSENT_DENIED"
)

// Consent is what people agreed to: Google using their data for ads
// (AdUserData) and for personalized ads (AdPersonalization).
type Consent struct {
	AdUserData        ConsentStatus `json:"adUserData,omitempty"`
	AdPersonalization ConsentStatus `json:"adPersonalization,omitempty"`
}

// Member is one person: SHA-256 hex hashes of their email addresses and
// phone numbers, normalized with audience.Google.
type Member struct {
	Emails []string
	Phones []string
	// Consent overrides the batch's for this person, if set.
	Consent *Consent
}

// Members is one request's worth of people for one Customer Match list.
type Members struct {
	// ListID is the Customer Match user list's ID.
	ListID  string
	Members []Member
	// Consent applies to every member without their own (ignored on
	// removal).
	Consent Consent
	// ValidateOnly checks the request without changing the list.
	ValidateOnly bool
}

// Add adds people to a Customer Match list and returns Google's request
// ID, with which the upload's processing can be looked up later.
func (m *CustomerMatch) Add(ctx context.Context, b Members) (string, error) {
	return m.send(ctx, "audienceMembers:ingest", b, true)
}

// Remove removes people from a Customer Match list.
func (m *CustomerMatch) Remove(ctx context.Context, b Members) (string, error) {
	return m.send(ctx, "audienceMembers:remove", b, false)
}

type productAccount struct {
	AccountType string `json:"accountType"`
	AccountID   string `json:"accountId"`
}

type identifier struct {
	EmailAddress string `json:"emailAddress,omitempty"`
	PhoneNumber  string `json:"phoneNumber,omitempty"`
}

func (m *CustomerMatch) send(ctx context.Context, method string, b Members, ingest bool) (string, error) {
	if err := b.check(); err != nil {
		return "", fmt.Errorf("google: POST /%s: %w", method, err)
	}
	dest := map[string]any{
		"operatingAccount":     productAccount{"GOOGLE_ADS", m.customer},
		"productDestinationId": b.ListID,
	}
	if m.login != "" {
		dest["loginAccount"] = productAccount{"GOOGLE_ADS", m.login}
	}
	members := make([]map[string]any, len(b.Members))
	for i, mem := range b.Members {
		ids := make([]identifier, 0, len(mem.Emails)+len(mem.Phones))
		for _, e := range mem.Emails {
			ids = append(ids, identifier{EmailAddress: e})
		}
		for _, p := range mem.Phones {
			ids = append(ids, identifier{PhoneNumber: p})
		}
		members[i] = map[string]any{"userData": map[string]any{"userIdentifiers": ids}}
		if ingest && mem.Consent != nil {
			members[i]["consent"] = mem.Consent
		}
	}
	req := map[string]any{
		"destinations":    []any{dest},
		"audienceMembers": members,
		"validateOnly":    b.ValidateOnly,
		// The identifiers are hashes written in hex (audience.Hash).
		"encoding": "HEX",
	}
	if ingest {
		if b.Consent != (Consent{}) {
			req["consent"] = b.Consent
		}
		if m.terms {
			req["termsOfService"] = map[string]string{"customerMatchTermsOfServiceStatus": "ACCEPTED"}
		}
	}
	body, reqID, err := m.api.post(ctx, method, nil, req)
	if err != nil {
		return "", err
	}
	var r struct {
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("google: POST /%s: unexpected answer %s", method, snippet(body))
	}
	if r.RequestID == "" {
		r.RequestID = reqID
	}
	return r.RequestID, nil
}

func (b Members) check() error {
	switch {
	case b.ListID == "" || !allDigits(b.ListID):
		return fmt.Errorf("Customer Match list ID %q is not a Google Ads user list ID (digits only)", b.ListID)
	case len(b.Members) == 0:
		return errors.New("no members")
	case len(b.Members) > MaxMembersPerRequest:
		return fmt.Errorf("%d members; Google takes at most %d per request", len(b.Members), MaxMembersPerRequest)
	}
	for i, mem := range b.Members {
		if len(mem.Emails)+len(mem.Phones) == 0 {
			return fmt.Errorf("member %d has no email address or phone number", i)
		}
		for _, h := range append(append([]string(nil), mem.Emails...), mem.Phones...) {
			if !audience.IsHash(h) {
				// Never send an address in the clear by mistake.
				return fmt.Errorf("member %d: %q is not a SHA-256 hex hash; hash it with audience.Google", i, truncate(h))
			}
		}
	}
	return nil
}

// truncate keeps an error message from quoting a whole address.
func truncate(s string) string {
	if len(s) > 6 {
		return s[:3] + "…"
	}
	return s
}
