package workflow_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/workflow"
	"github.com/clinomics/clinomics/internal/workflow/executor"
	"github.com/clinomics/clinomics/internal/workflow/executor/local"
)

// harness is a real engine: SQLite catalog, local executor, temp dirs.
type harness struct {
	t     *testing.T
	dir   string
	store catalog.Store
	eng   *workflow.Engine
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	return openHarness(t, dir)
}

func openHarness(t *testing.T, dir string) *harness {
	t.Helper()
	store, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	eng := &workflow.Engine{
		Store: store, Exec: local.New(executor.Resources{Threads: 2, MemoryMB: 4000}),
		WorkDir: filepath.Join(dir, "work"), Retries: 2, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
	return &harness{t: t, dir: dir, store: store, eng: eng}
}

// execute runs g as runID, creating the run in the catalog first if needed
// (tasks belong to a run).
func (h *harness) execute(ctx context.Context, runID string, g *workflow.Graph, versions map[string]string) (workflow.Summary, error) {
	h.t.Helper()
	if _, err := h.store.GetRun(context.Background(), runID); errors.Is(err, catalog.ErrNotFound) {
		if err := h.store.PutSample(context.Background(), catalog.Sample{ID: "s"}); err != nil {
			h.t.Fatal(err)
		}
		if err := h.store.CreateRun(context.Background(), catalog.Run{ID: runID, SampleID: "s", Pipeline: "test", Params: "{}"}); err != nil {
			h.t.Fatal(err)
		}
	}
	return h.eng.Execute(ctx, runID, g, versions)
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, "files", name) }

// counted appends a line to a log every time the script runs, so tests can
// tell which tasks really ran.
func (h *harness) counted(id string) string {
	return fmt.Sprintf("echo %s >> %q\n", id, filepath.Join(h.dir, "ran.log"))
}

func (h *harness) ran() []string {
	b, err := os.ReadFile(filepath.Join(h.dir, "ran.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scatterGather builds: input -> split into 3 chunks -> per-chunk work -> gather.
func (h *harness) scatterGather() *workflow.Graph {
	if _, err := os.Stat(h.path("in.txt")); err != nil {
		write(h.t, h.path("in.txt"), "a\nb\nc\n")
	}
	g := workflow.NewGraph()
	split := &workflow.Task{ID: "split", Name: "split", Inputs: map[string]string{"in": h.path("in.txt")},
		Outputs: map[string]string{}, Script: h.counted("split")}
	for i := range 3 {
		n := fmt.Sprintf("c%d", i)
		split.Outputs[n] = h.path("chunks/" + n)
		split.Script += fmt.Sprintf("sed -n '%dp' \"$IN_in\" > \"$OUT_%s\"\n", i+1, n)
	}
	g.MustAdd(split)
	gather := &workflow.Task{ID: "gather", Name: "gather", Inputs: map[string]string{}, Outputs: map[string]string{"out": h.path("out.txt")},
		Script: h.counted("gather") + `cat "$IN_p0" "$IN_p1" "$IN_p2" > "$OUT_out"` + "\n"}
	for i := range 3 {
		id := fmt.Sprintf("work/%d", i)
		g.MustAdd(&workflow.Task{ID: id, Name: "work", Inputs: map[string]string{"in": split.Outputs[fmt.Sprintf("c%d", i)]},
			Outputs: map[string]string{"out": h.path(fmt.Sprintf("work/%d", i))},
			Script:  h.counted(id) + `tr a-z A-Z < "$IN_in" > "$OUT_out"` + "\n"})
		gather.Inputs[fmt.Sprintf("p%d", i)] = h.path(fmt.Sprintf("work/%d", i))
	}
	g.MustAdd(gather)
	return g
}

func TestScatterGatherRecordsOutputs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sum, err := h.execute(ctx, "run1", h.scatterGather(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tasks != 5 || sum.Ran != 5 || sum.Cached != 0 {
		t.Errorf("summary %+v, want 5 tasks all ran", sum)
	}
	got, _ := os.ReadFile(h.path("out.txt"))
	if string(got) != "A\nB\nC\n" {
		t.Errorf("gathered %q", got)
	}
	f, err := h.store.GetFile(ctx, h.path("out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte("A\nB\nC\n"))
	if f.SHA256 != hex.EncodeToString(want[:]) || f.Size != 6 || f.RunID != "run1" || f.TaskID != "gather" {
		t.Errorf("file record %+v", f)
	}
	tasks, err := h.store.ListTasks(ctx, "run1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if tk.State != catalog.TaskSucceeded || tk.Attempts != 1 || tk.CacheKey == "" {
			t.Errorf("task %s: %+v", tk.TaskID, tk)
		}
	}
	// gather ran after every work task
	order := h.ran()
	if len(order) != 5 || order[0] != "split" || order[4] != "gather" {
		t.Errorf("execution order %v", order)
	}
}

func TestCallCacheSkipsUnchangedAndRerunsChanged(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.execute(ctx, "run1", h.scatterGather(), nil); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(h.dir, "ran.log"))
	sum, err := h.execute(ctx, "run1", h.scatterGather(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Cached != 5 || len(h.ran()) != 0 {
		t.Fatalf("second execution: %+v, ran %v; want everything from the cache", sum, h.ran())
	}
	// A new tool version re-runs the tasks that use the tool.
	g := h.scatterGather()
	g.Task("gather").Tools = []string{"cat"}
	if _, err := h.execute(ctx, "run1", g, map[string]string{"cat": "9.1"}); err != nil {
		t.Fatal(err)
	}
	if got := h.ran(); len(got) != 1 || got[0] != "gather" {
		t.Fatalf("after a tool version change ran %v, want [gather]", got)
	}
	os.Remove(filepath.Join(h.dir, "ran.log"))
	// Changing one chunk's content (via the input) re-runs what depends on it.
	g = h.scatterGather()
	write(t, h.path("in.txt"), "a\nb\nz\n")
	if _, err := h.execute(ctx, "run1", g, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.ran(), " "); got != "split work/2 gather" {
		t.Fatalf("after an input change ran %q, want split work/2 gather", got)
	}
	// A task whose output was deleted is run again.
	os.Remove(filepath.Join(h.dir, "ran.log"))
	os.Remove(h.path("work/1"))
	if _, err := h.execute(ctx, "run1", h.scatterGather(), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.ran(), " "); got != "work/1" {
		t.Fatalf("after deleting an output ran %q, want work/1", got)
	}
}

func TestCacheAcrossRunsCopiesOutputs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	mk := func(out string) *workflow.Graph {
		g := workflow.NewGraph()
		g.MustAdd(&workflow.Task{ID: "t", Name: "t", Outputs: map[string]string{"o": out}, Script: h.counted("t") + `echo hi > "$OUT_o"`})
		return g
	}
	if _, err := h.execute(ctx, "a", mk(h.path("a/o.txt")), nil); err != nil {
		t.Fatal(err)
	}
	sum, err := h.execute(ctx, "b", mk(h.path("b/o.txt")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Cached != 1 || len(h.ran()) != 1 {
		t.Fatalf("summary %+v ran %v", sum, h.ran())
	}
	if b, _ := os.ReadFile(h.path("b/o.txt")); string(b) != "hi\n" {
		t.Fatalf("copied output %q", b)
	}
}

func TestFailedTaskLeavesNoOutputAndStopsDependents(t *testing.T) {
	h := newHarness(t)
	g := workflow.NewGraph()
	g.MustAdd(&workflow.Task{ID: "bad", Name: "bad", Outputs: map[string]string{"o": h.path("bad.txt")},
		Script: `echo partial > "$OUT_o"; echo "bwa: something broke" >&2; exit 3`})
	g.MustAdd(&workflow.Task{ID: "after", Name: "after", Inputs: map[string]string{"i": h.path("bad.txt")},
		Outputs: map[string]string{"o": h.path("after.txt")}, Script: h.counted("after") + `cp "$IN_i" "$OUT_o"`})
	sum, err := h.execute(context.Background(), "r", g, nil)
	var te *workflow.TaskError
	if !errors.As(err, &te) || te.TaskID != "bad" || te.ExitCode != 3 || !strings.Contains(te.StderrTail, "something broke") {
		t.Fatalf("err = %v, want TaskError for bad with exit 3 and the stderr tail", err)
	}
	if !strings.Contains(err.Error(), "something broke") {
		t.Errorf("error text lacks the stderr tail: %v", err)
	}
	if sum.Failed != 1 || len(h.ran()) != 0 {
		t.Errorf("summary %+v, ran %v", sum, h.ran())
	}
	entries, _ := os.ReadDir(filepath.Dir(h.path("bad.txt")))
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
	tasks, _ := h.store.ListTasks(context.Background(), "r")
	if len(tasks) != 1 || tasks[0].State != catalog.TaskFailed || tasks[0].ExitCode != 3 || tasks[0].Error == "" {
		t.Errorf("task records %+v", tasks)
	}
	// Fix the cause; the next execution completes.
	g.Task("bad").Script = `echo whole > "$OUT_o"`
	if _, err := h.execute(context.Background(), "r", g, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMissingOutputFails(t *testing.T) {
	h := newHarness(t)
	g := workflow.NewGraph()
	g.MustAdd(&workflow.Task{ID: "lazy", Name: "lazy", Outputs: map[string]string{"o": h.path("o.txt")}, Script: "true"})
	_, err := h.execute(context.Background(), "r", g, nil)
	if !errors.Is(err, workflow.ErrMissingOutput) {
		t.Fatalf("err = %v, want ErrMissingOutput", err)
	}
}

func TestTransientFailureIsRetried(t *testing.T) {
	h := newHarness(t)
	marker := h.path("first-attempt-done")
	os.MkdirAll(filepath.Dir(marker), 0o755)
	g := workflow.NewGraph()
	g.MustAdd(&workflow.Task{ID: "flaky", Name: "flaky", Outputs: map[string]string{"o": h.path("o.txt")},
		Script: fmt.Sprintf(`if [ ! -e %[1]q ]; then touch %[1]q; kill -9 $$; fi
echo ok > "$OUT_o"`, marker)})
	if _, err := h.execute(context.Background(), "r", g, nil); err != nil {
		t.Fatal(err)
	}
	tasks, _ := h.store.ListTasks(context.Background(), "r")
	if len(tasks) != 1 || tasks[0].Attempts != 2 || tasks[0].State != catalog.TaskSucceeded {
		t.Fatalf("task %+v, want succeeded on attempt 2", tasks)
	}
}

func TestCancellation(t *testing.T) {
	h := newHarness(t)
	g := workflow.NewGraph()
	g.MustAdd(&workflow.Task{ID: "slow", Name: "slow", Outputs: map[string]string{"o": h.path("o.txt")}, Script: `sleep 300; echo > "$OUT_o"`})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := h.execute(ctx, "r", g, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("cancellation took %s", time.Since(start))
	}
	tasks, _ := h.store.ListTasks(context.Background(), "r")
	if len(tasks) != 1 || tasks[0].State != catalog.TaskCancelled {
		t.Fatalf("task %+v, want cancelled", tasks)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		tasks []*workflow.Task
		want  string
	}{
		{"cycle", []*workflow.Task{{ID: "a", Deps: []string{"b"}}, {ID: "b", Deps: []string{"a"}}}, "cycle"},
		{"unknown dep", []*workflow.Task{{ID: "a", Deps: []string{"zz"}}}, "unknown task zz"},
		{"two writers", []*workflow.Task{{ID: "a", Outputs: map[string]string{"o": "/x"}}, {ID: "b", Outputs: map[string]string{"o": "/x"}}}, "written by both"},
		{"cycle through files", []*workflow.Task{
			{ID: "a", Inputs: map[string]string{"i": "/b"}, Outputs: map[string]string{"o": "/a"}},
			{ID: "b", Inputs: map[string]string{"i": "/a"}, Outputs: map[string]string{"o": "/b"}}}, "cycle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := workflow.NewGraph()
			for _, tk := range c.tasks {
				if err := g.Add(tk); err != nil {
					t.Fatal(err)
				}
			}
			_, err := g.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	g := workflow.NewGraph()
	for _, bad := range []*workflow.Task{
		{ID: "has space"},
		{ID: "rel", Outputs: map[string]string{"o": "relative/path"}},
		{ID: "badname", Inputs: map[string]string{"a-b": "/x"}},
	} {
		if err := g.Add(bad); err == nil {
			t.Errorf("Add(%+v) accepted", bad)
		}
	}
}

// TestResumeAfterKill runs an execution in a child process, kills it with
// SIGKILL while a later task is running, and resumes in this process: the
// finished tasks are not run again, and nothing partial sits under a final
// name.
func TestResumeAfterKill(t *testing.T) {
	if os.Getenv("WORKFLOW_CHILD_DIR") != "" {
		h := openHarness(t, os.Getenv("WORKFLOW_CHILD_DIR"))
		h.execute(context.Background(), "r", resumeGraph(h), nil)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeAfterKill$")
	cmd.Env = append(os.Environ(), "WORKFLOW_CHILD_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := filepath.Join(dir, "files", "slow-started")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatal("child never reached the slow task")
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the engine and its task processes
	cmd.Wait()

	h := openHarness(t, dir)
	if _, err := os.Stat(h.path("slow.txt")); err == nil {
		t.Fatal("the killed task's output exists under its final name")
	}
	os.Remove(filepath.Join(dir, "ran.log"))
	sum, err := h.execute(context.Background(), "r", resumeGraph(h), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.ran(), " "); got != "slow" {
		t.Fatalf("resume ran %q, want only slow", got)
	}
	if sum.Cached != 2 || sum.Ran != 1 {
		t.Fatalf("resume summary %+v", sum)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "files", ".clinomics-tmp-*"))
	if len(matches) != 0 {
		t.Fatalf("temporaries left: %v", matches)
	}
}

func resumeGraph(h *harness) *workflow.Graph {
	g := workflow.NewGraph()
	g.MustAdd(&workflow.Task{ID: "a", Name: "a", Outputs: map[string]string{"o": h.path("a.txt")}, Script: h.counted("a") + `echo a > "$OUT_o"`})
	g.MustAdd(&workflow.Task{ID: "b", Name: "b", Inputs: map[string]string{"i": h.path("a.txt")}, Outputs: map[string]string{"o": h.path("b.txt")},
		Script: h.counted("b") + `cat "$IN_i" > "$OUT_o"`})
	g.MustAdd(&workflow.Task{ID: "slow", Name: "slow", Inputs: map[string]string{"i": h.path("b.txt")}, Outputs: map[string]string{"o": h.path("slow.txt")},
		Script: h.counted("slow") + fmt.Sprintf(`echo partial > "$OUT_o"
if [ ! -e %[1]q ]; then touch %[1]q; sleep 300; fi
cat "$IN_i" >> "$OUT_o"`, h.path("slow-started"))})
	return g
}

// A second run into the same output paths takes everything from the cache
// and still records the outputs as its own, so its provenance is complete.
func TestCachedOutputsInPlaceAreRecordedForTheNewRun(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.execute(ctx, "first", h.scatterGather(), nil); err != nil {
		t.Fatal(err)
	}
	sum, err := h.execute(ctx, "second", h.scatterGather(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Cached != 5 {
		t.Fatalf("second run: %+v, want all 5 tasks from the cache", sum)
	}
	files, err := h.store.ListFiles(ctx, "second")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 7 { // 3 chunks, 3 work outputs, 1 gathered
		t.Errorf("second run records %d files, want 7: %+v", len(files), files)
	}
}
