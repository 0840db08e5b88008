package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nudgehq/nudge/internal/stack"
)

// scaleRun brings o.scale contacts into Nudge, each with a running
// ContactWorkflow and an open welcome journey (waiting for day 2), with the
// worker in a process of its own, and prints the worker's memory each time
// another tenth of them is in, then the databases' sizes.
func scaleRun(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "nudge-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "nudge")
	build := exec.Command("go", "build", "-o", bin, "./cmd/nudge")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build nudge: %w", err)
	}
	s, err := stack.Start(ctx, dir, stack.Options{NoWorker: true})
	if err != nil {
		return err
	}
	defer s.Close()
	s.SMTP.DropBodies = true

	worker := exec.Command(bin, "worker")
	worker.Env = append(os.Environ(), "NUDGE_METRICS_ADDR=off", "NUDGE_LOG_LEVEL=warn")
	for k, v := range s.Env {
		worker.Env = append(worker.Env, k+"="+v)
	}
	logFile, err := os.Create(filepath.Join(dir, "worker.log"))
	if err != nil {
		return err
	}
	worker.Stdout, worker.Stderr = logFile, logFile
	if err := worker.Start(); err != nil {
		return err
	}
	defer func() {
		_ = worker.Process.Signal(os.Interrupt)
		_ = worker.Wait()
	}()

	fmt.Printf("Scale: %d contacts, each with a ContactWorkflow and an open welcome journey; the worker in its own process (sticky cache %s).\n",
		o.scale, stickyCache())
	fmt.Printf("  %10s %12s %14s %14s\n", "contacts", "worker RSS", "temporal.db", "nudge.db")
	step := max(o.scale/10, 1)
	for done := 0; done < o.scale; {
		n := min(step, o.scale-done)
		if _, err := signupBurstFrom(ctx, s, done, n, o.concurrency); err != nil {
			return fmt.Errorf("after %d contacts: %w", done, err)
		}
		done += n
		rss, err := rssOf(worker.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("  %10d %10.0f MB %11.0f MB %11.0f MB\n", done, float64(rss)/(1<<20),
			sizeMB(filepath.Join(dir, "temporal.db")), sizeMB(filepath.Join(dir, "nudge.db")))
	}
	return nil
}

// stickyCache is the worker's sticky cache size, as NUDGE_WORKFLOW_CACHE
// sets it (or its default).
func stickyCache() string {
	if v := os.Getenv("NUDGE_WORKFLOW_CACHE"); v != "" {
		return v
	}
	return "the default"
}

// rssOf reads a process's resident memory from /proc.
func rssOf(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %d", pid)
}

// sizeMB is a SQLite database's size with its write-ahead log.
func sizeMB(path string) float64 {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	return float64(total) / (1 << 20)
}
