package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/pipeline"
	"github.com/clinomics/clinomics/internal/workflow"
)

// TestSubmitOnceFindsTheRunAlreadyStarted: the ingest hook, called again
// after a crash, gets the sample's existing run into the same folder
// instead of starting the pipeline a second time.
func TestSubmitOnceFindsTheRunAlreadyStarted(t *testing.T) {
	ctx := context.Background()
	store, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	if err := store.PutSample(ctx, catalog.Sample{ID: "S1", Created: now}); err != nil {
		t.Fatal(err)
	}
	out := pipeline.LakePrefix + "results/S1/RUN1"
	prior := catalog.Run{ID: pipeline.NewRunID(), SampleID: "S1", Pipeline: pipeline.GermlinePipeline, State: catalog.RunFailed,
		Params: "{}", OutDir: out, Created: now, Updated: now}
	if err := store.CreateRun(ctx, prior); err != nil {
		t.Fatal(err)
	}
	m := &pipeline.Manager{Runner: &pipeline.Runner{Store: store}}
	p := pipeline.GermlineParams{Sample: "S1", FASTQ: []string{pipeline.LakePrefix + "runs/RUN1/S1/R1.fastq.gz"}, Reference: "/ref.fa", OutDir: out}
	run, created, err := m.SubmitOnce(ctx, p)
	if err != nil || created || run.ID != prior.ID {
		t.Fatalf("SubmitOnce: run %s created %v err %v, want the prior run %s", run.ID, created, err, prior.ID)
	}
	runs, _ := store.ListRuns(ctx, catalog.RunFilter{SampleID: "S1"})
	if len(runs) != 1 {
		t.Fatalf("%d runs of the sample, want 1", len(runs))
	}
}

// TestFailedRunDropsItsDecryptedInputs: a run that ends without success
// leaves no decrypted copy of its lake inputs in its work directory.
func TestFailedRunDropsItsDecryptedInputs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := catalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	store.PutSample(ctx, catalog.Sample{ID: "S1", Created: now})
	run := catalog.Run{ID: pipeline.NewRunID(), SampleID: "S1", Pipeline: pipeline.GermlinePipeline, State: catalog.RunQueued,
		Params: `{"sample":"S1"}`, OutDir: "lake:results/S1", Created: now, Updated: now}
	if err := store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	staged := filepath.Join(work, run.ID, "inputs", "R1_reads.fastq.gz")
	if err := os.MkdirAll(filepath.Dir(staged), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(staged, []byte("@read\nACGT\n+\nIIII\n"), 0o600)
	r := &pipeline.Runner{Store: store, Engine: &workflow.Engine{Store: store, WorkDir: work}}
	if _, err := r.Execute(ctx, run); err == nil {
		t.Fatal("a run without FASTQ succeeded")
	}
	if _, err := os.Stat(filepath.Dir(staged)); !os.IsNotExist(err) {
		t.Fatalf("the failed run's decrypted inputs are still on disk: %v", err)
	}
	if got, _ := store.GetRun(ctx, run.ID); got.State != catalog.RunFailed {
		t.Fatalf("run state %s, want failed", got.State)
	}
}
