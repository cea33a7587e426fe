package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/ingest"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests; production uses 64 MiB

const (
	miseq    = "250101_M01234_0001_000000000-ABCDE" // finishes with RTAComplete.txt
	novaseqX = "20240105_LH00123_0012_B22ABCDLT3"   // waits for CopyComplete.txt
	sheet    = "[Header]\nIEMFileVersion,5\n[Reads]\n151\n151\n[Data]\nSample_ID,Sample_Name,index,index2\nS1,S1,ACGT,TTTT\nS2,S2,GGGG,CCCC\n"
)

type fixture struct {
	w     *ingest.Watcher
	lk    *lake.Lake
	store catalog.Store
	runs  string
	data  string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	be, err := lake.NewLocalFS(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test passphrase")
	if err != nil {
		t.Fatal(err)
	}
	lk := lake.New(store, be, kr, nil)
	runs := filepath.Join(dir, "runs")
	os.Mkdir(runs, 0o755)
	return fixture{w: &ingest.Watcher{Dir: runs, Prefix: "runs", Lake: lk, Store: store}, lk: lk, store: store, runs: runs, data: dir}
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

// fastq is a FASTQ record whose name marks the file it is in.
func fastq(name string) string { return "@" + name + "\nACGT\n+\nIIII\n" }

// makeMiSeqRun writes a finished MiSeq run with bcl2fastq's layout.
func makeMiSeqRun(t *testing.T, root string) {
	d := filepath.Join(root, miseq)
	write(t, filepath.Join(d, "SampleSheet.csv"), sheet)
	for _, s := range []string{"S1_S1", "S2_S2"} {
		for _, r := range []string{"R1", "R2"} {
			write(t, filepath.Join(d, "Data/Intensities/BaseCalls", s+"_L001_"+r+"_001.fastq.gz"), fastq(s+r))
		}
	}
	write(t, filepath.Join(d, "RTAComplete.txt"), "")
}

func read(t *testing.T, lk *lake.Lake, path string) string {
	t.Helper()
	r, err := lk.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIngestsFinishedRunsOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	makeMiSeqRun(t, f.runs)
	// A NovaSeq X run with RTAComplete.txt but no CopyComplete.txt yet.
	write(t, filepath.Join(f.runs, novaseqX, "RTAComplete.txt"), "")
	write(t, filepath.Join(f.runs, novaseqX, "SampleSheet.csv"), sheet)

	var hooked []catalog.SampleFASTQ
	f.w.Ingested = func(_ context.Context, run catalog.SequencerRun, fq []catalog.SampleFASTQ) error {
		hooked = append(hooked, fq...)
		return nil
	}
	res, err := f.w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Run != novaseqX || res[0].State != ingest.StateWaiting || !strings.Contains(res[0].Detail, "CopyComplete.txt") {
		t.Fatalf("NovaSeq X run: %+v", res)
	}
	if r := res[1]; r.State != catalog.SeqRunIngested || r.Stored != 4 || r.Kept != 0 {
		t.Fatalf("MiSeq run: %+v", r)
	}
	got := read(t, f.lk, "runs/"+miseq+"/S2/S2_S2_L001_R2_001.fastq.gz")
	if got != fastq("S2_S2R2") {
		t.Fatalf("stored FASTQ: %q", got)
	}
	fq, err := f.store.ListSampleFASTQs(ctx, "S1")
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.SampleFASTQ{SampleID: "S1", RunName: miseq, Lane: 1,
		R1: "runs/" + miseq + "/S1/S1_S1_L001_R1_001.fastq.gz", R2: "runs/" + miseq + "/S1/S1_S1_L001_R2_001.fastq.gz"}
	if len(fq) != 1 || fq[0] != want {
		t.Fatalf("S1 FASTQ: %+v, want %+v", fq, want)
	}
	if len(hooked) != 2 {
		t.Fatalf("hook saw %d samples, want 2", len(hooked))
	}
	rec, err := f.store.GetSequencerRun(ctx, miseq)
	if err != nil || rec.State != catalog.SeqRunIngested || rec.Instrument != "M01234" || rec.Samples != 2 {
		t.Fatalf("catalog: %+v %v", rec, err)
	}

	// A second scan stores nothing again; the NovaSeq X run, once its copy
	// is complete, is ingested.
	write(t, filepath.Join(f.runs, novaseqX, "CopyComplete.txt"), "")
	write(t, filepath.Join(f.runs, novaseqX, "Analysis/1/Data/fastq/S1_S1_L001_R1_001.fastq.gz"), fastq("x1"))
	write(t, filepath.Join(f.runs, novaseqX, "Analysis/1/Data/fastq/S1_S1_L001_R2_001.fastq.gz"), fastq("x2"))
	write(t, filepath.Join(f.runs, novaseqX, "Analysis/1/Data/fastq/S2_S2_L001_R1_001.fastq.gz"), fastq("x3"))
	write(t, filepath.Join(f.runs, novaseqX, "Analysis/1/Data/fastq/S2_S2_L001_R2_001.fastq.gz"), fastq("x4"))
	res, err = f.w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].State != catalog.SeqRunIngested || res[0].Stored != 4 || res[1].State != ingest.StateDone {
		t.Fatalf("second scan: %+v", res)
	}
	if fq, _ := f.store.ListSampleFASTQs(ctx, "S1"); len(fq) != 2 {
		t.Fatalf("S1 sequenced in two runs: %+v", fq)
	}
	if vs, _ := f.lk.Versions(ctx, "runs/"+miseq+"/S1/S1_S1_L001_R1_001.fastq.gz"); len(vs) != 1 {
		t.Fatalf("%d versions after two scans, want 1", len(vs))
	}
}

func TestRunInErrorIsRetried(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	makeMiSeqRun(t, f.runs)
	missing := filepath.Join(f.runs, miseq, "Data/Intensities/BaseCalls/S2_S2_L001_R2_001.fastq.gz")
	os.Remove(missing)
	res, err := f.w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].State != catalog.SeqRunError || !strings.Contains(res[0].Detail, "sheet line 9: R1 without R2") {
		t.Fatalf("run without S2's R2: %+v", res[0])
	}
	rec, _ := f.store.GetSequencerRun(ctx, miseq)
	if rec.State != catalog.SeqRunError || rec.Error == "" {
		t.Fatalf("catalog: %+v", rec)
	}
	if _, _, err := f.lk.Stat(ctx, "runs/"+miseq+"/S1/S1_S1_L001_R1_001.fastq.gz"); !errors.Is(err, lake.ErrNotFound) {
		t.Fatalf("a run in error stored FASTQ: %v", err)
	}
	write(t, missing, fastq("late"))
	if res, err = f.w.Scan(ctx); err != nil || res[0].State != catalog.SeqRunIngested || res[0].Stored != 4 {
		t.Fatalf("after the file arrived: %+v %v", res, err)
	}
}

func TestInterruptedIngestResumes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	makeMiSeqRun(t, f.runs)
	// The first scan stops after two objects: the context ends mid-run.
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	f.w.Lake = countingLake{Lake: f.lk, after: func() {
		if n++; n == 2 {
			cancel()
		}
	}}
	if _, err := f.w.Scan(cctx); err == nil {
		t.Fatal("an interrupted scan reported success")
	}
	rec, _ := f.store.GetSequencerRun(ctx, miseq)
	if rec.State == catalog.SeqRunIngested {
		t.Fatalf("interrupted run recorded as ingested: %+v", rec)
	}
	f.w.Lake = f.lk
	res, err := f.w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.State != catalog.SeqRunIngested || r.Kept != 2 || r.Stored != 2 {
		t.Fatalf("resumed: %+v", r)
	}
}

// countingLake calls after once each Put has committed.
type countingLake struct {
	*lake.Lake
	after func()
}

func (c countingLake) Put(ctx context.Context, path string, r io.Reader, o lake.PutOptions) (catalog.ObjectVersion, error) {
	if err := ctx.Err(); err != nil {
		return catalog.ObjectVersion{}, err
	}
	v, err := c.Lake.Put(ctx, path, r, o)
	if err == nil {
		c.after()
	}
	return v, err
}

func TestNoPlaintextInTheLake(t *testing.T) {
	f := newFixture(t)
	makeMiSeqRun(t, f.runs)
	if _, err := f.w.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(f.runs)
	found := 0
	filepath.Walk(f.data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("S1_S1R1")) {
				t.Errorf("%s holds FASTQ in plaintext", p)
				found++
			}
		}
		return nil
	})
	if found == 0 && read(t, f.lk, "runs/"+miseq+"/S1/S1_S1_L001_R1_001.fastq.gz") != fastq("S1_S1R1") {
		t.Fatal("the object does not hold what the search looked for")
	}
}

func TestNotFASTQIsAnError(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	makeMiSeqRun(t, f.runs)
	bad := filepath.Join(f.runs, miseq, "Data/Intensities/BaseCalls/S2_S2_L001_R1_001.fastq.gz")
	write(t, bad, "<html>not reads</html>\n")
	res, err := f.w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.State != catalog.SeqRunError || !strings.Contains(r.Detail, bad) || !strings.Contains(r.Detail, "line 1") {
		t.Fatalf("run with a file that is not FASTQ: %+v", r)
	}
	if rec, _ := f.store.GetSequencerRun(ctx, miseq); rec.State != catalog.SeqRunError {
		t.Fatalf("catalog: %+v", rec)
	}
}

// TestOrderedSamplesAreThePatients: a sample named by an order is stored
// under the patient's key; every stored object is audited.
func TestOrderedSamplesAreThePatients(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	db, err := clinical.Open(ctx, f.store, f.lk.Keys())
	if err != nil {
		t.Fatal(err)
	}
	var pid string
	err = db.Update(ctx, func(tx *clinical.Tx) error {
		var err error
		if pid, err = tx.UpsertPatient(clinical.Patient{Identifiers: []clinical.Identifier{{Value: "M1", Authority: "H"}}}); err != nil {
			return err
		}
		_, err = tx.UpsertOrder(pid, clinical.Order{PlacerNumber: "O1", Status: "new", Genetic: true, SampleID: "S1"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	makeMiSeqRun(t, f.runs)
	if _, err := f.w.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	o1, _, err := f.lk.Stat(ctx, "runs/"+miseq+"/S1/S1_S1_L001_R1_001.fastq.gz")
	if err != nil || o1.Patient != pid {
		t.Fatalf("S1's FASTQ: patient %q, want %q (%v)", o1.Patient, pid, err)
	}
	if o2, _, err := f.lk.Stat(ctx, "runs/"+miseq+"/S2/S2_S2_L001_R1_001.fastq.gz"); err != nil || o2.Patient != "" {
		t.Fatalf("S2 (no order): patient %q (%v), want stored under the site key", o2.Patient, err)
	}
	evs, _ := f.store.ListAuditByPatient(ctx, pid, 0, 100)
	if len(evs) != 2 || evs[0].Action != "lake.write" || evs[0].Actor != "ingest:"+miseq {
		t.Fatalf("audit of the patient's FASTQ: %+v", evs)
	}
}

// TestHookFailureLeavesTheRunToTheNextScan: a run is recorded as ingested
// only once the hook (which starts the pipelines) has succeeded; after a
// failure the next scan keeps the stored files, audits them again, and
// calls the hook again.
func TestHookFailureLeavesTheRunToTheNextScan(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	makeMiSeqRun(t, f.runs)
	calls := 0
	f.w.Ingested = func(_ context.Context, run catalog.SequencerRun, fq []catalog.SampleFASTQ) error {
		if calls++; calls == 1 {
			return errors.New("the pipeline manager is not ready")
		}
		if len(fq) != 2 {
			t.Errorf("hook called with %d FASTQ pairs, want 2", len(fq))
		}
		return nil
	}
	res, err := f.w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.State != catalog.SeqRunError || !strings.Contains(r.Detail, "after ingest: the pipeline manager is not ready") {
		t.Fatalf("first scan: %+v", r)
	}
	if rec, _ := f.store.GetSequencerRun(ctx, miseq); rec.State == catalog.SeqRunIngested {
		t.Fatalf("recorded as ingested before its hook succeeded: %+v", rec)
	}
	before, _ := f.store.ListAudit(ctx, 0, 1000)
	res, err = f.w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.State != catalog.SeqRunIngested || r.Kept != 4 || r.Stored != 0 || calls != 2 {
		t.Fatalf("second scan: %+v, hook calls %d", r, calls)
	}
	after, _ := f.store.ListAudit(ctx, 0, 1000)
	again := after[len(before):]
	if len(again) != 4 || again[0].Action != "lake.write" || again[0].Detail != "stored by an earlier, interrupted scan" {
		t.Fatalf("kept files audited again: %+v", again)
	}
	if res, _ = f.w.Scan(ctx); res[0].State != ingest.StateDone || calls != 2 {
		t.Fatalf("third scan: %+v, hook calls %d", res[0], calls)
	}
}
