package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func orderEvent(messageID, userID, name string, at time.Time, props map[string]any) models.Incoming {
	return models.Incoming{UserID: userID, Event: models.Event{MessageID: messageID, Kind: "track", Name: name, Properties: props, Timestamp: at}}
}

func accept(t *testing.T, s *models.Store, calls ...models.Incoming) {
	t.Helper()
	if _, err := s.Accept(context.Background(), calls, models.Lease{}); err != nil {
		t.Fatal(err)
	}
}

func sentMessage(t *testing.T, s *models.Store, key, journey string, at time.Time) uint64 {
	t.Helper()
	m := &models.Message{Key: key, ContactID: "u1", Journey: journey, Channel: "email", Status: "sent", At: at}
	if err := s.DB().Create(m).Error; err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// An order for a checkout the abandoned-cart journey reminded the contact of
// is that journey's: credited to its last message, the cart recovered.
func TestOrderAttributedToItsAbandonedCart(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		if err := s.SaveCart(ctx, &models.Cart{CheckoutID: "ch-1", ContactID: "u1", Value: 129, Currency: "USD", AbandonedAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		sentMessage(t, s, "journey/abandoned_cart/u1/ch-1/run/reminder", "abandoned_cart", t0.Add(time.Hour))
		last := sentMessage(t, s, "journey/abandoned_cart/u1/ch-1/run/social_proof", "abandoned_cart", t0.Add(24*time.Hour))
		sentMessage(t, s, "journey/welcome_ecommerce/u1/run/welcome", "welcome_ecommerce", t0.Add(25*time.Hour))

		accept(t, s, orderEvent("o1", "u1", "Order Completed", t0.Add(30*time.Hour),
			map[string]any{"order_id": "1001", "checkout_id": "ch-1", "total": "129.00", "currency": "USD", "products": []any{map[string]any{"product_id": "sku-tote"}}}))
		o, err := s.Order(ctx, "1001")
		if err != nil {
			t.Fatal(err)
		}
		if o.Journey != "abandoned_cart" || o.Attributed != "cart" || o.MessageID == nil || *o.MessageID != last ||
			o.Total != 129 || o.Status != "completed" || o.CheckoutID != "ch-1" || len(o.Products) != 1 {
			t.Errorf("order = %+v", o)
		}
		r, err := s.CartRecoveryRate(ctx, t0)
		if err != nil || r != (models.CartRecovery{Abandoned: 1, Recovered: 1, Rate: 1, Revenue: 129}) {
			t.Errorf("recovery = %+v, %v", r, err)
		}
	})
}

// Without a cart, the last email clicked within the window earns the order.
func TestOrderAttributedToLastClick(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		click := func(id string, at time.Time, journey string, message float64) models.Incoming {
			return orderEvent(id, "u1", "Email Link Clicked", at, map[string]any{"journey": journey, "message_id": message, "url": "https://x"})
		}
		accept(t, s,
			click("c1", t0, "welcome_b2b", 7),
			click("c2", t0.Add(48*time.Hour), "welcome_ecommerce", 9),
			orderEvent("o1", "u1", "Order Completed", t0.Add(72*time.Hour), map[string]any{"order_id": "2001", "total": 50.0}),
			// Six days after the last click: outside the default five-day window.
			orderEvent("o2", "u1", "Order Completed", t0.Add(48*time.Hour+6*24*time.Hour), map[string]any{"order_id": "2002", "total": 20.0}),
		)
		o, _ := s.Order(ctx, "2001")
		if o.Journey != "welcome_ecommerce" || o.Attributed != "click" || o.MessageID == nil || *o.MessageID != 9 {
			t.Errorf("order in the window = %+v", o)
		}
		o, _ = s.Order(ctx, "2002")
		if o.Journey != "" || o.Attributed != "" || o.MessageID != nil {
			t.Errorf("order outside the window = %+v", o)
		}
		rev, err := s.RevenueByJourney(ctx, t0)
		if err != nil || len(rev) != 1 || rev[0] != (models.JourneyRevenue{Journey: "welcome_ecommerce", Orders: 1, Revenue: 50}) {
			t.Errorf("revenue = %+v, %v", rev, err)
		}
	})
}

// An order of another checkout, soon after a cart was abandoned, is still
// credited to the cart journey when no click says otherwise.
func TestOrderAttributedToRecentCart(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		s.SaveCart(ctx, &models.Cart{CheckoutID: "ch-9", ContactID: "u1", Value: 80, AbandonedAt: t0})
		accept(t, s, orderEvent("o1", "u1", "Order Completed", t0.Add(2*time.Hour), map[string]any{"order_id": "3001", "checkout_id": "ch-other", "total": 75.0}))
		o, _ := s.Order(ctx, "3001")
		if o.Journey != "abandoned_cart" || o.Attributed != "recent_cart" {
			t.Errorf("order = %+v", o)
		}
	})
}

func TestOrderStatusFollowsEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		accept(t, s,
			orderEvent("o1", "u1", "Order Completed", t0, map[string]any{"order_id": "4001", "total": 10.0}),
			orderEvent("o2", "u1", "Order Shipped", t0.Add(time.Hour), map[string]any{"order_id": "4001", "tracking_number": "1Z999", "carrier": "UPS"}),
		)
		o, _ := s.Order(ctx, "4001")
		if o.Status != "shipped" || o.Details["tracking_number"] != "1Z999" || o.Total != 10 {
			t.Errorf("after shipping = %+v", o)
		}
		accept(t, s, orderEvent("o3", "u1", "Order Refunded", t0.Add(2*time.Hour), map[string]any{"order_id": "4001"}))
		if o, _ = s.Order(ctx, "4001"); o.Status != "refunded" || o.Details["carrier"] != "UPS" {
			t.Errorf("after the refund = %+v", o)
		}
		// Shipping news of an order never seen completed is kept.
		accept(t, s, orderEvent("o4", "u1", "Order Shipped", t0, map[string]any{"order_id": "4002"}))
		if o, err := s.Order(ctx, "4002"); err != nil || o.Status != "shipped" {
			t.Errorf("unknown order = %+v, %v", o, err)
		}
	})
}
