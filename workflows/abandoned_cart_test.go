package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var sam = models.Contact{
	ID: "u-sam", Email: "sam@example.com", FirstName: "Sam", Phone: "+15125550100", SMSConsent: true,
	Timezone: "America/Chicago", LifecycleStage: models.StageSubscriber,
}

var tote = map[string]any{"product_id": "sku-tote", "name": "Everyday tote", "price": 89.0, "quantity": 1.0, "image_url": "https://cdn.example.com/tote.jpg"}
var mugs = map[string]any{"product_id": "sku-mugs", "name": "Stoneware mugs", "price": 40.0, "quantity": 1.0}

func checkout(id string, value float64, products ...any) workflows.Event {
	return trackEvent(workflows.EventCheckoutStarted, map[string]any{
		"checkout_id": id, "value": value, "currency": "USD", "products": products,
		"cart_url": "https://shop.example.com/cart/" + id,
	}, testStart)
}

func order(id, checkoutID string) map[string]any {
	return map[string]any{"order_id": id, "checkout_id": checkoutID, "total": 89.0}
}

// testStart (09:00 UTC) is 03:00 in Chicago: 24 hours later is inside
// quiet hours, so the SMS after email 2 waits until 08:00 local (14:00 UTC).
func TestAbandonedCartSmallCart(t *testing.T) {
	h := newHarness(t, sam)
	st := h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 89, tote))

	h.assertSent(
		"+1h abandoned_cart/reminder recorded",
		"+24h abandoned_cart/social_proof recorded",
		"+72h abandoned_cart/incentive recorded",
	)
	want := []string{"You left something behind, Sam", "What people say about what is in your cart", "Free shipping on the cart you left"}
	for i, subject := range want {
		if h.emails[i].Subject != subject {
			t.Errorf("email %d subject = %q, want %q", i, h.emails[i].Subject, subject)
		}
	}
	reminder := h.message("abandoned_cart", "reminder")
	for _, part := range []string{"- Everyday tote x 1, $89.00", "Total: $89.00", "https://shop.example.com/cart/ch-1"} {
		if !strings.Contains(reminder.Text, part) {
			t.Errorf("reminder lacks %q:\n%s", part, reminder.Text)
		}
	}
	if proof := h.message("abandoned_cart", "social_proof"); !strings.Contains(proof.Text, `"Three years on, my tote still looks new.`) {
		t.Errorf("social proof does not quote the tote's reviews:\n%s", proof.Text)
	}
	if !hasEntry(st, "check", "cart of $89.00 is not over the $100.00 SMS threshold: no SMS") {
		t.Errorf("timeline does not say why no SMS:\n%v", st.Timeline)
	}
	var cart models.Cart
	if err := h.store.DB().Take(&cart, "checkout_id = ?", "ch-1").Error; err != nil || cart.Value != 89 || !cart.AbandonedAt.Equal(testStart.Add(time.Hour)) {
		t.Errorf("cart = %+v, %v", cart, err)
	}
}

// An order within the hour: the cart was never abandoned.
func TestAbandonedCartOrderWithinTheHour(t *testing.T) {
	h := newHarness(t, sam)
	h.track(30*time.Minute, workflows.EventOrderCompleted, order("1001", "ch-1"))
	st := h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	h.assertSent()
	if st.Step != "goal: Order Completed" || h.env.Now().Sub(h.start) != 30*time.Minute {
		t.Errorf("ended %q at +%s", st.Step, h.env.Now().Sub(h.start))
	}
	var n int64
	h.store.DB().Model(&models.Cart{}).Count(&n)
	if n != 0 {
		t.Errorf("%d carts recorded as abandoned", n)
	}
}

func TestAbandonedCartOrderAfterFirstReminder(t *testing.T) {
	h := newHarness(t, sam)
	h.track(5*time.Hour, workflows.EventOrderCompleted, order("1001", "ch-1"))
	h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	h.assertSent("+1h abandoned_cart/reminder recorded")
}

// An order of another checkout does not end this cart's reminders, unless
// the settings say any order does.
func TestAbandonedCartOtherOrder(t *testing.T) {
	h := newHarness(t, sam)
	h.track(5*time.Hour, workflows.EventOrderCompleted, order("1002", "ch-other"))
	st := h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	if len(h.emails) != 3 || !hasEntry(st, "event", "Order Completed for another checkout: ignored") {
		t.Errorf("emails %v, timeline %v", h.sent(), st.Timeline)
	}
	h.assertRun("abandoned_cart", workflows.OutcomeCompleted, "") // another checkout's order is not this one's conversion

	h = newHarness(t, sam)
	h.track(5*time.Hour, workflows.EventOrderCompleted, order("1002", "ch-other"))
	settings := workflows.DefaultSettings()
	settings.CartEndsOnAnyOrder = true
	h.runJourneyWith(settings, "abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	h.assertSent("+1h abandoned_cart/reminder recorded")
}

// A later update of the same checkout refreshes what the reminders show.
func TestAbandonedCartCheckoutUpdated(t *testing.T) {
	h := newHarness(t, sam)
	h.at(2*time.Hour, func() {
		ev := checkout("ch-1", 129, tote, mugs)
		ev.MessageID, ev.Timestamp = "update", testStart.Add(2*time.Hour)
		h.env.SignalWorkflow(workflows.SignalEvent, ev)
	})
	h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	if reminder := h.message("abandoned_cart", "reminder"); strings.Contains(reminder.Text, "Stoneware mugs") {
		t.Errorf("the 1h reminder shows the later cart:\n%s", reminder.Text)
	}
	proof := h.message("abandoned_cart", "social_proof")
	if !strings.Contains(proof.Text, "Stoneware mugs") {
		t.Errorf("the 24h reminder does not show the updated cart:\n%s", proof.Text)
	}
}

func TestAbandonedCartIncentives(t *testing.T) {
	settings := workflows.DefaultSettings()
	settings.CartIncentive = workflows.IncentiveDiscount
	settings.CartDiscountPercent = 15
	h := newHarness(t, sam)
	h.runJourneyWith(settings, "abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	if got := h.emails[2].Subject; got != "15% off the cart you left" {
		t.Errorf("discount subject = %q", got)
	}
	var code models.DiscountCode
	if err := h.store.DB().Take(&code, "campaign = ?", "abandoned_cart").Error; err != nil || code.Percent != 15 {
		t.Fatalf("code = %+v, %v", code, err)
	}
	if text := h.message("abandoned_cart", "incentive").Text; !strings.Contains(text, code.Code) {
		t.Errorf("incentive lacks the code %s:\n%s", code.Code, text)
	}

	settings.CartIncentive = workflows.IncentiveNone
	h = newHarness(t, sam)
	st := h.runJourneyWith(settings, "abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	h.assertSent("+1h abandoned_cart/reminder recorded", "+24h abandoned_cart/social_proof recorded")
	if !hasEntry(st, "check", "no incentive email: NUDGE_CART_INCENTIVE is none") {
		t.Errorf("timeline hides the skipped incentive:\n%v", st.Timeline)
	}
}

// The frequency cap counts every journey's marketing email; a capped step
// is skipped and says why.
func TestAbandonedCartFrequencyCap(t *testing.T) {
	h := newHarness(t, sam)
	h.acts.Caps = config.Caps{Email: config.Cap{Max: 1, Window: 24 * time.Hour}}
	// The welcome email went out an hour before the cart was left.
	h.store.DB().Create(&models.Message{Key: "welcome", ContactID: sam.ID, Journey: "welcome_ecommerce", Channel: "email",
		Marketing: true, Status: "sent", At: testStart.Add(-time.Hour)})
	st := h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	h.assertSent(
		"+1h abandoned_cart/reminder skipped",
		"+24h abandoned_cart/social_proof recorded",
		"+72h abandoned_cart/incentive recorded",
	)
	if !hasEntry(st, "skip", "frequency cap: 1 marketing email already in the last 24h") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
}

// A big cart gets an SMS right after the second email, but not at night:
// at 03:00 in Chicago it waits for 08:00 there (14:00 UTC, +29h).
func TestAbandonedCartBigCartSMS(t *testing.T) {
	h := newHarness(t, sam)
	st := h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 129, tote, mugs))
	h.assertSent(
		"+1h abandoned_cart/reminder recorded",
		"+24h abandoned_cart/social_proof recorded",
		"+29h sms:abandoned_cart/reminder recorded",
		"+72h abandoned_cart/incentive recorded",
	)
	var sms models.Message
	if err := h.store.DB().Take(&sms, "channel = ? AND step = ?", "sms", "reminder").Error; err != nil {
		t.Fatal(err)
	}
	if sms.To != "+15125550100" || !strings.Contains(sms.Text, "https://shop.example.com/cart/ch-1") || !strings.HasSuffix(sms.Text, "Reply STOP to opt out.") {
		t.Errorf("sms = %q to %s", sms.Text, sms.To)
	}
	if !hasEntry(st, "wait", "for quiet hours to end (08:00 CST)") {
		t.Errorf("timeline does not show the quiet-hours wait:\n%v", st.Timeline)
	}
}

// The SMS is for carts over the threshold: a cart of exactly $100 gets
// none. Runs started before version 4 sent it one, and still do.
func TestAbandonedCartSMSOnlyOverTheThreshold(t *testing.T) {
	h := newHarness(t, sam)
	st := h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 100, tote))
	h.assertSent(
		"+1h abandoned_cart/reminder recorded",
		"+24h abandoned_cart/social_proof recorded",
		"+72h abandoned_cart/incentive recorded",
	)
	if !hasEntry(st, "check", "cart of $100.00 is not over the $100.00 SMS threshold: no SMS") {
		t.Errorf("timeline does not say why no SMS:\n%v", st.Timeline)
	}

	old := newHarness(t, sam)
	old.version = 3
	old.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 100, tote))
	old.assertSent(
		"+1h abandoned_cart/reminder recorded",
		"+24h abandoned_cart/social_proof recorded",
		"+29h sms:abandoned_cart/reminder recorded",
		"+72h abandoned_cart/incentive recorded",
	)
}

// Quiet hours follow the contact's time zone; without one, the fallback
// zone (UTC here). The journey waits for the window; it never drops the SMS.
func TestAbandonedCartSMSQuietHoursByZone(t *testing.T) {
	for zone, want := range map[string]string{
		"Europe/Berlin":       "+24h", // 10:00 there
		"Asia/Tokyo":          "+24h", // 18:00 there
		"America/Los_Angeles": "+31h", // 01:00 there: waits for 08:00 PST, 16:00 UTC
		"":                    "+24h", // 09:00 UTC
		"Not/AZone":           "+24h", // unreadable: the fallback
	} {
		t.Run(zone, func(t *testing.T) {
			c := sam
			c.Timezone = zone
			h := newHarness(t, c)
			h.runJourney("abandoned_cart", c.ID, checkout("ch-1", 129, tote, mugs))
			if got := h.sent()[2]; got != want+" sms:abandoned_cart/reminder recorded" {
				t.Errorf("sms = %q, want at %s", got, want)
			}
		})
	}
}

func TestAbandonedCartSMSNeedsConsent(t *testing.T) {
	c := sam
	c.SMSConsent = false
	h := newHarness(t, c)
	st := h.runJourney("abandoned_cart", c.ID, checkout("ch-1", 129, tote, mugs))
	if got := h.sent()[2]; got != "+29h sms:abandoned_cart/reminder skipped" {
		t.Errorf("sms = %q", got)
	}
	if !hasEntry(st, "skip", "no SMS consent") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
}

// STOP while the SMS step waits out quiet hours: it is not sent.
func TestAbandonedCartStopWhileSMSWaits(t *testing.T) {
	h := newHarness(t, sam)
	h.at(26*time.Hour, func() {
		if _, err := h.store.OptOutSMS(context.Background(), sam.Phone, h.env.Now()); err != nil {
			t.Error(err)
		}
	})
	st := h.runJourney("abandoned_cart", sam.ID, checkout("ch-1", 129, tote, mugs))
	h.assertSent(
		"+1h abandoned_cart/reminder recorded",
		"+24h abandoned_cart/social_proof recorded",
		"+29h sms:abandoned_cart/reminder skipped",
		"+72h abandoned_cart/incentive recorded",
	)
	if !hasEntry(st, "skip", "opted out of SMS (replied STOP)") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
}
