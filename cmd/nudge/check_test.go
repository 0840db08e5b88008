package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/nudgehq/nudge/worker"
)

func TestPrintCheck(t *testing.T) {
	var out strings.Builder
	err := printCheck(&out, worker.CheckResult{Open: 40, Checked: 10, Broken: []worker.Break{{
		WorkflowID: "journey/welcome_ecommerce/ann", RunID: "r1", Journey: "welcome_ecommerce", Step: "wait until day 2",
		Err: errors.New("[TMPRL1100] nondeterministic workflow"),
	}}})
	if !errors.Is(err, errWouldBreak) {
		t.Fatalf("err = %v, want errWouldBreak (exit 1)", err)
	}
	want := "BREAKS journey/welcome_ecommerce/ann (run r1): journey welcome_ecommerce, at step \"wait until day 2\": [TMPRL1100] nondeterministic workflow\n" +
		"checked 10 of 40 open runs: 1 would break\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	if err := printCheck(&out, worker.CheckResult{Open: 3, Checked: 3}); err != nil {
		t.Fatalf("nothing broken: err = %v, want nil (exit 0)", err)
	}
	if out.String() != "checked 3 of 3 open runs: 0 would break\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestCheckUsage(t *testing.T) {
	var out strings.Builder
	err := runCheck(t.Context(), []string{"--sample", "-1"}, &out)
	if err == nil || err.Error() != "usage: nudge check [--sample N]: N is how many open runs to replay, 0 for all" {
		t.Fatalf("err = %v", err)
	}
}
