// Package activities holds Nudge's side effects: email over SMTP, SMS
// through Twilio, discount codes, and the database writes journeys need.
// Each activity is a method on Activities, which holds the clients it uses;
// workflows call them by the names in package workflows.
package activities

import (
	"context"
	"crypto/rand"
	"net/mail"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/links"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Activities holds what the activities need. A nil Mailer records messages
// without delivering them.
type Activities struct {
	Store    *models.Store
	Renderer *Renderer
	Mailer   Mailer
	Links    *links.Signer
	Brand    Brand
	From     mail.Address // NUDGE_EMAIL_FROM
	Owner    mail.Address // NUDGE_ACCOUNT_OWNER: the person B2B check-ins come from
	Caps     config.Caps  // NUDGE_FREQUENCY_CAP_*: zero means no cap
	// SalesReps take MQLs in turn (NUDGE_SALES_REPS).
	SalesReps []models.Rep

	// SMS delivers text messages; nil records them without delivering.
	SMS SMSSender
	// SMSTemplates are the SMS templates; nil means the embedded
	// templates/sms.
	SMSTemplates *SMSTemplates
	// InAppTemplates are the in-app templates; nil means the embedded
	// ones (templates/inapp).
	InAppTemplates *InAppTemplates
	// QuietHours is when no marketing SMS goes out, on the contact's clock
	// (NUDGE_SMS_QUIET_HOURS); zero means none.
	QuietHours config.QuietHours
	// Timezone is the zone for contacts without a valid timezone trait
	// (NUDGE_DEFAULT_TIMEZONE); nil means UTC.
	Timezone *time.Location
	// StatusCallbackURL is where Twilio reports delivery:
	// NUDGE_PUBLIC_URL + "/webhooks/twilio/status". Empty asks for none.
	StatusCallbackURL string

	// Slack posts internal alerts (slack.go); nil records them in messages
	// (channel "slack") without posting.
	Slack SlackPoster
	// SalesChannel gets alerts with no person to go to
	// (NUDGE_SLACK_SALES_CHANNEL).
	SalesChannel string
	// TemporalUIURL and Namespace link alerts to the contact's run
	// (NUDGE_TEMPORAL_UI_URL, NUDGE_TEMPORAL_NAMESPACE; "" means "default").
	TemporalUIURL string
	Namespace     string

	// Ads are the ad platforms' clients; platforms without credentials
	// are nil (ads.go).
	Ads AdClients

	// Webhooks posts signed webhooks (webhook.go); nil records them in
	// messages (channel "webhook") without posting. WebhookURLs are
	// NUDGE_WEBHOOKS, name → URL.
	Webhooks    WebhookPoster
	WebhookURLs map[string]string

	// Mastodon posts social posts (social.go); nil fails a post to
	// mastodon for good, saying why.
	Mastodon SocialPoster

	// Discounts creates each discount code in the Shopify store as well
	// (shopify_discounts.go); nil keeps codes only in Nudge.
	Discounts DiscountCreator
}

// Register adds every activity to a worker under the names workflows use.
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.SendEmail, activity.RegisterOptions{Name: workflows.SendEmailActivity})
	r.RegisterActivityWithOptions(a.IssueDiscountCode, activity.RegisterOptions{Name: workflows.IssueDiscountCodeActivity})
	r.RegisterActivityWithOptions(a.SendSMS, activity.RegisterOptions{Name: workflows.SendSMSActivity})
	r.RegisterActivityWithOptions(a.SMSWindow, activity.RegisterOptions{Name: workflows.SMSWindowActivity})
	r.RegisterActivityWithOptions(a.RecordCart, activity.RegisterOptions{Name: workflows.RecordCartActivity})
	r.RegisterActivityWithOptions(a.InSegment, activity.RegisterOptions{Name: workflows.InSegmentActivity})
	r.RegisterActivityWithOptions(a.RecordScore, activity.RegisterOptions{Name: workflows.RecordScoreActivity})
	r.RegisterActivityWithOptions(a.HandOffLead, activity.RegisterOptions{Name: workflows.HandOffLeadActivity})
	r.RegisterActivityWithOptions(a.MarkUnengaged, activity.RegisterOptions{Name: workflows.MarkUnengagedActivity})
	r.RegisterActivityWithOptions(a.SendSlack, activity.RegisterOptions{Name: workflows.SendSlackActivity})
	r.RegisterActivityWithOptions(a.SendWebhook, activity.RegisterOptions{Name: workflows.SendWebhookActivity})
	r.RegisterActivityWithOptions(a.SendInApp, activity.RegisterOptions{Name: workflows.SendInAppActivity})
	r.RegisterActivityWithOptions(a.RecordJourney, activity.RegisterOptions{Name: workflows.RecordJourneyActivity})
	r.RegisterActivityWithOptions(a.SendReport, activity.RegisterOptions{Name: workflows.SendReportActivity})
	r.RegisterActivityWithOptions(a.AssignArm, activity.RegisterOptions{Name: workflows.AssignArmActivity})
	a.registerAdRules(r)
	r.RegisterActivityWithOptions(a.PullAdStats, activity.RegisterOptions{Name: workflows.PullAdStatsActivity})
	r.RegisterActivityWithOptions(a.StartAudienceSync, activity.RegisterOptions{Name: workflows.StartAudienceSyncActivity})
	r.RegisterActivityWithOptions(a.SyncAudienceBatch, activity.RegisterOptions{Name: workflows.SyncAudienceBatchActivity})
	r.RegisterActivityWithOptions(a.FinishAudienceSync, activity.RegisterOptions{Name: workflows.FinishAudienceSyncActivity})
	r.RegisterActivityWithOptions(a.RecordSocialState, activity.RegisterOptions{Name: workflows.RecordSocialStateActivity})
	r.RegisterActivityWithOptions(a.AskSocialApproval, activity.RegisterOptions{Name: workflows.AskSocialApprovalActivity})
	r.RegisterActivityWithOptions(a.PostSocial, activity.RegisterOptions{Name: workflows.PostSocialActivity})
}

// RecordJourney records a journey run's start, or how it ended.
func (a *Activities) RecordJourney(ctx context.Context, r workflows.JourneyRun) error {
	return a.Store.RecordJourneyRun(ctx, &models.JourneyRun{
		RunID: r.RunID, WorkflowID: r.WorkflowID, Journey: r.Journey, Key: r.Key, ContactID: r.ContactID,
		StartedAt: r.StartedAt.UTC(), EndedAt: utc(r.EndedAt), Outcome: r.Outcome, Reason: clipReason(r.Reason),
	})
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// IssueDiscountCode returns the contact's single-use code for a campaign,
// creating it the first time: in Nudge, then in the store when Discounts is
// set (until that succeeds, each attempt tries again).
func (a *Activities) IssueDiscountCode(ctx context.Context, req workflows.DiscountRequest) (string, error) {
	dc, err := a.Store.DiscountCodeFor(ctx, req.ContactID, req.Campaign, req.Percent, newDiscountCode)
	if err != nil {
		return "", err
	}
	if a.Discounts != nil && dc.ShopifyCreatedAt == nil {
		if err := a.createInStore(ctx, dc); err != nil {
			return "", err
		}
	}
	return dc.Code, nil
}

// RecordCart records a checkout the abandoned-cart journey has begun to
// remind the contact of.
func (a *Activities) RecordCart(ctx context.Context, req workflows.CartRequest) error {
	return a.Store.SaveCart(ctx, &models.Cart{
		CheckoutID: req.CheckoutID, ContactID: req.ContactID, Value: req.Value, Currency: req.Currency,
		Products: req.Products, AbandonedAt: req.At.UTC(),
	})
}

// newDiscountCode makes a code like HELLO-7KQ4-M2XP, from letters and digits
// that cannot be mistaken for one another.
func newDiscountCode() string {
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	code := []byte("HELLO-xxxx-xxxx")
	for i, j := 0, 6; i < len(b); i, j = i+1, j+1 {
		if code[j] == '-' {
			j++
		}
		code[j] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(code)
}
