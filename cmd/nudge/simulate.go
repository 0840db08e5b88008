package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"

	"github.com/nudgehq/nudge/codec"
	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/platform"
	"github.com/nudgehq/nudge/simulate"
)

// runSimulate plays a script (a file, or - for stdin) for one made-up
// contact on a test clock and prints the timeline. It exits 1 (an error)
// when a message holds a broken link.
func runSimulate(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	outDir := fs.String("out", "", "write every rendered message, and an index.html, to this folder")
	sendTo := fs.String("send-to", "", "deliver each rendered email once to this address, through NUDGE_SMTP_URL, marked [TEST]")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: nudge simulate [--out DIR] [--send-to you@example.com] <script.json | ->

Runs one made-up contact through Nudge on a test clock: its ContactWorkflow
and every journey it enters, with the real templates, on a throwaway
database. Prints what happened, when and why; checks every link in every
message. Nothing is delivered, whatever is configured (--send-to excepted,
and only to that address). A script:

  {
    "journey": "welcome_b2b",
    "contact": {"firstName": "Dana", "email": "dana@example.com", "industry": "fintech"},
    "events": ["+0h Signed Up", {"at": "+26h", "open": "welcome"}, "+50h Setup Completed"]
  }

Examples are in simulate/examples/.

`)
		fs.PrintDefaults()
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
	router := cfg.Router()
	opts := simulate.Options{Activities: acts, Settings: router.Settings, Enabled: router.Enabled, OutDir: *outDir}
	if cfg.EncryptionKeys != nil {
		opts.DataConverter = codec.DataConverter(cfg.EncryptionKeys)
	}
	if *sendTo != "" {
		addr, err := mail.ParseAddress(*sendTo)
		if err != nil {
			return fmt.Errorf("--send-to %q: %v", *sendTo, err)
		}
		opts.SendTo = addr
	}
	return simulate.Run(ctx, script, opts, out)
}
