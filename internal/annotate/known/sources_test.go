package known

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/bed"
)

// source is a copy of the annotate package's Source interface (this
// package must not import annotate).
type source interface {
	Name() string
	Fields() []string
	Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error)
}

var (
	_ source = (*ClinVar)(nil)
	_ source = (*Population)(nil)
	_ source = (*UserVCF)(nil)
	_ source = (*UserBED)(nil)
)

func TestClinVarSource(t *testing.T) {
	cv, err := LoadClinVar("testdata/clinvar.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cv.Name() != "clinvar" || !slices.Equal(cv.Fields(), []string{"CLINVAR_ID", "CLINVAR_CLNSIG", "CLINVAR_CLNREVSTAT", "CLINVAR_CLNDN"}) {
		t.Errorf("name %q fields %q", cv.Name(), cv.Fields())
	}
	got, err := cv.Lookup("chr13", 32893387, "T", "A")
	want := map[string]string{
		"CLINVAR_ID": "37785", "CLINVAR_CLNSIG": "Conflicting_interpretations_of_pathogenicity",
		"CLINVAR_CLNREVSTAT": "criteria_provided,_conflicting_interpretations", "CLINVAR_CLNDN": "Breast-ovarian_cancer,_familial_2|not_provided",
	}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("Lookup = %v, %v", got, err)
	}
	if got, _ := cv.Lookup("13", 32893387, "T", "C"); got != nil {
		t.Errorf("other ALT: %v", got)
	}
	if got, _ := cv.Lookup("X", 100, "C", "T"); !maps.Equal(got, map[string]string{"CLINVAR_ID": "9", "CLINVAR_CLNSIG": "Benign"}) {
		t.Errorf("chrX: %v", got)
	}
	rec, err := cv.Record("13", 32914437, "GTA", "GA") // the frameshift, padded
	if err != nil || rec == nil {
		t.Fatalf("Record: %v %v", rec, err)
	}
	if rec.ID != "51579" || rec.Significance != "Pathogenic" || rec.ReviewStatus != "reviewed_by_expert_panel" ||
		!slices.Equal(rec.Conditions, []string{"Hereditary breast and ovarian cancer syndrome"}) {
		t.Errorf("Record = %+v", rec)
	}
	var ids []string
	for r := range cv.Records() {
		ids = append(ids, r.ClinVar.ID+"@"+r.Chrom+":"+r.GeneInfo)
	}
	if !slices.Equal(ids, []string{"37785@13:BRCA2:675", "51579@13:BRCA2:675", "9@X:"}) {
		t.Errorf("Records: %q", ids)
	}
}

// TestClinVarFromXML reads the VCF converted from ClinVar XML.
func TestClinVarFromXML(t *testing.T) {
	var out strings.Builder
	f, err := os.Open("testdata/clinvar/928.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := ClinVarXMLToVCF(f, &out, "GRCh38"); err != nil {
		t.Fatal(err)
	}
	cv, err := NewClinVar(strings.NewReader(out.String()), "928.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := cv.Record("chr3", 33068849, "C", "T")
	if err != nil || rec == nil || rec.ID != "928" || rec.Significance != "Likely_pathogenic" ||
		!slices.Equal(rec.Conditions, []string{"Infantile GM1 gangliosidosis", "not provided"}) {
		t.Errorf("Record = %+v, %v\n%s", rec, err, out.String())
	}
}

func TestPopulationSource(t *testing.T) {
	p, err := LoadPopulation("gnomad", "testdata/gnomad.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "gnomad" || p.Len() != 4 {
		t.Errorf("name %q len %d", p.Name(), p.Len())
	}
	tests := []struct {
		chrom    string
		pos      int64
		ref, alt string
		want     map[string]string
	}{
		{"1", 1000, "A", "G", map[string]string{"POP_AF": "0.01", "POP_AF_MAX": "0.03", "POP_AC": "10", "POP_AN": "1000", "POP_NHOMALT": "1"}},
		{"1", 1000, "A", "T", map[string]string{"POP_AF": "0.002", "POP_AF_MAX": "0.004", "POP_AC": "2", "POP_AN": "1000", "POP_NHOMALT": "0"}},
		{"chr1", 2000, "CAG", "C", map[string]string{"POP_AF": "0.001", "POP_AC": "3", "POP_AN": "3000", "POP_NHOMALT": "0"}},
		{"chr2", 50, "A", "G", map[string]string{"POP_AF": "0.1", "POP_AC": "1", "POP_AN": "10"}}, // AF from AC/AN
		{"1", 1001, "A", "G", nil},
	}
	for _, tc := range tests {
		got, err := p.Lookup(tc.chrom, tc.pos, tc.ref, tc.alt)
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("Lookup(%s:%d %s>%s) = %v, %v; want %v", tc.chrom, tc.pos, tc.ref, tc.alt, got, err, tc.want)
		}
	}
}

func TestUserSources(t *testing.T) {
	f, err := os.Open("testdata/gnomad.vcf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := NewUserVCF("lab", []string{"AC", "grpmax"}, f, "gnomad.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Fields(), []string{"lab_AC", "lab_grpmax"}) {
		t.Errorf("fields %q", u.Fields())
	}
	got, _ := u.Lookup("1", 1000, "A", "T")
	if !maps.Equal(got, map[string]string{"lab_AC": "2", "lab_grpmax": "nfe"}) {
		t.Errorf("Lookup = %v", got)
	}
	if _, err := NewUserVCF("", nil, strings.NewReader(""), "x", nil); err == nil {
		t.Error("no name, no keys: no error")
	}

	ivs, err := bed.ReadFile("testdata/user.bed")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewUserBED("regions", ivs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		chrom    string
		pos      int64
		ref, alt string
		want     string
	}{
		{"1", 100, "A", "G", "hotspot_A"}, // first base of [99,200)
		{"1", 99, "A", "G", ""},           // just before
		{"1", 99, "AC", "A", "hotspot_A"}, // a deletion reaching into it
		{"chr1", 160, "A", "G", "hotspot_A,hotspot_B"},
		{"1", 301, "A", "G", ""},            // end is exclusive
		{"chr2", 1, "A", "AT", "chr2:1-10"}, // unnamed interval
		{"3", 1, "A", "G", ""},
	}
	for _, tc := range tests {
		got, err := b.Lookup(tc.chrom, tc.pos, tc.ref, tc.alt)
		if err != nil || got["regions"] != tc.want || (tc.want == "") != (got == nil) {
			t.Errorf("Lookup(%s:%d %s>%s) = %v, %v; want %q", tc.chrom, tc.pos, tc.ref, tc.alt, got, err, tc.want)
		}
	}
}

// TestFieldTypes: numeric fields keep their VCF Type (the annotated VCF
// declares it), unless a value in the file is not such a number.
func TestFieldTypes(t *testing.T) {
	p, err := LoadPopulation("gnomad", "testdata/gnomad.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{FieldPopAF: "Float", FieldPopAFMax: "Float", FieldPopAC: "Integer", FieldPopAN: "Integer", FieldPopNHomAlt: "Integer"} {
		if got := p.FieldType(f); got != want {
			t.Errorf("%s: %s, want %s", f, got, want)
		}
	}
	f, err := os.Open("testdata/gnomad.vcf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := NewUserVCF("lab", []string{"AC", "AN", "AF", "grpmax"}, f, "gnomad.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"lab_AC": "Integer", "lab_AN": "Integer", "lab_AF": "Float", "lab_grpmax": "String"} {
		if got := u.FieldType(f); got != want {
			t.Errorf("%s: %s, want %s", f, got, want)
		}
	}
	// A value that is not the declared type makes the field a String.
	// (The VCF reader checks the types of reserved keys such as AF.)
	bad := "##fileformat=VCFv4.2\n##INFO=<ID=nhomalt,Number=A,Type=Integer,Description=\"hom\">\n##INFO=<ID=AF_afr,Number=A,Type=Float,Description=\"afr\">\n" +
		"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t10\t.\tA\tG\t.\t.\tAF=0.25;nhomalt=1.5;AF_afr=0.3\nchr1\t20\t.\tA\tG\t.\t.\tAF=1e-05;nhomalt=3\n"
	p, err = NewPopulation("pop", strings.NewReader(bad), "bad.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.FieldType(FieldPopNHomAlt) != "String" || p.FieldType(FieldPopAF) != "Float" || p.FieldType(FieldPopAFMax) != "Float" {
		t.Errorf("types %s %s %s", p.FieldType(FieldPopNHomAlt), p.FieldType(FieldPopAF), p.FieldType(FieldPopAFMax))
	}
	for _, c := range []struct {
		typ, v string
		ok     bool
	}{{"Float", "1e-05", true}, {"Float", "0x1p-2", false}, {"Float", "inf", false}, {"Float", "Inf", true}, {"Integer", "12", true}, {"Integer", "1.0", false}, {"Integer", "99999999999", false}} {
		if numeric(c.typ, c.v) != c.ok {
			t.Errorf("numeric(%s, %s) = %v", c.typ, c.v, !c.ok)
		}
	}
}

// TestUserVCFMissingKey: an INFO key the file has nowhere (a typo) is an
// error naming it and the file; a key used but not declared is taken.
func TestUserVCFMissingKey(t *testing.T) {
	f, err := os.Open("testdata/gnomad.vcf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = NewUserVCF("lab", []string{"AC", "NOPE"}, f, "gnomad.vcf", nil)
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "gnomad.vcf") || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("missing key: %v", err)
	}
	undeclared := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t10\t.\tA\tG\t.\t.\tSCORE=7\n"
	u, err := NewUserVCF("lab", []string{"SCORE"}, strings.NewReader(undeclared), "u.vcf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.Lookup("chr1", 10, "A", "G"); got["lab_SCORE"] != "7" || u.FieldType("lab_SCORE") != "String" {
		t.Errorf("undeclared key: %v %s", got, u.FieldType("lab_SCORE"))
	}
}
