// Package executortest is the conformance suite every executor backend
// must pass: exit codes, stderr tails, environment, strict bash, capacity
// limits, concurrency within capacity, CPU accounting and cancellation.
package executortest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/workflow/executor"
)

// Run runs the suite against ex. dir must be visible to the backend's
// workers (a shared filesystem for a cluster).
func Run(t *testing.T, ex executor.Executor, dir string) {
	s := &suite{ex: ex, dir: dir}
	t.Run("Success", s.success)
	t.Run("NonZeroExit", s.nonZero)
	t.Run("StrictBash", s.strict)
	t.Run("TooLarge", s.tooLarge)
	t.Run("ConcurrencyWithinCapacity", s.concurrency)
	t.Run("CPUAccounting", s.cpu)
	t.Run("Cancellation", s.cancel)
}

type suite struct {
	ex  executor.Executor
	dir string
	n   int
	mu  sync.Mutex
}

func (s *suite) job(t *testing.T, script string) executor.Job {
	t.Helper()
	s.mu.Lock()
	s.n++
	id := fmt.Sprintf("conf-%d-%d", os.Getpid(), s.n)
	s.mu.Unlock()
	d := filepath.Join(s.dir, id)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return executor.Job{ID: id, Script: script, Dir: d, Threads: 1}
}

func (s *suite) run(t *testing.T, j executor.Job) executor.Result {
	t.Helper()
	res, err := s.ex.Run(context.Background(), j)
	if err != nil {
		t.Fatalf("Run(%s): %v", j.ID, err)
	}
	return res
}

func (s *suite) success(t *testing.T) {
	j := s.job(t, `echo "out:$GREETING" ; echo "err:$GREETING" >&2; printf '%s' "$GREETING" > result.txt; echo "threads $TASK_THREADS"`)
	j.Env = []string{`GREETING=it's a "quoted" $value, with commas`, "TASK_THREADS=1"}
	res := s.run(t, j)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d, stderr %q", res.ExitCode, res.StderrTail)
	}
	got, err := os.ReadFile(filepath.Join(j.Dir, "result.txt"))
	if err != nil {
		t.Fatalf("the job did not run in its directory: %v", err)
	}
	if want := `it's a "quoted" $value, with commas`; string(got) != want {
		t.Errorf("environment value %q, want %q", got, want)
	}
	out, _ := os.ReadFile(filepath.Join(j.Dir, executor.StdoutFile))
	if !strings.Contains(string(out), "out:it's a") || !strings.Contains(string(out), "threads 1") {
		t.Errorf("stdout file: %q", out)
	}
	if !strings.Contains(res.StderrTail, "err:it's a") {
		t.Errorf("stderr tail %q lacks the job's stderr", res.StderrTail)
	}
	if res.Wall <= 0 {
		t.Errorf("wall time %v", res.Wall)
	}
}

func (s *suite) nonZero(t *testing.T) {
	var script strings.Builder
	for i := range 50 {
		fmt.Fprintf(&script, "echo line%d >&2\n", i)
	}
	script.WriteString("echo 'tool: bad input at record 7' >&2; exit 3\n")
	res := s.run(t, s.job(t, script.String()))
	if res.ExitCode != 3 {
		t.Errorf("exit %d, want 3", res.ExitCode)
	}
	if !strings.Contains(res.StderrTail, "bad input at record 7") {
		t.Errorf("stderr tail %q lacks the last line", res.StderrTail)
	}
	if strings.Contains(res.StderrTail, "line0\n") {
		t.Errorf("stderr tail is not a tail: %q", res.StderrTail)
	}
}

func (s *suite) strict(t *testing.T) {
	for name, script := range map[string]string{
		"pipefail":      "false | cat\necho after > after.txt",
		"errexit":       "false\necho after > after.txt",
		"unset":         `echo "$NO_SUCH_VARIABLE_SET"` + "\necho after > after.txt",
		"killed itself": "kill -9 $$\necho after > after.txt",
	} {
		j := s.job(t, script)
		res := s.run(t, j)
		if res.ExitCode == 0 {
			t.Errorf("%s: exit 0, want failure", name)
		}
		if _, err := os.Stat(filepath.Join(j.Dir, "after.txt")); err == nil {
			t.Errorf("%s: the script went on after the failure", name)
		}
		if name == "killed itself" && res.ExitCode != 128+9 {
			t.Errorf("killed by SIGKILL: exit %d, want 137", res.ExitCode)
		}
	}
}

func (s *suite) tooLarge(t *testing.T) {
	c := s.ex.Capacity()
	if c.Threads < 1 || c.MemoryMB < 1 {
		t.Fatalf("capacity %+v", c)
	}
	j := s.job(t, "true")
	j.Threads = c.Threads + 1
	if _, err := s.ex.Run(context.Background(), j); !errors.Is(err, executor.ErrTooLarge) {
		t.Errorf("threads %d > capacity: err %v, want ErrTooLarge", j.Threads, err)
	}
	j.Threads, j.MemoryMB = 1, c.MemoryMB+1
	if _, err := s.ex.Run(context.Background(), j); !errors.Is(err, executor.ErrTooLarge) {
		t.Errorf("memory %d > capacity: err %v, want ErrTooLarge", j.MemoryMB, err)
	}
}

// concurrency runs more one-thread jobs than the capacity at once; each
// records when it started and ended, and the overlap never exceeds the
// capacity while more than one job runs at a time.
func (s *suite) concurrency(t *testing.T) {
	c := s.ex.Capacity()
	n := c.Threads*2 + 1
	var wg sync.WaitGroup
	jobs := make([]executor.Job, n)
	// Each job marks its start in a shared directory, then waits (up to
	// 10 s) until two jobs have started, so the overlap does not depend on
	// how fast the backend schedules. An executor that runs one job at a
	// time makes every job wait out the 10 s and shows a peak of 1.
	barrier := filepath.Join(s.dir, fmt.Sprintf("barrier-%d", time.Now().UnixNano()))
	if err := os.MkdirAll(barrier, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range jobs {
		jobs[i] = s.job(t, `date +%s%N > start; touch "$BARRIER/$JOB_NAME"
for _ in $(seq 100); do
  (( $(ls "$BARRIER" | wc -l) >= 2 )) && break
  sleep 0.1
done
sleep 0.3; date +%s%N > end`)
		jobs[i].Env = []string{"BARRIER=" + barrier, "JOB_NAME=" + jobs[i].ID}
	}
	errs := make([]error, n)
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.ex.Run(context.Background(), jobs[i])
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d: %s", res.ExitCode, res.StderrTail)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for i, j := range jobs {
		if errs[i] != nil {
			t.Fatalf("job %d: %v", i, errs[i])
		}
		edges = append(edges, edge{readNanos(t, filepath.Join(j.Dir, "start")), 1}, edge{readNanos(t, filepath.Join(j.Dir, "end")), -1})
	}
	sort.Slice(edges, func(a, b int) bool {
		if edges[a].at != edges[b].at {
			return edges[a].at < edges[b].at
		}
		return edges[a].delta < edges[b].delta
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}
	if peak > c.Threads {
		t.Errorf("%d one-thread jobs ran at once, capacity is %d", peak, c.Threads)
	}
	if c.Threads > 1 && peak < 2 {
		t.Errorf("jobs never overlapped (peak %d) with capacity %d", peak, c.Threads)
	}
}

func readNanos(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *suite) cpu(t *testing.T) {
	res := s.run(t, s.job(t, `i=0; while ((i < 300000)); do i=$((i+1)); done`))
	if res.ExitCode != 0 || res.CPU <= 0 {
		t.Errorf("busy job: exit %d, CPU %v; want CPU time recorded", res.ExitCode, res.CPU)
	}
	if res.CPU > 2*res.Wall+time.Second {
		t.Errorf("CPU %v is implausible for wall %v with one thread", res.CPU, res.Wall)
	}
}

// cancel starts a job that would run for minutes, cancels it once it is
// running, and checks that Run returns the context's error and that the
// job's processes are gone.
func (s *suite) cancel(t *testing.T) {
	j := s.job(t, `sleep 600 & echo $! > child.pid; echo $$ > shell.pid; wait`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			if _, err := os.Stat(filepath.Join(j.Dir, "child.pid")); err == nil {
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	_, err := s.ex.Run(ctx, j)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	for _, f := range []string{"shell.pid", "child.pid"} {
		b, err := os.ReadFile(filepath.Join(j.Dir, f))
		if err != nil {
			continue // cancelled before the shell wrote it
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after cancellation", f, pid)
		}
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}
