// Command chaos replays failure scenarios against a real Nudge on loopback:
// the Temporal dev server, `nudge worker` and `nudge gateway` as separate
// processes, an SMTP server it steers, and SQLite or the local MariaDB. It
// sends Segment calls as Segment's libraries do (a 5xx or no answer is
// resent with the same messageId), breaks things on the way (kill -9, an
// SMTP server that answers slowly or leaves sends uncertain, outages), and
// counts every email the SMTP server receives against what the accepted
// calls owe.
//
// For each scenario it prints a table (events sent, accepted, refused,
// emails expected, delivered, lost, duplicated, unknown by rule, drain
// time) and PASS or FAIL. A scenario fails when an owed email is lost (and
// no "unknown" row explains it), when one arrives twice (beyond the
// transactional repeat the rule allows), or when a client got 200 for an
// event that was not stored or never reached Temporal.
//
// Run it with `make chaos`, or scripts/chaos.sh with flags, e.g.
//
//	scripts/chaos.sh -only poison,uncertain -signups 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	flagOnly         string
	flagKeep         bool
	flagSignups      int
	flagBatchCalls   int
	flagDrainSignups int
	flagUncertain    int
	flagOrders       int
	flagOutage       time.Duration
	flagStall        time.Duration
	flagMaxWait      time.Duration
	flagQuiet        time.Duration
	flagPrompt       time.Duration
	flagSlow         time.Duration
)

func main() {
	flag.StringVar(&flagOnly, "only", "", "comma-separated scenarios or groups to run (default all): "+scenarioNames())
	flag.BoolVar(&flagKeep, "keep", false, "keep every scenario's folder (databases, logs) and MySQL database; failed ones are always kept")
	flag.IntVar(&flagSignups, "signups", 0, "sign-ups in each sign-up scenario (0: each scenario's own size: poison 200, crash 100, worker-kill 600, ...)")
	flag.IntVar(&flagBatchCalls, "batch-calls", 10000, "calls in the /v1/batch scenario")
	flag.IntVar(&flagDrainSignups, "drain-signups", 10000, "sign-ups in the drain scenario")
	flag.IntVar(&flagUncertain, "uncertain", 20, "sends the SMTP server leaves uncertain, in each uncertain scenario")
	flag.IntVar(&flagOrders, "orders", 5, "buyers among the contacts of crash and uncertain, whose order confirmation is transactional")
	flag.DurationVar(&flagOutage, "outage", 30*time.Second, "how long Temporal and the SMTP server stay down")
	flag.DurationVar(&flagStall, "stall", 150*time.Second, "stop waiting for owed email after this long without progress")
	flag.DurationVar(&flagMaxWait, "max-wait", 10*time.Minute, "while accepted events are still undelivered, keep waiting past -stall up to this long")
	flag.DurationVar(&flagQuiet, "quiet", 8*time.Second, "after the last owed email, wait until nothing changes for this long, to see late duplicates")
	flag.DurationVar(&flagPrompt, "prompt", 30*time.Second, "poison: the slowest welcome may take this long after its sign-up")
	flag.DurationVar(&flagSlow, "slow", 2*time.Second, "batch: the slowest request may take this long to be answered")
	nudge := flag.String("nudge", os.Getenv("NUDGE_BIN"), "the nudge binary (scripts/chaos.sh builds one)")
	temporal := flag.String("temporal", os.Getenv("NUDGE_TEMPORAL_BIN"), "the Temporal CLI (scripts/chaos.sh finds one with scripts/temporal.sh)")
	flag.StringVar(&mysqlDSN, "mysql", "root@tcp(127.0.0.1:3306)/", "MariaDB for the MySQL scenarios (a go-sql-driver DSN, no database)")
	flag.Parse()

	if err := setup(*nudge, *temporal); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	selected, err := selectScenarios(flagOnly)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.MkdirTemp("", "nudge-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}

	fmt.Printf("# Nudge chaos run, %s\n\n", time.Now().Format("2006-01-02 15:04"))
	fmt.Printf("Machine: %d cores, %s. Nudge: %s. Temporal CLI: %s.\n", runtime.NumCPU(), runtime.Version(), nudgeBin, temporalBin)
	fmt.Printf("Sizes: signups=%s, batch-calls=%d, drain-signups=%d, uncertain=%d, orders=%d, outage=%s. Folder: %s\n",
		orDefault(flagSignups), flagBatchCalls, flagDrainSignups, flagUncertain, flagOrders, flagOutage, root)

	var results []*Run
	for _, sc := range selected {
		if ctx.Err() != nil {
			break
		}
		r := &Run{Scenario: sc, Dir: filepath.Join(root, sc.Name)}
		r.run(ctx)
		r.Print(os.Stdout)
		results = append(results, r)
		if r.Passed() && !flagKeep && !r.keepDir {
			os.RemoveAll(r.Dir)
		}
	}

	fmt.Printf("\n## Summary\n\n| scenario | result |\n|---|---|\n")
	failed := 0
	for _, r := range results {
		verdict := "PASS"
		if !r.Passed() {
			var heads []string
			for _, f := range r.failures {
				head, _, _ := strings.Cut(f, " (e.g.")
				heads = append(heads, clip(head, 200))
			}
			verdict = "FAIL: " + strings.Join(heads, "; ")
			failed++
		}
		fmt.Printf("| %s | %s |\n", r.Scenario.Name, strings.ReplaceAll(verdict, "|", "/"))
	}
	kept := false
	for _, r := range results {
		kept = kept || r.keepDir
	}
	if failed > 0 || flagKeep || kept {
		fmt.Printf("\nLogs and databases: %s\n", root)
	} else {
		os.Remove(root)
	}
	if ctx.Err() != nil {
		fmt.Println("\nInterrupted.")
		os.Exit(130)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func orDefault(n int) string {
	if n == 0 {
		return "each scenario's own"
	}
	return fmt.Sprint(n)
}

// setup finds the binaries and what the Temporal server must register.
func setup(nudge, temporal string) error {
	if nudge == "" {
		return fmt.Errorf("no nudge binary: pass -nudge or run scripts/chaos.sh, which builds one")
	}
	if temporal == "" {
		if p, err := exec.LookPath("temporal"); err == nil {
			temporal = p
		} else {
			return fmt.Errorf("no Temporal CLI: pass -temporal or run scripts/chaos.sh, which finds one")
		}
	}
	var err error
	if nudgeBin, err = filepath.Abs(nudge); err != nil {
		return err
	}
	if temporalBin, err = filepath.Abs(temporal); err != nil {
		return err
	}
	out, err := exec.Command(nudgeBin, "search-attributes").Output()
	if err != nil {
		return fmt.Errorf("%s search-attributes: %w", nudgeBin, err)
	}
	searchAttributes = strings.Fields(string(out))
	return nil
}

// Scenario is one named scenario.
type Scenario struct {
	Name  string
	Group string
	Run   func(ctx context.Context, r *Run) error
}

func scenarioNames() string {
	var names []string
	groups := map[string]bool{}
	for _, s := range scenarios {
		names = append(names, s.Name)
		if s.Group != "" && !groups[s.Group] {
			groups[s.Group] = true
			names = append(names, s.Group)
		}
	}
	return strings.Join(names, ", ")
}

func selectScenarios(only string) ([]Scenario, error) {
	if strings.TrimSpace(only) == "" {
		return scenarios, nil
	}
	want := map[string]bool{}
	for _, w := range strings.Split(only, ",") {
		if w = strings.TrimSpace(w); w != "" {
			want[w] = true
		}
	}
	var out []Scenario
	for _, s := range scenarios {
		if want[s.Name] || (s.Group != "" && want[s.Group]) {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	for _, s := range scenarios {
		delete(want, s.Group)
	}
	if len(want) > 0 {
		var bad []string
		for w := range want {
			bad = append(bad, w)
		}
		slices.Sort(bad)
		return nil, fmt.Errorf("unknown scenario %s; known: %s", strings.Join(bad, ", "), scenarioNames())
	}
	return out, nil
}

// Run is one scenario's run: its stack, its load, what it owes and found.
type Run struct {
	Scenario Scenario
	Dir      string
	Stack    *Stack
	Client   *Client
	Exps     Expectations
	Sizes    string

	mu       sync.Mutex
	notes    []string
	failures []string
	finished bool
	keepDir  bool
	tally    Tally
	snap     Snapshot
	drain    string
	started  time.Time
}

func (r *Run) run(ctx context.Context) {
	r.started = time.Now()
	fmt.Fprintf(os.Stderr, "\n[%s] %s: starting\n", stamp(), r.Scenario.Name)
	defer func() {
		if p := recover(); p != nil {
			r.Failf("panic: %v\n%s", p, debug.Stack())
		}
		if r.Stack != nil {
			r.Stack.Close(flagKeep)
		}
		fmt.Fprintf(os.Stderr, "[%s] %s: done in %s\n", stamp(), r.Scenario.Name, round(time.Since(r.started)))
	}()
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		r.Failf("%v", err)
		return
	}
	if err := r.Scenario.Run(ctx, r); err != nil {
		r.Failf("could not run: %v", err)
	}
}

// Start brings up this run's stack and a client for it.
func (r *Run) Start(ctx context.Context, opts StackOptions) error {
	st, err := StartStack(ctx, r.Dir, r.Scenario.Name, opts)
	if err != nil {
		return err
	}
	r.Stack = st
	urls := make([]string, len(st.Gateways))
	for i, g := range st.Gateways {
		urls[i] = g.URL
	}
	r.Client = NewClient(st.WriteKey, func(i, attempt int) string { return urls[(i+attempt)%len(urls)] })
	r.Progress("stack up: Temporal %s, SMTP %s, %d gateway(s), database %s", st.TemporalAddr, st.SMTP.Addr, len(st.Gateways), st.DatabaseURL)
	return nil
}

// Notef adds a line under the scenario's table.
func (r *Run) Notef(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// Failf records why the scenario fails.
func (r *Run) Failf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// Progress tells the person watching what is happening.
func (r *Run) Progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s: %s\n", stamp(), r.Scenario.Name, fmt.Sprintf(format, args...))
}

// Passed reports whether nothing failed.
func (r *Run) Passed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failures) == 0
}

// People makes n contacts named after prefix, of which `orders` (spread
// evenly) are buyers; indexes start at from.
func People(prefix string, from, n, orders int) []Person {
	out := make([]Person, n)
	every := 0
	if orders > 0 {
		every = max(n/orders, 1)
	}
	made := 0
	for i := range out {
		idx := from + i
		p := Person{Index: idx, UserID: fmt.Sprintf("%s-%d", prefix, idx), Email: fmt.Sprintf("%s-%d@example.com", prefix, idx)}
		if every > 0 && i%every == every-1 && made < orders {
			p.Order, made = true, made+1
		}
		out[i] = p
	}
	return out
}

// Drive sends the people's calls in the background, at most rate sign-ups
// a second when rate > 0, and records what each accepted sign-up owes.
func (r *Run) Drive(ctx context.Context, people []Person, concurrency int, rate float64) *Load {
	return RunLoad(ctx, len(people), concurrency, rate, func(i int) {
		p := people[i]
		out, ok := r.Client.SignUp(ctx, p)
		if ok {
			r.Exps.Add(p, out.At)
		}
	})
}

// Finish waits for the email to drain, counts it, and checks what every
// scenario must hold.
func (r *Run) Finish(ctx context.Context) {
	exps := r.Exps.All()
	r.Progress("load done; waiting for %d owed emails", len(exps))
	waitDrain(ctx, r, exps)
	t := tally(ctx, r.Stack, exps)
	snap := r.Client.Snapshot()
	writeMails(filepath.Join(r.Stack.LogDir, "mails.tsv"), r.Stack.SMTP.Mails())
	r.mu.Lock()
	r.finished, r.tally, r.snap = true, t, snap
	r.mu.Unlock()

	switch {
	case t.Lost > 0:
		r.drain = fmt.Sprintf("— (%d lost)", t.Lost)
	case len(exps) == 0:
		r.drain = "—"
	default:
		r.drain = round(max(0, t.LastMail.Sub(snap.LastAck))).String()
	}
	if t.Lost > 0 {
		r.Failf("%d owed emails lost (e.g. %s)", t.Lost, strings.Join(t.LostSample, "; "))
	}
	if t.Duplicated > 0 {
		r.Failf("%d duplicate emails (e.g. %s)", t.Duplicated, strings.Join(t.DupSample, " | "))
	}
	missing, undelivered, err := ackedCheck(ctx, r.Stack, snap.Acked)
	switch {
	case err != nil:
		r.Failf("could not read the events table: %v", err)
	default:
		if len(missing) > 0 {
			r.Failf("%d calls got 200 but are not in the events table (e.g. %s)", len(missing), strings.Join(missing[:min(5, len(missing))], ", "))
		}
		if len(undelivered) > 0 {
			r.Failf("%d accepted events not marked delivered at the end, so not known to have reached Temporal (e.g. %s)", len(undelivered), strings.Join(undelivered[:min(5, len(undelivered))], ", "))
		}
	}
	if len(t.Latencies) > 0 {
		r.Notef("accepted call → email at the SMTP server: p50 %s, p99 %s, max %s",
			round(pct(t.Latencies, 50)), round(pct(t.Latencies, 99)), round(t.Latencies[len(t.Latencies)-1]))
	}
	r.Notef("messages table: %s; events table: %s", fmtStates(t.MessageStates), fmtStates(t.EventStates))
	r.Notef("SMTP exchanges: %s", fmtStates(t.Fates))
	if t.Repeated > 0 {
		r.Notef("transactional sends repeated once with the same Message-ID after an uncertain first try (the rule): %d", t.Repeated)
	}
	if t.Unexpected > 0 {
		r.Notef("emails no accepted call owed (e.g. for calls stored but answered 5xx, or later journey steps): %d", t.Unexpected)
	}
	if snap.Calls != snap.Accepted {
		r.Notef("calls never accepted: %d (not owed anything)", snap.Calls-snap.Accepted)
	}
	for _, p := range r.Stack.Procs() {
		if n, sample := logErrors(p.LogPath); n > 0 {
			r.Notef("%s log: %d ERROR lines, e.g. %s", p.Name, n, strings.Join(sample, " | "))
			if strings.Contains(strings.Join(sample, " "), "anic") {
				r.keepDir = true
				r.Notef("a process logged a panic: logs kept in %s", r.Stack.LogDir)
			}
		}
	}
}

// writeMails lists every message the SMTP server received, for evidence.
func writeMails(path string, mails []*Mail) {
	var b strings.Builder
	b.WriteString("seq\tat\tto\tsubject\tmessage_id\tmarketing\texchange\n")
	for _, m := range mails {
		fmt.Fprintf(&b, "%d\t%s\t%s\t%s\t%s\t%t\t%s\n", m.Seq, m.At.Format("15:04:05.000"), strings.Join(m.To, ","), m.Subject, m.MessageID, m.Marketing, m.Fate())
	}
	_ = os.WriteFile(path, []byte(b.String()), 0o644)
}

// logErrors counts a log's ERROR lines and panics, with a few distinct ones.
func logErrors(path string) (int, []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil
	}
	n := 0
	seen := map[string]bool{}
	var sample []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "level=ERROR") && !strings.HasPrefix(line, "panic:") && !strings.Contains(line, "fatal error:") {
			continue
		}
		n++
		msg := line
		if i := strings.Index(line, "msg="); i >= 0 {
			msg = line[i:]
		}
		key := clip(msg, 60)
		if !seen[key] && len(sample) < 3 {
			seen[key] = true
			// The message, whose workflow, and the error: the parts that say what happened.
			short := clip(msg, 90)
			for _, field := range []string{" WorkflowID=", " error=", " Error="} {
				if i := strings.Index(line, field); i >= 0 {
					v := line[i+1:]
					if field == " WorkflowID=" {
						v, _, _ = strings.Cut(v, " ")
					}
					short += " " + clip(v, 300)
				}
			}
			sample = append(sample, short)
		}
	}
	return n, sample
}

// Print writes the scenario's table and verdict.
func (r *Run) Print(w *os.File) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "\n## %s\n\n", r.Scenario.Name)
	if r.Sizes != "" {
		fmt.Fprintf(w, "%s\n\n", r.Sizes)
	}
	if r.finished {
		t, s := r.tally, r.snap
		unknown := fmt.Sprint(t.UnknownRows)
		if t.UnknownMissing != t.UnknownRows {
			unknown = fmt.Sprintf("%d (%d missing)", t.UnknownRows, t.UnknownMissing)
		}
		fmt.Fprintln(w, "| events sent | accepted (200) | refused (4xx/5xx, no answer) | emails expected | delivered | lost | duplicated | unknown-by-rule | drain time |")
		fmt.Fprintln(w, "|---:|---:|---|---:|---:|---:|---:|---:|---:|")
		fmt.Fprintf(w, "| %d | %d | %s | %d | %d | %d | %d | %s | %s |\n\n",
			s.Calls, s.Accepted, s.Refusals(), t.Expected, t.Delivered, t.Lost, t.Duplicated, unknown, r.drain)
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.failures) == 0 {
		fmt.Fprintf(w, "\n**PASS** (%s)\n", round(time.Since(r.started)))
		return
	}
	fmt.Fprintf(w, "\n**FAIL**\n")
	for _, f := range r.failures {
		fmt.Fprintf(w, "- %s\n", f)
	}
	if r.Stack != nil {
		fmt.Fprintf(w, "- logs: %s\n", r.Stack.LogDir)
	}
}
