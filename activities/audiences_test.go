package activities_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/ads/adstest"
	"github.com/nudgehq/nudge/ads/audience"
	"github.com/nudgehq/nudge/ads/google"
	"github.com/nudgehq/nudge/ads/meta"
	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// adsBed is a store, the ad stand-ins and clients pointed at them.
type adsBed struct {
	store  *models.Store
	acts   *activities.Activities
	meta   *adstest.Meta
	google *adstest.Google
}

func newAdsBed(t *testing.T) *adsBed {
	t.Helper()
	m, g, clients := adStandIns(t)
	b := newTestbed(t, &activities.Activities{Ads: clients})
	return &adsBed{store: b.store, acts: b.acts, meta: m, google: g}
}

// adStandIns starts the Meta and Google stand-ins and returns clients for
// both, as the platform would build them, for the ad account act_1.
func adStandIns(t *testing.T) (*adstest.Meta, *adstest.Google, activities.AdClients) {
	t.Helper()
	m, g := adstest.NewMeta(), adstest.NewGoogle()
	t.Cleanup(m.Close)
	t.Cleanup(g.Close)
	mc, err := meta.New(meta.Config{AccessToken: adstest.MetaToken, APIURL: m.URL})
	if err != nil {
		t.Fatal(err)
	}
	tokens := google.OAuth{ClientID: adstest.GoogleClientID, ClientSecret: adstest.GoogleClientSecret,
		RefreshToken: adstest.GoogleRefreshToken, TokenURL: g.TokenURL}.TokenSource(nil)
	gc, err := google.New(google.Config{DeveloperToken: adstest.GoogleDeveloperToken, CustomerID: adstest.GoogleCustomerID, APIURL: g.AdsURL, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := google.NewCustomerMatch(google.CustomerMatchConfig{CustomerID: adstest.GoogleCustomerID, APIURL: g.DataManagerURL, Tokens: tokens, TermsAccepted: true})
	if err != nil {
		t.Fatal(err)
	}
	return m, g, activities.AdClients{Meta: mc, MetaAccounts: []string{"act_1"}, Google: gc, GoogleCustomerID: adstest.GoogleCustomerID, CustomerMatch: cm}
}

// env is a time-skipping workflow environment with Nudge's activities and
// the ad workflows.
func (b *adsBed) env(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(5 * time.Minute)
	b.acts.Register(env)
	env.RegisterWorkflowWithOptions(workflows.AudienceSyncWorkflow, workflow.RegisterOptions{Name: workflows.AudienceSyncWorkflowName})
	env.RegisterWorkflowWithOptions(workflows.AdPullWorkflow, workflow.RegisterOptions{Name: workflows.AdPullWorkflowName})
	return env
}

// sync runs one sync to its end, through continue-as-new, and returns its
// result and how many runs it took.
func (b *adsBed) sync(t *testing.T, req workflows.AudienceSyncRequest) (workflows.AudienceSyncResult, int, error) {
	t.Helper()
	for runs := 1; ; runs++ {
		env := b.env(t)
		env.ExecuteWorkflow(workflows.AudienceSyncWorkflowName, req)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &req); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var res workflows.AudienceSyncResult
		if err == nil {
			err = env.GetWorkflowResult(&res)
		}
		return res, runs, err
	}
}

// addContacts writes n contacts with IDs prefix00000…, consenting, in the
// new_subscriber segment.
func (b *adsBed) addContacts(t *testing.T, prefix string, n int) {
	t.Helper()
	batch := make([]models.Contact, 0, 1000)
	for i := range n {
		id := fmt.Sprintf("%s%05d", prefix, i)
		batch = append(batch, models.Contact{ID: id, Email: id + "@example.com", LifecycleStage: models.StageSubscriber,
			Traits: map[string]any{"ads_consent": true}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := b.store.DB().CreateInBatches(batch, 500).Error; err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

type metaUpload struct {
	method  string
	rows    [][]string
	session struct {
		ID        int64 `json:"session_id"`
		BatchSeq  int   `json:"batch_seq"`
		Last      bool  `json:"last_batch_flag"`
		Estimated int   `json:"estimated_num_total"`
	}
}

// uploads decodes the users requests Meta received from the from'th on.
func (b *adsBed) uploads(t *testing.T, from int) []metaUpload {
	t.Helper()
	var out []metaUpload
	for _, r := range b.meta.RequestsTo("/users")[from:] {
		u := metaUpload{method: r.Method}
		var p struct {
			Schema []string   `json:"schema"`
			Data   [][]string `json:"data"`
		}
		if err := r.FormJSON("payload", &p); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.Schema, []string{"EMAIL", "PHONE"}) {
			t.Errorf("schema %v", p.Schema)
		}
		u.rows = p.Data
		if r.Form.Get("session") != "" { // a staged batch replayed outside a session has none
			if err := r.FormJSON("session", &u.session); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, u)
	}
	return out
}

func metaRow(t *testing.T, email string) string {
	t.Helper()
	h, err := audience.Meta.HashEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	return h + "|"
}

// An audience of 25,000 goes out in three batches of one Meta session;
// a re-sync after 10 changes sends exactly those 10, removing the deleted
// and the unsubscribed contact by the hashes they were added with.
func TestAudienceSyncMetaBatchesAndResync(t *testing.T) {
	b := newAdsBed(t)
	b.addContacts(t, "c", 25_000)
	req := workflows.AudienceSyncRequest{Key: "new_subscriber/meta/4242", Segment: "new_subscriber", Platform: "meta", AudienceID: "4242"}
	res, _, err := b.sync(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 25_000 || res.Removed != 0 || res.Batches != 3 || res.Members != 25_000 {
		t.Errorf("result %+v", res)
	}
	ups := b.uploads(t, 0)
	if len(ups) != 3 {
		t.Fatalf("%d uploads, want 3", len(ups))
	}
	for i, u := range ups {
		wantRows, wantLast := 10_000, i == 2
		if i == 2 {
			wantRows = 5_000
		}
		s := u.session
		if u.method != "POST" || len(u.rows) != wantRows || s.ID != ups[0].session.ID || s.ID <= 0 || s.BatchSeq != i+1 || s.Last != wantLast || s.Estimated != 25_000 {
			t.Errorf("upload %d: %s, %d rows, session %+v; want POST, %d rows, batch_seq %d, last %v, estimated 25000",
				i, u.method, len(u.rows), s, wantRows, i+1, wantLast)
		}
	}
	if n := len(b.meta.Audience("4242")); n != 25_000 {
		t.Fatalf("the audience holds %d", n)
	}

	// Ten changes: four leave the segment, four join, one unsubscribes,
	// one changes its address and is then deleted.
	ctx := context.Background()
	db := b.store.DB()
	if err := db.Model(&models.Contact{}).Where("id IN ?", []string{"c00001", "c00002", "c00003", "c00004"}).Update("lifecycle_stage", models.StageCustomer).Error; err != nil {
		t.Fatal(err)
	}
	b.addContacts(t, "n", 4)
	if _, err := b.store.Unsubscribe(ctx, "c00010", time.Now()); err != nil {
		t.Fatal(err)
	}
	db.Model(&models.Contact{}).Where("id = ?", "c00020").Update("email", "someone-else@example.com")
	if err := db.Where("id = ?", "c00020").Delete(&models.Contact{}).Error; err != nil {
		t.Fatal(err)
	}

	res, _, err = b.sync(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 4 || res.Removed != 6 || res.Batches != 2 || res.Members != 24_998 {
		t.Errorf("re-sync result %+v", res)
	}
	ups = b.uploads(t, 3)
	if len(ups) != 2 || ups[0].method != "DELETE" || ups[1].method != "POST" {
		t.Fatalf("re-sync uploads %+v, want one DELETE and one POST", ups)
	}
	var removed, added []string
	for _, r := range ups[0].rows {
		removed = append(removed, strings.Join(r, "|"))
	}
	for _, r := range ups[1].rows {
		added = append(added, strings.Join(r, "|"))
	}
	var wantRemoved, wantAdded []string
	for _, id := range []string{"c00001", "c00002", "c00003", "c00004", "c00010", "c00020"} {
		wantRemoved = append(wantRemoved, metaRow(t, id+"@example.com"))
	}
	for i := range 4 {
		wantAdded = append(wantAdded, metaRow(t, fmt.Sprintf("n%05d@example.com", i)))
	}
	if !slices.Equal(removed, wantRemoved) || !slices.Equal(added, wantAdded) {
		t.Errorf("removed %v\nwant %v\nadded %v\nwant %v", removed, wantRemoved, added, wantAdded)
	}
	for i, u := range ups {
		want := []int{6, 4}[i]
		if s := u.session; s.BatchSeq != 1 || !s.Last || s.Estimated != want || s.ID <= 0 {
			t.Errorf("re-sync upload %d session %+v, want batch_seq 1, last, estimated %d", i, s, want)
		}
	}
	if ups[0].session.ID == ups[1].session.ID {
		t.Error("removals and additions share a session")
	}
	members := b.meta.Audience("4242")
	if len(members) != 24_998 || slices.Contains(members, metaRow(t, "c00020@example.com")) {
		t.Errorf("the audience holds %d, the deleted contact's hash still in: %v", len(members), slices.Contains(members, metaRow(t, "c00020@example.com")))
	}
	st, err := b.store.AudienceSyncState(ctx, req.Key)
	if err != nil || st.Added != 4 || st.Removed != 6 || st.Members != 24_998 || st.EndedAt == nil || st.LastError != "" {
		t.Errorf("sync state %+v, %v", st, err)
	}
}

// A transient failure is retried without sending anyone twice; a refusal
// fails the sync and is recorded, and the next sync sends the batch it
// left staged before going on. A long sync continues as new and keeps its
// session.
func TestAudienceSyncFailuresAndContinueAsNew(t *testing.T) {
	b := newAdsBed(t)
	b.addContacts(t, "c", 30)
	req := workflows.AudienceSyncRequest{Key: "new_subscriber/meta/77", Segment: "new_subscriber", Platform: "meta", AudienceID: "77", BatchesPerRun: 1}

	b.meta.Fail(adstest.GraphError(500, 2, 0, "Service temporarily unavailable").On("/users"))
	res, runs, err := b.sync(t, req)
	if err != nil || res.Added != 30 || runs != 2 {
		t.Fatalf("result %+v after %d runs, %v; want 30 added over 2 runs (continued as new)", res, runs, err)
	}
	if n := len(b.meta.RequestsTo("/users")); n != 2 {
		t.Errorf("%d users requests, want 2 (one failed, one retried)", n)
	}

	// A refusal: the batch stays staged and the error is recorded.
	b.addContacts(t, "d", 5)
	b.meta.Fail(adstest.GraphError(400, 100, 0, "Invalid parameter").On("/users"))
	if _, _, err := b.sync(t, req); err == nil || !strings.Contains(err.Error(), "Invalid parameter") {
		t.Fatalf("refused upload: %v", err)
	}
	st, err := b.store.AudienceSyncState(context.Background(), req.Key)
	if err != nil || !strings.Contains(st.LastError, "Invalid parameter") || st.ErrorAt == nil {
		t.Fatalf("state after a refusal %+v, %v", st, err)
	}
	// Meanwhile one more joins; the next sync sends the staged five on
	// their own, then the newcomer in its session.
	b.addContacts(t, "e", 1)
	before := len(b.meta.RequestsTo("/users"))
	res, _, err = b.sync(t, req)
	if err != nil || res.Added != 6 {
		t.Fatalf("next sync %+v, %v", res, err)
	}
	ups := b.uploads(t, before)
	if len(ups) != 2 || len(ups[0].rows) != 5 || ups[0].session.ID != 0 || len(ups[1].rows) != 1 || ups[1].session.BatchSeq != 1 {
		t.Errorf("uploads after the refusal %+v", ups)
	}
	if n := len(b.meta.Audience("77")); n != 36 {
		t.Errorf("audience holds %d, want 36", n)
	}
}

// Google is told of consent only where the contact gave it; under the
// consent default, contacts who never answered go without, and a "no"
// stays out.
func TestAudienceSyncGoogleConsent(t *testing.T) {
	b := newAdsBed(t)
	ctx := context.Background()
	for _, c := range []models.Contact{
		{ID: "a", Email: "Mary.Ann+ads@gmail.com", Traits: map[string]any{"ads_consent": true}},
		{ID: "b", Phone: "+44 20 7946 0018", Traits: map[string]any{}},
		{ID: "c", Email: "c@example.com", Traits: map[string]any{"ads_consent": false}},
	} {
		c.LifecycleStage = models.StageSubscriber
		if err := b.store.SaveContact(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	req := workflows.AudienceSyncRequest{Key: "new_subscriber/google/555", Segment: "new_subscriber", Platform: "google", AudienceID: "555", ConsentDefault: true}
	res, _, err := b.sync(t, req)
	if err != nil || res.Added != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	reqs := b.google.RequestsTo("audienceMembers:ingest")
	if len(reqs) != 1 {
		t.Fatalf("%d ingest requests", len(reqs))
	}
	var body struct {
		AudienceMembers []struct {
			UserData struct {
				UserIdentifiers []map[string]string `json:"userIdentifiers"`
			} `json:"userData"`
			Consent map[string]string `json:"consent"`
		} `json:"audienceMembers"`
		Consent map[string]string `json:"consent"`
	}
	if err := reqs[0].DecodeJSON(&body); err != nil {
		t.Fatal(err)
	}
	email, _ := audience.Google.HashEmail("maryann@gmail.com")
	phone, _ := audience.Google.HashPhone("+442079460018")
	ms := body.AudienceMembers
	if len(ms) != 2 || body.Consent != nil ||
		ms[0].UserData.UserIdentifiers[0]["emailAddress"] != email || ms[0].Consent["adUserData"] != "CONSENT_GRANTED" || ms[0].Consent["adPersonalization"] != "CONSENT_GRANTED" ||
		ms[1].UserData.UserIdentifiers[0]["phoneNumber"] != phone || ms[1].Consent != nil {
		t.Errorf("ingest body %+v", body)
	}
	// b now says yes: Google is told again, with consent.
	if err := b.store.SetTraits(ctx, "b", map[string]any{"ads_consent": true}); err != nil {
		t.Fatal(err)
	}
	if res, _, err = b.sync(t, req); err != nil || res.Added != 1 || res.Removed != 0 {
		t.Errorf("after b consented: %+v, %v", res, err)
	}
	if got := b.google.List("555"); len(got) != 2 {
		t.Errorf("list %v", got)
	}
}
