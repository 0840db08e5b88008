package workflows

import (
	"fmt"
	"slices"
	"testing"
)

// A contact stops taking new trait names at MaxTraits, always the same
// ones, but keeps updating those it has.
func TestMergeTraitsStopsAtTheLimit(t *testing.T) {
	have := map[string]any{}
	for i := range MaxTraits - 1 {
		have[fmt.Sprintf("a%03d", i)] = i
	}
	left := MergeTraits(have, map[string]any{"z": 1, "y": 2, "a000": "new", "x": 3})
	if !slices.Equal(left, []string{"y", "z"}) {
		t.Fatalf("left out %v, want [y z]", left)
	}
	if len(have) != MaxTraits || have["x"] != 3 || have["a000"] != "new" {
		t.Fatalf("after the merge: %d traits, x=%v, a000=%v", len(have), have["x"], have["a000"])
	}
}
