package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
	"github.com/nudgehq/nudge/workflows"
)

func adAction(key, rule, object, action, outcome string, at time.Time) *models.AdAction {
	return &models.AdAction{
		Key: key, Rule: rule, RuleVersion: 1, Platform: "meta", Account: "act_1", ObjectID: object, Level: "campaign",
		ObjectName: "Spring sale", Currency: "USD", Action: action, Mode: workflows.AdModeApply, Outcome: outcome,
		Reason: "ROAS 0.50 over 2026-03-01..2026-03-03 is below 1.00", StatusBefore: "ACTIVE", StatusAfter: "PAUSED",
		Figures:    workflows.AdFigureSet{Window: workflows.AdTotals{From: "2026-03-01", To: "2026-03-03", Days: 3, Spend: 60_000_000, Value: 30_000_000}, ROAS: 0.5},
		WorkflowID: "ad-rules/scheduled", RunID: "run-1", At: at,
	}
}

// Recording is idempotent by key, fills in IDs and the conflict's winner,
// and a retry gets the rows back as they are now.
func TestAdActionRecordOnceWithConflicts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
		win := adAction("run-1/pause_low_roas/meta/10/pause", "pause_low_roas", "10", workflows.AdActionPause, workflows.AdOutcomePending, at)
		lose := adAction("run-1/scale_winners/meta/10/set_budget", "scale_winners", "10", workflows.AdActionSetBudget, workflows.AdOutcomeConflict, at)
		lose.ConflictKey = win.Key
		lose.BudgetBefore, lose.BudgetAfter = 50_000_000, 60_000_000
		if err := s.RecordAdActions(ctx, []*models.AdAction{win, lose}); err != nil {
			t.Fatal(err)
		}
		if win.ID == 0 || lose.ID == 0 || lose.ConflictWith == nil || *lose.ConflictWith != win.ID {
			t.Fatalf("ids %d %d, conflict_with %v", win.ID, lose.ID, lose.ConflictWith)
		}
		if _, err := s.SetAdActionOutcome(ctx, []uint64{win.ID}, models.AdActionUpdate{Outcome: workflows.AdOutcomeApplied, Response: `{"success":true}`}); err != nil {
			t.Fatal(err)
		}
		again := []*models.AdAction{
			adAction(win.Key, "pause_low_roas", "10", workflows.AdActionPause, workflows.AdOutcomePending, at),
			adAction(lose.Key, "scale_winners", "10", workflows.AdActionSetBudget, workflows.AdOutcomeConflict, at),
		}
		again[1].ConflictKey = win.Key
		if err := s.RecordAdActions(ctx, again); err != nil {
			t.Fatal(err)
		}
		if again[0].ID != win.ID || again[0].Outcome != workflows.AdOutcomeApplied || again[1].ID != lose.ID || *again[1].ConflictWith != win.ID {
			t.Errorf("retry got %+v / %+v", again[0], again[1])
		}
		_, total, _ := s.AdActions(ctx, models.AdActionFilter{})
		if total != 2 {
			t.Errorf("%d rows after a retry, want 2", total)
		}
		got, err := s.AdActionByID(ctx, lose.ID)
		if err != nil || got.BudgetAfter != 60_000_000 || got.Figures.ROAS != 0.5 || got.Figures.Window.Spend != 60_000_000 || !got.At.Equal(at) {
			t.Errorf("read back %+v, %v", got, err)
		}
		if _, err := s.AdActionByID(ctx, 999); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("missing row: %v, want ErrNotFound", err)
		}
		if err := s.RecordAdActions(ctx, []*models.AdAction{{Key: "k"}}); err == nil {
			t.Error("a row without rule, platform, object, action, mode and outcome was recorded")
		}
	})
}

// A late answer cannot overwrite an outcome already settled; undo marks
// only an applied or approved row, once.
func TestAdActionOutcomeAndUndo(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
		a := adAction("a", "pause_low_roas", "10", workflows.AdActionPause, workflows.AdOutcomePending, at)
		if err := s.RecordAdActions(ctx, []*models.AdAction{a}); err != nil {
			t.Fatal(err)
		}
		pending := []string{workflows.AdOutcomePending}
		n, err := s.SetAdActionOutcome(ctx, []uint64{a.ID}, models.AdActionUpdate{Outcome: workflows.AdOutcomeApproved, By: "U123 (ada)", From: pending})
		if err != nil || n != 1 {
			t.Fatalf("approve: %d, %v", n, err)
		}
		n, err = s.SetAdActionOutcome(ctx, []uint64{a.ID}, models.AdActionUpdate{Outcome: workflows.AdOutcomeExpired, From: pending})
		if err != nil || n != 0 {
			t.Errorf("expire after approve changed %d rows, %v", n, err)
		}
		ok, err := s.MarkAdActionUndone(ctx, a.ID, 77, at.Add(time.Hour))
		if err != nil || !ok {
			t.Fatalf("undo: %v %v", ok, err)
		}
		if ok, _ := s.MarkAdActionUndone(ctx, a.ID, 78, at.Add(2*time.Hour)); ok {
			t.Error("undone twice")
		}
		got, _ := s.AdActionByID(ctx, a.ID)
		if got.Outcome != workflows.AdOutcomeUndone || got.DecidedBy != "U123 (ada)" || got.UndoneBy == nil || *got.UndoneBy != 77 ||
			got.UndoneAt == nil || !got.UndoneAt.Equal(at.Add(time.Hour)) {
			t.Errorf("after undo: %+v", got)
		}
		dry := adAction("d", "pause_low_roas", "11", workflows.AdActionPause, workflows.AdOutcomeDryRun, at)
		if err := s.RecordAdActions(ctx, []*models.AdAction{dry}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.MarkAdActionUndone(ctx, dry.ID, 79, at); ok {
			t.Error("a dry run was marked undone")
		}
	})
}

// The list filters by rule, outcome and object, newest first, with paging;
// the cooldown and cap queries count only the outcomes asked for, since a
// time.
func TestAdActionListsAndCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
		rows := []*models.AdAction{
			adAction("1", "pause_low_roas", "10", workflows.AdActionPause, workflows.AdOutcomeApplied, t0.Add(-30*time.Hour)),
			adAction("2", "pause_low_roas", "10", workflows.AdActionPause, workflows.AdOutcomeApplied, t0.Add(2*time.Hour)),
			adAction("3", "scale_winners", "11", workflows.AdActionSetBudget, workflows.AdOutcomeDryRun, t0.Add(3*time.Hour)),
			adAction("4", "scale_winners", "11", workflows.AdActionSetBudget, workflows.AdOutcomeFailed, t0.Add(4*time.Hour)),
			adAction("5", "pause_low_roas", "12", workflows.AdActionPause, workflows.AdOutcomeExpired, t0.Add(5*time.Hour)),
			adAction("6", "scale_winners", "11", workflows.AdActionSetBudget, workflows.AdOutcomeApplied, t0.Add(6*time.Hour)),
		}
		rows[5].Account = "act_2"
		undoOf := uint64(1)
		rows[5].UndoOf = &undoOf // an undo: no rule's action
		if err := s.RecordAdActions(ctx, rows); err != nil {
			t.Fatal(err)
		}
		ids := func(as []models.AdAction) (out []string) {
			for _, a := range as {
				out = append(out, a.Key)
			}
			return out
		}
		for _, c := range []struct {
			f     models.AdActionFilter
			want  []string
			total int64
		}{
			{models.AdActionFilter{}, []string{"6", "5", "4", "3", "2", "1"}, 6},
			{models.AdActionFilter{Rule: "pause_low_roas"}, []string{"5", "2", "1"}, 3},
			{models.AdActionFilter{Outcome: workflows.AdOutcomeApplied}, []string{"6", "2", "1"}, 3},
			{models.AdActionFilter{Platform: "meta", ObjectID: "11"}, []string{"6", "4", "3"}, 3},
			{models.AdActionFilter{Limit: 2, Offset: 1}, []string{"5", "4"}, 6},
		} {
			got, total, err := s.AdActions(ctx, c.f)
			if err != nil || total != c.total || !equalStrings(ids(got), c.want) {
				t.Errorf("%+v: %v (total %d), %v; want %v (total %d)", c.f, ids(got), total, err, c.want, c.total)
			}
		}
		if _, _, err := s.AdActions(ctx, models.AdActionFilter{Limit: -1}); err == nil {
			t.Error("a negative limit was taken")
		}

		counted := []string{workflows.AdOutcomeApplied, workflows.AdOutcomeFailed}
		last, err := s.LastAdActions(ctx, t0.Add(-24*time.Hour), counted)
		if err != nil {
			t.Fatal(err)
		}
		want := []models.AdLastAction{
			{Platform: "meta", ObjectID: "10", Action: workflows.AdActionPause, At: t0.Add(2 * time.Hour)},
			{Platform: "meta", ObjectID: "11", Action: workflows.AdActionSetBudget, At: t0.Add(6 * time.Hour)},
		}
		if len(last) != len(want) {
			t.Fatalf("last actions %+v, want %+v", last, want)
		}
		for i := range want {
			if last[i].Platform != want[i].Platform || last[i].ObjectID != want[i].ObjectID || last[i].Action != want[i].Action || !last[i].At.Equal(want[i].At) {
				t.Errorf("last action %d = %+v, want %+v", i, last[i], want[i])
			}
		}
		counts, err := s.CountAdActions(ctx, t0, append(counted, workflows.AdOutcomeDryRun))
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := []models.AdActionCount{
			{Rule: "pause_low_roas", Platform: "meta", Account: "act_1", Count: 1},
			{Rule: "scale_winners", Platform: "meta", Account: "act_1", Count: 2},
		}
		if len(counts) != len(wantCounts) || counts[0] != wantCounts[0] || counts[1] != wantCounts[1] {
			t.Errorf("counts %+v, want %+v", counts, wantCounts)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The figures rules read: active objects only, and days from the start.
func TestAdActionRuleFigures(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		if err := s.SaveAdObjects(ctx, []models.AdObject{
			{Platform: "meta", ID: "1", Account: "act_1", Status: "ACTIVE"},
			{Platform: "meta", ID: "2", Account: "act_1", Status: "PAUSED"},
			{Platform: "google", ID: "3", Account: "9", Status: "ENABLED"},
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceAdStats(ctx, "meta", "act_1", "2026-03-01", "2026-03-04", []models.AdStat{
			{Platform: "meta", ObjectID: "1", Day: "2026-03-01", Account: "act_1"},
			{Platform: "meta", ObjectID: "1", Day: "2026-03-03", Account: "act_1", Spend: 5},
		}); err != nil {
			t.Fatal(err)
		}
		objs, stats, err := s.AdRuleFigures(ctx, "2026-03-02")
		if err != nil || len(objs) != 2 || objs[0].ID != "3" || objs[1].ID != "1" || len(stats) != 1 || stats[0].Spend != 5 {
			t.Errorf("objects %+v, stats %+v, %v", objs, stats, err)
		}
		if err := s.NoteAdObjectChange(ctx, "meta", "1", "PAUSED", 7_000_000); err != nil {
			t.Fatal(err)
		}
		if objs, _, _ := s.AdRuleFigures(ctx, "2026-03-02"); len(objs) != 1 {
			t.Errorf("a paused object is still read: %+v", objs)
		}
	})
}
