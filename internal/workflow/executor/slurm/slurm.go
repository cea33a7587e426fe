// Package slurm runs jobs on a Slurm cluster with sbatch, watches them with
// squeue (and sacct where accounting is on) and cancels them with scancel.
// The job directory must be on a filesystem the compute nodes share.
package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/workflow/executor"
	"github.com/clinomics/clinomics/internal/workflow/executor/local"
)

// Files the batch wrapper writes into the job directory.
const (
	wrapperFile  = "sbatch.sh"
	exitCodeFile = "exitcode"
	cpuFile      = "cputimes"
)

// Config selects where jobs go.
type Config struct {
	Partition    string
	Account      string
	PollInterval time.Duration
}

// Executor submits jobs to Slurm.
type Executor struct {
	cfg      Config
	capacity executor.Resources
}

// New checks that the Slurm commands answer and reads the largest node's
// CPUs and memory as the capacity.
func New(cfg Config) (*Executor, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	args := []string{"-h", "-o", "%c %m"}
	if cfg.Partition != "" {
		args = append(args, "-p", cfg.Partition)
	}
	out, err := command(context.Background(), "sinfo", args...)
	if err != nil {
		return nil, fmt.Errorf("slurm executor: %w", err)
	}
	var capRes executor.Resources
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		cpus, _ := strconv.Atoi(strings.TrimSuffix(f[0], "+"))
		mem, _ := strconv.Atoi(strings.TrimSuffix(f[1], "+"))
		capRes.Threads = max(capRes.Threads, cpus)
		capRes.MemoryMB = max(capRes.MemoryMB, mem)
	}
	if capRes.Threads == 0 {
		return nil, fmt.Errorf("slurm executor: sinfo lists no nodes%s", partitionNote(cfg.Partition))
	}
	return &Executor{cfg: cfg, capacity: capRes}, nil
}

func partitionNote(p string) string {
	if p == "" {
		return ""
	}
	return " in partition " + p
}

// Name implements executor.Executor.
func (e *Executor) Name() string { return "slurm" }

// Capacity implements executor.Executor.
func (e *Executor) Capacity() executor.Resources { return e.capacity }

// Run implements executor.Executor.
func (e *Executor) Run(ctx context.Context, job executor.Job) (executor.Result, error) {
	if err := executor.CheckFits(job, e.capacity, "the largest Slurm node"); err != nil {
		return executor.Result{}, err
	}
	threads := max(job.Threads, 1)
	for _, f := range []string{exitCodeFile, cpuFile, executor.StdoutFile, executor.StderrFile} {
		os.Remove(filepath.Join(job.Dir, f))
	}
	if err := writeScripts(job); err != nil {
		return executor.Result{}, err
	}
	args := []string{"--parsable", "--job-name", job.ID, "--chdir", job.Dir,
		"--output", filepath.Join(job.Dir, executor.StdoutFile), "--error", filepath.Join(job.Dir, executor.StderrFile),
		"--cpus-per-task", strconv.Itoa(threads), "--ntasks", "1", "--export", "NONE"}
	if job.MemoryMB > 0 {
		args = append(args, "--mem", strconv.Itoa(job.MemoryMB)+"M")
	}
	if e.cfg.Partition != "" {
		args = append(args, "--partition", e.cfg.Partition)
	}
	if e.cfg.Account != "" {
		args = append(args, "--account", e.cfg.Account)
	}
	args = append(args, filepath.Join(job.Dir, wrapperFile))
	start := time.Now()
	out, err := command(ctx, "sbatch", args...)
	if err != nil {
		if ctx.Err() != nil {
			return executor.Result{}, ctx.Err()
		}
		return executor.Result{}, fmt.Errorf("%w: %v", executor.ErrTransient, err)
	}
	id := strings.TrimSpace(strings.SplitN(strings.TrimSpace(out), ";", 2)[0])
	if _, err := strconv.Atoi(id); err != nil {
		return executor.Result{}, fmt.Errorf("%w: sbatch printed %q, not a job ID", executor.ErrTransient, out)
	}
	state, err := e.wait(ctx, id, job.Dir)
	if err != nil {
		if ctx.Err() != nil {
			command(context.Background(), "scancel", id)
			e.waitGone(id)
			return executor.Result{}, ctx.Err()
		}
		return executor.Result{}, err
	}
	res := executor.Result{Wall: time.Since(start), StderrTail: local.Tail(filepath.Join(job.Dir, executor.StderrFile), 20)}
	res.CPU = readCPU(filepath.Join(job.Dir, cpuFile))
	code, err := readExitCode(filepath.Join(job.Dir, exitCodeFile))
	if err != nil {
		switch state {
		case "NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "REQUEUED", "":
			return res, fmt.Errorf("%w: slurm job %s ended %s without an exit code", executor.ErrTransient, id, orUnknown(state))
		case "OUT_OF_MEMORY":
			res.ExitCode = 137
			res.StderrTail = strings.TrimSpace(res.StderrTail + "\nslurm: job exceeded its memory request (OUT_OF_MEMORY)")
			return res, nil
		case "TIMEOUT", "CANCELLED":
			return res, fmt.Errorf("slurm job %s ended %s", id, state)
		}
		return res, fmt.Errorf("%w: slurm job %s ended %s: %v", executor.ErrTransient, id, state, err)
	}
	res.ExitCode = code
	return res, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}

// writeScripts writes the job script and the batch wrapper that runs it,
// records CPU times and writes the exit code last (atomically).
func writeScripts(job executor.Job) error {
	if err := os.WriteFile(filepath.Join(job.Dir, local.ScriptFile), []byte("set -euo pipefail\n"+job.Script+"\n"), 0o640); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "export PATH=%s\n", shellQuote(os.Getenv("PATH")))
	for _, kv := range job.Env {
		k, v, _ := strings.Cut(kv, "=")
		if !validName.MatchString(k) {
			return fmt.Errorf("slurm: job %s: invalid environment variable name %q", job.ID, k)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	fmt.Fprintf(&b, "cd %s\n", shellQuote(job.Dir))
	fmt.Fprintf(&b, "bash %s\nrc=$?\n", local.ScriptFile)
	fmt.Fprintf(&b, "times > %s.tmp; mv %s.tmp %s\n", cpuFile, cpuFile, cpuFile)
	fmt.Fprintf(&b, "echo $rc > %s.tmp; mv %s.tmp %s\nexit $rc\n", exitCodeFile, exitCodeFile, exitCodeFile)
	return os.WriteFile(filepath.Join(job.Dir, wrapperFile), b.Bytes(), 0o750)
}

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// terminal lists Slurm job states after which the job no longer runs.
var terminal = map[string]bool{
	"COMPLETED": true, "FAILED": true, "CANCELLED": true, "TIMEOUT": true, "NODE_FAIL": true,
	"BOOT_FAIL": true, "OUT_OF_MEMORY": true, "PREEMPTED": true, "DEADLINE": true,
}

// wait polls until the job reaches a terminal state and returns it; "" when
// the job vanished from squeue and sacct knows nothing of it.
func (e *Executor) wait(ctx context.Context, id, dir string) (string, error) {
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	failures := 0
	for {
		state, err := jobState(ctx, id)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			if failures++; failures > 10 {
				return "", fmt.Errorf("%w: squeue keeps failing: %v", executor.ErrTransient, err)
			}
		case terminal[state]:
			return state, nil
		case state == "":
			// Gone from squeue: finished longer ago than MinJobAge.
			if _, err := os.Stat(filepath.Join(dir, exitCodeFile)); err == nil {
				return "COMPLETED", nil
			}
			return sacctState(ctx, id), nil
		default:
			failures = 0
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// waitGone waits (briefly) for a cancelled job to leave the running states.
func (e *Executor) waitGone(id string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s, err := jobState(context.Background(), id)
		if err == nil && (s == "" || terminal[s]) {
			return
		}
		time.Sleep(e.cfg.PollInterval)
	}
}

func jobState(ctx context.Context, id string) (string, error) {
	out, err := command(ctx, "squeue", "-h", "-t", "all", "-j", id, "-o", "%T")
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

func sacctState(ctx context.Context, id string) string {
	out, err := command(ctx, "sacct", "-n", "-P", "-X", "-j", id, "-o", "State")
	if err != nil {
		return ""
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func readExitCode(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// readCPU parses the children's line of bash's `times` output.
func readCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var total time.Duration
	for _, f := range strings.Fields(lines[len(lines)-1]) {
		if d, err := time.ParseDuration(f); err == nil {
			total += d
		}
	}
	return total
}

// command runs a Slurm client command and returns its stdout; an error
// carries its stderr.
func command(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s not found in PATH (install the Slurm client: apt-get install slurm-client)", name)
		}
		return "", fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
