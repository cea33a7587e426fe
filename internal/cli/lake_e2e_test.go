package cli_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGermlineFromLakeLeavesNoPlaintext stores marked reads in the lake,
// runs the germline pipeline from the lake into the lake, reads the
// outputs back, and then searches every file under the data directory —
// raw, and decompressed where it is gzip or BGZF — for the marker.
func TestGermlineFromLakeLeavesNoPlaintext(t *testing.T) {
	needTools(t)
	germlineFromLake(t, newSandbox(t, data(t)))
}

// TestGermlineFromAzureLakeLeavesNoPlaintext is the same with the lake on
// Azure Blob Storage (Azurite); Azurite's storage folder is searched too.
func TestGermlineFromAzureLakeLeavesNoPlaintext(t *testing.T) {
	needTools(t)
	conn, dir := os.Getenv("CLINOMICS_TEST_AZURITE"), os.Getenv("CLINOMICS_TEST_AZURITE_DIR")
	if conn == "" || dir == "" {
		t.Skip("lake on Azure: set CLINOMICS_TEST_AZURITE and CLINOMICS_TEST_AZURITE_DIR (scripts/test starts Azurite)")
	}
	s := newSandbox(t, t.TempDir())
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	site := fmt.Sprintf("lake:\n  backend: azure\n  azure:\n    container: e2e-%d\n", time.Now().UnixNano())
	if err := os.WriteFile(cfg, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfg, "CLINOMICS_AZURE_STORAGE_CONNECTION_STRING="+conn)
	germlineFromLake(t, s, dir)
}

// germlineFromLake runs the pipeline from and into the lake of s and
// searches s's data directory and the other dirs for plaintext.
func germlineFromLake(t *testing.T, s *sandbox, dirs ...string) {
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
	// The reads and writes from the terminal are in the patient's accounting of disclosures.
	rep, stderr, code := s.run(nil, "audit", "report", "--patient", "p9")
	if code != 0 || !strings.Contains(rep, "lake.write") || !strings.Contains(rep, "lake.read") || !strings.Contains(rep, "cli:") ||
		!strings.Contains(rep, "run:") || !strings.Contains(rep, "results/S9/S9.bam@") {
		t.Fatalf("audit report --patient p9: %d\n%s\n%s", code, rep, stderr)
	}
	if n := holding(t, out, marker); n == 0 {
		t.Fatal("the marker search finds nothing in plaintext outputs: it cannot fail")
	}
	for _, dir := range append([]string{s.data}, dirs...) {
		if n := holding(t, dir, marker); n != 0 {
			t.Fatalf("%d files under %s hold the marker in plaintext", n, dir)
		}
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

// TestRunFolderToResults is the sequencer-to-results path: a MiSeq run
// folder appears; until RTAComplete.txt is written it waits; then the
// server's watcher stores its FASTQ in the lake, registers the sample and
// starts the germline pipeline, whose outputs land in the lake.
func TestRunFolderToResults(t *testing.T) {
	needTools(t)
	s := newSandbox(t, data(t))
	runs := t.TempDir()
	const name = "251120_M01234_0042_000000000-K7ABC"
	calls := filepath.Join(runs, name, "Data", "Intensities", "BaseCalls")
	if err := os.MkdirAll(calls, 0o755); err != nil {
		t.Fatal(err)
	}
	sheet := "[Header]\r\nIEMFileVersion,4\r\nInvestigator Name,lab\r\n[Reads]\r\n101\r\n101\r\n[Data]\r\nSample_ID,Sample_Name,index\r\nNA12878,NA12878,ACGTACGT\r\n"
	if err := os.WriteFile(filepath.Join(runs, name, "SampleSheet.csv"), []byte(sheet), 0o644); err != nil {
		t.Fatal(err)
	}
	runInfo := `<?xml version="1.0"?><RunInfo Version="2"><Run Id="` + name + `" Number="42"><Instrument>M01234</Instrument></Run></RunInfo>`
	if err := os.WriteFile(filepath.Join(runs, name, "RunInfo.xml"), []byte(runInfo), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, src := range []string{r1, r2} {
		b := mustRead(t, src)
		dst := filepath.Join(calls, fmt.Sprintf("NA12878_S1_L001_R%d_001.fastq.gz", i+1))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, code := s.run(nil, "ingest", "scan", "--dir", runs)
	if code != 0 || !strings.Contains(stdout, "waiting") || !strings.Contains(stdout, "RTAComplete.txt") {
		t.Fatalf("before RTAComplete.txt: exit %d\n%s\n%s", code, stdout, stderr)
	}

	refAbs, _ := filepath.Abs(ref)
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	site := fmt.Sprintf("ingest:\n  runs_dir: %s\n  interval: 200ms\n  germline_reference: %s\n", runs, refAbs)
	if err := os.WriteFile(cfg, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfg)
	server, stop := startServer(t, s)
	defer stop()
	if err := os.WriteFile(filepath.Join(runs, name, "RTAComplete.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	var view struct {
		ID, State, Error string
		Objects          []struct{ Path, SHA256 string }
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) && view.State != "succeeded" && view.State != "failed" {
		time.Sleep(500 * time.Millisecond)
		var list struct{ Runs []struct{ ID string } }
		s.getJSON(t, server+"/api/v1/runs?sample=NA12878", &list)
		if len(list.Runs) > 0 {
			s.getJSON(t, server+"/api/v1/runs/"+list.Runs[0].ID, &view)
		}
	}
	if view.State != "succeeded" {
		log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
		t.Fatalf("pipeline run: %+v\nserver log:\n%s", view, log)
	}
	want := "lake:results/NA12878/" + name + "/NA12878.vcf.gz"
	found := false
	for _, o := range view.Objects {
		found = found || o.Path == strings.TrimPrefix(want, "lake:")
	}
	if !found || len(view.Objects) != 7 {
		t.Fatalf("run objects: want 7 with %s, got %+v", want, view.Objects)
	}
	stop()
	stdout, stderr, code = s.run(nil, "ingest", "scan", "--dir", runs)
	if code != 0 || !strings.Contains(stdout, name+"  done") {
		t.Fatalf("after ingest: exit %d\n%s\n%s", code, stdout, stderr)
	}
	ls, _, _ := s.run(nil, "lake", "ls", "runs/"+name+"/NA12878/")
	if strings.Count(ls, "fastq") < 2 {
		t.Fatalf("FASTQ not in the lake:\n%s", ls)
	}
}

func (s *sandbox) getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := s.get(t, url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
