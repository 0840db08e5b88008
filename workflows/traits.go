package workflows

import (
	"maps"
	"slices"
)

// MaxTraits is how many traits a contact keeps. An identify may change any
// of them, but new names stop being added at the limit: traits ride in
// every run's input, and a contact that grew without bound would outgrow
// Temporal's payload limit and stop. The gateway refuses a call with more
// than this many traits of its own.
const MaxTraits = 200

// MergeTraits sets src's traits on dst and returns the names it left out
// because dst was full. Names are taken in sorted order, so which are left
// out does not depend on map order (it runs in workflow code).
func MergeTraits(dst, src map[string]any) (left []string) {
	// Sorted: the order the map yields its keys in decides nothing.
	//workflowcheck:ignore
	for _, k := range slices.Sorted(maps.Keys(src)) {
		if _, have := dst[k]; !have && len(dst) >= MaxTraits {
			left = append(left, k)
			continue
		}
		dst[k] = src[k]
	}
	return left
}
