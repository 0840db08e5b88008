package ads

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestParseMicros(t *testing.T) {
	for in, want := range map[string]Micros{
		"0": 0, "12": 12_000_000, "5339.5": 5_339_500_000, "0.01": 10_000, ".5": 500_000,
		"1.234567": 1_234_567, "-3.25": -3_250_000, "100.": 100_000_000,
	} {
		if got, err := ParseMicros(in); err != nil || got != want {
			t.Errorf("ParseMicros(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "1.2345678", "1,5", "1e3", "abc", " 1", "99999999999999"} {
		if got, err := ParseMicros(in); err == nil {
			t.Errorf("ParseMicros(%q) = %d, want an error", in, got)
		}
	}
	if _, err := ParseMicros("1.2345678"); err == nil || err.Error() != `"1.2345678" is not an amount like 12.34` {
		t.Errorf("err = %v", err)
	}
}

func TestMicrosStringAndROAS(t *testing.T) {
	for m, want := range map[Micros]string{0: "0.00", 1_230_000: "1.23", 1_234_500: "1.2345", 5: "0.000005", -2_500_000: "-2.50"} {
		if got := m.String(); got != want {
			t.Errorf("Micros(%d).String() = %q, want %q", int64(m), got, want)
		}
	}
	if got := Micros(2_500_000).Units(); got != 2.5 {
		t.Errorf("Units = %v", got)
	}
	if got := ROAS(300_000_000, 100_000_000); got != 3 {
		t.Errorf("ROAS = %v, want 3", got)
	}
	if got := ROAS(300_000_000, 0); got != 0 {
		t.Errorf("ROAS without spend = %v, want 0", got)
	}
}

type platformErr bool

func (e platformErr) Error() string   { return "platform" }
func (e platformErr) Retryable() bool { return bool(e) }

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{platformErr(true), true},
		{fmt.Errorf("wrapped: %w", platformErr(false)), false},
		{context.Canceled, false},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{errors.New("11000 rows; Meta takes at most 10000"), false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if strings.Contains(Micros(1).String(), "e") {
		t.Error("String wrote an exponent")
	}
}

func TestFromMetaBudget(t *testing.T) {
	for _, c := range []struct {
		amount   int64
		currency string
		want     Micros
	}{
		{5000, "USD", 50_000_000},   // $50.00
		{5000, "JPY", 5000_000_000}, // ¥5,000
		{1999, "eur", 19_990_000},
		{300000, "KRW", 300000_000_000},
		{0, "USD", 0},
	} {
		if got := FromMetaBudget(c.amount, c.currency); got != c.want {
			t.Errorf("FromMetaBudget(%d, %s) = %d, want %d", c.amount, c.currency, got, c.want)
		}
	}
}
