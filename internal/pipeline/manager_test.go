package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/pipeline"
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
