package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// answers holds the signals of one name as they come (Slack's Approve and
// Reject clicks), so a workflow can ask, do other work, and then wait for
// an answer with a deadline without losing one that came meanwhile.
type answers[T any] struct{ got []T }

// collectAnswers starts receiving every signal of name into a queue.
func collectAnswers[T any](ctx workflow.Context, name string) *answers[T] {
	q := &answers[T]{}
	ch := workflow.GetSignalChannel(ctx, name)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var v T
			ch.Receive(ctx, &v)
			q.got = append(q.got, v)
		}
	})
	return q
}

// next waits up to d for the oldest answer not yet taken; ok is false when
// none came in time.
func (q *answers[T]) next(ctx workflow.Context, d time.Duration) (v T, ok bool, err error) {
	if ok, err = workflow.AwaitWithTimeout(ctx, d, func() bool { return len(q.got) > 0 }); err != nil || !ok {
		return v, false, err
	}
	v, q.got = q.got[0], q.got[1:]
	return v, true, nil
}
