package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/cli"
	"github.com/clinomics/clinomics/internal/keys"
)

// inProcess runs the command line in this process with a fresh data
// directory; it returns a function that runs one command and gives its
// stdout, stderr and exit status.
func inProcess(t *testing.T) func(args ...string) (string, string, int) {
	t.Helper()
	keys.DefaultKDF.MemoryKiB = 8 * 1024
	t.Setenv("CLINOMICS_DATA_DIR", t.TempDir())
	t.Setenv("CLINOMICS_KEYRING_PASSPHRASE", "extract test passphrase")
	t.Setenv("CLINOMICS_CONFIG", "")
	t.Setenv("CLINOMICS_CATALOG_DSN", "")
	return func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := cli.Main(args, strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
}

// TestExtractRejectFiles: the bugs where a second `extract load` replaced
// the first one's reject file, a wrong mapping truncated it to its header,
// and the reject file could only go beside the input. Also the error of a
// header mismatch, which named the file twice and advised running it again.
func TestExtractRejectFiles(t *testing.T) {
	run := inProcess(t)
	in, rejects := t.TempDir(), filepath.Join(t.TempDir(), "rejects")
	for _, f := range []string{"clarity_patients.yaml", "clarity_patients.txt", "cerner_encounters.yaml"} {
		b, err := os.ReadFile("../extract/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(in, f), b, 0o600)
	}
	file := filepath.Join(in, "clarity_patients.txt")
	mapping := filepath.Join(in, "clarity_patients.yaml")

	out, errs, code := run("extract", "load", "--mapping", mapping, "--rejects", rejects, file)
	if code != 3 || !strings.Contains(out, "3 rejected") || !strings.Contains(out, "; rejects in "+rejects+"/clarity_patients.txt.") {
		t.Fatalf("first load: %d\n%s\n%s", code, out, errs)
	}
	// The first command made the installation, and said so (a forgotten
	// --config); the next ones do not.
	if !strings.Contains(errs, "made a new installation") {
		t.Errorf("no note of the new installation:\n%s", errs)
	}
	if _, errs, _ := run("extract", "load", "--mapping", mapping, "--rejects", rejects, file); strings.Contains(errs, "new installation") {
		t.Errorf("a note on the second load:\n%s", errs)
	}
	entries, _ := os.ReadDir(rejects)
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), "Z.rejects.csv") || !strings.Contains(errs, entries[0].Name()) {
		t.Fatalf("reject folder %v; stderr %s", entries, errs)
	}
	first := filepath.Join(rejects, entries[0].Name())
	firstRejects, _ := os.ReadFile(first)
	if st, err := os.Stat(first); err != nil || st.Mode().Perm() != 0o600 || !strings.HasPrefix(string(firstRejects), "line,reason,row\n") {
		t.Fatalf("reject file: %v %v\n%s", st, err, firstRejects)
	}
	if rest, _ := os.ReadDir(in); len(rest) != 3 {
		t.Errorf("files written beside the input: %v", rest)
	}

	// A wrong mapping: the header does not match. One mention of the file,
	// no advice to run it again, and the reject files untouched.
	_, errs, code = run("extract", "load", "--mapping", filepath.Join(in, "cerner_encounters.yaml"), "--rejects", rejects, file)
	errs = errs[strings.Index(errs, "clinomics extract load:"):] // after the log line
	if code != 1 || strings.Count(errs, "clarity_patients.txt") != 1 || !strings.Contains(errs, "header does not match") || strings.Contains(errs, "run it again") || strings.Contains(errs, "run the load again") {
		t.Fatalf("wrong mapping: %d\n%s", code, errs)
	}
	// Loaded again (the rows now skipped), then in full: each load that
	// rejects writes its own file; the first keeps its reasons.
	// Loaded again, the rows now skipped: no reject file. In full: its own.
	if _, errs, code := run("extract", "load", "--mapping", mapping, "--rejects", rejects, file); code != 0 {
		t.Fatalf("load again: exit %d\n%s", code, errs)
	}
	if _, errs, code := run("extract", "load", "--full", "--mapping", mapping, "--rejects", rejects, file); code != 3 {
		t.Fatalf("full reload: exit %d (want 3: rows rejected)\n%s", code, errs)
	}
	if got, _ := os.ReadFile(first); string(got) != string(firstRejects) {
		t.Errorf("the first reject file changed:\n%s", got)
	}
	if entries, _ := os.ReadDir(rejects); len(entries) != 2 {
		t.Errorf("reject folder after the full reload: %v", entries)
	}
	// Without --rejects, the reject file is beside the input.
	out, _, _ = run("extract", "load", "--full", "--mapping", mapping, file)
	if !strings.Contains(out, "; rejects in "+file+".") {
		t.Errorf("default reject file: %s", out)
	}
}

// TestExtractWatchAndLake: a watched folder's files are loaded in name
// order and moved to done/ (an unloadable one to failed/), rejects go to
// DIR/rejects; an extract stored in the lake loads as lake:PATH, its
// rejects under the data directory. Every load is audited.
func TestExtractWatchAndLake(t *testing.T) {
	run := inProcess(t)
	td := "../extract/testdata/"
	dir := t.TempDir()
	b, err := os.ReadFile(td + "clarity_patients.txt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "PATIENTS_20250101.txt"), b, 0o600)
	os.WriteFile(filepath.Join(dir, "PATIENTS_20250102.txt"), []byte("NOT|THE|HEADER\n1|2|3\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "other.csv"), []byte("x\n"), 0o600)
	// Too new to load: --once says so and leaves it.
	os.WriteFile(filepath.Join(dir, "PATIENTS_20250103.txt"), b, 0o600)
	old := time.Now().Add(-time.Minute) // older than the watch's minimum age
	for _, f := range []string{"PATIENTS_20250101.txt", "PATIENTS_20250102.txt", "other.csv"} {
		os.Chtimes(filepath.Join(dir, f), old, old)
	}
	out, errs, code := run("extract", "watch", "--once", "--mapping", td+"clarity_patients.yaml", "--dir", dir, "--pattern", "PATIENTS_*.txt")
	if code != 3 || !strings.Contains(out, "PATIENTS_20250101.txt: done") || !strings.Contains(out, "PATIENTS_20250102.txt: failed") ||
		!strings.Contains(out, "PATIENTS_20250103.txt: waiting: changed less than 10s ago") {
		t.Fatalf("watch: %d\n%s\n%s", code, out, errs)
	}
	for _, p := range []string{"done/PATIENTS_20250101.txt", "failed/PATIENTS_20250102.txt", "other.csv", "PATIENTS_20250103.txt"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if rs, _ := os.ReadDir(filepath.Join(dir, "rejects")); len(rs) != 1 {
		t.Errorf("rejects: %v", rs)
	}

	// The same extract from the lake: already loaded, so skipped; --full
	// reads it again and rejects the same rows, to the data directory.
	if _, errs, code := run("lake", "put", td+"clarity_patients.txt", "extracts/PATIENTS.txt"); code != 0 {
		t.Fatalf("lake put: %s", errs)
	}
	out, errs, code = run("extract", "load", "--full", "--mapping", td+"clarity_patients.yaml", "lake:extracts/PATIENTS.txt")
	if code != 3 || !strings.Contains(out, "lake:extracts/PATIENTS.txt") || !strings.Contains(out, "rejects in "+filepath.Join(os.Getenv("CLINOMICS_DATA_DIR"), "extract-rejects")) {
		t.Fatalf("load from the lake: %d\n%s\n%s", code, out, errs)
	}
	if _, errs, code := run("extract", "load", "--mapping", td+"clarity_patients.yaml", "lake:extracts/NONE.txt"); code == 0 || !strings.Contains(errs, "NONE.txt") {
		t.Errorf("a missing lake object: %d %s", code, errs)
	}
	audit, errs, _ := run("audit", "export", "--jsonl", "-")
	n := strings.Count(audit, `"extract.load"`)
	t.Logf("%d extract loads audited", n)
	if n < 3 {
		t.Log(errs)
		t.Errorf("%d extract loads audited, want at least 3", n)
	}
}
