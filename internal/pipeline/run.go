// Package pipeline holds the built-in pipelines — which tools run in which
// order — and the Runner that takes a run from its parameters to a
// finished state in the catalog.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/format/bed"
	"github.com/clinomics/clinomics/internal/format/fastq"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/reference"
	"github.com/clinomics/clinomics/internal/workflow"
)

// GermlinePipeline is the pipeline name stored with runs.
const GermlinePipeline = "germline"

// Runner creates and executes runs.
type Runner struct {
	Store   catalog.Store
	Engine  *workflow.Engine // Engine.WorkDir holds each run's task and data directories
	Refs    *reference.Store
	Self    string // path of the clinomics binary
	Version string // version of the clinomics binary
	Options GermlineOptions
	Lake    *lake.Lake // where "lake:" inputs come from and outputs go; nil: local paths only
	Log     *slog.Logger
}

// NewRunID returns a fresh, sortable run identifier.
func NewRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Create validates p and records a queued run for it.
func (r *Runner) Create(ctx context.Context, p GermlineParams) (catalog.Run, error) {
	if err := p.Abs(); err != nil {
		return catalog.Run{}, err
	}
	if p.Caller == "" {
		p.Caller = r.Options.Caller
	}
	if err := p.Validate(); err != nil {
		return catalog.Run{}, err
	}
	if err := r.checkLake(ctx, &p); err != nil {
		return catalog.Run{}, err
	}
	params, err := json.Marshal(p)
	if err != nil {
		return catalog.Run{}, err
	}
	if err := r.Store.PutSample(ctx, catalog.Sample{ID: p.Sample, Created: time.Now().UTC()}); err != nil {
		return catalog.Run{}, err
	}
	now := time.Now().UTC()
	run := catalog.Run{ID: NewRunID(), SampleID: p.Sample, Pipeline: GermlinePipeline, State: catalog.RunQueued,
		Params: string(params), OutDir: p.OutDir, Created: now, Updated: now}
	return run, r.Store.CreateRun(ctx, run)
}

// Resumable returns the newest run of the sample into outDir that did not
// succeed, or ErrNotFound.
func (r *Runner) Resumable(ctx context.Context, sample, outDir string) (catalog.Run, error) {
	abs := outDir
	if !IsLake(outDir) {
		var err error
		if abs, err = filepath.Abs(outDir); err != nil {
			return catalog.Run{}, err
		}
	}
	runs, err := r.Store.ListRuns(ctx, catalog.RunFilter{SampleID: sample})
	if err != nil {
		return catalog.Run{}, err
	}
	for _, run := range runs {
		if run.OutDir == abs && run.Pipeline == GermlinePipeline {
			if run.State == catalog.RunSucceeded {
				break
			}
			return run, nil
		}
	}
	return catalog.Run{}, fmt.Errorf("no unfinished germline run of sample %s into %s: %w", sample, abs, catalog.ErrNotFound)
}

// Execute takes run to a final state and records it. It is safe to call
// again on a run that was interrupted: finished tasks are not re-run.
func (r *Runner) Execute(ctx context.Context, run catalog.Run) (workflow.Summary, error) {
	sum, err := r.execute(ctx, run)
	state, msg := catalog.RunSucceeded, ""
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), ErrShutdown):
		state, msg = catalog.RunQueued, ErrShutdown.Error()
	case ctx.Err() != nil:
		state, msg = catalog.RunCancelled, "cancelled"
	default:
		state, msg = catalog.RunFailed, err.Error()
	}
	if err != nil {
		err = errors.Join(err, r.dropInputs(run.ID))
	}
	if uerr := r.Store.UpdateRun(context.WithoutCancel(ctx), run.ID, state, msg); uerr != nil {
		err = errors.Join(err, uerr)
	}
	return sum, err
}

func (r *Runner) execute(ctx context.Context, run catalog.Run) (workflow.Summary, error) {
	var p GermlineParams
	if err := json.Unmarshal([]byte(run.Params), &p); err != nil {
		return workflow.Summary{}, fmt.Errorf("run %s: stored parameters: %w", run.ID, err)
	}
	if err := p.Validate(); err != nil {
		return workflow.Summary{}, err
	}
	if err := r.Store.UpdateRun(ctx, run.ID, catalog.RunRunning, ""); err != nil {
		return workflow.Summary{}, err
	}
	versions, err := ToolVersions(ctx, p.Tools(), r.Version)
	if err != nil {
		return workflow.Summary{}, err
	}
	if err := r.Store.PutToolVersions(ctx, run.ID, toolList(versions)); err != nil {
		return workflow.Summary{}, err
	}
	workDir := filepath.Join(r.Engine.WorkDir, run.ID)
	st, err := r.stageIn(ctx, &p, run.ID, workDir)
	if err != nil {
		return workflow.Summary{}, err
	}
	for _, f := range p.FASTQ {
		if err := fastq.Sniff(f); err != nil {
			return workflow.Summary{}, err
		}
	}
	ref, err := r.Refs.Add(ctx, p.Reference)
	if err != nil {
		return workflow.Summary{}, err
	}
	var targets []bed.Interval
	if p.Targets != "" {
		if targets, err = bed.ReadFile(p.Targets); err != nil {
			return workflow.Summary{}, err
		}
		if err := bed.CheckContigs(targets, ref.ContigLengths(), p.Targets); err != nil {
			return workflow.Summary{}, fmt.Errorf("%w (reference %s has %s)", err, p.Reference, contigSummary(ref))
		}
	}
	o := r.Options
	o.Self = r.Self
	o.WorkDir = workDir
	g, err := Germline(&p, ref, targets, o)
	if err != nil {
		return workflow.Summary{}, err
	}
	r.logger().Info("run started", "run", run.ID, "pipeline", run.Pipeline, "tasks", g.Len(), "executor", r.Engine.Exec.Name())
	sum, err := r.Engine.Execute(ctx, run.ID, g, versions)
	if err != nil {
		return sum, err
	}
	return sum, r.stageOut(ctx, st, &p, run.ID)
}

func (r *Runner) logger() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func contigSummary(ref *reference.Reference) string {
	names := make([]string, 0, 3)
	for i, c := range ref.Contigs {
		if i == 3 {
			names = append(names, fmt.Sprintf("... %d contigs in all", len(ref.Contigs)))
			break
		}
		names = append(names, c.Name)
	}
	return fmt.Sprint(names)
}

func toolList(v map[string]string) []catalog.ToolVersion {
	out := make([]catalog.ToolVersion, 0, len(v))
	for t, ver := range v {
		out = append(out, catalog.ToolVersion{Tool: t, Version: ver})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tool < out[j].Tool })
	return out
}
