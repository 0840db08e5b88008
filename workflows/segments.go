package workflows

import (
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// Segments a journey can branch on with Run.InSegment. The definitions, and
// their exact windows, live in package models (models/segments.go); GET
// /v1/segments lists them.
const (
	// Engagement: an Email Opened or Email Link Clicked, or a page view.
	SegmentActive  = "active"  // last engagement within 30 days
	SegmentAtRisk  = "at_risk" // last engagement 30 to 60 days ago
	SegmentDormant = "dormant" // last engagement over 60 days ago, or none and created over 60 days ago

	// Funnel stage.
	SegmentNewSubscriber  = "new_subscriber"  // stage subscriber
	SegmentActiveLead     = "active_lead"     // lead, mql or sql, engaged within 30 days
	SegmentTrialUser      = "trial_user"      // stage trial
	SegmentPayingCustomer = "paying_customer" // stage customer
	SegmentChurned        = "churned"         // stage churned

	// Behaviour; the parameter each takes is in brackets.
	SegmentVisitedPage       = "visited_page"       // [page] a page named that, or whose path or URL contains it
	SegmentDownloadedContent = "downloaded_content" // [content] a Content Downloaded with that content_id or content_type
	SegmentUsedFeature       = "used_feature"       // [feature] a Feature Used with that feature
	SegmentNotOnboarded      = "not_onboarded"      // Signed Up and no Setup Completed
	SegmentRetarget          = "retarget"           // clicked an ad 4 h to 30 days ago, no order since
)

// InSegment reports whether the contact is in a segment now, on the
// journey's clock, and notes the answer on the timeline. Params are the
// segment's parameters (nil for most): j.InSegment(SegmentVisitedPage,
// map[string]string{"page": "/pricing"}). A failed check (an unknown
// segment, a missing parameter) stops the run like a failed step; after the
// goal, it is false.
func (j *Run) InSegment(segment string, params map[string]string) bool {
	if !j.active() {
		return false
	}
	label := segment + describeParams(params)
	req := SegmentRequest{ContactID: j.in.ContactID, Segment: segment, Params: params, At: workflow.Now(j.ctx)}
	var in bool
	if !j.localActivity(InSegmentActivity, "segment: "+label, req, &in) {
		return false
	}
	if in {
		j.Note("in segment " + label)
	} else {
		j.Note("not in segment " + label)
	}
	return in
}

// describeParams writes parameters as " (page=/pricing)", in key order.
func describeParams(params map[string]string) string {
	if len(params) == 0 {
		return ""
	}
	keys := make([]string, 0, len(params))
	// Sorted below: the order keys are visited in cannot change the result.
	//workflowcheck:ignore
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
