// Package catalogtest is the conformance suite every catalog.Store backend
// must pass.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Run runs the suite. open returns a fresh, empty store each call; reopen
// (when not nil) opens the same database again, to check persistence and
// that migrations are applied only once.
func Run(t *testing.T, open func(t *testing.T) (store catalog.Store, reopen func() catalog.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s catalog.Store, reopen func() catalog.Store)
	}{
		{"Samples", samples},
		{"Runs", runs},
		{"ListRunsFilters", listRuns},
		{"Tasks", tasks},
		{"Files", files},
		{"ToolVersions", toolVersions},
		{"CallCache", callCache},
		{"ConcurrentWrites", concurrent},
		{"Reopen", reopenKeeps},
		{"LakeObjects", lakeObjects},
		{"Uploads", uploads},
		{"Audit", auditChain},
		{"AuditBatch", auditBatch},
		{"AuditCheckpointsKeysCursors", auditCheckpoints},
		{"SequencerRuns", sequencerRuns},
		{"APITokens", apiTokens},
		{"Clinical", clinicalTables},
		{"ClinicalBatches", clinicalBatches},
		{"HL7MessageBatches", hl7MessageBatches},
		{"Outbox", outbox},
		{"Reports", reports},
		{"FHIR", fhirResources},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, reopen := open(t)
			tc.fn(t, s, reopen)
		})
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func samples(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	if _, err := s.GetSample(ctx, "S1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing sample: %v, want ErrNotFound", err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	must(t, s.PutSample(ctx, catalog.Sample{ID: "S1", Created: created}))
	must(t, s.PutSample(ctx, catalog.Sample{ID: "S1", Created: created.Add(time.Hour)})) // unchanged
	got, err := s.GetSample(ctx, "S1")
	must(t, err)
	if got.ID != "S1" || !got.Created.Equal(created) {
		t.Errorf("got %+v, want created %v", got, created)
	}
	if err := s.PutSample(ctx, catalog.Sample{}); err == nil {
		t.Error("empty sample ID accepted")
	}
}

func newRun(t *testing.T, s catalog.Store, id, sample string, created time.Time) catalog.Run {
	t.Helper()
	must(t, s.PutSample(ctx, catalog.Sample{ID: sample}))
	r := catalog.Run{ID: id, SampleID: sample, Pipeline: "germline", State: catalog.RunQueued,
		Params: `{"sample":"` + sample + `"}`, OutDir: "/data/out/" + id, Created: created, Updated: created}
	must(t, s.CreateRun(ctx, r))
	return r
}

func runs(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	if _, err := s.GetRun(ctx, "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing run: %v, want ErrNotFound", err)
	}
	r := newRun(t, s, "r1", "S1", time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond))
	if err := s.CreateRun(ctx, r); err == nil {
		t.Error("duplicate run ID accepted")
	}
	if err := s.CreateRun(ctx, catalog.Run{ID: "r2", SampleID: "unknown-sample", Pipeline: "germline"}); err == nil {
		t.Error("run for an unknown sample accepted")
	}
	got, err := s.GetRun(ctx, "r1")
	must(t, err)
	if got.SampleID != r.SampleID || got.Pipeline != r.Pipeline || got.State != catalog.RunQueued || got.Params != r.Params || got.OutDir != r.OutDir || !got.Created.Equal(r.Created) {
		t.Errorf("got %+v, want %+v", got, r)
	}
	must(t, s.UpdateRun(ctx, "r1", catalog.RunFailed, "align: bwa exited 1"))
	got, err = s.GetRun(ctx, "r1")
	must(t, err)
	if got.State != catalog.RunFailed || got.Error != "align: bwa exited 1" || !got.Updated.After(r.Updated) {
		t.Errorf("after update: %+v", got)
	}
	if err := s.UpdateRun(ctx, "nope", catalog.RunFailed, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("update of a missing run: %v, want ErrNotFound", err)
	}
}

func listRuns(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		sample := "A"
		if i%2 == 1 {
			sample = "B"
		}
		newRun(t, s, fmt.Sprintf("run%d", i), sample, base.Add(time.Duration(i)*time.Minute))
	}
	must(t, s.UpdateRun(ctx, "run3", catalog.RunSucceeded, ""))
	ids := func(f catalog.RunFilter) string {
		rs, err := s.ListRuns(ctx, f)
		must(t, err)
		out := ""
		for _, r := range rs {
			out += r.ID + " "
		}
		return out
	}
	for _, c := range []struct {
		f    catalog.RunFilter
		want string
	}{
		{catalog.RunFilter{}, "run4 run3 run2 run1 run0 "},
		{catalog.RunFilter{SampleID: "B"}, "run3 run1 "},
		{catalog.RunFilter{State: catalog.RunSucceeded}, "run3 "},
		{catalog.RunFilter{State: catalog.RunQueued, SampleID: "A"}, "run4 run2 run0 "},
		{catalog.RunFilter{Limit: 2}, "run4 run3 "},
		{catalog.RunFilter{SampleID: "none"}, ""},
	} {
		if got := ids(c.f); got != c.want {
			t.Errorf("ListRuns(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func tasks(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	newRun(t, s, "r", "S", time.Now())
	start := time.Now().UTC().Truncate(time.Microsecond)
	t1 := catalog.Task{RunID: "r", TaskID: "call/001", Name: "call", State: catalog.TaskRunning, Attempts: 1, CacheKey: "k1", Started: start}
	must(t, s.PutTask(ctx, t1))
	must(t, s.PutTask(ctx, catalog.Task{RunID: "r", TaskID: "align/000", Name: "align", State: catalog.TaskCached}))
	t1.State, t1.Attempts, t1.ExitCode, t1.Error, t1.CPUSeconds, t1.Finished = catalog.TaskFailed, 2, 3, "bcftools: no such file", 12.5, start.Add(time.Second)
	must(t, s.PutTask(ctx, t1)) // upsert
	got, err := s.ListTasks(ctx, "r")
	must(t, err)
	if len(got) != 2 || got[0].TaskID != "align/000" || got[1].TaskID != "call/001" {
		t.Fatalf("tasks %+v, want align/000 then call/001", got)
	}
	g := got[1]
	if g.State != catalog.TaskFailed || g.Attempts != 2 || g.ExitCode != 3 || g.Error != t1.Error || g.CPUSeconds != 12.5 ||
		!g.Started.Equal(start) || !g.Finished.Equal(t1.Finished) || g.CacheKey != "k1" || g.Name != "call" {
		t.Errorf("got %+v, want %+v", g, t1)
	}
	if !got[0].Started.IsZero() {
		t.Errorf("unset start time read back as %v", got[0].Started)
	}
	if other, err := s.ListTasks(ctx, "other"); err != nil || len(other) != 0 {
		t.Errorf("tasks of an unknown run: %v %v", other, err)
	}
}

func files(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	if _, err := s.GetFile(ctx, "/x"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing file: %v, want ErrNotFound", err)
	}
	mt := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	f := catalog.File{Path: "/data/out/r/S.bam", Size: 1 << 40, ModTime: mt, SHA256: "ab12", RunID: "r", TaskID: "markdup"}
	must(t, s.PutFile(ctx, f))
	must(t, s.PutFile(ctx, catalog.File{Path: "/data/out/r/A.vcf.gz", Size: 1, SHA256: "cd", RunID: "r", TaskID: "gather"}))
	must(t, s.PutFile(ctx, catalog.File{Path: "/in/R1.fastq.gz", Size: 2, SHA256: "ef"}))
	got, err := s.GetFile(ctx, f.Path)
	must(t, err)
	if got.Path != f.Path || got.Size != f.Size || !got.ModTime.Equal(mt) || got.SHA256 != f.SHA256 || got.RunID != f.RunID || got.TaskID != f.TaskID {
		t.Errorf("got %+v, want %+v", got, f)
	}
	f.SHA256, f.Size = "ff", 3
	must(t, s.PutFile(ctx, f))
	got, _ = s.GetFile(ctx, f.Path)
	if got.SHA256 != "ff" || got.Size != 3 {
		t.Errorf("upsert: %+v", got)
	}
	list, err := s.ListFiles(ctx, "r")
	must(t, err)
	if len(list) != 2 || list[0].Path != "/data/out/r/A.vcf.gz" || list[1].Path != f.Path {
		t.Errorf("ListFiles: %+v", list)
	}
}

func toolVersions(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	newRun(t, s, "r", "S", time.Now())
	must(t, s.PutToolVersions(ctx, "r", []catalog.ToolVersion{{Tool: "samtools", Version: "1.16"}, {Tool: "bwa", Version: "0.7.17-r1188"}}))
	must(t, s.PutToolVersions(ctx, "r", []catalog.ToolVersion{{Tool: "samtools", Version: "1.17"}, {Tool: "bwa", Version: "0.7.17-r1188"}, {Tool: "bcftools", Version: "1.16"}}))
	got, err := s.ToolVersions(ctx, "r")
	must(t, err)
	want := []catalog.ToolVersion{{Tool: "bcftools", Version: "1.16"}, {Tool: "bwa", Version: "0.7.17-r1188"}, {Tool: "samtools", Version: "1.17"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func callCache(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	if _, err := s.GetCache(ctx, "k"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing entry: %v, want ErrNotFound", err)
	}
	e := catalog.CacheEntry{Key: "k", RunID: "r", TaskID: "t", Outputs: []catalog.File{
		{Path: "/o/a.bam", Size: 10, SHA256: "aa", ModTime: time.Unix(100, 5).UTC()},
		{Path: "/o/a.bam.bai", Size: 2, SHA256: "bb"},
	}}
	must(t, s.PutCache(ctx, e))
	got, err := s.GetCache(ctx, "k")
	must(t, err)
	if got.RunID != "r" || got.TaskID != "t" || len(got.Outputs) != 2 || got.Outputs[0].SHA256 != "aa" || !got.Outputs[0].ModTime.Equal(e.Outputs[0].ModTime) || got.Created.IsZero() {
		t.Errorf("got %+v", got)
	}
	e.RunID = "r2"
	must(t, s.PutCache(ctx, e))
	if got, _ := s.GetCache(ctx, "k"); got.RunID != "r2" {
		t.Errorf("replace: %+v", got)
	}
}

func concurrent(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	newRun(t, s, "r", "S", time.Now())
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				id := fmt.Sprintf("t%02d/%d", i, j)
				if err := s.PutTask(ctx, catalog.Task{RunID: "r", TaskID: id, Name: "t", State: catalog.TaskSucceeded}); err != nil {
					errs <- err
				}
				if err := s.PutFile(ctx, catalog.File{Path: "/f/" + id, RunID: "r", SHA256: "x"}); err != nil {
					errs <- err
				}
				if _, err := s.ListTasks(ctx, "r"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := s.ListTasks(ctx, "r")
	if len(got) != 200 {
		t.Errorf("%d tasks after 200 concurrent writes", len(got))
	}
}

func reopenKeeps(t *testing.T, s catalog.Store, reopen func() catalog.Store) {
	if reopen == nil {
		t.Skip("backend cannot be reopened")
	}
	newRun(t, s, "r", "S", time.Now())
	must(t, s.Close())
	s2 := reopen()
	defer s2.Close()
	if _, err := s2.GetRun(ctx, "r"); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

func lakeObjects(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	ctx := context.Background()
	v1 := catalog.ObjectVersion{ID: "v1", Path: "p/a.fastq.gz", Blob: "b/v1", Size: 10, StoredSize: 38, SHA256: "aa", ChunkSize: 65536,
		KeyName: "patient-x", KeyVersion: "1", WrappedKey: []byte{1, 2, 3}, Kind: "fastq", Tier: "hot", Created: time.Unix(100, 0)}
	must(t, s.CommitObjectVersion(ctx, v1, "x"))
	v2 := v1
	v2.ID, v2.Blob, v2.SHA256, v2.Created = "v2", "b/v2", "bb", time.Unix(200, 0)
	must(t, s.CommitObjectVersion(ctx, v2, "x"))
	o, err := s.GetObject(ctx, "p/a.fastq.gz")
	must(t, err)
	if o.Current != "v2" || o.Patient != "x" || !o.Deleted.IsZero() {
		t.Fatalf("object = %+v", o)
	}
	v3 := v1
	v3.ID, v3.Blob = "v3", "b/v3"
	if err := s.CommitObjectVersion(ctx, v3, "someone-else"); err == nil {
		t.Fatal("object moved to another patient")
	}
	vs, err := s.ListObjectVersions(ctx, "p/a.fastq.gz")
	must(t, err)
	if len(vs) != 2 || vs[0].ID != "v1" || vs[1].ID != "v2" || string(vs[0].WrappedKey) != "\x01\x02\x03" {
		t.Fatalf("versions = %+v", vs)
	}
	o.Deleted, o.Hold, o.RetainUntil = time.Unix(300, 0), "litigation", time.Unix(400, 0)
	must(t, s.UpdateObject(ctx, o))
	o2, err := s.GetObject(ctx, o.Path)
	must(t, err)
	if !o2.Deleted.Equal(o.Deleted) || o2.Hold != "litigation" || !o2.RetainUntil.Equal(o.RetainUntil) {
		t.Fatalf("updated object = %+v", o2)
	}
	if err := s.UpdateObject(ctx, catalog.Object{Path: "nope"}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	v1.KeyVersion, v1.WrappedKey, v1.Tier, v1.VerifyError = "2", []byte{9}, "archive", "chunk 3: authentication failed"
	must(t, s.UpdateObjectVersion(ctx, v1))
	got, err := s.GetObjectVersion(ctx, "v1")
	must(t, err)
	if got.KeyVersion != "2" || got.WrappedKey[0] != 9 || got.Tier != "archive" || got.VerifyError == "" || got.Path != v1.Path {
		t.Fatalf("updated version = %+v", got)
	}
	if _, err := s.GetObjectVersion(ctx, "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	byKey, err := s.ListVersionsByKey(ctx, "patient-x")
	must(t, err)
	if len(byKey) != 2 {
		t.Fatalf("by key = %d", len(byKey))
	}
	other := v1
	other.ID, other.Path, other.Blob, other.RunID = "w1", "q/b.vcf.gz", "b/w1", "run9"
	must(t, s.CommitObjectVersion(ctx, other, ""))
	objs, err := s.ListObjects(ctx, "p/")
	must(t, err)
	if len(objs) != 1 || objs[0].Path != "p/a.fastq.gz" {
		t.Fatalf("list p/ = %+v", objs)
	}
	if all, _ := s.ListObjects(ctx, ""); len(all) != 2 {
		t.Fatalf("list all = %d", len(all))
	}
	if byRun, _ := s.ListVersionsByRun(ctx, "run9"); len(byRun) != 1 || byRun[0].ID != "w1" {
		t.Fatalf("by run = %+v", byRun)
	}
	// A new version undeletes a soft-deleted object.
	v4 := v1
	v4.ID, v4.Blob = "v4", "b/v4"
	must(t, s.CommitObjectVersion(ctx, v4, "x"))
	if o3, _ := s.GetObject(ctx, o.Path); !o3.Deleted.IsZero() || o3.Hold != "litigation" || o3.Current != "v4" {
		t.Fatalf("after new version = %+v", o3)
	}
}

func uploads(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	ctx := context.Background()
	u := catalog.Upload{ID: "u1", Path: "p/x", VersionID: "v", Blob: "b", Size: -1, KeyName: "lake", KeyVersion: "1",
		WrappedKey: []byte("wk"), PartSize: 4 << 20, HashState: []byte("h0")}
	must(t, s.PutUpload(ctx, u))
	u.Parts, u.Offset, u.HashState = 3, 12<<20, []byte("h3")
	must(t, s.PutUpload(ctx, u))
	got, err := s.GetUpload(ctx, "u1")
	must(t, err)
	if got.Parts != 3 || got.Offset != 12<<20 || string(got.HashState) != "h3" || string(got.WrappedKey) != "wk" || got.Size != -1 {
		t.Fatalf("upload = %+v", got)
	}
	if l, _ := s.ListUploads(ctx); len(l) != 1 {
		t.Fatalf("list = %d", len(l))
	}
	must(t, s.DeleteUpload(ctx, "u1"))
	if _, err := s.GetUpload(ctx, "u1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted upload: %v", err)
	}
}

func auditChain(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AppendAudit(ctx, catalog.AuditEvent{Actor: "cli", Action: "key.destroy", Resource: fmt.Sprint("k", i), Outcome: "ok"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	evs, err := s.ListAudit(ctx, 0, 0)
	must(t, err)
	if len(evs) != 8 {
		t.Fatalf("%d events", len(evs))
	}
	prev := ""
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Prev != prev || e.Hash != catalog.AuditHash(e) {
			t.Fatalf("event %d breaks the chain: %+v", i, e)
		}
		prev = e.Hash
	}
	if tail, _ := s.ListAudit(ctx, 6, 10); len(tail) != 2 {
		t.Fatalf("after 6: %d", len(tail))
	}
}

func sequencerRuns(t *testing.T, s catalog.Store, reopen func() catalog.Store) {
	const name = "240131_M00123_0042_000000000-ABCDE"
	if _, err := s.GetSequencerRun(ctx, name); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing run folder: %v, want ErrNotFound", err)
	}
	created := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r := catalog.SequencerRun{Name: name, Instrument: "M00123", State: catalog.SeqRunIngesting, Samples: 2, Created: created, Updated: created}
	must(t, s.PutSequencerRun(ctx, r))
	r.State, r.Error, r.Updated = catalog.SeqRunError, "no FASTQ for sample 2", created.Add(time.Minute)
	must(t, s.PutSequencerRun(ctx, r))
	got, err := s.GetSequencerRun(ctx, name)
	must(t, err)
	if got.State != catalog.SeqRunError || got.Error != r.Error || got.Samples != 2 || !got.Created.Equal(created) || !got.Updated.Equal(r.Updated) {
		t.Errorf("got %+v, want %+v", got, r)
	}
	must(t, s.PutSequencerRun(ctx, catalog.SequencerRun{Name: "b-run", State: catalog.SeqRunIngested}))
	list, err := s.ListSequencerRuns(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != name || list[1].Name != "b-run" {
		t.Errorf("list: %+v", list)
	}
	if err := s.PutSequencerRun(ctx, catalog.SequencerRun{}); err == nil {
		t.Error("a run folder without a name was accepted")
	}

	// FASTQ per sample, run and lane; replacing a lane keeps one row.
	must(t, s.PutSample(ctx, catalog.Sample{ID: "S7"}))
	if err := s.PutSampleFASTQ(ctx, catalog.SampleFASTQ{SampleID: "nosuch", RunName: name, Lane: 1, R1: "a"}); err == nil {
		t.Error("FASTQ of an unknown sample was accepted")
	}
	if err := s.PutSampleFASTQ(ctx, catalog.SampleFASTQ{SampleID: "S7", RunName: "nosuch", Lane: 1, R1: "a"}); err == nil {
		t.Error("FASTQ of an unknown run folder was accepted")
	}
	must(t, s.PutSampleFASTQ(ctx, catalog.SampleFASTQ{SampleID: "S7", RunName: name, Lane: 2, R1: "x/L2_R1", R2: "x/L2_R2"}))
	must(t, s.PutSampleFASTQ(ctx, catalog.SampleFASTQ{SampleID: "S7", RunName: name, Lane: 1, R1: "old", R2: "old"}))
	must(t, s.PutSampleFASTQ(ctx, catalog.SampleFASTQ{SampleID: "S7", RunName: name, Lane: 1, R1: "x/L1_R1", R2: "x/L1_R2"}))
	fq, err := s.ListSampleFASTQs(ctx, "S7")
	must(t, err)
	if len(fq) != 2 || fq[0].Lane != 1 || fq[0].R1 != "x/L1_R1" || fq[1].Lane != 2 || fq[1].R2 != "x/L2_R2" {
		t.Errorf("FASTQ: %+v", fq)
	}
	if reopen != nil {
		s2 := reopen()
		defer s2.Close()
		if got, err := s2.GetSequencerRun(ctx, name); err != nil || got.State != catalog.SeqRunError {
			t.Errorf("after reopen: %+v %v", got, err)
		}
	}
}

func apiTokens(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	created := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tok := catalog.APIToken{ID: "t1", Name: "laptop", Owner: "user:alice", Hash: "ab12", Grants: "clinician@site:main",
		Perms: "runs:read", Created: created, Expires: created.Add(24 * time.Hour)}
	must(t, s.PutAPIToken(ctx, tok))
	if err := s.PutAPIToken(ctx, tok); err == nil {
		t.Error("a token id was accepted twice")
	}
	must(t, s.PutAPIToken(ctx, catalog.APIToken{ID: "t2", Name: "ci", Owner: "user:bob", Hash: "cd34", Grants: "service", Created: created.Add(time.Hour), Expires: created.Add(48 * time.Hour)}))
	got, err := s.GetAPIToken(ctx, "t1")
	must(t, err)
	if got != tok {
		t.Errorf("got %+v, want %+v", got, tok)
	}
	if _, err := s.GetAPIToken(ctx, "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("missing token: %v", err)
	}
	if l, _ := s.ListAPITokens(ctx, "user:alice"); len(l) != 1 || l[0].ID != "t1" {
		t.Errorf("alice's tokens: %+v", l)
	}
	if l, _ := s.ListAPITokens(ctx, ""); len(l) != 2 || l[0].ID != "t2" {
		t.Errorf("all tokens, newest first: %+v", l)
	}
	at := created.Add(2 * time.Hour)
	must(t, s.RevokeAPIToken(ctx, "t1", at))
	must(t, s.RevokeAPIToken(ctx, "t1", at.Add(time.Hour))) // stays revoked at the first time
	if got, _ := s.GetAPIToken(ctx, "t1"); !got.Revoked.Equal(at) {
		t.Errorf("revoked at %v, want %v", got.Revoked, at)
	}
	if err := s.RevokeAPIToken(ctx, "nope", at); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("revoke missing: %v", err)
	}
}

func clinicalTables(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	must(t, s.PutSealingKey(ctx, catalog.SealingKey{Name: "clinical", KeyName: "clinical", KeyVersion: "1", Wrapped: []byte{1, 2, 3}, Created: now}))
	must(t, s.PutSealingKey(ctx, catalog.SealingKey{Name: "clinical", KeyName: "clinical", KeyVersion: "2", Wrapped: []byte{9}, Created: now})) // first one stays
	if k, err := s.GetSealingKey(ctx, "clinical"); err != nil || k.KeyVersion != "1" || string(k.Wrapped) != "\x01\x02\x03" {
		t.Fatalf("sealing key %+v %v", k, err)
	}
	// A failing transaction leaves nothing.
	boom := errors.New("boom")
	err := s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		must(t, tx.PutPatient(ctx, catalog.PatientRow{ID: "px", Sealed: []byte("s"), Created: now, Updated: now}))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InClinicalTx returned %v, want the function's error", err)
	}
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		if _, err := tx.GetPatient(ctx, "px"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("rolled-back patient: %v", err)
		}
		for _, id := range []string{"p1", "p2"} {
			must(t, tx.PutPatient(ctx, catalog.PatientRow{ID: id, Sealed: []byte("sealed-" + id), Created: now, Updated: now}))
		}
		must(t, tx.PutPatientIdentifier(ctx, "h1", "p1"))
		must(t, tx.PutPatientIdentifier(ctx, "h2", "p2"))
		must(t, tx.PutEncounter(ctx, catalog.ClinicalRow{ID: "e1", PatientID: "p2", KeyHash: "ek", Sealed: []byte("e"), Updated: now}))
		must(t, tx.PutOrder(ctx, catalog.OrderRow{ID: "o1", PatientID: "p2", KeyHash: "ok", SampleID: "S1", Status: "new", Sealed: []byte("o"), Updated: now}))
		must(t, tx.PutResult(ctx, catalog.ClinicalRow{ID: "r1", PatientID: "p2", OrderID: "o1", KeyHash: "rk", Sealed: []byte("r"), Updated: now}))
		must(t, tx.MovePatientRecords(ctx, "p2", "p1"))
		must(t, tx.PutPatientIdentifier(ctx, "h2", "p1")) // repoint
		must(t, tx.PutHL7Message(ctx, catalog.HL7Message{ID: "m1", Sender: "EPIC^HOSP", ControlID: "c1", Received: now, Type: "ADT^A01", State: "processed", Ack: []byte("MSA|AA|c1"), PatientID: "p1", Sealed: []byte("body")}))
		return nil
	}))
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		if id, err := tx.PatientByIdentifier(ctx, "h2"); err != nil || id != "p1" {
			t.Errorf("repointed identifier: %s %v", id, err)
		}
		if hs, _ := tx.PatientIdentifiers(ctx, "p1"); len(hs) != 2 {
			t.Errorf("identifiers of p1: %v", hs)
		}
		if o, err := tx.GetOrder(ctx, "ok"); err != nil || o.PatientID != "p1" || o.SampleID != "S1" || string(o.Sealed) != "o" {
			t.Errorf("order %+v %v", o, err)
		}
		if r, err := tx.GetResult(ctx, "rk"); err != nil || r.OrderID != "o1" || r.PatientID != "p1" {
			t.Errorf("result %+v %v", r, err)
		}
		if m, err := tx.GetHL7Message(ctx, "EPIC^HOSP", "c1"); err != nil || string(m.Ack) != "MSA|AA|c1" || string(m.Sealed) != "body" {
			t.Errorf("message %+v %v", m, err)
		}
		if _, err := tx.GetHL7Message(ctx, "EPIC^HOSP", "c2"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("missing message: %v", err)
		}
		return nil
	}))
	// A savepoint undoes part of a transaction.
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		must(t, tx.Savepoint(ctx, "m1"))
		must(t, tx.PutPatient(ctx, catalog.PatientRow{ID: "p9", Sealed: []byte("s"), Created: now, Updated: now}))
		must(t, tx.RollbackTo(ctx, "m1"))
		must(t, tx.Release(ctx, "m1"))
		must(t, tx.Savepoint(ctx, "m2"))
		must(t, tx.PutPatient(ctx, catalog.PatientRow{ID: "p8", Sealed: []byte("s"), Created: now, Updated: now}))
		return tx.Release(ctx, "m2")
	}))
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		if _, err := tx.GetPatient(ctx, "p9"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("rolled back to a savepoint, yet: %v", err)
		}
		if _, err := tx.GetPatient(ctx, "p8"); err != nil {
			t.Errorf("released savepoint lost its write: %v", err)
		}
		return nil
	}))
	// A second message with the same sender and control id is refused.
	err = s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		return tx.PutHL7Message(ctx, catalog.HL7Message{ID: "m2", Sender: "EPIC^HOSP", ControlID: "c1", Received: now})
	})
	if err == nil {
		t.Error("a duplicate control id was stored")
	}
	enc, ord, res, err := s.ListPatientRecords(ctx, "p1")
	if err != nil || len(enc) != 1 || len(ord) != 1 || len(res) != 1 {
		t.Errorf("records of p1: %v %v %v %v", enc, ord, res, err)
	}
	if pid, err := s.PatientOfSample(ctx, "S1"); err != nil || pid != "p1" {
		t.Errorf("patient of sample S1: %s %v", pid, err)
	}
	if _, err := s.PatientOfSample(ctx, "S404"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("patient of an unknown sample: %v", err)
	}
	if ms, err := s.ListHL7Messages(ctx, "processed", 10); err != nil || len(ms) != 1 {
		t.Errorf("processed messages: %v %v", ms, err)
	}
	if m, err := s.GetHL7MessageByID(ctx, "m1"); err != nil || m.Type != "ADT^A01" {
		t.Errorf("message by id: %+v %v", m, err)
	}
	// Settings, the walk over all patients, and clearing the identifiers
	// (the identifier re-index).
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		if v, err := tx.Setting(ctx, "scheme"); err != nil || v != "" {
			t.Errorf("unset setting: %q %v", v, err)
		}
		must(t, tx.PutSetting(ctx, "scheme", "1"))
		must(t, tx.PutSetting(ctx, "scheme", "2"))
		if v, err := tx.Setting(ctx, "scheme"); err != nil || v != "2" {
			t.Errorf("setting: %q %v", v, err)
		}
		var walked []string
		for after := ""; ; {
			ps, err := tx.PatientsAfter(ctx, after, 2)
			if err != nil || len(ps) == 0 {
				must(t, err)
				break
			}
			for _, p := range ps {
				walked = append(walked, p.ID)
			}
			after = ps[len(ps)-1].ID
		}
		if strings.Join(walked, ",") != "p1,p2,p8" {
			t.Errorf("walked %v, want p1,p2,p8", walked)
		}
		if ps, err := tx.PatientsAfter(ctx, "p1", 1); err != nil || len(ps) != 1 || string(ps[0].Sealed) != "sealed-p2" || !ps[0].Created.Equal(now) {
			t.Errorf("PatientsAfter: %+v %v", ps, err)
		}
		must(t, tx.ClearPatientIdentifiers(ctx))
		if _, err := tx.PatientByIdentifier(ctx, "h1"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("identifier after clearing: %v", err)
		}
		// Re-keying visits and orders.
		ks, err := tx.KeyedRowsAfter(ctx, "encounters", "", 10)
		if err != nil || len(ks) != 1 || ks[0].ID != "e1" || ks[0].KeyHash != "ek" || string(ks[0].Sealed) != "e" {
			t.Errorf("KeyedRowsAfter encounters: %+v %v", ks, err)
		}
		must(t, tx.SetKeyHashes(ctx, "encounters", []catalog.KeyedRow{{ID: "e1", KeyHash: "ek2"}}))
		must(t, tx.SetKeyHashes(ctx, "orders", []catalog.KeyedRow{{ID: "o1", KeyHash: "ok2"}}))
		if r, err := tx.GetEncounter(ctx, "ek2"); err != nil || r.ID != "e1" {
			t.Errorf("encounter by its new key: %+v %v", r, err)
		}
		if o, err := tx.GetOrder(ctx, "ok2"); err != nil || o.ID != "o1" || o.SampleID != "S1" {
			t.Errorf("order by its new key: %+v %v", o, err)
		}
		if ks, err := tx.KeyedRowsAfter(ctx, "orders", "o1", 10); err != nil || len(ks) != 0 {
			t.Errorf("orders after o1: %+v %v", ks, err)
		}
		if _, err := tx.KeyedRowsAfter(ctx, "patients; DROP TABLE x", "", 1); err == nil {
			t.Error("KeyedRowsAfter took a table that is not keyed")
		}
		return nil
	}))
}

// clinicalBatches: the batch forms of the patient lookups and writes
// (chunked past their statement size, a row given twice in one call), and
// a commit whose sync is waited for apart.
func clinicalBatches(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	const n = 1234 // more than one chunk of every batch statement
	var ps []catalog.PatientRow
	var ids []catalog.IdentifierRow
	var hashes, pids []string
	for i := range n {
		pid := fmt.Sprintf("bp%04d", i)
		ps = append(ps, catalog.PatientRow{ID: pid, Sealed: []byte("v1-" + pid), Created: now, Updated: now})
		ids = append(ids, catalog.IdentifierRow{Hash: fmt.Sprintf("bh%04d", i), PatientID: pid})
		hashes, pids = append(hashes, fmt.Sprintf("bh%04d", i)), append(pids, pid)
	}
	// The later of two rows with one key wins.
	ps = append(ps, catalog.PatientRow{ID: "bp0007", MergedInto: "bp0008", Sealed: []byte("v2"), Created: now, Updated: now.Add(time.Hour)})
	ids = append(ids, catalog.IdentifierRow{Hash: "bh0009", PatientID: "bp0010"})
	durable, err := s.InClinicalTxNoWait(ctx, func(tx catalog.ClinicalTx) error {
		if err := tx.PutPatients(ctx, ps); err != nil {
			return err
		}
		return tx.PutPatientIdentifiers(ctx, ids)
	})
	must(t, err)
	must(t, durable())
	must(t, durable()) // again: nothing more to wait for
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		found, err := tx.PatientsByIdentifiers(ctx, append(slices.Clone(hashes), "bh-none", "bh0001"))
		must(t, err)
		if len(found) != n || found["bh0001"] != "bp0001" || found["bh0009"] != "bp0010" || found["bh-none"] != "" {
			t.Errorf("%d identifiers found; bh0001 %q, bh0009 %q", len(found), found["bh0001"], found["bh0009"])
		}
		rows, err := tx.GetPatients(ctx, append(slices.Clone(pids), "bp-none"))
		must(t, err)
		if r := rows["bp0007"]; len(rows) != n || r.MergedInto != "bp0008" || string(r.Sealed) != "v2" || !r.Created.Equal(now) || !r.Updated.Equal(now.Add(time.Hour)) {
			t.Errorf("%d patients read; bp0007 %+v", len(rows), r)
		}
		if r := rows["bp1233"]; string(r.Sealed) != "v1-bp1233" {
			t.Errorf("bp1233 %+v", r)
		}
		return nil
	}))
	// Encounters: more than one chunk, the later of two rows with one id
	// wins, unknown keys are absent.
	var es []catalog.ClinicalRow
	var keys []string
	for i := range 150 {
		es = append(es, catalog.ClinicalRow{ID: fmt.Sprintf("be%04d", i), PatientID: fmt.Sprintf("bp%04d", i),
			KeyHash: fmt.Sprintf("bk%04d", i), Sealed: []byte(fmt.Sprintf("e1-%d", i)), Updated: now})
		keys = append(keys, fmt.Sprintf("bk%04d", i))
	}
	es = append(es, catalog.ClinicalRow{ID: "be0003", PatientID: "bp0004", KeyHash: "bk0003", Sealed: []byte("e2"), Updated: now.Add(time.Hour)})
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error { return tx.PutEncounters(ctx, es) }))
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		found, err := tx.GetEncounters(ctx, append(slices.Clone(keys), "bk-none", "bk0001"))
		must(t, err)
		if r := found["bk0003"]; len(found) != 150 || r.ID != "be0003" || r.PatientID != "bp0004" || string(r.Sealed) != "e2" || !r.Updated.Equal(now.Add(time.Hour)) {
			t.Errorf("%d encounters found; bk0003 %+v", len(found), r)
		}
		if r := found["bk0149"]; r.ID != "be0149" || r.PatientID != "bp0149" || string(r.Sealed) != "e1-149" || r.OrderID != "" {
			t.Errorf("bk0149 %+v", r)
		}
		// Short batches (statements filled to a power of two rows).
		few, err := tx.PatientsByIdentifiers(ctx, []string{"bh0001", "bh0002", "bh-none", "bh0003", "bh0004", "bh0005"})
		must(t, err)
		rows, err := tx.GetPatients(ctx, []string{"bp0001", "bp0002", "bp-none", "bp0003", "bp0004", "bp0005"})
		must(t, err)
		if len(few) != 5 || few["bh0005"] != "bp0005" || len(rows) != 5 || string(rows["bp0005"].Sealed) != "v1-bp0005" {
			t.Errorf("short lookups: %v, %d rows", few, len(rows))
		}
		one, err := tx.GetEncounter(ctx, "bk0042")
		must(t, err)
		if one.ID != "be0042" || string(one.Sealed) != "e1-42" {
			t.Errorf("GetEncounter after PutEncounters: %+v", one)
		}
		return nil
	}))
	// Orders and results (an extract of results): the same, by key hash.
	var ors []catalog.OrderRow
	var rs []catalog.ClinicalRow
	var okeys, rkeys []string
	for i := range 150 {
		ors = append(ors, catalog.OrderRow{ID: fmt.Sprintf("bo%04d", i), PatientID: fmt.Sprintf("bp%04d", i), KeyHash: fmt.Sprintf("bok%04d", i),
			Status: "completed", Sealed: []byte(fmt.Sprintf("o1-%d", i)), Updated: now})
		rs = append(rs, catalog.ClinicalRow{ID: fmt.Sprintf("br%04d", i), PatientID: fmt.Sprintf("bp%04d", i), OrderID: fmt.Sprintf("bo%04d", i),
			KeyHash: fmt.Sprintf("brk%04d", i), Sealed: []byte(fmt.Sprintf("r1-%d", i)), Updated: now})
		okeys, rkeys = append(okeys, fmt.Sprintf("bok%04d", i)), append(rkeys, fmt.Sprintf("brk%04d", i))
	}
	ors = append(ors, catalog.OrderRow{ID: "bo0003", PatientID: "bp0003", KeyHash: "bok0003", SampleID: "S-3", Status: "in-progress", Sealed: []byte("o2"), Updated: now.Add(time.Hour)})
	rs = append(rs, catalog.ClinicalRow{ID: "br0003", PatientID: "bp0004", OrderID: "bo0004", KeyHash: "brk0003", Sealed: []byte("r2"), Updated: now.Add(time.Hour)})
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		if err := tx.PutOrders(ctx, ors); err != nil {
			return err
		}
		return tx.PutResults(ctx, rs)
	}))
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		fo, err := tx.GetOrders(ctx, append(slices.Clone(okeys), "bok-none", "bok0001"))
		must(t, err)
		if o := fo["bok0003"]; len(fo) != 150 || o.ID != "bo0003" || o.SampleID != "S-3" || o.Status != "in-progress" || string(o.Sealed) != "o2" || !o.Updated.Equal(now.Add(time.Hour)) {
			t.Errorf("%d orders found; bok0003 %+v", len(fo), o)
		}
		if o := fo["bok0149"]; o.ID != "bo0149" || o.PatientID != "bp0149" || string(o.Sealed) != "o1-149" {
			t.Errorf("bok0149 %+v", o)
		}
		fr, err := tx.GetResults(ctx, append(slices.Clone(rkeys), "brk-none"))
		must(t, err)
		if r := fr["brk0003"]; len(fr) != 150 || r.ID != "br0003" || r.PatientID != "bp0004" || r.OrderID != "bo0004" || string(r.Sealed) != "r2" {
			t.Errorf("%d results found; brk0003 %+v", len(fr), r)
		}
		few, err := tx.GetResults(ctx, []string{"brk0005", "brk-none", "brk0006"})
		must(t, err)
		one, err := tx.GetResult(ctx, "brk0149")
		must(t, err)
		if len(few) != 2 || few["brk0006"].OrderID != "bo0006" || one.ID != "br0149" || one.OrderID != "bo0149" || string(one.Sealed) != "r1-149" {
			t.Errorf("short lookup %v; GetResult after PutResults: %+v", few, one)
		}
		o, err := tx.GetOrder(ctx, "bok0042")
		must(t, err)
		if o.ID != "bo0042" || string(o.Sealed) != "o1-42" {
			t.Errorf("GetOrder after PutOrders: %+v", o)
		}
		return nil
	}))
	// A failing function commits nothing and has nothing to wait for.
	boom := errors.New("boom")
	if _, err := s.InClinicalTxNoWait(ctx, func(tx catalog.ClinicalTx) error {
		must(t, tx.PutPatients(ctx, []catalog.PatientRow{{ID: "bp-x", Sealed: []byte("x"), Created: now, Updated: now}}))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("InClinicalTxNoWait returned %v, want the function's error", err)
	}
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		if _, err := tx.GetPatient(ctx, "bp-x"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("rolled-back patient: %v", err)
		}
		return nil
	}))
}

func outbox(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	if _, err := s.NextOutbox(ctx, "ehr"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("empty outbox: %v", err)
	}
	var ids []string
	for i, dest := range []string{"ehr", "ehr", "lis", "ehr"} {
		o, err := s.PutOutbox(ctx, catalog.OutboxItem{ID: fmt.Sprintf("x%d", i), Destination: dest, Kind: "hl7", PatientID: "p1", Sealed: []byte{byte(i)}})
		must(t, err)
		ids = append(ids, o.ID)
		if o.State != catalog.OutboxPending || o.Seq == 0 {
			t.Fatalf("put: %+v", o)
		}
	}
	next, err := s.NextOutbox(ctx, "ehr")
	if err != nil || next.ID != "x0" || next.Seq != 1 || next.Sealed[0] != 0 {
		t.Fatalf("next: %+v %v", next, err)
	}
	next.State, next.Attempts, next.LastError = catalog.OutboxDelivered, 2, ""
	must(t, s.UpdateOutbox(ctx, next))
	if next, _ = s.NextOutbox(ctx, "ehr"); next.ID != "x1" {
		t.Fatalf("after delivery, next is %s", next.ID)
	}
	next.State, next.LastError = catalog.OutboxDead, "refused: AR"
	must(t, s.UpdateOutbox(ctx, next))
	if next, _ = s.NextOutbox(ctx, "ehr"); next.ID != "x3" || next.Seq != 3 {
		t.Fatalf("after the dead letter, next is %+v", next)
	}
	if l, _ := s.ListOutbox(ctx, "ehr", catalog.OutboxDead, 10); len(l) != 1 || l[0].LastError != "refused: AR" {
		t.Errorf("dead letters: %+v", l)
	}
	if l, _ := s.ListOutbox(ctx, "", "", 10); len(l) != 4 {
		t.Errorf("all: %d", len(l))
	}
	if err := s.UpdateOutbox(ctx, catalog.OutboxItem{ID: "nope"}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
}

// hl7MessageBatches: a group of HL7 messages looked up by sender and
// control id and stored in a few statements (past one chunk, a message
// given twice, keys that repeat or are unknown, a replaced message).
func hl7MessageBatches(t *testing.T, s catalog.Store, _ func() catalog.Store) {
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	const n = 150 // more than two chunks
	var ms []catalog.HL7Message
	var keys []catalog.HL7Key
	for i := range n {
		sender := fmt.Sprintf("APP^FAC%d", i%3)
		ms = append(ms, catalog.HL7Message{ID: fmt.Sprintf("hm%04d", i), Sender: sender, ControlID: fmt.Sprintf("C%d", i),
			Received: now.Add(time.Duration(i)), Type: "ADT^A01", State: "processed", Ack: []byte(fmt.Sprintf("ack%d", i)),
			PatientID: "p1", Sealed: []byte("m")})
		keys = append(keys, catalog.HL7Key{Sender: sender, ControlID: fmt.Sprintf("C%d", i)})
	}
	// The later of two messages with one id wins.
	ms = append(ms, catalog.HL7Message{ID: "hm0005", Sender: "APP^FAC2", ControlID: "C5", Received: now, Type: "ADT^A08", State: "error",
		Error: "bad", Ack: []byte("ack5-2"), Sealed: []byte("m2")})
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		none, err := tx.HL7Messages(ctx, keys[:3])
		must(t, err)
		if len(none) != 0 {
			t.Errorf("found %d messages before any was stored", len(none))
		}
		return tx.PutHL7Messages(ctx, ms)
	}))
	must(t, s.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		ask := append(slices.Clone(keys), keys[7], catalog.HL7Key{Sender: "APP^FAC1", ControlID: "C0"}, catalog.HL7Key{Sender: "APP^FAC0", ControlID: "none"})
		found, err := tx.HL7Messages(ctx, ask)
		must(t, err)
		if len(found) != n {
			t.Errorf("found %d messages, want %d", len(found), n)
		}
		if m := found[catalog.HL7Key{Sender: "APP^FAC2", ControlID: "C5"}]; m.ID != "hm0005" || m.Type != "ADT^A08" || m.State != "error" || string(m.Ack) != "ack5-2" || string(m.Sealed) != "m2" {
			t.Errorf("replaced message: %+v", m)
		}
		if m := found[keys[149]]; m.ID != "hm0149" || string(m.Ack) != "ack149" || !m.Received.Equal(now.Add(149)) || m.PatientID != "p1" {
			t.Errorf("last message: %+v", m)
		}
		one, err := tx.HL7Messages(ctx, []catalog.HL7Key{keys[42]})
		must(t, err)
		if m, err := tx.GetHL7Message(ctx, keys[42].Sender, keys[42].ControlID); err != nil || len(one) != 1 || one[keys[42]].ID != m.ID {
			t.Errorf("one key: %+v, GetHL7Message %+v, %v", one, m, err)
		}
		return nil
	}))
}
