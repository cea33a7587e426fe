package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	run("extract", "load", "--mapping", mapping, "--rejects", rejects, file)
	run("extract", "load", "--full", "--mapping", mapping, "--rejects", rejects, file)
	if got, _ := os.ReadFile(first); string(got) != string(firstRejects) {
		t.Errorf("the first reject file changed:\n%s", got)
	}
	if entries, _ := os.ReadDir(rejects); len(entries) < 2 {
		t.Errorf("reject folder after the full reload: %v", entries)
	}
	// Without --rejects, the reject file is beside the input.
	out, _, _ = run("extract", "load", "--full", "--mapping", mapping, file)
	if !strings.Contains(out, "; rejects in "+file+".") {
		t.Errorf("default reject file: %s", out)
	}
}
