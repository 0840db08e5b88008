package workflows_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

const webhookTestSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

// webhookSteps is a journey's body that posts webhooks: it stands in, in
// this test only, for a journey registered under an existing name, so no
// journey is added to the catalog.
func webhookSteps(ctx workflow.Context, in workflows.JourneyInput) error {
	j := workflows.Begin(ctx, in)
	j.Webhook("crm", workflows.WithTraits("plan"), workflows.WithData(map[string]any{"stage": "trial"}),
		workflows.WithData(map[string]any{"seats": 5}))
	j.WaitUntil(workflows.Day)
	j.Webhook("crm", workflows.AsStep("crm_day1"))
	j.Webhook("erp") // not in NUDGE_WEBHOOKS: noted, and the journey goes on
	j.Webhook("crm") // the first step again: already sent, not posted again
	j.Email("quick_win")
	return j.End()
}

type webhookHit struct {
	at     time.Time
	header http.Header
	body   []byte
}

func TestJourneyPostsWebhooks(t *testing.T) {
	var (
		mu   sync.Mutex
		hits []webhookHit
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, webhookHit{at: time.Now(), header: r.Header.Clone(), body: body})
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	h := newHarness(t, models.Contact{ID: "dana", Email: "dana@example.com", FirstName: "Dana",
		Traits: map[string]any{"plan": "b2b", "secret_note": "not sent"}})
	client, err := activities.NewWebhookClient(webhookTestSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.acts.Webhooks, h.acts.WebhookURLs = client, map[string]string{"crm": receiver.URL}
	h.env.RegisterWorkflowWithOptions(webhookSteps, workflow.RegisterOptions{Name: "welcome_b2b", DisableAlreadyRegisteredCheck: true})

	in := workflows.JourneyInput{ContactID: "dana", Trigger: trackEvent(workflows.EventSignedUp, map[string]any{"plan": "b2b"}, h.start),
		Settings: workflows.DefaultSettings(), Version: workflows.CurrentVersion}
	h.env.ExecuteWorkflow("welcome_b2b", in)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("journey did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("journey failed: %v", err)
	}
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.JourneyState
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}

	// Two posts, each signed, each with its own webhook-id.
	if len(hits) != 2 {
		t.Fatalf("receiver got %d posts, want 2", len(hits))
	}
	wh, err := standardwebhooks.NewWebhook(webhookTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	var first, second struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			Webhook, Journey, Step string
			RunID                  string `json:"run_id"`
			Contact                struct {
				ID     string         `json:"id"`
				Email  string         `json:"email"`
				Traits map[string]any `json:"traits"`
			} `json:"contact"`
			Properties map[string]any `json:"properties"`
		} `json:"data"`
	}
	for i, out := range []any{&first, &second} {
		if err := wh.Verify(hits[i].body, hits[i].header); err != nil {
			t.Errorf("post %d does not verify: %v", i, err)
		}
		if err := json.Unmarshal(hits[i].body, out); err != nil {
			t.Fatal(err)
		}
	}
	if hits[0].header.Get("webhook-id") == hits[1].header.Get("webhook-id") {
		t.Error("two steps share a webhook-id")
	}
	d := first.Data
	if first.Type != "welcome_b2b.crm" || !first.Timestamp.Equal(h.start) || d.Webhook != "crm" || d.Journey != "welcome_b2b" || d.Step != "crm" ||
		d.RunID == "" || d.Contact.ID != "dana" || d.Contact.Email != "dana@example.com" || len(d.Contact.Traits) != 1 || d.Contact.Traits["plan"] != "b2b" ||
		len(d.Properties) != 2 || d.Properties["stage"] != "trial" || d.Properties["seats"] != float64(5) {
		t.Errorf("first post = %+v", first)
	}
	if second.Type != "welcome_b2b.crm_day1" || !second.Timestamp.Equal(h.start.Add(workflows.Day)) || second.Data.Properties != nil {
		t.Errorf("second post = %+v", second)
	}

	// The rows, one per step on the channel "webhook".
	var rows []models.Message
	if err := h.store.DB().Where("channel = ?", models.ChannelWebhook).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Step != "crm" || rows[1].Step != "crm_day1" || rows[0].Status != workflows.StatusSent ||
		rows[1].Status != workflows.StatusSent || rows[0].ProviderID != hits[0].header.Get("webhook-id") || rows[0].Marketing {
		t.Errorf("rows = %+v", rows)
	}

	// The timeline says what happened, and the journey went on to its email.
	var timeline []string
	for _, e := range st.Timeline {
		if e.Kind == "webhook" || strings.Contains(e.Step, "(webhook)") {
			timeline = append(timeline, e.Kind+" "+e.Step+": "+e.Detail)
		}
	}
	want := []string{
		"webhook crm: sent to crm",
		"webhook crm_day1: sent to crm",
		`skip erp (webhook): not sent: no webhook "erp" in NUDGE_WEBHOOKS (known: crm)`,
		"webhook crm: sent to crm",
	}
	if strings.Join(timeline, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(timeline, "\n"), strings.Join(want, "\n"))
	}
	h.assertSent("+24h welcome_b2b/quick_win recorded")
}

// Offline (nudge simulate) the journey runs the same, and nothing is
// posted: the rows are recorded with their bodies.
func TestJourneyWebhooksOffline(t *testing.T) {
	posts := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posts++ }))
	defer receiver.Close()
	h := newHarness(t, models.Contact{ID: "dana", Email: "dana@example.com"})
	client, err := activities.NewWebhookClient(webhookTestSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.acts.Webhooks, h.acts.WebhookURLs = client, map[string]string{"crm": receiver.URL}
	*h.acts = *h.acts.Offline()
	h.env.RegisterWorkflowWithOptions(webhookSteps, workflow.RegisterOptions{Name: "welcome_b2b", DisableAlreadyRegisteredCheck: true})
	h.env.ExecuteWorkflow("welcome_b2b", workflows.JourneyInput{ContactID: "dana", Trigger: trackEvent(workflows.EventSignedUp, nil, h.start),
		Settings: workflows.DefaultSettings(), Version: workflows.CurrentVersion})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rows []models.Message
	h.store.DB().Where("channel = ?", models.ChannelWebhook).Order("id").Find(&rows)
	if posts != 0 || len(rows) != 2 || rows[0].Status != workflows.StatusRecorded || !strings.HasPrefix(rows[0].Text, `{"type":"welcome_b2b.crm",`) {
		t.Errorf("%d posts; rows = %+v", posts, rows)
	}
}
