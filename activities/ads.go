package activities

import (
	"github.com/nudgehq/nudge/ads/google"
	"github.com/nudgehq/nudge/ads/meta"
)

// AdClients are the ad platforms Nudge reads and acts on. A nil client is a
// platform whose credentials are not set: its features are off.
type AdClients struct {
	Meta *meta.Client
	// MetaAccounts are the ad accounts read and managed (act_…).
	MetaAccounts []string
	Google       *google.Client
	// GoogleCustomerID is the Google Ads account the campaigns run in.
	GoogleCustomerID string
	// CustomerMatch uploads Google Customer Match members (Data Manager API).
	CustomerMatch *google.CustomerMatch
	// Channel gets applied actions, failures and approval requests
	// (NUDGE_SLACK_ADS_CHANNEL).
	Channel string
}
