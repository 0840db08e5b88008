package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/nudgehq/nudge/internal/stack"
	"github.com/nudgehq/nudge/models"
)

// Stack is a whole Nudge on loopback, one process per part: the Temporal dev
// server, one worker and one or more gateways, with an SMTP server in the
// harness. Each scenario gets its own.
type Stack struct {
	Dir, LogDir string

	TemporalAddr string
	Temporal     *Proc
	SMTP         *MailServer
	DatabaseURL  string
	MySQLDB      string // the database created for this stack, if MySQL
	Worker       *Proc
	Gateways     []*Gateway
	Store        *models.Store // the harness's own connection, for reading
	tc           client.Client // the harness's own Temporal client, for evidence

	WriteKey, AdminKey, Secret, ShopifySecret string
	// EncryptionKey (base64, 32 bytes) encrypts Temporal payloads, as a
	// production stack would.
	EncryptionKey string
}

// Gateway is one gateway process and where it listens.
type Gateway struct {
	*Proc
	URL string
}

// StackOptions choose the database and how many gateways.
type StackOptions struct {
	Gateways int
	MySQL    bool
}

var (
	nudgeBin         string
	temporalBin      string
	searchAttributes []string
	mysqlDSN         string // root@tcp(127.0.0.1:3306)/ : no database
)

// StartStack brings up Temporal, SMTP, the gateways and the worker, in that
// order, each waited for.
func StartStack(ctx context.Context, dir, tag string, opts StackOptions) (s *Stack, err error) {
	s = &Stack{Dir: dir, LogDir: filepath.Join(dir, "logs"),
		WriteKey: "wk_" + rand.Text()[:16], AdminKey: "ak_" + rand.Text()[:16],
		Secret: rand.Text(), ShopifySecret: "shpss_" + rand.Text(), EncryptionKey: newEncryptionKey()}
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close(false)
		}
	}()
	if s.SMTP, err = StartMailServer(); err != nil {
		return nil, err
	}
	if err := s.startTemporal(ctx); err != nil {
		return nil, err
	}

	s.DatabaseURL = "sqlite://" + filepath.Join(dir, "nudge.db")
	if opts.MySQL {
		s.MySQLDB = fmt.Sprintf("chaos_%d_%s", time.Now().Unix(), strings.ReplaceAll(tag, "-", "_"))
		if err := mysqlExec(ctx, "CREATE DATABASE `"+s.MySQLDB+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
			s.MySQLDB = ""
			return nil, fmt.Errorf("create the MySQL database: %w", err)
		}
		s.DatabaseURL = "mysql://" + strings.TrimSuffix(mysqlDSN, "/") + "/" + s.MySQLDB
	}

	n := max(opts.Gateways, 1)
	for i := range n {
		port, err := stack.FreePort()
		if err != nil {
			return nil, err
		}
		name := "gateway"
		if n > 1 {
			name = fmt.Sprintf("gateway-%c", 'a'+i)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		env, err := s.env(url, map[string]string{"NUDGE_HTTP_ADDR": fmt.Sprintf("127.0.0.1:%d", port)})
		if err != nil {
			return nil, err
		}
		g := &Gateway{Proc: &Proc{Name: name, Path: nudgeBin, Args: []string{"gateway"}, Env: env,
			LogPath: filepath.Join(s.LogDir, name+".log")}, URL: url}
		s.Gateways = append(s.Gateways, g)
		// One at a time: each migrates the database at start.
		if err := g.Start(); err != nil {
			return nil, err
		}
		if err := g.WaitHealthy(ctx, 90*time.Second); err != nil {
			return nil, err
		}
	}

	env, err := s.env(s.Gateways[0].URL, nil)
	if err != nil {
		return nil, err
	}
	s.Worker = &Proc{Name: "worker", Path: nudgeBin, Args: []string{"worker"}, Env: env, LogPath: filepath.Join(s.LogDir, "worker.log")}
	if err := s.StartWorker(); err != nil {
		return nil, err
	}
	if s.Store, err = models.Open(s.DatabaseURL); err != nil {
		return nil, fmt.Errorf("open the app database for reading: %w", err)
	}
	return s, nil
}

// env is a Nudge process's environment: the harness's own, minus any NUDGE_*
// setting, plus this stack's.
func (s *Stack) env(publicURL string, extra map[string]string) ([]string, error) {
	metrics, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	vars := map[string]string{
		"NUDGE_TEMPORAL_ADDRESS":       s.TemporalAddr,
		"NUDGE_TEMPORAL_NAMESPACE":     "default",
		"NUDGE_TASK_QUEUE":             "chaos",
		"NUDGE_DATABASE_URL":           s.DatabaseURL,
		"NUDGE_SMTP_URL":               "smtp://" + s.SMTP.Addr,
		"NUDGE_PUBLIC_URL":             publicURL,
		"NUDGE_SITE_URL":               publicURL,
		"NUDGE_HTTP_ADDR":              "127.0.0.1:0",
		"NUDGE_WRITE_KEYS":             s.WriteKey,
		"NUDGE_ADMIN_KEYS":             s.AdminKey,
		"NUDGE_SECRET":                 s.Secret,
		"NUDGE_ENCRYPTION_KEYS":        "chaos:" + s.EncryptionKey,
		"NUDGE_EMAIL_FROM":             "Acme <hello@acme.example.com>",
		"NUDGE_ACCOUNT_OWNER":          "Sam Lee <sam@acme.example.com>",
		"NUDGE_SALES_REPS":             "Sam Lee:sam@acme.example.com:U0SAM",
		"NUDGE_BRAND_NAME":             "Acme",
		"NUDGE_SHOPIFY_WEBHOOK_SECRET": s.ShopifySecret,
		"NUDGE_LOG_LEVEL":              "info",
		"NUDGE_METRICS_ADDR":           fmt.Sprintf("127.0.0.1:%d", metrics),
	}
	for k, v := range extra {
		vars[k] = v
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NUDGE_") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env, nil
}

func (s *Stack) startTemporal(ctx context.Context) error {
	var ports [4]int
	for i := range ports {
		p, err := stack.FreePort()
		if err != nil {
			return err
		}
		ports[i] = p
	}
	s.TemporalAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	// The server settings `make dev` runs with (scripts/dev.sh).
	args := []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(ports[0]), "--ui-port", strconv.Itoa(ports[1]),
		"--http-port", strconv.Itoa(ports[2]), "--metrics-port", strconv.Itoa(ports[3]),
		"--db-filename", filepath.Join(s.Dir, "temporal.db"),
		"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=NORMAL",
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
		"--log-level", "warn"}
	for _, sa := range searchAttributes {
		args = append(args, "--search-attribute", sa)
	}
	s.Temporal = &Proc{Name: "temporal", Path: temporalBin, Args: args, Env: os.Environ(), LogPath: filepath.Join(s.LogDir, "temporal.log")}
	return s.StartTemporal(ctx)
}

// StartTemporal starts the dev server (again, on the same database file and
// port) and waits until it answers.
func (s *Stack) StartTemporal(ctx context.Context) error {
	if err := s.Temporal.Start(); err != nil {
		return err
	}
	return waitTemporal(ctx, s.TemporalAddr, s.Temporal, 90*time.Second)
}

// StartWorker starts the worker (again) and waits until it polls.
func (s *Stack) StartWorker() error {
	if err := s.Worker.Start(); err != nil {
		return err
	}
	return s.Worker.WaitLog("worker running", 90*time.Second)
}

// TemporalClient is the harness's own client, dialled on first use.
func (s *Stack) TemporalClient(ctx context.Context) (client.Client, error) {
	if s.tc != nil {
		return s.tc, nil
	}
	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(cctx, client.Options{HostPort: s.TemporalAddr, Namespace: "default", Logger: quiet})
	if err != nil {
		return nil, err
	}
	s.tc = c
	return c, nil
}

// Procs are the stack's processes.
func (s *Stack) Procs() []*Proc {
	var out []*Proc
	if s.Temporal != nil {
		out = append(out, s.Temporal)
	}
	if s.Worker != nil {
		out = append(out, s.Worker)
	}
	for _, g := range s.Gateways {
		out = append(out, g.Proc)
	}
	return out
}

// WaitHealthy waits until the gateway answers /healthz.
func (g *Gateway) WaitHealthy(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := c.Get(g.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !g.Running() {
			return fmt.Errorf("%s exited at start; see %s", g.Name, g.LogPath)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not answer /healthz within %s; see %s", g.Name, d, g.LogPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Restart starts a killed gateway again on the same address.
func (g *Gateway) Restart(ctx context.Context) error {
	if err := g.Start(); err != nil {
		return err
	}
	return g.WaitHealthy(ctx, 90*time.Second)
}

func waitTemporal(ctx context.Context, addr string, p *Proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		c, err := client.DialContext(cctx, client.Options{HostPort: addr, Namespace: "default", Logger: quiet})
		if err == nil {
			_, err = c.CheckHealth(cctx, &client.CheckHealthRequest{})
			c.Close()
		}
		cancel()
		if err == nil {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("the Temporal dev server exited; see %s", p.LogPath)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the Temporal dev server did not answer within %s (%v); see %s", d, err, p.LogPath)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Close stops every process, then the SMTP server; drops the MySQL database
// unless keep.
func (s *Stack) Close(keep bool) {
	if s.Worker != nil {
		s.Worker.Stop()
	}
	for _, g := range s.Gateways {
		g.Stop()
	}
	if s.Temporal != nil {
		s.Temporal.Thaw() // in case a scenario left it frozen
		s.Temporal.Stop()
	}
	if s.SMTP != nil {
		s.SMTP.Close()
	}
	if s.Store != nil {
		s.Store.Close()
	}
	if s.tc != nil {
		s.tc.Close()
	}
	if s.MySQLDB != "" && !keep {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := mysqlExec(ctx, "DROP DATABASE IF EXISTS `"+s.MySQLDB+"`"); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: could not drop MySQL database %s: %v\n", s.MySQLDB, err)
		}
	}
}

func init() {
	// The harness's own connections see MariaDB restart; that is expected.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// mysqlExec runs one statement on the MariaDB server, outside any database.
func mysqlExec(ctx context.Context, stmt string) error {
	db, err := sql.Open("mysql", mysqlDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// mysqlPing reports whether MariaDB answers `mysqladmin ping`.
func mysqlPing(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return exec.CommandContext(cctx, "mysqladmin", "--host=127.0.0.1", "--user=root", "ping").Run() == nil
}

// newEncryptionKey is a random AES-256 key, base64.
func newEncryptionKey() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}
