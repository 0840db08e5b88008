package activities

import (
	"reflect"
	"testing"

	"github.com/nudgehq/nudge/config"
)

// Every sender Activities holds is an interface; Offline must clear each
// one. A channel added later without being cleared fails here.
func TestOfflineDeliversNothing(t *testing.T) {
	twilio, err := NewTwilioSender(&config.Twilio{AccountSID: "AC" + "0123456789abcdef0123456789abcdef", AuthToken: "token", From: "+15005550006", APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	slack, err := NewSlackClient("xoxb-test", "http://127.0.0.1:1/api/")
	if err != nil {
		t.Fatal(err)
	}
	webhooks, err := NewWebhookClient("whsec_"+"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0)
	if err != nil {
		t.Fatal(err)
	}
	discounts, err := NewShopifyDiscounts("http://127.0.0.1:1/admin/api/graphql.json", "shpat_test", 14)
	if err != nil {
		t.Fatal(err)
	}
	mastodon, err := NewMastodonClient("http://127.0.0.1:1", "token")
	if err != nil {
		t.Fatal(err)
	}
	a := &Activities{Mailer: NewSMTPMailer(&config.SMTP{Host: "127.0.0.1", Port: 1}), SMS: twilio, Slack: slack, Webhooks: webhooks, Discounts: discounts, Mastodon: mastodon}
	off := a.Offline()
	v, ty := reflect.ValueOf(off).Elem(), reflect.TypeOf(*off)
	for i := range ty.NumField() {
		f := ty.Field(i)
		if f.Type.Kind() == reflect.Interface && !v.Field(i).IsNil() {
			t.Errorf("Offline leaves %s (%s) set: it would deliver", f.Name, f.Type)
		}
	}
	if a.Mailer == nil || a.SMS == nil || a.Slack == nil || a.Webhooks == nil {
		t.Error("Offline changed the original")
	}
}
