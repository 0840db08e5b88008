package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/platform"
	"github.com/nudgehq/nudge/worker"
)

// errWouldBreak makes `nudge check` exit 1 when a run would break.
var errWouldBreak = errors.New("the workflow code in this build would break runs in flight; see above")

// runCheck replays the runs open on the configured Temporal server against
// the workflows in this build: what to run before deploying a change to a
// journey or to ContactWorkflow.
func runCheck(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(out)
	sample := fs.Int("sample", 0, "replay this many open runs, picked at random, instead of all of them")
	fs.Usage = func() {
		fmt.Fprint(out, `usage: nudge check [--sample N]

Replays the history of every run open on the Temporal server
(NUDGE_TEMPORAL_ADDRESS, NUDGE_TEMPORAL_NAMESPACE; NUDGE_ENCRYPTION_KEYS to
read encrypted payloads) against the workflow code in this build, and lists
the runs it would break. Exits 1 when any would.
`)
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if *sample < 0 || fs.NArg() > 0 {
		return errors.New("usage: nudge check [--sample N]: N is how many open runs to replay, 0 for all")
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: max(cfg.Level, slog.LevelWarn)}))
	opts := platform.ClientOptions(cfg, log, nil)
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("NUDGE_TEMPORAL_ADDRESS %s: %w", cfg.TemporalAddress, err)
	}
	defer c.Close()
	res, err := worker.Check(ctx, c, &worker.Replayer{Router: cfg.Router(), DataConverter: opts.DataConverter}, *sample)
	if err != nil {
		return err
	}
	return printCheck(out, res)
}

// printCheck writes one line per run that would break, then the counts;
// it returns errWouldBreak when there are any.
func printCheck(out io.Writer, res worker.CheckResult) error {
	for _, b := range res.Broken {
		fmt.Fprintf(out, "BREAKS %s (run %s): journey %s, at step %q: %v\n", b.WorkflowID, b.RunID, b.Journey, b.Step, b.Err)
	}
	fmt.Fprintf(out, "checked %d of %d open runs: %d would break\n", res.Checked, res.Open, len(res.Broken))
	if len(res.Broken) > 0 {
		return errWouldBreak
	}
	return nil
}
