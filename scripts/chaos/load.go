package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client sends Segment calls the way Segment's libraries do: a call that
// gets a 5xx (or 429, or no answer at all) is sent again, the same body with
// the same messageId, with backoff, until it is accepted or a deadline
// passes; a 4xx is final. It keeps count of every answer.
type Client struct {
	WriteKey string
	// Gateway picks the gateway for the attempt'th try (0 first) of call i.
	Gateway func(i, attempt int) string
	// RetryFor bounds how long one call is retried.
	RetryFor time.Duration

	http *http.Client

	mu        sync.Mutex
	calls     int            // calls (events) sent
	accepted  int            // calls finally answered 200
	final     map[string]int // final non-200 outcome of calls, by status
	responses map[string]int // every answer, retries included, by status
	acked     map[string]time.Time
	firstAt   time.Time
	lastAck   time.Time
	firstTry  int // calls accepted on their first attempt
	// When the first and last answers other than 200 came.
	firstRefusal, lastRefusal time.Time
}

// NewClient sends to the gateway pick chooses.
func NewClient(writeKey string, pick func(i, attempt int) string) *Client {
	return &Client{WriteKey: writeKey, Gateway: pick, RetryFor: 3 * time.Minute,
		http:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxIdleConns: 256}, Timeout: time.Minute},
		final: map[string]int{}, responses: map[string]int{}, acked: map[string]time.Time{}}
}

// Call is one request: a single call or a batch, with the messageIds it carries.
type Call struct {
	Path       string
	Body       []byte
	Header     map[string]string // extra headers; with one, no write key is sent (webhooks)
	MessageIDs []string
	Index      int // for the gateway choice
}

// Outcome is how a call ended.
type Outcome struct {
	Status   int // final HTTP status; 0: no answer
	Body     string
	Attempts int
	At       time.Time     // when the final answer came
	Took     time.Duration // the final attempt's response time
}

// OK reports whether the call was accepted.
func (o Outcome) OK() bool { return o.Status == http.StatusOK }

// Send sends a call until it is accepted, refused for good, or RetryFor passes.
func (c *Client) Send(ctx context.Context, call Call) Outcome {
	c.mu.Lock()
	c.calls += len(call.MessageIDs)
	if c.firstAt.IsZero() {
		c.firstAt = time.Now()
	}
	c.mu.Unlock()
	deadline := time.Now().Add(c.RetryFor)
	backoff := 200 * time.Millisecond
	var out Outcome
	for attempt := 0; ; attempt++ {
		out = c.try(ctx, call, attempt)
		out.Attempts = attempt + 1
		key := fmt.Sprint(out.Status)
		if out.Status == 0 {
			key = "no answer"
		}
		c.mu.Lock()
		c.responses[key] += len(call.MessageIDs)
		if !out.OK() {
			if c.firstRefusal.IsZero() {
				c.firstRefusal = out.At
			}
			c.lastRefusal = out.At
		}
		c.mu.Unlock()
		retry := out.Status == 0 || out.Status >= 500 || out.Status == http.StatusTooManyRequests || out.Status == http.StatusRequestTimeout
		if !retry || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if out.OK() {
		c.accepted += len(call.MessageIDs)
		if out.Attempts == 1 {
			c.firstTry += len(call.MessageIDs)
		}
		for _, id := range call.MessageIDs {
			c.acked[id] = out.At
		}
		if out.At.After(c.lastAck) {
			c.lastAck = out.At
		}
	} else {
		key := fmt.Sprint(out.Status)
		if out.Status == 0 {
			key = "no answer"
		}
		c.final[key] += len(call.MessageIDs)
	}
	return out
}

func (c *Client) try(ctx context.Context, call Call, attempt int) Outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Gateway(call.Index, attempt)+call.Path, bytes.NewReader(call.Body))
	if err != nil {
		return Outcome{Body: err.Error(), At: time.Now()}
	}
	req.Header.Set("Content-Type", "application/json")
	if call.Header == nil {
		req.SetBasicAuth(c.WriteKey, "")
	}
	for k, v := range call.Header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Outcome{Body: err.Error(), At: time.Now(), Took: time.Since(start)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return Outcome{Status: resp.StatusCode, Body: strings.TrimSpace(string(body)), At: time.Now(), Took: time.Since(start)}
}

// Snapshot is the client's counts.
type Snapshot struct {
	Calls, Accepted, FirstTry int
	Final, Responses          map[string]int
	Acked                     map[string]time.Time
	FirstAt, LastAck          time.Time
	FirstRefusal, LastRefusal time.Time
}

// Snapshot copies the counts.
func (c *Client) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Snapshot{Calls: c.calls, Accepted: c.accepted, FirstTry: c.firstTry, FirstAt: c.firstAt, LastAck: c.lastAck,
		FirstRefusal: c.firstRefusal, LastRefusal: c.lastRefusal,
		Final: map[string]int{}, Responses: map[string]int{}, Acked: make(map[string]time.Time, len(c.acked))}
	for k, v := range c.final {
		s.Final[k] = v
	}
	for k, v := range c.responses {
		s.Responses[k] = v
	}
	for k, v := range c.acked {
		s.Acked[k] = v
	}
	return s
}

// Refusals formats the answers other than 200, retries included.
func (s Snapshot) Refusals() string {
	var keys []string
	total := 0
	for k, v := range s.Responses {
		if k != "200" {
			keys = append(keys, k)
			total += v
		}
	}
	if total == 0 {
		return "0"
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, s.Responses[k])
	}
	out := fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
	if !s.FirstRefusal.IsZero() {
		out += fmt.Sprintf(", %s to %s", s.FirstRefusal.Format("15:04:05"), s.LastRefusal.Format("15:04:05"))
	}
	if n := s.Calls - s.Accepted; n > 0 {
		var fk []string
		for k, v := range s.Final {
			fk = append(fk, fmt.Sprintf("%s×%d", k, v))
		}
		sort.Strings(fk)
		out += fmt.Sprintf("; final: %s", strings.Join(fk, ", "))
	} else {
		out += "; all resent until 200"
	}
	return out
}

// Person is one contact the load generator makes: an e-commerce sign-up,
// or (Order) a buyer whose order confirmation is transactional.
type Person struct {
	Index  int
	UserID string
	Email  string
	Order  bool
}

// welcomeSubject is the e-commerce welcome's subject for firstName Lee.
const welcomeSubject = "Welcome to Acme, Lee: 10% off your first order"

func (p Person) orderNumber() string { return fmt.Sprintf("#%d", 1000+p.Index) }

// Subject is the email this person expects at once.
func (p Person) Subject() string {
	if p.Order {
		return "Order " + p.orderNumber() + " confirmed: thank you, Lee"
	}
	return welcomeSubject
}

// Journey and Step name that email in the messages table.
func (p Person) Journey() (string, string) {
	if p.Order {
		return "post_purchase", "confirmation"
	}
	return "welcome_ecommerce", "welcome"
}

// MessageIDs are the messageIds of the person's calls: fixed, so that a
// resend is recognised.
func (p Person) MessageIDs() []string {
	mid := fmt.Sprintf("m-%d", p.Index)
	if p.Order {
		return []string{mid + "-identify", mid + "-order"}
	}
	return []string{mid + "-identify", mid + "-signup"}
}

// Calls are the person's calls, in order: identify, then Signed Up or
// Order Completed.
func (p Person) Calls() []map[string]any {
	ids := p.MessageIDs()
	identify := map[string]any{"type": "identify", "userId": p.UserID, "messageId": ids[0],
		"traits": map[string]any{"email": p.Email, "firstName": "Lee"}}
	track := map[string]any{"type": "track", "userId": p.UserID, "messageId": ids[1], "event": "Signed Up"}
	if p.Order {
		track["event"] = "Order Completed"
		track["properties"] = map[string]any{"order_id": fmt.Sprintf("o-%d", p.Index), "order_number": p.orderNumber(),
			"total": 25.0, "currency": "USD",
			"products": []any{map[string]any{"product_id": "mug-1", "name": "Mug", "price": 25.0, "quantity": 1}}}
	}
	return []map[string]any{identify, track}
}

// SignUp sends the person's two calls, one after the other (the second
// only once the first is accepted). It returns how the last call sent
// ended, and whether both were accepted.
func (c *Client) SignUp(ctx context.Context, p Person) (Outcome, bool) {
	var out Outcome
	for _, body := range p.Calls() {
		typ := body["type"].(string)
		delete(body, "type")
		raw, _ := json.Marshal(body)
		out = c.Send(ctx, Call{Path: "/v1/" + typ, Body: raw, MessageIDs: []string{body["messageId"].(string)}, Index: p.Index})
		if !out.OK() {
			return out, false
		}
	}
	return out, true
}

// ShopifyCall is a webhook signed with secret; messageID is the base of the
// messageIds the gateway gives its events (the resource and its version,
// not the unsigned webhook ID).
func ShopifyCall(secret, topic, webhookID, messageID string, payload any) Call {
	body, _ := json.Marshal(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return Call{Path: "/webhooks/shopify", Body: body,
		Header: map[string]string{
			"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
			"X-Shopify-Topic":       topic,
			"X-Shopify-Webhook-Id":  webhookID,
			"X-Shopify-Shop-Domain": "chaos.myshopify.com",
		},
		MessageIDs: []string{messageID + "-identify", messageID + "-track"}}
}

// Load runs fn for n items with `concurrency` goroutines, at most rate
// items a second when rate > 0. Started counts the items begun.
type Load struct {
	started atomic.Int64
	done    atomic.Int64
	n       int
	finish  chan struct{}
	End     time.Time
}

// RunLoad starts the load in the background.
func RunLoad(ctx context.Context, n, concurrency int, rate float64, fn func(i int)) *Load {
	l := &Load{n: n, finish: make(chan struct{})}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				l.started.Add(1)
				fn(i)
				l.done.Add(1)
			}
		}()
	}
	go func() {
		wg.Wait()
		l.End = time.Now()
		close(l.finish)
	}()
	return l
}

// Started is how many items have begun.
func (l *Load) Started() int { return int(l.started.Load()) }

// Done is closed when every item has finished.
func (l *Load) Done() <-chan struct{} { return l.finish }

// WaitStarted waits until frac of the items have begun (or the load ends).
func (l *Load) WaitStarted(ctx context.Context, frac float64) {
	want := int(frac * float64(l.n))
	for l.Started() < want {
		select {
		case <-l.finish:
			return
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Wait waits for the load to finish.
func (l *Load) Wait(ctx context.Context) error {
	select {
	case <-l.finish:
		return nil
	case <-ctx.Done():
		return errors.New("interrupted")
	}
}
