package experiments

import (
	"math"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f (±%g)", what, got, want, tol)
	}
}

// Worked by hand:
//
//	a: 200 of 1000 convert, rate 0.20; b: 150 of 1000, 0.15;
//	holdout: 100 of 1000, 0.10.
//
// Lift of a over the holdout: 0.20 − 0.10 = 0.10 (relative 0.10/0.10 = 1.0).
// Unpooled SE = √(0.2·0.8/1000 + 0.1·0.9/1000) = √(0.00016 + 0.00009)
// = √0.00025 = 0.0158114; 1.96 · 0.0158114 = 0.0309898, so the interval is
// [0.0690102, 0.1309898].
//
// Lift of b: 0.15 − 0.10 = 0.05 (relative 0.5). SE = √(0.15·0.85/1000 +
// 0.00009) = √0.0002175 = 0.0147479; ×1.96 = 0.0289053: [0.0210947,
// 0.0789053].
//
// a against b (pooled): p = 350/2000 = 0.175; SE = √(0.175·0.825·(1/1000 +
// 1/1000)) = √0.00028875 = 0.0169926; z = 0.05/0.0169926 = 2.9424;
// two-sided p = 2·(1 − Φ(2.9424)) = 0.00326 < 0.05: a wins, every arm
// having 1000 ≥ 500 recipients.
func TestAnalyzeWorkedExample(t *testing.T) {
	arms := []Arm{
		{Name: "a", Recipients: 1000, Conversions: 200, Revenue: 5000},
		{Name: "b", Recipients: 1000, Conversions: 150, Revenue: 3000},
		{Name: "holdout", Holdout: true, Recipients: 1000, Conversions: 100, Revenue: 1500},
	}
	res := Analyze(arms, DefaultMinSample)
	a, b, h := res.Arms[0], res.Arms[1], res.Arms[2]
	near(t, "a rate", *a.ConversionRate, 0.20, 1e-12)
	near(t, "a revenue per recipient", *a.RevenuePerRecipient, 5.0, 1e-12) // 5000/1000
	near(t, "holdout revenue per recipient", *h.RevenuePerRecipient, 1.5, 1e-12)
	near(t, "a lift", a.Lift.Absolute, 0.10, 1e-12)
	near(t, "a relative lift", *a.Lift.Relative, 1.0, 1e-12)
	near(t, "a ci low", a.Lift.Low, 0.0690102, 1e-6)
	near(t, "a ci high", a.Lift.High, 0.1309898, 1e-6)
	near(t, "b lift", b.Lift.Absolute, 0.05, 1e-12)
	near(t, "b relative lift", *b.Lift.Relative, 0.5, 1e-12)
	near(t, "b ci low", b.Lift.Low, 0.0210947, 1e-6)
	near(t, "b ci high", b.Lift.High, 0.0789053, 1e-6)
	if h.Lift != nil || h.PValue != nil || a.PValue != nil {
		t.Errorf("the holdout has no lift or p-value, nor the leader a p-value: %+v %+v", h, a)
	}
	near(t, "b p vs a", *b.PValue, 0.00326, 1e-5)
	z, p, ok := ZTest(arms[0], arms[1])
	if !ok {
		t.Fatal("z-test not ok")
	}
	near(t, "z", z, 2.9424, 1e-4)
	near(t, "p", p, 0.00326, 1e-5)
	if res.Leader != "a" || res.Winner == nil || *res.Winner != "a" {
		t.Errorf("leader %q winner %v, want a", res.Leader, res.Winner)
	}

	// The same counts with min_sample 1001: not enough recipients yet.
	res = Analyze(arms, 1001)
	if res.Winner != nil || !strings.Contains(res.Verdict, "at least 1001 recipients; a has 1000") {
		t.Errorf("winner %v, verdict %q", res.Winner, res.Verdict)
	}
}

// Worked by hand: a 52 of 500 (0.104), b 45 of 500 (0.090). Pooled p =
// 97/1000 = 0.097; SE = √(0.097·0.903·(2/500)) = √0.000350364 = 0.0187180;
// z = 0.014/0.0187180 = 0.7479; two-sided p = 0.4545: a leads but does not
// win, though each arm has the 500 recipients asked.
//
// Against a holdout of 40 of 500 (0.08): lift 0.024, SE = √(0.104·0.896/500
// + 0.08·0.92/500) = √(0.000186368 + 0.0001472) = 0.0182638; ×1.96 =
// 0.0357964: [−0.0117964, 0.0597964], an interval that holds 0.
func TestAnalyzeNotSignificant(t *testing.T) {
	res := Analyze([]Arm{
		{Name: "a", Recipients: 500, Conversions: 52},
		{Name: "b", Recipients: 500, Conversions: 45},
		{Name: "holdout", Holdout: true, Recipients: 500, Conversions: 40},
	}, 500)
	if res.Leader != "a" || res.Winner != nil {
		t.Fatalf("leader %q winner %v", res.Leader, res.Winner)
	}
	near(t, "p", *res.Arms[1].PValue, 0.4545, 1e-4)
	near(t, "lift", res.Arms[0].Lift.Absolute, 0.024, 1e-12)
	near(t, "ci low", res.Arms[0].Lift.Low, -0.0117964, 1e-6)
	near(t, "ci high", res.Arms[0].Lift.High, 0.0597964, 1e-6)
	near(t, "relative", *res.Arms[0].Lift.Relative, 0.3, 1e-12) // 0.024/0.08
	if want := "no winner: a does not beat b at 95% (p = 0.454)"; res.Verdict != want {
		t.Errorf("verdict %q, want %q", res.Verdict, want)
	}
}

// Undefined figures are nil: an arm with no recipients has no rate, no
// revenue per recipient and no lift; a holdout that converted nobody gives
// no relative lift.
func TestAnalyzeUndefined(t *testing.T) {
	res := Analyze([]Arm{
		{Name: "a", Recipients: 10, Conversions: 1},
		{Name: "b"},
		{Name: "holdout", Holdout: true, Recipients: 10},
	}, 500)
	a, b := res.Arms[0], res.Arms[1]
	if b.ConversionRate != nil || b.RevenuePerRecipient != nil || b.Lift != nil || b.PValue != nil {
		t.Errorf("b = %+v, want nulls", b)
	}
	if a.Lift == nil || a.Lift.Relative != nil || a.Lift.Absolute != 0.1 {
		t.Errorf("a lift = %+v, want 0.1 with no relative", a.Lift)
	}
	if res.Winner != nil {
		t.Errorf("winner %v", *res.Winner)
	}
	if res := Analyze(nil, 500); res.Leader != "" || res.Verdict != "no winner: no variant has recipients yet" {
		t.Errorf("empty: %+v", res)
	}
}

// A single variant against the holdout wins by beating the holdout.
// Worked: 300/1000 against 200/1000: pooled 0.25, SE = √(0.25·0.75·0.002)
// = 0.0193649, z = 0.1/0.0193649 = 5.164, p ≈ 2.4e-7.
func TestAnalyzeSingleVariant(t *testing.T) {
	res := Analyze([]Arm{
		{Name: "new", Recipients: 1000, Conversions: 300},
		{Name: "holdout", Holdout: true, Recipients: 1000, Conversions: 200},
	}, 500)
	if res.Winner == nil || *res.Winner != "new" {
		t.Fatalf("winner %v: %s", res.Winner, res.Verdict)
	}
	near(t, "p vs holdout", *res.Arms[1].PValue, 2.4e-7, 1e-7)
}
