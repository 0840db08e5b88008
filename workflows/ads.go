package workflows

import (
	"fmt"
	"slices"
	"time"
)

// Advertising runs as three kinds of workflow, each started by a Temporal
// Schedule that platform/ads.go reconciles at worker start:
//   - AdPullWorkflow reads spend and results from the ad platforms into
//     ad_stats (adpull.go);
//   - AdRuleWorkflow evaluates one rule: an activity reads the figures, the
//     decision is made here in workflow code, activities act (adrules.go);
//   - AudienceSyncWorkflow keeps one ad audience equal to a segment
//     (audience_sync.go).
const (
	AdPullWorkflowName       = "AdPullWorkflow"
	AdRuleWorkflowName       = "AdRuleWorkflow"
	AdUndoWorkflowName       = "AdUndoWorkflow"
	AudienceSyncWorkflowName = "AudienceSyncWorkflow"
)

// Ad rule modes: what a decision leads to.
const (
	AdModeDryRun  = "dry_run" // recorded, and checked with the platform's validate-only option where it has one
	AdModeApply   = "apply"   // applied, and told to Slack
	AdModeApprove = "approve" // asked in Slack; applied on Approve
)

// AdApprovalSignal carries a Slack Approve or Reject click to the rule run
// that asked (AdApproval).
const AdApprovalSignal = "ad-approval"

// AdApproval is one answer to an approval request.
type AdApproval struct {
	ActionID uint64 `json:"action_id"` // the ad_actions row asked about
	Approved bool   `json:"approved"`
	By       string `json:"by"` // who clicked, as Slack names them
}

// AdRuleRequest is one evaluation of rules. The schedule evaluates every
// enabled rule in one run, so two rules that would act on the same object
// meet, and the safer action wins; POST /v1/ads/rules/:name/run evaluates
// one.
type AdRuleRequest struct {
	Rules []string `json:"rules"`
	Mode  string   `json:"mode"`
	// ApprovalTimeout is how long an approve-mode run waits for a click
	// before it does nothing and says so.
	ApprovalTimeout time.Duration `json:"approval_timeout"`
	// Channel is where applied actions, failures and approval requests go
	// (NUDGE_SLACK_ADS_CHANNEL).
	Channel string `json:"channel"`
	// Settings replace a rule's defaults (AdRule.Defaults), by rule name;
	// a rule not named runs with its defaults.
	Settings map[string]AdRuleSettings `json:"settings,omitempty"`
}

// AdPullRequest is one pull of performance data.
type AdPullRequest struct {
	// Days back from today to read again (7: late conversions change past
	// days).
	Days int `json:"days"`
}

// AudienceSyncRequest syncs one audience with its segment.
type AudienceSyncRequest struct {
	Key        string `json:"key"` // segment/platform/id, the audience_members key
	Segment    string `json:"segment"`
	Platform   string `json:"platform"` // meta or google
	AudienceID string `json:"audience_id"`
	// ConsentDefault syncs contacts without an ads_consent trait too
	// (NUDGE_ADS_CONSENT_DEFAULT).
	ConsentDefault bool `json:"consent_default"`
	// Progress carries a sync across continue-as-new; nil starts one.
	Progress *AudienceSyncProgress `json:"progress,omitempty"`
	// BatchesPerRun bounds the batches one run makes before it continues
	// as new (0: audienceBatchesPerRun).
	BatchesPerRun int `json:"batches_per_run,omitempty"`
}

// AdRuleNames are the rules Nudge ships, in the order they are evaluated
// and listed.
var AdRuleNames = []string{"pause_low_roas", "scale_winners", "rebalance", "spend_spike"}

// ParseAdRules reads NUDGE_AD_RULES: "all", or rule names.
func ParseAdRules(names []string) ([]string, error) {
	if len(names) == 1 && names[0] == "all" {
		return slices.Clone(AdRuleNames), nil
	}
	var out []string
	for _, n := range names {
		if !slices.Contains(AdRuleNames, n) {
			return nil, fmt.Errorf("no ad rule %q (rules: %v, or all)", n, AdRuleNames)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}
