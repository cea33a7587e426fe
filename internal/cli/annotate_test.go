package cli_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/cli"
	"github.com/clinomics/clinomics/internal/report"

	"github.com/clinomics/clinomics/internal/testtools"
)

// csqCase is one of bcftools' consequence test cases (TLR8 on X), from
// the shared data.
const csqCase = "../../../shared/data/annotation/bcftools_csq/csq/ENST00000218032/ENST00000218032"

// readDraft reads the report draft at path.
func readDraft(t *testing.T, path string) report.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ParseDraft(f)
	if err != nil {
		t.Fatalf("%s does not parse as a report draft: %v", path, err)
	}
	return r
}

func annotateCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(append([]string{"annotate"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// TestAnnotateSourcesAndDraft annotates a sample VCF with ClinVar, a
// population VCF and a panel, and writes the report draft: the variants
// the sample carries in the panel, with ACMG suggestions left
// unconfirmed, and the record whose REF disagrees with the reference
// warned about and given no consequence.
func TestAnnotateSourcesAndDraft(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	td := "testdata/annotate/"
	out, errs, code := annotateCLI(t, "--vcf", td+"sample.vcf", "--gff", csqCase+".gff", "--fasta", csqCase+".fa",
		"--clinvar", td+"clinvar.vcf", "--gnomad", td+"population.vcf", "--panel", td+"panel.txt", "--lof-genes", td+"panel.txt",
		"--report-draft", filepath.Join(dir, "draft.json"), "--patient", "pat-1", "--out", filepath.Join(dir, "s1"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "warning ref_mismatch: 1") || !strings.Contains(errs, "sample.vcf:9: ref_mismatch") {
		t.Errorf("REF mismatch not reported:\n%s%s", out, errs)
	}
	if !strings.Contains(out, "source clinvar: 1 of 3 alleles known\n") || !strings.Contains(out, "source gnomad: 1 of 3 alleles known\n") {
		t.Errorf("sources' matches not reported:\n%s", out)
	}
	vcf, err := os.ReadFile(filepath.Join(dir, "s1.vcf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"##INFO=<ID=CLINVAR_CLNSIG,Number=A,Type=String,", "##INFO=<ID=POP_AF,Number=A,Type=Float,", "##INFO=<ID=POP_AC,Number=A,Type=Integer,",
		"##INFO=<ID=POP_AN,Number=A,Type=Integer,", "p.(Phe5Cys)", "CLINVAR_CLNSIG=Likely_benign", "POP_AF=0.02"} {
		if !bytes.Contains(vcf, []byte(want)) {
			t.Errorf("annotated VCF lacks %q", want)
		}
	}
	// The numeric types let bcftools compare the frequencies.
	if bcftools, err := exec.LookPath("bcftools"); err == nil {
		got, err := exec.Command(bcftools, "query", "-i", "POP_AF>0.01 && POP_AN>=1000", "-f", "%POS\\n", filepath.Join(dir, "s1.vcf")).CombinedOutput()
		if err != nil || string(got) != "12456\n" {
			t.Errorf("bcftools query on POP_AF: %v\n%s", err, got)
		}
	}
	r := readDraft(t, filepath.Join(dir, "draft.json"))
	if r.Patient.ID != "pat-1" || r.Test.Assay != "panel" || r.Test.Panel != "panel" || len(r.Variants) != 2 {
		t.Fatalf("draft = %+v", r)
	}
	start, missense := r.Variants[0], r.Variants[1]
	if start.HGVSp != "p.(Met1?)" || start.Zygosity != "heterozygous" || start.AltDepth != 18 || start.Depth != 38 {
		t.Errorf("start lost: %+v", start)
	}
	if missense.HGVSc != "ENST00000218032:c.14T>G" || missense.Zygosity != "homozygous" {
		t.Errorf("missense: %+v", missense)
	}
	// ClinVar has a pathogenic change at the same codon (T>A): PM5.
	// Neither is in the population data, which was searched: PM2.
	crit := func(v report.Variant) string {
		var c []string
		for _, e := range v.Evidence {
			if e.Confirmed {
				t.Errorf("%s confirmed without a person", e.Criterion)
			}
			c = append(c, e.Criterion)
		}
		return strings.Join(c, ",")
	}
	if got := crit(start); got != "PVS1,PM2" {
		t.Errorf("start lost criteria = %s", got)
	}
	if got := crit(missense); got != "PM2,PM5" {
		t.Errorf("missense criteria = %s", got)
	}
	for _, v := range r.Variants {
		if v.Classification != "" || !strings.HasPrefix(v.Comment, "Suggested, to be confirmed:") {
			t.Errorf("%s: classified by the machine: %q %q", v.HGVSc, v.Classification, v.Comment)
		}
	}
	// The allele whose REF disagrees is listed as not assessed, with the
	// reason, not counted as of no impact.
	if !strings.Contains(out, "no impact 0, not annotated 1)") {
		t.Errorf("draft summary: %s", out)
	}
	want := "X:12456 T>C in TLR8 (not annotated: ref_mismatch: X:12456: REF allele does not match the reference: VCF has T, reference has C)."
	if !slices.ContainsFunc(r.Limitations, func(l string) bool {
		return strings.HasPrefix(l, "Not assessed: 1 variant(s)") && strings.HasSuffix(l, want)
	}) {
		t.Errorf("limitations do not list %q:\n%s", want, strings.Join(r.Limitations, "\n"))
	}
}

func TestAnnotateUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--vcf", "x.vcf", "--gff", "g.gff", "--fasta", "r.fa", "--out", "o", "--report-draft", "d.json"},
		{"--vcf", "x.vcf", "--gff", "g.gff", "--fasta", "r.fa", "--out", "o", "--max-af", "2"},
		{"--vcf", "x.vcf", "--gff", "g.gff", "--fasta", "r.fa", "--out", "o", "--extra", "nofile"},
		{"--vcf", "x.vcf", "--gff", "g.gff", "--fasta", "r.fa", "--out", "o", "--threads", "-1"},
	} {
		_, errs, code := annotateCLI(t, args...)
		if code != 2 || !strings.Contains(errs, "usage: clinomics annotate") {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
}

// TestAnnotateModelInLake stores the built gene model in the lake (the
// annotation database) and annotates from it: the same output as from
// the GFF3.
func TestAnnotateModelInLake(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	t.Setenv("CLINOMICS_DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("CLINOMICS_KEYRING_PASSPHRASE", "annotate test")
	t.Setenv("CLINOMICS_CONFIG", "")
	t.Setenv("CLINOMICS_CATALOG_DSN", "")
	vcf := "testdata/annotate/sample.vcf"
	if out, errs, code := annotateCLI(t, "--vcf", vcf, "--gff", csqCase+".gff", "--fasta", csqCase+".fa",
		"--save-model", "lake:annotation/tlr8.gmdb", "--out", filepath.Join(dir, "a")); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := annotateCLI(t, "--vcf", vcf, "--gff", "lake:annotation/tlr8.gmdb", "--fasta", csqCase+".fa",
		"--out", filepath.Join(dir, "b")); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.tsv"))
	b, _ := os.ReadFile(filepath.Join(dir, "b.tsv"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("annotation from the lake's model differs:\n%s\n---\n%s", a, b)
	}
	if _, errs, code := annotateCLI(t, "--vcf", vcf, "--gff", "lake:annotation/missing.gmdb", "--fasta", csqCase+".fa",
		"--out", filepath.Join(dir, "c")); code == 0 || !strings.Contains(errs, "missing.gmdb") {
		t.Errorf("a missing model: exit %d, %s", code, errs)
	}
}

// TestAnnotateDraftCoverageAndQC gives the draft the coverage of each
// region of a BED panel from a BAM (samtools depth) and the pipeline's QC.
func TestAnnotateDraftCoverageAndQC(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	samtools := testtools.Need(t, "samtools")[0]
	dir := t.TempDir()
	// 30 reads over X:100-149 (the first region) and none over the second.
	var sam strings.Builder
	sam.WriteString("@HD\tVN:1.6\tSO:coordinate\n@SQ\tSN:X\tLN:16590\n")
	for i := range 30 {
		fmt.Fprintf(&sam, "r%d\t0\tX\t100\t60\t50M\t*\t0\t0\t%s\t%s\n", i, strings.Repeat("A", 50), strings.Repeat("I", 50))
	}
	bam := filepath.Join(dir, "s1.bam")
	cmd := exec.Command(samtools, "view", "-b", "-o", bam, "-")
	cmd.Stdin = strings.NewReader(sam.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("samtools view: %v\n%s", err, out)
	}
	qcFile := filepath.Join(dir, "s1.qc.json")
	os.WriteFile(qcFile, []byte(`{"sample":"S1","reads":1000,"mapped_reads":990,"mapping_rate":0.99,"duplicate_rate":0.31,"mean_coverage":45.2,"coverage_space":"targets","ti_tv":2.05}`), 0o600)
	td := "testdata/annotate/"
	draft := filepath.Join(dir, "draft.json")
	out, errs, code := annotateCLI(t, "--vcf", td+"sample.vcf", "--gff", csqCase+".gff", "--fasta", csqCase+".fa",
		"--panel", td+"panel.bed", "--bam", bam, "--qc", qcFile, "--report-draft", draft, "--patient", "pat-1", "--out", filepath.Join(dir, "s1"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	r := readDraft(t, draft)
	if len(r.Regions) != 2 || r.Regions[0].MeanDepth != 30 || r.Regions[0].Covered20x != 1 || r.Regions[1].MeanDepth != 0 {
		t.Errorf("regions = %+v", r.Regions)
	}
	qc := map[string]report.QCMetric{}
	for _, m := range r.QC {
		name, _, _ := strings.Cut(m.Name, " (")
		name, _, _ = strings.Cut(name, ",")
		qc[name] = m
	}
	if m := qc["Duplicate rate"]; m.Value != "31.0%" || m.Pass {
		t.Errorf("duplicate rate = %+v", m)
	}
	if m := qc["Mapping rate"]; m.Value != "99.0%" || !m.Pass {
		t.Errorf("mapping rate = %+v", m)
	}
	// 50 of the 150 bases studied are at 20x or more.
	if m := qc["Regions studied at >= 20x"]; m.Value != "33.3%" || m.Pass {
		t.Errorf("regions at 20x = %+v (all: %+v)", m, r.QC)
	}
	if _, errs, code := annotateCLI(t, "--vcf", td+"sample.vcf", "--gff", csqCase+".gff", "--fasta", csqCase+".fa",
		"--panel", td+"panel.txt", "--bam", bam, "--out", filepath.Join(dir, "x")); code != 2 || !strings.Contains(errs, "--panel REGIONS.bed") {
		t.Errorf("--bam with a gene list: exit %d, %s", code, errs)
	}
}

// noOutputs fails when the run left OUT.vcf or OUT.tsv behind.
func noOutputs(t *testing.T, out string) {
	t.Helper()
	for _, ext := range []string{".vcf", ".tsv"} {
		if _, err := os.Stat(out + ext); err == nil {
			t.Errorf("%s%s written by a failed run", out, ext)
		}
	}
}

// TestAnnotateReferenceWithoutContigs: a FASTA without the VCF's contig
// gives each record its own warning and fails the run, naming the
// contig, with nothing written.
func TestAnnotateReferenceWithoutContigs(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	fa := filepath.Join(dir, "chr21.fa")
	os.WriteFile(fa, []byte(">21\nACGTACGTACGT\n"), 0o600)
	o := filepath.Join(dir, "o")
	out, errs, code := annotateCLI(t, "--vcf", "testdata/annotate/sample.vcf", "--gff", csqCase+".gff", "--fasta", fa, "--out", o)
	if code != 1 || !strings.Contains(out, "warning contig_not_in_reference: 3") || !strings.Contains(errs, "sample.vcf:7: contig_not_in_reference: X:") ||
		!strings.Contains(errs, "no allele could be annotated: the reference has no sequence X (it has 1: 21)") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	noOutputs(t, o)
}

// TestAnnotateInputsChecked: every input is read and checked before any
// output is written; the panel and the other draft options need
// --report-draft; a panel gene the gene model lacks is warned about; a
// source's INFO key that its file lacks is an error.
func TestAnnotateInputsChecked(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	td := "testdata/annotate/"
	badBED := filepath.Join(dir, "bad.bed")
	os.WriteFile(badBED, []byte("X 1\n"), 0o600)
	genes := filepath.Join(dir, "genes.txt")
	os.WriteFile(genes, []byte("TLR8\nNOTAGENE\n"), 0o600)
	base := []string{"--vcf", td + "sample.vcf", "--gff", csqCase + ".gff", "--fasta", csqCase + ".fa"}
	draft := []string{"--report-draft", filepath.Join(dir, "d.json"), "--patient", "pat-1"}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"panel without draft", []string{"--panel", td + "panel.txt"}, 2, "--panel only select"},
		{"missing panel without draft", []string{"--panel", filepath.Join(dir, "nope.txt")}, 2, "add --report-draft"},
		{"missing panel", append([]string{"--panel", filepath.Join(dir, "nope.txt")}, draft...), 1, "--panel " + filepath.Join(dir, "nope.txt") + ": no such file or directory"},
		{"malformed panel BED", append([]string{"--panel", badBED}, draft...), 1, "bad.bed: line 1: need at least 3 columns"},
		{"missing source", []string{"--gnomad", filepath.Join(dir, "nope.vcf")}, 1, "--gnomad " + filepath.Join(dir, "nope.vcf") + ": no such file"},
		{"INFO key not in the source", []string{"--extra", "FOO=" + td + "population.vcf:AF,NOPE"}, 1, "--extra FOO=" + td + "population.vcf:AF,NOPE: " + td + "population.vcf: no such INFO key: NOPE"},
	} {
		o := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		out, errs, code := annotateCLI(t, append(append(slices.Clone(base), c.args...), "--out", o)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s%s", c.name, code, c.code, c.want, out, errs)
		}
		noOutputs(t, o)
	}
	out, errs, code := annotateCLI(t, append(append(slices.Clone(base), append([]string{"--panel", genes}, draft...)...), "--out", filepath.Join(dir, "g"))...)
	if code != 0 || !strings.Contains(out, "warning panel_gene_not_in_model: 1\n") ||
		!strings.Contains(errs, "genes.txt: panel_gene_not_in_model: 1 of 2 panel genes are not in the gene model") || !strings.Contains(errs, ": NOTAGENE") {
		t.Errorf("unknown panel gene: exit %d\n%s%s", code, out, errs)
	}
}

// TestAnnotateModelWarnings: the gene model's warnings are counted with
// the records' and shown as file:line: kind: message.
func TestAnnotateModelWarnings(t *testing.T) {
	text, err := os.ReadFile(csqCase + ".gff")
	if err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	var keep []string
	for _, l := range strings.SplitAfter(string(text), "\n") {
		if !strings.Contains(l, "\tgene\t") { // TLR8's transcript loses its parent
			keep = append(keep, l)
		}
	}
	gff := filepath.Join(dir, "nogene.gff")
	os.WriteFile(gff, []byte(strings.Join(keep, "")), 0o600)
	out, errs, code := annotateCLI(t, "--vcf", "testdata/annotate/sample.vcf", "--gff", gff, "--fasta", csqCase+".fa", "--out", filepath.Join(dir, "o"))
	if code != 0 || !strings.Contains(out, "warning missing_parent: 1\n") || strings.Contains(errs, "map[") ||
		!strings.Contains(errs, "nogene.gff:1: missing_parent: transcript: Parent \"gene:ENSG00000101916\" is not defined in the file") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	// X is in the GFF, but its one transcript was dropped.
	if !strings.Contains(out, "warning no_usable_transcripts: 3") || !strings.Contains(errs, "sample.vcf:7: no_usable_transcripts: X: no usable transcript on X") {
		t.Errorf("records on X:\n%s%s", out, errs)
	}
}

// TestAnnotateHelp: the flag usage reads as written (a back-quoted word
// in a usage string becomes the flag's placeholder).
func TestAnnotateHelp(t *testing.T) {
	_, errs, _ := annotateCLI(t, "-h")
	if !strings.Contains(errs, "-report-draft string") || strings.Contains(errs, "-report-draft clinomics") {
		t.Errorf("help:\n%s", errs)
	}
}

// TestAnnotateRefusedBeforeOutput: every input flag, the output folders
// and the draft's sample are checked before any work. Each case is a
// bug of the new-user review: `--sample S7` (not a column of the VCF)
// wrote OUT.vcf and OUT.tsv over the previous run's, said so, then
// failed naming OUT.vcf; `--out ann/s1` without the folder ann failed
// on a temporary file's name. A refused run names the flag and its file,
// leaves the previous OUT.vcf and OUT.tsv as they were, says nothing on
// stdout and creates no folder.
func TestAnnotateRefusedBeforeOutput(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	td := "testdata/annotate/"
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notVCF := file("not.vcf", "chr1\t100\tA\tG\n")
	badBED := file("bad.bed", "X\t1\tfoo\n")
	badGFF := file("bad.gff", "X\t1\tgene\n")
	badFA := file("bad.fa", "ACGT\n")
	badQC := file("bad.qc.json", `{"reads":`)
	noReads := file("noreads.qc.json", `{"sample":"S1","reads":0}`)
	notBAM := file("not.bam", "@HD\tVN:1.6\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz) // BAM magic, but no BGZF end-of-file block
	zw.Write([]byte("BAM\x01\x00\x00\x00\x00"))
	zw.Close()
	truncBAM := file("trunc.bam", gz.String())
	gzVCF := file("gz.bam", "")
	if raw, err := os.ReadFile(td + "sample.vcf"); err == nil {
		zw := gzip.NewWriter(&gz)
		gz.Reset()
		zw.Write(raw)
		zw.Close()
		gzVCF = file("gz.bam", gz.String())
	}
	var cols []string
	for i := range 12 {
		cols = append(cols, fmt.Sprintf("NA%05d", 12878+i))
	}
	wide := file("wide.vcf", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"+strings.Join(cols, "\t")+"\n")
	input := file("input.vcf", "")
	if raw, err := os.ReadFile(td + "sample.vcf"); err == nil {
		input = file("input.vcf", string(raw))
	}
	missing := filepath.Join(dir, "missing")
	nofolder := filepath.Join(dir, "ann")
	gff, fa := csqCase+".gff", csqCase+".fa"
	draft := []string{"--report-draft", filepath.Join(dir, "d.json"), "--patient", "pat-1"}
	bed := []string{"--panel", td + "panel.bed"}
	with := func(a ...[]string) []string { return slices.Concat(a...) }

	for _, c := range []struct {
		name string
		vcf  string // default: the test sample
		args []string
		out  string // default: a fresh prefix in dir
		code int
		want string
	}{
		{"sample not in the VCF", "", with([]string{"--sample", "S7"}, draft), "", 1, "--sample S7: no such sample column in " + td + "sample.vcf (it has: S1)"},
		{"sample not in the VCF, patient by sample", "", []string{"--sample", "S7", "--report-draft", filepath.Join(dir, "d.json")}, "", 1, "--sample S7: no such sample column in " + td + "sample.vcf (it has: S1)"},
		{"sample not among many", wide, []string{"--sample", "S7", "--report-draft", filepath.Join(dir, "d.json")}, "", 1, "(it has: NA12878, NA12879, NA12880, NA12881, NA12882, NA12883, NA12884, NA12885, NA12886, NA12887 and 2 more)"},
		{"draft of a VCF without samples", td + "population.vcf", draft, "", 1, "population.vcf has no sample column"},
		{"sample of a VCF without samples", td + "population.vcf", []string{"--sample", "S1", "--report-draft", filepath.Join(dir, "d.json")}, "", 1, "--sample S1: no such sample column in " + td + "population.vcf (it has no sample columns)"},

		{"out folder missing", "", nil, filepath.Join(nofolder, "s1"), 1, "--out " + filepath.Join(nofolder, "s1") + ": no such folder: " + nofolder},
		{"out folder is a file", "", nil, filepath.Join(notVCF, "s1"), 1, "--out " + filepath.Join(notVCF, "s1") + ": " + notVCF + " is not a folder"},
		{"out is a folder", "", nil, dir + "/", 2, "--out " + dir + "/: give a name prefix, not a folder"},
		{"out overwrites the input", input, nil, strings.TrimSuffix(input, ".vcf"), 1, "would overwrite the input --vcf " + input},
		{"draft folder missing", "", []string{"--report-draft", filepath.Join(nofolder, "d.json"), "--patient", "pat-1"}, "", 1, "--report-draft " + filepath.Join(nofolder, "d.json") + ": no such folder: " + nofolder},
		{"draft is a folder", "", []string{"--report-draft", dir, "--patient", "pat-1"}, "", 1, "--report-draft " + dir + ": " + dir + " is a folder"},
		{"draft over the annotated VCF", "", []string{"--report-draft", filepath.Join(dir, "o.vcf"), "--patient", "pat-1"}, filepath.Join(dir, "o"), 2, "is also written by --out"},
		{"save-model folder missing", "", []string{"--save-model", filepath.Join(nofolder, "m.gmdb")}, "", 1, "--save-model " + filepath.Join(nofolder, "m.gmdb") + ": no such folder: " + nofolder},

		{"vcf missing", missing + ".vcf", nil, "", 1, "--vcf " + missing + ".vcf: no such file or directory"},
		{"vcf malformed", notVCF, nil, "", 1, "--vcf " + notVCF + ": line 1: malformed VCF"},
		{"gff missing", "", []string{"--gff", missing + ".gff"}, "", 1, "--gff " + missing + ".gff: no such file or directory"},
		{"gff malformed", "", []string{"--gff", badGFF}, "", 1, "--gff " + badGFF + ": line 1: wrong number of tab-separated columns"},
		{"fasta missing", "", []string{"--fasta", missing + ".fa"}, "", 1, "--fasta " + missing + ".fa: no such file or directory"},
		{"fasta malformed", "", []string{"--fasta", badFA}, "", 1, "--fasta " + badFA + ": line 1: not FASTA"},
		{"clinvar missing", "", []string{"--clinvar", missing + ".vcf"}, "", 1, "--clinvar " + missing + ".vcf: no such file or directory"},
		{"clinvar malformed", "", []string{"--clinvar", notVCF}, "", 1, "--clinvar " + notVCF + ": line 1: malformed VCF"},
		{"gnomad missing", "", []string{"--gnomad", missing + ".vcf"}, "", 1, "--gnomad " + missing + ".vcf: no such file or directory"},
		{"gnomad malformed", "", []string{"--gnomad", notVCF}, "", 1, "--gnomad " + notVCF + ": line 1: malformed VCF"},
		{"extra VCF missing", "", []string{"--extra", "F=" + missing + ".vcf:AF"}, "", 1, "--extra " + missing + ".vcf: no such file or directory"},
		{"extra BED missing", "", []string{"--extra", "F=" + missing + ".bed"}, "", 1, "--extra " + missing + ".bed: no such file or directory"},
		{"extra VCF malformed", "", []string{"--extra", "F=" + notVCF + ":AF"}, "", 1, "--extra F=" + notVCF + ":AF: " + notVCF + ": line 1: malformed VCF"},
		{"extra BED malformed", "", []string{"--extra", "F=" + badBED}, "", 1, "--extra F=" + badBED + ": " + badBED + ": line 1:"},
		{"panel malformed", "", with([]string{"--panel", badBED}, draft), "", 1, "--panel " + badBED + ": line 1:"},
		{"lof-genes missing", "", with([]string{"--lof-genes", missing + ".txt"}, draft), "", 1, "--lof-genes " + missing + ".txt: no such file or directory"},
		{"bam missing", "", with(bed, []string{"--bam", missing + ".bam"}, draft), "", 1, "--bam " + missing + ".bam: no such file or directory"},
		{"bam not a BAM", "", with(bed, []string{"--bam", notBAM}, draft), "", 1, "--bam " + notBAM + ": not a BAM or CRAM file"},
		{"bam a gzip VCF", "", with(bed, []string{"--bam", gzVCF}, draft), "", 1, "--bam " + gzVCF + ": not a BAM file"},
		{"bam truncated", "", with(bed, []string{"--bam", truncBAM}, draft), "", 1, "--bam " + truncBAM + ": truncated BAM file"},
		{"qc missing", "", with([]string{"--qc", missing + ".json"}, draft), "", 1, "--qc " + missing + ".json: no such file or directory"},
		{"qc malformed", "", with([]string{"--qc", badQC}, draft), "", 1, "--qc " + badQC + ": not a QC report"},
		{"qc without reads", "", with([]string{"--qc", noReads}, draft), "", 1, "--qc " + noReads + ": no reads in the QC report"},
		{"qc a folder", "", with([]string{"--qc", dir}, draft), "", 1, "--qc " + dir + ": is a directory"},
		{"assay unknown", "", with([]string{"--assay", "wes"}, draft), "", 1, "--assay wes: must be one of"},
		{"patient not an internal id", "", []string{"--report-draft", filepath.Join(dir, "d.json"), "--patient", "Doe, Jane"}, "", 1, "--patient: must be an internal id"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			vcf := c.vcf
			if vcf == "" {
				vcf = td + "sample.vcf"
			}
			out := c.out
			if out == "" {
				out = filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			}
			// The previous run's outputs, which a refused run must keep.
			prev := map[string]bool{}
			for _, p := range []string{out + ".vcf", out + ".tsv"} {
				if _, err := os.Stat(p); err != nil && os.WriteFile(p, []byte("previous run\n"), 0o600) == nil {
					prev[p] = true
				}
			}
			defer func() { // so that one failure does not fail the next cases
				for p := range prev {
					os.Remove(p)
				}
				os.Remove(filepath.Join(dir, "d.json"))
				os.RemoveAll(nofolder)
			}()
			args := with([]string{"--vcf", vcf, "--gff", gff, "--fasta", fa}, c.args, []string{"--out", out})
			stdout, errs, code := annotateCLI(t, args...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, want %d and %q\n%s%s", code, c.code, c.want, stdout, errs)
			}
			if stdout != "" {
				t.Errorf("a refused run printed:\n%s", stdout)
			}
			for p := range prev {
				if b, _ := os.ReadFile(p); string(b) != "previous run\n" {
					t.Errorf("%s overwritten by a refused run", p)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "d.json")); err == nil {
				t.Error("draft written by a refused run")
			}
			if _, err := os.Stat(nofolder); err == nil {
				t.Errorf("%s created", nofolder)
			}
			if b, _ := os.ReadFile(input); len(b) == 0 {
				t.Errorf("%s overwritten", input)
			}
		})
	}
}

// TestAnnotateUnreadableInput: a file the user cannot read is refused
// before any work, naming its flag (not testable as root, who reads
// everything).
func TestAnnotateUnreadableInput(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	qc := filepath.Join(dir, "s1.qc.json")
	os.WriteFile(qc, []byte(`{"sample":"S1","reads":1000}`), 0o000)
	if f, err := os.Open(qc); err == nil {
		f.Close()
		t.Skip("permissions are not enforced for this user")
	}
	out := filepath.Join(dir, "o")
	_, errs, code := annotateCLI(t, "--vcf", "testdata/annotate/sample.vcf", "--gff", csqCase+".gff", "--fasta", csqCase+".fa",
		"--qc", qc, "--report-draft", filepath.Join(dir, "d.json"), "--patient", "pat-1", "--out", out)
	if code != 1 || !strings.Contains(errs, "--qc "+qc+": permission denied") {
		t.Errorf("exit %d, %s", code, errs)
	}
	noOutputs(t, out)
}

// TestAnnotateUsageNamesSample: the usage line shows that the draft names
// its patient by --sample or --patient (it showed only --patient).
func TestAnnotateUsageNamesSample(t *testing.T) {
	_, errs, code := annotateCLI(t, "--vcf", "x.vcf")
	if code != 2 || !strings.Contains(errs, "usage: clinomics annotate ") || !strings.Contains(errs, "[--report-draft D.json (--sample S | --patient ID)") {
		t.Errorf("exit %d, %s", code, errs)
	}
	_, errs, _ = annotateCLI(t, "-h")
	if !strings.Contains(errs, "needs --patient or --sample") || !strings.Contains(errs, "without --patient it also names the patient") {
		t.Errorf("help:\n%s", errs)
	}
}

// TestAnnotateFields writes only the CSQ fields --fields names, in its
// order, in the VCF header and entries and in the TSV; refuses an
// unknown field, and a list the report draft cannot be made from, before
// writing anything.
func TestAnnotateFields(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	vcf := "testdata/annotate/sample.vcf"
	base := []string{"--vcf", vcf, "--gff", csqCase + ".gff", "--fasta", csqCase + ".fa"}
	out, errs, code := annotateCLI(t, append(base, "--fields", "Consequence,Feature,BCSQ_AA", "--out", filepath.Join(dir, "a"))...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	v, _ := os.ReadFile(filepath.Join(dir, "a.vcf"))
	if !strings.Contains(string(v), "Format: Consequence|Feature|BCSQ_AA\">") || !strings.Contains(string(v), "CSQ=missense_variant|ENST00000218032|5F>5C") {
		t.Errorf("VCF:\n%s", v)
	}
	tsv, _ := os.ReadFile(filepath.Join(dir, "a.tsv"))
	if head, _, _ := strings.Cut(string(tsv), "\n"); !strings.HasPrefix(head, "CHROM\tPOS\tREF\tALT\tConsequence\tFeature\tBCSQ_AA") {
		t.Errorf("TSV header %q", head)
	}
	for _, c := range []struct{ args []string }{
		{[]string{"--fields", "Consequence,HGVS"}},
		{[]string{"--fields", "Consequence,Feature", "--report-draft", filepath.Join(dir, "d.json"), "--patient", "p1"}},
	} {
		out, errs, code := annotateCLI(t, append(append(base, c.args...), "--out", filepath.Join(dir, "b"))...)
		if code != 2 || !strings.Contains(errs, "--fields") {
			t.Errorf("%v: exit %d\n%s%s", c.args, code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(dir, "b.vcf")); err == nil {
			t.Errorf("%v: wrote b.vcf", c.args)
		}
	}
}

// TestAnnotateUCSCNames annotates a VCF naming TLR8's contig chrX
// against a gene model and FASTA naming it X: the same consequences as
// the VCF with X, written under chrX, and a notice of the names read.
func TestAnnotateUCSCNames(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	sample, err := os.ReadFile("testdata/annotate/sample.vcf")
	if err != nil {
		t.Fatal(err)
	}
	ucsc := strings.ReplaceAll(string(sample), "\nX\t", "\nchrX\t")
	ucsc = strings.Replace(ucsc, "##contig=<ID=X,", "##contig=<ID=chrX,", 1)
	if err := os.WriteFile(filepath.Join(dir, "in-chr.vcf"), []byte(ucsc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := annotateCLI(t, "--vcf", "testdata/annotate/sample.vcf", "--gff", csqCase+".gff", "--fasta", csqCase+".fa", "--out", filepath.Join(dir, "x"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(errs, "contig X") {
		t.Errorf("notice with the names alike:\n%s", errs)
	}
	out, errs, code = annotateCLI(t, "--vcf", filepath.Join(dir, "in-chr.vcf"), "--gff", csqCase+".gff", "--fasta", csqCase+".fa", "--out", filepath.Join(dir, "chr"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "contig chrX: read as X in the gene model, X in the reference\n") {
		t.Errorf("no notice of the names read:\n%s", errs)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "x.tsv"))
	got, _ := os.ReadFile(filepath.Join(dir, "chr.tsv"))
	if !bytes.Contains(got, []byte("\nchrX\t")) || !bytes.Contains(got, []byte("\tchrX:g.")) || bytes.Contains(got, []byte("\nX\t")) {
		t.Errorf("TSV not under chrX:\n%s", got)
	}
	asX := strings.ReplaceAll(strings.ReplaceAll(string(got), "\nchrX\t", "\nX\t"), "chrX:g.", "X:g.")
	if len(want) == 0 || asX != string(want) {
		t.Errorf("TSV with chrX:\n%s\nwant, as with X:\n%s", got, want)
	}

	// The report draft finds the genes and places ClinVar's variants
	// (named X) on codons the same way: PM5 for the missense.
	td := "testdata/annotate/"
	out, errs, code = annotateCLI(t, "--vcf", filepath.Join(dir, "in-chr.vcf"), "--gff", csqCase+".gff", "--fasta", csqCase+".fa",
		"--clinvar", td+"clinvar.vcf", "--gnomad", td+"population.vcf", "--panel", td+"panel.txt", "--lof-genes", td+"panel.txt",
		"--report-draft", filepath.Join(dir, "draft.json"), "--patient", "pat-1", "--out", filepath.Join(dir, "chr2"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	r := readDraft(t, filepath.Join(dir, "draft.json"))
	var got2 []string
	for _, v := range r.Variants {
		var c []string
		for _, e := range v.Evidence {
			c = append(c, e.Criterion)
		}
		got2 = append(got2, v.Chrom+" "+v.Gene+" "+v.HGVSp+" "+strings.Join(c, ","))
	}
	if w := []string{"chrX TLR8 p.(Met1?) PVS1,PM2", "chrX TLR8 p.(Phe5Cys) PM2,PM5"}; !slices.Equal(got2, w) {
		t.Errorf("draft variants %q, want %q", got2, w)
	}
	if !slices.ContainsFunc(r.Limitations, func(l string) bool { return strings.Contains(l, "chrX:12456 T>C in TLR8 (not annotated: ref_mismatch") }) {
		t.Errorf("limitations:\n%s", strings.Join(r.Limitations, "\n"))
	}
}

// TestAnnotateNothingInModel: a gene model with nothing on the VCF's
// contigs (here: an empty GFF3) annotates nothing: exit 1, naming --gff
// and the contigs, and nothing written; as a FASTA without them.
func TestAnnotateNothingInModel(t *testing.T) {
	if _, err := os.Stat(csqCase + ".gff"); err != nil {
		t.Skip("shared data not found: ", err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.gff3")
	if err := os.WriteFile(empty, []byte("##gff-version 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "o")
	_, errs, code := annotateCLI(t, "--vcf", "testdata/annotate/sample.vcf", "--gff", empty, "--fasta", csqCase+".fa", "--out", out)
	if code != 1 || !strings.Contains(errs, "--gff "+empty+": no allele could be annotated: the gene model has no transcript on X (it has no transcript); nothing written") {
		t.Errorf("exit %d\n%s", code, errs)
	}
	noOutputs(t, out)
}
