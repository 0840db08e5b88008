package main

import (
	"testing"
	"time"
)

func TestReportPeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "24h": 24 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := parsePeriod(in); err != nil || got != want {
			t.Errorf("%s: %s, %v", in, got, err)
		}
	}
	for _, in := range []string{"0d", "-1d", "367d", "7x", "", "-5h"} {
		if _, err := parsePeriod(in); err == nil || err.Error() != `--period "`+in+`": want days like 7d (1 to 366) or a duration like 24h` {
			t.Errorf("%q: %v", in, err)
		}
	}
}
