// Package ads holds what Nudge's ad-platform clients share: amounts of money
// in micros, ROAS, and the rule for telling a failure worth retrying from one
// that will fail again.
//
// The tree below it:
//   - ads/meta: the Meta Marketing API (Graph): insights, campaign and ad set
//     status and budget, Custom Audience users;
//   - ads/google: Google Ads (REST): campaign metrics, status and budgets; and
//     Customer Match uploads through Google's Data Manager API;
//   - ads/audience: normalizing and hashing email addresses and phone numbers
//     the way each platform publishes;
//   - ads/adstest: loopback stand-ins for all of them, for tests.
//
// The clients are thin: one HTTP request per call (plus Meta's paging), no
// retries of their own. They run inside Temporal activities, which retry;
// Retryable tells an activity whether a failure is worth it.
package ads

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Micros is an amount of money in millionths of the account currency's unit
// ($1.23 is 1_230_000), as Google reports costs. Integers keep sums and
// comparisons exact; convert to float only to show a figure or divide it.
type Micros int64

// ParseMicros reads a decimal amount in currency units, such as "5339.5" or
// "12", exactly (no float rounding), as Meta and Google send them. More than
// six decimals is an error, so nothing is silently dropped.
func ParseMicros(s string) (Micros, error) {
	in := s
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 6 || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%q is not an amount like 12.34", in)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<63-1)/1_000_000-1 {
		return 0, fmt.Errorf("%q is too large an amount", in)
	}
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	m := Micros(w*1_000_000 + f)
	if neg {
		m = -m
	}
	return m, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Units is the amount in currency units, for display and ratios only.
func (m Micros) Units() float64 { return float64(m) / 1e6 }

// String writes the amount in currency units with at least two decimals,
// exactly: 1_230_000 is "1.23", 1_234_500 is "1.2345".
func (m Micros) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", int64(m%1_000_000)), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, int64(m/1_000_000), frac)
}

// ROAS is return on ad spend: conversion value over spend, 0 when nothing
// was spent (no spend says nothing about return).
func ROAS(value, spend Micros) float64 {
	if spend <= 0 {
		return 0
	}
	return float64(value) / float64(spend)
}

// Retryable reports whether err is worth another attempt: an error a
// platform marks as transient or rate limiting (see each client's Error),
// or a request that never got an answer (a timeout, a refused connection).
// A cancelled context, a refusal the platform will repeat, and input a
// client rejected before sending are not.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
