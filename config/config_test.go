package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nudgehq/nudge/ads/google"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func TestDefaults(t *testing.T) {
	c, err := LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "localhost:7233" || c.TemporalNamespace != "default" || c.TaskQueue != "nudge" ||
		c.DatabaseURL != "sqlite://.data/nudge.db" || c.HTTPAddr != ":8080" || c.SMTP != nil ||
		c.From.Address != "hello@nudge.localhost" || c.Owner != c.From {
		t.Errorf("defaults = %+v", c)
	}
	if !slices.Equal(c.Journeys, workflows.JourneyNames()) {
		t.Errorf("journeys = %v, want all of %v", c.Journeys, workflows.JourneyNames())
	}
	if err := c.RequireServing(); err == nil || !strings.Contains(err.Error(), "NUDGE_WRITE_KEYS") ||
		!strings.Contains(err.Error(), "NUDGE_ADMIN_KEYS") || !strings.Contains(err.Error(), "NUDGE_SECRET") {
		t.Errorf("RequireServing without keys = %v", err)
	}
}

// The journey settings' defaults are workflows.DefaultSettings, written
// nowhere else; a variable overrides one and leaves the rest.
func TestJourneySettingsDefaultToTheWorkflows(t *testing.T) {
	c, err := LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Router().Settings, workflows.DefaultSettings(); !reflect.DeepEqual(got, want) {
		t.Errorf("settings = %+v, want %+v", got, want)
	}
	if c.AttributionWindow != models.DefaultAttributionWindow {
		t.Errorf("attribution window = %s", c.AttributionWindow)
	}
	c, err = LoadFrom(map[string]string{"NUDGE_CART_SMS_THRESHOLD": "50", "NUDGE_ICP_INDUSTRIES": "retail"})
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.DefaultSettings()
	want.CartSMSThreshold, want.ICP.Industries = 50, []string{"retail"}
	if got := c.Router().Settings; !reflect.DeepEqual(got, want) {
		t.Errorf("with two set: %+v, want %+v", got, want)
	}
	if !slices.Equal(workflows.DefaultSettings().ICP.Industries, []string{"software", "fintech", "saas"}) {
		t.Error("setting a variable changed the defaults themselves")
	}
}

func TestValues(t *testing.T) {
	c, err := LoadFrom(map[string]string{
		"NUDGE_SMTP_URL":      "smtps://user:p%40ss@smtp.example.com",
		"NUDGE_WRITE_KEYS":    "wk1,wk2",
		"NUDGE_ADMIN_KEYS":    "ak1",
		"NUDGE_SECRET":        "0123456789abcdef",
		"NUDGE_JOURNEYS":      "welcome_b2b",
		"NUDGE_ACCOUNT_OWNER": "Sam Lee <sam@acme.example>",
		"NUDGE_PUBLIC_URL":    "https://nudge.acme.example/",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := SMTP{Host: "smtp.example.com", Port: 465, Username: "user", Password: "p@ss", ImplicitTLS: true}
	if *c.SMTP != want {
		t.Errorf("SMTP = %+v, want %+v", *c.SMTP, want)
	}
	if !slices.Equal(c.WriteKeys, []string{"wk1", "wk2"}) || !slices.Equal(c.Journeys, []string{"welcome_b2b"}) ||
		c.Owner.Name != "Sam Lee" || c.PublicURL != "https://nudge.acme.example" {
		t.Errorf("config = %+v", c)
	}
	if err := c.RequireServing(); err != nil {
		t.Error(err)
	}
}

// A bad value stops start-up with a message that names the variable.
func TestBadValuesNameTheVariable(t *testing.T) {
	for name, tc := range map[string]struct{ key, value, want string }{
		"database":      {"NUDGE_DATABASE_URL", "postgres://x", `NUDGE_DATABASE_URL: "postgres://x" is not a database URL`},
		"smtp scheme":   {"NUDGE_SMTP_URL", "http://mail", `NUDGE_SMTP_URL: scheme "http": use smtps://`},
		"smtp port":     {"NUDGE_SMTP_URL", "smtp://mail:99999", `NUDGE_SMTP_URL: port "99999" is not a port number`},
		"smtp option":   {"NUDGE_SMTP_URL", "smtp://mail?tls=yes", `NUDGE_SMTP_URL: unknown option tls=yes`},
		"smtps+tls":     {"NUDGE_SMTP_URL", "smtps://mail?starttls=required", `NUDGE_SMTP_URL: starttls=required does not apply to smtps://`},
		"from":          {"NUDGE_EMAIL_FROM", "not an address", `NUDGE_EMAIL_FROM: "not an address" is not an email address`},
		"owner":         {"NUDGE_ACCOUNT_OWNER", "sam@acme.example", `NUDGE_ACCOUNT_OWNER: "sam@acme.example" is not a person's name and address`},
		"public url":    {"NUDGE_PUBLIC_URL", "nudge.example.com", `NUDGE_PUBLIC_URL: "nudge.example.com" is not an absolute http(s) URL`},
		"secret":        {"NUDGE_SECRET", "short", "NUDGE_SECRET: is 5 characters; use at least 16"},
		"journey":       {"NUDGE_JOURNEYS", "welcome_b2b,recommendations", `NUDGE_JOURNEYS: unknown journey "recommendations" (known: all, `},
		"log level":     {"NUDGE_LOG_LEVEL", "loud", `NUDGE_LOG_LEVEL: "loud" is not debug, info, warn or error`},
		"key spaces":    {"NUDGE_WRITE_KEYS", "a, b", "NUDGE_WRITE_KEYS/NUDGE_ADMIN_KEYS: a key is empty or has spaces around it"},
		"task queue":    {"NUDGE_TASK_QUEUE", "", ""},
		"admin = write": {"NUDGE_ADMIN_KEYS", "wk", "NUDGE_ADMIN_KEYS: a key is also a write key"},
		"metrics addr":  {"NUDGE_METRICS_ADDR", "9464", `NUDGE_METRICS_ADDR: "9464" is not host:port like 127.0.0.1:9464 or :9464, or off`},
		"metrics port":  {"NUDGE_METRICS_ADDR", "127.0.0.1:70000", `NUDGE_METRICS_ADDR: port "70000" in "127.0.0.1:70000" is not a port number`},
		"metrics name":  {"NUDGE_METRICS_ADDR", "127.0.0.1:metrics", `NUDGE_METRICS_ADDR: port "metrics" in "127.0.0.1:metrics" is not a port number`},
		"cache zero":    {"NUDGE_WORKFLOW_CACHE", "0", "NUDGE_WORKFLOW_CACHE: 0 is not a number of workflows; use at least 1 (the default is 2000)"},
		"cache word":    {"NUDGE_WORKFLOW_CACHE", "lots", `NUDGE_WORKFLOW_CACHE`},
		"enc no id":     {"NUDGE_ENCRYPTION_KEYS", "c2VjcmV0", "NUDGE_ENCRYPTION_KEYS: entry 1 is not id:base64key"},
		"enc short":     {"NUDGE_ENCRYPTION_KEYS", "k1:c2VjcmV0", `NUDGE_ENCRYPTION_KEYS: key "k1" (entry 1) decodes to 6 bytes; AES-256 needs exactly 32`},
		"ui origin":     {"NUDGE_TEMPORAL_UI_ORIGIN", "http://localhost:8233/ui", `NUDGE_TEMPORAL_UI_ORIGIN: "http://localhost:8233/ui" is not an origin`},
	} {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{tc.key: tc.value}
			if tc.key == "NUDGE_ADMIN_KEYS" {
				vars["NUDGE_WRITE_KEYS"] = "wk"
			}
			_, err := LoadFrom(vars)
			if tc.want == "" {
				// An empty value falls back to the default.
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSMTPForms(t *testing.T) {
	for raw, want := range map[string]SMTP{
		"smtp://127.0.0.1:1025":                         {Host: "127.0.0.1", Port: 1025},
		"smtp://u:p@mail.example.com":                   {Host: "mail.example.com", Port: 587, Username: "u", Password: "p"},
		"smtp://mail.example.com:587?starttls=required": {Host: "mail.example.com", Port: 587, RequireSTARTTLS: true},
		"smtps://mail.example.com:2465":                 {Host: "mail.example.com", Port: 2465, ImplicitTLS: true},
	} {
		got, err := ParseSMTP(raw)
		if err != nil || *got != want {
			t.Errorf("ParseSMTP(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

// NUDGE_METRICS_ADDR is host:port, loopback by default; off leaves it empty,
// which the metrics server reads as off.
func TestMetricsAddr(t *testing.T) {
	for value, want := range map[string]string{
		"":             "127.0.0.1:9464", // unset: the default
		"off":          "",
		":9465":        ":9465",
		"0.0.0.0:9464": "0.0.0.0:9464",
		"[::1]:9464":   "[::1]:9464",
	} {
		c, err := LoadFrom(map[string]string{"NUDGE_METRICS_ADDR": value})
		if err != nil {
			t.Errorf("NUDGE_METRICS_ADDR=%q: %v", value, err)
		} else if c.MetricsAddr != want {
			t.Errorf("NUDGE_METRICS_ADDR=%q: MetricsAddr = %q, want %q", value, c.MetricsAddr, want)
		}
	}
}

// NUDGE_ENCRYPTION_KEYS is optional: unset, payloads stay plain; set, it is
// parsed into the keys every Temporal client encrypts with.
func TestEncryptionKeys(t *testing.T) {
	c, err := LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.EncryptionKeys != nil || c.TemporalUIOrigin != "http://localhost:8233" {
		t.Errorf("defaults: keys %v, UI origin %q", c.EncryptionKeys, c.TemporalUIOrigin)
	}
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes
	c, err = LoadFrom(map[string]string{
		"NUDGE_ENCRYPTION_KEYS":    "2025-06:" + key + ",2024-01:" + key,
		"NUDGE_TEMPORAL_UI_ORIGIN": "HTTPS://Temporal.Acme.example/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.EncryptionKeys == nil || !slices.Equal(c.EncryptionKeys.IDs(), []string{"2025-06", "2024-01"}) {
		t.Errorf("keys = %v", c.EncryptionKeys)
	}
	if c.TemporalUIOrigin != "https://temporal.acme.example" {
		t.Errorf("UI origin = %q, want it as a browser sends it", c.TemporalUIOrigin)
	}
	// A bad key list is an error that names the variable and never shows a key.
	_, err = LoadFrom(map[string]string{"NUDGE_ENCRYPTION_KEYS": "a:" + key + ",a:" + key})
	if err == nil || !strings.Contains(err.Error(), `NUDGE_ENCRYPTION_KEYS: entry 2: key ID "a" is listed twice`) || strings.Contains(err.Error(), key) {
		t.Errorf("duplicate key ID: err = %v", err)
	}
}

// The worker and the gateway refuse to send personal data to Temporal in
// the clear unless told so by name.
func TestRequireEncryption(t *testing.T) {
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	for _, tc := range []struct {
		env  map[string]string
		want string // "" when allowed
	}{
		{map[string]string{}, "NUDGE_ENCRYPTION_KEYS: set a key so Temporal stores no personal data in the clear, " +
			"e.g. NUDGE_ENCRYPTION_KEYS=k1:$(openssl rand -base64 32); or set NUDGE_ENCRYPTION=off to run without"},
		{map[string]string{"NUDGE_ENCRYPTION_KEYS": "k1:" + key}, ""},
		{map[string]string{"NUDGE_ENCRYPTION": "off"}, ""},
	} {
		c, err := LoadFrom(tc.env)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if err := c.RequireEncryption(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
	for env, want := range map[string]string{
		"NUDGE_ENCRYPTION=no": `NUDGE_ENCRYPTION: "no" is not off; leave it unset to encrypt with NUDGE_ENCRYPTION_KEYS`,
		"both":                "NUDGE_ENCRYPTION: is off, but NUDGE_ENCRYPTION_KEYS is set; unset one of them",
	} {
		vars := map[string]string{"NUDGE_ENCRYPTION": "no"}
		if env == "both" {
			vars = map[string]string{"NUDGE_ENCRYPTION": "off", "NUDGE_ENCRYPTION_KEYS": "k1:" + key}
		}
		if _, err := LoadFrom(vars); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", env, err, want)
		}
	}
}

func TestReports(t *testing.T) {
	c, err := LoadFrom(map[string]string{"NUDGE_REPORTS": "weekly@mon 09:00 America/New_York=email:ops@example.com,slack:#marketing; daily@08:30 UTC=slack:#growth"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Report{
		{Name: "weekly@mon 09:00 America/New_York", Every: "weekly", Weekday: time.Monday, Hour: 9, Zone: "America/New_York",
			Emails: []string{"ops@example.com"}, Slack: []string{"#marketing"}},
		{Name: "daily@08:30 UTC", Every: "daily", Hour: 8, Minute: 30, Zone: "UTC", Slack: []string{"#growth"}},
	}
	if !reflect.DeepEqual(c.Reports, want) {
		t.Fatalf("reports = %+v", c.Reports)
	}
	if id := c.Reports[0].ID(); id != "nudge-report-weekly-mon-0900-america-new_york" {
		t.Errorf("id = %q", id)
	}
	if c.Reports[0].Period() != 7*24*time.Hour || c.Reports[1].Period() != 24*time.Hour {
		t.Error("periods")
	}
	for raw, msg := range map[string]string{
		"weekly@09:00 UTC=slack:#a":                                    `NUDGE_REPORTS: entry 1 ("weekly@09:00 UTC=slack:#a"): a weekly report needs its day, like weekly@mon 09:00 UTC`,
		"daily@8:00 UTC=slack:#a":                                      `NUDGE_REPORTS: entry 1 ("daily@8:00 UTC=slack:#a"): the schedule must read daily@HH:MM Zone or weekly@day HH:MM Zone (day: mon to sun)`,
		"daily@08:00 Mars/Olympus=slack:#a":                            `NUDGE_REPORTS: entry 1 ("daily@08:00 Mars/Olympus=slack:#a"): unknown time zone "Mars/Olympus": want an IANA name like America/New_York or UTC`,
		"daily@08:00 UTC=fax:123":                                      `NUDGE_REPORTS: entry 1 ("daily@08:00 UTC=fax:123"): destination "fax:123": want email:address or slack:#channel`,
		"daily@08:00 UTC":                                              `NUDGE_REPORTS: entry 1 ("daily@08:00 UTC"): want schedule=destinations, like weekly@mon 09:00 UTC=email:ops@example.com`,
		"daily@25:00 UTC=slack:#a":                                     `NUDGE_REPORTS: entry 1 ("daily@25:00 UTC=slack:#a"): hour 25: want 00 to 23`,
		"daily@08:00 UTC=slack:#a;daily@08:00 UTC=email:b@example.com": `NUDGE_REPORTS: entry 2 ("daily@08:00 UTC=email:b@example.com"): the same schedule twice; put its destinations in one entry`,
	} {
		if _, err := LoadFrom(map[string]string{"NUDGE_REPORTS": raw}); err == nil || err.Error() != msg {
			t.Errorf("%s:\n got  %v\n want %s", raw, err, msg)
		}
	}
}

func TestAdsAreOffWithoutCredentials(t *testing.T) {
	c, err := LoadFrom(map[string]string{"NUDGE_META_API_URL": ""})
	if err != nil {
		t.Fatal(err)
	}
	if c.MetaEnabled() || c.GoogleAdsEnabled() {
		t.Errorf("ads on without credentials: meta %v, google %v", c.MetaEnabled(), c.GoogleAdsEnabled())
	}
	// The URLs default to the clients' own, written there once.
	if c.MetaAPIURL != meta.DefaultAPIURL || c.GoogleAdsAPIURL != google.DefaultAPIURL ||
		c.GoogleOAuthTokenURL != google.DefaultTokenURL || c.GoogleDataManagerURL != google.DefaultDataManagerURL {
		t.Errorf("URLs = %q %q %q %q", c.MetaAPIURL, c.GoogleAdsAPIURL, c.GoogleOAuthTokenURL, c.GoogleDataManagerURL)
	}
	if c.MetaAPIURL != "https://graph.facebook.com/v25.0" || c.GoogleAdsAPIURL != "https://googleads.googleapis.com/v26" {
		t.Errorf("API versions moved: %s, %s", c.MetaAPIURL, c.GoogleAdsAPIURL)
	}
}

func TestAdSettings(t *testing.T) {
	c, err := LoadFrom(map[string]string{
		"NUDGE_META_ACCESS_TOKEN":            "EAAB",
		"NUDGE_META_AD_ACCOUNTS":             "act_123, act_456,",
		"NUDGE_META_API_URL":                 "http://127.0.0.1:9000/v25.0",
		"NUDGE_GOOGLE_ADS_DEVELOPER_TOKEN":   "dev",
		"NUDGE_GOOGLE_ADS_CUSTOMER_ID":       "123-456-7890",
		"NUDGE_GOOGLE_ADS_LOGIN_CUSTOMER_ID": "987-654-3210",
		"NUDGE_GOOGLE_OAUTH_CLIENT_ID":       "id.apps.googleusercontent.com",
		"NUDGE_GOOGLE_OAUTH_CLIENT_SECRET":   "secret",
		"NUDGE_GOOGLE_OAUTH_REFRESH_TOKEN":   "1//refresh",
		"NUDGE_GOOGLE_OAUTH_TOKEN_URL":       "http://127.0.0.1:9001/token",
		"NUDGE_GOOGLE_ADS_API_URL":           "http://127.0.0.1:9001/v26",
		"NUDGE_GOOGLE_DATA_MANAGER_URL":      "http://127.0.0.1:9001/v1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.MetaEnabled() || !c.GoogleAdsEnabled() {
		t.Errorf("ads off with credentials: meta %v, google %v", c.MetaEnabled(), c.GoogleAdsEnabled())
	}
	if !slices.Equal(c.MetaAdAccounts, []string{"act_123", "act_456"}) {
		t.Errorf("accounts = %q", c.MetaAdAccounts)
	}
	if c.GoogleAdsCustomerID != "1234567890" || c.GoogleAdsLoginCustomerID != "9876543210" {
		t.Errorf("customer IDs = %q, %q; want digits only", c.GoogleAdsCustomerID, c.GoogleAdsLoginCustomerID)
	}
	if c.MetaAPIURL != "http://127.0.0.1:9000/v25.0" || c.GoogleOAuthTokenURL != "http://127.0.0.1:9001/token" ||
		c.GoogleAdsAPIURL != "http://127.0.0.1:9001/v26" || c.GoogleDataManagerURL != "http://127.0.0.1:9001/v1" {
		t.Errorf("URLs = %+v", c)
	}
}

func TestBadAdSettingsNameTheVariable(t *testing.T) {
	for name, tc := range map[string]struct {
		vars map[string]string
		want []string
	}{
		"account without act_": {map[string]string{"NUDGE_META_ACCESS_TOKEN": "t", "NUDGE_META_AD_ACCOUNTS": "act_1,123"},
			[]string{`NUDGE_META_AD_ACCOUNTS: "123" is not an ad account ID like act_1234567890`}},
		"account not digits": {map[string]string{"NUDGE_META_ACCESS_TOKEN": "t", "NUDGE_META_AD_ACCOUNTS": "act_12ab"},
			[]string{`NUDGE_META_AD_ACCOUNTS: "act_12ab" is not an ad account ID`}},
		"accounts without token": {map[string]string{"NUDGE_META_AD_ACCOUNTS": "act_1"},
			[]string{"NUDGE_META_ACCESS_TOKEN: is empty, but NUDGE_META_AD_ACCOUNTS is set"}},
		"meta url": {map[string]string{"NUDGE_META_API_URL": "graph.facebook.com/v25.0"},
			[]string{`NUDGE_META_API_URL: "graph.facebook.com/v25.0" is not an absolute http(s) URL`}},
		"google url": {map[string]string{"NUDGE_GOOGLE_ADS_API_URL": "ftp://x"},
			[]string{`NUDGE_GOOGLE_ADS_API_URL: "ftp://x" is not an absolute http(s) URL`}},
		"token url": {map[string]string{"NUDGE_GOOGLE_OAUTH_TOKEN_URL": "/token"},
			[]string{`NUDGE_GOOGLE_OAUTH_TOKEN_URL: "/token" is not an absolute http(s) URL`}},
		"data manager url": {map[string]string{"NUDGE_GOOGLE_DATA_MANAGER_URL": "datamanager"},
			[]string{`NUDGE_GOOGLE_DATA_MANAGER_URL: "datamanager" is not an absolute http(s) URL`}},
		"customer id": {map[string]string{"NUDGE_GOOGLE_ADS_CUSTOMER_ID": "12345"},
			[]string{`NUDGE_GOOGLE_ADS_CUSTOMER_ID: "12345" is not a Google Ads customer ID like 123-456-7890`}},
		"login customer id": {map[string]string{"NUDGE_GOOGLE_ADS_LOGIN_CUSTOMER_ID": "abc-def-ghij"},
			[]string{`NUDGE_GOOGLE_ADS_LOGIN_CUSTOMER_ID: "abc-def-ghij" is not a Google Ads customer ID`}},
		"google half set": {map[string]string{"NUDGE_GOOGLE_ADS_DEVELOPER_TOKEN": "dev", "NUDGE_GOOGLE_OAUTH_CLIENT_ID": "id"},
			[]string{
				"NUDGE_GOOGLE_ADS_CUSTOMER_ID: is empty, but NUDGE_GOOGLE_ADS_DEVELOPER_TOKEN, NUDGE_GOOGLE_OAUTH_CLIENT_ID are set; Google Ads needs",
				"NUDGE_GOOGLE_OAUTH_CLIENT_SECRET: is empty",
				"NUDGE_GOOGLE_OAUTH_REFRESH_TOKEN: is empty",
			}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadFrom(tc.vars)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
