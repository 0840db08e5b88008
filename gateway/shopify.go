package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Shopify webhooks (POST /webhooks/shopify) become Segment-spec calls: a
// checkout is Checkout Started, an order Order Completed, a fulfilled order
// Order Shipped, a new customer an identify and Signed Up. They go through
// the same store → signal path as /v1/track.
//
// Shopify's HMAC covers the body only: X-Shopify-Webhook-Id, -Topic and
// -Shop-Domain can be changed by whoever replays a signed body. So nothing
// that decides what is recorded rests on them alone: messageIds come from
// the body (see shopifyDelivery.messageID), and the topic must match the body
// (see shopifyDelivery.checkKind and the topics' own checks).

const (
	// shopifyBodyLimit is generous: an order with many line items, each
	// with its tax lines and discount allocations, runs to hundreds of KB.
	shopifyBodyLimit = 1 << 20

	hdrShopifyHmac    = "X-Shopify-Hmac-Sha256"
	hdrShopifyWebhook = "X-Shopify-Webhook-Id"
	hdrShopifyTopic   = "X-Shopify-Topic"
	hdrShopifyShop    = "X-Shopify-Shop-Domain"
	hdrShopifyVersion = "X-Shopify-API-Version"
)

// shopifyTopics maps the webhook topics Nudge uses to what they become.
// Any other topic is acknowledged and ignored: Shopify removes a webhook
// subscription that keeps failing.
var shopifyTopics = map[string]shopifyMapping{
	// Both checkout topics report the same thing, so one version of a
	// checkout is one Checkout Started whichever topic it came under.
	"checkouts/create": {kind: "checkout", event: "started", read: shopifyCheckout},
	"checkouts/update": {kind: "checkout", event: "started", read: shopifyCheckout},
	"orders/create":    {kind: "order", event: "completed", read: shopifyOrderCompleted},
	"orders/fulfilled": {kind: "order", event: "shipped", read: shopifyOrderShipped},
	"orders/cancelled": {kind: "order", event: "cancelled", read: shopifyOrderCancelled},
	"customers/create": {kind: "customer", event: "signed-up", read: shopifyCustomerCreated},
	// A carrier's "delivered" starts the review request's clock; a refund
	// (whole or part) ends the order's post-purchase journey. Neither body
	// names the customer: the order Nudge stored says whose it is.
	"fulfillment_events/create": {kind: "fulfillment_event", event: "delivered", read: shopifyDelivered},
	"refunds/create":            {kind: "refund", event: "refunded", read: shopifyRefunded},
}

// shopifyMapping is what a topic's body must be and what it becomes.
type shopifyMapping struct {
	kind  string // the resource the body must be: checkout, order, customer, fulfillment_event or refund
	event string // what the delivery reports; part of its messageIds
	read  func(d *shopifyDelivery, body []byte) (calls []models.Incoming, ignored string, err *apiError)
}

// shopifyWebhook handles POST /webhooks/shopify.
func (g *Gateway) shopifyWebhook(c *gin.Context) {
	secret := g.Config.ShopifyWebhookSecret
	if secret == "" {
		fail(c, http.StatusNotFound, "Shopify webhooks are not enabled: set NUDGE_SHOPIFY_WEBHOOK_SECRET to the webhook signing secret Shopify shows for your app or store")
		return
	}
	// Check the header's shape before reading a body no one signed.
	sig, problem := shopifySignature(c.GetHeader(hdrShopifyHmac))
	if problem != "" {
		fail(c, http.StatusUnauthorized, problem)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, shopifyBodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			(&apiError{
				Status: http.StatusRequestEntityTooLarge,
				Error:  fmt.Sprintf("the body is over the %d KB limit for a Shopify webhook", shopifyBodyLimit>>10),
				Limit:  shopifyBodyLimit,
			}).send(c)
			return
		}
		fail(c, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		fail(c, http.StatusUnauthorized, hdrShopifyHmac+" does not match the body: the webhook was altered, or NUDGE_SHOPIFY_WEBHOOK_SECRET is not the secret Shopify signs with")
		return
	}

	d := &shopifyDelivery{
		ID:       strings.TrimSpace(c.GetHeader(hdrShopifyWebhook)),
		Topic:    strings.TrimSpace(c.GetHeader(hdrShopifyTopic)),
		Shop:     strings.TrimSpace(c.GetHeader(hdrShopifyShop)),
		Version:  strings.TrimSpace(c.GetHeader(hdrShopifyVersion)),
		Received: time.Now().UTC(),
	}
	// From here the webhook is signed by Shopify, so a request we cannot
	// read is a bug on one side or the other: say so to Shopify (which
	// shows failed deliveries to the shop) and in the log.
	refuse := func(aerr *apiError) {
		g.log().Warn("shopify webhook refused", "topic", d.Topic, "webhook_id", d.ID, "shop", d.Shop, "error", aerr.Error)
		aerr.send(c)
	}
	switch {
	case d.ID == "":
		refuse(&apiError{Status: http.StatusBadRequest, Error: hdrShopifyWebhook + " header missing; Shopify sends it with every webhook, and Nudge keeps it with the events to trace them"})
		return
	case d.Topic == "":
		refuse(&apiError{Status: http.StatusBadRequest, Error: hdrShopifyTopic + " header missing; it says what the webhook is about, such as orders/create"})
		return
	}
	// Every header read is stored in the events' context: each must be
	// text that can be kept as it is, the webhook ID within an ID's limits.
	if err := workflows.CheckID(d.ID); err != nil {
		refuse(&apiError{Status: http.StatusBadRequest, Error: fmt.Sprintf("%s %v", hdrShopifyWebhook, err)})
		return
	}
	for _, h := range []struct{ name, value string }{{hdrShopifyTopic, d.Topic}, {hdrShopifyShop, d.Shop}, {hdrShopifyVersion, d.Version}} {
		if !utf8.ValidString(h.value) || strings.ContainsFunc(h.value, unicode.IsControl) {
			refuse(&apiError{Status: http.StatusBadRequest, Error: h.name + " is not valid UTF-8 text, or holds a control character"})
			return
		}
	}
	topic, known := shopifyTopics[d.Topic]
	if !known {
		g.log().Debug("shopify webhook ignored: topic not used", "topic", d.Topic, "webhook_id", d.ID, "shop", d.Shop)
		shopifyIgnored(c, fmt.Sprintf("topic %s is not used", d.Topic))
		return
	}
	d.kind, d.event = topic.kind, topic.event
	d.orderContact = func(orderID string) (string, *apiError) {
		o, err := g.Store.Order(c.Request.Context(), models.OrderKey(models.SourceShopify, orderID))
		switch {
		case errors.Is(err, models.ErrNotFound):
			return "", nil
		case err != nil:
			// Shopify retries a 5xx; the order may be readable then.
			return "", &apiError{Status: http.StatusServiceUnavailable, Error: "could not look up order " + orderID + " just now; retry"}
		}
		return o.ContactID, nil
	}
	calls, ignored, aerr := topic.read(d, body)
	switch {
	case aerr != nil:
		refuse(aerr)
	case ignored != "":
		g.log().Info("shopify webhook ignored", "topic", d.Topic, "webhook_id", d.ID, "shop", d.Shop, "reason", ignored)
		shopifyIgnored(c, ignored)
	default:
		g.ingest(c, calls)
	}
}

// shopifyIgnored acknowledges a webhook Nudge does not act on: a failure
// would only make Shopify retry it and, in the end, remove the subscription.
func shopifyIgnored(c *gin.Context, why string) {
	c.JSON(http.StatusOK, gin.H{"success": true, "ignored": why})
}

// shopifySignature decodes the signature header, or says what is wrong with it.
func shopifySignature(header string) ([]byte, string) {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil, hdrShopifyHmac + " header missing; Shopify signs every webhook with it"
	}
	sig, err := base64.StdEncoding.DecodeString(header)
	if err != nil || len(sig) != sha256.Size {
		return nil, hdrShopifyHmac + " is malformed: it must be the base64 of a 32-byte HMAC-SHA256"
	}
	return sig, ""
}

// shopifyDelivery is one webhook delivery, from its headers, and what its
// topic says the body must be (kind) and reports (event).
type shopifyDelivery struct {
	ID, Topic, Shop, Version string
	Received                 time.Time
	kind, event              string
	// orderContact is the contact of an order Nudge has stored from
	// orders/create, "" for one it has not.
	orderContact func(orderID string) (string, *apiError)
}

// shopifyRef is what a delivery reports on: one version of one resource,
// both read from the signed body.
type shopifyRef struct {
	ID      string    // the order or customer ID, or the checkout token
	Version time.Time // the body's timestamp for the change reported
}

// messageID is the messageId a delivery's events are built on:
// shopify-<kind>-<id>-<version>-<event>, as in
// shopify-order-5612398723191-2024-05-01T14:24:05Z-completed. It comes
// from the signed body, not from X-Shopify-Webhook-Id, so the same body
// sent again under any webhook ID is dropped by the store (and the
// contact workflow) as a duplicate. The shop is left out: its header is
// unsigned too, and Shopify's IDs and checkout tokens are unique across
// shops. An ID that would take the messageId past an ID's limits is
// replaced by its hash.
func (d *shopifyDelivery) messageID(ref shopifyRef) string {
	build := func(id string) string {
		return workflows.OwnID("shopify", d.kind, id, ref.Version.UTC().Format(time.RFC3339Nano), d.event)
	}
	id := build(ref.ID)
	if workflows.CheckID(id+"-identify") != nil {
		id = build(fmt.Sprintf("%x", contactHash(ref.ID)))
	}
	return id
}

// calls builds what a webhook becomes: an identify first when there are
// traits, then the track, with messageIds from ref.
func (d *shopifyDelivery) calls(ref shopifyRef, userID string, traits map[string]any, when shopifyTime, event string, properties map[string]any) []models.Incoming {
	at := when.T
	if at.IsZero() {
		at = d.Received
	}
	base := d.messageID(ref)
	callContext := map[string]any{"source": "shopify", "shopify": d.context()}
	var out []models.Incoming
	if len(traits) > 0 {
		out = append(out, models.Incoming{
			Event:  models.Event{MessageID: base + "-identify", Kind: workflows.KindIdentify, Traits: traits, Context: callContext, Timestamp: at, Source: models.SourceShopify},
			UserID: userID,
		})
	}
	track := models.Incoming{
		Event:  models.Event{MessageID: base, Kind: workflows.KindTrack, Name: event, Properties: properties, Context: callContext, Timestamp: at, Source: models.SourceShopify},
		UserID: userID,
	}
	if len(out) > 0 {
		track.MessageID = base + "-track"
	}
	return append(out, track)
}

func (d *shopifyDelivery) context() map[string]any {
	m := map[string]any{"topic": d.Topic, "webhook_id": d.ID}
	if d.Shop != "" {
		m["shop_domain"] = d.Shop
	}
	if d.Version != "" {
		m["api_version"] = d.Version
	}
	return m
}

// The topics: each reads the payload and says what it becomes, or why it
// is ignored.

// shopifyCheckout: checkouts/create and checkouts/update → Checkout Started.
func shopifyCheckout(d *shopifyDelivery, body []byte) ([]models.Incoming, string, *apiError) {
	var p shopifyPurchase
	if aerr := decodeShopify(d, body, &p); aerr != nil {
		return nil, "", aerr
	}
	if p.Token == "" {
		return nil, "", shopifyRequired("token", "the checkout token, which identifies the checkout")
	}
	if aerr := shopifyKey("token", p.Token); aerr != nil {
		return nil, "", aerr
	}
	// Each update of a checkout is a new version of the cart.
	version := p.UpdatedAt.or(p.CreatedAt)
	if version.T.IsZero() {
		return nil, "", shopifyRequired("updated_at", "when the checkout last changed, which tells a new version of it from the same one sent again")
	}
	if !p.CompletedAt.T.IsZero() {
		// Shopify sends a last checkouts/update when the order is placed;
		// orders/create reports that, and a Checkout Started now could
		// start a cart reminder for a cart already bought.
		return nil, "checkout is completed; orders/create reports the order", nil
	}
	products, aerr := shopifyProducts(p.LineItems)
	if aerr != nil {
		return nil, "", aerr
	}
	userID, aerr := p.contactID(p.Email)
	switch {
	case aerr != nil:
		return nil, "", aerr
	case userID == "":
		return nil, "checkout has no customer and no email, so no contact to follow up", nil
	}
	props := map[string]any{"checkout_id": p.Token}
	setString(props, "cart_url", p.AbandonedCheckoutURL)
	if p.TotalPrice.Set {
		props["value"] = p.TotalPrice.Amount
	}
	setString(props, "currency", p.Currency)
	if products != nil {
		props["products"] = products
	}
	at := p.CreatedAt.or(p.UpdatedAt)
	if d.Topic == "checkouts/update" {
		at = p.UpdatedAt.or(p.CreatedAt)
	}
	ref := shopifyRef{ID: p.Token, Version: version.T}
	return d.calls(ref, userID, p.traits(p.Email), at, workflows.EventCheckoutStarted, props), "", nil
}

// shopifyOrder reads an order payload and the contact it belongs to. check
// is the topic's own test of the order (is it cancelled, is it fulfilled),
// made before anything else so a mismatch is refused, never ignored.
// ignored is set (and the rest empty) when the order has no contact.
func shopifyOrder(d *shopifyDelivery, body []byte, check func(p *shopifyPurchase) *apiError) (p shopifyPurchase, userID, ignored string, aerr *apiError) {
	if aerr = decodeShopify(d, body, &p); aerr != nil {
		return p, "", "", aerr
	}
	if p.ID == "" {
		return p, "", "", shopifyRequired("id", "the order ID")
	}
	if aerr = shopifyKey("id", string(p.ID)); aerr != nil {
		return p, "", "", aerr
	}
	if aerr = check(&p); aerr != nil {
		return p, "", "", aerr
	}
	if token := strings.TrimSpace(p.CheckoutToken); token != "" {
		if aerr = shopifyKey("checkout_token", token); aerr != nil {
			return p, "", "", aerr
		}
	}
	if userID, aerr = p.contactID(firstNonEmpty(p.Email, p.ContactEmail)); aerr == nil && userID == "" {
		ignored = "order has no customer and no email, so no contact to follow up"
	}
	return p, userID, ignored, aerr
}

// shopifyOrderCompleted: orders/create → Order Completed.
func shopifyOrderCompleted(d *shopifyDelivery, body []byte) ([]models.Incoming, string, *apiError) {
	p, userID, ignored, aerr := shopifyOrder(d, body, func(p *shopifyPurchase) *apiError {
		if !p.CancelledAt.T.IsZero() {
			return d.mismatch("cancelled_at", "cancelled_at is set: a new order is not cancelled")
		}
		if p.CreatedAt.T.IsZero() {
			return shopifyRequired("created_at", "when the order was placed, which identifies its Order Completed")
		}
		return nil
	})
	if aerr != nil || ignored != "" {
		return nil, ignored, aerr
	}
	products, aerr := shopifyProducts(p.LineItems)
	if aerr != nil {
		return nil, "", aerr
	}
	email := firstNonEmpty(p.Email, p.ContactEmail)
	props := map[string]any{"order_id": string(p.ID)}
	setString(props, "order_number", p.Name)
	setString(props, "checkout_id", p.CheckoutToken)
	if p.TotalPrice.Set {
		props["total"] = p.TotalPrice.Amount
		props["value"] = p.TotalPrice.Amount
	}
	setString(props, "currency", p.Currency)
	if products != nil {
		props["products"] = products
	}
	// The codes the order used, as Segment's coupon (comma-separated when
	// several): the store marks Nudge's among them redeemed.
	codes, aerr := decodeShopifyList[shopifyDiscountCode]("discount_codes", p.DiscountCodes)
	if aerr != nil {
		return nil, "", aerr
	}
	var coupons []string
	for _, dc := range codes {
		if code := strings.TrimSpace(dc.Code); code != "" {
			coupons = append(coupons, code)
		}
	}
	setString(props, "coupon", strings.Join(coupons, ","))
	// An order is placed once: keyed on created_at, not updated_at, a later
	// signed version of it (say its orders/fulfilled body) sent as
	// orders/create is the same Order Completed, not a second sale.
	ref := shopifyRef{ID: string(p.ID), Version: p.CreatedAt.T}
	return d.calls(ref, userID, p.traits(email), p.CreatedAt.or(p.UpdatedAt), workflows.EventOrderCompleted, props), "", nil
}

// shopifyOrderShipped: orders/fulfilled → Order Shipped, with the tracking
// of the first fulfillment that has any.
func shopifyOrderShipped(d *shopifyDelivery, body []byte) ([]models.Incoming, string, *apiError) {
	var fulfillments []shopifyFulfillment
	p, userID, ignored, aerr := shopifyOrder(d, body, func(p *shopifyPurchase) (aerr *apiError) {
		if p.FulfillmentStatus != "fulfilled" {
			got := "null"
			if p.FulfillmentStatus != "" {
				got = strconv.Quote(clip(p.FulfillmentStatus))
			}
			return d.mismatch("fulfillment_status", "fulfillment_status is "+got+`, not "fulfilled"`)
		}
		fulfillments, aerr = decodeShopifyList[shopifyFulfillment]("fulfillments", p.Fulfillments)
		return aerr
	})
	if aerr != nil || ignored != "" {
		return nil, ignored, aerr
	}
	// The shipment is the order's live fulfillments: keyed on the newest,
	// a later version of the same fulfilled order is the same Order
	// Shipped, and a new fulfillment (one cancelled and made again) a new one.
	var version time.Time
	for _, f := range fulfillments {
		if t := f.CreatedAt.or(f.UpdatedAt).T; f.live() && t.After(version) {
			version = t
		}
	}
	if version.IsZero() {
		version = p.UpdatedAt.T
	}
	if version.IsZero() {
		return nil, "", shopifyRequired("updated_at", "when the order was fulfilled, from its fulfillments' created_at or the order's updated_at")
	}
	props := map[string]any{"order_id": string(p.ID)}
	at := p.UpdatedAt.or(p.CreatedAt)
	for _, f := range fulfillments {
		if !f.live() {
			continue
		}
		number := firstNonEmpty(append([]string{f.TrackingNumber}, f.TrackingNumbers...)...)
		url := firstNonEmpty(append([]string{f.TrackingURL}, f.TrackingURLs...)...)
		if number == "" && url == "" {
			continue
		}
		setString(props, "tracking_number", number)
		setString(props, "carrier", f.TrackingCompany)
		setString(props, "tracking_url", url)
		at = f.CreatedAt.or(f.UpdatedAt).or(at)
		break
	}
	return d.calls(shopifyRef{ID: string(p.ID), Version: version}, userID, nil, at, workflows.EventOrderShipped, props), "", nil
}

// shopifyOrderCancelled: orders/cancelled → Order Cancelled, which ends the
// order's post-purchase journey.
func shopifyOrderCancelled(d *shopifyDelivery, body []byte) ([]models.Incoming, string, *apiError) {
	p, userID, ignored, aerr := shopifyOrder(d, body, func(p *shopifyPurchase) *apiError {
		// The topic header is not signed: only a body Shopify signed as
		// cancelled may end an order's journey.
		if p.CancelledAt.T.IsZero() {
			return d.mismatch("cancelled_at", "cancelled_at is null: the order is not cancelled")
		}
		return nil
	})
	if aerr != nil || ignored != "" {
		return nil, ignored, aerr
	}
	props := map[string]any{"order_id": string(p.ID)}
	setString(props, "reason", p.CancelReason)
	// An order is cancelled once (Shopify cannot reopen it).
	ref := shopifyRef{ID: string(p.ID), Version: p.CancelledAt.T}
	return d.calls(ref, userID, nil, p.CancelledAt.or(p.UpdatedAt), workflows.EventOrderCancelled, props), "", nil
}

// shopifyCustomerCreated: customers/create → identify, then Signed Up.
func shopifyCustomerCreated(d *shopifyDelivery, body []byte) ([]models.Incoming, string, *apiError) {
	var cu shopifyCustomer
	if aerr := decodeShopify(d, body, &cu); aerr != nil {
		return nil, "", aerr
	}
	if cu.ID == "" {
		return nil, "", shopifyRequired("id", "the customer ID")
	}
	userID, aerr := shopifyUserID("id", string(cu.ID))
	if aerr != nil {
		return nil, "", aerr
	}
	// A customer is created once: a later version of it is the same sign-up.
	if cu.CreatedAt.T.IsZero() {
		return nil, "", shopifyRequired("created_at", "when the customer was created, which identifies their Signed Up")
	}
	ref := shopifyRef{ID: string(cu.ID), Version: cu.CreatedAt.T}
	calls := d.calls(ref, userID, cu.traits(), cu.CreatedAt.or(cu.UpdatedAt), workflows.EventSignedUp, map[string]any{"source": "shopify"})
	// A guest's checkouts and orders are keyed by their email address. The
	// same email as a customer is the same person: the guest's contact is
	// merged into the customer's (or, when the customer is new, it becomes
	// theirs), before the sign-up, so journeys go on under one contact.
	if guest, _ := shopifyUserID("email", strings.ToLower(strings.TrimSpace(cu.Email))); guest != "" {
		alias := models.Incoming{
			Event:  models.Event{MessageID: d.messageID(ref) + "-alias", Kind: models.KindAlias, Timestamp: d.Received, Source: models.SourceShopify},
			UserID: userID, PreviousID: guest, MayMerge: true,
		}
		calls = append([]models.Incoming{alias}, calls...)
	}
	return calls, "", nil
}

// shopifyOrderOf reads the order a fulfillment event or refund is about,
// and its contact; ignored says why there is none.
func shopifyOrderOf(d *shopifyDelivery, orderID shopifyID) (userID, ignored string, aerr *apiError) {
	if orderID == "" {
		return "", "", shopifyRequired("order_id", "the order it is about")
	}
	if aerr = shopifyKey("order_id", string(orderID)); aerr != nil {
		return "", "", aerr
	}
	if userID, aerr = d.orderContact(string(orderID)); aerr == nil && userID == "" {
		ignored = fmt.Sprintf("order %s is not one Nudge has (no orders/create for it), so no contact to tell", orderID)
	}
	return userID, ignored, aerr
}

// shopifyFulfillmentEvent is a carrier's update on a shipment.
type shopifyFulfillmentEvent struct {
	ID            shopifyID   `json:"id"`
	FulfillmentID shopifyID   `json:"fulfillment_id"`
	OrderID       shopifyID   `json:"order_id"`
	Status        string      `json:"status"`
	HappenedAt    shopifyTime `json:"happened_at"`
	CreatedAt     shopifyTime `json:"created_at"`
}

// shopifyDelivered: fulfillment_events/create with status delivered →
// Order Delivered. Other statuses (in_transit, out_for_delivery, …) are
// acknowledged and ignored.
func shopifyDelivered(d *shopifyDelivery, body []byte) ([]models.Incoming, string, *apiError) {
	var ev shopifyFulfillmentEvent
	if aerr := decodeShopify(d, body, &ev); aerr != nil {
		return nil, "", aerr
	}
	if ev.ID == "" {
		return nil, "", shopifyRequired("id", "the fulfillment event's ID")
	}
	if ev.Status != "delivered" {
		return nil, fmt.Sprintf("fulfillment event status %q: only delivered is used", clip(ev.Status)), nil
	}
	at := ev.HappenedAt.or(ev.CreatedAt)
	if at.T.IsZero() {
		return nil, "", shopifyRequired("happened_at", "when the parcel was delivered")
	}
	userID, ignored, aerr := shopifyOrderOf(d, ev.OrderID)
	if aerr != nil || ignored != "" {
		return nil, ignored, aerr
	}
	props := map[string]any{"order_id": string(ev.OrderID)}
	setString(props, "fulfillment_id", string(ev.FulfillmentID))
	return d.calls(shopifyRef{ID: string(ev.ID), Version: at.T}, userID, nil, at, workflows.EventOrderDelivered, props), "", nil
}

// shopifyRefund is a refund of all or part of an order.
type shopifyRefund struct {
	ID           shopifyID   `json:"id"`
	OrderID      shopifyID   `json:"order_id"`
	Note         string      `json:"note"`
	CreatedAt    shopifyTime `json:"created_at"`
	ProcessedAt  shopifyTime `json:"processed_at"`
	Transactions []struct {
		Kind     string       `json:"kind"`
		Status   string       `json:"status"`
		Amount   shopifyMoney `json:"amount"`
		Currency string       `json:"currency"`
	} `json:"transactions"`
}

// shopifyRefunded: refunds/create → Order Refunded, with the amount the
// successful refund transactions returned.
func shopifyRefunded(d *shopifyDelivery, body []byte) ([]models.Incoming, string, *apiError) {
	var r shopifyRefund
	if aerr := decodeShopify(d, body, &r); aerr != nil {
		return nil, "", aerr
	}
	if r.ID == "" {
		return nil, "", shopifyRequired("id", "the refund's ID")
	}
	at := r.CreatedAt.or(r.ProcessedAt)
	if at.T.IsZero() {
		return nil, "", shopifyRequired("created_at", "when the refund was made")
	}
	userID, ignored, aerr := shopifyOrderOf(d, r.OrderID)
	if aerr != nil || ignored != "" {
		return nil, ignored, aerr
	}
	props := map[string]any{"order_id": string(r.OrderID), "refund_id": string(r.ID)}
	amount, currency := 0.0, ""
	for _, tx := range r.Transactions {
		if tx.Kind == "refund" && tx.Status == "success" && tx.Amount.Set {
			amount += tx.Amount.Amount
			currency = firstNonEmpty(currency, tx.Currency)
		}
	}
	props["amount"] = amount
	setString(props, "currency", currency)
	setString(props, "note", r.Note)
	return d.calls(shopifyRef{ID: string(r.ID), Version: at.T}, userID, nil, at, workflows.EventOrderRefunded, props), "", nil
}

// shopifyPurchase holds what Nudge reads from a checkout or an order (they
// share most fields). Every field's type is checked as it is decoded, so a
// webhook of an unexpected shape is refused naming the field.
type shopifyPurchase struct {
	ID                   shopifyID         `json:"id"`
	Name                 string            `json:"name"` // the order number shoppers see, like #1001
	CancelReason         string            `json:"cancel_reason"`
	CancelledAt          shopifyTime       `json:"cancelled_at"`
	FulfillmentStatus    string            `json:"fulfillment_status"` // null, "partial" or "fulfilled" for an order
	Token                string            `json:"token"`
	CheckoutToken        string            `json:"checkout_token"`
	AbandonedCheckoutURL string            `json:"abandoned_checkout_url"`
	Email                string            `json:"email"`
	ContactEmail         string            `json:"contact_email"`
	Phone                string            `json:"phone"`
	Currency             string            `json:"currency"`
	TotalPrice           shopifyMoney      `json:"total_price"`
	Customer             *shopifyCustomer  `json:"customer"`
	BillingAddress       *shopifyAddress   `json:"billing_address"`
	LineItems            []json.RawMessage `json:"line_items"`
	Fulfillments         []json.RawMessage `json:"fulfillments"`
	DiscountCodes        []json.RawMessage `json:"discount_codes"` // an order's: [{code, amount, type}]
	CompletedAt          shopifyTime       `json:"completed_at"`
	CreatedAt            shopifyTime       `json:"created_at"`
	UpdatedAt            shopifyTime       `json:"updated_at"`
}

// shopifyDiscountCode is one of an order's discount_codes.
type shopifyDiscountCode struct {
	Code string `json:"code"`
}

// contactID is the contact a checkout or order belongs to: the Shopify
// customer's ID, else the lower-cased email; "" when there is neither.
func (p *shopifyPurchase) contactID(email string) (string, *apiError) {
	if p.Customer != nil && p.Customer.ID != "" {
		return shopifyUserID("customer.id", string(p.Customer.ID))
	}
	field := "email"
	if email == "" && p.Customer != nil {
		email, field = p.Customer.Email, "customer.email"
	}
	return shopifyUserID(field, strings.ToLower(strings.TrimSpace(email)))
}

// traits are the contact details a checkout or order carries: the
// customer's own first, then the checkout's, then the billing name.
func (p *shopifyPurchase) traits(email string) map[string]any {
	t := map[string]any{}
	if p.Customer != nil {
		t = p.Customer.traits()
	}
	setMissing := func(key, v string) {
		if _, ok := t[key]; !ok {
			setString(t, key, v)
		}
	}
	setMissing("email", email)
	setMissing("phone", p.Phone)
	if _, ok := t["firstName"]; !ok && p.BillingAddress != nil {
		if _, ok := t["lastName"]; !ok {
			setString(t, "firstName", p.BillingAddress.FirstName)
			setString(t, "lastName", p.BillingAddress.LastName)
		}
	}
	return t
}

type shopifyCustomer struct {
	ID               shopifyID       `json:"id"`
	Email            string          `json:"email"`
	Phone            string          `json:"phone"`
	FirstName        string          `json:"first_name"`
	LastName         string          `json:"last_name"`
	AcceptsMarketing *bool           `json:"accepts_marketing"`
	EmailConsent     *shopifyConsent `json:"email_marketing_consent"`
	SMSConsent       *shopifyConsent `json:"sms_marketing_consent"`
	CreatedAt        shopifyTime     `json:"created_at"`
	UpdatedAt        shopifyTime     `json:"updated_at"`
}

// traits maps a Shopify customer to identify traits. Consent is only set
// when Shopify says what it is, so a payload without it changes nothing.
func (c *shopifyCustomer) traits() map[string]any {
	t := map[string]any{}
	setString(t, "email", c.Email)
	setString(t, "phone", c.Phone)
	setString(t, "firstName", c.FirstName)
	setString(t, "lastName", c.LastName)
	if c.SMSConsent != nil && c.SMSConsent.State != "" {
		t["sms_consent"] = c.SMSConsent.State == "subscribed"
	}
	switch {
	case c.EmailConsent != nil && c.EmailConsent.State != "":
		t["email_marketing"] = c.EmailConsent.State == "subscribed"
	case c.AcceptsMarketing != nil:
		t["email_marketing"] = *c.AcceptsMarketing
	}
	return t
}

// shopifyConsent is email_marketing_consent or sms_marketing_consent; state
// is subscribed, not_subscribed, pending, unsubscribed or redacted.
type shopifyConsent struct {
	State string `json:"state"`
}

type shopifyAddress struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

type shopifyLineItem struct {
	ProductID    shopifyID    `json:"product_id"`
	VariantID    shopifyID    `json:"variant_id"`
	SKU          string       `json:"sku"`
	Title        string       `json:"title"`
	VariantTitle string       `json:"variant_title"`
	Vendor       string       `json:"vendor"`
	Price        shopifyMoney `json:"price"`
	Quantity     *int         `json:"quantity"`
	ImageURL     string       `json:"image_url"`
	URL          string       `json:"url"`
}

type shopifyFulfillment struct {
	Status          string      `json:"status"`
	TrackingCompany string      `json:"tracking_company"`
	TrackingNumber  string      `json:"tracking_number"`
	TrackingNumbers []string    `json:"tracking_numbers"`
	TrackingURL     string      `json:"tracking_url"`
	TrackingURLs    []string    `json:"tracking_urls"`
	CreatedAt       shopifyTime `json:"created_at"`
	UpdatedAt       shopifyTime `json:"updated_at"`
}

// live is false for a fulfillment that shipped nothing.
func (f *shopifyFulfillment) live() bool {
	switch f.Status {
	case "cancelled", "error", "failure":
		return false
	}
	return true
}

// shopifyProducts maps line items to Segment's products[].
func shopifyProducts(raw []json.RawMessage) ([]any, *apiError) {
	items, aerr := decodeShopifyList[shopifyLineItem]("line_items", raw)
	if aerr != nil || len(items) == 0 {
		return nil, aerr
	}
	products := make([]any, 0, len(items))
	for _, li := range items {
		p := map[string]any{}
		setString(p, "product_id", string(li.ProductID))
		setString(p, "variant_id", string(li.VariantID))
		setString(p, "sku", li.SKU)
		setString(p, "name", li.Title)
		setString(p, "variant", li.VariantTitle)
		setString(p, "brand", li.Vendor)
		if li.Price.Set {
			p["price"] = li.Price.Amount
		}
		if li.Quantity != nil {
			p["quantity"] = float64(*li.Quantity) // as JSON gives it back, in the store and in workflows
		}
		setString(p, "image_url", li.ImageURL)
		setString(p, "url", li.URL)
		products = append(products, p)
	}
	return products, nil
}

// decodeShopify reads a webhook body into v, checking that it is the
// resource the topic is about and each field's type.
func decodeShopify(d *shopifyDelivery, body []byte, v any) *apiError {
	fields, aerr := decodeObject(body)
	if aerr != nil {
		return aerr
	}
	if aerr := d.checkKind(fields); aerr != nil {
		return aerr
	}
	if err := json.Unmarshal(body, v); err != nil {
		return shopifyShapeError("", err)
	}
	return nil
}

// checkKind refuses a body that is not the resource its topic is about,
// since the topic header is not signed: a signed order replayed as a
// checkout or a customer, and so on. An order always has order_number and a
// checkout never; both have line_items, and a customer never.
func (d *shopifyDelivery) checkKind(fields map[string]json.RawMessage) *apiError {
	has := func(key string) bool {
		raw, ok := fields[key]
		return ok && jsonType(raw) != "null"
	}
	switch {
	case d.kind == "order" && !has("order_number"):
		return d.mismatch("order_number", "the body is not an order: it has no order_number")
	case d.kind != "order" && has("order_number"):
		return d.mismatch("order_number", "the body is an order (it has order_number), not a "+d.kind)
	case d.kind == "checkout" && !has("line_items"):
		return d.mismatch("line_items", "the body is not a checkout: it has no line_items")
	case d.kind == "customer" && has("line_items"):
		return d.mismatch("line_items", "the body is a checkout (it has line_items), not a customer")
	case d.kind == "fulfillment_event" && !has("fulfillment_id"):
		return d.mismatch("fulfillment_id", "the body is not a fulfillment event: it has no fulfillment_id")
	case d.kind == "refund" && !has("refund_line_items"):
		return d.mismatch("refund_line_items", "the body is not a refund: it has no refund_line_items")
	}
	return nil
}

// mismatch refuses a topic the signed body contradicts.
func (d *shopifyDelivery) mismatch(field, why string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Error: fmt.Sprintf("%s is %s, but %s", hdrShopifyTopic, d.Topic, why), Field: field}
}

// decodeShopifyList decodes an array's items one by one, so an error names
// the item: "line_items[2].price".
func decodeShopifyList[T any](key string, raw []json.RawMessage) ([]T, *apiError) {
	out := make([]T, 0, len(raw))
	for i, item := range raw {
		at := fmt.Sprintf("%s[%d]", key, i)
		if t := jsonType(item); t != "an object" {
			return nil, &apiError{Status: http.StatusBadRequest, Error: at + ": must be an object, got " + t, Field: at}
		}
		var v T
		if err := json.Unmarshal(item, &v); err != nil {
			return nil, shopifyShapeError(at, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// shopifyShapeError turns a decoding error into a 400 naming the field.
func shopifyShapeError(prefix string, err error) *apiError {
	field := prefix
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		if field == "" {
			return &apiError{Status: http.StatusBadRequest, Error: "the body is not a webhook Nudge can read: " + err.Error()}
		}
		return &apiError{Status: http.StatusBadRequest, Error: field + ": " + err.Error(), Field: field}
	}
	switch {
	case field == "":
		field = te.Field
	case te.Field != "":
		field += "." + te.Field
	}
	got := te.Value
	switch got {
	case "number", "string", "array", "object":
		got = map[string]string{"number": "a number", "string": "a string", "array": "an array", "object": "an object"}[got]
	case "bool":
		got = "a boolean"
	}
	return &apiError{
		Status: http.StatusBadRequest,
		Error:  fmt.Sprintf("%s: must be %s, got %s", field, shopifyWant(te.Type), got),
		Field:  field,
	}
}

// shopifyWant says what a field must be, for shopifyShapeError.
func shopifyWant(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[shopifyMoney]():
		return `a decimal amount such as "129.00"`
	case reflect.TypeFor[shopifyID]():
		return "an ID (a whole number or a string)"
	case reflect.TypeFor[shopifyTime]():
		return `an ISO-8601 date-time such as "2024-05-01T12:30:00-04:00"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return t.String()
}

func shopifyRequired(field, what string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Error: field + ": required: " + what, Field: field}
}

// shopifyKey checks an ID keyed journeys take their key from (a run per
// checkout, a run per order), which becomes part of a workflow ID, as
// keyProperties does for Segment calls.
func shopifyKey(field, id string) *apiError {
	if err := workflows.CheckID(id); err != nil {
		return &apiError{Status: http.StatusBadRequest, Error: fmt.Sprintf("%s: %v", field, err), Field: field}
	}
	return nil
}

// shopifyUserID checks that a contact ID keeps the rules of an ID (a guest's
// email address is one, accents and all); "" means there is none.
func shopifyUserID(field, id string) (string, *apiError) {
	if id == "" {
		return "", nil
	}
	if err := workflows.CheckID(id); err != nil {
		return "", &apiError{Status: http.StatusBadRequest, Error: fmt.Sprintf("%s: as a contact ID, %v", field, err), Field: field}
	}
	return id, nil
}

// shopifyID is a Shopify ID: a JSON number (kept digit for digit; they
// exceed float64's precision) or, from some apps, a string.
type shopifyID string

func (id *shopifyID) UnmarshalJSON(b []byte) error {
	switch jsonType(b) {
	case "null":
		return nil
	case "a number":
		s := strings.TrimSpace(string(b))
		if strings.ContainsAny(s, ".eE-+") {
			return shopifyTypeError(b, id)
		}
		*id = shopifyID(s)
		return nil
	case "a string":
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = shopifyID(strings.TrimSpace(s))
		return nil
	}
	return shopifyTypeError(b, id)
}

// shopifyMoney is an amount: Shopify sends "129.00"; a plain number is
// taken too. Set is false when the field is absent or null.
type shopifyMoney struct {
	Amount float64
	Set    bool
}

func (m *shopifyMoney) UnmarshalJSON(b []byte) error {
	var s string
	switch jsonType(b) {
	case "null":
		return nil
	case "a number":
		s = string(b)
	case "a string":
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
	default:
		return shopifyTypeError(b, m)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return shopifyTypeError(b, m)
	}
	*m = shopifyMoney{Amount: f, Set: true}
	return nil
}

// shopifyTime is a timestamp such as "2024-05-01T12:30:00-04:00".
type shopifyTime struct{ T time.Time }

func (t *shopifyTime) UnmarshalJSON(b []byte) error {
	switch jsonType(b) {
	case "null":
		return nil
	case "a string":
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
		if at, ok := parseTime(s); ok {
			t.T = at
			return nil
		}
	}
	return shopifyTypeError(b, t)
}

// or returns t, or other when t is not set.
func (t shopifyTime) or(other shopifyTime) shopifyTime {
	if t.T.IsZero() {
		return other
	}
	return t
}

// shopifyTypeError reports a value of the wrong type (or a string that does
// not parse); encoding/json adds the field's path to it.
func shopifyTypeError(b []byte, v any) error {
	got := jsonType(b)
	if got == "a string" {
		var s string
		_ = json.Unmarshal(b, &s)
		got = strconv.Quote(clip(s))
	}
	return &json.UnmarshalTypeError{Value: got, Type: reflect.TypeOf(v).Elem()}
}

func setString(m map[string]any, key, v string) {
	if v = strings.TrimSpace(v); v != "" {
		m[key] = v
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
