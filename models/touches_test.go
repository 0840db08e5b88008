package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
)

// An ad click lands anonymously with a gclid; the visitor signs up, comes
// back from a tagged email, and orders. The contact keeps the click as its
// first touch and the email as its last; the order carries both, and the
// last touch's campaign in its column.
func TestTouchesFollowTheVisitorToTheOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		accept := func(calls ...models.Incoming) {
			t.Helper()
			if _, err := s.Accept(ctx, calls, models.Lease{}); err != nil {
				t.Fatal(err)
			}
		}
		landing := track("t1", "", "anon-ad", "")
		landing.Kind, landing.Timestamp = "page", ago(3*day)
		landing.Context = map[string]any{"page": map[string]any{"url": "https://shop.example.com/p/boots?gclid=Cj0KCQ&utm_source=google&utm_campaign=20512345678"}}
		signup := track("t2", "u-touch", "anon-ad", "Signed Up")
		signup.Timestamp = ago(3*day - time.Hour)
		accept(landing)
		accept(signup)

		back := track("t3", "u-touch", "", "Email Link Clicked")
		back.Timestamp = ago(day)
		back.Context = map[string]any{"campaign": map[string]any{"name": "spring_sale", "source": "nudge", "medium": "email"}}
		// A late event from before the click changes neither touch.
		late := track("t4", "u-touch", "", "Product Viewed")
		late.Timestamp = ago(10 * day)
		late.Context = map[string]any{"campaign": map[string]any{"name": "old", "source": "newsletter"}}
		accept(back, late)

		c, err := s.Contact(ctx, "u-touch")
		if err != nil {
			t.Fatal(err)
		}
		if c.FirstTouch == nil || c.LastTouch == nil || c.LastAdClickAt == nil {
			t.Fatalf("touches not kept: first %+v, last %+v, ad click %v", c.FirstTouch, c.LastTouch, c.LastAdClickAt)
		}
		// The late event is older than the click: it is the first touch now.
		if got := *c.FirstTouch; got.Campaign != "old" || got.Source != "newsletter" || got.ClickID != "" {
			t.Errorf("first touch = %+v, want the late newsletter event", got)
		}
		if got := *c.LastTouch; got.Campaign != "spring_sale" || got.Medium != "email" || !got.At.Equal(ago(day)) {
			t.Errorf("last touch = %+v, want spring_sale by email a day ago", got)
		}
		if !c.LastAdClickAt.Equal(ago(3 * day)) {
			t.Errorf("last ad click at %v, want %v", c.LastAdClickAt, ago(3*day))
		}

		retargeted := func() bool {
			t.Helper()
			in, err := s.InSegment(ctx, "u-touch", "retarget", nil, segNow)
			if err != nil {
				t.Fatal(err)
			}
			return in
		}
		if !retargeted() {
			t.Error("an ad click 3 days ago with no order: not in the retarget segment")
		}
		if in, _ := s.InSegment(ctx, "u-touch", "retarget", nil, ago(3*day-3*time.Hour)); in {
			t.Error("3 hours after the click: in the retarget segment before its 4 hours")
		}

		order := track("t5", "u-touch", "", "Order Completed")
		order.Timestamp = ago(time.Hour)
		order.Properties = map[string]any{"order_id": "o-77", "total": 120.0}
		accept(order)
		o, err := s.Order(ctx, models.OrderKey(order.Source, "o-77"))
		if err != nil {
			t.Fatal(err)
		}
		if o.UTMCampaign != "spring_sale" || o.UTMSource != "nudge" || o.ClickID != "" {
			t.Errorf("order columns = %q %q %q, want spring_sale nudge and no click ID", o.UTMCampaign, o.UTMSource, o.ClickID)
		}
		if retargeted() {
			t.Error("ordered after the click: still in the retarget segment")
		}
		if o.FirstTouch == nil || o.FirstTouch.Campaign != "old" || o.LastTouch == nil || o.LastTouch.Campaign != "spring_sale" {
			t.Errorf("order touches = %+v / %+v", o.FirstTouch, o.LastTouch)
		}
	})
}

func TestTouchOfReadsCampaignsAndClickIDs(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ev   models.Event
		want *models.Touch
	}{
		{"no campaign, no URL", models.Event{Kind: "track", Timestamp: ts}, nil},
		{"a URL without tags", models.Event{Kind: "page", Timestamp: ts, Properties: map[string]any{"url": "https://a.example/x?page=2"}}, nil},
		{"fbclid on a page call's url", models.Event{Kind: "page", Timestamp: ts, Properties: map[string]any{"url": "https://a.example/?fbclid=IwAR1x&utm_campaign=120210000000000"}},
			&models.Touch{Campaign: "120210000000000", ClickID: "IwAR1x", ClickIDType: "fbclid", URL: "https://a.example/?fbclid=IwAR1x&utm_campaign=120210000000000", At: ts}},
		{"gclid wins over fbclid", models.Event{Kind: "track", Timestamp: ts, Context: map[string]any{"page": map[string]any{"search": "?fbclid=F&gclid=G"}}},
			&models.Touch{ClickID: "G", ClickIDType: "gclid", At: ts}},
		{"the URL's utm wins over context.campaign", models.Event{Kind: "identify", Timestamp: ts, Context: map[string]any{
			"campaign": map[string]any{"name": "from_context", "source": "ctx", "term": "boots"},
			"page":     map[string]any{"url": "https://a.example/?utm_campaign=from_url&ttclid=T9"}}},
			&models.Touch{Source: "ctx", Campaign: "from_url", Term: "boots", ClickID: "T9", ClickIDType: "ttclid", URL: "https://a.example/?utm_campaign=from_url&ttclid=T9", At: ts}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := models.TouchOf(&tc.ev)
			switch {
			case got == nil && tc.want == nil:
			case got == nil || tc.want == nil || *got != *tc.want:
				t.Errorf("TouchOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}
