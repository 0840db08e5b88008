package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

var kept = models.Contact{ID: "u-kept", Email: "maya.work@example.com", FirstName: "Maya", LifecycleStage: models.StageSubscriber}

// The merged contact's workflow hands its running journeys to the kept
// contact's (trying again while that one is not there yet), then forwards
// what still reaches it. Its journey runs on and mails the kept contact.
func TestMergedContactHandsOverAndForwards(t *testing.T) {
	h := welcomeHarness(t, maya, kept)
	r := newContactRun(t, h)
	keptID := workflows.ContactWorkflowID(kept.ID)
	var handovers []workflows.Handover
	var forwarded []string
	tries := 0
	h.env.OnSignalExternalWorkflow(mock.Anything, keptID, "", workflows.SignalHandover, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			if tries++; tries == 1 {
				return errors.New("workflow not found") // its first event is still on the way
			}
			handovers = append(handovers, arg.(workflows.Handover))
			return nil
		})
	h.env.OnSignalExternalWorkflow(mock.Anything, keptID, "", workflows.SignalEvent, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			forwarded = append(forwarded, arg.(workflows.Event).Action())
			return nil
		})

	var ended []string
	h.env.OnSignalExternalWorkflow(mock.Anything, keptID, "", workflows.SignalJourneyEnded, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			ended = append(ended, arg.(workflows.JourneyEnded).WorkflowID)
			return nil
		})

	r.send(0, signedUpShop)
	r.at(time.Hour, func() {
		// What the store does in the merge's transaction.
		require.NoError(t, h.store.DB().Model(&models.Contact{}).Where("id = ?", maya.ID).Update("merged_into", kept.ID).Error)
		h.env.SignalWorkflow(workflows.SignalEvent, workflows.Event{MessageID: "nudge:merged-x-from", Kind: workflows.KindTrack,
			Name: workflows.EventContactMerged, Properties: map[string]any{"into": kept.ID}, Timestamp: testStart.Add(time.Hour)})
	})
	r.send(2*hour, trackEvent(workflows.EventEmailOpened, nil, testStart.Add(2*hour)))
	r.queryAt(3 * hour)
	r.run(maya.ID, 10*24*hour)

	assert.Equal(t, 2, tries, "the first handover failed and was tried again")
	require.Len(t, handovers, 1)
	hv := handovers[0]
	assert.Equal(t, maya.ID, hv.From)
	require.Len(t, hv.Running, 1)
	assert.Equal(t, "journey/welcome_ecommerce/u-maya", hv.Running[0].WorkflowID)
	assert.Equal(t, []string{workflows.EventEmailOpened}, forwarded)
	assert.Equal(t, []string{"journey/welcome_ecommerce/u-maya"}, ended, "the journey's end reached the kept contact")
	st := r.states[3*hour]
	assert.Equal(t, kept.ID, st.MergedInto)
	assert.Empty(t, st.Running, "its journeys are the kept contact's now")

	// The journey went on; its later emails went to the kept contact.
	var msgs []models.Message
	require.NoError(t, h.store.DB().Where("journey = ?", "welcome_ecommerce").Order("id").Find(&msgs).Error)
	require.Greater(t, len(msgs), 1)
	assert.Equal(t, maya.ID, msgs[0].ContactID, "the welcome went before the merge")
	for _, m := range msgs[1:] {
		assert.Equal(t, kept.ID, m.ContactID, "%s after the merge", m.Step)
		assert.Equal(t, `"Maya" <maya.work@example.com>`, m.To, "%s after the merge", m.Step)
	}
}

// The kept contact's workflow adopts the journeys it is not in, cancels
// the merged contact's copy of one it is in, and adds the merged contact's
// points (a fit rule once): together they cross the MQL threshold, which
// hands the lead to sales.
func TestKeptContactAdoptsJourneysAndScore(t *testing.T) {
	h := welcomeHarness(t, kept)
	r := newContactRun(t, h)
	var cancelled []string
	h.env.OnRequestCancelExternalWorkflow(mock.Anything, mock.Anything, "").Return(
		func(_, workflowID, _ string) error {
			cancelled = append(cancelled, workflowID)
			return nil
		})
	engaged := testStart.Add(90 * time.Minute)
	r.send(0, identify(map[string]any{"title": "CTO"}, testStart))
	r.send(time.Second, signedUpShop)
	r.queryAt(time.Hour)
	r.at(2*hour, func() {
		h.env.SignalWorkflow(workflows.SignalHandover, workflows.Handover{
			From: "u-other",
			Running: []workflows.RunningJourney{
				{Journey: "welcome_ecommerce", WorkflowID: "journey/welcome_ecommerce/u-other", StartedAt: testStart},
				{Journey: "post_purchase", Key: "o-9", WorkflowID: "journey/post_purchase/u-other/o-9", StartedAt: testStart},
			},
			Entered: map[string]time.Time{"post_purchase/o-9": testStart},
			Stage:   workflows.StageLead,
			Breakdown: []workflows.ScoreChange{
				{Rule: "title", Points: 15, Reason: "job title matches the ideal customer profile"},
				{Rule: "demo_requested", Points: 50, Reason: "requested a demo"},
				{Rule: "pricing_page", Points: 25, Reason: "viewed the pricing page"},
			},
			Scored:        map[string]bool{"title": true},
			LastEngagedAt: engaged,
		})
	})
	r.queryAt(3 * hour)
	r.run(kept.ID, 4*hour)

	before, after := r.states[time.Hour], r.states[3*hour]
	assert.Equal(t, int64(15), before.LeadScore, "the title alone before")
	assert.Equal(t, []string{"journey/welcome_ecommerce/u-other"}, cancelled, "one welcome, not two")
	var running []string
	for _, run := range after.Running {
		running = append(running, run.WorkflowID)
	}
	slices.Sort(running)
	assert.Equal(t, []string{"journey/post_purchase/u-other/o-9", "journey/welcome_ecommerce/u-kept"}, running)
	assert.Equal(t, testStart, after.Entered["post_purchase/o-9"])
	assert.Equal(t, int64(90), after.LeadScore, "15 + 50 + 25: the title counted once")
	assert.Equal(t, workflows.StageMQL, after.Stage, "90 crosses the threshold of 80")
	assert.NotZero(t, after.TaskID, "handed to sales")
	assert.True(t, after.LastEngagedAt.Equal(engaged))

	tasks, err := h.store.Tasks(context.Background(), "", "", 10, 0)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	assert.Equal(t, kept.ID, tasks[0].ContactID)
	ledger, err := h.store.ScoreLedger(context.Background(), kept.ID)
	require.NoError(t, err)
	var reasons []string
	for _, e := range ledger {
		reasons = append(reasons, e.Reason)
	}
	assert.Contains(t, reasons, "from merged contact u-other: requested a demo")
	assert.NotContains(t, reasons, "from merged contact u-other: job title matches the ideal customer profile")
}
