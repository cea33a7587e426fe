package oru

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/report"
)

// vcf2hl7v2Dir holds the OBX that the vcf2hl7v2 project (elimuinformatics)
// writes for its test VCFs.
const vcf2hl7v2Dir = "../../../../shared/data/hl7v2/vcf2hl7v2_genomics_oru/"

// readTheirs parses an expected_*.txt (OBX segments only) with our parser,
// behind an MSH of our own.
func readTheirs(t *testing.T, name string) *hl7.Message {
	t.Helper()
	b, err := os.ReadFile(vcf2hl7v2Dir + name)
	if err != nil {
		t.Skipf("the shared vcf2hl7v2 data is not here: %v", err)
	}
	msh := "MSH|^~\\&|vcf2hl7v2||||20260101||ORU^R01^ORU_R01|1|P|2.5.1\r"
	m, err := hl7.Parse(append([]byte(msh), b...))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// example1 is the report of vcf_example1.vcf's calls that vcf2hl7v2
// keeps (it drops a FILTER other than PASS, SVTYPE, symbolic alleles and
// missing genotypes): eight germline variants on chromosome 1 of GRCh37,
// without genes, HGVS or classification; the values are those of
// expected_example1_with_patient.txt, odd REFs included.
func example1() report.Report {
	r := threeVariants()
	r.Test = report.Test{Name: "vcf_example1", Assay: "wgs", Assembly: "GRCh37"}
	r.Regions, r.Conclusion = nil, ""
	r.Variants = nil
	for _, v := range []struct {
		chrom    string
		pos      int64
		ref, zyg string
	}{
		{"1", 15, ".", "heterozygous"}, {"1", 16, "A,T", "heterozygous"}, {"1", 20, "", "heterozygous"},
		{"chr1", 301, "A", "heterozygous"}, {"1", 400, "A", "homozygous"}, {"1", 500, "A", "heterozygous"},
		{"1", 600, "A", "heterozygous"}, {"1", 700, "A", "heterozygous"},
	} {
		r.Variants = append(r.Variants, report.Variant{Chrom: v.chrom, Pos: v.pos, Ref: v.ref, Alt: "G", Zygosity: v.zyg,
			Origin: "germline", AlleleFreq: -1, PopulationAF: -1})
	}
	return r
}

// agree compares an OBX of theirs with ours of the same code: value type
// and the first component of the value (a CWE's code, or its text when
// it has no code; an ST's text; an NR's low end).
func agree(theirs, ours hl7.OBX) (string, bool) {
	key := func(o hl7.OBX) string {
		if len(o.Values) == 0 {
			return ""
		}
		if c := o.Values[0].CWE(); o.ValueType == "CWE" && c.Code == "" {
			return c.Text
		}
		return o.Values[0].Component(1).String()
	}
	a, b := key(theirs), key(ours)
	return "theirs " + theirs.ValueType + " " + a + ", ours " + ours.ValueType + " " + b, theirs.ValueType == ours.ValueType && a == b
}

// TestVcf2hl7v2Example1 builds the ORU of the variants of vcf2hl7v2's
// example 1 and compares it, group by group, with what vcf2hl7v2 writes:
// every observation both write must agree in value type and value, and
// the observations only one side writes are the ones docs/hl7.md lists.
func TestVcf2hl7v2Example1(t *testing.T) {
	theirs := groups(t, readTheirs(t, "expected_example1_with_patient.txt"))
	m, _ := build(t, example1(), testOptions())
	ours := groups(t, m)

	var onlyTheirs, onlyOurs []string
	compared := 0
	for i := range 8 {
		sub := "2" + subLetters(i)
		if theirs[sub] == nil || ours[sub] == nil {
			t.Fatalf("group %s: theirs %v, ours %v", sub, theirs[sub] != nil, ours[sub] != nil)
		}
		for code, o := range theirs[sub] {
			mine, ok := ours[sub][code]
			if !ok {
				onlyTheirs = append(onlyTheirs, code)
				continue
			}
			compared++
			if why, ok := agree(o, mine); !ok {
				t.Errorf("group %s %s: %s", sub, code, why)
			}
		}
		for code := range ours[sub] {
			if _, ok := theirs[sub][code]; !ok {
				onlyOurs = append(onlyOurs, code)
			}
		}
	}
	slices.Sort(onlyTheirs)
	onlyTheirs = slices.Compact(onlyTheirs)
	slices.Sort(onlyOurs)
	onlyOurs = slices.Compact(onlyOurs)
	// 48018-6: they write HGNC:0000^NoGene for no gene, we leave it out;
	// 48004-6: they write the SPDI name where there is no c.HGVS, we leave
	// it out; 53037-8: they write "not specified" for no classification,
	// we leave it out; 69547-8: they write an empty REF, we leave it out.
	if want := []string{"48004-6", "48018-6", "53037-8", "69547-8"}; !slices.Equal(onlyTheirs, want) {
		t.Errorf("only vcf2hl7v2 writes %v, want %v (update docs/hl7.md)", onlyTheirs, want)
	}
	if want := []string{"62374-4", "92822-6"}; !slices.Equal(onlyOurs, want) {
		t.Errorf("only we write %v, want %v (update docs/hl7.md)", onlyOurs, want)
	}
	// The overall interpretation: theirs is TX "Positive" whenever a
	// variant is present; ours is coded, and unclassified variants make
	// it inconclusive.
	if o := theirs["1"]["51968-6"]; o.ValueType != "TX" || o.Text() != "Positive" || o.Observation.System != "UFMOLLRR" {
		t.Errorf("their overall interpretation changed: %+v", o)
	}
	if o := ours["1"]["51968-6"]; o.ValueType != "CWE" || o.Values[0].CWE().Text != "Inconclusive" {
		t.Errorf("our overall interpretation: %+v", o)
	}
	t.Logf("%d observations compared in 8 variant groups; only vcf2hl7v2: %v; only ours: %v", compared, onlyTheirs, onlyOurs)
}

// TestVcf2hl7v2Regions compares the regions studied of vcf2hl7v2's
// NB6TK328 case: the same reference sequences in the same groups; their
// ranges are the BED numbers as written, ours 1-based (start + 1).
func TestVcf2hl7v2Regions(t *testing.T) {
	theirs := groups(t, readTheirs(t, "expected_NB6TK328.txt"))
	bed, err := os.ReadFile(vcf2hl7v2Dir + "NB6TK328_conversion_region.bed")
	if err != nil {
		t.Fatal(err)
	}
	r := threeVariants()
	r.Test.Assembly, r.Regions = "GRCh38", nil
	for _, line := range strings.Split(strings.TrimSpace(string(bed)), "\n") {
		f := strings.Fields(line)
		var g report.Region
		g.Chrom = f[0]
		g.Start, g.End = atoi(t, f[1]), atoi(t, f[2])
		r.Regions = append(r.Regions, g)
	}
	m, _ := build(t, r, testOptions())
	ours := groups(t, m)
	n := 0
	for sub, g := range theirs {
		if !strings.HasPrefix(sub, "1") || sub == "1" {
			continue
		}
		if o, ok := g["48013-7"]; ok {
			if got := ours[sub]["48013-7"].Text(); got != o.Text() {
				t.Errorf("%s: reference sequence %q, theirs %q", sub, got, o.Text())
			}
			continue
		}
		o, mine := g["51959-5"], ours[sub]["51959-5"]
		lo, hi := o.Values[0].Component(1).String(), o.Values[0].Component(2).String()
		if atoi(t, mine.Values[0].Component(1).String()) != atoi(t, lo)+1 || mine.Values[0].Component(2).String() != hi {
			t.Errorf("%s: range %q, theirs %s^%s", sub, mine.Values[0].Raw(), lo, hi)
		}
		n++
	}
	if n != len(r.Regions) {
		t.Errorf("%d ranges compared, %d regions", n, len(r.Regions))
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
