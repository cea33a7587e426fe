package workflow_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/clinomics/clinomics/internal/workflow"
	"github.com/clinomics/clinomics/internal/workflow/executor"
)

// noopExec runs nothing: it isolates the engine's and the catalog's cost.
type noopExec struct{}

func (noopExec) Name() string { return "noop" }
func (noopExec) Capacity() executor.Resources {
	return executor.Resources{Threads: 2, MemoryMB: 1 << 20}
}
func (noopExec) Run(ctx context.Context, _ executor.Job) (executor.Result, error) {
	return executor.Result{}, ctx.Err()
}

// BenchmarkEngineNoopTasks reports the engine's cost per task (dispatch,
// cache lookup, catalog records) with 1000 independent no-op tasks.
func BenchmarkEngineNoopTasks(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		h := newHarness(&testing.T{})
		h.eng.Exec = noopExec{}
		g := workflow.NewGraph()
		for j := range n {
			id := fmt.Sprintf("noop/%05d", j)
			g.MustAdd(&workflow.Task{ID: id, Name: "noop", Script: ": " + id}) // distinct: no cache hits
		}
		if _, err := h.execute(context.Background(), "bench", g, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e6, "ms/task")
}
