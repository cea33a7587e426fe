package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Manager executes runs in the background for the server: one goroutine a
// run, each cancellable, all drained on Close. On start it resumes the runs
// a previous process left queued or running.
type Manager struct {
	Runner *Runner

	mu      sync.Mutex
	cancels map[string]context.CancelCauseFunc
	wg      sync.WaitGroup
	ctx     context.Context
	stop    context.CancelCauseFunc
}

// ErrNotActive is returned by Cancel for a run that is not executing here.
var ErrNotActive = errors.New("run is not executing")

// Causes of a run's context ending: a user's cancel ends the run; a
// shutdown leaves it queued, to resume at the next start.
var (
	ErrCancelled = errors.New("cancelled by request")
	ErrShutdown  = errors.New("interrupted by shutdown; resumes at the next start")
)

// Start begins accepting runs and resumes unfinished ones.
func (m *Manager) Start(ctx context.Context) error {
	m.ctx, m.stop = context.WithCancelCause(context.WithoutCancel(ctx))
	m.cancels = map[string]context.CancelCauseFunc{}
	for _, st := range []catalog.RunState{catalog.RunRunning, catalog.RunQueued} {
		runs, err := m.Runner.Store.ListRuns(ctx, catalog.RunFilter{State: st})
		if err != nil {
			return err
		}
		for i := len(runs) - 1; i >= 0; i-- { // oldest first
			m.Runner.logger().Info("resuming run left unfinished by a previous process", "run", runs[i].ID, "state", string(st))
			m.launch(runs[i])
		}
	}
	return nil
}

// Submit creates a run for p and starts it.
func (m *Manager) Submit(ctx context.Context, p GermlineParams) (catalog.Run, error) {
	run, err := m.Runner.Create(ctx, p)
	if err != nil {
		return run, err
	}
	m.launch(run)
	return run, nil
}

// SubmitOnce is Submit unless the sample already has a germline run into
// p.OutDir, in any state, which it returns instead (created false): a
// caller that retries after a crash does not start the pipeline twice.
// An unfinished run found so is resumed by Start.
func (m *Manager) SubmitOnce(ctx context.Context, p GermlineParams) (run catalog.Run, created bool, err error) {
	if err := p.Abs(); err != nil {
		return catalog.Run{}, false, err
	}
	runs, err := m.Runner.Store.ListRuns(ctx, catalog.RunFilter{SampleID: p.Sample})
	if err != nil {
		return catalog.Run{}, false, err
	}
	for _, r := range runs {
		if r.Pipeline == GermlinePipeline && r.OutDir == p.OutDir {
			return r, false, nil
		}
	}
	run, err = m.Submit(ctx, p)
	return run, err == nil, err
}

func (m *Manager) launch(run catalog.Run) {
	ctx, cancel := context.WithCancelCause(m.ctx)
	m.mu.Lock()
	m.cancels[run.ID] = cancel
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.cancels, run.ID)
			m.mu.Unlock()
			cancel(nil)
		}()
		sum, err := m.Runner.Execute(ctx, run)
		if err != nil {
			m.Runner.logger().Error("run ended", "run", run.ID, "ok", false, "tasks", sum.Tasks, "failed", sum.Failed, "err", err.Error())
			return
		}
		m.Runner.logger().Info("run ended", "run", run.ID, "ok", true, "tasks", sum.Tasks, "ran", sum.Ran, "cached", sum.Cached, "wall", sum.Wall.String())
	}()
}

// Cancel stops an executing run; it ends in state cancelled.
func (m *Manager) Cancel(id string) error {
	m.mu.Lock()
	cancel, ok := m.cancels[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotActive, id)
	}
	cancel(ErrCancelled)
	return nil
}

// Close interrupts the executing runs (they resume at the next Start) and
// waits for them.
func (m *Manager) Close() {
	if m.stop != nil {
		m.stop(ErrShutdown)
	}
	m.wg.Wait()
}
