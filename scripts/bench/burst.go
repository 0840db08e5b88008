package main

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/worker"
)

// burst sends o.burst e-commerce sign-ups as fast as the gateway takes them,
// and times them until the last welcome email is accepted by SMTP. The
// baseline starts one workflow per sign-up from the SDK that sends the same
// email in one activity and then waits on a timer: the least a durable
// welcome needs. The baseline runs first, so Nudge pays for the server's
// grown database.
func burst(ctx context.Context, s *stack.Stack, o options) error {
	base := burstResult{n: 1, last: time.Hour}
	before, err := readServerOps(s.TemporalMetrics)
	if err != nil {
		return err
	}
	if !o.skips("baseline") {
		if base, err = baseline(ctx, s, o.burst, o.concurrency); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	between, err := readServerOps(s.TemporalMetrics)
	if err != nil {
		return err
	}
	got, err := signupBurst(ctx, s, o.burst, o.concurrency)
	if err != nil {
		return fmt.Errorf("nudge: %w", err)
	}
	after, err := readServerOps(s.TemporalMetrics)
	if err != nil {
		return err
	}
	fmt.Printf("Sustained journeys, a burst of %d sign-ups, %d requests in flight:\n", o.burst, o.concurrency)
	fmt.Printf("  %-42s %10s %14s %16s\n", "", "intake/s", "last email", "journeys/s")
	fmt.Printf("  %-42s %10.0f %14s %16.0f\n", "raw: workflow + email activity + timer", base.intake, base.last.Round(100*time.Millisecond), base.perSecond())
	fmt.Printf("  %-42s %10.0f %14s %16.0f\n", "Nudge: identify + Signed Up in /v1/batch", got.intake, got.last.Round(100*time.Millisecond), got.perSecond())
	fmt.Printf("  Nudge / raw: %.2f   (target >= 0.70)\n", got.perSecond()/base.perSecond())
	printOpsPerSignup(between.since(before), after.since(between), base.n, got.n)
	fmt.Println()
	return nil
}

type burstResult struct {
	n      int
	intake float64       // sign-ups accepted per second
	last   time.Duration // from the first request to the last email accepted
}

func (r burstResult) perSecond() float64 { return float64(r.n) / r.last.Seconds() }

func signupBurst(ctx context.Context, s *stack.Stack, n, concurrency int) (burstResult, error) {
	return signupBurstFrom(ctx, s, 0, n, concurrency)
}

// signupBurstFrom sends sign-ups from..from+n-1 and waits for their emails
// (and every earlier one's).
func signupBurstFrom(ctx context.Context, s *stack.Stack, from, n, concurrency int) (burstResult, error) {
	const perBatch = 50 // sign-ups per /v1/batch: 100 calls, about 16 KB
	start := time.Now()
	batches := (n + perBatch - 1) / perBatch
	intake, err := fanOut(batches, concurrency, func(b int) error {
		var calls []string
		for k := range perBatch {
			i := b*perBatch + k
			if i >= n {
				break
			}
			i += from
			calls = append(calls,
				fmt.Sprintf(`{"type":"identify","userId":"burst-%d","messageId":"burst-i%d","traits":{"email":"burst-%d@example.com","firstName":"Lee"}}`, i, i, i),
				fmt.Sprintf(`{"type":"track","userId":"burst-%d","messageId":"burst-s%d","event":"Signed Up"}`, i, i))
		}
		return s.Post("/v1/batch", `{"batch":[`+strings.Join(calls, ",")+`]}`)
	})
	if err != nil {
		return burstResult{}, err
	}
	last, err := lastEmail(ctx, s.SMTP, from+n, "burst-", start)
	return burstResult{n: n, intake: intake * perBatch, last: last}, err
}

func baseline(ctx context.Context, s *stack.Stack, n, concurrency int) (burstResult, error) {
	const taskQueue = "bench-baseline"
	w := sdkworker.New(s.Platform.Temporal, taskQueue, worker.Options())
	w.RegisterWorkflowWithOptions(baselineWelcome, workflow.RegisterOptions{Name: "BaselineWelcome"})
	mailer := &baselineMailer{mailer: activities.NewSMTPMailer(s.Platform.Config.SMTP)}
	w.RegisterActivityWithOptions(mailer.Send, activity.RegisterOptions{Name: "BaselineSend"})
	if err := w.Start(); err != nil {
		return burstResult{}, err
	}
	defer w.Stop()
	start := time.Now()
	intake, err := fanOut(n, concurrency, func(i int) error {
		_, err := s.Platform.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: fmt.Sprintf("baseline/%d", i), TaskQueue: taskQueue,
		}, "BaselineWelcome", fmt.Sprintf("base-%d@example.com", i))
		return err
	})
	if err != nil {
		return burstResult{}, err
	}
	last, err := lastEmail(ctx, s.SMTP, n, "base-", start)
	return burstResult{n: n, intake: intake, last: last}, err
}

// baselineWelcome sends one email, then waits, as a journey's first step does.
func baselineWelcome(ctx workflow.Context, to string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	if err := workflow.ExecuteActivity(ctx, "BaselineSend", to).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.Sleep(ctx, 48*time.Hour)
}

type baselineMailer struct{ mailer *activities.SMTPMailer }

func (m *baselineMailer) Send(ctx context.Context, to string) error {
	msg := gomail.NewMsg()
	if err := msg.FromFormat("Acme", "hello@acme.example.com"); err != nil {
		return err
	}
	if err := msg.AddTo((&mail.Address{Address: to}).Address); err != nil {
		return err
	}
	msg.Subject(welcomeSubject)
	msg.SetBodyString(gomail.TypeTextPlain, "Welcome!")
	return m.mailer.Send(ctx, msg, func() error { return nil })
}

// lastEmail waits for n emails to addresses starting with prefix and
// returns when the last was accepted, from start.
func lastEmail(ctx context.Context, srv *smtptest.Server, n int, prefix string, start time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	msgs, err := srv.WaitForN(ctx, n, func(m smtptest.Message) bool {
		return len(m.To) == 1 && strings.HasPrefix(m.To[0], prefix)
	})
	if err != nil {
		return 0, err
	}
	return msgs[len(msgs)-1].Accepted.Sub(start), nil
}
