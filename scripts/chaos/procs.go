package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process (the Temporal dev server, a worker, a gateway),
// with its stdout and stderr appended to one log file across restarts.
type Proc struct {
	Name    string
	Path    string
	Args    []string
	Env     []string
	LogPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	starts   int
	logStart int64 // size of the log when the current run started
	frozen   bool
}

// Start starts the process (again).
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.exited) {
		return fmt.Errorf("%s is already running", p.Name)
	}
	f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	p.starts++
	fmt.Fprintf(f, "\n=== chaos: start #%d at %s ===\n", p.starts, stamp())
	if fi, err := f.Stat(); err == nil {
		p.logStart = fi.Size()
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so a Ctrl-C reaches only the harness, which
	// stops everything; and killed with the harness if that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "\n=== chaos: %s exited at %s: %v ===\n", p.Name, stamp(), err)
		f.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	return nil
}

// Pid is the current process's ID, or 0.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || closed(p.exited) {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool { return p.Pid() != 0 }

// Exited is closed when the current run ends.
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Kill9 sends SIGKILL and waits until the process is gone.
func (p *Proc) Kill9() {
	p.note("kill -9")
	p.signal(syscall.SIGKILL)
	p.wait(30 * time.Second)
}

// Stop asks the process to stop (SIGTERM), then kills it after a while.
func (p *Proc) Stop() {
	if !p.Running() {
		return
	}
	p.signal(syscall.SIGTERM)
	if !p.wait(15 * time.Second) {
		p.signal(syscall.SIGKILL)
		p.wait(15 * time.Second)
	}
}

// Freeze (SIGSTOP) and Thaw (SIGCONT) pause the process without losing it.
func (p *Proc) Freeze() {
	p.note("SIGSTOP")
	p.signal(syscall.SIGSTOP)
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// Thaw resumes a frozen process; it does nothing to one that is not.
func (p *Proc) Thaw() {
	p.mu.Lock()
	frozen := p.frozen
	p.frozen = false
	p.mu.Unlock()
	if frozen {
		p.signal(syscall.SIGCONT)
		p.note("SIGCONT")
	}
}

func (p *Proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.exited) {
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *Proc) wait(d time.Duration) bool {
	ch := p.Exited()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// note writes a line from the harness into the process's log.
func (p *Proc) note(what string) {
	if f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(f, "\n=== chaos: %s %s at %s ===\n", what, p.Name, stamp())
		f.Close()
	}
}

// LogSince returns what the current run has logged so far.
func (p *Proc) LogSince() string {
	p.mu.Lock()
	start := p.logStart
	p.mu.Unlock()
	b, err := os.ReadFile(p.LogPath)
	if err != nil || int64(len(b)) < start {
		return ""
	}
	return string(b[start:])
}

// WaitLog waits until the current run logs want, or exits, or d passes.
func (p *Proc) WaitLog(want string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if strings.Contains(p.LogSince(), want) {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("%s exited before logging %q; see %s", p.Name, want, p.LogPath)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %s; see %s", p.Name, want, d, p.LogPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RSS reads the process's resident set size from /proc, in bytes.
func (p *Proc) RSS() (int64, error) {
	pid := p.Pid()
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", p.Name)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func closed(ch chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func stamp() string { return time.Now().Format("15:04:05.000") }
