// Package config reads Nudge's settings from NUDGE_* environment variables,
// in one place, and says which variable is wrong when one is.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/nudgehq/nudge/ads/google"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// Config is every setting, with its variable and default. README.md documents
// the same list; keep them together.
type Config struct {
	TemporalAddress   string   `env:"TEMPORAL_ADDRESS" envDefault:"localhost:7233"`
	TemporalNamespace string   `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TemporalUIURL     string   `env:"TEMPORAL_UI_URL" envDefault:"http://localhost:8233"`
	TaskQueue         string   `env:"TASK_QUEUE" envDefault:"nudge"`
	DatabaseURL       string   `env:"DATABASE_URL" envDefault:"sqlite://.data/nudge.db"`
	HTTPAddr          string   `env:"HTTP_ADDR" envDefault:":8080"`
	PublicURL         string   `env:"PUBLIC_URL" envDefault:"http://localhost:8080"`
	SMTPURL           string   `env:"SMTP_URL"`
	EmailFrom         string   `env:"EMAIL_FROM" envDefault:"Nudge <hello@nudge.localhost>"`
	AccountOwner      string   `env:"ACCOUNT_OWNER"`
	BrandName         string   `env:"BRAND_NAME" envDefault:"Nudge"`
	BrandAddress      string   `env:"BRAND_ADDRESS" envDefault:"Nudge Inc., 1 Example Street, Springfield"`
	SiteURL           string   `env:"SITE_URL" envDefault:"http://localhost:8080"`
	WriteKeys         []string `env:"WRITE_KEYS"`
	AdminKeys         []string `env:"ADMIN_KEYS"`
	Secret            string   `env:"SECRET"`
	Journeys          []string `env:"JOURNEYS" envDefault:"all"`
	LogLevel          string   `env:"LOG_LEVEL" envDefault:"info"`

	// Prometheus metrics at /metrics, host:port, or "off"; Load turns "off"
	// into "". Two Nudge processes on one host (a worker beside a gateway)
	// cannot share a port: give each its own address.
	MetricsAddr string `env:"METRICS_ADDR" envDefault:"127.0.0.1:9464"`

	// WorkflowCache is how many workflows a worker keeps in memory between
	// their tasks (Temporal's sticky cache). The rest replay from history
	// when they wake, which for a contact asleep for days costs little; a
	// bounded cache keeps a worker's memory flat however many contacts run.
	WorkflowCache int `env:"WORKFLOW_CACHE" envDefault:"2000"`

	// SMS through Twilio; without an account SID and token, SMS are recorded.
	TwilioAccountSID          string `env:"TWILIO_ACCOUNT_SID"`
	TwilioAuthToken           string `env:"TWILIO_AUTH_TOKEN"`
	TwilioFrom                string `env:"TWILIO_FROM"`
	TwilioMessagingServiceSID string `env:"TWILIO_MESSAGING_SERVICE_SID"`
	TwilioAPIURL              string `env:"TWILIO_API_URL"`
	SMSQuietHours             string `env:"SMS_QUIET_HOURS" envDefault:"21:00-08:00"`
	DefaultTimezone           string `env:"DEFAULT_TIMEZONE" envDefault:"UTC"`

	// Temporal payload encryption: "id:base64key,id2:base64key2", 32-byte
	// AES-256 keys. The first encrypts, all decrypt, so keys rotate. Unset:
	// payloads go to Temporal in plain JSON, readable in its UI.
	EncryptionKeysRaw string `env:"ENCRYPTION_KEYS"`
	// Encryption "off" lets `nudge worker` and `nudge gateway` run without
	// keys, said out loud; anything but "off" or unset is refused.
	Encryption string `env:"ENCRYPTION"`
	// The Temporal UI's origin, the one browser origin the gateway's codec
	// endpoint answers cross-origin requests from.
	TemporalUIOrigin string `env:"TEMPORAL_UI_ORIGIN" envDefault:"http://localhost:8233"`

	// Storefronts.
	ShopifyWebhookSecret string `env:"SHOPIFY_WEBHOOK_SECRET"`
	// Shopify's Admin API, where discount codes are created (shopify.go);
	// without a shop and a token, codes live only in Nudge.
	ShopifyShop       string `env:"SHOPIFY_SHOP"`
	ShopifyAdminToken string `env:"SHOPIFY_ADMIN_TOKEN"`
	ShopifyAdminURL   string `env:"SHOPIFY_ADMIN_URL"`
	DiscountCodeDays  int    `env:"DISCOUNT_CODE_DAYS" envDefault:"14"`

	// Across journeys: at most N marketing messages per window, per channel.
	EmailCap          string        `env:"FREQUENCY_CAP_EMAIL" envDefault:"3/24h"`
	SMSCap            string        `env:"FREQUENCY_CAP_SMS" envDefault:"1/24h"`
	InAppCap          string        `env:"FREQUENCY_CAP_INAPP" envDefault:"3/24h"`
	AttributionWindow time.Duration `env:"ATTRIBUTION_WINDOW"` // default models.DefaultAttributionWindow

	// B2B: the ideal customer profile, scoring and the sales team. The
	// journey settings here and below default to workflows.DefaultSettings,
	// the one place their defaults are written (see journeyDefaults).
	ICPTitles       []string      `env:"ICP_TITLES"`
	ICPCompanySize  string        `env:"ICP_COMPANY_SIZE"`
	ICPIndustries   []string      `env:"ICP_INDUSTRIES"`
	MQLThreshold    int64         `env:"MQL_THRESHOLD"`
	ScoreDecayAfter time.Duration `env:"SCORE_DECAY_AFTER"`
	SalesRepsRaw    string        `env:"SALES_REPS"`

	// Slack, for internal alerts; without a bot token they are recorded.
	SlackBotToken     string `env:"SLACK_BOT_TOKEN"`
	SlackAPIURL       string `env:"SLACK_API_URL"`
	SlackSalesChannel string `env:"SLACK_SALES_CHANNEL" envDefault:"#sales"`
	// The list-health guard alerts here, and pauses a journey whose recent
	// sends breach the thresholds when PauseOnPoorHealth is set.
	SlackMarketingChannel string `env:"SLACK_MARKETING_CHANNEL" envDefault:"#marketing"`
	// ReportsRaw schedules performance reports (see ParseReports); Reports
	// is what it says.
	ReportsRaw         string   `env:"REPORTS"`
	Reports            []Report `env:"-"`
	PauseOnPoorHealth  bool     `env:"PAUSE_ON_POOR_HEALTH" envDefault:"false"`
	SlackSigningSecret string   `env:"SLACK_SIGNING_SECRET"`

	// Webhooks journeys post to (j.Webhook; see ParseWebhooks), signed the
	// Standard Webhooks way with WebhookSecret (whsec_…).
	WebhooksRaw   string    `env:"WEBHOOKS"`
	Webhooks      []Webhook `env:"-"`
	WebhookSecret string    `env:"WEBHOOK_SECRET"`

	// Social posts (config/social.go): a YAML file of scheduled posts, to
	// Mastodon or a webhook, optionally approved in Slack first.
	SocialPostsFile       string                 `env:"SOCIAL_POSTS"`
	SocialPosts           []workflows.SocialPost `env:"-"`
	MastodonURL           string                 `env:"MASTODON_URL"`
	MastodonToken         string                 `env:"MASTODON_TOKEN"`
	SlackSocialChannel    string                 `env:"SLACK_SOCIAL_CHANNEL" envDefault:"#marketing"`
	SocialApprovalTimeout time.Duration          `env:"SOCIAL_APPROVAL_TIMEOUT" envDefault:"24h"`

	// Nurture and win-back.
	NurtureCadence     time.Duration `env:"NURTURE_CADENCE"`
	NurtureMaxUnopened int           `env:"NURTURE_MAX_UNOPENED"`
	WinbackAfter       time.Duration `env:"WINBACK_AFTER"`

	// Abandoned cart.
	CartSMSThreshold    float64 `env:"CART_SMS_THRESHOLD"`
	CartIncentive       string  `env:"CART_INCENTIVE"`
	CartDiscountPercent int     `env:"CART_DISCOUNT_PERCENT"`
	CartEndsOnAnyOrder  bool    `env:"CART_ENDS_ON_ANY_ORDER"`

	// Advertising: without credentials the ad features are off (see
	// MetaEnabled, GoogleAdsEnabled). The API URLs default to the clients'
	// (meta.DefaultAPIURL, google.Default*URL; see adDefaults) and are
	// changed only to point at a stand-in.
	MetaAccessToken string `env:"META_ACCESS_TOKEN"`
	// MetaAdAccounts are the ad accounts read and managed, act_…
	MetaAdAccounts []string `env:"META_AD_ACCOUNTS"`
	MetaAPIURL     string   `env:"META_API_URL"`
	// Google Ads: a developer token, the account the ads run in and, when
	// access is through a manager account, that account (10 digits; dashes
	// are dropped). OAuth: an installed app's client and a refresh token
	// granted the adwords and datamanager scopes.
	GoogleAdsDeveloperToken  string `env:"GOOGLE_ADS_DEVELOPER_TOKEN"`
	GoogleAdsCustomerID      string `env:"GOOGLE_ADS_CUSTOMER_ID"`
	GoogleAdsLoginCustomerID string `env:"GOOGLE_ADS_LOGIN_CUSTOMER_ID"`
	GoogleOAuthClientID      string `env:"GOOGLE_OAUTH_CLIENT_ID"`
	GoogleOAuthClientSecret  string `env:"GOOGLE_OAUTH_CLIENT_SECRET"`
	GoogleOAuthRefreshToken  string `env:"GOOGLE_OAUTH_REFRESH_TOKEN"`
	GoogleOAuthTokenURL      string `env:"GOOGLE_OAUTH_TOKEN_URL"`
	GoogleAdsAPIURL          string `env:"GOOGLE_ADS_API_URL"`
	// GoogleDataManagerURL is the Data Manager API, which Customer Match
	// uploads go through.
	GoogleDataManagerURL string `env:"GOOGLE_DATA_MANAGER_URL"`
	// GoogleCustomerMatchTerms says the advertiser accepted Google's
	// Customer Match terms, which every upload must state.
	GoogleCustomerMatchTerms bool `env:"GOOGLE_CUSTOMER_MATCH_TERMS" envDefault:"false"`

	// What the ad rules may do (config/ads.go): record only (dry run, the
	// default), apply, or ask in Slack first.
	AdsDryRun          bool          `env:"ADS_DRY_RUN" envDefault:"true"`
	AdsMode            string        `env:"ADS_MODE" envDefault:"apply"`
	AdRules            []string      `env:"AD_RULES" envDefault:"all"`
	AdsEvery           time.Duration `env:"ADS_EVERY" envDefault:"15m"`
	AdsApprovalTimeout time.Duration `env:"ADS_APPROVAL_TIMEOUT" envDefault:"2h"`
	SlackAdsChannel    string        `env:"SLACK_ADS_CHANNEL" envDefault:"#ads"`
	// Audience sync: segments to ad audiences (see ParseAudiences).
	AudiencesRaw        string        `env:"AUDIENCES"`
	Audiences           []Audience    `env:"-"`
	AudienceSyncEvery   time.Duration `env:"AUDIENCE_SYNC_EVERY" envDefault:"1h"`
	AdsConsentDefault   bool          `env:"ADS_CONSENT_DEFAULT" envDefault:"false"`
	RetargetAudienceRaw string        `env:"RETARGET_AUDIENCE"`
	// RetargetAudience is the audience ad clickers who did not convert join;
	// nil when NUDGE_RETARGET_AUDIENCE is unset.
	RetargetAudience *Audience `env:"-"`

	// Derived from the raw values above by Load.
	SMTP       *SMTP          `env:"-"`
	From       mail.Address   `env:"-"`
	Owner      mail.Address   `env:"-"`
	Level      slog.Level     `env:"-"`
	Twilio     *Twilio        `env:"-"`
	QuietHours QuietHours     `env:"-"`
	Timezone   *time.Location `env:"-"`
	Caps       Caps           `env:"-"`
	SalesReps  []SalesRep     `env:"-"`
	ICPSize    [2]int         `env:"-"` // employees, min and max
	// EncryptionKeys is nil when NUDGE_ENCRYPTION_KEYS is unset.
	EncryptionKeys *codec.Keys `env:"-"`
}

// SalesRep is a person leads are handed to.
type SalesRep struct {
	Name    string `json:"name"`
	Email   string `json:"email"`
	SlackID string `json:"slack_id,omitempty"`
}

// ParseSalesReps reads "Sam Lee:sam@example.com:U024BE7LH,Ana Ruiz:ana@example.com".
func ParseSalesReps(s string) ([]SalesRep, error) {
	var reps []SalesRep
	for _, item := range strings.Split(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("%q is not name:email or name:email:slack-user-id", strings.TrimSpace(item))
		}
		rep := SalesRep{Name: strings.TrimSpace(parts[0]), Email: strings.TrimSpace(parts[1])}
		if len(parts) == 3 {
			rep.SlackID = strings.TrimSpace(parts[2])
		}
		if _, err := mail.ParseAddress(rep.Email); err != nil || rep.Name == "" {
			return nil, fmt.Errorf("%q needs a name and an email address", strings.TrimSpace(item))
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// Twilio is the account SMS go out through.
type Twilio struct {
	AccountSID          string
	AuthToken           string
	From                string // an E.164 number, or empty with a messaging service
	MessagingServiceSID string
	APIURL              string // empty: Twilio's own
}

// QuietHours is the local time span in which no marketing SMS goes out,
// such as 21:00 to 08:00.
type QuietHours struct {
	Start, End time.Duration // since local midnight
}

// Caps are the frequency caps, per channel.
type Caps struct {
	Email, SMS, InApp Cap
}

// Cap is at most Max marketing messages per Window.
type Cap struct {
	Max    int
	Window time.Duration
}

const prefix = "NUDGE_"

// Load reads the environment. It fails on the first group of bad values, each
// named by its variable.
func Load() (*Config, error) { return LoadFrom(nil) }

// LoadFrom reads settings from vars (NUDGE_* names) instead of the process
// environment; nil means the environment. Tests and the benchmark use it.
func LoadFrom(vars map[string]string) (*Config, error) {
	c := journeyDefaults()
	adDefaults(&c)
	if err := env.ParseWithOptions(&c, env.Options{Prefix: prefix, Environment: vars}); err != nil {
		return nil, namedError(err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// namedError rewrites the env library's errors, which name Go fields, to name
// the variables a person sets.
func namedError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			f, _ := reflect.TypeOf(Config{}).FieldByName(pe.Name)
			msgs = append(msgs, fmt.Sprintf("%s%s: %v", prefix, f.Tag.Get("env"), pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}

func (c *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	if _, _, err := models.ParseURL(c.DatabaseURL); err != nil {
		bad("DATABASE_URL", "%v", err)
	}
	if reports, err := ParseReports(c.ReportsRaw); err != nil {
		bad("REPORTS", "%v", err)
	} else {
		c.Reports = reports
	}
	for _, v := range []struct{ name, value string }{{"PUBLIC_URL", c.PublicURL}, {"SITE_URL", c.SiteURL}, {"TEMPORAL_UI_URL", c.TemporalUIURL}} {
		if u, err := url.Parse(v.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(v.name, "%q is not an absolute http(s) URL", v.value)
		}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	c.SiteURL = strings.TrimRight(c.SiteURL, "/")
	if c.SMTPURL != "" {
		s, err := ParseSMTP(c.SMTPURL)
		if err != nil {
			bad("SMTP_URL", "%v", err)
		}
		c.SMTP = s
	}
	if a, err := mail.ParseAddress(c.EmailFrom); err != nil {
		bad("EMAIL_FROM", "%q is not an email address like 'Acme <hello@acme.com>': %v", c.EmailFrom, err)
	} else {
		c.From = *a
	}
	c.Owner = c.From
	if c.AccountOwner != "" {
		if a, err := mail.ParseAddress(c.AccountOwner); err != nil || a.Name == "" {
			bad("ACCOUNT_OWNER", "%q is not a person's name and address like 'Sam Lee <sam@acme.com>'", c.AccountOwner)
		} else {
			c.Owner = *a
		}
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		bad("SECRET", "is %d characters; use at least 16 random ones", len(c.Secret))
	}
	for _, k := range append(slices.Clone(c.WriteKeys), c.AdminKeys...) {
		if strings.TrimSpace(k) != k || k == "" {
			bad("WRITE_KEYS/NUDGE_ADMIN_KEYS", "a key is empty or has spaces around it")
			break
		}
	}
	for _, k := range c.WriteKeys {
		if slices.Contains(c.AdminKeys, k) {
			bad("ADMIN_KEYS", "a key is also a write key; admin keys must stay out of web pages")
			break
		}
	}
	if len(c.Journeys) == 1 && c.Journeys[0] == "all" {
		c.Journeys = workflows.JourneyNames()
	} else {
		for _, j := range c.Journeys {
			if !slices.Contains(workflows.JourneyNames(), j) {
				bad("JOURNEYS", "unknown journey %q (known: all, %s)", j, strings.Join(workflows.JourneyNames(), ", "))
			}
		}
	}
	if err := c.Level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("LOG_LEVEL", "%q is not debug, info, warn or error", c.LogLevel)
	}
	if c.TaskQueue == "" {
		bad("TASK_QUEUE", "is empty")
	}
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	} else if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
		bad("METRICS_ADDR", "%q is not host:port like 127.0.0.1:9464 or :9464, or off", c.MetricsAddr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("METRICS_ADDR", "port %q in %q is not a port number", port, c.MetricsAddr)
	}
	if c.WorkflowCache < 1 {
		bad("WORKFLOW_CACHE", "%d is not a number of workflows; use at least 1 (the default is 2000)", c.WorkflowCache)
	}
	switch {
	case c.TwilioAccountSID == "" && c.TwilioAuthToken == "":
	case c.TwilioAccountSID == "" || c.TwilioAuthToken == "":
		bad("TWILIO_ACCOUNT_SID", "set it together with NUDGE_TWILIO_AUTH_TOKEN, or neither (SMS are then recorded, not sent)")
	case c.TwilioFrom == "" && c.TwilioMessagingServiceSID == "":
		bad("TWILIO_FROM", "set the number SMS come from (E.164, like +15551234567) or NUDGE_TWILIO_MESSAGING_SERVICE_SID")
	case c.TwilioFrom != "" && !IsE164(c.TwilioFrom):
		bad("TWILIO_FROM", "%q is not an E.164 number like +15551234567", c.TwilioFrom)
	default:
		c.Twilio = &Twilio{AccountSID: c.TwilioAccountSID, AuthToken: c.TwilioAuthToken, From: c.TwilioFrom,
			MessagingServiceSID: c.TwilioMessagingServiceSID, APIURL: strings.TrimRight(c.TwilioAPIURL, "/")}
	}
	if c.TwilioAPIURL != "" {
		if u, err := url.Parse(c.TwilioAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("TWILIO_API_URL", "%q is not an absolute http(s) URL", c.TwilioAPIURL)
		}
	}
	if q, err := ParseQuietHours(c.SMSQuietHours); err != nil {
		bad("SMS_QUIET_HOURS", "%v", err)
	} else {
		c.QuietHours = q
	}
	if loc, err := time.LoadLocation(c.DefaultTimezone); err != nil {
		bad("DEFAULT_TIMEZONE", "%q is not an IANA time zone like America/Chicago", c.DefaultTimezone)
	} else {
		c.Timezone = loc
	}
	var err error
	if c.Caps.Email, err = ParseCap(c.EmailCap); err != nil {
		bad("FREQUENCY_CAP_EMAIL", "%v", err)
	}
	if c.Caps.SMS, err = ParseCap(c.SMSCap); err != nil {
		bad("FREQUENCY_CAP_SMS", "%v", err)
	}
	if c.Caps.InApp, err = ParseCap(c.InAppCap); err != nil {
		bad("FREQUENCY_CAP_INAPP", "%v", err)
	}
	if c.AttributionWindow <= 0 {
		bad("ATTRIBUTION_WINDOW", "must be a positive duration like 120h")
	}
	if reps, err := ParseSalesReps(c.SalesRepsRaw); err != nil {
		bad("SALES_REPS", "%v (use name:email:slack-user-id, comma-separated)", err)
	} else {
		c.SalesReps = reps
	}
	if lo, hi, ok := strings.Cut(c.ICPCompanySize, "-"); !ok {
		bad("ICP_COMPANY_SIZE", "%q is not a range of employees like 50-1000", c.ICPCompanySize)
	} else if a, err1 := strconv.Atoi(strings.TrimSpace(lo)); err1 != nil || a < 0 {
		bad("ICP_COMPANY_SIZE", "%q is not a range of employees like 50-1000", c.ICPCompanySize)
	} else if b, err2 := strconv.Atoi(strings.TrimSpace(hi)); err2 != nil || b < a {
		bad("ICP_COMPANY_SIZE", "%q is not a range of employees like 50-1000", c.ICPCompanySize)
	} else {
		c.ICPSize = [2]int{a, b}
	}
	if c.MQLThreshold <= 0 {
		bad("MQL_THRESHOLD", "must be a positive score")
	}
	if c.ScoreDecayAfter < 24*time.Hour {
		bad("SCORE_DECAY_AFTER", "must be at least a day, like 720h")
	}
	if c.NurtureCadence < 3*24*time.Hour || c.NurtureCadence > 7*24*time.Hour {
		bad("NURTURE_CADENCE", "%s is outside 3 to 7 days (72h to 168h)", c.NurtureCadence)
	}
	if c.NurtureMaxUnopened < 1 {
		bad("NURTURE_MAX_UNOPENED", "must be at least 1")
	}
	if c.WinbackAfter < 7*24*time.Hour {
		bad("WINBACK_AFTER", "must be at least a week, like 1440h (60 days)")
	}
	if c.SlackAPIURL != "" {
		if u, err := url.Parse(c.SlackAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("SLACK_API_URL", "%q is not an absolute http(s) URL", c.SlackAPIURL)
		}
	}
	if c.CartSMSThreshold < 0 {
		bad("CART_SMS_THRESHOLD", "must not be negative")
	}
	if !slices.Contains([]string{"free_shipping", "discount", "none", "experiment"}, c.CartIncentive) {
		bad("CART_INCENTIVE", "%q is not free_shipping, discount, none or experiment", c.CartIncentive)
	}
	if strings.TrimSpace(c.EncryptionKeysRaw) != "" {
		if keys, err := codec.ParseKeys(c.EncryptionKeysRaw); err != nil {
			bad("ENCRYPTION_KEYS", "%v (use id:base64key, comma-separated; the first encrypts)", err)
		} else {
			c.EncryptionKeys = keys
		}
	}
	switch {
	case c.Encryption != "" && c.Encryption != "off":
		bad("ENCRYPTION", "%q is not off; leave it unset to encrypt with NUDGE_ENCRYPTION_KEYS", c.Encryption)
	case c.Encryption == "off" && c.EncryptionKeys != nil:
		bad("ENCRYPTION", "is off, but NUDGE_ENCRYPTION_KEYS is set; unset one of them")
	}
	if o, err := ParseOrigin(c.TemporalUIOrigin); err != nil {
		bad("TEMPORAL_UI_ORIGIN", "%v", err)
	} else {
		c.TemporalUIOrigin = o
	}
	if c.CartDiscountPercent < 1 || c.CartDiscountPercent > 90 {
		bad("CART_DISCOUNT_PERCENT", "%d is not a percentage between 1 and 90", c.CartDiscountPercent)
	}
	errs = append(errs, c.validateAds()...)
	errs = append(errs, c.validateAdRules()...)
	errs = append(errs, c.validateWebhooks()...)
	errs = append(errs, c.validateSocial()...)
	errs = append(errs, c.validateShopify()...)
	return errors.Join(errs...)
}

// adDefaults sets the ad platforms' URLs to the clients' own defaults, so
// each is written once; the environment overrides them.
func adDefaults(c *Config) {
	c.MetaAPIURL = meta.DefaultAPIURL
	c.GoogleAdsAPIURL = google.DefaultAPIURL
	c.GoogleOAuthTokenURL = google.DefaultTokenURL
	c.GoogleDataManagerURL = google.DefaultDataManagerURL
}

// validateAds checks the advertising settings: URLs, Meta's ad account
// IDs, and Google's credentials, which work only all together.
func (c *Config) validateAds() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+name+": "+format, args...))
	}
	for _, v := range []struct{ name, value string }{
		{"META_API_URL", c.MetaAPIURL}, {"GOOGLE_ADS_API_URL", c.GoogleAdsAPIURL},
		{"GOOGLE_OAUTH_TOKEN_URL", c.GoogleOAuthTokenURL}, {"GOOGLE_DATA_MANAGER_URL", c.GoogleDataManagerURL},
	} {
		if u, err := url.Parse(v.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(v.name, "%q is not an absolute http(s) URL", v.value)
		}
	}
	var accounts []string
	for _, a := range c.MetaAdAccounts {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if id, ok := strings.CutPrefix(a, "act_"); !ok || id == "" || strings.Trim(id, "0123456789") != "" {
			bad("META_AD_ACCOUNTS", "%q is not an ad account ID like act_1234567890 (Ads Manager's account ID with act_ in front)", a)
			continue
		}
		accounts = append(accounts, a)
	}
	c.MetaAdAccounts = accounts
	if len(accounts) > 0 && c.MetaAccessToken == "" {
		bad("META_ACCESS_TOKEN", "is empty, but NUDGE_META_AD_ACCOUNTS is set; set the token of a system user with ads_read and ads_management")
	}
	for _, id := range []struct {
		name string
		v    *string
	}{{"GOOGLE_ADS_CUSTOMER_ID", &c.GoogleAdsCustomerID}, {"GOOGLE_ADS_LOGIN_CUSTOMER_ID", &c.GoogleAdsLoginCustomerID}} {
		digits := strings.ReplaceAll(strings.TrimSpace(*id.v), "-", "")
		if digits != "" && (len(digits) != 10 || strings.Trim(digits, "0123456789") != "") {
			bad(id.name, "%q is not a Google Ads customer ID like 123-456-7890", *id.v)
			continue
		}
		*id.v = digits
	}
	creds := []struct{ name, value string }{
		{"GOOGLE_ADS_DEVELOPER_TOKEN", c.GoogleAdsDeveloperToken}, {"GOOGLE_ADS_CUSTOMER_ID", c.GoogleAdsCustomerID},
		{"GOOGLE_OAUTH_CLIENT_ID", c.GoogleOAuthClientID}, {"GOOGLE_OAUTH_CLIENT_SECRET", c.GoogleOAuthClientSecret},
		{"GOOGLE_OAUTH_REFRESH_TOKEN", c.GoogleOAuthRefreshToken},
	}
	var set []string
	for _, v := range creds {
		if v.value != "" {
			set = append(set, prefix+v.name)
		}
	}
	if len(set) > 0 && len(set) < len(creds) {
		verb := "is"
		if len(set) > 1 {
			verb = "are"
		}
		for _, v := range creds {
			if v.value == "" {
				bad(v.name, "is empty, but %s %s set; Google Ads needs its developer token, customer ID, OAuth client and refresh token together (or none, to stay off)",
					strings.Join(set, ", "), verb)
			}
		}
	}
	return errs
}

// MetaEnabled reports whether Meta's ad features can run: there is an
// access token. Insights also need NUDGE_META_AD_ACCOUNTS; audience sync
// does not.
func (c *Config) MetaEnabled() bool { return c.MetaAccessToken != "" }

// GoogleAdsEnabled reports whether Google's ad features can run: every
// Google Ads and OAuth credential is set (Load refuses some without the
// others).
func (c *Config) GoogleAdsEnabled() bool {
	return c.GoogleAdsDeveloperToken != "" && c.GoogleAdsCustomerID != "" && c.GoogleOAuthClientID != "" &&
		c.GoogleOAuthClientSecret != "" && c.GoogleOAuthRefreshToken != ""
}

// journeyDefaults is a Config holding the defaults of the journey
// settings, taken from workflows.DefaultSettings (and the attribution
// window from models), so that each default is written once. The
// environment overrides them; unset variables leave them as they are.
func journeyDefaults() Config {
	d := workflows.DefaultSettings()
	return Config{
		AttributionWindow: models.DefaultAttributionWindow,
		ICPTitles:         d.ICP.Titles,
		ICPCompanySize:    fmt.Sprintf("%d-%d", d.ICP.MinEmployees, d.ICP.MaxEmployees),
		ICPIndustries:     d.ICP.Industries,
		MQLThreshold:      d.MQLThreshold,
		ScoreDecayAfter:   d.ScoreDecayAfter,
		NurtureCadence:    d.NurtureCadence, NurtureMaxUnopened: d.NurtureMaxUnopened, WinbackAfter: d.WinbackAfter,
		CartSMSThreshold: d.CartSMSThreshold, CartIncentive: d.CartIncentive,
		CartDiscountPercent: d.CartDiscountPercent, CartEndsOnAnyOrder: d.CartEndsOnAnyOrder,
	}
}

// Router is how contacts are routed into journeys: which journeys may start
// and the settings new runs get.
func (c *Config) Router() *workflows.Router {
	return &workflows.Router{Enabled: c.Journeys, Settings: workflows.Settings{
		CartSMSThreshold:    c.CartSMSThreshold,
		CartIncentive:       c.CartIncentive,
		CartDiscountPercent: c.CartDiscountPercent,
		CartEndsOnAnyOrder:  c.CartEndsOnAnyOrder,
		ICP: workflows.ICP{
			Titles: c.ICPTitles, MinEmployees: c.ICPSize[0], MaxEmployees: c.ICPSize[1], Industries: c.ICPIndustries,
		},
		MQLThreshold:       c.MQLThreshold,
		ScoreDecayAfter:    c.ScoreDecayAfter,
		NurtureCadence:     c.NurtureCadence,
		NurtureMaxUnopened: c.NurtureMaxUnopened,
		WinbackAfter:       c.WinbackAfter,
	}}
}

// RequireServing checks what only a long-running gateway needs: keys and a
// secret. `nudge dev` fills them in for the developer instead.
func (c *Config) RequireServing() error {
	var errs []error
	if len(c.WriteKeys) == 0 {
		errs = append(errs, errors.New(prefix+"WRITE_KEYS: set at least one write key (comma-separated) for sources to send events with"))
	}
	if len(c.AdminKeys) == 0 {
		errs = append(errs, errors.New(prefix+"ADMIN_KEYS: set at least one admin key (comma-separated) for the read APIs"))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New(prefix+"SECRET: set 16 or more random characters; it signs unsubscribe links"))
	}
	return errors.Join(errs...)
}

// RequireEncryption refuses to run the worker or the gateway with Temporal
// payloads in the clear, unless NUDGE_ENCRYPTION=off says so.
func (c *Config) RequireEncryption() error {
	if c.EncryptionKeys != nil || c.Encryption == "off" {
		return nil
	}
	return errors.New(prefix + "ENCRYPTION_KEYS: set a key so Temporal stores no personal data in the clear, " +
		"e.g. NUDGE_ENCRYPTION_KEYS=k1:$(openssl rand -base64 32); or set NUDGE_ENCRYPTION=off to run without")
}

// ParseOrigin reads a browser origin, scheme://host[:port], as a browser
// sends it in the Origin header (lower case, no path), so it compares equal.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin like http://localhost:8233 (scheme, host and port; no path)", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// IsE164 reports whether s is a phone number in E.164 form: + and 7 to 15 digits.
func IsE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ParseQuietHours reads "21:00-08:00".
func ParseQuietHours(s string) (QuietHours, error) {
	start, end, ok := strings.Cut(s, "-")
	a, errA := clock(start)
	b, errB := clock(end)
	if !ok || errA != nil || errB != nil || a == b {
		return QuietHours{}, fmt.Errorf("%q is not a span of local time like 21:00-08:00", s)
	}
	return QuietHours{Start: a, End: b}, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// ParseCap reads "3/24h": at most 3 per 24 hours. "0" turns the cap off.
func ParseCap(s string) (Cap, error) {
	if s == "0" || s == "off" {
		return Cap{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	max, err1 := strconv.Atoi(n)
	window, err2 := time.ParseDuration(w)
	if !ok || err1 != nil || err2 != nil || max < 1 || window <= 0 {
		return Cap{}, fmt.Errorf("%q is not a cap like 3/24h (at most 3 marketing messages per 24 hours), or off", s)
	}
	return Cap{Max: max, Window: window}, nil
}

// SMTP is where email goes.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS: smtps://, TLS from the first byte (port 465).
	ImplicitTLS bool
	// RequireSTARTTLS: smtp://...?starttls=required refuses a server that
	// does not offer STARTTLS; by default it is used when offered.
	RequireSTARTTLS bool
}

// ParseSMTP reads smtps://user:pass@host:465 or smtp://user:pass@host:587,
// with ?starttls=required to insist on STARTTLS.
func ParseSMTP(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	s := &SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtps":
		s.ImplicitTLS, s.Port = true, 465
	case "smtp":
		s.Port = 587
	default:
		return nil, fmt.Errorf("scheme %q: use smtps:// (TLS, port 465) or smtp:// (STARTTLS when offered, port 587)", u.Scheme)
	}
	if s.Host == "" {
		return nil, fmt.Errorf("%q names no host", raw)
	}
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil || s.Port <= 0 || s.Port > 65535 {
			return nil, fmt.Errorf("port %q is not a port number", p)
		}
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	for k, v := range u.Query() {
		switch {
		case k == "starttls" && v[0] == "required":
			if s.ImplicitTLS {
				return nil, errors.New("starttls=required does not apply to smtps://, which is TLS from the start")
			}
			s.RequireSTARTTLS = true
		case k == "starttls" && v[0] == "opportunistic":
		default:
			return nil, fmt.Errorf("unknown option %s=%s (known: starttls=required, starttls=opportunistic)", k, v[0])
		}
	}
	return s, nil
}
