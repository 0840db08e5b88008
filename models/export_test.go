package models

import "context"

// Recipients exposes the distinct-recipients count to the package's
// external tests, which check it against a count of the rows.
func (s *Store) Recipients(ctx context.Context, names []string, p Period) (map[string]int64, error) {
	return s.recipients(ctx, names, p)
}

// RecountChangedDays refreshes the roll-ups and returns the days recounted.
func (s *Store) RecountChangedDays(ctx context.Context) ([]string, error) {
	return s.recountChangedDays(ctx)
}
