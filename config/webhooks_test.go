package config

import (
	"reflect"
	"strings"
	"testing"
)

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="

func TestWebhooks(t *testing.T) {
	c, err := LoadFrom(map[string]string{
		"NUDGE_WEBHOOKS":       " crm=https://crm.example.com/hooks/nudge?src=nudge%2Cjourneys , ops-alerts=http://ops.internal:8080/in,",
		"NUDGE_WEBHOOK_SECRET": testWebhookSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Webhook{
		{Name: "crm", URL: "https://crm.example.com/hooks/nudge?src=nudge%2Cjourneys"},
		{Name: "ops-alerts", URL: "http://ops.internal:8080/in"},
	}
	if !reflect.DeepEqual(c.Webhooks, want) {
		t.Errorf("webhooks = %+v, want %+v", c.Webhooks, want)
	}
	if got := c.WebhookURLs(); len(got) != 2 || got["crm"] != want[0].URL || got["ops-alerts"] != want[1].URL {
		t.Errorf("URLs = %v", got)
	}

	c, err = LoadFrom(map[string]string{})
	if err != nil || c.Webhooks != nil || c.WebhookURLs() != nil {
		t.Errorf("unset: %+v, %v", c.Webhooks, err)
	}
}

// Each bad value stops start-up, naming its variable and what is wrong.
func TestBadWebhooks(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"no secret", map[string]string{"NUDGE_WEBHOOKS": "crm=https://crm.example.com/in"},
			"NUDGE_WEBHOOK_SECRET: is empty, but NUDGE_WEBHOOKS is set"},
		{"secret without whsec_", map[string]string{"NUDGE_WEBHOOKS": "crm=https://crm.example.com/in",
			"NUDGE_WEBHOOK_SECRET": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="}, "NUDGE_WEBHOOK_SECRET: does not start with whsec_"},
		{"secret not base64", map[string]string{"NUDGE_WEBHOOK_SECRET": "whsec_not base64!"},
			"NUDGE_WEBHOOK_SECRET: the part after whsec_ is not standard base64"},
		{"secret too short", map[string]string{"NUDGE_WEBHOOK_SECRET": "whsec_c2hvcnQ="},
			"NUDGE_WEBHOOK_SECRET: the key is 5 bytes"},
		{"no =", map[string]string{"NUDGE_WEBHOOKS": "https://crm.example.com/in", "NUDGE_WEBHOOK_SECRET": testWebhookSecret},
			`NUDGE_WEBHOOKS: "https://crm.example.com/in" is not name=URL`},
		{"bad name", map[string]string{"NUDGE_WEBHOOKS": "My CRM=https://crm.example.com/in", "NUDGE_WEBHOOK_SECRET": testWebhookSecret},
			`NUDGE_WEBHOOKS: "My CRM=https://crm.example.com/in": the name "My CRM" is not lower-case letters`},
		{"twice", map[string]string{"NUDGE_WEBHOOKS": "crm=https://a.example.com,crm=https://b.example.com", "NUDGE_WEBHOOK_SECRET": testWebhookSecret},
			`the name "crm" is listed twice`},
		{"not http", map[string]string{"NUDGE_WEBHOOKS": "crm=ftp://crm.example.com/in", "NUDGE_WEBHOOK_SECRET": testWebhookSecret},
			`NUDGE_WEBHOOKS: "crm=ftp://crm.example.com/in": "ftp://crm.example.com/in" is not an absolute http(s) URL`},
		{"relative", map[string]string{"NUDGE_WEBHOOKS": "crm=/hooks", "NUDGE_WEBHOOK_SECRET": testWebhookSecret},
			`"/hooks" is not an absolute http(s) URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFrom(tc.vars)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseWebhookSecret(t *testing.T) {
	key, err := ParseWebhookSecret(testWebhookSecret)
	if err != nil || len(key) != 32 {
		t.Fatalf("key = %d bytes, %v", len(key), err)
	}
}
