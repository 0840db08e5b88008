package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"
)

func init() {
	register(Journey{
		Name:     "nurture",
		Workflow: Nurture,
		Starts:   func(ev Event, _ map[string]any) bool { return ev.Is(EventBecameLead) },
		// For leads, not for trial users or customers.
		ForStages: []string{StageLead, StageMQL},
		Reentry:   EnterOnce,
		// Converting ends it: a demo, a trial, a purchase, or a rep taking
		// the lead on.
		Goals:    []string{EventDemoRequested, EventTrialStarted, EventOrderCompleted, EventSubscriptionStarted, EventLeadAccepted},
		Converts: []string{EventDemoRequested, EventTrialStarted, EventOrderCompleted, EventSubscriptionStarted, EventLeadAccepted},
		Waits: []string{EventEmailOpened, EventEmailClicked, EventHandedOff, EventSalesTaskClosed,
			EventInAppRead, EventInAppClicked},
		// A visit to the site is engagement too (runs from version 4).
		WaitsFrom4: []string{EventPageViewed},
		// So is reading or clicking an in-app message (runs from version 5).
		Since: map[string]int{EventInAppRead: 5, EventInAppClicked: 5},
	})
}

// The drip, from the top of the funnel to the bottom. Each stage is a
// template (templates/email/nurture/<stage>) that carries a piece from the
// content catalog (templates/content/nurture.json), picked for the lead's
// favourite topic.
var nurturePlan = []string{"educational", "educational", "use_case", "roi", "case_study", "comparison", "demo", "trial"}

// A click on a link tagged "pricing" moves the lead to this track.
var pricingTrack = []string{"pricing", "roi", "demo", "trial"}

// Nurture keeps a lead warm until they are ready to buy: useful content every
// few days (NUDGE_NURTURE_CADENCE), moving from education to proof to the
// offer, and following what the lead reads. It pauses while a sales rep has
// the lead, and stops for a lead who has stopped engaging: no open, click,
// site visit or in-app read across several emails (opens alone miss
// readers whose mail client blocks images; runs before version 4 counted
// opens only, before version 5 no in-app reads or clicks).
func Nurture(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	s := in.Settings
	plan, onPricing := nurturePlan, false
	var sent []string          // catalog pieces already sent
	engaged, unengaged := 0, 0 // engagements so far; emails sent since the last one

	// A lead who signed up is in the welcome series first; the drip starts
	// when it is over.
	if in.Trigger.Property("via") == EventSignedUp {
		j.WaitUntil(welcomeLength)
	}

	for step := 0; step < len(plan); step++ {
		// Every few days, the first one too: a new lead has a welcome to read.
		j.Wait(s.NurtureCadence, "the next email")

		// A rep has the lead: hold the drip until the task is closed.
		j.Hold("while a sales rep has the lead", func() bool {
			return j.Count(EventHandedOff) <= j.Count(EventSalesTaskClosed)
		})

		// A click on pricing: from here on, the pricing track.
		if !onPricing && clickedTag(j, "pricing") {
			onPricing = true
			plan = append(slices.Clone(plan[:step]), pricingTrack...)
			j.Note("clicked a pricing link: moved to the pricing track")
		}

		// No engagement for several emails in a row: stop writing.
		if n := nurtureEngagement(j); n > engaged {
			engaged, unengaged = n, 0
		}
		if unengaged >= s.NurtureMaxUnopened {
			switch {
			case in.Version >= 5:
				j.Exit(fmt.Sprintf("no opens, clicks, visits or in-app reads since the last %d nurture emails: stopping", unengaged))
			case in.Version >= 4:
				j.Exit(fmt.Sprintf("no opens, clicks or visits since the last %d nurture emails: stopping", unengaged))
			default:
				j.Exit(fmt.Sprintf("no opens in the last %d nurture emails: stopping", unengaged))
			}
			break
		}

		stage := plan[step]
		res := j.Email(fmt.Sprintf("%d_%s", step+1, stage), Template(stage),
			WithContent(stage, favoriteTopic(j), sent))
		if res.Content != "" {
			sent = append(sent, res.Content)
		}
		if res.Status == StatusSent || res.Status == StatusRecorded {
			unengaged++
		}
	}
	return j.End()
}

// clickedTag reports whether the lead clicked a link with this tag.
func clickedTag(j *Run, tag string) bool {
	return slices.ContainsFunc(j.Events(), func(ev Event) bool {
		return ev.Is(EventEmailClicked) && ev.Property("tag") == tag
	})
}

// nurtureEngagement counts what shows the lead still reads: opens of this
// journey's emails, from version 4 their clicks and site visits too, and
// from version 5 in-app messages read or clicked. Nurture puts nothing in
// the inbox, so any in-app message counts, as any visit does: the lead is
// in the product.
func nurtureEngagement(j *Run) int {
	n := 0
	for _, ev := range j.Events() {
		ours := ev.Property("journey") == j.Journey().Name
		switch {
		case ev.Is(EventEmailOpened) && ours:
			n++
		case j.Input().Version >= 4 && (ev.Is(EventEmailClicked) && ours || ev.Action() == EventPageViewed):
			n++
		case j.Input().Version >= 5 && (ev.Is(EventInAppRead) || ev.Is(EventInAppClicked)):
			n++
		}
	}
	return n
}

// favoriteTopic is the topic the lead opened or clicked most, once at least
// twice; "" until then. Ties go to the topic engaged with first.
func favoriteTopic(j *Run) string {
	var order []string
	count := map[string]int{}
	for _, ev := range j.Events() {
		topic := ev.Property("topic")
		if topic == "" || !(ev.Is(EventEmailOpened) || ev.Is(EventEmailClicked)) {
			continue
		}
		if count[topic] == 0 {
			order = append(order, topic)
		}
		count[topic]++
	}
	best := ""
	for _, t := range order {
		if count[t] >= 2 && count[t] > count[best] {
			best = t
		}
	}
	return best
}
