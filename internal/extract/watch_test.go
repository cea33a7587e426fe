package extract

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func copyFixture(t *testing.T, fixture, dst string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func states(res []WatchResult) string {
	var s []string
	for _, r := range res {
		s = append(s, r.File+"="+r.State)
	}
	return strings.Join(s, " ")
}

func TestWatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	copyFixture(t, "good.csv", filepath.Join(dir, "PATIENTS_20250101.csv"))
	copyFixture(t, "header_missing_column.csv", filepath.Join(dir, "PATIENTS_20250102.csv"))
	copyFixture(t, "bad_dates.csv", filepath.Join(dir, "PATIENTS_20250103.csv"))
	copyFixture(t, "good.csv", filepath.Join(dir, ".PATIENTS_20250104.csv")) // hidden: being copied
	copyFixture(t, "good.csv", filepath.Join(dir, "ENCOUNTERS_20250101.csv"))
	if err := os.Mkdir(filepath.Join(dir, "PATIENTS_dir.csv"), 0o700); err != nil {
		t.Fatal(err)
	}
	sink := newMemSink()
	later := time.Now().Add(time.Hour)
	w := &Watch{
		Dir: dir, Pattern: "PATIENTS_*.csv",
		Loader: &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: sink, Now: func() time.Time { return testNow }},
		Now:    func() time.Time { return later },
	}
	res, err := w.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := states(res), "PATIENTS_20250101.csv=done PATIENTS_20250102.csv=failed PATIENTS_20250103.csv=done"; got != want {
		t.Fatalf("scan: %s, want %s", got, want)
	}
	// The third file's rows are older than the first's: the watermark skips
	// them, but not the two whose watermark cannot be read.
	if res[0].Summary.Loaded != 5 || res[1].Err == nil || res[2].Summary.Skipped != 5 || res[2].Summary.Rejected != 2 {
		t.Errorf("%+v", res)
	}
	for _, p := range []string{"done/PATIENTS_20250101.csv", "failed/PATIENTS_20250102.csv", "done/PATIENTS_20250103.csv",
		".PATIENTS_20250104.csv", "ENCOUNTERS_20250101.csv"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	for i, p := range []string{"PATIENTS_20250101.csv", "PATIENTS_20250102.csv", "PATIENTS_20250103.csv"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s is still in the folder", p)
		}
		// A reject file for the loads that rejected rows only, named
		// with the time of the load.
		want := ""
		if res[i].Summary.Rejected > 0 {
			want = RejectPath(filepath.Join(dir, RejectsDir), p, later)
		}
		if res[i].Summary.RejectFile != want {
			t.Errorf("reject file of %s: %q, want %q", p, res[i].Summary.RejectFile, want)
		}
		if want != "" {
			if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("reject file of %s: %v %v", p, fi, err)
			}
		}
	}
	for _, d := range []string{DoneDir, FailedDir, RejectsDir} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, fi.Mode(), err)
		}
	}

	// Nothing new, nothing done.
	if res, err := w.Scan(ctx); err != nil || len(res) != 0 {
		t.Fatalf("second scan: %v %v", states(res), err)
	}

	// The same name again lands beside the first in done/.
	copyFixture(t, "good.csv", filepath.Join(dir, "PATIENTS_20250101.csv"))
	res, err = w.Scan(ctx)
	if err != nil || states(res) != "PATIENTS_20250101.csv=done" || res[0].MovedTo != filepath.Join(dir, DoneDir, "PATIENTS_20250101.1.csv") {
		t.Fatalf("third scan: %+v %v", res, err)
	}
	if res[0].Summary.Skipped != 5 {
		t.Errorf("a file loaded again: %v", res[0].Summary)
	}
}

// A load that fails outside the file leaves it for the next scan and
// stops the scan, so no later extract overtakes it; so does a file still
// being written.
func TestWatchKeepsOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	copyFixture(t, "good.csv", filepath.Join(dir, "P1.csv"))
	copyFixture(t, "duplicate_keys.csv", filepath.Join(dir, "P2.csv"))
	sink := newMemSink()
	sink.failAt = 1
	later := time.Now().Add(time.Hour)
	w := &Watch{Dir: dir, Loader: &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: sink, Now: func() time.Time { return testNow }},
		Now: func() time.Time { return later }}
	res, err := w.Scan(ctx)
	if err != nil || states(res) != "P1.csv=retry" || res[0].Err == nil {
		t.Fatalf("scan with the database down: %s %v", states(res), err)
	}
	res, err = w.Scan(ctx)
	if err != nil || states(res) != "P1.csv=done P2.csv=done" {
		t.Fatalf("scan after: %s %v", states(res), err)
	}

	// A file changed just now waits, and so do the files after it.
	copyFixture(t, "good.csv", filepath.Join(dir, "P3.csv"))
	copyFixture(t, "good.csv", filepath.Join(dir, "P4.csv"))
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "P4.csv"), old, old)
	w.Now = time.Now
	res, err = w.Scan(ctx)
	if err != nil || states(res) != "P3.csv=waiting" {
		t.Fatalf("scan with a fresh file: %s %v", states(res), err)
	}
}

func TestWatchRunStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	w := &Watch{Dir: t.TempDir(), Loader: &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: newMemSink()}}
	if err := w.Run(ctx, 10*time.Millisecond); err != context.DeadlineExceeded {
		t.Errorf("Run returned %v", err)
	}
}

// TestWatchRejectDir: reject files go to Watch.RejectDir when set (the
// watched folder may be the sender's), one per load, none replaced.
func TestWatchRejectDir(t *testing.T) {
	ctx := context.Background()
	dir, rejects := t.TempDir(), filepath.Join(t.TempDir(), "rejects")
	later := time.Now().Add(time.Hour)
	w := &Watch{Dir: dir, RejectDir: rejects,
		Loader: &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: newMemSink(), Now: func() time.Time { return testNow }, FullReload: true},
		Now:    func() time.Time { return later }}
	for range 2 {
		copyFixture(t, "bad_dates.csv", filepath.Join(dir, "P1.csv"))
		if res, err := w.Scan(ctx); err != nil || states(res) != "P1.csv=done" || res[0].Summary.Rejected != 5 || filepath.Dir(res[0].Summary.RejectFile) != rejects {
			t.Fatalf("scan: %+v %v", res, err)
		}
	}
	entries, err := os.ReadDir(rejects)
	if err != nil || len(entries) != 2 {
		t.Fatalf("reject folder: %v %v", entries, err)
	}
	if _, err := os.Stat(filepath.Join(dir, RejectsDir)); !os.IsNotExist(err) {
		t.Errorf("rejects/ made in the watched folder: %v", err)
	}
}
