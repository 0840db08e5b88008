package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/nudgehq/nudge/models"
)

// Each stage move is a row with where it came from and why; the history
// opens with the stage the contact was created in; a repeated write of the
// same stage (a retried activity) adds nothing; and Migrate opens the
// history of contacts that never moved.
func TestStageHistory(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		accept(t, s, track("m1", "dana", "", "Signed Up"), track("m2", "lee", "", "Signed Up"))
		dana, err := s.Contact(ctx, "dana")
		if err != nil {
			t.Fatal(err)
		}
		day := dana.CreatedAt.UTC().Add(24 * time.Hour).Truncate(time.Second)
		moves := []struct {
			stage, why string
			at         time.Time
		}{
			{"lead", "Demo Requested", day},
			{"lead", "Demo Requested", day}, // the same write again
			{"mql", "lead score 85 reached the MQL threshold 80", day.Add(48 * time.Hour)},
		}
		for _, m := range moves {
			if err := s.RecordScore(ctx, "dana", nil, 85, m.stage, m.why, m.at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.StageHistory(ctx, "dana")
		if err != nil {
			t.Fatal(err)
		}
		want := []models.StageChange{
			{ContactID: "dana", FromStage: "", ToStage: "subscriber", At: dana.CreatedAt.UTC(), Reason: models.StageReasonCreated},
			{ContactID: "dana", FromStage: "subscriber", ToStage: "lead", At: day, Reason: "Demo Requested"},
			{ContactID: "dana", FromStage: "lead", ToStage: "mql", At: day.Add(48 * time.Hour), Reason: "lead score 85 reached the MQL threshold 80"},
		}
		if len(got) != len(want) {
			t.Fatalf("history = %+v, want %+v", got, want)
		}
		var wantAt []time.Time
		for _, w := range want {
			wantAt = append(wantAt, w.At)
		}
		for i := range want {
			g := got[i]
			g.ID = 0
			if d := g.At.Sub(want[i].At); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("row %d at %s, want %s", i, g.At, want[i].At)
			}
			// Each move knows when the stage it leaves began: the move before.
			switch {
			case i == 0 && g.EnteredAt != nil:
				t.Errorf("row 0 entered at %s, want none", g.EnteredAt)
			case i > 0 && (g.EnteredAt == nil || g.EnteredAt.Sub(wantAt[i-1]).Abs() > time.Millisecond):
				t.Errorf("row %d entered at %v, want %s", i, g.EnteredAt, wantAt[i-1])
			}
			g.EnteredAt = nil
			g.At, want[i].At = time.Time{}, time.Time{}
			if g != want[i] {
				t.Errorf("row %d = %+v, want %+v", i, g, want[i])
			}
		}
		// Lee never moved: no rows until Migrate opens the history.
		if rows, _ := s.StageHistory(ctx, "lee"); len(rows) != 0 {
			t.Fatalf("before Migrate: %+v", rows)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil { // twice: no second row
			t.Fatal(err)
		}
		rows, err := s.StageHistory(ctx, "lee")
		if err != nil || len(rows) != 1 || rows[0].ToStage != "subscriber" || rows[0].FromStage != "" || rows[0].Reason != models.StageReasonBackfill {
			t.Fatalf("after Migrate: %+v, %v", rows, err)
		}
		if rows, _ := s.StageHistory(ctx, "dana"); len(rows) != 3 {
			t.Errorf("Migrate touched a contact with a history: %d rows", len(rows))
		}
	})
}
