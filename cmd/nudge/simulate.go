package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.temporal.io/sdk/converter"

	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/platform"
	"github.com/nudgehq/nudge/simulate"
)

// runSimulate plays a script (a file, or - for stdin) through a journey on a
// test clock and prints the timeline.
func runSimulate(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: nudge simulate <script.json | ->

Runs one journey for one made-up contact on a test clock and prints what it
would send, when, and why. Nothing is delivered. A script:

  {
    "journey": "welcome_b2b",
    "contact": {"firstName": "Dana", "email": "dana@example.com", "industry": "fintech"},
    "events": ["+0h Signed Up", "+50h Setup Completed"]
  }

Examples are in simulate/examples/.
`)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("simulate needs one script file (or - for stdin)")
	}
	in := os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	script, err := simulate.ParseScript(in)
	if err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	p := &platform.Platform{Config: cfg, Log: slog.New(slog.DiscardHandler)}
	acts, err := p.Activities()
	if err != nil {
		return err
	}
	var dc converter.DataConverter
	if cfg.EncryptionKeys != nil {
		dc = codec.DataConverter(cfg.EncryptionKeys)
	}
	return simulate.Run(ctx, script, acts, cfg.Router().Settings, dc, out)
}
