package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Lifecycle stages, in funnel order.
const (
	StageSubscriber = "subscriber"
	StageLead       = "lead"
	StageMQL        = "mql"
	StageSQL        = "sql"
	StageTrial      = "trial"
	StageCustomer   = "customer"
	StageChurned    = "churned"
)

var stageOrder = []string{StageSubscriber, StageLead, StageMQL, StageSQL, StageTrial, StageCustomer}

// before reports whether stage a comes earlier in the funnel than b.
// Churned stands apart: a churned contact can come back as anything.
func before(a, b string) bool {
	return a == StageChurned || slices.Index(stageOrder, a) < slices.Index(stageOrder, b)
}

// stageFor is where an event moves a contact in the funnel, or "" if it
// does not move it. Stages only move forward, except churn and win-back
// from churn. Leads are a B2B idea: a shopper who signs up stays a
// subscriber until they buy.
func stageFor(ev Event, traits map[string]any) string {
	switch ev.Action() {
	case EventSignedUp:
		if isB2B(ev, traits) {
			return StageLead
		}
	case EventDemoRequested, EventContentDownloaded:
		return StageLead
	case EventLeadAccepted:
		return StageSQL
	case EventTrialStarted:
		return StageTrial
	case EventOrderCompleted, EventSubscriptionStarted:
		return StageCustomer
	case EventSubscriptionCancelled:
		return StageChurned
	}
	if ev.Kind == KindIdentify && (traitString(ev.Traits, "title") != "" || ev.Traits["company"] != nil) {
		return StageLead // told us who they are at work
	}
	return ""
}

// isEngagement reports whether an event shows a contact run of version
// paying attention: an open, a click or a page view, and from version 5 an
// in-app message read or clicked. The engagement clock runs from the last one.
func isEngagement(ev Event, version int) bool {
	if version >= 5 && (ev.Is(EventInAppRead) || ev.Is(EventInAppClicked)) {
		return true
	}
	return ev.Kind == KindPage || ev.Is(EventEmailOpened) || ev.Is(EventEmailClicked)
}

// lifecycle scores an event, moves the stage, and hands the lead to sales
// the first time its score crosses the MQL threshold. It returns the events
// ContactWorkflow makes itself in answer (Became Lead, Lead Handed Off), to
// route like the contact's own.
func (c *contact) lifecycle(ctx workflow.Context, ev Event, s Settings) []Event {
	now := workflow.Now(ctx)
	if isEngagement(ev, c.Version) || c.LastEngagedAt.IsZero() {
		c.LastEngagedAt, c.Decays, c.Lapsed = now, 0, false
	}
	changes := c.score(ev, now, s.ICP)
	oldStage := c.Stage
	if next := stageFor(ev, c.Traits); next != "" && (before(c.Stage, next) || next == StageChurned) {
		c.Stage = next
	}
	made := c.settle(ctx, changes, oldStage, describe(ev), now, s)
	c.alert(ctx, ev, oldStage, now)
	return made
}

// settle follows a change of score or stage (why says what caused it): it
// records it, makes a new lead's Became Lead, and hands the lead to sales
// the first time the score crosses the MQL threshold.
func (c *contact) settle(ctx workflow.Context, changes []ScoreChange, oldStage, why string, now time.Time, s Settings) []Event {
	var made []Event
	if c.Stage == StageLead && oldStage == StageSubscriber {
		made = append(made, c.internal(ctx, EventBecameLead, map[string]any{"via": why}))
	}
	reason := why
	if c.MQLAt == nil && c.LeadScore >= s.MQLThreshold && before(c.Stage, StageMQL) {
		c.Stage = StageMQL
		c.MQLAt = &now
		reason = fmt.Sprintf("lead score %d reached the MQL threshold %d", c.LeadScore, s.MQLThreshold)
	}
	if len(changes) > 0 || c.Stage != oldStage {
		c.record(ctx, changes, reason, now)
	}
	if c.Stage == StageMQL && oldStage != StageMQL {
		if h, ok := c.handOff(ctx, now); ok {
			made = append(made, c.internal(ctx, EventHandedOff, map[string]any{"task_id": h.TaskID, "rep": h.RepName}))
		}
	}
	return made
}

// record writes the score changes to the ledger and the contact's row, and
// shows the score and stage in the Temporal UI.
func (c *contact) record(ctx workflow.Context, changes []ScoreChange, why string, now time.Time) {
	c.Breakdown = addBreakdown(c.Breakdown, changes)
	err := workflow.ExecuteLocalActivity(localOptions(ctx, "record score"), RecordScoreActivity,
		ScoreUpdate{ContactID: c.ContactID, Changes: changes, Score: c.LeadScore, Stage: c.Stage, StageReason: why, At: now}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Error("could not record the score", "error", err)
	}
	c.upsertAttributes(ctx)
}

// handOff gives an MQL an owner and a sales task, and tells the rep in Slack.
func (c *contact) handOff(ctx workflow.Context, now time.Time) (Handoff, bool) {
	actx := workflow.WithActivityOptions(ctx, contactActivity("hand off to sales"))
	var h Handoff
	err := workflow.ExecuteActivity(actx, HandOffLeadActivity, HandoffRequest{
		ContactID: c.ContactID, Score: c.LeadScore, Breakdown: c.Breakdown, RecentEvents: c.RecentNames, At: now,
	}).Get(ctx, &h)
	if err != nil {
		workflow.GetLogger(ctx).Error("could not hand the lead to sales", "error", err)
		return h, false
	}
	c.Owner, c.TaskID = h.RepName, h.TaskID
	c.slack(ctx, SlackMQL, h.RepSlackID, SlackData{TaskID: h.TaskID, Breakdown: c.Breakdown, RecentEvents: c.RecentNames, Rep: h.RepName}, now)
	return h, true
}

// alert sends the internal Slack alerts an event calls for: a lead on the
// pricing page (to the owner, at most once a day) and free to trial (to the
// sales channel).
func (c *contact) alert(ctx workflow.Context, ev Event, oldStage string, now time.Time) {
	today := now.UTC().Format(time.DateOnly)
	if isPricingPage(c, ev) && c.AlertedOn[SlackPricing] != today && before(c.Stage, StageCustomer) {
		c.AlertedOn[SlackPricing] = today
		c.slack(ctx, SlackPricing, "", SlackData{URL: ev.Property("url"), Path: ev.Property("path")}, now)
	}
	if c.Stage == StageTrial && oldStage != StageTrial {
		c.slack(ctx, SlackTrial, "", SlackData{FromStage: oldStage}, now)
	}
}

func (c *contact) slack(ctx workflow.Context, kind, to string, data SlackData, now time.Time) {
	actx := workflow.WithActivityOptions(ctx, contactActivity("slack: "+kind))
	key := fmt.Sprintf("%s/slack/%s/%s", ContactWorkflowID(c.ContactID), kind, now.UTC().Format(time.RFC3339Nano))
	req := SlackRequest{Key: key, ContactID: c.ContactID, Kind: kind, To: to, Data: data, At: now}
	if err := workflow.ExecuteActivity(actx, SendSlackActivity, req).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("slack alert not sent", "kind", kind, "error", err)
	}
}

// internal makes an event of ContactWorkflow's own, with a message ID that
// is the same on replay.
func (c *contact) internal(ctx workflow.Context, name string, props map[string]any) Event {
	now := workflow.Now(ctx)
	return Event{
		MessageID: fmt.Sprintf("nudge/%s/%s/%d", c.ContactID, name, now.UnixNano()),
		Kind:      KindTrack, Name: name, Properties: props, Timestamp: now,
	}
}

// nextClock is when the engagement clock must next look: the next stretch
// of silence that costs points, or the start of win-back.
func (c *contact) nextClock(s Settings) time.Time {
	next := c.LastEngagedAt.Add(time.Duration(c.Decays+1) * s.ScoreDecayAfter)
	if lapse := c.LastEngagedAt.Add(s.WinbackAfter); !c.Lapsed && lapse.Before(next) {
		next = lapse
	}
	return next
}

// tick runs when the engagement clock fires: it takes the inactivity points
// due and, after the win-back window, makes the Engagement Lapsed event
// that starts the win-back journey.
func (c *contact) tick(ctx workflow.Context, s Settings) []Event {
	now := workflow.Now(ctx)
	silence := now.Sub(c.LastEngagedAt)
	var changes []ScoreChange
	for silence >= time.Duration(c.Decays+1)*s.ScoreDecayAfter {
		c.Decays++
		changes = append(changes, c.decay(int(time.Duration(c.Decays)*s.ScoreDecayAfter/Day))...)
	}
	if len(changes) > 0 {
		c.record(ctx, changes, "inactivity", now)
	}
	if !c.Lapsed && silence >= s.WinbackAfter {
		c.Lapsed = true
		return []Event{c.internal(ctx, EventEngagementLapsed, map[string]any{"days_silent": int(silence / Day)})}
	}
	return nil
}

func addBreakdown(b []ScoreChange, changes []ScoreChange) []ScoreChange {
	for _, ch := range changes {
		i := slices.IndexFunc(b, func(x ScoreChange) bool { return x.Rule == ch.Rule })
		if i < 0 {
			b = append(b, ScoreChange{Rule: ch.Rule, Points: ch.Points, Reason: ch.Reason})
			continue
		}
		b[i].Points += ch.Points
	}
	return b
}

// contactActivity bounds the activities ContactWorkflow runs itself: while
// one runs, the contact's events wait, so a failing handoff or alert gives
// up after a few minutes (and says so in the log) rather than hold them.
func contactActivity(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 5 * time.Minute, HeartbeatTimeout: 15 * time.Second, Summary: summary,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	}
}

func localOptions(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, localActivityOptions(summary))
}
