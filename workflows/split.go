package workflows

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
)

// HoldoutArm is the arm Split returns for a contact held out of an
// experiment: the step sends nothing, and the contact is counted, so the
// variants' conversions can be compared with theirs.
const HoldoutArm = "holdout"

// CartIncentiveExperiment is the abandoned cart's incentive run as an
// experiment (NUDGE_CART_INCENTIVE=experiment): free shipping against a
// discount, with a holdout.
const CartIncentiveExperiment = "cart_incentive"

// Arm is one arm of a split: a variant with its weight, or the holdout.
type Arm struct {
	Name    string `json:"name"`
	Weight  int    `json:"weight"`
	Holdout bool   `json:"holdout,omitempty"`
}

// Variant is an arm of a split, taken by weight out of the sum of the
// split's weights (Variant("a", 45) of 45+45+10 is 45%).
func Variant(name string, weight int) Arm { return Arm{Name: name, Weight: weight} }

// Holdout is the share of contacts a split holds out: they get nothing on
// that step.
func Holdout(weight int) Arm { return Arm{Name: HoldoutArm, Weight: weight, Holdout: true} }

// SplitRequest asks the store for a contact's arm in an experiment: the one
// recorded before if any; else the promoted winner, if the experiment has
// one; else Hashed, which is recorded.
type SplitRequest struct {
	Experiment string
	Journey    string
	ContactID  string
	RunID      string
	Arms       []Arm
	Hashed     string
	At         time.Time
}

// SplitResult is the contact's arm, and how it came to it.
type SplitResult struct {
	Arm string
	// Promoted: the contact entered after the experiment was promoted and
	// was given its winner, not an arm by hash.
	Promoted bool `json:",omitempty"`
	// Earlier: the arm was recorded before (a re-entry, a retried step).
	Earlier bool `json:",omitempty"`
}

// AssignArm is the hash that picks a contact's arm: the first 8 bytes of
// SHA-256 over experiment and contact ID, as a number, modulo the sum of the
// weights, into the arms in order. It is a pure function of its inputs, so
// it may run in workflow code and every replay gets the same arm; hashing
// the experiment's name in as well keeps one contact's arms in different
// experiments independent.
func AssignArm(experiment, contactID string, arms []Arm) string {
	total := 0
	for _, a := range arms {
		total += a.Weight
	}
	if total <= 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(experiment + "\x00" + contactID))
	bucket := int(binary.BigEndian.Uint64(sum[:8]) % uint64(total))
	for _, a := range arms {
		if bucket < a.Weight {
			return a.Name
		}
		bucket -= a.Weight
	}
	return arms[len(arms)-1].Name // not reached
}

// CheckArms reports what is wrong with a split's arms, if anything.
func CheckArms(arms []Arm) error {
	seen := map[string]bool{}
	variants := 0
	for _, a := range arms {
		switch {
		case a.Weight <= 0:
			return fmt.Errorf("arm %q: weight %d is not positive", a.Name, a.Weight)
		case a.Name == "":
			return fmt.Errorf("an arm has no name")
		case a.Name == HoldoutArm && !a.Holdout:
			return fmt.Errorf("%q is the holdout's name: use Holdout(weight)", HoldoutArm)
		case seen[a.Name]:
			return fmt.Errorf("arm %q is listed twice", a.Name)
		}
		seen[a.Name] = true
		if !a.Holdout {
			variants++
		}
	}
	if variants == 0 {
		return fmt.Errorf("a split needs at least one variant")
	}
	return nil
}

// Split puts the contact in one arm of the experiment and returns its
// name, or HoldoutArm for a contact held out (the step then sends
// nothing), or "" once the run has ended. The arm is recorded the first
// time the contact reaches the experiment, with this run, and the same arm
// comes back ever after: in a re-entry, a later run, or a replay. Once the
// experiment is promoted, contacts reaching it for the first time get the
// winner; those recorded before keep theirs.
//
// The arm is computed here (AssignArm) and recorded by a local activity,
// which answers the stored arm: a database row, not the hash alone, is what
// makes promotion and "recorded once" hold when the weights change later.
func (j *Run) Split(experiment string, arms ...Arm) string {
	if !j.active() {
		return ""
	}
	if err := CheckArms(arms); err != nil {
		j.fail("split "+experiment, fmt.Errorf("experiment %s: %w", experiment, err))
		return ""
	}
	req := SplitRequest{
		Experiment: experiment, Journey: j.journey.Name, ContactID: j.in.ContactID, RunID: j.runID,
		Arms: arms, Hashed: AssignArm(experiment, j.in.ContactID, arms), At: workflow.Now(j.ctx),
	}
	var res SplitResult
	if !j.localActivity(AssignArmActivity, "experiment: "+experiment, req, &res) {
		return ""
	}
	how := ""
	switch {
	case res.Earlier:
		how = " (recorded earlier)"
	case res.Promoted:
		how = " (the promoted winner)"
	}
	if res.Arm == HoldoutArm {
		j.log("check", "", fmt.Sprintf("experiment %s: held out%s, so this step sends nothing", experiment, how))
	} else {
		j.log("check", "", fmt.Sprintf("experiment %s: arm %s%s", experiment, res.Arm, how))
	}
	return res.Arm
}

// cartIncentiveArms are the cart experiment's arms: free shipping and a
// discount, 45 each, and 10 held out. Splitting the 90% that get an
// incentive evenly makes each variant's sample as large as it can be, and
// the 10% holdout measures what either incentive adds over none.
var cartIncentiveArms = []Arm{Variant(IncentiveFreeShipping, 45), Variant(IncentiveDiscount, 45), Holdout(10)}

// CartIncentiveArms lists the cart experiment's arms.
func CartIncentiveArms() []Arm { return append([]Arm(nil), cartIncentiveArms...) }

// cartIncentive is the cart's incentive for a run with
// NUDGE_CART_INCENTIVE=experiment: the contact's arm.
func cartIncentive(j *Run) string {
	return j.Split(CartIncentiveExperiment, cartIncentiveArms...)
}
