package workflow

import (
	"container/heap"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/workflow/executor"
)

// Engine executes graphs on an executor and records every state change in
// the catalog.
type Engine struct {
	Store      catalog.Store
	Exec       executor.Executor
	Log        *slog.Logger
	WorkDir    string        // task directories are WorkDir/<run>/<task>
	Retries    int           // retries of a transiently failed task
	Backoff    time.Duration // first retry delay, doubled each time
	MaxBackoff time.Duration
	// Parallel caps the threads of tasks dispatched at once; 0 means the
	// executor's capacity.
	Parallel int
	// Observe, if set, is called (serially) on every task state change.
	Observe func(Event)
	// NoCache disables call-cache lookups (results are still recorded).
	NoCache bool
}

// Event is a task state change.
type Event struct {
	TaskID string
	Name   string
	State  catalog.TaskState
	Done   int // tasks finished (succeeded or cached) so far
	Total  int
	Err    error
}

// Summary is how a graph execution went.
type Summary struct {
	Tasks, Ran, Cached, Failed int
	CPU                        time.Duration // sum of the tasks' CPU time (this execution)
	Wall                       time.Duration
}

// TaskError is the failure of one task.
type TaskError struct {
	TaskID, Name string
	ExitCode     int
	StderrTail   string
	Err          error
}

func (e *TaskError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "task %s (%s) failed", e.TaskID, e.Name)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	} else {
		fmt.Fprintf(&b, " with exit code %d", e.ExitCode)
	}
	if tail := strings.TrimSpace(e.StderrTail); tail != "" {
		fmt.Fprintf(&b, "\n  stderr (last lines):\n    %s", strings.ReplaceAll(tail, "\n", "\n    "))
	}
	return b.String()
}

func (e *TaskError) Unwrap() error { return e.Err }

// ErrMissingOutput is wrapped by a TaskError when a script exited 0 but did
// not write a declared output.
var ErrMissingOutput = errors.New("declared output was not written")

type outcome struct {
	task    *Task
	state   catalog.TaskState
	cpu     time.Duration
	err     error
	threads int
}

// Execute runs g as run runID. versions maps tool name to version; every
// tool a task lists must be present. It returns when every task finished,
// the first failure stopped new dispatches and the running tasks ended, or
// ctx was cancelled.
func (e *Engine) Execute(ctx context.Context, runID string, g *Graph, versions map[string]string) (Summary, error) {
	start := time.Now()
	topo, err := g.Validate()
	if err != nil {
		return Summary{}, err
	}
	for _, t := range topo {
		for _, tool := range t.Tools {
			if _, ok := versions[tool]; !ok {
				return Summary{}, fmt.Errorf("workflow: task %s uses tool %s whose version is unknown", t.ID, tool)
			}
		}
	}
	capacity := e.Parallel
	if capacity <= 0 {
		capacity = e.Exec.Capacity().Threads
	}
	if capacity < 1 {
		capacity = 1
	}
	prio := priorities(topo)
	waiting := map[string]int{}
	children := map[string][]*Task{}
	ready := &taskHeap{prio: prio}
	for _, t := range topo {
		waiting[t.ID] = len(t.Deps)
		for _, d := range t.Deps {
			children[d] = append(children[d], t)
		}
		if len(t.Deps) == 0 {
			heap.Push(ready, t)
		}
	}
	sum := Summary{Tasks: len(topo)}
	results := make(chan outcome)
	var (
		inUse, running int
		firstErr       error
		done           int
		obsMu          sync.Mutex
	)
	observe := func(ev Event) {
		if e.Observe == nil {
			return
		}
		obsMu.Lock()
		defer obsMu.Unlock()
		ev.Total = len(topo)
		e.Observe(ev)
	}
	hashes := &hashMemo{store: e.Store, m: map[string]*hashEntry{}}
	for {
		// Dispatch: highest priority first, backfilling smaller tasks.
		if firstErr == nil && ctx.Err() == nil {
			var skipped []*Task
			// Stop when the executor is full, and look past at most
			// maxBackfill tasks that do not fit, so dispatch stays cheap
			// however many tasks are ready.
			for ready.Len() > 0 && inUse < capacity && len(skipped) < maxBackfill {
				t := heap.Pop(ready).(*Task)
				need := max(min(t.Threads, capacity), 1)
				if inUse+need > capacity && running > 0 {
					skipped = append(skipped, t)
					continue
				}
				inUse += need
				running++
				go func(t *Task, need int) {
					st, cpu, err := e.runTask(ctx, runID, t, versions, hashes, observe)
					results <- outcome{task: t, state: st, cpu: cpu, err: err, threads: need}
				}(t, need)
			}
			for _, t := range skipped {
				heap.Push(ready, t)
			}
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		inUse -= r.threads
		sum.CPU += r.cpu
		switch r.state {
		case catalog.TaskSucceeded, catalog.TaskCached:
			done++
			if r.state == catalog.TaskCached {
				sum.Cached++
			} else {
				sum.Ran++
			}
			for _, c := range children[r.task.ID] {
				if waiting[c.ID]--; waiting[c.ID] == 0 {
					heap.Push(ready, c)
				}
			}
		default:
			if r.state == catalog.TaskFailed {
				sum.Failed++
			}
			if firstErr == nil {
				firstErr = r.err
			}
		}
		observe(Event{TaskID: r.task.ID, Name: r.task.Name, State: r.state, Done: done, Err: r.err})
	}
	sum.Wall = time.Since(start)
	if firstErr != nil {
		return sum, firstErr
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	return sum, nil
}

// maxBackfill bounds how many ready tasks that do not fit the free
// capacity the dispatcher looks past to find one that does.
const maxBackfill = 64

// priorities ranks each task by the length of the longest chain of tasks
// that depend on it, so the critical path is dispatched first.
func priorities(topo []*Task) map[string]int {
	p := make(map[string]int, len(topo))
	for i := len(topo) - 1; i >= 0; i-- {
		t := topo[i]
		p[t.ID] += t.Threads
		for _, d := range t.Deps {
			if v := p[t.ID] + 1; v > p[d] {
				p[d] = v
			}
		}
	}
	return p
}

type taskHeap struct {
	prio  map[string]int
	items []*Task
}

func (h *taskHeap) Len() int { return len(h.items) }
func (h *taskHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if h.prio[a.ID] != h.prio[b.ID] {
		return h.prio[a.ID] > h.prio[b.ID]
	}
	return a.ID < b.ID
}
func (h *taskHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *taskHeap) Push(x any)    { h.items = append(h.items, x.(*Task)) }
func (h *taskHeap) Pop() any {
	n := len(h.items) - 1
	t := h.items[n]
	h.items = h.items[:n]
	return t
}

// runTask takes one task from pending to a final state.
func (e *Engine) runTask(ctx context.Context, runID string, t *Task, versions map[string]string, hashes *hashMemo, observe func(Event)) (catalog.TaskState, time.Duration, error) {
	rec := catalog.Task{RunID: runID, TaskID: t.ID, Name: t.Name, State: catalog.TaskPending}
	fail := func(state catalog.TaskState, err error) (catalog.TaskState, time.Duration, error) {
		rec.State = state
		rec.Error = err.Error()
		rec.Finished = time.Now().UTC()
		if perr := e.Store.PutTask(context.WithoutCancel(ctx), rec); perr != nil {
			err = errors.Join(err, fmt.Errorf("recording task %s: %w", t.ID, perr))
		}
		return state, 0, err
	}
	key, err := e.cacheKey(ctx, t, versions, hashes)
	if err != nil {
		return fail(catalog.TaskFailed, &TaskError{TaskID: t.ID, Name: t.Name, Err: err})
	}
	rec.CacheKey = key
	if !e.NoCache {
		hit, err := e.fromCache(ctx, runID, t, key)
		if err != nil {
			return fail(catalog.TaskFailed, &TaskError{TaskID: t.ID, Name: t.Name, Err: err})
		}
		if hit {
			rec.State = catalog.TaskCached
			rec.Finished = time.Now().UTC()
			if err := e.Store.PutTask(ctx, rec); err != nil {
				return catalog.TaskFailed, 0, fmt.Errorf("recording task %s: %w", t.ID, err)
			}
			return catalog.TaskCached, 0, nil
		}
	}
	dir := filepath.Join(e.WorkDir, runID, t.ID)
	backoff := e.Backoff
	var cpu time.Duration
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fail(catalog.TaskCancelled, err)
		}
		rec.State, rec.Attempts, rec.Started, rec.Error = catalog.TaskRunning, attempt, time.Now().UTC(), ""
		if err := e.Store.PutTask(ctx, rec); err != nil {
			return catalog.TaskFailed, cpu, fmt.Errorf("recording task %s: %w", t.ID, err)
		}
		observe(Event{TaskID: t.ID, Name: t.Name, State: catalog.TaskRunning})
		res, tmp, err := e.attempt(ctx, runID, t, dir)
		cpu += res.CPU
		rec.CPUSeconds = cpu.Seconds()
		rec.ExitCode = res.ExitCode
		switch {
		case ctx.Err() != nil:
			removeAll(tmp)
			_, _, err := fail(catalog.TaskCancelled, ctx.Err())
			return catalog.TaskCancelled, cpu, err
		case err == nil && res.ExitCode == 0:
			outs, err := e.commitOutputs(ctx, runID, t, tmp)
			if err != nil {
				removeAll(tmp)
				_, _, err := fail(catalog.TaskFailed, &TaskError{TaskID: t.ID, Name: t.Name, Err: err})
				return catalog.TaskFailed, cpu, err
			}
			if err := e.Store.PutCache(ctx, catalog.CacheEntry{Key: key, RunID: runID, TaskID: t.ID, Outputs: outs, Created: time.Now().UTC()}); err != nil {
				return catalog.TaskFailed, cpu, fmt.Errorf("recording cache entry of %s: %w", t.ID, err)
			}
			rec.State, rec.Finished = catalog.TaskSucceeded, time.Now().UTC()
			if err := e.Store.PutTask(ctx, rec); err != nil {
				return catalog.TaskFailed, cpu, fmt.Errorf("recording task %s: %w", t.ID, err)
			}
			return catalog.TaskSucceeded, cpu, nil
		}
		removeAll(tmp)
		transient := errors.Is(err, executor.ErrTransient) || (err == nil && res.ExitCode > 128)
		terr := &TaskError{TaskID: t.ID, Name: t.Name, ExitCode: res.ExitCode, StderrTail: res.StderrTail, Err: err}
		if !transient || attempt > e.Retries {
			_, _, err := fail(catalog.TaskFailed, terr)
			return catalog.TaskFailed, cpu, err
		}
		e.logger().Warn("task failed transiently; retrying", "run", runID, "task", t.ID, "attempt", attempt, "backoff", backoff, "err", terr.Error())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, max(e.MaxBackoff, e.Backoff))
	}
}

func (e *Engine) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

// attempt runs the script once with outputs pointed at temporary names.
func (e *Engine) attempt(ctx context.Context, runID string, t *Task, dir string) (executor.Result, map[string]string, error) {
	if _, err := os.Lstat(dir); err == nil { // a previous attempt's files
		if err := os.RemoveAll(dir); err != nil {
			return executor.Result{}, nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return executor.Result{}, nil, err
	}
	suffix := randomHex(6)
	tmp := make(map[string]string, len(t.Outputs))
	env := make([]string, 0, len(t.Inputs)+len(t.Outputs)+len(t.Env)+2)
	for name, p := range t.Outputs {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return executor.Result{}, nil, err
		}
		removeStaleTemps(p)
		tp := tempName(p, suffix)
		tmp[name] = tp
		env = append(env, "OUT_"+name+"="+tp)
	}
	for name, p := range t.Inputs {
		env = append(env, "IN_"+name+"="+p)
	}
	for k, v := range t.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, fmt.Sprintf("TASK_THREADS=%d", t.Threads), fmt.Sprintf("TASK_MEM_MB=%d", t.MemMB))
	sort.Strings(env)
	job := executor.Job{
		ID:       jobID(runID, t.ID),
		Script:   t.Script,
		Dir:      dir,
		Threads:  t.Threads,
		MemoryMB: t.MemMB,
		Env:      env,
	}
	res, err := e.Exec.Run(ctx, job)
	return res, tmp, err
}

const tempPrefix = ".clinomics-tmp-"

// tempName keeps the final name's extension last: tools pick formats by it.
func tempName(final, suffix string) string {
	return filepath.Join(filepath.Dir(final), tempPrefix+suffix+"-"+filepath.Base(final))
}

// removeStaleTemps deletes temporaries a crashed attempt left next to final.
func removeStaleTemps(final string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(final), tempPrefix+"*-"+filepath.Base(final)))
	for _, m := range matches {
		os.Remove(m)
	}
}

func removeAll(tmp map[string]string) {
	for _, p := range tmp {
		os.Remove(p)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func jobID(runID, taskID string) string {
	r := strings.NewReplacer("/", "_", ".", "_")
	return r.Replace(runID + "_" + taskID)
}

// commitOutputs checks, hashes, syncs and renames every output into place
// and records it in the catalog.
func (e *Engine) commitOutputs(ctx context.Context, runID string, t *Task, tmp map[string]string) ([]catalog.File, error) {
	names := slices.Sorted(maps.Keys(t.Outputs))
	for _, n := range names {
		if _, err := os.Stat(tmp[n]); err != nil {
			return nil, fmt.Errorf("%w: %s (%s)", ErrMissingOutput, n, t.Outputs[n])
		}
	}
	files := make([]catalog.File, 0, len(names))
	for _, n := range names {
		final := t.Outputs[n]
		sum, size, err := hashFile(tmp[n], true)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", n, err)
		}
		if err := os.Rename(tmp[n], final); err != nil {
			return nil, fmt.Errorf("output %s: %w", n, err)
		}
		syncDir(filepath.Dir(final))
		fi, err := os.Stat(final)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", n, err)
		}
		f := catalog.File{Path: final, Size: size, ModTime: fi.ModTime().UTC(), SHA256: sum, RunID: runID, TaskID: t.ID}
		if err := e.Store.PutFile(ctx, f); err != nil {
			return nil, fmt.Errorf("recording output %s: %w", n, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// cacheKey hashes everything that determines a task's outputs.
func (e *Engine) cacheKey(ctx context.Context, t *Task, versions map[string]string, hashes *hashMemo) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "script %d\n%s\n", len(t.Script), t.Script)
	for _, n := range slices.Sorted(maps.Keys(t.Inputs)) {
		sum, err := hashes.get(ctx, t.Inputs[n])
		if err != nil {
			return "", fmt.Errorf("input %s: %w", n, err)
		}
		fmt.Fprintf(h, "in %s %s\n", n, sum)
	}
	for _, n := range slices.Sorted(maps.Keys(t.Outputs)) {
		fmt.Fprintf(h, "out %s\n", n)
	}
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		fmt.Fprintf(h, "env %s=%q\n", k, t.Env[k])
	}
	tools := append([]string(nil), t.Tools...)
	sort.Strings(tools)
	for _, tool := range tools {
		fmt.Fprintf(h, "tool %s %s\n", tool, versions[tool])
	}
	fmt.Fprintf(h, "threads %d\n", t.Threads)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fromCache reports whether the task's outputs are already in place for
// key, copying them from an earlier run's location when needed.
func (e *Engine) fromCache(ctx context.Context, runID string, t *Task, key string) (bool, error) {
	entry, err := e.Store.GetCache(ctx, key)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(entry.Outputs) != len(t.Outputs) {
		return false, nil
	}
	byName := map[string]catalog.File{}
	names := slices.Sorted(maps.Keys(t.Outputs))
	for i, n := range names {
		byName[n] = entry.Outputs[i] // both sorted by output name
	}
	for _, n := range names {
		if !intact(byName[n]) {
			return false, nil
		}
	}
	// Outputs already in place (a resumed or repeated run into the same
	// paths) are recorded as this run's too; others are copied first.
	for _, n := range names {
		src, final := byName[n], t.Outputs[n]
		if src.Path != final {
			if err := copyInto(src.Path, final); err != nil {
				return false, fmt.Errorf("copying cached output %s: %w", n, err)
			}
		}
		fi, err := os.Stat(final)
		if err != nil {
			return false, err
		}
		f := catalog.File{Path: final, Size: fi.Size(), ModTime: fi.ModTime().UTC(), SHA256: src.SHA256, RunID: runID, TaskID: t.ID}
		if err := e.Store.PutFile(ctx, f); err != nil {
			return false, err
		}
	}
	return true, nil
}

// intact reports whether the file recorded in f is still there unchanged:
// same size and modification time, or the same sha256 when re-hashed.
func intact(f catalog.File) bool {
	fi, err := os.Stat(f.Path)
	if err != nil || fi.Size() != f.Size {
		return false
	}
	if fi.ModTime().Equal(f.ModTime) {
		return true
	}
	sum, _, err := hashFile(f.Path, false)
	return err == nil && sum == f.SHA256
}

// copyInto places a copy of src at final via a temporary name: a hard link
// when both are on one filesystem, else a byte copy.
func copyInto(src, final string) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return err
	}
	tmp := tempName(final, randomHex(6))
	if err := os.Link(src, tmp); err != nil {
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			os.Remove(tmp)
			return err
		}
		if err := errors.Join(out.Sync(), out.Close()); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(final))
	return nil
}
