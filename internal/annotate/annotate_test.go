package annotate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/fasta"
	"github.com/clinomics/clinomics/internal/format/gff"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

const tlr8 = "../../../shared/data/annotation/bcftools_csq/csq/ENST00000218032"

func setup(t *testing.T, opt Options) (*Annotator, *Reference) {
	t.Helper()
	m, err := genemodel.BuildFile(filepath.Join(tlr8, "ENST00000218032.gff"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	ref, err := LoadReference(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	return New(m, ref, opt), ref
}

// fakeSource knows one allele.
type fakeSource struct{}

func (fakeSource) Name() string     { return "fake" }
func (fakeSource) Fields() []string { return []string{"FAKE_SIG"} }
func (fakeSource) Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error) {
	if chrom == "X" && pos == 12455 && alt == "G" {
		return map[string]string{"FAKE_SIG": "Likely pathogenic"}, nil
	}
	return nil, nil
}

func TestMalformedInputs(t *testing.T) {
	a, _ := setup(t, Options{Threads: 2, Sources: []Source{fakeSource{}}})
	in, err := os.Open("testdata/malformed.vcf")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var vout, tout bytes.Buffer
	sum, err := a.Run(context.Background(), in, "malformed.vcf", &vout, &tout)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 4 || sum.Alleles != 5 || sum.Annotated != 3 {
		t.Errorf("summary %+v", sum)
	}
	// chrZ is in neither the reference nor the gene model: REF cannot be
	// checked, which is what is reported.
	if sum.Warnings[WarnRefMismatch] != 1 || sum.Warnings[WarnNotInReference] != 1 || sum.NotInReference["chrZ"] != 1 {
		t.Errorf("warnings %v", sum.Warnings)
	}
	for _, want := range []string{"malformed.vcf:7: ref_mismatch", "malformed.vcf:8: contig_not_in_reference: chrZ"} {
		found := false
		for _, e := range sum.Examples {
			found = found || strings.HasPrefix(e, want)
		}
		if !found {
			t.Errorf("no warning %q in %q", want, sum.Examples)
		}
	}
	lines := strings.Split(vout.String(), "\n")
	byID := map[string]string{}
	for _, l := range lines {
		if strings.Contains(l, "##INFO=<ID=CSQ,") && !strings.Contains(l, "Format: Allele|Consequence|SYMBOL|Gene|Feature|BIOTYPE|STRAND|EXON|INTRON|HGVSc|HGVSp|HGVSg|") {
			t.Errorf("CSQ header %q", l)
		}
		if f := strings.Split(l, "\t"); len(f) > 7 && !strings.HasPrefix(l, "#") {
			byID[f[2]] = f[7]
		}
	}
	if !strings.Contains(byID["good"], "CSQ=G|start_lost&splice_region_variant|TLR8|") {
		t.Errorf("good: %s", byID["good"])
	}
	if byID["mismatch"] != "." || byID["nocontig"] != "." {
		t.Errorf("refused records annotated: %q %q", byID["mismatch"], byID["nocontig"])
	}
	m := byID["multi"]
	if !strings.HasPrefix(m, "DP=5;CSQ=G|missense_variant|") || !strings.Contains(m, ",C|missense_variant|") || !strings.HasSuffix(m, ";FAKE_SIG=Likely%20pathogenic,.") {
		t.Errorf("multi: %s", m)
	}
	rows := strings.Split(strings.TrimSpace(tout.String()), "\n")
	if !strings.HasPrefix(rows[0], "CHROM\tPOS\tREF\tALT\tConsequence\tSYMBOL") || !strings.HasSuffix(rows[0], "\tFAKE_SIG") {
		t.Errorf("TSV header %q", rows[0])
	}
	if len(rows)-1 != sum.Rows || sum.Rows != 3 {
		t.Errorf("%d TSV rows, summary says %d", len(rows)-1, sum.Rows)
	}
	if !strings.Contains(rows[2], "ENST00000218032:c.14T>G\tp.(Phe5Cys)") || !strings.HasSuffix(rows[2], "\tLikely pathogenic") {
		t.Errorf("TSV row %q", rows[2])
	}
}

// synthVCF writes n SNVs matching the reference at random positions.
func synthVCF(s []byte, chrom string, n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	fmt.Fprintf(&b, "##fileformat=VCFv4.2\n##contig=<ID=%s,length=%d>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", chrom, len(s))
	pos := 1
	for i := 0; i < n; i++ {
		pos += 1 + r.IntN(len(s)/n)
		if pos > len(s) {
			break
		}
		refB := s[pos-1]
		alt := "ACGT"[r.IntN(4)]
		if alt == refB {
			alt = "ACGT"[(strings.IndexByte("ACGT", alt)+1)%4]
		}
		fmt.Fprintf(&b, "%s\t%d\t.\t%c\t%c\t.\t.\t.\n", chrom, pos, refB, alt)
	}
	return b.Bytes()
}

func TestParallelKeepsOrder(t *testing.T) {
	a1, _ := setup(t, Options{Threads: 1})
	a4, _ := setup(t, Options{Threads: 4})
	seqs, err := fasta.LoadAll(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	in := synthVCF(seqs["X"], "X", 3000)
	var v1, t1, v4, t4 bytes.Buffer
	s1, err := a1.Run(context.Background(), bytes.NewReader(in), "a.vcf", &v1, &t1)
	if err != nil {
		t.Fatal(err)
	}
	s4, err := a4.Run(context.Background(), bytes.NewReader(in), "a.vcf", &v4, &t4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v1.Bytes(), v4.Bytes()) || !bytes.Equal(t1.Bytes(), t4.Bytes()) {
		t.Fatal("output with 4 workers differs from 1 worker")
	}
	if s1.Records != s4.Records || s1.Annotated != s1.Alleles || s1.Records < 2000 {
		t.Errorf("summaries %+v %+v", s1, s4)
	}
}

func TestEscapeInfo(t *testing.T) {
	if got := escapeInfo("p.(=)"); got != "p.(%3D)" {
		t.Errorf("got %s", got)
	}
	if got := escapeInfo("a b;c,d|e"); got != "a%20b%3Bc%2Cd%7Ce" {
		t.Errorf("got %s", got)
	}
}

func TestMappedReferenceMatchesLoaded(t *testing.T) {
	fa := filepath.Join(tlr8, "ENST00000218032.fa")
	mapped, err := LoadReference(fa)
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	defer mapped.Close()
	if mapped.index == nil {
		t.Fatal("FASTA with .fai was not mapped")
	}
	seqs, err := fasta.LoadAll(fa)
	if err != nil {
		t.Fatal(err)
	}
	whole := NewReference(seqs)
	for _, c := range [][2]int64{{1, 1}, {1, 60}, {55, 130}, {16500, 16590}, {1, 16590}} {
		a, err1 := mapped.Seq("X", c[0], c[1])
		b, err2 := whole.Seq("X", c[0], c[1])
		if err1 != nil || err2 != nil || !bytes.Equal(bytes.ToUpper(a), b) {
			t.Errorf("%v: mapped %q (%v), loaded %q (%v)", c, a, err1, b, err2)
		}
	}
	if _, err := mapped.Seq("X", 16590, 16591); err == nil {
		t.Error("read past the end")
	}
	// AppendSeq gives what Seq gives, appended, from both kinds.
	for _, ref := range []*Reference{mapped, whole} {
		for _, c := range [][2]int64{{1, 1}, {1, 60}, {59, 62}, {55, 130}, {61, 61}, {16500, 16590}, {1, 16590}} {
			want, err1 := ref.Seq("X", c[0], c[1])
			got, err2 := ref.AppendSeq([]byte("pre"), "X", c[0], c[1])
			if err1 != nil || err2 != nil || string(got) != "pre"+string(want) {
				t.Errorf("%v: AppendSeq %q (%v), Seq %q (%v)", c, got, err2, want, err1)
			}
		}
		if got, err := ref.AppendSeq([]byte("pre"), "X", 16590, 16591); err == nil || string(got) != "pre" {
			t.Errorf("AppendSeq past the end: %q, %v", got, err)
		}
	}
}

// TestReferenceStaleIndex: a FASTA cut short after its .fai was made is
// refused with the index named, not read past its end.
func TestReferenceStaleIndex(t *testing.T) {
	dir := t.TempDir()
	fa := filepath.Join(dir, "r.fa")
	if err := os.WriteFile(fa, []byte(">c\nACGT\n"), 0o600); err != nil { // the index says 8 bases on two lines
		t.Fatal(err)
	}
	if err := os.WriteFile(fa+".fai", []byte("c\t8\t3\t4\t5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadReference(fa); err == nil || !strings.Contains(err.Error(), "stale index") {
		t.Fatalf("truncated FASTA: %v", err)
	}
	if err := os.WriteFile(fa, []byte(">c\nACGT\nACGT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := LoadReference(fa)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if b, err := ref.Seq("c", 8, 8); err != nil || string(b) != "T" {
		t.Fatalf("last base: %q %v", b, err)
	}
}

// TestSplitLine checks that the text splitLine gives to copy is what
// appendColumns and appendRest write field by field.
func TestSplitLine(t *testing.T) {
	head := "##fileformat=VCFv4.2\n##INFO=<ID=CSQ,Number=.,Type=String,Description=\"x\">\n" +
		"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
	for i, c := range []struct {
		line              string
		wantHead, wantAll bool
	}{
		{"c;1|x\t10\trs1;rs2\tA\tC,<DEL>,*\t5.5\tq10;lowQ\tDP=3;CSQ=a|b\tGT:AD\t0/1:1,2,3,4\t./.", true, true},
		{"1\t0\t.\tN\t.\t.\t.\t.\tGT\t0\t0", true, true},
		{"1\t7\t.\tA\tT\t.\t.\t.\tGT\t0\t1", true, true},
		{"1\t7\t.\tACG\tA\t.\tPASS\tDP=5\t.\t.\t.", true, true},  // FORMAT ".": its samples "." kept
		{"1\t+20\t.\tA\tG\t.\t.\t.\tGT\t0|1\t1|1", false, false}, // POS written 20
		{"1\t030\t.\tA\tG\t.\t.\t.\tGT\t0|1\t1|1", false, false}, // POS written 30
	} {
		r, err := vcf.NewReader(strings.NewReader(head), "t.vcf")
		if err != nil {
			t.Fatal(err)
		}
		var rec vcf.Record
		if err := r.ParseLine(&rec, c.line, i+4); err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		h, tail, whole := splitLine(&rec, c.line)
		if (h != "") != c.wantHead || whole != c.wantAll {
			t.Errorf("%q: head %q, tail %q, whole %v", c.line, h, tail, whole)
		}
		if want := string(appendColumns(nil, &rec)); h != "" && h != want {
			t.Errorf("%q: head %q, want %q", c.line, h, want)
		}
		if want := string(appendRest(nil, &rec, "", false, false, nil, nil, 2)); whole && tail+"\n" != want {
			t.Errorf("%q: tail %q, want %q", c.line, tail, want)
		}
	}
}

// refCheckVCF has REFs the predictor alone would let through or name
// wrongly: X:12500 is G in the reference, X:12600 is made N below, chrU
// is in the reference but not the gene model, 21 in neither.
const refCheckVCF = `##fileformat=VCFv4.2
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO
X	12455	good	T	G	.	PASS	.
X	12500	n_over_g	N	T	.	PASS	.
X	12500	nt_over_gt	NT	N	.	PASS	.
X	12500	lower_n	n	A,C	.	PASS	.
X	12600	n_over_n	N	T	.	PASS	.
X	12600	a_over_n	A	T	.	PASS	.
X	12455	mismatch	C	G	.	PASS	.
chrU	10	no_model	A	T	.	PASS	.
21	5	no_ref	A	T	.	PASS	.
`

// refCheckSetup annotates against the TLR8 gene model and its reference,
// with X:12600 set to N and a contig chrU the gene model lacks.
func refCheckSetup(t *testing.T, opt Options) *Annotator {
	t.Helper()
	m, err := genemodel.BuildFile(filepath.Join(tlr8, "ENST00000218032.gff"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	seqs, err := fasta.LoadAll(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	x := bytes.Clone(seqs["X"])
	if x[12500-1] != 'G' || x[12600-1] == 'N' {
		t.Fatalf("unexpected reference at X:12500 %c, X:12600 %c", x[12500-1], x[12600-1])
	}
	x[12600-1] = 'N'
	return New(m, NewReference(map[string][]byte{"X": x, "chrU": []byte("ACGTACGTACGT")}), opt)
}

// TestRefChecks: REF N over a reference base, a base over reference N,
// N over N and contigs missing from the reference or the gene model are
// each warned about with their own reason, never annotated.
func TestRefChecks(t *testing.T) {
	var skips []Skip
	a := refCheckSetup(t, Options{Threads: 2, Skipped: func(s Skip) { skips = append(skips, s) }})
	var vout bytes.Buffer
	sum, err := a.Run(context.Background(), strings.NewReader(refCheckVCF), "refcheck.vcf", &vout, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{WarnRefMismatch: 6, WarnUnsupported: 1, WarnUnknownContig: 1, WarnNotInReference: 1}
	if fmt.Sprint(sum.Warnings) != fmt.Sprint(want) || sum.Annotated != 1 || sum.Alleles != 10 {
		t.Errorf("annotated %d of %d, warnings %v, want %v", sum.Annotated, sum.Alleles, sum.Warnings, want)
	}
	for _, w := range []string{
		"refcheck.vcf:4: ref_mismatch: X:12500: REF allele does not match the reference: VCF has N, reference has G",
		"refcheck.vcf:5: ref_mismatch: X:12500: REF allele does not match the reference: VCF has NT, reference has GT",
		"refcheck.vcf:7: unsupported_allele: X:12600: allele not annotated: REF N over reference N",
		"refcheck.vcf:8: ref_mismatch: X:12600: REF allele does not match the reference: VCF has A, reference has N",
		"refcheck.vcf:9: ref_mismatch: X:12455: REF allele does not match the reference: VCF has C, reference has T",
		"refcheck.vcf:10: unknown_contig: chrU: contig not in the gene model",
		"refcheck.vcf:11: contig_not_in_reference: 21: contig not in the reference",
	} {
		if !slices.ContainsFunc(sum.Examples, func(e string) bool { return strings.HasPrefix(e, w) }) {
			t.Errorf("no warning %q in\n%s", w, strings.Join(sum.Examples, "\n"))
		}
	}
	// Skipped gets every allele not annotated, in input order.
	var got []string
	for _, s := range skips {
		got = append(got, fmt.Sprintf("%d %s:%d %s>%s %s", s.Line, s.Chrom, s.Pos, s.Ref, s.Alt, s.Kind))
	}
	wantSkips := []string{"4 X:12500 N>T ref_mismatch", "5 X:12500 NT>N ref_mismatch", "6 X:12500 n>A ref_mismatch", "6 X:12500 n>C ref_mismatch",
		"7 X:12600 N>T unsupported_allele", "8 X:12600 A>T ref_mismatch", "9 X:12455 C>G ref_mismatch", "10 chrU:10 A>T unknown_contig",
		"11 21:5 A>T contig_not_in_reference"}
	if !slices.Equal(got, wantSkips) {
		t.Errorf("skipped:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSkips, "\n"))
	}
	for _, l := range strings.Split(vout.String(), "\n") {
		f := strings.Split(l, "\t")
		if len(f) < 8 || strings.HasPrefix(l, "#") {
			continue
		}
		if (f[2] == "good") != strings.Contains(f[7], "CSQ=") {
			t.Errorf("%s: INFO %s", f[2], f[7])
		}
	}
}

// TestNothingAnnotated: a reference without the VCF's contigs (here one
// with only 21) fails the run, naming what is missing and what it has.
func TestNothingAnnotated(t *testing.T) {
	m, err := genemodel.BuildFile(filepath.Join(tlr8, "ENST00000218032.gff"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	a := New(m, NewReference(map[string][]byte{"21": []byte("ACGT")}), Options{Threads: 1})
	in := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nX\t108\t.\tA\tG\t.\t.\t.\nX\t12455\t.\tT\tG\t.\t.\t.\n"
	sum, err := a.Run(context.Background(), strings.NewReader(in), "x.vcf", io.Discard, io.Discard)
	if !errors.Is(err, ErrNothingAnnotated) || !strings.Contains(err.Error(), "no sequence X (it has 1: 21)") {
		t.Fatalf("err = %v", err)
	}
	if sum == nil || sum.Warnings[WarnNotInReference] != 2 || sum.NotInReference["X"] != 2 {
		t.Errorf("summary %+v", sum)
	}
	// One allele annotated is enough: the others are warnings.
	ref, err := LoadReference(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	a = New(m, ref, Options{Threads: 1})
	sum, err = a.Run(context.Background(), strings.NewReader(in+"21\t2\t.\tC\tT\t.\t.\t.\n"), "x.vcf", io.Discard, io.Discard)
	if err != nil || sum.Annotated != 2 || sum.NotInReference["21"] != 1 {
		t.Errorf("two alleles annotated on X, one on 21 not: %v %+v", err, sum)
	}
}

// TestDroppedContig: a contig whose every transcript the gene model
// dropped is reported as such, not as a contig the model does not know.
func TestDroppedContig(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(tlr8, "ENST00000218032.gff"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	// Without its gene line, TLR8's transcript has a missing parent.
	var lines []string
	for _, l := range strings.SplitAfter(string(text), "\n") {
		if !strings.Contains(l, "\tgene\t") {
			lines = append(lines, l)
		}
	}
	m, err := genemodel.Build(strings.NewReader(strings.Join(lines, "")), "nogene.gff", gff.Auto)
	if err != nil {
		t.Fatal(err)
	}
	if m.HasChrom("X") || m.WarningCounts()[genemodel.WarnMissingParent] == 0 {
		t.Fatalf("model %v, warnings %v", m.Chroms(), m.Warnings)
	}
	if m.Warnings[0].Chrom != "X" {
		t.Fatalf("warning contig %q", m.Warnings[0].Chrom)
	}
	ref, err := LoadReference(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	a := New(m, ref, Options{Threads: 1})
	in := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nX\t12455\t.\tT\tG\t.\t.\t.\n"
	sum, err := a.Run(context.Background(), strings.NewReader(in), "x.vcf", io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Warnings[WarnNoTranscripts] != 1 || len(sum.Examples) != 1 ||
		!strings.Contains(sum.Examples[0], "no_usable_transcripts: X: no usable transcript on X: the gene model dropped what its file has there (missing_parent 1)") {
		t.Errorf("warnings %v %q", sum.Warnings, sum.Examples)
	}
}

// TestFieldType: sources that know their types declare them.
func TestFieldType(t *testing.T) {
	if got := FieldType(fakeSource{}, "FAKE_SIG"); got != "String" {
		t.Errorf("untyped source: %s", got)
	}
	if got := FieldType(typedSource{}, "N"); got != "Integer" {
		t.Errorf("typed source: %s", got)
	}
	if got := FieldType(typedSource{}, "X"); got != "String" {
		t.Errorf("typed source, other type: %s", got)
	}
}

type typedSource struct{ fakeSource }

func (typedSource) Fields() []string { return []string{"FAKE_SIG", "N"} }

func (typedSource) FieldType(f string) string {
	if f == "N" {
		return "Integer"
	}
	return "Flag"
}

// TestHeaderTypes: a typed source's numeric fields are declared with
// their type in the annotated VCF's header.
func TestHeaderTypes(t *testing.T) {
	a, _ := setup(t, Options{Threads: 1, Sources: []Source{typedSource{}}})
	in := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nX\t12455\t.\tT\tG\t.\t.\t.\n"
	var vout bytes.Buffer
	if _, err := a.Run(context.Background(), strings.NewReader(in), "x.vcf", &vout, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(vout.String(), "##INFO=<ID=FAKE_SIG,Number=A,Type=String,") || !strings.Contains(vout.String(), "##INFO=<ID=N,Number=A,Type=Integer,") {
		t.Errorf("header:\n%s", vout.String())
	}
}

// mixedVCF writes n records matching the reference at random positions:
// SNVs, deletions of 1-3 bases, 3-base insertions and two-allele SNVs.
func mixedVCF(s []byte, chrom string, n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	fmt.Fprintf(&b, "##fileformat=VCFv4.2\n##contig=<ID=%s,length=%d>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", chrom, len(s))
	other := func(c byte, k int) byte { return "ACGT"[(strings.IndexByte("ACGT", c)+k)%4] }
	fmt.Fprintf(&b, "%s\t3\t.\t%c\t%c\t.\t.\t.\n", chrom, s[2], other(s[2], 1)) // before the transcripts
	pos := 3
	for range n {
		pos += 1 + r.IntN(2*len(s)/n) // spread over the whole contig
		if pos+4 > len(s) {
			break
		}
		ref, alt := string(s[pos-1]), ""
		switch r.IntN(4) {
		case 0:
			alt = string(other(s[pos-1], 1))
		case 1:
			ref = string(s[pos-1 : pos+1+r.IntN(3)])
			alt = ref[:1]
		case 2:
			alt = ref + "GCA"
		default:
			alt = string(other(s[pos-1], 1)) + "," + string(other(s[pos-1], 2))
		}
		fmt.Fprintf(&b, "%s\t%d\t.\t%s\t%s\t.\t.\tDP=7\n", chrom, pos, ref, alt)
	}
	return b.Bytes()
}

// csqEntries reads the CSQ entries of an annotated VCF as field maps,
// by the Format its header declares.
func csqEntries(t *testing.T, out []byte) [][]map[string]string {
	t.Helper()
	r, err := vcf.NewReader(bytes.NewReader(out), "out.vcf")
	if err != nil {
		t.Fatal(err)
	}
	var format []string
	for _, m := range r.Header().Meta {
		if _, f, ok := strings.Cut(m, "Format: "); ok && strings.HasPrefix(m, "INFO=<ID=CSQ,") {
			format = strings.Split(strings.TrimSuffix(f, `">`), "|")
		}
	}
	var recs [][]map[string]string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		v, _ := rec.InfoValue("CSQ")
		var es []map[string]string
		for ent := range strings.SplitSeq(v, ",") {
			parts := strings.Split(ent, "|")
			if len(parts) != len(format) {
				t.Fatalf("line %d: %d fields in %q, Format has %d", rec.Line, len(parts), ent, len(format))
			}
			m := map[string]string{}
			for i, f := range format {
				m[f] = parts[i]
			}
			es = append(es, m)
		}
		recs = append(recs, es)
	}
}

// tsvRows reads a TSV as maps by its header.
func tsvRows(t *testing.T, out []byte) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	cols := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[1:] {
		vals := strings.Split(l, "\t")
		if len(vals) != len(cols) {
			t.Fatalf("TSV row %q: %d columns, header has %d", l, len(vals), len(cols))
		}
		m := map[string]string{}
		for i, c := range cols {
			m[c] = vals[i]
		}
		rows = append(rows, m)
	}
	return rows
}

// TestFields: a chosen list of CSQ fields writes, for each, what the
// whole list writes (escaped alike), in its order, in the VCF and the
// TSV; leaving HGVS out changes no other field.
func TestFields(t *testing.T) {
	seqs, err := fasta.LoadAll(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	in := mixedVCF(seqs["X"], "X", 3000)
	seen := map[string]bool{}
	for _, flank := range []int64{genemodel.Flank, 0} {
		testFields(t, in, &flank, seen)
	}
	for k, v := range seen {
		if !v {
			t.Errorf("the input does not exercise %s: %v", k, seen)
		}
	}
}

func testFields(t *testing.T, in []byte, flank *int64, seen map[string]bool) {
	run := func(fields []string) (vcfOut, tsvOut []byte) {
		a, _ := setup(t, Options{Threads: 2, Fields: fields, Sources: []Source{fakeSource{}}, Flank: flank})
		var v, tv bytes.Buffer
		if _, err := a.Run(context.Background(), bytes.NewReader(in), "in.vcf", &v, &tv); err != nil {
			t.Fatal(err)
		}
		return v.Bytes(), tv.Bytes()
	}
	fullV, fullT := run(nil)
	all := csqEntries(t, fullV)
	allRows := tsvRows(t, fullT)
	for _, es := range all {
		for _, e := range es {
			for _, f := range []string{"HGVSc", "HGVSp", "HGVSg", "Amino_acids", "BCSQ_AA", "INTRON", "CANONICAL"} {
				seen[f] = seen[f] || e[f] != ""
			}
			seen["escaped"] = seen["escaped"] || strings.Contains(e["HGVSp"], "%3D")
			seen["multi"] = seen["multi"] || e["Allele"] != all[0][0]["Allele"]
			seen["intergenic"] = seen["intergenic"] || e["Consequence"] == "intergenic_variant"
			seen["DISTANCE"] = seen["DISTANCE"] || e["DISTANCE"] != ""
		}
	}
	for _, fields := range [][]string{
		reversed(CSQFields),
		{"Consequence", "Feature", "BCSQ_AA"},
		{"Allele", "Consequence", "SYMBOL", "Feature", "BIOTYPE", "STRAND", "BCSQ_AA", "HGVSg"},
		{"HGVSp", "Allele", "Consequence"},
		{"SYMBOL", "Allele", "Feature", "MANE", "DISTANCE", "Consequence"}, // one run of fixed fields in the TSV, two in the VCF
	} {
		v, tv := run(fields)
		if !bytes.Contains(v, []byte("Format: "+strings.Join(fields, "|")+`">`)) {
			t.Errorf("%v: header does not declare the fields", fields)
		}
		got := csqEntries(t, v)
		if len(got) != len(all) {
			t.Fatalf("%v: %d records, want %d", fields, len(got), len(all))
		}
		for i := range all {
			if len(got[i]) != len(all[i]) {
				t.Fatalf("%v: record %d: %d entries, want %d", fields, i, len(got[i]), len(all[i]))
			}
			for j, e := range got[i] {
				for _, f := range fields {
					if e[f] != all[i][j][f] {
						t.Fatalf("%v: record %d entry %d: %s %q, want %q", fields, i, j, f, e[f], all[i][j][f])
					}
				}
			}
		}
		rows := tsvRows(t, tv)
		if len(rows) != len(allRows) {
			t.Fatalf("%v: %d TSV rows, want %d", fields, len(rows), len(allRows))
		}
		for i, r := range rows {
			want := 4 + 1 + len(fields) // CHROM POS REF ALT, the source, the fields but Allele
			if slices.Contains(fields, "Allele") {
				want--
			}
			if len(r) != want {
				t.Fatalf("%v: TSV has %d columns, want %d", fields, len(r), want)
			}
			for c, val := range r {
				if val != allRows[i][c] {
					t.Fatalf("%v: TSV row %d: %s %q, want %q", fields, i, c, val, allRows[i][c])
				}
			}
		}
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func TestFieldsRefused(t *testing.T) {
	for list, want := range map[string]string{
		"Consequence,Nope":             `no field "Nope"`,
		"Consequence,,Feature":         "an empty name",
		"Feature, Consequence,Feature": "Feature is named twice",
		"Feature,HGVSp":                "Consequence is missing",
	} {
		_, err := ParseFields(list)
		if !errors.Is(err, ErrFields) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFields(%q): %v, want %s", list, err, want)
		}
	}
	if f, err := ParseFields(" Feature , Consequence"); err != nil || !slices.Equal(f, []string{"Feature", "Consequence"}) {
		t.Errorf("ParseFields: %v %v", f, err)
	}
	a, _ := setup(t, Options{Fields: []string{"Consequence", "HGVS"}})
	var v bytes.Buffer
	_, err := a.Run(context.Background(), strings.NewReader("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"), "in.vcf", &v, nil)
	if !errors.Is(err, ErrFields) || v.Len() != 0 {
		t.Errorf("Run with an unknown field: %v, wrote %d bytes", err, v.Len())
	}
}

// TestContigAliases: each of the VCF, the gene model and the reference
// may call TLR8's contig X or chrX; every mix annotates as X everywhere
// does, writes the VCF's name (HGVSg and warnings too) and notes in the
// Summary the names read. A contig with no alias anywhere is still not
// in the reference.
func TestContigAliases(t *testing.T) {
	gffText, err := os.ReadFile(filepath.Join(tlr8, "ENST00000218032.gff"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	faText, err := os.ReadFile(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := fasta.LoadAll(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Copies named chrX (the FASTA without a .fai: read whole).
	chrGFF := filepath.Join(dir, "chrX.gff")
	var lines []string
	for _, l := range strings.SplitAfter(string(gffText), "\n") {
		if strings.HasPrefix(l, "X\t") {
			l = "chr" + l
		}
		lines = append(lines, strings.Replace(l, "##sequence-region X ", "##sequence-region chrX ", 1))
	}
	chrFA := filepath.Join(dir, "chrX.fa")
	if err := os.WriteFile(chrGFF, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chrFA, bytes.Replace(faText, []byte(">X"), []byte(">chrX"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	// And named as RefSeq names GRCh38's X (NCBI's GFF3 and FASTA).
	const nc = "NC_000023.11"
	ncGFF, ncFA := filepath.Join(dir, "nc.gff"), filepath.Join(dir, "nc.fa")
	if err := os.WriteFile(ncGFF, []byte(strings.ReplaceAll(strings.Join(lines, ""), "chrX", nc)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ncFA, bytes.Replace(faText, []byte(">X"), []byte(">"+nc), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	gffs := map[string]string{"X": filepath.Join(tlr8, "ENST00000218032.gff"), "chrX": chrGFF, nc: ncGFF}
	fas := map[string]string{"X": filepath.Join(tlr8, "ENST00000218032.fa"), "chrX": chrFA, nc: ncFA}
	vcfText := func(chrom string) string {
		// Variants over the whole contig, REF not matching the
		// reference (the predictor's warning), a contig nowhere.
		return string(mixedVCF(seqs["X"], chrom, 300)) + chrom + "\t12455\tmismatch\tC\tG\t.\t.\t.\nchrZ\t10\tnowhere\tA\tT\t.\t.\t.\n"
	}
	// asX writes the VCF contig chrX as X, to compare with the X run.
	asX := func(b []byte) string {
		s := strings.ReplaceAll(string(b), "\nchrX\t", "\nX\t")
		s = strings.ReplaceAll(s, "chrX:g.", "X:g.")
		return strings.ReplaceAll(s, "##contig=<ID=chrX,", "##contig=<ID=X,")
	}
	for _, fields := range [][]string{nil, BCSQFields} {
		var wantVCF, wantTSV string
		var wantSum *Summary
		for _, c := range []struct{ vcf, gff, fa string }{
			{"X", "X", "X"}, // first: what the others must give
			{"chrX", "X", "X"}, {"X", "X", "chrX"}, {"X", "chrX", "X"}, {"chrX", "chrX", "X"},
			{"chrX", "X", "chrX"}, {"X", "chrX", "chrX"}, {"chrX", "chrX", "chrX"},
			{"X", nc, "X"}, {"chrX", nc, "chrX"}, {"chrX", nc, nc}, {"X", "X", nc},
		} {
			name := fmt.Sprintf("vcf %s gff %s fasta %s fields %d", c.vcf, c.gff, c.fa, len(fields))
			m, err := genemodel.BuildFile(gffs[c.gff])
			if err != nil {
				t.Fatal(err)
			}
			ref, err := LoadReference(fas[c.fa])
			if err != nil {
				t.Fatal(err)
			}
			var skips []Skip
			a := New(m, ref, Options{Threads: 3, Fields: fields, Skipped: func(s Skip) { skips = append(skips, s) }})
			var vout, tout bytes.Buffer
			sum, err := a.Run(context.Background(), strings.NewReader(vcfText(c.vcf)), "in.vcf", &vout, &tout)
			ref.Close()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if wantSum == nil {
				wantVCF, wantTSV, wantSum = vout.String(), tout.String(), sum
				if sum.Annotated < 250 || sum.Warnings[WarnRefMismatch] != 1 || sum.NotInReference["chrZ"] != 1 || sum.Renamed != nil {
					t.Fatalf("%s: summary %+v", name, sum)
				}
				continue
			}
			if got := asX(vout.Bytes()); got != wantVCF {
				t.Errorf("%s: VCF differs from the X run:\n%s", name, firstDiff(got, wantVCF))
			}
			if got := asX(tout.Bytes()); got != wantTSV {
				t.Errorf("%s: TSV differs from the X run:\n%s", name, firstDiff(got, wantTSV))
			}
			if sum.Annotated != wantSum.Annotated || fmt.Sprint(sum.Warnings) != fmt.Sprint(wantSum.Warnings) || fmt.Sprint(sum.NotInReference) != "map[chrZ:1]" {
				t.Errorf("%s: summary %+v, want %+v", name, sum, wantSum)
			}
			var want map[string]ContigNames
			if c.gff != c.vcf || c.fa != c.vcf {
				want = map[string]ContigNames{c.vcf: {Model: c.gff, Reference: c.fa}}
			}
			if fmt.Sprint(sum.Renamed) != fmt.Sprint(want) {
				t.Errorf("%s: Renamed %v, want %v", name, sum.Renamed, want)
			}
			// Warnings name the VCF's contig.
			mismatch := "in.vcf:" + fmt.Sprint(strings.Count(vcfText(c.vcf), "\n")-1) + ": ref_mismatch: " + c.vcf + ":12455: "
			if !slices.ContainsFunc(sum.Examples, func(e string) bool { return strings.HasPrefix(e, mismatch) }) {
				t.Errorf("%s: no warning %q in %q", name, mismatch, sum.Examples)
			}
			for _, s := range skips {
				if s.Chrom != c.vcf && s.Chrom != "chrZ" {
					t.Errorf("%s: Skip on %s", name, s.Chrom)
				}
			}
			if c.vcf == "chrX" {
				rows := tsvRows(t, tout.Bytes())
				for _, r := range rows {
					if r["CHROM"] != "chrX" || !strings.HasPrefix(r["HGVSg"], "chrX:g.") {
						t.Fatalf("%s: TSV row %v", name, r)
					}
				}
				out := vout.String()
				if n := strings.Count(out, "chrX:g."); n == 0 || n != strings.Count(out, "X:g.") || strings.Count(out, "\nX\t") != 0 {
					t.Errorf("%s: HGVSg or records not on chrX in the VCF", name)
				}
			}
		}
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

// TestTranscriptPastReference: a transcript whose exons run past the end
// of the FASTA's contig (a FASTA of part of the contig, or of another
// build) gives the alleles touching it a warning each, naming the
// transcript; the run goes on (before, it stopped at the first one).
func TestTranscriptPastReference(t *testing.T) {
	gffText, err := os.ReadFile(filepath.Join(tlr8, "ENST00000218032.gff"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	// The FASTA's X has 16,590 bases: end the last exon past it.
	past := strings.ReplaceAll(string(gffText), "\t16570\t", "\t16700\t")
	if past == string(gffText) {
		t.Fatal("test GFF3 not changed")
	}
	m, err := genemodel.Build(strings.NewReader(past), "past.gff3", gff.GFF3)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := LoadReference(filepath.Join(tlr8, "ENST00000218032.fa"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	in := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nX\t12455\t.\tT\tG\t.\t.\t.\nX\t12455\t.\tT\tC\t.\t.\t.\n"
	var vout bytes.Buffer
	sum, err := New(m, ref, Options{Threads: 1}).Run(context.Background(), strings.NewReader(in), "in.vcf", &vout, nil)
	if err != nil {
		t.Fatalf("run stopped: %v", err)
	}
	if sum.Warnings[WarnTranscriptOutside] != 2 || sum.Annotated != 0 || len(sum.Examples) != 2 ||
		!strings.Contains(sum.Examples[0], "ENST00000218032") || !strings.Contains(sum.Examples[0], "the gene model and the FASTA disagree") {
		t.Errorf("summary %+v", sum)
	}
	if strings.Contains(vout.String(), "CSQ=") {
		t.Errorf("a consequence was written:\n%s", vout.String())
	}
}

// TestFormatDotAndCSQFlag: a FORMAT "." keeps its sample columns (the
// record had 8 columns under a 10-column header), also when its POS is
// written otherwise; an input CSQ flag is dropped like a CSQ value.
func TestFormatDotAndCSQFlag(t *testing.T) {
	a, ref := setup(t, Options{Threads: 1})
	defer ref.Close()
	in := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n" +
		"X\t12455\t.\tT\tG\t.\t.\tCSQ;DP=3\t.\t.\t.\n" +
		"X\t012455\t.\tT\tG\t.\t.\tCSQ\t.\t.\t.\n"
	var out bytes.Buffer
	if _, err := a.Run(context.Background(), strings.NewReader(in), "in.vcf", &out, nil); err != nil {
		t.Fatal(err)
	}
	r, err := vcf.NewReader(bytes.NewReader(out.Bytes()), "out.vcf")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		rec, err := r.Next()
		if err == io.EOF {
			if n != 2 {
				t.Fatalf("%d records", n)
			}
			break
		}
		if err != nil {
			t.Fatalf("output does not read back: %v\n%s", err, out.String())
		}
		if strings.Contains(";"+rec.Info+";", ";CSQ;") || strings.Count(rec.Info, "CSQ") != 1 {
			t.Errorf("INFO %q", rec.Info)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(l, "##") && strings.Count(l, "\t") != 10 {
			t.Errorf("%d columns: %q", strings.Count(l, "\t")+1, l)
		}
	}
}
