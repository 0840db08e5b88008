package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/nudgehq/nudge/workflows"
)

// Order events, as the Segment e-commerce spec names them.
var orderStatus = map[string]string{
	workflows.EventOrderCompleted: "completed",
	workflows.EventOrderShipped:   "shipped",
	workflows.EventOrderDelivered: "delivered",
	workflows.EventOrderRefunded:  "refunded",
	workflows.EventOrderCancelled: "cancelled",
}

// DefaultAttributionWindow is how far back a click (or an abandoned cart)
// may be and still earn an order (NUDGE_ATTRIBUTION_WINDOW).
const DefaultAttributionWindow = 5 * 24 * time.Hour

// How an order was attributed.
const (
	AttributedCart       = "cart"        // the abandoned cart of the same checkout
	AttributedClick      = "click"       // the last click in the window: an email's link or an in-app message's action
	AttributedRecentCart = "recent_cart" // the contact's latest abandoned cart in the window
)

// SourceAdmin is the source of events sent with an admin key: they may
// change any source's orders, for repairs.
const SourceAdmin = "admin"

// SourceShopify is the source of what the signed Shopify webhooks report.
const SourceShopify = "shopify"

// OrderKey is an order's key in the orders table: order IDs are unique only
// within the source that sent them (a Segment write key, the Shopify shop),
// so another source cannot name, move or refund them.
func OrderKey(source, orderID string) string {
	if source == "" {
		return orderID
	}
	return source + "/" + orderID
}

// recordOrder keeps the orders table in step with order events: an Order
// Completed creates the order, attributed to a journey; the others move its
// status along. An order belongs to the source and the contact that placed
// it: an event from another source or about another contact changes
// nothing in the table (the event itself still reaches its own contact).
// An admin key's events may change the contact's orders from any source.
func (s *Store) recordOrder(tx *gorm.DB, ev *Event) error {
	status, ok := orderStatus[ev.Name]
	id := PropString(ev.Properties, "order_id")
	if !ok || ev.Kind != workflows.KindTrack || id == "" || ev.ContactID == "" {
		return nil
	}
	key := OrderKey(ev.Source, id)
	// The orders this event may change: its source's, or, for an admin,
	// the contact's under any source; always the same contact's.
	mine := tx.Model(&Order{}).Where("id = ? AND contact_id = ?", key, ev.ContactID)
	if ev.Source == SourceAdmin {
		mine = tx.Model(&Order{}).Where("(id = ? OR order_id = ?) AND contact_id = ?", key, id, ev.ContactID)
	}
	if status != "completed" {
		details := map[string]any{}
		for _, k := range []string{"tracking_number", "carrier", "tracking_url", "reason"} {
			if v := PropString(ev.Properties, k); v != "" {
				details[k] = v
			}
		}
		change := &Order{Status: status}
		update := mine.Select("status")
		if len(details) > 0 {
			change.Details = details
			update = update.Select("status", "details")
		}
		res := update.Updates(change)
		if res.Error != nil || res.RowsAffected > 0 {
			return res.Error
		}
		// News of an order we never saw completed: keep what we know,
		// unless the key is another contact's.
		return skipDuplicates(tx).Create(&Order{ID: key, Source: ev.Source, OrderID: id, ContactID: ev.ContactID, Status: status,
			Details: details, OrderedAt: ev.Timestamp}).Error
	}
	var owner string
	if err := tx.Model(&Order{}).Where("id = ?", key).Pluck("contact_id", &owner).Error; err != nil {
		return err
	}
	if owner != "" && owner != ev.ContactID {
		return nil // another contact's order: not moved
	}
	o := Order{
		ID:         key,
		Source:     ev.Source,
		OrderID:    id,
		ContactID:  ev.ContactID,
		CheckoutID: firstProp(ev.Properties, "checkout_id", "cart_id"),
		Currency:   PropString(ev.Properties, "currency"),
		Status:     status,
		OrderedAt:  ev.Timestamp,
	}
	o.Products, _ = ev.Properties["products"].([]any)
	for _, k := range []string{"total", "value", "revenue"} {
		if v, ok := propNumber(ev.Properties, k); ok {
			o.Total = v
			break
		}
	}
	if err := stampTouches(tx, &o); err != nil {
		return err
	}
	if err := s.attribute(tx, &o); err != nil {
		return err
	}
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"checkout_id", "total", "currency", "products", "journey", "message_id", "attributed", "ordered_at", "updated_at"}),
	}).Create(&o).Error
	if err != nil {
		return err
	}
	return redeemDiscountCodes(tx, PropString(ev.Properties, "coupon"), o.ID, o.OrderedAt)
}

// redeemDiscountCodes marks Nudge's codes among coupon (the order's codes,
// comma-separated, as the Shopify webhook passes several) redeemed by the
// order. A code is redeemed once: the first order that used it keeps it.
func redeemDiscountCodes(tx *gorm.DB, coupon, orderKey string, at time.Time) error {
	var codes []string
	for _, c := range strings.Split(coupon, ",") {
		// Nudge's codes are upper case (newDiscountCode); shoppers may type
		// them in any case, and Shopify matches them so.
		if c = strings.ToUpper(strings.TrimSpace(c)); c != "" {
			codes = append(codes, c)
		}
	}
	if len(codes) == 0 {
		return nil
	}
	return tx.Model(&DiscountCode{}).Where("code IN ? AND redeemed_at IS NULL", codes).
		Updates(map[string]any{"redeemed_at": at.UTC(), "order_id": orderKey}).Error
}

// DiscountCreatedInShopify records that a code exists in the store, as the
// discount shopifyID.
func (s *Store) DiscountCreatedInShopify(ctx context.Context, codeID uint64, shopifyID string, at time.Time) error {
	return s.db.WithContext(ctx).Model(&DiscountCode{}).Where("id = ?", codeID).
		Updates(map[string]any{"shopify_id": shopifyID, "shopify_created_at": at.UTC()}).Error
}

// clickEvents are the clicks that earn an order.
var clickEvents = []string{workflows.EventEmailClicked, workflows.EventInAppClicked}

// attribute credits an order, in this order of preference, to:
//  1. the abandoned cart of the same checkout: the abandoned-cart journey
//     recovered it;
//  2. the last email or in-app message the contact clicked within the
//     window (an in-app click carries its message as an email click does);
//  3. the contact's latest abandoned cart within the window.
func (s *Store) attribute(tx *gorm.DB, o *Order) error {
	since := o.OrderedAt.Add(-s.window())
	var c Cart
	if o.CheckoutID != "" {
		err := tx.Where("checkout_id = ? AND contact_id = ?", o.CheckoutID, o.ContactID).Take(&c).Error
		switch {
		case err == nil:
			return s.creditCart(tx, o, &c, AttributedCart)
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
	}
	var click Event
	err := tx.Where("contact_id = ? AND kind = ? AND name IN ? AND timestamp > ? AND timestamp <= ?",
		o.ContactID, workflows.KindTrack, clickEvents, since, o.OrderedAt).
		Order("timestamp DESC").Take(&click).Error
	switch {
	case err == nil:
		o.Journey, o.Attributed = PropString(click.Properties, "journey"), AttributedClick
		if id, ok := propNumber(click.Properties, "message_id"); ok {
			mid := uint64(id)
			o.MessageID = &mid
		}
		return nil
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return err
	}
	err = tx.Where("contact_id = ? AND recovered_order_id = ? AND abandoned_at > ? AND abandoned_at <= ?",
		o.ContactID, "", since, o.OrderedAt).Order("abandoned_at DESC").Take(&c).Error
	switch {
	case err == nil:
		return s.creditCart(tx, o, &c, AttributedRecentCart)
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil
	}
	return err
}

// creditCart attributes the order to the cart's journey and its last
// message, and marks the cart recovered.
func (s *Store) creditCart(tx *gorm.DB, o *Order, c *Cart, how string) error {
	o.Journey, o.Attributed = "abandoned_cart", how
	var m Message
	err := tx.Where("contact_id = ? AND journey = ? AND `key` LIKE ? AND status IN ?",
		c.ContactID, "abandoned_cart", fmt.Sprintf("journey/abandoned_cart/%s/%s/%%", c.ContactID, c.CheckoutID),
		[]string{"sent", "recorded"}).Order("at DESC").Take(&m).Error
	switch {
	case err == nil:
		o.MessageID = &m.ID
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return err
	}
	if c.RecoveredOrderID != "" {
		return nil
	}
	at := o.OrderedAt
	return tx.Model(&Cart{}).Where("checkout_id = ?", c.CheckoutID).
		Updates(map[string]any{"recovered_order_id": o.ID, "recovered_at": at}).Error
}

// SaveCart records a cart the abandoned-cart journey has begun to remind the
// contact of. Saving it again updates its contents.
func (s *Store) SaveCart(ctx context.Context, c *Cart) error {
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "checkout_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"value", "currency", "products", "updated_at"}),
	}).Create(c).Error
}

// Order returns one order by its key (OrderKey), or ErrNotFound.
func (s *Store) Order(ctx context.Context, key string) (*Order, error) {
	var o Order
	err := s.db.WithContext(ctx).Where("id = ?", key).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	return &o, err
}

// JourneyRevenue is what one journey earned.
type JourneyRevenue struct {
	Journey string  `json:"journey"`
	Orders  int64   `json:"orders"`
	Revenue float64 `json:"revenue"`
}

// RevenueByJourney sums attributed orders, not refunded or cancelled, by
// journey, since a moment.
func (s *Store) RevenueByJourney(ctx context.Context, since time.Time) ([]JourneyRevenue, error) {
	var out []JourneyRevenue
	err := s.db.WithContext(ctx).Model(&Order{}).
		Select("journey, COUNT(*) AS orders, COALESCE(SUM(total), 0) AS revenue").
		Where("journey <> ? AND ordered_at >= ? AND status NOT IN ?", "", since.UTC(), []string{"refunded", "cancelled"}).
		Group("journey").Order("journey").Scan(&out).Error
	return out, err
}

// CartRecovery is how the abandoned-cart journey did.
type CartRecovery struct {
	Abandoned int64   `json:"abandoned"`
	Recovered int64   `json:"recovered"`
	Rate      float64 `json:"rate"`
	Revenue   float64 `json:"revenue"`
}

// CartRecoveryRate counts carts abandoned since a moment and how many of
// them became orders.
func (s *Store) CartRecoveryRate(ctx context.Context, since time.Time) (CartRecovery, error) {
	var r CartRecovery
	db := s.db.WithContext(ctx)
	if err := db.Model(&Cart{}).Where("abandoned_at >= ?", since.UTC()).Count(&r.Abandoned).Error; err != nil {
		return r, err
	}
	if err := db.Model(&Cart{}).Where("abandoned_at >= ? AND recovered_order_id <> ?", since.UTC(), "").Count(&r.Recovered).Error; err != nil {
		return r, err
	}
	err := db.Model(&Order{}).Select("COALESCE(SUM(total), 0)").
		Where("id IN (?)", db.Model(&Cart{}).Select("recovered_order_id").Where("abandoned_at >= ? AND recovered_order_id <> ?", since.UTC(), "")).
		Scan(&r.Revenue).Error
	if r.Abandoned > 0 {
		r.Rate = float64(r.Recovered) / float64(r.Abandoned)
	}
	return r, err
}

func (s *Store) window() time.Duration {
	if s.AttributionWindow > 0 {
		return s.AttributionWindow
	}
	return DefaultAttributionWindow
}

// PropString reads a property as text: a string as is, a number in its
// shortest form (IDs often arrive as numbers).
func PropString(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func firstProp(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if v := PropString(m, k); v != "" {
			return v
		}
	}
	return ""
}

func propNumber(m map[string]any, key string) (float64, bool) {
	switch v := m[key].(type) {
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}
