package platform_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/nudgehq/nudge/codec"
)

// With NUDGE_ENCRYPTION_KEYS set, the gateway and the worker share the
// encrypting data converter: a sign-up still becomes a welcome email, while
// the histories Temporal stores (and its UI shows) hold no email address,
// and the gateway's codec endpoint decodes them for an admin.
func TestEncryptedPayloads(t *testing.T) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, map[string]string{"NUDGE_ENCRYPTION_KEYS": "e2e:" + base64.StdEncoding.EncodeToString(key), "NUDGE_ENCRYPTION": ""})
	const email = "grace.hopper@example.com"
	post(t, s, "/v1/identify", `{"userId":"u-grace","messageId":"enc-1","traits":{"email":"`+email+`","firstName":"Grace"}}`)
	post(t, s, "/v1/track", `{"userId":"u-grace","messageId":"enc-2","event":"Signed Up"}`)
	waitForEmail(t, s, email, "Welcome to Acme, Grace: 10% off your first order")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var signal *commonpb.Payloads
	for _, id := range []string{"contact/u-grace", "journey/welcome_ecommerce/u-grace"} {
		encrypted := 0
		it := s.Platform.Temporal.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			// The event as Temporal stores it: payload data appears as is
			// (in JSON it would be base64, and hide nothing from the check).
			raw, err := proto.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(email)) || bytes.Contains(raw, []byte("Grace")) {
				t.Errorf("%s: event %d (%s) holds personal data in the clear", id, ev.EventId, ev.EventType)
			}
			encrypted += bytes.Count(raw, []byte(codec.Encoding))
			if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && signal == nil {
				signal = a.Input
			}
		}
		if encrypted == 0 {
			t.Errorf("%s: no encrypted payload in its history", id)
		}
	}
	if signal == nil {
		t.Fatal("contact/u-grace received no signal")
	}

	body, err := protojson.Marshal(signal)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/codec/decode", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	decoded, _ := io.ReadAll(resp.Body)
	var out commonpb.Payloads
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /codec/decode: %d %s", resp.StatusCode, decoded)
	}
	if err := protojson.Unmarshal(decoded, &out); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range out.Payloads {
		found = found || bytes.Contains(p.Data, []byte(email))
	}
	if !found {
		t.Errorf("the codec endpoint's decode of the signal holds no %s: %s", email, decoded)
	}
}
