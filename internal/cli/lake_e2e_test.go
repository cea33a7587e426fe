package cli_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGermlineFromLakeLeavesNoPlaintext stores marked reads in the lake,
// runs the germline pipeline from the lake into the lake, reads the
// outputs back, and then searches every file under the data directory —
// raw, and decompressed where it is gzip or BGZF — for the marker.
func TestGermlineFromLakeLeavesNoPlaintext(t *testing.T) {
	needTools(t)
	s := newSandbox(t, data(t))
	const marker = "PHIMARK7c41e"
	src := t.TempDir()
	for i, in := range []string{r1, r2} {
		// Every read name carries the marker, so it flows into the BAM.
		lines := bytes.SplitAfter(firstReads(readGz(t, in), 8000), []byte("\n"))
		for j := 0; j+3 < len(lines); j += 4 {
			lines[j] = append([]byte("@"+marker+"_"), lines[j][1:]...)
		}
		reads := bytes.Join(lines, nil)
		p := filepath.Join(src, []string{"S9_R1.fastq", "S9_R2.fastq"}[i])
		if err := os.WriteFile(p, reads, 0o600); err != nil {
			t.Fatal(err)
		}
		obj := "samples/S9/" + filepath.Base(p)
		if _, stderr, code := s.run(nil, "lake", "put", p, obj, "--patient", "p9"); code != 0 {
			t.Fatalf("lake put: %s", stderr)
		}
	}

	stdout, stderr, code := s.run(nil, "run", "germline", "--sample", "S9",
		"--fastq", "lake:samples/S9/S9_R1.fastq", "lake:samples/S9/S9_R2.fastq",
		"--reference", ref, "--out", "lake:results/S9")
	if code != 0 {
		t.Fatalf("run germline: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "lake:results/S9/S9.vcf.gz") || !strings.Contains(stdout, "mapping rate") {
		t.Fatalf("outputs or QC table missing:\n%s", stdout)
	}
	ls, _, code := s.run(nil, "lake", "ls", "results/S9/")
	if code != 0 || strings.Count(ls, "results/S9/") != 7 {
		t.Fatalf("lake ls: want 7 outputs:\n%s", ls)
	}

	// The outputs read back: the BAM carries the marker (so the search
	// below would see it), the VCF has calls.
	out := t.TempDir()
	for _, f := range []string{"S9.bam", "S9.vcf.gz"} {
		if _, stderr, code := s.run(nil, "lake", "get", "results/S9/"+f, filepath.Join(out, f)); code != 0 {
			t.Fatalf("lake get %s: %s", f, stderr)
		}
	}
	if !bytes.Contains(readGz(t, filepath.Join(out, "S9.bam")), []byte(marker)) {
		t.Fatal("the BAM read back from the lake lacks the marked read names")
	}
	if !bytes.Contains(readGz(t, filepath.Join(out, "S9.vcf.gz")), []byte("\n20\t")) &&
		!bytes.Contains(readGz(t, filepath.Join(out, "S9.vcf.gz")), []byte("\nchr20\t")) {
		t.Fatal("the VCF read back from the lake has no calls")
	}
	if n := holding(t, out, marker); n == 0 {
		t.Fatal("the marker search finds nothing in plaintext outputs: it cannot fail")
	}
	if n := holding(t, s.data, marker); n != 0 {
		t.Fatalf("%d files under the data directory hold the marker in plaintext", n)
	}
}

// holding counts the files under dir whose bytes, or whose gzip/BGZF
// content, contain marker; each is reported.
func holding(t *testing.T, dir, marker string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		found := bytes.Contains(b, []byte(marker))
		if !found && len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				plain, _ := io.ReadAll(zr) // a damaged tail still shows what precedes it
				found = bytes.Contains(plain, []byte(marker))
			}
		}
		if found {
			t.Logf("%s holds the marker", p)
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
