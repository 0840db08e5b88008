// Package stack starts a whole Nudge for the end-to-end tests and the
// benchmark: a Temporal dev server from the CLI, a loopback SMTP server, and
// the platform (worker and gateway) configured against both, exactly as
// `nudge dev` wires them.
package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/nudgehq/nudge/config"
	"github.com/nudgehq/nudge/internal/smtptest"
	"github.com/nudgehq/nudge/platform"
	"github.com/nudgehq/nudge/workflows"
)

// ErrNoTemporal is returned when no Temporal CLI can be found.
var ErrNoTemporal = errors.New("no Temporal CLI: run `make test` (it builds one into ./bin) or set NUDGE_TEMPORAL_BIN")

// TemporalBin finds the Temporal CLI: $NUDGE_TEMPORAL_BIN, ./bin/temporal
// at the module root, or temporal on PATH.
func TemporalBin() (string, error) {
	if p := os.Getenv("NUDGE_TEMPORAL_BIN"); p != "" {
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if p := filepath.Join(dir, "bin", "temporal"); isExecutable(p) {
					return p, nil
				}
				break
			}
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", ErrNoTemporal
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// Stack is a running Nudge.
type Stack struct {
	Temporal *testsuite.DevServer
	SMTP     *smtptest.Server
	Platform *platform.Platform
	URL      string // the gateway, http://127.0.0.1:port
	WriteKey string
	AdminKey string
	Dir      string
	// TemporalMetrics is the dev server's Prometheus endpoint, for the
	// benchmark's count of persistence operations.
	TemporalMetrics string
	// Env is the NUDGE_* settings the stack runs with, for a worker started
	// in a process of its own.
	Env map[string]string

	worker sdkworker.Worker
	stop   context.CancelFunc
	served chan error
}

// Options adjust a stack.
type Options struct {
	// Env overrides NUDGE_* settings.
	Env map[string]string
	// Log receives the platform's logs; nil discards them.
	Log io.Writer
	// DynamicConfig sets Temporal server knobs, like
	// "limit.historyCount.suggestContinueAsNew=40".
	DynamicConfig []string
	// NoWorker leaves the worker out, for a caller that runs `nudge
	// worker` in a process of its own (with Env).
	NoWorker bool
}

// Start brings up Temporal, SMTP and Nudge. dir holds the databases.
func Start(ctx context.Context, dir string, opts Options) (s *Stack, err error) {
	bin, err := TemporalBin()
	if err != nil {
		return nil, err
	}
	logOut := opts.Log
	if logOut == nil {
		logOut = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))

	s = &Stack{Dir: dir, WriteKey: "wk_" + rand.Text()[:16], AdminKey: "ak_" + rand.Text()[:16], served: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// The same server settings `make dev` runs with (scripts/dev.sh).
	extra := []string{
		"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=NORMAL",
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
	}
	for _, sa := range workflows.SearchAttributes() {
		extra = append(extra, "--search-attribute", sa)
	}
	for _, dc := range opts.DynamicConfig {
		extra = append(extra, "--dynamic-config-value", dc)
	}
	if s.Temporal, s.TemporalMetrics, err = startTemporal(ctx, bin, dir, extra, logOut, log); err != nil {
		return nil, err
	}
	if s.SMTP, err = smtptest.Start(); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + l.Addr().String()

	vars := map[string]string{
		"NUDGE_TEMPORAL_ADDRESS": s.Temporal.FrontendHostPort(),
		"NUDGE_TASK_QUEUE":       "nudge-" + strings.ToLower(rand.Text()[:8]),
		"NUDGE_DATABASE_URL":     "sqlite://" + filepath.Join(dir, "nudge.db"),
		"NUDGE_SMTP_URL":         "smtp://" + s.SMTP.Addr,
		"NUDGE_EMAIL_FROM":       "Acme <hello@acme.example.com>",
		"NUDGE_ACCOUNT_OWNER":    "Sam Lee <sam@acme.example.com>",
		"NUDGE_BRAND_NAME":       "Acme",
		"NUDGE_PUBLIC_URL":       s.URL,
		"NUDGE_WRITE_KEYS":       s.WriteKey,
		"NUDGE_ADMIN_KEYS":       s.AdminKey,
		"NUDGE_SECRET":           rand.Text(),
		// Plain payloads, so recorded histories replay without a key;
		// platform/encryption_test.go runs a stack with keys.
		"NUDGE_ENCRYPTION": "off",
		"NUDGE_SALES_REPS": "Sam Lee:sam@acme.example.com:U0SAM,Ana Ruiz:ana@acme.example.com:U0ANA",
	}
	for k, v := range opts.Env {
		vars[k] = v
	}
	s.Env = vars
	cfg, err := config.LoadFrom(vars)
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireServing(); err != nil {
		return nil, err
	}
	if s.Platform, err = platform.Open(ctx, cfg, log); err != nil {
		return nil, err
	}
	if !opts.NoWorker {
		if s.worker, err = s.Platform.StartWorker(ctx); err != nil {
			return nil, err
		}
	}
	serveCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go func() { s.served <- s.Platform.Serve(serveCtx, l) }()
	return s, nil
}

// startTemporal starts the dev server, trying again when it dies at start.
// The CLI picks free ports for its internal services itself, and with other
// test packages starting servers at the same moment one of them can be taken
// before it binds ("address already in use"); the server then panics, and
// the SDK would go on dialling a dead port for a minute.
func startTemporal(ctx context.Context, bin, dir string, extra []string, logOut io.Writer, log *slog.Logger) (*testsuite.DevServer, string, error) {
	const attempts = 3
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		metricsPort, err := FreePort()
		if err != nil {
			return nil, "", err
		}
		actx, died := context.WithCancel(ctx)
		out := &deathWatch{w: logOut, died: died}
		srv, err := testsuite.StartDevServer(actx, testsuite.DevServerOptions{
			ExistingPath: bin,
			ClientOptions: &client.Options{
				Namespace: "default",
				Logger:    sdklog.NewStructuredLogger(log),
			},
			DBFilename: filepath.Join(dir, fmt.Sprintf("temporal-%d.db", attempt)),
			LogLevel:   "error",
			ExtraArgs:  append(slices.Clip(extra), "--metrics-port", strconv.Itoa(metricsPort)),
			Stdout:     out,
			Stderr:     out,
		})
		died()
		if err == nil {
			return srv, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort), nil
		}
		lastErr = fmt.Errorf("start the Temporal dev server (attempt %d of %d): %w", attempt, attempts, err)
		if ctx.Err() != nil || !out.dead.Load() {
			break
		}
		log.Warn("the Temporal dev server died at start; starting another", "attempt", attempt)
	}
	return nil, "", lastErr
}

// deathWatch passes the dev server's output on and cancels the start when
// the output says the server cannot run.
type deathWatch struct {
	w    io.Writer
	died context.CancelFunc
	dead atomic.Bool
}

func (d *deathWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("address already in use")) || bytes.Contains(p, []byte("panic:")) {
		d.dead.Store(true)
		d.died()
	}
	return d.w.Write(p)
}

// Close stops everything Start started.
func (s *Stack) Close() {
	if s == nil {
		return // Start failed before it had anything to stop
	}
	if s.stop != nil {
		s.stop()
		select {
		case <-s.served:
		case <-time.After(15 * time.Second):
		}
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.Platform != nil {
		s.Platform.Close()
	}
	if s.SMTP != nil {
		s.SMTP.Close()
	}
	if s.Temporal != nil {
		s.Temporal.Stop()
	}
}

// httpClient keeps connections open, as Segment's libraries do; the default
// client keeps only two per host, and the benchmark has more in flight.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}

// Post sends a Segment call to the gateway with the write key and returns an
// error unless it was accepted.
func (s *Stack) Post(path, body string) error {
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(s.WriteKey, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(got)) != `{"success":true}` {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, got)
	}
	return nil
}

// Admin calls the gateway's admin API and returns the answer's body, or an
// error unless the status is 2xx.
func (s *Stack) Admin(method, path, body string) ([]byte, error) {
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return got, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, got)
	}
	return got, nil
}

// WaitForEmail waits until the SMTP server has a message to `to` with subject.
func (s *Stack) WaitForEmail(ctx context.Context, to, subject string) (smtptest.Message, error) {
	m, err := s.SMTP.WaitFor(ctx, func(m smtptest.Message) bool {
		return len(m.To) == 1 && m.To[0] == to && m.Header.Get("Subject") == subject
	})
	if err != nil {
		var got []string
		for _, m := range s.SMTP.Messages() {
			got = append(got, strings.Join(m.To, ",")+": "+m.Header.Get("Subject"))
		}
		return m, fmt.Errorf("no email %q to %s (the SMTP server has %q): %w", subject, to, got, err)
	}
	return m, nil
}

// FreePort asks the kernel for a loopback port that is free now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
