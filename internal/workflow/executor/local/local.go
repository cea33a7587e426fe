// Package local runs jobs as bash processes on this machine, never more at
// once than its cores and memory allow.
package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clinomics/clinomics/internal/workflow/executor"
)

// ScriptFile is the name of the script written into the job directory.
const ScriptFile = "job.sh"

// killGrace is how long a cancelled job gets between SIGTERM and SIGKILL.
const killGrace = 3 * time.Second

// Executor is the local process pool.
type Executor struct {
	capacity executor.Resources
	pool     *pool
}

// New makes a pool of the given size; zero fields mean all cores and 80% of
// physical memory.
func New(r executor.Resources) *Executor {
	if r.Threads <= 0 {
		r.Threads = runtime.NumCPU()
	}
	if r.MemoryMB <= 0 {
		r.MemoryMB = physicalMemoryMB() * 8 / 10
	}
	return &Executor{capacity: r, pool: newPool(r)}
}

// Name implements executor.Executor.
func (e *Executor) Name() string { return "local" }

// Capacity implements executor.Executor.
func (e *Executor) Capacity() executor.Resources { return e.capacity }

// Run implements executor.Executor.
func (e *Executor) Run(ctx context.Context, job executor.Job) (executor.Result, error) {
	if err := executor.CheckFits(job, e.capacity, "this machine"); err != nil {
		return executor.Result{}, err
	}
	threads := max(job.Threads, 1)
	if err := e.pool.acquire(ctx, threads, job.MemoryMB); err != nil {
		return executor.Result{}, err
	}
	defer e.pool.release(threads, job.MemoryMB)
	return runScript(ctx, job)
}

// runScript runs job.Script with bash in its own process group.
func runScript(ctx context.Context, job executor.Job) (executor.Result, error) {
	script := filepath.Join(job.Dir, ScriptFile)
	if err := os.WriteFile(script, []byte("set -euo pipefail\n"+job.Script+"\n"), 0o640); err != nil {
		return executor.Result{}, err
	}
	stdout, err := os.Create(filepath.Join(job.Dir, executor.StdoutFile))
	if err != nil {
		return executor.Result{}, err
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(job.Dir, executor.StderrFile))
	if err != nil {
		return executor.Result{}, err
	}
	defer stderr.Close()

	cmd := exec.Command("bash", script)
	cmd.Dir = job.Dir
	cmd.Env = append(os.Environ(), job.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Own process group, so cancelling kills the whole pipeline; and
	// SIGKILL to bash if this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return executor.Result{}, fmt.Errorf("%w: start bash: %v", executor.ErrTransient, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
			syscall.Kill(-pgid, syscall.SIGKILL) // stragglers in the group
		case <-time.After(killGrace):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		waitGroupGone(pgid, killGrace)
		return executor.Result{}, ctx.Err()
	}
	// Anything the script left running in the background dies with it.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	res := executor.Result{Wall: time.Since(start), StderrTail: Tail(filepath.Join(job.Dir, executor.StderrFile), 20)}
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitCode = 128 + int(ws.Signal())
		} else {
			res.ExitCode = ps.ExitCode()
		}
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return res, fmt.Errorf("%w: wait: %v", executor.ErrTransient, waitErr)
	}
	return res, nil
}

// waitGroupGone waits (at most limit) until no live process is left in
// the process group, so a cancelled job's processes are gone when Run
// returns. SIGKILL is delivered asynchronously; zombies do not count.
func waitGroupGone(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && groupAlive(pgid) {
		time.Sleep(10 * time.Millisecond)
	}
}

func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name: state ppid pgrp ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return true
		}
	}
	return false
}

// Tail returns up to the last n lines (at most 4 KiB) of a file.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 4096
	if st, err := f.Stat(); err == nil && st.Size() > max {
		f.Seek(st.Size()-max, 0)
	}
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// physicalMemoryMB reads MemTotal from /proc/meminfo (4 GiB if unknown).
func physicalMemoryMB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 4096
}
