package workflows_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Contacts whose hash lands in each arm of the cart experiment
// (AssignArm over free_shipping 45, discount 45, holdout 10): u-sam in free
// shipping, u-ana in discount, u-4 in the holdout.
var (
	ana     = models.Contact{ID: "u-ana", Email: "ana@example.com", FirstName: "Ana", LifecycleStage: models.StageSubscriber}
	heldOut = models.Contact{ID: "u-4", Email: "four@example.com", FirstName: "Four", LifecycleStage: models.StageSubscriber}
)

func experimentSettings() workflows.Settings {
	s := workflows.DefaultSettings()
	s.CartIncentive = workflows.IncentiveExperiment
	return s
}

func assignment(t *testing.T, h *harness, contactID string) models.ExperimentAssignment {
	t.Helper()
	var a models.ExperimentAssignment
	if err := h.store.DB().Take(&a, "experiment = ? AND contact_id = ?", workflows.CartIncentiveExperiment, contactID).Error; err != nil {
		t.Fatalf("no assignment for %s: %v", contactID, err)
	}
	return a
}

func TestCartExperimentHashes(t *testing.T) {
	arms := workflows.CartIncentiveArms()
	for id, want := range map[string]string{sam.ID: workflows.IncentiveFreeShipping, ana.ID: workflows.IncentiveDiscount, heldOut.ID: workflows.HoldoutArm} {
		if got := workflows.AssignArm(workflows.CartIncentiveExperiment, id, arms); got != want {
			t.Errorf("%s hashes to %q, want %q (the tests below rely on it)", id, got, want)
		}
	}
}

// Each arm gets its own third email, the holdout none; each is recorded
// with the run that reached the split.
func TestCartExperimentArms(t *testing.T) {
	for _, tc := range []struct {
		contact models.Contact
		arm     string
		subject string // of the third email; "" for none
		note    string
	}{
		{sam, workflows.IncentiveFreeShipping, "Free shipping on the cart you left", "experiment cart_incentive: arm free_shipping"},
		{ana, workflows.IncentiveDiscount, "10% off the cart you left", "experiment cart_incentive: arm discount"},
		{heldOut, workflows.HoldoutArm, "", "experiment cart_incentive: held out, so this step sends nothing"},
	} {
		t.Run(tc.arm, func(t *testing.T) {
			h := newHarness(t, tc.contact)
			st := h.runJourneyWith(experimentSettings(), "abandoned_cart", tc.contact.ID, checkout("ch-1", 89, tote))
			want := []string{"+1h abandoned_cart/reminder recorded", "+24h abandoned_cart/social_proof recorded"}
			if tc.subject != "" {
				want = append(want, "+72h abandoned_cart/incentive recorded")
			}
			h.assertSent(want...)
			if tc.subject != "" && h.emails[2].Subject != tc.subject {
				t.Errorf("incentive subject = %q, want %q", h.emails[2].Subject, tc.subject)
			}
			if !hasEntry(st, "check", tc.note) {
				t.Errorf("timeline lacks %q:\n%v", tc.note, st.Timeline)
			}
			a := assignment(t, h, tc.contact.ID)
			var run models.JourneyRun
			if err := h.store.DB().Take(&run).Error; err != nil {
				t.Fatal(err)
			}
			if a.Arm != tc.arm || a.HeldOut != (tc.arm == workflows.HoldoutArm) || a.Promoted || a.RunID != run.RunID ||
				a.Journey != "abandoned_cart" || !a.AssignedAt.Equal(testStart.Add(72*time.Hour)) {
				t.Errorf("assignment = %+v, want %s in run %s at +72h", a, tc.arm, run.RunID)
			}
			var codes int64
			h.store.DB().Model(&models.DiscountCode{}).Count(&codes)
			if want := map[bool]int64{true: 1}[tc.arm == workflows.IncentiveDiscount]; codes != want {
				t.Errorf("%d discount codes, want %d", codes, want)
			}
		})
	}
}

// A contact reaching the experiment again (another cart, a later run)
// keeps the arm recorded the first time, whatever the hash says now: u-sam
// hashes to free shipping, but was recorded in discount.
func TestCartExperimentReentryKeepsArm(t *testing.T) {
	h := newHarness(t, sam)
	first := workflows.SplitRequest{Experiment: workflows.CartIncentiveExperiment, Journey: "abandoned_cart", ContactID: sam.ID,
		RunID: "first-run", Arms: workflows.CartIncentiveArms(), Hashed: workflows.IncentiveDiscount, At: testStart.Add(-10 * 24 * time.Hour)}
	if _, err := h.store.AssignExperiment(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	st := h.runJourneyWith(experimentSettings(), "abandoned_cart", sam.ID, checkout("ch-2", 89, tote))
	if h.emails[2].Subject != "10% off the cart you left" {
		t.Errorf("incentive = %q, want the discount", h.emails[2].Subject)
	}
	if !hasEntry(st, "check", "experiment cart_incentive: arm discount (recorded earlier)") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
	if a := assignment(t, h, sam.ID); a.Arm != workflows.IncentiveDiscount || a.RunID != "first-run" {
		t.Errorf("assignment = %+v, want the first run's", a)
	}
}

// After promotion, a newcomer gets the winner (u-sam hashes to free
// shipping but gets the discount); a contact recorded before keeps theirs.
func TestCartExperimentPromoted(t *testing.T) {
	promote := func(h *harness) {
		t.Helper()
		ctx := context.Background()
		// u-ana came first, in free shipping, which made the experiment.
		req := workflows.SplitRequest{Experiment: workflows.CartIncentiveExperiment, Journey: "abandoned_cart", ContactID: ana.ID,
			RunID: "ana-run", Arms: workflows.CartIncentiveArms(), Hashed: workflows.IncentiveFreeShipping, At: testStart.Add(-24 * time.Hour)}
		if _, err := h.store.AssignExperiment(ctx, req); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.PromoteExperiment(ctx, workflows.CartIncentiveExperiment, workflows.IncentiveDiscount, "admin", testStart); err != nil {
			t.Fatal(err)
		}
	}

	h := newHarness(t, sam)
	promote(h)
	st := h.runJourneyWith(experimentSettings(), "abandoned_cart", sam.ID, checkout("ch-1", 89, tote))
	if h.emails[2].Subject != "10% off the cart you left" {
		t.Errorf("newcomer's incentive = %q, want the promoted discount", h.emails[2].Subject)
	}
	if !hasEntry(st, "check", "experiment cart_incentive: arm discount (the promoted winner)") {
		t.Errorf("timeline:\n%v", st.Timeline)
	}
	if a := assignment(t, h, sam.ID); a.Arm != workflows.IncentiveDiscount || !a.Promoted {
		t.Errorf("assignment = %+v, want discount by promotion", a)
	}

	h = newHarness(t, ana)
	promote(h)
	h.runJourneyWith(experimentSettings(), "abandoned_cart", ana.ID, checkout("ch-3", 89, tote))
	if h.emails[2].Subject != "Free shipping on the cart you left" {
		t.Errorf("existing contact's incentive = %q, want their free shipping", h.emails[2].Subject)
	}
}

// Over 10,000 contacts each arm's share is within 1.5 points of its
// weight's share, for the cart experiment (45/45/10) and for the issue's
// example, Variant("a", 50), Variant("b", 50), Holdout(10): shares of
// 50/110 = 45.45%, 45.45% and 10/110 = 9.09%.
func TestSplitDistribution(t *testing.T) {
	for _, arms := range [][]workflows.Arm{
		workflows.CartIncentiveArms(),
		{workflows.Variant("a", 50), workflows.Variant("b", 50), workflows.Holdout(10)},
	} {
		total := 0
		for _, a := range arms {
			total += a.Weight
		}
		const n = 10000
		got := map[string]int{}
		for i := range n {
			got[workflows.AssignArm("experiment", fmt.Sprintf("contact-%d", i), arms)]++
		}
		for _, a := range arms {
			share, want := 100*float64(got[a.Name])/n, 100*float64(a.Weight)/float64(total)
			if math.Abs(share-want) > 1.5 {
				t.Errorf("%s: %.2f%% of contacts, want %.2f%% ± 1.5", a.Name, share, want)
			}
		}
	}
	// The experiment's name is part of the hash: a contact's arms in two
	// experiments are independent.
	same := 0
	arms := []workflows.Arm{workflows.Variant("a", 1), workflows.Variant("b", 1)}
	for i := range 1000 {
		id := fmt.Sprintf("contact-%d", i)
		if workflows.AssignArm("one", id, arms) == workflows.AssignArm("two", id, arms) {
			same++
		}
	}
	if same < 400 || same > 600 {
		t.Errorf("%d of 1000 contacts share their arm across experiments, want about 500", same)
	}
}

// A split with a bad definition fails the run with a clear error rather
// than guessing.
func TestSplitBadArms(t *testing.T) {
	for _, tc := range []struct {
		arms []workflows.Arm
		want string
	}{
		{[]workflows.Arm{workflows.Holdout(10)}, "a split needs at least one variant"},
		{[]workflows.Arm{workflows.Variant("a", 0)}, `arm "a": weight 0 is not positive`},
		{[]workflows.Arm{workflows.Variant("a", 1), workflows.Variant("a", 1)}, `arm "a" is listed twice`},
		{[]workflows.Arm{workflows.Variant("holdout", 1)}, `"holdout" is the holdout's name: use Holdout(weight)`},
	} {
		if err := workflows.CheckArms(tc.arms); err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.arms, err, tc.want)
		}
	}
}
