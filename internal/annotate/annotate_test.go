package annotate

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/fasta"
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
	if sum.Warnings[WarnRefMismatch] != 1 || sum.Warnings[WarnUnknownContig] != 1 {
		t.Errorf("warnings %v", sum.Warnings)
	}
	for _, want := range []string{"malformed.vcf:7: ref_mismatch", "malformed.vcf:8: unknown_contig"} {
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
		{"1\t7\t.\tACG\tA\t.\tPASS\tDP=5\t.\t.\t.", true, false}, // FORMAT "." is left out
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
		if want := string(appendRest(nil, &rec, "", false, false, nil, nil)); whole && tail+"\n" != want {
			t.Errorf("%q: tail %q, want %q", c.line, tail, want)
		}
	}
}
