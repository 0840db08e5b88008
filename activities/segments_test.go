package activities_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func (f *fixture) inSegment(t *testing.T, req workflows.SegmentRequest) (bool, error) {
	t.Helper()
	v, err := f.env.ExecuteActivity(workflows.InSegmentActivity, req)
	if err != nil {
		return false, err
	}
	var in bool
	if err := v.Get(&in); err != nil {
		t.Fatal(err)
	}
	return in, nil
}

func TestInSegment(t *testing.T) {
	f := newFixture(t)
	signedUp := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	for _, ev := range []models.Event{
		{MessageID: "e1", ContactID: "u1", Kind: "track", Name: "Signed Up", Timestamp: signedUp},
		{MessageID: "e2", ContactID: "u1", Kind: "page", Name: "Pricing", Properties: map[string]any{"path": "/pricing"}, Timestamp: signedUp.Add(time.Hour)},
		{MessageID: "e3", ContactID: "u1", Kind: "track", Name: "Setup Completed", Timestamp: signedUp.Add(3 * 24 * time.Hour)},
	} {
		ev.Status = models.EventDelivered
		if err := f.store.DB().Create(&ev).Error; err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		segment string
		params  map[string]string
		at      time.Time
		want    bool
	}{
		// The request's time decides, not the clock the activity runs on.
		{workflows.SegmentNotOnboarded, nil, signedUp.Add(-time.Hour), false},
		{workflows.SegmentNotOnboarded, nil, signedUp.Add(2 * 24 * time.Hour), true},
		{workflows.SegmentNotOnboarded, nil, signedUp.Add(4 * 24 * time.Hour), false},
		{workflows.SegmentVisitedPage, map[string]string{"page": "/pricing"}, signedUp.Add(2 * time.Hour), true},
		{workflows.SegmentVisitedPage, map[string]string{"page": "/checkout"}, signedUp.Add(2 * time.Hour), false},
		{workflows.SegmentActive, nil, signedUp.Add(30 * 24 * time.Hour), true},
		{workflows.SegmentActive, nil, signedUp.Add(31 * 24 * time.Hour), false},
		{workflows.SegmentAtRisk, nil, signedUp.Add(31 * 24 * time.Hour), true},
		{workflows.SegmentNewSubscriber, nil, signedUp, true}, // u1 was saved with no stage: a subscriber
	} {
		got, err := f.inSegment(t, workflows.SegmentRequest{ContactID: "u1", Segment: tc.segment, Params: tc.params, At: tc.at})
		if err != nil || got != tc.want {
			t.Errorf("%s %v at %s: %v, %v; want %v", tc.segment, tc.params, tc.at, got, err, tc.want)
		}
	}
}

// A journey asking for a segment that does not exist, or without its
// parameter, fails at once rather than retrying for a day.
func TestInSegmentMistakesAreNotRetried(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		req  workflows.SegmentRequest
		want string
	}{
		{workflows.SegmentRequest{ContactID: "u1", Segment: "vip", At: at}, `no segment "vip"`},
		{workflows.SegmentRequest{ContactID: "u1", Segment: workflows.SegmentUsedFeature, At: at}, `segment used_feature: parameter "feature" is required`},
		{workflows.SegmentRequest{ContactID: "u1", Segment: workflows.SegmentActive}, "segment request has no At"},
	} {
		_, err := f.inSegment(t, tc.req)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !appErr.NonRetryable() || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want a non-retryable error saying %s", tc.req, err, tc.want)
		}
	}
}
