package findings

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/interpret"
	"github.com/clinomics/clinomics/internal/report"
)

func read(t *testing.T, opt Options) ([]reportVariantView, Summary) {
	t.Helper()
	f, err := os.Open("testdata/annotated.vcf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vs, sum, err := Read(f, "annotated.vcf", opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []reportVariantView
	for _, v := range vs {
		var ev []string
		for _, e := range v.Evidence {
			if e.Confirmed {
				t.Errorf("%s: criterion %s confirmed by the machine", v.HGVSc, e.Criterion)
			}
			ev = append(ev, e.Criterion)
		}
		out = append(out, reportVariantView{v.Gene, v.Transcript, v.HGVSp, v.Zygosity, v.AltDepth, v.Depth, strings.Join(ev, ","), v.Classification, v.Comment, v.ClinVar != nil})
	}
	return out, sum
}

type reportVariantView struct {
	gene, transcript, hgvsp, zygosity string
	alt, depth                        int
	evidence, class, comment          string
	clinvar                           bool
}

func TestRead(t *testing.T) {
	vs, sum := read(t, Options{LoFGenes: map[string]bool{"BRCA1": true}})
	if len(vs) != 3 {
		t.Fatalf("reportable = %+v", vs)
	}
	// The MANE transcript is chosen; ClinVar is read with its escapes.
	if v := vs[0]; v.transcript != "ENST1" || v.hgvsp != "p.(Trp67Ter)" || v.zygosity != "heterozygous" || v.alt != 18 || v.depth != 38 || !v.clinvar {
		t.Errorf("stop gained: %+v", v)
	}
	if !strings.Contains(vs[0].evidence, "PVS1") || vs[0].class != "" || !strings.HasPrefix(vs[0].comment, "Suggested, to be confirmed:") {
		t.Errorf("stop gained evidence: %+v", vs[0])
	}
	// Of the multi-allelic record only the missense ALT is reportable;
	// the synonymous one has no impact.
	if v := vs[1]; v.hgvsp != "p.(Leu50Val)" || v.alt != 11 || v.depth != 21 {
		t.Errorf("second allele: %+v", v)
	}
	// Without POP_AF for the allele, PM2 applies (the database was searched).
	if !strings.Contains(vs[1].evidence, "PM2") {
		t.Errorf("PM2 not suggested for an allele absent from the population data: %+v", vs[1])
	}
	if v := vs[2]; v.gene != "TP53" || v.zygosity != "homozygous" {
		t.Errorf("TP53: %+v", v)
	}
	want := Summary{Records: 5, Alleles: 6, Reportable: 3, Filtered: 1, NoImpact: 2}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
}

func TestReadOptions(t *testing.T) {
	// The panel leaves TP53 out; the frequency filter the synonymous
	// allele (it has no impact anyway).
	vs, sum := read(t, Options{Panel: interpret.NewPanel([]string{"BRCA1"}, nil), MaxAF: 0.01})
	if len(vs) != 2 || sum.OutsidePanel != 1 {
		t.Errorf("panel: %+v %+v", vs, sum)
	}
	// S2 carries only TP53, heterozygous.
	vs, sum = read(t, Options{Sample: "S2"})
	if len(vs) != 1 || vs[0].gene != "TP53" || vs[0].zygosity != "heterozygous" || sum.NotCarried != 5 {
		t.Errorf("sample S2: %+v %+v", vs, sum)
	}
	// Frequent variants are left out.
	vs, sum = read(t, Options{MaxAF: 0.000001})
	if sum.Frequent != 2 || len(vs) != 2 { // the synonymous allele (0.3) and TP53 (0.00002)
		t.Errorf("frequency filter: %+v %+v", vs, sum)
	}
}

func TestReadErrors(t *testing.T) {
	_, _, err := Read(strings.NewReader("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"), "plain.vcf", Options{})
	if !errors.Is(err, ErrNoCSQ) || !strings.Contains(err.Error(), "plain.vcf") {
		t.Errorf("unannotated VCF: %v", err)
	}
	f, _ := os.Open("testdata/annotated.vcf")
	defer f.Close()
	if _, _, err := Read(f, "annotated.vcf", Options{Sample: "S9"}); err == nil || !strings.Contains(err.Error(), "S9") {
		t.Errorf("unknown sample: %v", err)
	}
}

func TestZygosity(t *testing.T) {
	for _, c := range []struct {
		gt   []int
		want string
	}{
		{[]int{0, 1}, "heterozygous"},
		{[]int{1, 1}, "homozygous"},
		{[]int{1}, "hemizygous"},
		{[]int{1, -1}, ""}, // "1/.": the other allele is not called
		{[]int{-1, 1}, ""},
		{[]int{1, 2}, "heterozygous"},
	} {
		n := count(c.gt, 1)
		if got := zygosity(c.gt, n); got != c.want {
			t.Errorf("%v: %q, want %q", c.gt, got, c.want)
		}
	}
}

// TestNotAnnotated: an allele the annotator refused (testdata/
// ref_mismatch.vcf is clinomics annotate's output for a sample whose
// X:12456 T>C does not match the reference, which has C) is listed as
// not annotated with the reason, never as of no impact.
func TestNotAnnotated(t *testing.T) {
	read := func(opt Options) ([]report.Variant, Summary) {
		t.Helper()
		f, err := os.Open("testdata/ref_mismatch.vcf")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		vs, sum, err := Read(f, "ref_mismatch.vcf", opt)
		if err != nil {
			t.Fatal(err)
		}
		return vs, sum
	}
	vs, sum := read(Options{})
	if len(vs) != 2 || sum.NoImpact != 0 || sum.NotAnnotated != 1 || len(sum.Unannotated) != 1 {
		t.Fatalf("%d reportable, summary %+v", len(vs), sum)
	}
	if u := sum.Unannotated[0]; u.Chrom != "X" || u.Pos != 12456 || u.Ref != "T" || u.Alt != "C" || u.Reason != "no consequence in the annotated VCF" {
		t.Errorf("unannotated %+v", u)
	}
	reason := func(chrom string, pos int64, ref, alt string) (string, []string, bool) {
		return "ref_mismatch: VCF has T, reference has C", []string{"TLR8"}, true
	}
	_, sum = read(Options{NotAnnotated: reason, Panel: interpret.NewPanel([]string{"TLR8"}, nil)})
	if sum.NotAnnotated != 1 || sum.Unannotated[0].Reason != "ref_mismatch: VCF has T, reference has C" || sum.Unannotated[0].Genes[0] != "TLR8" {
		t.Errorf("with the reason: %+v", sum)
	}
	// Outside the panel by the genes at its position.
	_, sum = read(Options{NotAnnotated: reason, Panel: interpret.NewPanel([]string{"BRCA1"}, nil)})
	if sum.NotAnnotated != 0 || sum.OutsidePanel != 3 {
		t.Errorf("outside the panel: %+v", sum)
	}
	// Genes not known at its position: kept, whatever the panel.
	_, sum = read(Options{Panel: interpret.NewPanel([]string{"BRCA1"}, nil)})
	if sum.NotAnnotated != 1 || sum.OutsidePanel != 2 {
		t.Errorf("not located: %+v", sum)
	}
}
