package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nudgehq/nudge/platform"
	"github.com/nudgehq/nudge/workflows"
)

// runReport sends a performance report now, as a scheduled one would be
// sent: nudge report --period 7d --to you@example.com [--slack #marketing].
func runReport(ctx context.Context, p *platform.Platform, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(out)
	period := fs.String("period", "7d", "how far back: 7d, 30d, 24h")
	to := fs.String("to", "", "email addresses, comma-separated")
	slack := fs.String("slack", "", "Slack channels, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := parsePeriod(*period)
	if err != nil {
		return err
	}
	req := workflows.ReportRequest{Name: "sent by hand", Period: d, Emails: splitList(*to), Slack: splitList(*slack)}
	if len(req.Emails)+len(req.Slack) == 0 {
		return errors.New("usage: nudge report [--period 7d] --to you@example.com [--slack #channel]: give at least one destination")
	}
	acts, err := p.Activities()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	res, err := acts.SendReport(ctx, workflows.ReportRun{ReportRequest: req, Key: "manual/" + now.Format(time.RFC3339Nano), From: now.Add(-d), To: now})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Report for %s to %s.\n", now.Add(-d).Format(time.RFC3339), now.Format(time.RFC3339))
	for _, e := range res.Emailed {
		fmt.Fprintln(out, "  emailed", e)
	}
	for _, c := range res.Posted {
		fmt.Fprintln(out, "  posted to", c)
	}
	for _, s := range res.Skipped {
		fmt.Fprintln(out, "  not sent (delivery is off; set NUDGE_SMTP_URL or NUDGE_SLACK_BOT_TOKEN):", s)
	}
	return nil
}

// parsePeriod reads 7d, 30d or a Go duration like 24h.
func parsePeriod(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 366 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("--period %q: want days like 7d (1 to 366) or a duration like 24h", s)
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
