package meta

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nudgehq/nudge/ads/audience"
)

// MaxUsersPerRequest is Meta's limit on rows in one users request.
const MaxUsersPerRequest = 10_000

// Schema keys for Custom Audience users. A one-key schema uses the
// _SHA256 names; a multi-key schema the short ones, each value hashed.
const (
	SchemaEmailSHA256 = "EMAIL_SHA256"
	SchemaPhoneSHA256 = "PHONE_SHA256"
	KeyEmail          = "EMAIL"
	KeyPhone          = "PHONE"
)

// hashedKeys must carry SHA-256 hex, never the raw value.
var hashedKeys = map[string]bool{SchemaEmailSHA256: true, SchemaPhoneSHA256: true, KeyEmail: true, KeyPhone: true}

// Session ties the requests of one multi-batch upload together, so Meta
// knows when it has them all.
type Session struct {
	// ID is chosen by the uploader, the same for every batch; 0 sends no
	// session (a one-request change). NewSessionID makes one.
	ID int64
	// BatchSeq numbers the batches from 1.
	BatchSeq int
	// LastBatch is set on the final batch.
	LastBatch bool
	// EstimatedTotal is how many rows the whole session sends.
	EstimatedTotal int
}

// NewSessionID returns a random positive session ID.
func NewSessionID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:])>>1) | 1
}

// Users is one batch of people to add to or remove from a Custom Audience.
type Users struct {
	// Schema names what each row holds: {SchemaEmailSHA256}, or several
	// keys such as {KeyEmail, KeyPhone}.
	Schema []string
	// Rows are one person each, one value per schema key, already
	// normalized and hashed (audience.Meta). In a multi-key row a value
	// may be empty.
	Rows    [][]string
	Session Session
}

// UsersResult is Meta's answer to a users request.
type UsersResult struct {
	AudienceID string
	SessionID  string
	Received   int // num_received
	Invalid    int // num_invalid_entries
	// InvalidSamples is invalid_entry_samples as Meta sent it.
	InvalidSamples json.RawMessage
}

// AddUsers adds a batch of people to a Custom Audience (POST
// /{audience_id}/users).
func (c *Client) AddUsers(ctx context.Context, audienceID string, u Users) (UsersResult, error) {
	return c.users(ctx, "POST", audienceID, u)
}

// RemoveUsers removes a batch of people from a Custom Audience (DELETE
// /{audience_id}/users).
func (c *Client) RemoveUsers(ctx context.Context, audienceID string, u Users) (UsersResult, error) {
	return c.users(ctx, "DELETE", audienceID, u)
}

func (c *Client) users(ctx context.Context, method, audienceID string, u Users) (UsersResult, error) {
	if err := checkID("audience ID", audienceID, false); err != nil {
		return UsersResult{}, err
	}
	form, err := u.form()
	if err != nil {
		return UsersResult{}, fmt.Errorf("meta: %s /%s/users: %w", method, audienceID, err)
	}
	var r struct {
		AudienceID     string          `json:"audience_id"`
		SessionID      number          `json:"session_id"`
		Received       int             `json:"num_received"`
		Invalid        int             `json:"num_invalid_entries"`
		InvalidSamples json.RawMessage `json:"invalid_entry_samples"`
	}
	if err := c.call(ctx, method, c.endpoint(audienceID+"/users", nil), form, &r); err != nil {
		return UsersResult{}, err
	}
	return UsersResult{AudienceID: r.AudienceID, SessionID: string(r.SessionID), Received: r.Received,
		Invalid: r.Invalid, InvalidSamples: r.InvalidSamples}, nil
}

// form checks the batch and encodes it as Meta's payload and session
// parameters (each a JSON value).
func (u Users) form() (url.Values, error) {
	switch {
	case len(u.Schema) == 0:
		return nil, errors.New("no schema")
	case len(u.Rows) == 0:
		return nil, errors.New("no rows")
	case len(u.Rows) > MaxUsersPerRequest:
		return nil, fmt.Errorf("%d rows; Meta takes at most %d per request", len(u.Rows), MaxUsersPerRequest)
	}
	for i, row := range u.Rows {
		if len(row) != len(u.Schema) {
			return nil, fmt.Errorf("row %d has %d values for a schema of %d (%s)", i, len(row), len(u.Schema), strings.Join(u.Schema, ","))
		}
		empty := true
		for k, v := range row {
			if v == "" && len(u.Schema) > 1 {
				continue
			}
			empty = false
			if hashedKeys[u.Schema[k]] && !audience.IsHash(v) {
				// Never send an address in the clear by mistake.
				return nil, fmt.Errorf("row %d: %s is not a SHA-256 hex hash; hash it with audience.Meta", i, u.Schema[k])
			}
		}
		if empty {
			return nil, fmt.Errorf("row %d is empty", i)
		}
	}
	payload := map[string]any{"schema": u.Schema, "data": u.Rows}
	if len(u.Schema) == 1 {
		// A one-key schema is a name and a flat list, as Meta documents.
		flat := make([]string, len(u.Rows))
		for i, row := range u.Rows {
			flat[i] = row[0]
		}
		payload = map[string]any{"schema": u.Schema[0], "data": flat}
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	form := url.Values{"payload": {string(p)}}
	if s := u.Session; s.ID != 0 {
		switch {
		case s.ID < 0:
			return nil, fmt.Errorf("session ID %d is negative", s.ID)
		case s.BatchSeq < 1:
			return nil, fmt.Errorf("session batch_seq %d: batches are numbered from 1", s.BatchSeq)
		case s.EstimatedTotal < 0:
			return nil, fmt.Errorf("session estimated total %d is negative", s.EstimatedTotal)
		}
		sj, _ := json.Marshal(map[string]any{
			"session_id":          s.ID,
			"batch_seq":           s.BatchSeq,
			"last_batch_flag":     s.LastBatch,
			"estimated_num_total": s.EstimatedTotal,
		})
		form.Set("session", string(sj))
	}
	return form, nil
}
