package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const (
	shopifySecret = "shpss_test_5f0c1e2d3b4a69788796a5b4c3d2e1f0"
	shopifyShop   = "harbor-and-pine.myshopify.com"
	webhookID     = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
	anaID         = "9065422389463117" // over 2^53: read digit for digit, not through a float64
	checkoutToken = "c1f3e4b0a2d94e7f8b6a5d3c2e1f0a9b"
	orderID       = "5612398723191"
)

// The messageIds the fixtures become: shopify-<kind>-<id>-<version>-<event>,
// all from the signed body, none from X-Shopify-Webhook-Id.
const (
	checkoutMID  = "nudge:shopify-checkout-" + checkoutToken + "-2024-05-01T14:21:30Z-started" // updated_at
	completedMID = "nudge:shopify-order-" + orderID + "-2024-05-01T14:24:05Z-completed"        // created_at
	shippedMID   = "nudge:shopify-order-" + orderID + "-2024-05-03T18:40:10Z-shipped"          // the newest fulfillment's created_at
	cancelledMID = "nudge:shopify-order-" + orderID + "-2024-05-02T13:00:00Z-cancelled"        // cancelled_at, as the tests set it
	signedUpMID  = "nudge:shopify-customer-706405506930370084-2024-05-02T12:30:15Z-signed-up"  // created_at
)

func shopifyEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.gw.Config.ShopifyWebhookSecret = shopifySecret
	return e
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "shopify", name))
	require.NoError(t, err)
	return string(b)
}

// edit changes a fixture as a JSON object and returns it re-encoded.
func edit(t *testing.T, body string, change func(m map[string]any)) string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber() // keep the IDs exact
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	change(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

func shopifyHMAC(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// shopifyHeaders are the headers Shopify sends with a webhook, signed with
// the test secret; a later "Name: value" in extra replaces one ("Name: "
// with no value removes it, as far as the handler can tell).
func shopifyHeaders(topic, id, body string, extra ...string) []string {
	return append([]string{
		"Content-Type: application/json",
		"X-Shopify-Topic: " + topic,
		"X-Shopify-Webhook-Id: " + id,
		"X-Shopify-Hmac-Sha256: " + shopifyHMAC(shopifySecret, body),
		"X-Shopify-Shop-Domain: " + shopifyShop,
		"X-Shopify-API-Version: 2024-04",
		"X-Shopify-Triggered-At: 2024-05-01T14:21:31.123456789Z",
	}, extra...)
}

func (e *env) shopify(topic, id, body string, extra ...string) *httptest.ResponseRecorder {
	return e.do(http.MethodPost, "/webhooks/shopify", body, shopifyHeaders(topic, id, body, extra...)...)
}

// stored is what one stored and signalled event must be.
type stored struct {
	MessageID  string
	Kind       string
	Name       string
	Properties map[string]any
	Traits     map[string]any
	Timestamp  time.Time
}

// requireStoredAndSignalled checks the events stored and the signals sent,
// both exactly and in order, all for one contact.
func requireStoredAndSignalled(t *testing.T, e *env, contactID string, want ...stored) {
	t.Helper()
	evs := e.events(t)
	require.Len(t, evs, len(want))
	for i, w := range want {
		ev := evs[i]
		assert.Equal(t, w.MessageID, ev.MessageID, "event %d", i)
		assert.Equal(t, w.Kind, ev.Kind, w.MessageID)
		assert.Equal(t, w.Name, ev.Name, w.MessageID)
		assert.Equal(t, contactID, ev.ContactID, w.MessageID)
		assert.Equal(t, w.Properties, ev.Properties, w.MessageID)
		assert.Equal(t, w.Traits, ev.Traits, w.MessageID)
		assert.True(t, w.Timestamp.Equal(ev.Timestamp), "%s: timestamp %s, want %s", w.MessageID, ev.Timestamp.UTC(), w.Timestamp)
		assert.Equal(t, models.EventDelivered, ev.Status, w.MessageID)
	}
	// One webhook's events (an identify and its track) go in one signal.
	sent := e.tc.signalsSent()
	require.Len(t, sent, 1)
	if len(want) > 1 {
		assert.Equal(t, workflows.SignalEvents, sent[0].Signal)
	}
	calls := e.tc.calls()
	require.Len(t, calls, len(want))
	for i, w := range want {
		call := calls[i]
		assert.Equal(t, workflows.ContactWorkflowID(contactID), call.WorkflowID, w.MessageID)
		assert.Equal(t, w.MessageID, call.Event.MessageID, "signal %d", i)
		assert.Equal(t, w.Kind, call.Event.Kind, w.MessageID)
		assert.Equal(t, w.Name, call.Event.Name, w.MessageID)
		assert.Equal(t, w.Properties, call.Event.Properties, w.MessageID)
		assert.Equal(t, w.Traits, call.Event.Traits, w.MessageID)
		assert.True(t, w.Timestamp.Equal(call.Event.Timestamp), w.MessageID)
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// The products in the fixtures' checkout and order.
var anaProducts = []any{
	map[string]any{
		"product_id": "7713449787575", "variant_id": "42871193092279", "sku": "LS-SAND-M",
		"name": "Linen Shirt", "variant": "Sand / M", "brand": "Harbor & Pine", "price": 89.0, "quantity": 1.0,
	},
	map[string]any{
		"product_id": "7713450147767", "variant_id": "42871194140855", "sku": "WS-OAT",
		"name": "Wool Socks", "variant": "Oat", "brand": "Harbor & Pine", "price": 20.0, "quantity": 2.0,
	},
}

func TestShopifyCheckoutBecomesIdentifyAndCheckoutStarted(t *testing.T) {
	for _, tc := range []struct {
		topic string
		at    time.Time
	}{
		{"checkouts/create", utc("2024-05-01T14:15:00Z")}, // created_at
		{"checkouts/update", utc("2024-05-01T14:21:30Z")}, // updated_at
	} {
		t.Run(tc.topic, func(t *testing.T) {
			e := shopifyEnv(t)
			requireJSON(t, e.shopify(tc.topic, webhookID, fixture(t, "checkouts_create.json")), http.StatusOK, okBody)

			requireStoredAndSignalled(t, e, anaID,
				stored{
					MessageID: checkoutMID + "-identify", Kind: workflows.KindIdentify,
					Traits: map[string]any{
						"email": "ana.lopez@example.com", "phone": "+15555550123", "firstName": "Ana", "lastName": "Lopez",
						"sms_consent": false, "email_marketing": true,
					},
					Timestamp: tc.at,
				},
				stored{
					MessageID: checkoutMID + "-track", Kind: workflows.KindTrack, Name: workflows.EventCheckoutStarted,
					Properties: map[string]any{
						"checkout_id": checkoutToken,
						"cart_url":    "https://harborandpine.example/58129231927/checkouts/ac/c1f3e4b0a2d94e7f8b6a5d3c2e1f0a9b/recover?key=8b8c5a0f2e1d4c3b",
						"value":       129.0,
						"currency":    "USD",
						"products":    anaProducts,
					},
					Timestamp: tc.at,
				})

			c := e.contact(t, anaID)
			assert.Equal(t, "ana.lopez@example.com", c.Email)
			assert.Equal(t, "Ana Lopez", c.Name())
			assert.Equal(t, "+15555550123", c.Phone)
			assert.False(t, c.SMSConsent)
			assert.Equal(t, true, c.Traits["email_marketing"])

			ev := e.events(t)[1]
			assert.Equal(t, map[string]any{"source": "shopify", "shopify": map[string]any{
				"topic": tc.topic, "webhook_id": webhookID, "shop_domain": shopifyShop, "api_version": "2024-04",
			}}, ev.Context)
		})
	}
}

func TestShopifyGuestCheckoutIsKeyedByEmail(t *testing.T) {
	e := shopifyEnv(t)
	body := edit(t, fixture(t, "checkouts_create.json"), func(m map[string]any) {
		delete(m, "customer")
		m["email"] = " Ana.Lopez@Example.COM "
		m["phone"] = "+15555550199"
		item := m["line_items"].([]any)[0].(map[string]any)
		item["image_url"] = "https://cdn.shopify.com/s/files/1/0581/2923/1927/products/linen-shirt-sand.jpg"
		item["url"] = "https://harborandpine.example/products/linen-shirt"
		item["sku"] = nil
		item["product_id"] = nil // a custom line item
	})
	requireJSON(t, e.shopify("checkouts/create", webhookID, body), http.StatusOK, okBody)

	// No customer: the contact is the address, under its opaque ID.
	id, err := e.store.ResolveContact(context.Background(), "ana.lopez@example.com")
	require.NoError(t, err)
	require.Regexp(t, `^c_[a-z2-7]{26}$`, id)
	evs := e.events(t)
	require.Len(t, evs, 2)
	for _, ev := range evs {
		assert.Equal(t, id, ev.ContactID)
	}
	assert.Equal(t, map[string]any{
		"email": "Ana.Lopez@Example.COM", "phone": "+15555550199", "firstName": "Ana", "lastName": "Lopez",
	}, evs[0].Traits, "names from the billing address")
	assert.Equal(t, map[string]any{
		"variant_id": "42871193092279", "name": "Linen Shirt", "variant": "Sand / M", "brand": "Harbor & Pine",
		"price": 89.0, "quantity": 1.0,
		"image_url": "https://cdn.shopify.com/s/files/1/0581/2923/1927/products/linen-shirt-sand.jpg",
		"url":       "https://harborandpine.example/products/linen-shirt",
	}, evs[1].Properties["products"].([]any)[0])
	assert.Equal(t, "Ana.Lopez@Example.COM", e.contact(t, id).Email, "the address as the shopper typed it")
}

func TestShopifyCheckoutWithNoContactIsIgnored(t *testing.T) {
	e := shopifyEnv(t)
	body := edit(t, fixture(t, "checkouts_create.json"), func(m map[string]any) {
		delete(m, "customer")
		m["email"] = nil
	})
	requireJSON(t, e.shopify("checkouts/create", webhookID, body), http.StatusOK,
		`{"success":true,"ignored":"checkout has no customer and no email, so no contact to follow up"}`)
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
	assert.Zero(t, e.countContacts(t))
}

func TestShopifyCompletedCheckoutIsIgnored(t *testing.T) {
	e := shopifyEnv(t)
	// The last checkouts/update, sent as the order is placed.
	body := edit(t, fixture(t, "checkouts_create.json"), func(m map[string]any) {
		m["completed_at"] = "2024-05-01T10:24:03-04:00"
	})
	requireJSON(t, e.shopify("checkouts/update", webhookID, body), http.StatusOK,
		`{"success":true,"ignored":"checkout is completed; orders/create reports the order"}`)
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
}

func TestShopifyOrderCreateBecomesOrderCompleted(t *testing.T) {
	e := shopifyEnv(t)
	requireJSON(t, e.shopify("orders/create", webhookID, fixture(t, "orders_create.json")), http.StatusOK, okBody)
	at := utc("2024-05-01T14:24:05Z")
	requireStoredAndSignalled(t, e, anaID,
		stored{
			MessageID: completedMID + "-identify", Kind: workflows.KindIdentify,
			Traits: map[string]any{
				"email": "ana.lopez@example.com", "phone": "+15555550123", "firstName": "Ana", "lastName": "Lopez",
				"sms_consent": true, "email_marketing": true,
			},
			Timestamp: at,
		},
		stored{
			MessageID: completedMID + "-track", Kind: workflows.KindTrack, Name: workflows.EventOrderCompleted,
			Properties: map[string]any{
				"order_id":     "5612398723191",
				"order_number": "#1042",
				"checkout_id":  checkoutToken,
				"total":        136.95,
				"value":        136.95,
				"currency":     "USD",
				"products":     anaProducts,
				"coupon":       "HELLO-7KQ4-M2XP",
			},
			Timestamp: at,
		})
	assert.True(t, e.contact(t, anaID).SMSConsent, "sms_marketing_consent.state is subscribed")
}

func TestShopifyOrderFulfilledBecomesOrderShipped(t *testing.T) {
	e := shopifyEnv(t)
	requireJSON(t, e.shopify("orders/fulfilled", webhookID, fixture(t, "orders_fulfilled.json")), http.StatusOK, okBody)
	// The first fulfillment went without tracking; the second has it.
	requireStoredAndSignalled(t, e, anaID, stored{
		MessageID: shippedMID, Kind: workflows.KindTrack, Name: workflows.EventOrderShipped,
		Properties: map[string]any{
			"order_id":        "5612398723191",
			"tracking_number": "1Z999AA10123456784",
			"carrier":         "UPS",
			"tracking_url":    "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784",
		},
		Timestamp: utc("2024-05-03T18:40:10Z"),
	})
}

func TestShopifyOrderCancelledBecomesOrderCancelled(t *testing.T) {
	e := shopifyEnv(t)
	body := edit(t, fixture(t, "orders_create.json"), func(m map[string]any) {
		m["cancelled_at"] = "2024-05-02T09:00:00-04:00"
		m["cancel_reason"] = "customer"
	})
	requireJSON(t, e.shopify("orders/cancelled", webhookID, body), http.StatusOK, okBody)
	requireStoredAndSignalled(t, e, anaID, stored{
		MessageID: cancelledMID, Kind: workflows.KindTrack, Name: workflows.EventOrderCancelled,
		Properties: map[string]any{"order_id": "5612398723191", "reason": "customer"},
		Timestamp:  utc("2024-05-02T13:00:00Z"),
	})
}

func TestShopifyOrderFulfilledWithoutTracking(t *testing.T) {
	e := shopifyEnv(t)
	body := edit(t, fixture(t, "orders_fulfilled.json"), func(m map[string]any) {
		m["fulfillments"] = m["fulfillments"].([]any)[:1]
	})
	requireJSON(t, e.shopify("orders/fulfilled", webhookID, body), http.StatusOK, okBody)
	requireStoredAndSignalled(t, e, anaID, stored{
		MessageID: "nudge:shopify-order-" + orderID + "-2024-05-02T13:12:44Z-shipped", // the one fulfillment's created_at
		Kind:      workflows.KindTrack, Name: workflows.EventOrderShipped,
		Properties: map[string]any{"order_id": "5612398723191"},
		Timestamp:  utc("2024-05-03T18:40:12Z"), // the order's updated_at
	})
}

func TestShopifyCustomerCreateBecomesIdentifyAndSignedUp(t *testing.T) {
	e := shopifyEnv(t)
	requireJSON(t, e.shopify("customers/create", webhookID, fixture(t, "customers_create.json")), http.StatusOK, okBody)
	const id = "706405506930370084"
	at := utc("2024-05-02T12:30:15Z")
	requireStoredAndSignalled(t, e, id,
		stored{
			MessageID: signedUpMID + "-identify", Kind: workflows.KindIdentify,
			Traits: map[string]any{
				"email": "Marta.Quinn@example.com", "phone": "+16135550135", "firstName": "Marta", "lastName": "Quinn",
				"sms_consent":     true,
				"email_marketing": true, // email_marketing_consent outranks the legacy accepts_marketing
			},
			Timestamp: at,
		},
		stored{
			MessageID: signedUpMID + "-track", Kind: workflows.KindTrack, Name: workflows.EventSignedUp,
			Properties: map[string]any{"source": "shopify"},
			Timestamp:  at,
		})
	c := e.contact(t, id)
	assert.Equal(t, "Marta.Quinn@example.com", c.Email)
	assert.Equal(t, "Marta Quinn", c.Name())
	assert.Equal(t, "+16135550135", c.Phone)
	assert.True(t, c.SMSConsent)
}

func TestShopifyCustomerLegacyAcceptsMarketing(t *testing.T) {
	e := shopifyEnv(t)
	body := edit(t, fixture(t, "customers_create.json"), func(m map[string]any) {
		m["email_marketing_consent"] = nil
		m["sms_marketing_consent"] = nil
		m["accepts_marketing"] = true
	})
	requireJSON(t, e.shopify("customers/create", webhookID, body), http.StatusOK, okBody)
	evs := e.events(t)
	require.Len(t, evs, 2)
	assert.Equal(t, true, evs[0].Traits["email_marketing"])
	assert.NotContains(t, evs[0].Traits, "sms_consent", "no consent object: consent left as it is")
}

func TestShopifyStorySignalsOneContactInOrder(t *testing.T) {
	e := shopifyEnv(t)
	requireJSON(t, e.shopify("checkouts/create", "w1", fixture(t, "checkouts_create.json")), http.StatusOK, okBody)
	requireJSON(t, e.shopify("orders/create", "w2", fixture(t, "orders_create.json")), http.StatusOK, okBody)
	requireJSON(t, e.shopify("orders/fulfilled", "w3", fixture(t, "orders_fulfilled.json")), http.StatusOK, okBody)
	var got []string
	for _, c := range e.tc.calls() {
		got = append(got, c.WorkflowID+" "+c.Event.MessageID+" "+c.Event.Name)
	}
	assert.Equal(t, []string{
		"contact/" + anaID + " " + checkoutMID + "-identify ",
		"contact/" + anaID + " " + checkoutMID + "-track Checkout Started",
		"contact/" + anaID + " " + completedMID + "-identify ",
		"contact/" + anaID + " " + completedMID + "-track Order Completed",
		"contact/" + anaID + " " + shippedMID + " Order Shipped",
	}, got)
	// The order names the checkout it completes, which is what ends the
	// abandoned-cart run for that checkout.
	calls := e.tc.calls()
	assert.Equal(t, calls[1].Event.Properties["checkout_id"], calls[3].Event.Properties["checkout_id"])
}

func TestShopifyRedeliveryIsAcknowledgedOnce(t *testing.T) {
	t.Run("one call", func(t *testing.T) {
		e := shopifyEnv(t)
		body := fixture(t, "orders_fulfilled.json")
		requireJSON(t, e.shopify("orders/fulfilled", webhookID, body), http.StatusOK, okBody)
		requireJSON(t, e.shopify("orders/fulfilled", webhookID, body), http.StatusOK, okBody)
		assert.Len(t, e.events(t), 1)
		assert.Len(t, e.tc.calls(), 1)
	})
	t.Run("two calls", func(t *testing.T) {
		e := shopifyEnv(t)
		body := fixture(t, "checkouts_create.json")
		for range 3 {
			requireJSON(t, e.shopify("checkouts/create", webhookID, body), http.StatusOK, okBody)
		}
		assert.Len(t, e.events(t), 2)
		assert.Len(t, e.tc.calls(), 2)
	})
}

func TestShopifyRefusedWebhooks(t *testing.T) {
	body := fixture(t, "orders_create.json")
	tampered := strings.Replace(body, `"total_price": "136.95"`, `"total_price": "1.00"`, 1)
	require.NotEqual(t, body, tampered)
	const (
		mismatch = `{"success":false,"error":"X-Shopify-Hmac-Sha256 does not match the body: the webhook was altered, or NUDGE_SHOPIFY_WEBHOOK_SECRET is not the secret Shopify signs with"}`
		missing  = `{"success":false,"error":"X-Shopify-Hmac-Sha256 header missing; Shopify signs every webhook with it"}`
		bad      = `{"success":false,"error":"X-Shopify-Hmac-Sha256 is malformed: it must be the base64 of a 32-byte HMAC-SHA256"}`
	)
	cases := []struct {
		name, topic, body string
		headers           []string
		status            int
		want              string
	}{
		{"tampered body", "orders/create", tampered,
			shopifyHeaders("orders/create", webhookID, body), 401, mismatch},
		{"unsigned", "orders/create", body,
			shopifyHeaders("orders/create", webhookID, body, "X-Shopify-Hmac-Sha256: "), 401, missing},
		{"wrong secret", "orders/create", body,
			shopifyHeaders("orders/create", webhookID, body, "X-Shopify-Hmac-Sha256: "+shopifyHMAC("shpss_someone_else", body)), 401, mismatch},
		{"signature not base64", "orders/create", body,
			shopifyHeaders("orders/create", webhookID, body, "X-Shopify-Hmac-Sha256: not base64!"), 401, bad},
		{"signature too short", "orders/create", body,
			shopifyHeaders("orders/create", webhookID, body, "X-Shopify-Hmac-Sha256: "+base64.StdEncoding.EncodeToString([]byte("short"))), 401, bad},
		{"unknown topic, bad signature", "products/create", tampered,
			shopifyHeaders("products/create", webhookID, body), 401, mismatch},
		{"no webhook id", "orders/create", body,
			shopifyHeaders("orders/create", "", body), 400,
			`{"success":false,"error":"X-Shopify-Webhook-Id header missing; Shopify sends it with every webhook, and Nudge keeps it with the events to trace them"}`},
		{"webhook id too long", "orders/create", body,
			shopifyHeaders("orders/create", strings.Repeat("x", 192), body), 400,
			`{"success":false,"error":"X-Shopify-Webhook-Id is 192 characters long; the limit is 191"}`},
		{"no topic", "", body,
			shopifyHeaders("", webhookID, body), 400,
			`{"success":false,"error":"X-Shopify-Topic header missing; it says what the webhook is about, such as orders/create"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := shopifyEnv(t)
			rec := e.do(http.MethodPost, "/webhooks/shopify", tc.body, tc.headers...)
			requireJSON(t, rec, tc.status, tc.want)
			assert.Empty(t, e.events(t), "nothing stored")
			assert.Zero(t, e.countContacts(t), "no contact created")
			assert.Empty(t, e.tc.calls(), "nothing signalled")
		})
	}
}

func TestShopifyNotConfigured(t *testing.T) {
	e := newEnv(t) // no NUDGE_SHOPIFY_WEBHOOK_SECRET
	body := fixture(t, "orders_create.json")
	requireJSON(t, e.shopify("orders/create", webhookID, body), http.StatusNotFound,
		`{"success":false,"error":"Shopify webhooks are not enabled: set NUDGE_SHOPIFY_WEBHOOK_SECRET to the webhook signing secret Shopify shows for your app or store"}`)
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
}

func TestShopifyUnknownTopicIsAcknowledgedAndIgnored(t *testing.T) {
	e := shopifyEnv(t)
	body := `{"id":7713449787575,"title":"Linen Shirt","created_at":"2024-05-01T10:15:00-04:00"}`
	requireJSON(t, e.shopify("products/create", webhookID, body), http.StatusOK,
		`{"success":true,"ignored":"topic products/create is not used"}`)
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())
	assert.Zero(t, e.countContacts(t))
}

func TestShopifyOversizeBodyIsRefused(t *testing.T) {
	e := shopifyEnv(t)
	body := edit(t, fixture(t, "orders_create.json"), func(m map[string]any) {
		m["note"] = strings.Repeat("a", 1<<20)
	})
	requireJSON(t, e.shopify("orders/create", webhookID, body), http.StatusRequestEntityTooLarge,
		`{"success":false,"error":"the body is over the 1024 KB limit for a Shopify webhook","limit":1048576}`)
	assert.Empty(t, e.events(t))
	assert.Empty(t, e.tc.calls())

	// Just under the limit is fine.
	body = edit(t, fixture(t, "orders_create.json"), func(m map[string]any) { m["note"] = "" })
	body = edit(t, body, func(m map[string]any) { m["note"] = strings.Repeat("a", 1<<20-len(body)) })
	require.Equal(t, 1<<20, len(body))
	requireJSON(t, e.shopify("orders/create", webhookID, body), http.StatusOK, okBody)
}

func TestShopifyBrokenShapeIsRefusedNamingTheField(t *testing.T) {
	set := func(path string, v any) func(map[string]any) {
		return func(m map[string]any) {
			keys := strings.Split(path, ".")
			for _, k := range keys[:len(keys)-1] {
				if i := strings.IndexByte(k, '['); i >= 0 {
					m = m[k[:i]].([]any)[k[i+1]-'0'].(map[string]any)
					continue
				}
				m = m[k].(map[string]any)
			}
			if v == nil {
				delete(m, keys[len(keys)-1])
				return
			}
			m[keys[len(keys)-1]] = v
		}
	}
	cases := []struct {
		name, topic, fixture string
		change               func(map[string]any)
		want                 string
	}{
		{"money not a string", "orders/create", "orders_create.json", set("total_price", map[string]any{"amount": "136.95"}),
			`{"success":false,"error":"total_price: must be a decimal amount such as \"129.00\", got an object","field":"total_price"}`},
		{"money not a number", "checkouts/create", "checkouts_create.json", set("line_items[1].price", "twenty"),
			`{"success":false,"error":"line_items[1].price: must be a decimal amount such as \"129.00\", got \"twenty\"","field":"line_items[1].price"}`},
		{"customer id", "orders/create", "orders_create.json", set("customer.id", true),
			`{"success":false,"error":"customer.id: must be an ID (a whole number or a string), got a boolean","field":"customer.id"}`},
		{"quantity", "orders/create", "orders_create.json", set("line_items[0].quantity", "1"),
			`{"success":false,"error":"line_items[0].quantity: must be a whole number, got a string","field":"line_items[0].quantity"}`},
		{"email", "checkouts/update", "checkouts_create.json", set("email", 42),
			`{"success":false,"error":"email: must be a string, got a number","field":"email"}`},
		{"line items", "checkouts/create", "checkouts_create.json", set("line_items", map[string]any{}),
			`{"success":false,"error":"line_items: must be an array, got an object","field":"line_items"}`},
		{"timestamp", "customers/create", "customers_create.json", set("created_at", "yesterday"),
			`{"success":false,"error":"created_at: must be an ISO-8601 date-time such as \"2024-05-01T12:30:00-04:00\", got \"yesterday\"","field":"created_at"}`},
		{"sms consent", "customers/create", "customers_create.json", set("sms_marketing_consent", "subscribed"),
			`{"success":false,"error":"sms_marketing_consent: must be an object, got a string","field":"sms_marketing_consent"}`},
		{"fulfillment", "orders/fulfilled", "orders_fulfilled.json", set("fulfillments", []any{"shipped"}),
			`{"success":false,"error":"fulfillments[0]: must be an object, got a string","field":"fulfillments[0]"}`},
		{"tracking company", "orders/fulfilled", "orders_fulfilled.json", set("fulfillments[1].tracking_company", []any{"UPS"}),
			`{"success":false,"error":"fulfillments[1].tracking_company: must be a string, got an array","field":"fulfillments[1].tracking_company"}`},
		{"email too long for a contact ID", "checkouts/create", "checkouts_create.json", func(m map[string]any) {
			delete(m, "customer")
			m["email"] = strings.Repeat("a", 180) + "@example.com"
		}, `{"success":false,"error":"email: as a contact ID, is 192 characters long; the limit is 191","field":"email"}`},
		{"no checkout token", "checkouts/create", "checkouts_create.json", set("token", nil),
			`{"success":false,"error":"token: required: the checkout token, which identifies the checkout","field":"token"}`},
		{"no order id", "orders/create", "orders_create.json", set("id", nil),
			`{"success":false,"error":"id: required: the order ID","field":"id"}`},
		{"no customer id", "customers/create", "customers_create.json", set("id", nil),
			`{"success":false,"error":"id: required: the customer ID","field":"id"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := shopifyEnv(t)
			body := edit(t, fixture(t, tc.fixture), tc.change)
			requireJSON(t, e.shopify(tc.topic, webhookID, body), http.StatusBadRequest, tc.want)
			assert.Empty(t, e.events(t), "nothing stored")
			assert.Zero(t, e.countContacts(t), "no contact created")
			assert.Empty(t, e.tc.calls(), "nothing signalled")
		})
	}

	t.Run("logged", func(t *testing.T) {
		e := shopifyEnv(t)
		var logs bytes.Buffer
		e.gw.Log = slog.New(slog.NewTextHandler(&logs, nil))
		body := edit(t, fixture(t, "orders_create.json"), set("total_price", false))
		require.Equal(t, http.StatusBadRequest, e.shopify("orders/create", webhookID, body).Code)
		assert.Contains(t, logs.String(), `level=WARN msg="shopify webhook refused" topic=orders/create webhook_id=`+webhookID+
			` shop=`+shopifyShop+` error="total_price: must be a decimal amount such as \"129.00\", got a boolean"`)
	})

	t.Run("not JSON", func(t *testing.T) {
		e := shopifyEnv(t)
		requireJSON(t, e.shopify("orders/create", webhookID, `{"id": 1,`), http.StatusBadRequest,
			`{"success":false,"error":"the body is not valid JSON: unexpected end of JSON input (at byte 9)"}`)
		assert.Empty(t, e.events(t))
	})
}

func TestShopifyMoneySentAsANumberIsRead(t *testing.T) {
	e := shopifyEnv(t)
	body := edit(t, fixture(t, "orders_create.json"), func(m map[string]any) {
		m["total_price"] = json.Number("136.95")
	})
	requireJSON(t, e.shopify("orders/create", webhookID, body), http.StatusOK, okBody)
	assert.Equal(t, 136.95, e.events(t)[1].Properties["total"])
}

// Finding: X-Shopify-Webhook-Id is not covered by the HMAC, and messageIds
// used to come from it, so a signed body replayed under a new webhook ID
// was recorded again. Now they come from the body: a replay under any
// webhook ID (or shop domain, which is not signed either) records nothing
// and is answered 200, so Shopify would not retry it.
func TestShopifyReplayUnderANewWebhookIDRecordsNothing(t *testing.T) {
	cancelled := func(t *testing.T) string {
		return edit(t, fixture(t, "orders_create.json"), func(m map[string]any) {
			m["cancelled_at"] = "2024-05-02T09:00:00-04:00"
			m["updated_at"] = "2024-05-02T09:00:01-04:00"
		})
	}
	for _, tc := range []struct {
		topic string
		body  func(t *testing.T) string
		want  []string
	}{
		{"checkouts/create", func(t *testing.T) string { return fixture(t, "checkouts_create.json") }, []string{checkoutMID + "-identify", checkoutMID + "-track"}},
		{"orders/create", func(t *testing.T) string { return fixture(t, "orders_create.json") }, []string{completedMID + "-identify", completedMID + "-track"}},
		{"orders/fulfilled", func(t *testing.T) string { return fixture(t, "orders_fulfilled.json") }, []string{shippedMID}},
		{"orders/cancelled", cancelled, []string{cancelledMID}},
		{"customers/create", func(t *testing.T) string { return fixture(t, "customers_create.json") }, []string{signedUpMID + "-identify", signedUpMID + "-track"}},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			e := shopifyEnv(t)
			body := tc.body(t)
			requireJSON(t, e.shopify(tc.topic, webhookID, body), http.StatusOK, okBody)
			for i, extra := range [][]string{
				nil,
				{"X-Shopify-Shop-Domain: another-shop.myshopify.com"},
				{"X-Shopify-API-Version: 2025-01"},
			} {
				replayID := "f00dfeed-0000-4000-8000-00000000000" + strconv.Itoa(i)
				requireJSON(t, e.shopify(tc.topic, replayID, body, extra...), http.StatusOK, okBody)
			}
			evs := e.events(t)
			var got []string
			for _, ev := range evs {
				got = append(got, ev.MessageID)
				assert.Equal(t, webhookID, ev.Context["shopify"].(map[string]any)["webhook_id"], "the first delivery's event, kept as it was")
			}
			assert.Equal(t, tc.want, got)
			assert.Len(t, e.tc.calls(), len(tc.want), "signalled once")
		})
	}

	// The same version of a resource under another topic that reports the
	// same thing, or a later version of something that happens once, is
	// not a new event either.
	for _, tc := range []struct {
		name, firstTopic, first, thenTopic string
		then                               func(t *testing.T) string
		want                               []string
	}{
		{"checkouts/create body sent as checkouts/update", "checkouts/create", "checkouts_create.json", "checkouts/update",
			func(t *testing.T) string { return fixture(t, "checkouts_create.json") },
			[]string{checkoutMID + "-identify", checkoutMID + "-track"}},
		{"the fulfilled order sent as orders/create: one order, one Order Completed", "orders/create", "orders_create.json", "orders/create",
			func(t *testing.T) string { return fixture(t, "orders_fulfilled.json") },
			[]string{completedMID + "-identify", completedMID + "-track"}},
		{"a later version of the fulfilled order sent as orders/fulfilled: the same shipment", "orders/fulfilled", "orders_fulfilled.json", "orders/fulfilled",
			func(t *testing.T) string {
				return edit(t, fixture(t, "orders_fulfilled.json"), func(m map[string]any) {
					m["updated_at"] = "2024-05-09T11:00:00-04:00"
					m["note"] = "gift wrap"
				})
			},
			[]string{shippedMID}},
		{"a later version of the customer sent as customers/create: one sign-up", "customers/create", "customers_create.json", "customers/create",
			func(t *testing.T) string {
				return edit(t, fixture(t, "customers_create.json"), func(m map[string]any) {
					m["updated_at"] = "2024-06-01T08:00:00-04:00"
					m["first_name"] = "Martina"
				})
			},
			[]string{signedUpMID + "-identify", signedUpMID + "-track"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := shopifyEnv(t)
			requireJSON(t, e.shopify(tc.firstTopic, webhookID, fixture(t, tc.first)), http.StatusOK, okBody)
			requireJSON(t, e.shopify(tc.thenTopic, "f00dfeed-0000-4000-8000-000000000001", tc.then(t)), http.StatusOK, okBody)
			var got []string
			for _, ev := range e.events(t) {
				got = append(got, ev.MessageID)
			}
			assert.Equal(t, tc.want, got)
			assert.Len(t, e.tc.calls(), len(tc.want))
		})
	}
}

// Finding: X-Shopify-Topic is not covered by the HMAC, so an orders/create
// body sent with the topic orders/cancelled cancelled the order. A topic
// the signed body contradicts is refused with 400 naming the field, and
// nothing changes.
func TestShopifyTopicTheSignedBodyContradictsIsRefused(t *testing.T) {
	t.Run("orders/create body as orders/cancelled", func(t *testing.T) {
		e := shopifyEnv(t)
		body := fixture(t, "orders_create.json")
		requireJSON(t, e.shopify("orders/create", webhookID, body), http.StatusOK, okBody)
		requireJSON(t, e.shopify("orders/cancelled", "f00dfeed-0000-4000-8000-000000000001", body), http.StatusBadRequest,
			`{"success":false,"error":"X-Shopify-Topic is orders/cancelled, but cancelled_at is null: the order is not cancelled","field":"cancelled_at"}`)
		evs := e.events(t)
		require.Len(t, evs, 2, "only the order's own events")
		for _, ev := range evs {
			assert.NotEqual(t, workflows.EventOrderCancelled, ev.Name)
		}
		assert.Equal(t, []string{completedMID + "-identify", completedMID + "-track"}, []string{evs[0].MessageID, evs[1].MessageID})
		assert.Len(t, e.tc.calls(), 2, "no Order Cancelled signalled")
	})

	orderBody := func(t *testing.T) string { return fixture(t, "orders_create.json") }
	checkoutBody := func(t *testing.T) string { return fixture(t, "checkouts_create.json") }
	customerBody := func(t *testing.T) string { return fixture(t, "customers_create.json") }
	for _, tc := range []struct {
		name, topic string
		body        func(t *testing.T) string
		want        string
	}{
		{"unfulfilled order as orders/fulfilled", "orders/fulfilled", orderBody,
			`{"success":false,"error":"X-Shopify-Topic is orders/fulfilled, but fulfillment_status is null, not \"fulfilled\"","field":"fulfillment_status"}`},
		{"partly fulfilled order as orders/fulfilled", "orders/fulfilled", func(t *testing.T) string {
			return edit(t, fixture(t, "orders_fulfilled.json"), func(m map[string]any) { m["fulfillment_status"] = "partial" })
		}, `{"success":false,"error":"X-Shopify-Topic is orders/fulfilled, but fulfillment_status is \"partial\", not \"fulfilled\"","field":"fulfillment_status"}`},
		{"cancelled order as orders/create", "orders/create", func(t *testing.T) string {
			return edit(t, fixture(t, "orders_create.json"), func(m map[string]any) { m["cancelled_at"] = "2024-05-02T09:00:00-04:00" })
		}, `{"success":false,"error":"X-Shopify-Topic is orders/create, but cancelled_at is set: a new order is not cancelled","field":"cancelled_at"}`},
		{"order as checkouts/update", "checkouts/update", orderBody,
			`{"success":false,"error":"X-Shopify-Topic is checkouts/update, but the body is an order (it has order_number), not a checkout","field":"order_number"}`},
		{"order as customers/create", "customers/create", orderBody,
			`{"success":false,"error":"X-Shopify-Topic is customers/create, but the body is an order (it has order_number), not a customer","field":"order_number"}`},
		{"checkout as orders/create", "orders/create", checkoutBody,
			`{"success":false,"error":"X-Shopify-Topic is orders/create, but the body is not an order: it has no order_number","field":"order_number"}`},
		{"checkout as orders/cancelled", "orders/cancelled", checkoutBody,
			`{"success":false,"error":"X-Shopify-Topic is orders/cancelled, but the body is not an order: it has no order_number","field":"order_number"}`},
		{"checkout as customers/create", "customers/create", checkoutBody,
			`{"success":false,"error":"X-Shopify-Topic is customers/create, but the body is a checkout (it has line_items), not a customer","field":"line_items"}`},
		{"customer as checkouts/create", "checkouts/create", customerBody,
			`{"success":false,"error":"X-Shopify-Topic is checkouts/create, but the body is not a checkout: it has no line_items","field":"line_items"}`},
		{"customer as orders/fulfilled", "orders/fulfilled", customerBody,
			`{"success":false,"error":"X-Shopify-Topic is orders/fulfilled, but the body is not an order: it has no order_number","field":"order_number"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := shopifyEnv(t)
			requireJSON(t, e.shopify(tc.topic, webhookID, tc.body(t)), http.StatusBadRequest, tc.want)
			assert.Empty(t, e.events(t), "nothing stored")
			assert.Zero(t, e.countContacts(t), "no contact created")
			assert.Empty(t, e.tc.calls(), "nothing signalled")
		})
	}
}

// What Shopify really sends is still recorded: a cancellation after the
// order, a checkout that changed, an order shipped again after its
// shipment was cancelled.
func TestShopifyNewVersionsAreNewEvents(t *testing.T) {
	t.Run("order, then its real cancellation", func(t *testing.T) {
		e := shopifyEnv(t)
		requireJSON(t, e.shopify("orders/create", webhookID, fixture(t, "orders_create.json")), http.StatusOK, okBody)
		body := edit(t, fixture(t, "orders_create.json"), func(m map[string]any) {
			m["cancelled_at"] = "2024-05-02T09:00:00-04:00"
			m["cancel_reason"] = "customer"
			m["updated_at"] = "2024-05-02T09:00:01-04:00"
		})
		requireJSON(t, e.shopify("orders/cancelled", "f00dfeed-0000-4000-8000-000000000001", body), http.StatusOK, okBody)
		evs := e.events(t)
		require.Len(t, evs, 3)
		assert.Equal(t, cancelledMID, evs[2].MessageID)
		assert.Equal(t, workflows.EventOrderCancelled, evs[2].Name)
		assert.Equal(t, map[string]any{"order_id": orderID, "reason": "customer"}, evs[2].Properties)
		assert.True(t, utc("2024-05-02T13:00:00Z").Equal(evs[2].Timestamp))
		assert.Len(t, e.tc.calls(), 3)
	})

	t.Run("checkout updated", func(t *testing.T) {
		e := shopifyEnv(t)
		requireJSON(t, e.shopify("checkouts/create", webhookID, fixture(t, "checkouts_create.json")), http.StatusOK, okBody)
		body := edit(t, fixture(t, "checkouts_create.json"), func(m map[string]any) {
			m["updated_at"] = "2024-05-01T10:40:00-04:00"
			m["line_items"] = m["line_items"].([]any)[:1]
			m["total_price"] = "89.00"
		})
		requireJSON(t, e.shopify("checkouts/update", "f00dfeed-0000-4000-8000-000000000001", body), http.StatusOK, okBody)
		const updated = "nudge:shopify-checkout-" + checkoutToken + "-2024-05-01T14:40:00Z-started"
		evs := e.events(t)
		require.Len(t, evs, 4)
		assert.Equal(t, []string{checkoutMID + "-identify", checkoutMID + "-track", updated + "-identify", updated + "-track"},
			[]string{evs[0].MessageID, evs[1].MessageID, evs[2].MessageID, evs[3].MessageID})
		assert.Equal(t, 89.0, evs[3].Properties["value"])
		assert.True(t, utc("2024-05-01T14:40:00Z").Equal(evs[3].Timestamp))
		assert.Len(t, e.tc.calls(), 4)
	})

	t.Run("order fulfilled again", func(t *testing.T) {
		e := shopifyEnv(t)
		requireJSON(t, e.shopify("orders/fulfilled", webhookID, fixture(t, "orders_fulfilled.json")), http.StatusOK, okBody)
		// The UPS shipment was cancelled and the items sent again by USPS.
		body := edit(t, fixture(t, "orders_fulfilled.json"), func(m map[string]any) {
			fs := m["fulfillments"].([]any)
			fs[1].(map[string]any)["status"] = "cancelled"
			fs = append(fs, map[string]any{
				"id": json.Number("5036213010615"), "status": "success", "created_at": "2024-05-06T10:00:00-04:00",
				"tracking_company": "USPS", "tracking_number": "9400111899223197428490",
				"tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490",
			})
			m["fulfillments"] = fs
			m["updated_at"] = "2024-05-06T10:00:02-04:00"
		})
		requireJSON(t, e.shopify("orders/fulfilled", "f00dfeed-0000-4000-8000-000000000001", body), http.StatusOK, okBody)
		evs := e.events(t)
		require.Len(t, evs, 2)
		assert.Equal(t, shippedMID, evs[0].MessageID)
		assert.Equal(t, "nudge:shopify-order-"+orderID+"-2024-05-06T14:00:00Z-shipped", evs[1].MessageID)
		assert.Equal(t, map[string]any{
			"order_id": orderID, "tracking_number": "9400111899223197428490", "carrier": "USPS",
			"tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490",
		}, evs[1].Properties)
		assert.Len(t, e.tc.calls(), 2)
	})
}

// An ID too long for a messageId is replaced by its hash, so the messageId
// keeps an ID's limits.
func TestShopifyLongIDIsHashedInTheMessageID(t *testing.T) {
	e := shopifyEnv(t)
	token := strings.Repeat("k", 150)
	body := edit(t, fixture(t, "checkouts_create.json"), func(m map[string]any) { m["token"] = token })
	requireJSON(t, e.shopify("checkouts/create", webhookID, body), http.StatusOK, okBody)
	base := fmt.Sprintf("nudge:shopify-checkout-%x-2024-05-01T14:21:30Z-started", contactHash(token))
	evs := e.events(t)
	require.Len(t, evs, 2)
	assert.Equal(t, base+"-identify", evs[0].MessageID)
	assert.Equal(t, base+"-track", evs[1].MessageID)
	assert.Equal(t, token, evs[1].Properties["checkout_id"], "the checkout keeps its token")
}

// lastEvent is the event stored last.
func (e *env) lastEvent(t *testing.T) models.Event {
	t.Helper()
	evs := e.events(t)
	require.NotEmpty(t, evs)
	return evs[len(evs)-1]
}

// A carrier's "delivered" becomes Order Delivered for the order's contact,
// which Nudge knows from orders/create (the body names no customer). It
// starts the post-purchase review request's clock, and marks the order.
func TestShopifyDeliveredFulfillmentEventBecomesOrderDelivered(t *testing.T) {
	e := shopifyEnv(t)
	requireJSON(t, e.shopify("orders/create", webhookID, fixture(t, "orders_create.json")), http.StatusOK, okBody)
	requireJSON(t, e.shopify("fulfillment_events/create", "wh-2", fixture(t, "fulfillment_events_create.json")), http.StatusOK, okBody)
	ev := e.lastEvent(t)
	assert.Equal(t, "nudge:shopify-fulfillment_event-25769803201-2024-05-05T20:02:44Z-delivered", ev.MessageID)
	assert.Equal(t, workflows.EventOrderDelivered, ev.Name)
	assert.Equal(t, anaID, ev.ContactID)
	assert.Equal(t, map[string]any{"order_id": orderID, "fulfillment_id": "4907392868535"}, ev.Properties)
	assert.True(t, utc("2024-05-05T20:02:44Z").Equal(ev.Timestamp), "happened_at: %s", ev.Timestamp)
	calls := e.tc.calls()
	require.NotEmpty(t, calls)
	assert.Equal(t, workflows.ContactWorkflowID(anaID), calls[len(calls)-1].WorkflowID)
	o, err := e.store.Order(context.Background(), models.OrderKey(models.SourceShopify, orderID))
	require.NoError(t, err)
	assert.Equal(t, "delivered", o.Status)

	// Any other status is acknowledged and ignored.
	inTransit := edit(t, fixture(t, "fulfillment_events_create.json"), func(m map[string]any) { m["id"], m["status"] = 25769803202, "in_transit" })
	requireJSON(t, e.shopify("fulfillment_events/create", "wh-3", inTransit), http.StatusOK,
		`{"success":true,"ignored":"fulfillment event status \"in_transit\": only delivered is used"}`)
}

// A refund, whole or in part, becomes Order Refunded with the amount the
// successful refund transactions returned (a failed one is not counted),
// which ends the order's post-purchase journey.
func TestShopifyRefundBecomesOrderRefunded(t *testing.T) {
	e := shopifyEnv(t)
	requireJSON(t, e.shopify("orders/create", webhookID, fixture(t, "orders_create.json")), http.StatusOK, okBody)
	requireJSON(t, e.shopify("refunds/create", "wh-2", fixture(t, "refunds_create.json")), http.StatusOK, okBody)
	ev := e.lastEvent(t)
	assert.Equal(t, "nudge:shopify-refund-929361463479-2024-05-09T15:15:30Z-refunded", ev.MessageID)
	assert.Equal(t, workflows.EventOrderRefunded, ev.Name)
	assert.Equal(t, anaID, ev.ContactID)
	assert.Equal(t, map[string]any{"order_id": orderID, "refund_id": "929361463479", "amount": 43.3, "currency": "USD", "note": "Socks too small"}, ev.Properties)
}

// Neither body names a customer: for an order Nudge never stored, there is
// no one to tell, and nothing is stored. A body of the wrong resource is
// refused naming the field, as for the other topics.
func TestShopifyDeliveryAndRefundOfAnUnknownOrder(t *testing.T) {
	e := shopifyEnv(t)
	requireJSON(t, e.shopify("refunds/create", "wh-1", fixture(t, "refunds_create.json")), http.StatusOK,
		`{"success":true,"ignored":"order 5612398723191 is not one Nudge has (no orders/create for it), so no contact to tell"}`)
	requireJSON(t, e.shopify("fulfillment_events/create", "wh-2", fixture(t, "fulfillment_events_create.json")), http.StatusOK,
		`{"success":true,"ignored":"order 5612398723191 is not one Nudge has (no orders/create for it), so no contact to tell"}`)
	assert.Empty(t, e.events(t))
	assert.Zero(t, e.countContacts(t))

	requireJSON(t, e.shopify("refunds/create", "wh-3", fixture(t, "fulfillment_events_create.json")), http.StatusBadRequest,
		`{"success":false,"error":"X-Shopify-Topic is refunds/create, but the body is not a refund: it has no refund_line_items","field":"refund_line_items"}`)
	requireJSON(t, e.shopify("fulfillment_events/create", "wh-4", fixture(t, "refunds_create.json")), http.StatusBadRequest,
		`{"success":false,"error":"X-Shopify-Topic is fulfillment_events/create, but the body is not a fulfillment event: it has no fulfillment_id","field":"fulfillment_id"}`)
}
