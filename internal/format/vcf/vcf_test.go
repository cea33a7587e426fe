package vcf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format"
)

// header declares what the record tests use. Its last line is line 15,
// so the first record is on line 16.
const header = `##fileformat=VCFv4.3
##contig=<ID=chr20,length=63025520>
##contig=<ID=HLA-A*01:01:01:01,length=3503>
##FILTER=<ID=q10,Description="Quality below 10">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP membership">
##INFO=<ID=NAMES,Number=.,Type=Integer,Description="Declared Integer, holds names (as in the GIAB truth set)">
##INFO=<ID=ANN,Number=1,Type=String,Description="Annotation, \"with commas\"">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Genotype likelihoods">
##FORMAT=<ID=GQ,Number=1,Type=Float,Description="Float, as freebayes declares it">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	S1	S2
`

const first = 16 // line of the first record after header

func readAll(data string) ([]*Record, *Reader, error) {
	r, err := NewReader(strings.NewReader(data), "in.vcf")
	if err != nil {
		return nil, nil, err
	}
	var out []*Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		out = append(out, rec)
	}
}

func TestHeader(t *testing.T) {
	if n := strings.Count(header, "\n"); n != first-1 {
		t.Fatalf("header has %d lines, the tests assume %d", n, first-1)
	}
	_, r, err := readAll(header)
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	if h.Version != "VCFv4.3" {
		t.Errorf("Version %q", h.Version)
	}
	if want := []string{"S1", "S2"}; !reflect.DeepEqual(h.Samples, want) {
		t.Errorf("Samples %q, want %q", h.Samples, want)
	}
	if want := []string{"chr20", "HLA-A*01:01:01:01"}; !reflect.DeepEqual(h.Contigs, want) {
		t.Errorf("Contigs %q, want %q", h.Contigs, want)
	}
	if d := h.Info["AF"]; d != (Def{"A", "Float"}) {
		t.Errorf("Info[AF] = %+v", d)
	}
	if d := h.Format["PL"]; d != (Def{"G", "Integer"}) {
		t.Errorf("Format[PL] = %+v", d)
	}
	if len(h.Meta) != first-3 || h.Meta[0] != "contig=<ID=chr20,length=63025520>" {
		t.Errorf("Meta %q", h.Meta)
	}
	// A header without samples.
	_, r, err = readAll("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Header(); len(h.Samples) != 0 || h.Version != "VCFv4.2" {
		t.Errorf("sites-only header %+v", h)
	}
}

func TestRecord(t *testing.T) {
	recs, _, err := readAll(header +
		"chr20\t100\trs1;rs2\tA\tG,T\t50.5\tPASS\tDP=10;DB;AF=0.5,0.25\tGT:AD\t1|2:0,5,5\t0/0:9,0,0\n" +
		"chr20\t200\t.\tac\ta\t.\tq10\t.\tGT\t./.\t1\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	want := &Record{Chrom: "chr20", Pos: 100, ID: "rs1;rs2", Ref: "A", Alt: []string{"G", "T"}, Qual: "50.5",
		Filter: "PASS", Info: "DP=10;DB;AF=0.5,0.25", Format: []string{"GT", "AD"}, Samples: []string{"1|2:0,5,5", "0/0:9,0,0"}, Line: first}
	if !reflect.DeepEqual(recs[0], want) {
		t.Errorf("got  %+v\nwant %+v", recs[0], want)
	}
	if b := recs[1]; b.Alt[0] != "a" || b.Line != first+1 || b.Filter != "q10" || b.Samples[1] != "1" {
		t.Errorf("second record %+v", b)
	}
}

func TestGenotype(t *testing.T) {
	cases := []struct {
		format, sample string
		want           []int
		phased, ok     bool
	}{
		{"GT", "0/1", []int{0, 1}, false, true},
		{"GT", "1|0", []int{1, 0}, true, true},
		{"GT", "./.", []int{-1, -1}, false, true},
		{"GT", ".", []int{-1}, false, true},
		{"GT", "1", []int{1}, false, true}, // haploid
		{"GT:DP:AD", "0/1:35:10,25", []int{0, 1}, false, true},
		{"GT:DP:AD", "1|1", []int{1, 1}, true, true}, // trailing fields dropped
		{"GT", "|0/1", []int{0, 1}, true, true},      // VCF 4.4 explicit phasing
		{"DP:AD", "35:10,25", nil, false, false},     // no GT
	}
	for _, c := range cases {
		line := fmt.Sprintf("chr20\t1\t.\tA\tG\t.\t.\t.\t%s\t%s\t%s\n", c.format, c.sample, c.sample)
		recs, _, err := readAll(header + line)
		if err != nil {
			t.Errorf("%s %s: %v", c.format, c.sample, err)
			continue
		}
		gt, phased, ok := recs[0].Genotype(1)
		if !reflect.DeepEqual(gt, c.want) || phased != c.phased || ok != c.ok {
			t.Errorf("%s %s: Genotype = %v, %v, %v; want %v, %v, %v", c.format, c.sample, gt, phased, ok, c.want, c.phased, c.ok)
		}
		for _, i := range []int{-1, 2} {
			if _, _, ok := recs[0].Genotype(i); ok {
				t.Errorf("Genotype(%d) of a record with 2 samples is ok", i)
			}
		}
	}
}

func TestInfoValue(t *testing.T) {
	rec := &Record{Info: "DP=10;DB;AF=0.5,0.25;ANN="}
	cases := []struct {
		key, want string
		ok        bool
	}{
		{"DP", "10", true},
		{"DB", "", true}, // a flag
		{"AF", "0.5,0.25", true},
		{"ANN", "", true},
		{"D", "", false},
		{"XX", "", false},
	}
	for _, c := range cases {
		if v, ok := rec.InfoValue(c.key); v != c.want || ok != c.ok {
			t.Errorf("InfoValue(%q) = %q, %v; want %q, %v", c.key, v, ok, c.want, c.ok)
		}
	}
	if _, ok := (&Record{Info: "."}).InfoValue("DP"); ok {
		t.Error("InfoValue on INFO '.' found a key")
	}
}

func TestIsPass(t *testing.T) {
	for filter, want := range map[string]bool{"PASS": true, ".": true, "q10": false, "q10;s50": false} {
		if got := (&Record{Filter: filter}).IsPass(); got != want {
			t.Errorf("IsPass(%q) = %v", filter, got)
		}
	}
}

func TestCRLF(t *testing.T) {
	in := strings.ReplaceAll(header+"chr20\t1\t.\tA\tG\t.\tPASS\tDP=3\tGT:DP\t0/1:3\t1/1:4\n", "\n", "\r\n")
	recs, r, err := readAll(in)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Header().Samples; len(s) != 2 || s[1] != "S2" {
		t.Errorf("samples %q", s)
	}
	if len(recs) != 1 || recs[0].Samples[1] != "1/1:4" || recs[0].Line != first {
		t.Errorf("records %+v", recs)
	}
}

// TestValid lists records that are unusual but valid, and must parse.
func TestValid(t *testing.T) {
	cases := []struct{ name, line string }{
		{"breakend t[p[", "chr20\t1\t.\tG\tG[chr20:200[\t.\t.\t.\tGT\t0/1\t0/0"},
		{"breakend ]p]t", "chr20\t1\t.\tG\t]chr20:200]AGT\t.\t.\t.\tGT\t0/1\t0/0"},
		{"breakend to a symbolic contig", "chr20\t1\t.\tG\tG]<ctg1>:5]\t.\t.\t.\tGT\t0/1\t0/0"},
		{"single breakends", "chr20\t1\t.\tG\t.G,G.\t.\t.\t.\tGT\t0/1\t0/2"},
		{"symbolic alleles", "chr20\t1\t.\tG\t<DEL>,<*>,<NON_REF>,*\t.\t.\tEND=5\tGT\t0/1\t3/4"},
		{"ALT '.'", "chr20\t1\t.\tG\t.\t.\t.\t.\tGT:PL\t0/0:0,3,30\t0/0:0"},
		{"contig with ':' and '*'", "HLA-A*01:01:01:01\t5\t.\tG\tA\t.\t.\t.\tGT\t0/1\t0/0"},
		{"telomere at position 0", "chr20\t0\t.\tN\t.[chr20:5[\t.\t.\t.\tGT\t0\t0"},
		{"flag with 0 or 1", "chr20\t1\t.\tG\tA\t.\t.\tDB=0\tGT\t0/1\t0/0"},
		{"missing values", "chr20\t1\t.\tG\tA,C\t.\t.\tDP=.;AF=.,0.5\tGT:DP:AD:PL\t./.:.:.:.\t0/1:3:.,1,2:"},
		{"trailing fields dropped", "chr20\t1\t.\tG\tA\t.\t.\t.\tGT:DP:AD:PL\t0/1\t./.:5"},
		{"haploid and diploid PL", "chr20\t1\t.\tG\tA\t.\t.\t.\tGT:PL\t1:30,0\t0/1:30,0,40"},
		{"PL without GT, either ploidy", "chr20\t1\t.\tG\tA\t.\t.\t.\tPL\t30,0\t30,0,40"},
		{"lone '.' genotype", "chr20\t1\t.\tG\tA\t.\t.\t.\tGT:PL\t.:30,0\t.:30,0,40"},
		{"floats", "chr20\t1\t.\tG\tA,C\t.\t.\tAF=nan,1e-400\tGT:GQ\t0/1:35.5\t0/0:Inf"},
		{"INFO type of a declared key is loose", "chr20\t1\t.\tG\tA\t.\t.\tNAMES=IonExome,Solid\tGT\t0/1\t0/0"},
		{"String with commas", "chr20\t1\t.\tG\tA\t.\t.\tANN=a,b,c\tGT\t0/1\t0/0"},
		{"undeclared keys", "chr20\t1\t.\tG\tA\t.\t.\tXX=a,b;YY\tGT:ZZ\t0/1:x,y\t0/0"},
		{"FORMAT '.'", "chr20\t1\t.\tG\tA\t.\t.\t.\t.\t.\t."},
		{"FILTER list", "chr20\t1\t.\tG\tA\t.\tq10;s50\t.\tGT\t0/1\t0/0"},
	}
	for _, c := range cases {
		if _, _, err := readAll(header + c.line + "\n"); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	headers := []struct{ name, meta string }{
		{"PEDIGREE without ID before 4.3", "##fileformat=VCFv4.2\n##PEDIGREE=<Derived=S2,Original=S1>\n"},
		{"META with a [list]", "##fileformat=VCFv4.3\n##META=<ID=Assay,Type=String,Number=.,Values=[WholeGenome, Exome]>\n"},
		{"ALT ID with punctuation", "##fileformat=VCFv4.3\n##ALT=<ID=complex!\"#$%&'()*+-./;=?@[\\]^_`{|}~,Description=\"x\">\n"},
		{"free-form structured line", "##fileformat=VCFv4.3\n##AnalysisTitle=<\"FINRISK: whole-exome\">\n"},
		{"Flag with Number=A, String with Number=0", "##fileformat=VCFv4.1\n##INFO=<ID=F,Number=A,Type=Flag,Description=\"\">\n##INFO=<ID=S,Number=0,Type=String,Description=\"\">\n"},
		{"VCF 4.5 Number=LA", "##fileformat=VCFv4.5\n##FORMAT=<ID=LEC,Number=LA,Type=Integer,Description=\"x\">\n"},
	}
	for _, c := range headers {
		if _, _, err := readAll(c.meta + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestErrors(t *testing.T) {
	const cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
	hdr := func(meta string) string { return "##fileformat=VCFv4.3\n" + meta + "\n" + cols }
	rec := func(s string) string { return header + s + "\n" }
	cases := []struct {
		name, in string
		line     int    // 0: the error names no line
		col      string // the column named before the message, if any
		msg      string // the start of the message
	}{
		// The header.
		{"empty", "", 0, "", "the file is empty"},
		{"no fileformat", cols, 1, "", "the first line must be ##fileformat"},
		{"fileformat with a space", "##fileformat=VCFv4.3 \n" + cols, 1, "", "the first line must be ##fileformat"},
		{"fileformat 5.0", "##fileformat=VCFv5.0\n" + cols, 1, "", "the first line must be ##fileformat"},
		{"no #CHROM", "##fileformat=VCFv4.2\n##x=y\n", 2, "", "no #CHROM header line"},
		{"bad column name", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFOS\n", 2, "", `column 8 of the #CHROM line is "INFOS"`},
		{"duplicate sample", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tA\n", 2, "", `sample name "A"`},
		{"FORMAT without samples", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\n", 2, "", "the #CHROM line has a FORMAT column but no samples"},
		{"meta without =", hdr("##junk"), 2, "", "meta line must be ##key=value"},
		{"meta with an empty value", hdr("##reference="), 2, "", "##reference has an empty value"},
		{"empty structured line", hdr("##pedigreeDB=<>"), 2, "", "structured ##pedigreeDB line must end with '>' and not be empty"},
		{"INFO without ID", hdr(`##INFO=<Number=1,Type=Integer,Description="x">`), 2, "", "##INFO line has no ID"},
		{"ID not first", hdr(`##FORMAT=<Number=1,ID=DP,Type=Integer,Description="x">`), 2, "", "##FORMAT line has no ID (it must come first)"},
		{"PEDIGREE without ID in 4.3", hdr("##PEDIGREE=<Original=S1>"), 2, "", "##PEDIGREE line has no ID"},
		{"unclosed structured line", hdr(`##INFO=<ID=DP,Number=1,Type=Integer,Description="x"`), 2, "", "structured ##INFO line must be <...>"},
		{"unstructured INFO", hdr("##INFO=DP"), 2, "", "structured ##INFO line must be <...>"},
		{"unescaped quote", hdr(`##ALT=<ID=DEL,Description="a "quoted" word">`), 2, "", "##ALT line: text after the value of Description"},
		{"no closing quote", hdr(`##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth>`), 2, "", "##INFO line: the quoted value of Description has no closing quote"},
		{"unquoted Description", hdr("##ALT=<ID=DEL,Description=Deletion>"), 2, "", "##ALT line: Description must be in double quotes"},
		{"space in a value", hdr("##SAMPLE=<ID=S 1>"), 2, "", `##SAMPLE line: ID value "S 1" has white space`},
		{"comma in an ID", hdr("##contig=<ID=1,A,length=5>"), 2, "", `##contig line: "A" is not key=value`},
		{"bad contig ID", hdr("##contig=<ID=chr<1>>"), 2, "", `##contig ID "chr<1>" is not a valid contig name`},
		{"ALT ID with '<'", hdr(`##ALT=<ID=DEL:A<B,Description="x">`), 2, "", `##ALT ID "DEL:A<B" contains '<' or '>'`},
		{"Number N", hdr(`##INFO=<ID=DP,Number=N,Type=Integer,Description="x">`), 2, "", `##INFO line DP: Number "N" is not`},
		{"Type Int", hdr(`##FORMAT=<ID=DP,Number=1,Type=Int,Description="x">`), 2, "", `##FORMAT line DP: Type "Int" is not`},
		{"META Number", hdr("##META=<ID=Assay,Number=N,Type=String,Values=[a, b]>"), 2, "", `##META line Assay: Number "N"`},
		{"INFO without Type", hdr(`##INFO=<ID=DP,Number=1,Description="x">`), 2, "", "##INFO line DP needs Number and Type"},
		{"FORMAT Flag", hdr(`##FORMAT=<ID=XF,Number=0,Type=Flag,Description="x">`), 2, "", "##FORMAT line XF: Type=Flag is for INFO only"},
		{"FORMAT GT Integer", hdr(`##FORMAT=<ID=GT,Number=1,Type=Integer,Description="x">`), 2, "", "##FORMAT line GT must have Number=1 and Type=String"},
		{"FORMAT ID with a digit first", hdr(`##FORMAT=<ID=1GS,Number=1,Type=Integer,Description="x">`), 2, "", `##FORMAT ID "1GS" is not`},
		// The records.
		{"too few columns", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1"), first, "", "10 tab-separated columns, the header declares 11"},
		{"bad CHROM", rec("chr 20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "CHROM", `"chr 20" is not a valid contig name`},
		{"bad POS", rec("chr20\tx\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "POS", `"x" is not a non-negative integer`},
		{"ID with a stray ';'", rec("chr20\t1\trs1;\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ID", `"rs1;" has an empty name`},
		{"ID repeated", rec("chr20\t1\trs1;rs1\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ID", `"rs1;rs1" repeats rs1`},
		{"ID with a space", rec("chr20\t1\trs 1\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ID", `"rs 1" contains white space`},
		{"bad REF", rec("chr20\t1\t.\tAXG\tG\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "REF", `"AXG" is not`},
		{"bad ALT base", rec("chr20\t1\t.\tA\tG,J\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ALT", `allele "J"`},
		{"empty ALT allele", rec("chr20\t1\t.\tA\tG,,T\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ALT", `allele ""`},
		{"'.' in an ALT list", rec("chr20\t1\t.\tA\tG,.\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ALT", `allele "."`},
		{"symbolic allele with '>' inside", rec("chr20\t1\t.\tA\t<INS>X>\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ALT", `allele "<INS>X>"`},
		{"breakend without bases", rec("chr20\t1\t.\tA\t[chr20:100[\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ALT", `allele "[chr20:100["`},
		{"breakend without a position", rec("chr20\t1\t.\tA\tA[chr20[\t.\tPASS\t.\tGT\t0/1\t0/0"), first, "ALT", `allele "A[chr20["`},
		{"bad QUAL", rec("chr20\t1\t.\tA\tG\t-3\tPASS\t.\tGT\t0/1\t0/0"), first, "QUAL", `"-3"`},
		{"FILTER '.' in a list", rec("chr20\t1\t.\tA\tG\t.\tq10;.\t.\tGT\t0/1\t0/0"), first, "FILTER", `"q10;." has '.' in a list`},
		{"FILTER ending with ';'", rec("chr20\t1\t.\tA\tG\t.\tPASS;\t.\tGT\t0/1\t0/0"), first, "FILTER", `"PASS;" has an empty name`},
		{"FILTER repeated", rec("chr20\t1\t.\tA\tG\t.\tq10;q10\t.\tGT\t0/1\t0/0"), first, "FILTER", `"q10;q10" repeats q10`},
		{"FILTER 0", rec("chr20\t1\t.\tA\tG\t.\tq10;0\t.\tGT\t0/1\t0/0"), first, "FILTER", `"q10;0" uses the reserved name 0`},
		{"FILTER with a space", rec("chr20\t1\t.\tA\tG\t.\tmy filter\t.\tGT\t0/1\t0/0"), first, "FILTER", `"my filter" contains white space`},
		{"INFO empty", rec("chr20\t1\t.\tA\tG\t.\tPASS\t\tGT\t0/1\t0/0"), first, "INFO", "empty (use '.')"},
		{"INFO key twice", rec("chr20\t1\t.\tA\tG\t.\tPASS\tDP=1;DP=2\tGT\t0/1\t0/0"), first, "INFO", "key DP appears twice"},
		{"INFO key with a space", rec("chr20\t1\t.\tA\tG\t.\tPASS\tR Q=1\tGT\t0/1\t0/0"), first, "INFO", `key "R Q"`},
		{"INFO flag with a value", rec("chr20\t1\t.\tA\tG\t.\tPASS\tDB=2\tGT\t0/1\t0/0"), first, "INFO", "DB is a Flag and takes no value"},
		{"INFO value missing", rec("chr20\t1\t.\tA\tG\t.\tPASS\tDP\tGT\t0/1\t0/0"), first, "INFO", "DP has no value"},
		{"INFO too many values", rec("chr20\t1\t.\tA\tG\t.\tPASS\tDP=1,2\tGT\t0/1\t0/0"), first, "INFO", "DP: 2 values, Number=1 calls for 1"},
		{"INFO Number=A", rec("chr20\t1\t.\tA\tG,T\t.\tPASS\tAF=0.5\tGT\t0/1\t0/0"), first, "INFO", "AF: 1 values, Number=A calls for 2"},
		{"INFO reserved key's Type", rec("chr20\t1\t.\tA\tG\t.\tPASS\tDP=1.5\tGT\t0/1\t0/0"), first, "INFO", `DP: "1.5" is not of Type Integer`},
		{"INFO undeclared reserved key", rec("chr20\t1\t.\tA\tG\t.\tPASS\tAC=x\tGT\t0/1\t0/0"), first, "INFO", `AC: "x" is not of Type Integer`},
		{"INFO negative count", rec("chr20\t1\t.\tA\tG\t.\tPASS\tAN=-2\tGT\t0/1\t0/0"), first, "INFO", `AN: "-2" is negative`},
		{"INFO integer overflow", rec("chr20\t1\t.\tA\tG\t.\tPASS\tEND=2147483648\tGT\t0/1\t0/0"), first, "INFO", `END: "2147483648" is not of Type Integer`},
		{"INFO integer BCF reserves", rec("chr20\t1\t.\tA\tG\t.\tPASS\tDP=-2147483641\tGT\t0/1\t0/0"), first, "INFO", `DP: "-2147483641" is not of Type Integer`},
		{"FORMAT GT not first", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tDP:GT\t3:0/1\t3:0/0"), first, "FORMAT", "GT must be the first key"},
		{"FORMAT empty key", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT::DP\t0/1::3\t0/0::3"), first, "FORMAT", "empty key"},
		{"FORMAT key with a space", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT:G S\t0/1:3\t0/0:3"), first, "FORMAT", `key "G S" is not`},
		{"FORMAT key twice", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT:DP:DP\t0/1:3:3\t0/0:3:3"), first, "FORMAT", "key DP appears twice"},
		{"bad genotype", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/x\t0/0"), first, "S1", `genotype "0/x" is malformed`},
		{"genotype with an empty allele", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/|1\t0/0"), first, "S1", `genotype "0/|1" is malformed`},
		{"allele out of range", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/2"), first, "S2", `genotype "0/2" refers to allele 2, the record has 1 ALT alleles`},
		{"too many sample values", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1:5\t0/0"), first, "S1", "2 values for 1 FORMAT keys"},
		{"sample value Type", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT:DP\t0/1:3\t0/0:x"), first, "S2", `DP: "x" is not of Type Integer`},
		{"sample Number=R", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT:AD\t0/1:1,2,3\t0/0:1,0"), first, "S1", "AD: 3 values, Number=R calls for 2"},
		{"diploid PL", rec("chr20\t1\t.\tA\tG,T\t.\tPASS\t.\tGT:PL\t0/1:0,1,2\t0/0:0"), first, "S1", "PL: 3 values, Number=G calls for 6"},
		{"haploid PL", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT:PL\t1:3,0,9\t0/0:0"), first, "S1", "PL: 3 values, Number=G calls for 2"},
		{"PL without GT", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tPL\t3,0,9,9\t0"), first, "S1", "PL: 4 values, Number=G calls for 2 or 3"},
		{"undeclared reserved FORMAT key", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT:HQ\t0/1:3\t0/0:3,4"), first, "S1", "HQ: 1 values, Number=2 calls for 2"},
		{"negative depth", rec("chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT:AD\t0/1:3,-1\t0/0:3,4"), first, "S1", `AD: "-1" is negative`},
		// The file's shape.
		{"error on a later line", header + "chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\nchr20\t2\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/3\n", first + 1, "S2", `genotype "0/3"`},
		{"no final newline", header + "chr20\t1\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0", first, "", "last line has no newline"},
		{"empty line", header + "\n", first, "", "empty line"},
	}
	for _, c := range cases {
		_, _, err := readAll(c.in)
		want := "in.vcf: malformed VCF: "
		if c.line > 0 {
			want = fmt.Sprintf("in.vcf: line %d: malformed VCF: ", c.line)
		}
		if c.col != "" {
			want += c.col + ": "
		}
		want += c.msg
		if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s...", c.name, err, want)
		}
	}
}

func TestLimits(t *testing.T) {
	line, hdr := maxLine, maxHeader
	t.Cleanup(func() { maxLine, maxHeader = line, hdr })
	maxLine, maxHeader = 300, 1000
	long := header + "chr20\t1\t.\tA\tG\t.\tPASS\tANN=" + strings.Repeat("x", 300) + "\tGT\t0/1\t0/0\n"
	if _, _, err := readAll(long); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), fmt.Sprintf("in.vcf: line %d: malformed VCF: line longer than 300 bytes", first)) {
		t.Errorf("long line: %v", err)
	}
	big := "##fileformat=VCFv4.3\n" + strings.Repeat("##x=0123456789\n", 100)
	if _, _, err := readAll(big); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "header longer than 1000 bytes") {
		t.Errorf("long header: %v", err)
	}
}

// TestDemoFiles reads the project's demo VCFs (bgzip'd) through
// format.OpenFile; the GIAB truth set has 221 records
// (zcat ... | grep -vc '^#').
func TestDemoFiles(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/demo/*.vcf.gz")
	want := map[string]int{"test_nist.b37_chr20_100kbp_at_10mb.vcf.gz": 221}
	if len(files) == 0 {
		t.Fatal("no demo VCFs in ../../../testdata/demo")
	}
	for _, p := range files {
		f, err := format.OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n, err := count(f, p)
		f.Close()
		if err != nil {
			t.Error(err)
		}
		if w, ok := want[filepath.Base(p)]; ok && n != w {
			t.Errorf("%s: %d records, want %d", p, n, w)
		}
		delete(want, filepath.Base(p))
	}
	if len(want) > 0 {
		t.Errorf("not found: %v", want)
	}
}

func count(r io.Reader, name string) (int, error) {
	vr, err := NewReader(r, name)
	if err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		if _, err := vr.Next(); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
	}
}

func FuzzReader(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.vcf")
	if len(seeds) < 3 {
		f.Fatalf("only %d seed files in testdata", len(seeds))
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(header + "chr20\t1\t.\tA\tG,<DEL>\t.\tPASS\tDP=3;AF=0.5,0.1\tGT:AD:PL\t0/1:1,2,0:0,1,2,3,4,5\t1:0,1,0:0,1,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz.vcf")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.vcf") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		// Every call consumes a line, so there are at most len(data) records.
		for range len(data) + 1 {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.vcf") {
					t.Fatalf("error without the file name: %v", err)
				}
				return
			}
			if rec.Pos < 0 || rec.Ref == "" {
				t.Fatalf("invalid record accepted: %+v", rec)
			}
			for i := range rec.Samples {
				rec.Genotype(i)
			}
			rec.InfoValue("DP")
		}
		t.Fatal("the reader did not stop")
	})
}

// TestReadReuse reads the same records with Next and into one reused
// Record with Read.
func TestReadReuse(t *testing.T) {
	data := header +
		"chr20\t100\trs1;rs2\tA\tG,T\t50.5\tPASS\tDP=10;DB;AF=0.5,0.25\tGT:AD\t1|2:0,5,5\t0/0:9,0,0\n" +
		"chr20\t150\t.\tA\t.\t.\t.\t.\t.\t.\t.\n" +
		"chr20\t200\t.\tac\ta\t.\tq10\t.\tGT\t./.\t1\n" +
		"chr20\t300\t.\tC\tA,G,T\t.\t.\t.\tGT:DP\t0/1:3\t2/3:4\n"
	want, _, err := readAll(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(strings.NewReader(data), "reuse.vcf")
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	for i := 0; ; i++ {
		err := r.Read(&rec)
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("%d records, want %d", i, len(want))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&rec, want[i]) {
			t.Errorf("record %d:\ngot  %+v\nwant %+v", i, rec, *want[i])
		}
	}
}

func TestParsePos(t *testing.T) {
	for _, s := range []string{"", "0", "1", "007", "+5", "-0", "-5", "1_0", "12a", "a", " 1",
		"999999999999999999", "9223372036854775807", "9223372036854775808", "0000000000000000000001"} {
		v, err := parsePos(s)
		want, wantErr := strconv.ParseInt(s, 10, 64)
		if v != want || (err == nil) != (wantErr == nil) {
			t.Errorf("parsePos(%q) = %d, %v; ParseInt gives %d, %v", s, v, err, want, wantErr)
		}
	}
}
