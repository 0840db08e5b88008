package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

// An alias names one person's two IDs. An ID nobody used becomes a name of
// the other's contact, from any key. Two contacts with history are merged
// only with the admin key: from the write key the request is refused and
// nothing in it is stored.
func TestAliasCalls(t *testing.T) {
	e := newEnv(t)
	requireJSON(t, e.post("/v1/identify", `{"userId":"u1","messageId":"i-1","traits":{"email":"pat@example.com"}}`), http.StatusOK, okBody)

	requireJSON(t, e.post("/v1/alias", `{"previousId":"u1","userId":"app-77","messageId":"al-1"}`), http.StatusOK, okBody)
	requireJSON(t, e.post("/v1/track", `{"userId":"app-77","event":"Feature Used","messageId":"t-1"}`), http.StatusOK, okBody)
	evs := e.events(t)
	require.Len(t, evs, 2, "the alias itself is no event")
	assert.Equal(t, "u1", evs[1].ContactID, "the new ID reaches the contact it names")
	assert.Equal(t, int64(1), e.countContacts(t))

	requireJSON(t, e.post("/v1/alias", `{"userId":"app-77","messageId":"al-2"}`), http.StatusBadRequest,
		`{"success":false,"error":"previousId: required for an alias call: the ID the person had before (a userId or an anonymousId)","field":"previousId"}`)
	requireJSON(t, e.post("/v1/batch", `{"batch":[{"type":"alias","previousId":"u1","userId":" "}]}`), http.StatusBadRequest,
		`{"success":false,"error":"batch[0].userId: is blank; send a non-empty ID or leave the field out","field":"userId","index":0}`)

	requireJSON(t, e.post("/v1/track", `{"userId":"u2","event":"Signed Up","messageId":"t-2"}`), http.StatusOK, okBody)
	before := len(e.events(t))
	requireJSON(t, e.post("/v1/batch", `{"batch":[
		{"type":"track","userId":"u2","event":"Feature Used","messageId":"t-3"},
		{"type":"alias","previousId":"u2","userId":"u1","messageId":"al-3"}]}`), http.StatusForbidden,
		`{"success":false,"error":"alias: previousId \"u2\" and userId \"u1\" are two contacts with their own history; merging them takes the admin key, since the write key is public; nothing in the request was stored"}`)
	assert.Len(t, e.events(t), before, "nothing of the refused batch is stored")
	assert.Empty(t, e.contact(t, "u2").MergedInto)

	rec := e.do(http.MethodPost, "/v1/alias", `{"previousId":"u2","userId":"u1","messageId":"al-4"}`, "Content-Type: application/json", bearer(adminKey))
	requireJSON(t, rec, http.StatusOK, okBody)
	evs = e.events(t)[before:]
	require.Len(t, evs, 2)
	assert.Equal(t, []string{"u2", "u1"}, []string{evs[0].ContactID, evs[1].ContactID})
	assert.Equal(t, map[string]any{"into": "u1"}, evs[0].Properties)
	assert.Equal(t, map[string]any{"from": "u2"}, evs[1].Properties)
	signalled := map[string]string{}
	for _, c := range e.tc.calls() {
		for _, ev := range append(c.Events, c.Event) {
			if ev.Name == workflows.EventContactMerged {
				b, _ := json.Marshal(ev.Properties)
				signalled[c.WorkflowID] = string(b)
			}
		}
	}
	assert.Equal(t, map[string]string{
		workflows.ContactWorkflowID("u2"): `{"into":"u1"}`,
		workflows.ContactWorkflowID("u1"): `{"from":"u2"}`,
	}, signalled, "each contact's workflow hears of the merge")
	assert.Equal(t, "u1", e.contact(t, "u2").MergedInto)

	// Asked for by the merged ID, the contact API answers with the kept
	// contact and names the one merged into it.
	rec = e.do(http.MethodGet, "/v1/contacts/u2", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var body struct {
		Contact    models.Contact `json:"contact"`
		MergedFrom []string       `json:"merged_from"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, "u1", body.Contact.ID)
	assert.Equal(t, []string{"u2"}, body.MergedFrom)
	page := e.do(http.MethodGet, "/dashboard/contacts?q=u2", "", e.signIn(t))
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), "merged from <code>u2</code>")

	// A link mailed to the merged contact speaks for the person: its
	// unsubscribe stops the kept contact's mail, and an inbox token asked
	// for by the old ID is the kept contact's.
	rec = e.do(http.MethodPost, e.unsubscribePath("u2"), "List-Unsubscribe=One-Click", "Content-Type: application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotNil(t, e.contact(t, "u1").UnsubscribedAt, "the kept contact is unsubscribed")
	rec = e.do(http.MethodPost, "/v1/inbox/tokens", `{"contact_id":"u2","ttl":"1h"}`, bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"contact_id":"u1"`)
}

// A guest checks out under their email; when the same email becomes a
// Shopify customer, the guest's contact is theirs: named by the customer
// ID when the customer is new, merged into the customer's contact when
// both have history.
func TestShopifyGuestBecomesTheCustomer(t *testing.T) {
	ctx := context.Background()
	guestCheckout := func(e *env) string {
		body := edit(t, fixture(t, "checkouts_create.json"), func(m map[string]any) { delete(m, "customer") })
		requireJSON(t, e.shopify("checkouts/create", "wh-guest", body), http.StatusOK, okBody)
		guest, err := e.store.ResolveContact(ctx, "ana.lopez@example.com")
		require.NoError(t, err)
		return guest
	}
	customer := func(id string) string {
		return edit(t, fixture(t, "customers_create.json"), func(m map[string]any) {
			m["id"] = json.Number(id)
			m["email"] = "Ana.Lopez@example.com"
		})
	}

	t.Run("new customer", func(t *testing.T) {
		e := shopifyEnv(t)
		guest := guestCheckout(e)
		requireJSON(t, e.shopify("customers/create", "wh-cust", customer("9065422389463117")), http.StatusOK, okBody)
		id, err := e.store.ResolveContact(ctx, "9065422389463117")
		require.NoError(t, err)
		assert.Equal(t, guest, id, "the customer ID names the guest's contact")
		evs := e.events(t)
		assert.Equal(t, workflows.EventSignedUp, evs[len(evs)-1].Name)
		assert.Equal(t, guest, evs[len(evs)-1].ContactID, "the sign-up is the guest's contact's")
	})

	t.Run("customer with history", func(t *testing.T) {
		e := shopifyEnv(t)
		guest := guestCheckout(e)
		// An order as the customer first (another email on the account
		// then), so both contacts have history.
		order := edit(t, fixture(t, "orders_create.json"), func(m map[string]any) {
			m["email"] = "ana@work.example"
			m["customer"].(map[string]any)["email"] = "ana@work.example"
		})
		requireJSON(t, e.shopify("orders/create", "wh-order", order), http.StatusOK, okBody)
		requireJSON(t, e.shopify("customers/create", "wh-cust", customer("9065422389463117")), http.StatusOK, okBody)
		assert.Equal(t, "9065422389463117", e.contact(t, guest).MergedInto)
		var merged []string
		for _, ev := range e.events(t) {
			if ev.Name == workflows.EventContactMerged {
				merged = append(merged, ev.ContactID)
			}
		}
		assert.Equal(t, []string{guest, "9065422389463117"}, merged)
		id, err := e.store.ResolveContact(ctx, "ana.lopez@example.com")
		require.NoError(t, err)
		assert.Equal(t, "9065422389463117", id, "the guest's email names the customer now")
	})
}
