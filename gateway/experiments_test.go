package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var promotedAt = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

// experimentFixture is the cart experiment with, by arm:
//
//	free_shipping: f1, f2 converted ($60 and $40 orders), f3 completed, f4
//	               running: 4 recipients, 2 conversions (0.5), $100, $25
//	               per recipient.
//	discount:      d1 ($20 order), d2 converted, d3, d4 completed: 4, 2
//	               (0.5), $20, $5 per recipient.
//	holdout:       h1, h2 completed: 2, 0 (0.0), $0.
//
// Then free_shipping was promoted, and p1 came after (left out).
func experimentFixture(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	db := e.store.DB()
	day := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	ended := day.Add(time.Hour)
	for _, a := range []struct{ contact, arm, outcome string }{
		{"f1", workflows.IncentiveFreeShipping, workflows.OutcomeConverted}, {"f2", workflows.IncentiveFreeShipping, workflows.OutcomeConverted},
		{"f3", workflows.IncentiveFreeShipping, workflows.OutcomeCompleted}, {"f4", workflows.IncentiveFreeShipping, ""},
		{"d1", workflows.IncentiveDiscount, workflows.OutcomeConverted}, {"d2", workflows.IncentiveDiscount, workflows.OutcomeConverted},
		{"d3", workflows.IncentiveDiscount, workflows.OutcomeCompleted}, {"d4", workflows.IncentiveDiscount, workflows.OutcomeCompleted},
		{"h1", workflows.HoldoutArm, workflows.OutcomeCompleted}, {"h2", workflows.HoldoutArm, workflows.OutcomeCompleted},
	} {
		_, err := e.store.AssignExperiment(ctx, workflows.SplitRequest{Experiment: workflows.CartIncentiveExperiment, Journey: "abandoned_cart",
			ContactID: a.contact, RunID: "r-" + a.contact, Arms: workflows.CartIncentiveArms(), Hashed: a.arm, At: day})
		require.NoError(t, err)
		r := models.JourneyRun{RunID: "r-" + a.contact, Journey: "abandoned_cart", ContactID: a.contact, StartedAt: day, Outcome: a.outcome}
		if a.outcome != "" {
			r.EndedAt = &ended
		}
		require.NoError(t, db.Create(&r).Error)
	}
	for contact, total := range map[string]float64{"f1": 60, "f2": 40, "d1": 20} {
		m := models.Message{Key: "m-" + contact, ContactID: contact, Journey: "abandoned_cart", Step: "incentive", Channel: models.ChannelEmail,
			Status: workflows.StatusSent, RunID: "r-" + contact, Marketing: true, At: day}
		require.NoError(t, db.Create(&m).Error)
		require.NoError(t, db.Create(&models.Order{ID: "o-" + contact, OrderID: "o-" + contact, ContactID: contact, Total: total,
			Status: "completed", Journey: "abandoned_cart", MessageID: &m.ID, OrderedAt: ended}).Error)
	}
	_, err := e.store.PromoteExperiment(ctx, workflows.CartIncentiveExperiment, workflows.IncentiveFreeShipping, "admin", promotedAt)
	require.NoError(t, err)
	_, err = e.store.AssignExperiment(ctx, workflows.SplitRequest{Experiment: workflows.CartIncentiveExperiment, Journey: "abandoned_cart",
		ContactID: "p1", RunID: "r-p1", Arms: workflows.CartIncentiveArms(), Hashed: workflows.IncentiveDiscount, At: promotedAt})
	require.NoError(t, err)
}

// The lifts, worked by hand: each variant converts 0.5, the holdout 0.0,
// so the lift is 0.5 (no relative lift: the holdout's rate is 0). Unpooled
// SE = √(0.5·0.5/4 + 0·1/2) = √0.0625 = 0.25; 1.959964 · 0.25 = 0.489991,
// so the interval is [0.010009, 0.989991] (0.5 − 0.25·1.959964 is exact in binary: 0.010009003864986488). The variants tie: z = 0, p = 1,
// and free_shipping, listed first, leads.
func TestExperimentAPI(t *testing.T) {
	e := newEnv(t)
	experimentFixture(t, e)

	rec := e.do(http.MethodGet, "/v1/experiments/cart_incentive", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	lift := `{"absolute": 0.5, "relative": null, "ci95_low": 0.010009003864986488, "ci95_high": 0.9899909961350135}`
	assert.JSONEq(t, `{
		"experiment": "cart_incentive",
		"journey": "abandoned_cart",
		"weights": {"free_shipping": 45, "discount": 45, "holdout": 10},
		"arms": [
			{"arm": "free_shipping", "holdout": false, "recipients": 4, "conversions": 2, "conversion_rate": 0.5,
			 "revenue": 100, "revenue_per_recipient": 25, "lift_vs_holdout": `+lift+`, "p_value_vs_leader": null},
			{"arm": "discount", "holdout": false, "recipients": 4, "conversions": 2, "conversion_rate": 0.5,
			 "revenue": 20, "revenue_per_recipient": 5, "lift_vs_holdout": `+lift+`, "p_value_vs_leader": 1},
			{"arm": "holdout", "holdout": true, "recipients": 2, "conversions": 0, "conversion_rate": 0,
			 "revenue": 0, "revenue_per_recipient": 0, "lift_vs_holdout": null, "p_value_vs_leader": null}
		],
		"min_sample": 500,
		"leader": "free_shipping",
		"winner": null,
		"verdict": "no winner yet: every arm needs at least 500 recipients; free_shipping has 4",
		"promoted_winner": "free_shipping",
		"promoted_at": "2026-03-06T12:00:00Z",
		"promoted_by": "admin",
		"promoted_entrants": 1
	}`, rec.Body.String())

	// With min_sample 2 the sample is enough, but a tie wins nothing.
	rec = e.do(http.MethodGet, "/v1/experiments/cart_incentive?min_sample=2", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"verdict":"no winner: free_shipping does not beat discount at 95% (p = 1.000)"`)

	rec = e.do(http.MethodGet, "/v1/experiments/cart_incentive?min_sample=0", "", bearer(adminKey))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.JSONEq(t, `{"success": false, "error": "min_sample: want a positive whole number, got \"0\""}`, rec.Body.String())

	rec = e.do(http.MethodGet, "/v1/experiments/nope", "", bearer(adminKey))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.JSONEq(t, `{"success": false, "error": "no experiment \"nope\": an experiment is listed once a contact has reached its split"}`, rec.Body.String())

	rec = e.do(http.MethodGet, "/v1/experiments", "", bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `{"experiments":[{"experiment":"cart_incentive",`)
}

func TestExperimentPromoteAPI(t *testing.T) {
	e := newEnv(t)
	experimentFixture(t, e)

	rec := e.do(http.MethodPost, "/v1/experiments/cart_incentive/promote", `{"arm": "half_off"}`, bearer(adminKey))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.JSONEq(t, `{"success": false, "error": "arm: \"half_off\" is not a variant of cart_incentive (its variants: free_shipping, discount)"}`, rec.Body.String())

	rec = e.do(http.MethodPost, "/v1/experiments/cart_incentive/promote", `{"arm": "holdout"}`, bearer(adminKey))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `\"holdout\" is not a variant`)

	rec = e.do(http.MethodPost, "/v1/experiments/cart_incentive/promote", `{}`, bearer(adminKey))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.JSONEq(t, `{"success": false, "error": "arm: name the variant to promote, as {\"arm\": \"…\"}"}`, rec.Body.String())

	rec = e.do(http.MethodPost, "/v1/experiments/nope/promote", `{"arm": "a"}`, bearer(adminKey))
	assert.Equal(t, http.StatusNotFound, rec.Code)

	rec = e.do(http.MethodPost, "/v1/experiments/cart_incentive/promote", `{"arm": "discount"}`, bearer(adminKey))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"promoted_winner":"discount"`)
	ex, err := e.store.Experiment(context.Background(), workflows.CartIncentiveExperiment)
	require.NoError(t, err)
	assert.Equal(t, workflows.IncentiveDiscount, ex.Winner)
	assert.Equal(t, "admin", ex.PromotedBy)
}

func TestExperimentAPINeedsAdminKey(t *testing.T) {
	e := newEnv(t)
	experimentFixture(t, e)
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/experiments/cart_incentive", ""},
		{http.MethodGet, "/v1/experiments", ""},
		{http.MethodPost, "/v1/experiments/cart_incentive/promote", `{"arm": "discount"}`},
	} {
		rec := e.do(r.method, r.path, r.body)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s without a key", r.method, r.path)
		rec = e.do(r.method, r.path, r.body, bearer(writeKey))
		assert.Equal(t, http.StatusForbidden, rec.Code, "%s %s with a write key", r.method, r.path)
	}
	ex, err := e.store.Experiment(context.Background(), workflows.CartIncentiveExperiment)
	require.NoError(t, err)
	assert.Equal(t, workflows.IncentiveFreeShipping, ex.Winner, "nothing promoted without the admin key")
}

func TestDashboardExperiments(t *testing.T) {
	e := newEnv(t)
	cookie := e.signIn(t)
	rec := e.do(http.MethodGet, "/dashboard/experiments", "", cookie)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `data-experiments="none"`)

	experimentFixture(t, e)
	rec = e.do(http.MethodGet, "/dashboard/experiments", "", cookie)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	page := rec.Body.String()
	for _, want := range []string{
		`class="on">Experiments</a>`,
		`<div class="card" data-experiment="cart_incentive">`,
		`<tr data-arm="free_shipping"><td>free_shipping <span class="muted">leads</span> <span class="pass">promoted</span></td><td>45</td><td>4</td><td>2</td><td>50.0%</td><td>$25.00</td><td>&#43;50.0 pts</td><td>&#43;1.0 pts to &#43;99.0 pts</td><td>—</td></tr>`,
		`<tr data-arm="holdout"><td>holdout <span class="muted">(held out)</span></td><td>10</td><td>2</td><td>0</td><td>0.0%</td><td>$0.00</td><td>—</td><td>—</td><td>—</td></tr>`,
		`promoted: free_shipping</b> on 2026-03-06 12:00 (1 contacts since)`,
	} {
		assert.True(t, strings.Contains(page, want), "the page lacks %s", want)
	}
}
