package worker_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/worker"
	"github.com/nudgehq/nudge/workflows"
)

// The mutation tests prove that the recorded histories guard every step of
// every journey: a copy of the journey, registered under its workflow type
// in place of the real one, replays each history cleanly as copied, and
// fails once one step is removed, added or moved, with the error naming
// the step. If one of these replays passed, contacts in flight could be
// hurt by that edit without `make test` noticing.

// mutation is how a journey copy differs from the journey.
type mutation string

const (
	asIs    mutation = ""
	remove  mutation = "remove"
	add     mutation = "add"
	reorder mutation = "reorder"
	// removeHold, for nurture: no hold while a rep has the lead.
	removeHold mutation = "remove hold"
)

const day = workflows.Day

// welcomeEcommerce is workflows.WelcomeEcommerce. remove: no brand story.
// add: a survey after the last email. reorder: brand story and still
// thinking swapped (same kind of step: only the step check sees it).
func welcomeEcommerce(m mutation) any {
	return func(ctx workflow.Context, in workflows.JourneyInput) error {
		j := workflows.Begin(ctx, in)
		discount := workflows.WithDiscount(j.DiscountCode(10), 10)
		j.Email("welcome", discount)
		j.WaitUntil(2 * day)
		switch m {
		case remove:
		case reorder:
			j.Email("still_thinking", discount)
		default:
			j.Email("brand_story")
		}
		j.WaitUntil(5 * day)
		if m == reorder {
			j.Email("brand_story")
		} else {
			j.Email("still_thinking", discount)
		}
		if m == add {
			j.Email("survey")
		}
		return j.End()
	}
}

// welcomeB2B is workflows.WelcomeB2B. remove: no day-10 case study. add: a
// webinar invitation after the quick win. reorder: the feature highlight
// before the day-7 wait instead of after it.
func welcomeB2B(m mutation) any {
	return func(ctx workflow.Context, in workflows.JourneyInput) error {
		j := workflows.Begin(ctx, in)
		j.Email("welcome")
		if in.Version >= 5 {
			j.InApp("getting_started", workflows.InAppExpires(14*day))
		}
		j.WaitUntil(1 * day)
		j.Email("quick_win")
		if m == add {
			j.Email("webinar")
		}
		j.WaitUntil(3 * day)
		if j.Received(workflows.EventSetupCompleted) {
			j.Email("next_milestone")
		} else {
			j.Email("finish_setup")
		}
		if m == reorder {
			j.Email("feature_highlight")
			j.WaitUntil(7 * day)
		} else {
			j.WaitUntil(7 * day)
			j.Email("feature_highlight")
		}
		if m != remove {
			j.WaitUntil(10 * day)
			j.Email("case_study")
		}
		j.WaitUntil(14 * day)
		j.Email("check_in", workflows.FromOwner())
		return j.End()
	}
}

// abandonedCart is workflows.AbandonedCart. remove: no social proof. add:
// a last reminder after the incentive. reorder: the cart recorded after
// the first reminder instead of before it.
func abandonedCart(m mutation) any {
	return func(ctx workflow.Context, in workflows.JourneyInput) error {
		j := workflows.Begin(ctx, in)
		s := in.Settings
		j.WaitUntil(time.Hour)
		record := func() {
			j.Step(workflows.RecordCartActivity, "record abandoned cart", workflows.CartRequest{ContactID: in.ContactID, CheckoutID: in.Key, At: workflow.Now(ctx)}, nil)
		}
		if m == reorder {
			j.Email("reminder")
			record()
		} else {
			record()
			j.Email("reminder")
		}
		j.WaitUntil(24 * time.Hour)
		if m != remove {
			j.Email("social_proof")
		}
		ev, _ := j.Latest(workflows.EventCheckoutStarted)
		if ev.Cart().Value >= s.CartSMSThreshold {
			j.SMS("reminder")
		}
		j.WaitUntil(72 * time.Hour)
		switch s.CartIncentive {
		case workflows.IncentiveFreeShipping:
			j.Email("incentive")
		case workflows.IncentiveDiscount:
			code := j.DiscountCode(s.CartDiscountPercent)
			j.Email("incentive", workflows.WithDiscount(code, s.CartDiscountPercent))
		}
		if m == add {
			j.Email("last_chance")
		}
		return j.End()
	}
}

// postPurchase is workflows.PostPurchase. remove: no review request. add:
// a replenishment reminder on day 45. reorder: cross-sell and loyalty
// swapped.
func postPurchase(m mutation) any {
	return func(ctx workflow.Context, in workflows.JourneyInput) error {
		j := workflows.Begin(ctx, in)
		j.Email("confirmation", workflows.Transactional())
		j.WaitFor(workflows.EventOrderShipped, 2*day)
		j.Email("shipping", workflows.Transactional())
		if j.WaitFor(workflows.EventOrderDelivered, j.Until(11*day)) && m != remove {
			j.WaitAfter(workflows.EventOrderDelivered, 3*day)
			j.Email("review_request")
		}
		first, second := "cross_sell", "loyalty"
		if m == reorder {
			first, second = second, first
		}
		j.WaitUntil(14 * day)
		j.Email(first)
		j.WaitUntil(30 * day)
		j.Email(second)
		if m == add {
			j.WaitUntil(45 * day)
			j.Email("replenish")
		}
		return j.End()
	}
}

// nurture is workflows.Nurture. remove: no welcome wait for a lead who
// signed up. removeHold: no hold while a rep has the lead. add: a last email after the drip. reorder:
// use cases before the second educational email.
func nurture(m mutation) any {
	return func(ctx workflow.Context, in workflows.JourneyInput) error {
		j := workflows.Begin(ctx, in)
		s := in.Settings
		plan := []string{"educational", "educational", "use_case", "roi", "case_study", "comparison", "demo", "trial"}
		if m == reorder {
			plan[1], plan[2] = plan[2], plan[1]
		}
		onPricing, opens, unopened := false, 0, 0
		if in.Trigger.Property("via") == workflows.EventSignedUp && m != remove {
			j.WaitUntil(14 * day)
		}
		for step := 0; step < len(plan); step++ {
			j.Wait(s.NurtureCadence, "the next email")
			if m != removeHold {
				j.Hold("while a sales rep has the lead", func() bool {
					return j.Count(workflows.EventHandedOff) <= j.Count(workflows.EventSalesTaskClosed)
				})
			}
			if !onPricing && clicked(j, "pricing") {
				onPricing = true
				plan = append(plan[:step:step], "pricing", "roi", "demo", "trial")
			}
			if n := nurtureOpens(j); n > opens {
				opens, unopened = n, 0
			}
			if unopened >= s.NurtureMaxUnopened {
				break
			}
			res := j.Email(fmt.Sprintf("%d_%s", step+1, plan[step]), workflows.Template(plan[step]))
			if res.Status == workflows.StatusSent || res.Status == workflows.StatusRecorded {
				unopened++
			}
		}
		if m == add {
			j.Email("goodbye")
		}
		return j.End()
	}
}

func clicked(j *workflows.Run, tag string) bool {
	for _, ev := range j.Events() {
		if ev.Is(workflows.EventEmailClicked) && ev.Property("tag") == tag {
			return true
		}
	}
	return false
}

func nurtureOpens(j *workflows.Run) int {
	n := 0
	for _, ev := range j.Events() {
		if ev.Is(workflows.EventEmailOpened) && ev.Property("journey") == "nurture" {
			n++
		}
	}
	return n
}

// winBack is workflows.WinBack. remove: no second email. add: a survey
// right after the last email. reorder: the last email's discount code
// made after it instead of before.
func winBack(m mutation) any {
	return func(ctx workflow.Context, in workflows.JourneyInput) error {
		j := workflows.Begin(ctx, in)
		j.Email("we_miss_you")
		j.WaitUntil(7 * day)
		if m != remove {
			j.Email("what_would_help")
		}
		j.WaitUntil(14 * day)
		if m == reorder {
			j.Email("last_email")
			j.DiscountCode(20)
		} else {
			j.Email("last_email", workflows.WithDiscount(j.DiscountCode(20), 20))
		}
		if m == add {
			j.Email("survey")
		}
		j.WaitUntil(21 * day)
		if anyOf(j, workflows.EventEmailOpened, workflows.EventEmailClicked, workflows.EventPageViewed) {
			return j.End() // a goal reached: the run stopped its steps
		}
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second, Summary: "mark unengaged"})
		if err := workflow.ExecuteLocalActivity(lctx, workflows.MarkUnengagedActivity, workflows.ContactRequest{ContactID: in.ContactID}).Get(lctx, nil); err != nil {
			return err
		}
		return j.End()
	}
}

func anyOf(j *workflows.Run, names ...string) bool {
	for _, n := range names {
		if j.Count(n) > 0 {
			return true
		}
	}
	return false
}

var journeyCopies = map[string]func(mutation) any{
	"welcome_ecommerce": welcomeEcommerce,
	"welcome_b2b":       welcomeB2B,
	"abandoned_cart":    abandonedCart,
	"post_purchase":     postPurchase,
	"nurture":           nurture,
	"winback":           winBack,
}

// replayWith replays a recorded history with journey registered as fn
// (or the real workflows when journey is ""), and extra interceptors.
func replayWith(t *testing.T, file, journey string, fn any, extra ...interceptor.WorkerInterceptor) error {
	t.Helper()
	router := &workflows.Router{Enabled: workflows.JourneyNames(), Settings: workflows.DefaultSettings()}
	r := &worker.Replayer{Router: router, Interceptors: extra}
	if journey != "" {
		r.Register = func(reg sdkworker.WorkflowRegistry) {
			worker.RegisterWorkflows(replacing{reg, journey}, router)
			reg.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: journey})
		}
	}
	return r.Replay(loadHistory(t, filepath.Join("testdata", "histories", file)), workflow.Execution{})
}

// replacing registers every workflow but the one named skip, which the
// caller registers its own copy of.
type replacing struct {
	sdkworker.WorkflowRegistry
	skip string
}

func (r replacing) RegisterWorkflowWithOptions(w any, opts workflow.RegisterOptions) {
	if opts.Name != r.skip {
		r.WorkflowRegistry.RegisterWorkflowWithOptions(w, opts)
	}
}

// Each copy, unchanged, replays every history of its journey: a failure
// below is the mutation's doing, not the copy's.
func TestJourneyCopiesReplay(t *testing.T) {
	for name, copyOf := range journeyCopies {
		files, _ := filepath.Glob(filepath.Join("testdata", "histories", name+"_*.json"))
		if len(files) == 0 {
			t.Fatalf("no histories for %s", name)
		}
		for _, f := range files {
			if err := replayWith(t, filepath.Base(f), name, copyOf(asIs)); err != nil {
				t.Errorf("%s, copied as is: %v", filepath.Base(f), err)
			}
		}
	}
}

// lookupFailed is how the SDK reports a history whose activity the code no
// longer schedules at that point (it meets the activity's completion with
// no activity of that ID).
func lookupFailed(id int) string {
	return fmt.Sprintf("[TMPRL1100] lookup failed for scheduledEventID to activityID: scheduleEventID: %d, activityID: %d", id, id)
}

// expected is how the SDK reports a recorded command the code no longer
// gives at that point (kind: Timer, Signal, Activity ...).
func expected(kind string, position int) string {
	return fmt.Sprintf("[TMPRL1100] During replay, a matching %s command was expected in history event position %d. "+
		"However, the replayed code did not produce that.", kind, position)
}

func TestJourneyMutationsFailReplay(t *testing.T) {
	for _, tc := range []struct {
		journey string
		m       mutation
		file    string
		want    string // the error, or the part of it that names the step
	}{
		{"welcome_ecommerce", remove, "welcome_ecommerce_completed.v2.full.json", lookupFailed(18)},
		{"welcome_ecommerce", add, "welcome_ecommerce_completed.v2.full.json", expected("Signal", 37)},
		{"welcome_ecommerce", reorder, "welcome_ecommerce_completed.v2.full.json", "step changed: the run recorded activity SendEmail (email: welcome_ecommerce/brand_story) as activity #2; the code runs activity SendEmail (email: welcome_ecommerce/still_thinking) there"},

		{"welcome_b2b", remove, "welcome_b2b_setup_completed.v2.full.json", expected("Timer", 64)},
		{"welcome_b2b", remove, "welcome_b2b_setup_not_completed.v2.full.json", expected("Timer", 60)},
		{"welcome_b2b", add, "welcome_b2b_setup_completed.v2.full.json", expected("Timer", 28)},
		{"welcome_b2b", add, "welcome_b2b_setup_not_completed.v2.full.json", expected("Timer", 24)},
		{"welcome_b2b", reorder, "welcome_b2b_setup_completed.v2.full.json", expected("Timer", 40)},

		{"abandoned_cart", remove, "abandoned_cart_sms_free_shipping.v2.full.json", lookupFailed(24)},
		{"abandoned_cart", remove, "abandoned_cart_discount.v2.full.json", lookupFailed(24)},
		{"abandoned_cart", add, "abandoned_cart_sms_free_shipping.v2.full.json", expected("Signal", 50)},
		{"abandoned_cart", add, "abandoned_cart_discount.v2.full.json", "[TMPRL1100] nondeterministic workflow: history event is UpsertWorkflowSearchAttributes"},
		{"abandoned_cart", reorder, "abandoned_cart_sms_free_shipping.v2.full.json", lookupFailed(12)},

		{"post_purchase", remove, "post_purchase_delivered.v2.full.json", expected("Timer", 62)},
		{"post_purchase", add, "post_purchase_delivered.v2.full.json", expected("Signal", 74)},
		{"post_purchase", add, "post_purchase_not_delivered.v2.full.json", expected("Signal", 54)},
		{"post_purchase", reorder, "post_purchase_delivered.v2.full.json", "step changed: the run recorded activity SendEmail (email: post_purchase/cross_sell) as activity #4; the code runs activity SendEmail (email: post_purchase/loyalty) there"},

		{"nurture", remove, "nurture_unopened.v2.full.json", expected("Timer", 12)},
		{"nurture", removeHold, "nurture_pricing_track_handed_off.v2.full.json", lookupFailed(33)},
		{"nurture", add, "nurture_pricing_track_handed_off.v2.full.json", expected("Signal", 105)},
		{"nurture", add, "nurture_unopened.v2.full.json", expected("Signal", 54)},
		{"nurture", reorder, "nurture_unopened.v2.full.json", "step changed: the run recorded activity SendEmail (email: nurture/educational) as activity #2; the code runs activity SendEmail (email: nurture/use_case) there"},

		{"winback", remove, "winback_unengaged.v2.full.json", lookupFailed(17)},
		{"winback", add, "winback_unengaged.v2.full.json", expected("Timer", 37)},
		{"winback", reorder, "winback_unengaged.v2.full.json", lookupFailed(30)},
	} {
		t.Run(fmt.Sprintf("%s/%s/%s", tc.journey, tc.m, tc.file), func(t *testing.T) {
			err := replayWith(t, tc.file, tc.journey, journeyCopies[tc.journey](tc.m))
			if err == nil {
				t.Fatalf("the %s copy replays %s: a %s step would go unnoticed", tc.m, tc.file, tc.m)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\ndoes not say\n%s", err, tc.want)
			}
			// Same-kind swaps get past Temporal's own check; the step check
			// catches them.
			if stepCheck := strings.HasPrefix(tc.want, "step changed"); stepCheck != errors.Is(err, worker.ErrStepChanged) {
				t.Fatalf("errors.Is(err, ErrStepChanged) = %v, want %v", !stepCheck, stepCheck)
			}
		})
	}
}

// contactMutation changes ContactWorkflow from outside, since a copy of it
// would be hundreds of lines: remove drops the pricing-page Slack alert;
// add sends a heads-up alert before the hand-off; reorder sends the MQL
// alert before the hand-off instead of after.
type contactMutation struct {
	interceptor.WorkerInterceptorBase
	m mutation
}

func (c *contactMutation) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != workflows.ContactWorkflowName {
		return next
	}
	return &contactMutationInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, m: c.m}
}

type contactMutationInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	m mutation
}

func (i *contactMutationInbound) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&contactMutationOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}, m: i.m})
}

type contactMutationOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	m        mutation
	mqlEarly bool
}

func (o *contactMutationOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	summary := workflow.GetActivityOptions(ctx).Summary
	done := func() workflow.Future {
		f, s := workflow.NewFuture(ctx)
		s.Set(nil, nil)
		return f
	}
	switch {
	case o.m == remove && summary == "slack: pricing":
		return done()
	case o.m == add && activityType == workflows.HandOffLeadActivity:
		_ = o.Next.ExecuteActivity(ctx, workflows.SendSlackActivity, workflows.SlackRequest{Kind: "heads-up"}).Get(ctx, nil)
	case o.m == reorder && activityType == workflows.HandOffLeadActivity:
		actx := workflow.WithActivityOptions(ctx, withSummary(workflow.GetActivityOptions(ctx), "slack: mql"))
		_ = o.Next.ExecuteActivity(actx, workflows.SendSlackActivity, workflows.SlackRequest{Kind: "mql"}).Get(ctx, nil)
		o.mqlEarly = true
	case o.m == reorder && o.mqlEarly && summary == "slack: mql":
		return done()
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func withSummary(opts workflow.ActivityOptions, summary string) workflow.ActivityOptions {
	opts.Summary = summary
	return opts
}

func TestContactMutationsFailReplay(t *testing.T) {
	const file = "contact_b2b_lifecycle.v2.full.json"
	if err := replayWith(t, file, "", nil); err != nil {
		t.Fatalf("the contact workflow as it is: %v", err)
	}
	for _, tc := range []struct {
		m    mutation
		want string
	}{
		{remove, lookupFailed(37)}, // event 37 is the pricing alert
		{add, expected("Signal", 61)},
		{reorder, "[TMPRL1100] nondeterministic workflow: history event is ActivityTaskScheduled: (ActivityId:49, ActivityType:(Name:HandOffLead)"},
	} {
		t.Run(string(tc.m), func(t *testing.T) {
			err := replayWith(t, file, "", nil, &contactMutation{m: tc.m})
			if err == nil {
				t.Fatalf("the contact workflow with a %s step replays %s", tc.m, file)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\ndoes not say\n%s", err, tc.want)
			}
		})
	}
}
