package cli_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests run the real clinomics binary with the real tools on the
// bundled demo data, as a user would. They need bwa, samtools and bcftools
// and run when CLINOMICS_TEST_TOOLS=1 (scripts/test sets it).

var binary string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv("CLINOMICS_TEST_TOOLS") == "" {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "clinomics-bin-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "clinomics")
		out, err := exec.Command("go", "build", "-o", binary, "../../cmd/clinomics").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building clinomics: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needTools(t *testing.T) {
	t.Helper()
	if binary == "" {
		t.Skip("end-to-end pipeline tests need bwa, samtools, bcftools: set CLINOMICS_TEST_TOOLS=1 (scripts/test does)")
	}
}

const demo = "../../testdata/demo"

var (
	r1   = demo + "/NA12878_S1.chr20.10_10p1mb_R1.fastq.gz"
	r2   = demo + "/NA12878_S1.chr20.10_10p1mb_R2.fastq.gz"
	ref  = demo + "/chr20_1-10110000.fa.gz"
	gtVC = demo + "/test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"
	gtBD = demo + "/test_nist.b37_chr20_100kbp_at_10mb.bed"
)

// sandbox is a data directory shared by the tests of one kind, so the
// reference is prepared once.
type sandbox struct {
	t     *testing.T
	data  string
	env   []string
	token string // personal API token for the server, once made
}

func newSandbox(t *testing.T, data string) *sandbox {
	return &sandbox{t: t, data: data, env: append(os.Environ(), "CLINOMICS_DATA_DIR="+data, "CLINOMICS_KEYRING_PASSPHRASE=e2e test passphrase")}
}

// run runs clinomics and returns stdout, stderr and the exit status.
func (s *sandbox) run(extraEnv []string, args ...string) (string, string, int) {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append([]string{}, s.env...), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

var sharedData string

func data(t *testing.T) string {
	if sharedData == "" {
		d, err := os.MkdirTemp("", "clinomics-e2e-")
		if err != nil {
			t.Fatal(err)
		}
		sharedData = d
	}
	return sharedData
}

func TestGermlineDemoFindsAllTruthVariants(t *testing.T) {
	needTools(t)
	s := newSandbox(t, data(t))
	out := t.TempDir()
	stdout, stderr, code := s.run(nil, "run", "germline", "--sample", "NA12878", "--fastq", r1, r2, "--reference", ref, "--out", out)
	if code != 0 {
		t.Fatalf("run germline: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"NA12878.bam", "NA12878.bam.bai", "NA12878.vcf.gz", "NA12878.vcf.gz.tbi", "NA12878.g.vcf.gz", "NA12878.g.vcf.gz.tbi", "NA12878.qc.json"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("output %s: %v", f, err)
		}
	}
	var qc map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "NA12878.qc.json"))
	if err := json.Unmarshal(b, &qc); err != nil {
		t.Fatal(err)
	}
	if qc["reads"].(float64) != 51678 {
		t.Errorf("QC reads = %v, want 51678 (25,839 pairs)", qc["reads"])
	}
	if mr := qc["mapping_rate"].(float64); mr < 0.99 {
		t.Errorf("mapping rate %v", mr)
	}
	if cov := qc["mean_coverage"].(float64); cov < 35 || cov > 70 {
		t.Errorf("mean coverage %v, want about 50x", cov)
	}
	if !strings.Contains(stdout, "Ti/Tv") || !strings.Contains(stdout, "duplicate rate") {
		t.Errorf("no QC table in output:\n%s", stdout)
	}
	// bcftools view of the header shows the read group sample and the gVCF has reference blocks.
	hdr, err := exec.Command("bcftools", "view", "-h", filepath.Join(out, "NA12878.g.vcf.gz")).Output()
	if err != nil || !strings.Contains(string(hdr), "\tNA12878\n") {
		t.Errorf("gVCF header: %v\n%s", err, hdr)
	}
	blocks, _ := exec.Command("bash", "-c", "bcftools view -H "+filepath.Join(out, "NA12878.g.vcf.gz")+" | grep -c 'END='").Output()
	if strings.TrimSpace(string(blocks)) == "0" {
		t.Errorf("gVCF has no reference blocks (END=)")
	}

	stdout, stderr, code = s.run(nil, "eval", "--truth", gtVC, "--regions", gtBD, "--reference", ref,
		"--calls", filepath.Join(out, "NA12878.vcf.gz"), "--json", "--min-f1", "1")
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res map[string]map[string]any
	json.Unmarshal([]byte(stdout), &res)
	tp := res["SNV"]["tp"].(float64) + res["indel"]["tp"].(float64)
	fp := res["SNV"]["fp"].(float64) + res["indel"]["fp"].(float64)
	if tp != 49 || fp != 0 {
		t.Fatalf("eval: %v TP, %v FP; want 49 and 0\n%s", tp, fp, stdout)
	}

	// A second run of the same sample into the same place is served from the call cache.
	stdout, stderr, code = s.run(nil, "run", "germline", "--sample", "NA12878", "--fastq", r1, r2, "--reference", ref, "--out", out)
	if code != 0 || !strings.Contains(stdout, "0 ran") {
		t.Fatalf("second run: exit %d, want all tasks from cache\n%s\n%s", code, stdout, stderr)
	}
}

// writeGz writes gzip-compressed content.
func writeGz(t *testing.T, path string, content []byte) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(content)
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGz(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstReads returns the first n FASTQ records of b.
func firstReads(b []byte, n int) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	return bytes.Join(lines[:4*n], nil)
}

func TestGermlineBadInputs(t *testing.T) {
	needTools(t)
	s := newSandbox(t, data(t))
	dir := t.TempDir()
	r1b, r2b := readGz(t, r1), readGz(t, r2)
	small1, small2 := filepath.Join(dir, "small_R1.fastq.gz"), filepath.Join(dir, "small_R2.fastq.gz")
	writeGz(t, small1, firstReads(r1b, 2000))
	writeGz(t, small2, firstReads(r2b, 2000))
	fewer := filepath.Join(dir, "fewer_R2.fastq.gz")
	writeGz(t, fewer, firstReads(r2b, 1500))
	swapped := filepath.Join(dir, "swapped_R2.fastq.gz")
	lines := bytes.SplitAfter(firstReads(r2b, 2000), []byte("\n"))
	lines[4*700] = []byte("@not-the-mate\n")
	writeGz(t, swapped, bytes.Join(lines, nil))
	raw, _ := os.ReadFile(small1)
	truncated := filepath.Join(dir, "truncated_R1.fastq.gz")
	os.WriteFile(truncated, raw[:len(raw)/2], 0o644)
	empty := filepath.Join(dir, "empty.fastq.gz")
	os.WriteFile(empty, nil, 0o644)
	notFastq := filepath.Join(dir, "reference_as_R1.fastq.gz")
	os.WriteFile(notFastq, mustRead(t, ref), 0o644)
	badBED := filepath.Join(dir, "wrong_contig.bed")
	os.WriteFile(badBED, []byte("chr20\t10000000\t10001000\nchr99\t1\t100\n"), 0o644)

	cases := []struct {
		name    string
		r1, r2  string
		ref     string
		targets string
		env     []string
		want    []string // all must appear in stderr
	}{
		{"R2 has fewer reads", small1, fewer, ref, "", nil, []string{"fewer_R2.fastq.gz", "fewer reads"}},
		{"mate names differ", small1, swapped, ref, "", nil, []string{"swapped_R2.fastq.gz", "line 2801"}},
		{"truncated gzip", truncated, small2, ref, "", nil, []string{"truncated_R1.fastq.gz", "truncated"}},
		{"empty file", empty, small2, ref, "", nil, []string{"--fastq R1", "file is empty"}},
		{"not FASTQ", notFastq, small2, ref, "", nil, []string{"reference_as_R1.fastq.gz", "FASTQ"}},
		{"missing reference", small1, small2, filepath.Join(dir, "nope.fa"), "", nil, []string{"--reference", "no such file"}},
		{"BED contig not in reference", small1, small2, ref, badBED, nil, []string{"wrong_contig.bed", "chr99"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			args := []string{"run", "germline", "--sample", "bad", "--fastq", c.r1, c.r2, "--reference", c.ref, "--out", out}
			if c.targets != "" {
				args = append(args, "--targets", c.targets)
			}
			stdout, stderr, code := s.run(c.env, args...)
			if code == 0 {
				t.Fatalf("exit 0, want failure\n%s", stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
				t.Errorf("stack trace in stderr:\n%s", stderr)
			}
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), ".") {
					t.Errorf("output left after failure: %s", e.Name())
				}
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toolDir makes a PATH directory with every command of /usr/bin and /bin
// except the named tool, and optionally a replacement for it.
func toolDir(t *testing.T, drop, replacement string) string {
	t.Helper()
	dir := t.TempDir()
	for _, src := range []string{"/usr/local/bin", "/usr/bin", "/bin"} {
		entries, _ := os.ReadDir(src)
		for _, e := range entries {
			if e.Name() == drop {
				continue
			}
			os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	if replacement != "" {
		os.WriteFile(filepath.Join(dir, drop), []byte(replacement), 0o755)
	}
	return dir
}

func TestGermlineToolFailuresAndResume(t *testing.T) {
	needTools(t)
	s := newSandbox(t, data(t))
	dir := t.TempDir()
	small1, small2 := filepath.Join(dir, "s_R1.fastq.gz"), filepath.Join(dir, "s_R2.fastq.gz")
	writeGz(t, small1, firstReads(readGz(t, r1), 3000))
	writeGz(t, small2, firstReads(readGz(t, r2), 3000))
	out := t.TempDir()
	args := []string{"run", "germline", "--sample", "resume1", "--fastq", small1, small2, "--reference", ref, "--out", out}

	// A tool missing from PATH.
	noBwa := toolDir(t, "bwa", "")
	_, stderr, code := s.run([]string{"PATH=" + noBwa}, args...)
	if code == 0 || !strings.Contains(stderr, "bwa") || !strings.Contains(stderr, "apt-get install bwa") {
		t.Fatalf("missing bwa: exit %d\n%s", code, stderr)
	}

	// A tool that exits non-zero (bcftools failing in mpileup, as on a corrupt BAM).
	failing := "#!/bin/sh\nif [ \"$1\" = mpileup ]; then echo '[E::hts_open] simulated failure reading input' >&2; exit 1; fi\nexec /usr/bin/bcftools \"$@\"\n"
	badBcftools := toolDir(t, "bcftools", failing)
	_, stderr, code = s.run([]string{"PATH=" + badBcftools}, args...)
	if code == 0 || !strings.Contains(stderr, "simulated failure reading input") || !strings.Contains(stderr, "call/") {
		t.Fatalf("failing bcftools: exit %d, want the task and the tail of its stderr\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "resume1.vcf.gz")); err == nil {
		t.Fatal("a VCF exists after the calling failed")
	}

	// Fixed: --resume continues, reusing the alignment.
	stdout, stderr, code := s.run(nil, append(args, "--resume")...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "resuming run") || strings.Contains(stdout, " 0 from cache") {
		t.Fatalf("resume did not reuse finished tasks:\n%s\n%s", stdout, stderr)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServerSubmitFollowAndRestart submits a run over the HTTP API, kills
// the server with SIGKILL mid-run, restarts it, and follows the run to its
// end: the restarted server resumes it.
func TestServerSubmitFollowAndRestart(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	addr := freePort(t)
	server := "https://" + addr
	start := func() func() {
		_, stop := startServerAt(t, s, addr)
		return stop
	}
	srv := start()
	out := t.TempDir()
	stdout, stderr, code := s.run(nil, "runs", "submit", "germline", "--server", server, "--sample", "NA12878",
		"--fastq", r1, r2, "--reference", ref, "--out", out)
	if code != 0 {
		t.Fatalf("submit: %d\n%s\n%s", code, stdout, stderr)
	}
	id := strings.TrimSpace(strings.TrimPrefix(stdout, "submitted run "))
	// Wait until some task has finished, then kill the server hard.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		stdout, _, _ = s.run(nil, "runs", "show", id, "--server", server, "--json")
		if strings.Contains(stdout, `"succeeded"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no task finished:\n%s", stdout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	srv()
	srv = start()
	defer srv()
	stdout, stderr, code = s.run(nil, "runs", "show", id, "--server", server, "--follow")
	if code != 0 || !strings.Contains(stdout, "succeeded") {
		log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
		t.Fatalf("follow: exit %d\n%s\n%s\nserver log:\n%s", code, stdout, stderr, log)
	}
	stdout, _, _ = s.run(nil, "runs", "list", "--server", server)
	if !strings.Contains(stdout, id) || !strings.Contains(stdout, "succeeded") {
		t.Fatalf("runs list:\n%s", stdout)
	}
	stdout, _, _ = s.run(nil, "runs", "show", id, "--server", server, "--json")
	var view struct {
		Tasks []struct{ State string }
		Files []struct{ Path, SHA256 string }
		Tools map[string]string
	}
	if err := json.Unmarshal([]byte(stdout), &view); err != nil {
		t.Fatal(err)
	}
	if view.Tools["bwa"] == "" || view.Tools["samtools"] == "" || len(view.Files) < 7 {
		t.Fatalf("run view lacks tool versions or files: %s", stdout)
	}
	cached := 0
	for _, tk := range view.Tasks {
		if tk.State == "cached" {
			cached++
		}
	}
	if cached == 0 {
		t.Errorf("the restarted server re-ran every task: %s", stdout)
	}
}

// TestGermlinePanelFreebayesTrim runs the panel mode (--targets), the
// freebayes caller and fastp trimming together on the demo reads.
func TestGermlinePanelFreebayesTrim(t *testing.T) {
	needTools(t)
	s := newSandbox(t, data(t))
	out := t.TempDir()
	stdout, stderr, code := s.run(nil, "run", "germline", "--sample", "P1", "--fastq", r1, r2, "--reference", ref,
		"--targets", gtBD, "--caller", "freebayes", "--trim", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var qc map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "P1.qc.json"))
	if err := json.Unmarshal(b, &qc); err != nil {
		t.Fatal(err)
	}
	if qc["coverage_space"] != "targets" {
		t.Errorf("coverage space %v, want targets", qc["coverage_space"])
	}
	if p, ok := qc["pct_target_20x"].(float64); !ok || p < 90 {
		t.Errorf("percent of target at >=20x = %v, want most of it at this ~50x depth", qc["pct_target_20x"])
	}
	if !strings.Contains(stdout, "target at >=20x") {
		t.Errorf("QC table lacks the target line:\n%s", stdout)
	}
	// Trimming ran: fastp reports are kept with the run's data.
	if reads := qc["reads"].(float64); reads >= 51678 || reads < 45000 {
		t.Errorf("reads after trimming %v, want fewer than the 51678 raw reads", reads)
	}
	evalOut, stderr, code := s.run(nil, "eval", "--truth", gtVC, "--regions", gtBD, "--reference", ref,
		"--calls", filepath.Join(out, "P1.vcf.gz"), "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	var res struct {
		SNV struct {
			TP int `json:"tp"`
		} `json:"SNV"`
	}
	if err := json.Unmarshal([]byte(evalOut), &res); err != nil {
		t.Fatal(err)
	}
	// freebayes on this data (measured): 43 of 45 SNVs and 4 of 4 indels.
	if res.SNV.TP < 40 {
		t.Errorf("freebayes found %d of 45 truth SNVs:\n%s", res.SNV.TP, evalOut)
	}
}
