package platform_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/nudgehq/nudge/codec"
)

// With NUDGE_ENCRYPTION_KEYS set, the gateway and the worker share the
// encrypting data converter: a sign-up whose userId is an email address
// still becomes a welcome email, while what Temporal stores and its UI shows
// (workflow IDs, search attributes, summaries, payloads) holds the address
// nowhere, and the gateway's codec endpoint decodes it for an admin.
func TestEncryptedPayloads(t *testing.T) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, map[string]string{"NUDGE_ENCRYPTION_KEYS": "e2e:" + base64.StdEncoding.EncodeToString(key), "NUDGE_ENCRYPTION": ""})
	const email = "jane.doe@example.com"
	post(t, s, "/v1/identify", `{"userId":"`+email+`","messageId":"enc-1","traits":{"email":"`+email+`","firstName":"Grace"}}`)
	post(t, s, "/v1/track", `{"userId":"`+email+`","messageId":"enc-2","event":"Signed Up"}`)
	waitForEmail(t, s, email, "Welcome to Acme, Grace: 10% off your first order")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	contactID, err := s.Platform.Store.ResolveContact(ctx, email)
	if err != nil || !strings.HasPrefix(contactID, "c_") {
		t.Fatalf("contact for %s: %q, %v; want an opaque ID", email, contactID, err)
	}
	// A client of its own, with no codec: Temporal's view of the contact.
	raw, err := client.Dial(client.Options{HostPort: s.Temporal.FrontendHostPort(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var ids []string
	query := fmt.Sprintf("ContactID = %q", contactID)
	for len(ids) < 2 { // the contact and its welcome journey; visibility lags a little
		resp, err := raw.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			t.Fatalf("list %s: %v", query, err)
		}
		ids = ids[:0]
		for _, e := range resp.Executions {
			ids = append(ids, e.Execution.WorkflowId)
			if b, _ := proto.Marshal(e); bytes.Contains(b, []byte(email)) {
				t.Errorf("%s: the visibility record (search attributes, memo) holds %s", e.Execution.WorkflowId, email)
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("%s lists %v; want the contact and its journey", query, ids)
		}
		if len(ids) < 2 {
			time.Sleep(100 * time.Millisecond) // poll visibility, within ctx's deadline
		}
	}
	var signal *commonpb.Payloads
	for _, id := range ids {
		if strings.Contains(id, email) || strings.Contains(id, url.PathEscape(email)) {
			t.Errorf("workflow ID %s holds the address", id)
		}
		desc, err := raw.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := proto.Marshal(desc); bytes.Contains(b, []byte(email)) {
			t.Errorf("%s: its description (search attributes, summaries, pending activities) holds %s", id, email)
		}
		encrypted := 0
		it := raw.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			// The event as Temporal stores it: payload data appears as is
			// (in JSON it would be base64, and hide nothing from the check).
			b, err := proto.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(email)) || bytes.Contains(b, []byte("Grace")) {
				t.Errorf("%s: event %d (%s) holds personal data in the clear", id, ev.EventId, ev.EventType)
			}
			encrypted += bytes.Count(b, []byte(codec.Encoding))
			if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && signal == nil {
				signal = a.Input
			}
		}
		if encrypted == 0 {
			t.Errorf("%s: no encrypted payload in its history", id)
		}
	}
	if signal == nil {
		t.Fatal("the contact received no signal")
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
