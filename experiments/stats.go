// Package experiments holds the statistics of A/B splits: conversion rates
// per arm, the lift of each variant against the holdout with its 95%
// interval, and whether one variant has won. It is pure arithmetic on
// counts; the counts come from the store (models.ExperimentCounts).
package experiments

import (
	"fmt"
	"math"
)

// DefaultMinSample is how many recipients every arm needs before a winner
// is named (the min_sample query parameter overrides it).
const DefaultMinSample = 500

// Z95 is the two-sided 95% critical value of the standard normal.
const Z95 = 1.959963984540054

// Alpha is the significance level a winner must pass (two-sided).
const Alpha = 0.05

// Arm is what the store counted for one arm.
type Arm struct {
	Name        string
	Holdout     bool
	Recipients  int64
	Conversions int64
	Revenue     float64
}

// ArmResult is one arm in the results. Rates that cannot be computed (no
// recipients, no holdout) are null, as in the metrics API.
type ArmResult struct {
	Arm                 string   `json:"arm"`
	Holdout             bool     `json:"holdout"`
	Recipients          int64    `json:"recipients"`
	Conversions         int64    `json:"conversions"`
	ConversionRate      *float64 `json:"conversion_rate"`
	Revenue             float64  `json:"revenue"`
	RevenuePerRecipient *float64 `json:"revenue_per_recipient"`
	// Lift against the holdout (variants only; null without a holdout or
	// without recipients on either side).
	Lift *Lift `json:"lift_vs_holdout"`
	// PValue is the two-proportion z-test of this variant against the
	// leading variant (null for the leader itself and for the holdout).
	PValue *float64 `json:"p_value_vs_leader"`
}

// Lift is a variant's conversion rate less the holdout's: Absolute in
// rate points (0.05 is five points), Relative as a fraction of the
// holdout's rate (null when the holdout converted nobody), and the 95%
// interval of Absolute.
type Lift struct {
	Absolute float64  `json:"absolute"`
	Relative *float64 `json:"relative"`
	Low      float64  `json:"ci95_low"`
	High     float64  `json:"ci95_high"`
}

// Result is the analysis of an experiment.
type Result struct {
	Arms      []ArmResult `json:"arms"`
	MinSample int64       `json:"min_sample"`
	// Leader is the variant with the highest conversion rate so far ("" when
	// no variant has recipients).
	Leader string `json:"leader"`
	// Winner is the leader once every arm has MinSample recipients and the
	// leader beats every other variant at p < 0.05; null until then.
	Winner *string `json:"winner"`
	// Verdict says in a sentence why there is or is not a winner.
	Verdict string `json:"verdict"`
}

// Rate is n/d, nil when d is 0.
func Rate(n, d int64) *float64 {
	if d <= 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// LiftOf is the lift of a (variant) over h (holdout): the difference of
// rates with the unpooled standard error sqrt(pa(1-pa)/na + ph(1-ph)/nh),
// as an interval for a difference is built (no hypothesis of equality to
// pool under). Nil when either side has no recipients.
func LiftOf(a, h Arm) *Lift {
	if a.Recipients <= 0 || h.Recipients <= 0 {
		return nil
	}
	pa, ph := *Rate(a.Conversions, a.Recipients), *Rate(h.Conversions, h.Recipients)
	d := pa - ph
	se := math.Sqrt(pa*(1-pa)/float64(a.Recipients) + ph*(1-ph)/float64(h.Recipients))
	l := &Lift{Absolute: d, Low: d - Z95*se, High: d + Z95*se}
	if ph > 0 {
		rel := d / ph
		l.Relative = &rel
	}
	return l
}

// ZTest is the two-proportion z-test of a against b with the pooled
// standard error sqrt(p(1-p)(1/na + 1/nb)), p the pooled rate (under the
// null hypothesis the two rates are one). It returns z (positive when a
// converts better) and the two-sided p-value. With no recipients on a
// side, or a pooled rate of 0 or 1 (no variance), ok is false.
func ZTest(a, b Arm) (z, p float64, ok bool) {
	if a.Recipients <= 0 || b.Recipients <= 0 {
		return 0, 0, false
	}
	na, nb := float64(a.Recipients), float64(b.Recipients)
	pooled := float64(a.Conversions+b.Conversions) / (na + nb)
	se := math.Sqrt(pooled * (1 - pooled) * (1/na + 1/nb))
	if se == 0 {
		return 0, 1, false
	}
	z = (float64(a.Conversions)/na - float64(b.Conversions)/nb) / se
	// Two-sided: P(|Z| > |z|) = erfc(|z|/√2).
	return z, math.Erfc(math.Abs(z) / math.Sqrt2), true
}

// Analyze computes the results of an experiment from its arms' counts.
// A winner needs every arm (the holdout too) to have at least minSample
// recipients, and the leading variant to beat every other variant at
// p < 0.05 two-sided. An experiment with a single variant compares it with
// the holdout instead, as there is nothing else to beat.
func Analyze(arms []Arm, minSample int64) Result {
	res := Result{MinSample: minSample, Arms: make([]ArmResult, len(arms))}
	holdout := -1
	for i, a := range arms {
		if a.Holdout {
			holdout = i
		}
	}
	leader := -1
	for i, a := range arms {
		r := ArmResult{Arm: a.Name, Holdout: a.Holdout, Recipients: a.Recipients, Conversions: a.Conversions,
			ConversionRate: Rate(a.Conversions, a.Recipients), Revenue: a.Revenue}
		if a.Recipients > 0 {
			rpr := a.Revenue / float64(a.Recipients)
			r.RevenuePerRecipient = &rpr
		}
		if !a.Holdout && holdout >= 0 {
			r.Lift = LiftOf(a, arms[holdout])
		}
		res.Arms[i] = r
		if !a.Holdout && r.ConversionRate != nil && (leader < 0 || *r.ConversionRate > *res.Arms[leader].ConversionRate) {
			leader = i
		}
	}
	if leader < 0 {
		res.Verdict = "no winner: no variant has recipients yet"
		return res
	}
	res.Leader = arms[leader].Name

	// The leader's rivals: the other variants, or the holdout when it is
	// the only variant.
	var rivals []int
	for i, a := range arms {
		if i != leader && !a.Holdout {
			rivals = append(rivals, i)
		}
	}
	if len(rivals) == 0 && holdout >= 0 {
		rivals = []int{holdout}
	}
	significant, worst := true, ""
	for _, i := range rivals {
		z, p, ok := ZTest(arms[leader], arms[i])
		if ok {
			res.Arms[i].PValue = &p
		}
		if !ok || z <= 0 || p >= Alpha {
			if significant {
				worst = fmt.Sprintf("%s does not beat %s at 95%%", res.Leader, arms[i].Name)
				if ok {
					worst += fmt.Sprintf(" (p = %.3f)", p)
				}
			}
			significant = false
		}
	}
	for _, a := range arms {
		if a.Recipients < minSample {
			res.Verdict = fmt.Sprintf("no winner yet: every arm needs at least %d recipients; %s has %d", minSample, a.Name, a.Recipients)
			return res
		}
	}
	switch {
	case len(rivals) == 0:
		res.Verdict = "no winner: a single arm has nothing to beat"
	case !significant:
		res.Verdict = "no winner: " + worst
	default:
		res.Winner = &res.Leader
		res.Verdict = fmt.Sprintf("%s wins: it beats every other arm at 95%%", res.Leader)
	}
	return res
}
