package workflows

import (
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Merging two contacts (models/merge.go decides and moves the rows). The
// store tells each contact's workflow with a Contact Merged event:
//
//   - the merged contact's hears {"into": kept}. It hands its running
//     journeys and what it knows of the lead to the kept contact's workflow
//     (a Handover signal), and from then on forwards every event and every
//     journey's end that still reaches it. Its journeys run on where they
//     are; they send to the kept contact (the send pipeline follows
//     Contact.MergedInto).
//   - the kept contact's hears {"from": merged}, which starts its workflow
//     if it had none, so the handover has somewhere to go. When the
//     Handover arrives it adopts the journeys it is not in, cancels the
//     merged contact's copy of those it is in (one welcome, not two), and
//     adds the merged contact's score, stage and engagement to its own.
//
// Neither kind of history has these events or signals before merging
// existed, so handling them needs no version.

// SignalHandover carries a Handover from a merged contact's workflow to the
// kept contact's.
const SignalHandover = "merge-handover"

// Handover is what a merged contact's workflow gives the kept contact's.
type Handover struct {
	From          string
	Running       []RunningJourney     `json:",omitempty"`
	Entered       map[string]time.Time `json:",omitempty"`
	Stage         string
	Breakdown     []ScoreChange   `json:",omitempty"`
	Scored        map[string]bool `json:",omitempty"`
	MQLAt         *time.Time      `json:",omitempty"`
	Owner         string          `json:",omitempty"`
	TaskID        uint64          `json:",omitempty"`
	LastEngagedAt time.Time       `json:",omitempty"`
}

// handoverTries bounds how long a merged contact's workflow keeps trying to
// reach the kept one's (whose first event may still be on its way): with
// the waits doubling from a second to at most ten minutes, about a day.
const handoverTries = 150

// mergedInto handles the merged side's Contact Merged: it hands everything
// over to the kept contact's workflow and becomes a forwarder.
func (c *contact) mergedInto(ctx workflow.Context, into string) {
	h := Handover{
		From: c.ContactID, Running: c.Running, Entered: c.Entered, Stage: c.Stage,
		Breakdown: c.Breakdown, Scored: c.Scored, MQLAt: c.MQLAt, Owner: c.Owner, TaskID: c.TaskID,
		LastEngagedAt: c.LastEngagedAt,
	}
	c.MergedInto = into
	if c.signalKept(ctx, SignalHandover, h) {
		c.Running = nil
		return
	}
	// Its journeys go on from here (they send to the kept contact all the
	// same) and the contact's events are still forwarded: only the
	// journeys' waits for events lose them.
	workflow.GetLogger(ctx).Error("merged contact: the kept contact's workflow could not be reached; the journeys stay with this one",
		"kept", into, "journeys", len(c.Running))
}

// signalKept signals the kept contact's workflow, trying again while it is
// not there yet. It reports whether the signal went.
func (c *contact) signalKept(ctx workflow.Context, name string, arg any) bool {
	wait := time.Second
	for try := 1; ; try++ {
		err := workflow.SignalExternalWorkflow(ctx, ContactWorkflowID(c.MergedInto), "", name, arg).Get(ctx, nil)
		if err == nil {
			return true
		}
		if try == handoverTries || ctx.Err() != nil {
			return false
		}
		if workflow.Sleep(ctx, wait) != nil {
			return false
		}
		wait = min(2*wait, 10*time.Minute)
	}
}

// adopt takes a merged contact's Handover.
func (c *contact) adopt(ctx workflow.Context, h Handover, sel workflow.Selector) {
	if c.MergedInto != "" {
		c.signalKept(ctx, SignalHandover, h) // merged on since: pass it along
		return
	}
	for _, run := range h.Running {
		if slices.ContainsFunc(c.Running, func(r RunningJourney) bool { return r.Journey == run.Journey && r.Key == run.Key }) {
			err := workflow.RequestCancelExternalWorkflow(ctx, run.WorkflowID, "").Get(ctx, nil)
			if err != nil {
				workflow.GetLogger(ctx).Info("merged contact's copy of a journey already over", "journey", run.WorkflowID, "error", err)
			}
			continue
		}
		c.Running = append(c.Running, run)
	}
	// Sorted: the order the map yields its keys in decides nothing.
	//workflowcheck:ignore
	for _, entry := range slices.Sorted(maps.Keys(h.Entered)) {
		if h.Entered[entry].After(c.Entered[entry]) {
			c.Entered[entry] = h.Entered[entry]
		}
	}
	if !c.scoring {
		return
	}
	now := workflow.Now(ctx)
	if h.LastEngagedAt.After(c.LastEngagedAt) {
		c.LastEngagedAt, c.Decays, c.Lapsed = h.LastEngagedAt, 0, false
	}
	// The merged contact's points count here, but a fit rule only once.
	var changes []ScoreChange
	for _, b := range h.Breakdown {
		if h.Scored[b.Rule] && c.Scored[b.Rule] {
			continue
		}
		if b.Points != 0 {
			changes = append(changes, ScoreChange{Rule: b.Rule, Points: b.Points, Reason: "from merged contact " + h.From + ": " + b.Reason})
			c.LeadScore += b.Points
		}
	}
	c.LeadScore = max(c.LeadScore, 0)
	//workflowcheck:ignore
	for _, rule := range slices.Sorted(maps.Keys(h.Scored)) {
		c.Scored[rule] = true
	}
	oldStage := c.Stage
	if h.Stage != StageChurned && before(c.Stage, h.Stage) {
		c.Stage = h.Stage
	}
	if c.MQLAt == nil && h.MQLAt != nil {
		// Already handed to sales as the merged contact: same rep, same task.
		c.MQLAt, c.Owner, c.TaskID = h.MQLAt, h.Owner, h.TaskID
	}
	// The merged contact's own stage came with its own hand-off: settle
	// hands off only for a threshold the points together cross.
	why := "merged with contact " + h.From
	merged := c.Stage
	made := c.settle(ctx, changes, merged, why, now, c.settings(ctx))
	if len(changes) == 0 && c.Stage == merged && merged != oldStage {
		c.record(ctx, nil, why, now)
	}
	for _, ev := range made {
		c.route(ctx, ev, sel)
	}
}

// forwardToKept passes an event that reached a merged contact on to the
// kept one.
func (c *contact) forwardToKept(ctx workflow.Context, ev Event) {
	if !c.signalKept(ctx, SignalEvent, ev) {
		workflow.GetLogger(ctx).Error("merged contact: event not forwarded; the kept contact's workflow could not be reached",
			"kept", c.MergedInto, "event", describe(ev))
	}
}
