package known

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/vcf"
)

// sharedClinVar holds SeqOne/clinvcf's ClinVar XML test files and the
// assertions of its functional tests.
const sharedClinVar = "../../../../shared/data/annotation/clinvar_seqone_clinvcf"

// absentFromShared are the XML files SeqOne's functional tests use that
// were not copied into the shared data; their assertions cannot be
// checked here.
var absentFromShared = []string{
	"116308252.xml", "1166.xml", "1239309.xml", "126106420.xml", "13961.xml",
	"140866.xml", "161408379_unknown.xml", "16895.xml", "182965.xml", "184976.xml",
	"225499.xml", "242771.xml", "340430.xml", "4688033.xml", "582.xml",
	"618897_2019-05.xml", "7108.xml", "9-no-VUS.xml", "9.xml", "928-unknown-clinsig.xml",
}

func convert(t testing.TB, path, assembly string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := ClinVarXMLToVCF(f, &out, assembly); err != nil {
		t.Fatalf("ClinVarXMLToVCF(%s): %v", path, err)
	}
	return out.String()
}

// foldDisease is SeqOne's CLNDISEASE spelling of a CLNDN value: lower
// case, without commas.
func foldDisease(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, ",", ""))
}

// TestSeqOneAssertions checks every assert_in_stdout of SeqOne/clinvcf's
// functional tests whose XML file is in the shared data, on GRCh37 as
// those tests run.
//
// Differences from clinvcf, each handled below: its CLNDISEASE is our CLNDN
// lower-cased without commas; its GENEINFO for 9618.xml ("TRNE:4556")
// comes from a GFF (MT.gff, not in the shared data) while we report the
// ClinVar symbol of gene 4556 ("MT-TE:4556"); and where clinvcf picks the
// coding gene with a GFF (--coding-first), we list every gene sorted by
// symbol, which puts ADORA2A first for 225974.xml.
func TestSeqOneAssertions(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedClinVar, "EXPECTED_ASSERTIONS_from_functional-tests.sh.txt"))
	if err != nil {
		t.Skipf("shared ClinVar data not available: %v", err)
	}
	var missing []string
	outputs := map[string]string{}
	var current string // the run's output; "" when its file is absent
	var runFile string
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "run "):
			fs := strings.Fields(line)
			runFile = filepath.Base(fs[len(fs)-1])
			path := filepath.Join(sharedClinVar, runFile)
			if _, err := os.Stat(path); err != nil {
				if !slices.Contains(missing, runFile) {
					missing = append(missing, runFile)
				}
				current = ""
				continue
			}
			if _, ok := outputs[runFile]; !ok {
				outputs[runFile] = convert(t, path, "GRCh37")
			}
			current = outputs[runFile]
		case current == "":
		case strings.HasPrefix(line, "assert_exit_code "):
			if code := strings.TrimPrefix(line, "assert_exit_code "); code != "0" {
				t.Errorf("%s: expected exit code %s, but it converts", runFile, code)
			}
		case strings.HasPrefix(line, "assert_in_stdout "):
			want := strings.Trim(strings.TrimPrefix(line, "assert_in_stdout "), `"`)
			want = strings.ReplaceAll(want, `\t`, "\t")
			got := current
			switch {
			case strings.HasPrefix(want, "CLNDISEASE="):
				want = "CLNDN=" + strings.TrimPrefix(want, "CLNDISEASE=")
				got = foldDisease(current)
				want = strings.ToLower(want)
				got = strings.ReplaceAll(got, "clndn=", "CLNDN=")
				want = strings.ReplaceAll(want, "clndn=", "CLNDN=")
			case want == "GENEINFO=TRNE:4556":
				want = "GENEINFO=MT-TE:4556"
			}
			checked++
			if !strings.Contains(got, want) {
				t.Errorf("%s: output lacks %q:\n%s", runFile, want, dataLines(current))
			}
		}
	}
	slices.Sort(missing)
	if !slices.Equal(missing, absentFromShared) {
		t.Errorf("files absent from the shared data = %q, the test lists %q", missing, absentFromShared)
	}
	t.Logf("checked %d assertions on %d files; skipped the runs of %d absent files: %s", checked, len(outputs), len(missing), strings.Join(missing, ", "))
	if checked < 20 {
		t.Errorf("only %d assertions checked", checked)
	}
}

func dataLines(vcf string) string {
	var out []string
	for l := range strings.SplitSeq(vcf, "\n") {
		if !strings.HasPrefix(l, "##INFO") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestClinVarXMLRoundTrip converts every shared XML file on both
// assemblies and reads the VCF back with the ClinVar source.
func TestClinVarXMLRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedClinVar, "*.xml"))
	local, _ := filepath.Glob("testdata/clinvar/[0-9]*.xml")
	files = append(files, local...)
	if len(files) == 0 {
		t.Fatal("no ClinVar XML files")
	}
	for _, path := range files {
		for _, asm := range []string{"GRCh37", "GRCh38"} {
			out := convert(t, path, asm)
			cv, err := NewClinVar(strings.NewReader(out), path+".vcf", nil)
			if err != nil {
				t.Fatalf("%s %s: reading the converted VCF: %v\n%s", path, asm, err, out)
			}
			if cv.Len() == 0 {
				t.Errorf("%s %s: no variant", path, asm)
			}
		}
	}
}

func TestClinVarXML37785(t *testing.T) {
	path := filepath.Join(sharedClinVar, "37785.xml")
	f, err := os.Open(path)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	r := NewClinVarXMLReader(f, path)
	var sets []*ClinVarSet
	for {
		s, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
	}
	if r.Dated() != "2019-12-31" || len(sets) != 4 {
		t.Fatalf("dated %q, %d sets", r.Dated(), len(sets))
	}
	s := sets[0]
	if s.RCV != "RCV000031366" || s.Kind != "Variant" || s.VariationID != "37785" || s.AlleleID != "46341" || s.RS != "80358507" {
		t.Errorf("set 0: %+v", s)
	}
	want := []SequenceLocation{
		{Assembly: "GRCh38", Chrom: "13", Pos: 32319250, Ref: "T", Alt: "A", Length: 1},
		{Assembly: "GRCh37", Chrom: "13", Pos: 32893387, Ref: "T", Alt: "A", Length: 1},
	}
	if !slices.Equal(s.Locations, want) {
		t.Errorf("locations %+v", s.Locations)
	}
	if !slices.Equal(s.Genes, []Gene{{"BRCA2", "675"}}) || !slices.Equal(s.Consequences, []string{"SO:0001583|missense_variant"}) {
		t.Errorf("genes %v, consequences %v", s.Genes, s.Consequences)
	}
	if !slices.Equal(s.Conditions, []string{"Breast-ovarian cancer, familial 2"}) {
		t.Errorf("conditions %q", s.Conditions)
	}
	if len(s.Submissions) == 0 || s.Submissions[0].Submitter == "" || s.Submissions[0].ReviewStatus == "" || len(s.Submissions[0].Terms) == 0 {
		t.Errorf("submissions %+v", s.Submissions)
	}
}

func TestClinVarXMLCompoundHetSkipped(t *testing.T) {
	f, err := os.Open("testdata/clinvar/928.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewClinVarXMLReader(f, "928.xml")
	agg, _ := NewClinVarAggregator("hg19")
	var kinds []string
	for {
		s, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, s.Kind)
		agg.Add(s)
	}
	if !slices.Equal(kinds, []string{"Variant", "CompoundHeterozygote", "Variant"}) || agg.Skipped() != 1 {
		t.Errorf("kinds %q, skipped %d", kinds, agg.Skipped())
	}
	vs := agg.Variants()
	if len(vs) != 1 || vs[0].Aggregate.Significance != "Likely_pathogenic" || vs[0].Aggregate.ReviewStatus != "criteria_provided,_single_submitter" {
		t.Errorf("variants %+v", vs)
	}
}

// TestClinVarXMLErrors checks the error, and its line, for each kind of
// bad input.
func TestClinVarXMLErrors(t *testing.T) {
	release, err := os.ReadFile("testdata/clinvar/928.xml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		input      string
		want       error
		line       int
	}{
		{"truncated", "truncated-inside-clinvarset.xml", "", ErrSyntax, 60},
		{"unknown term", "unknown-classification.xml", "", ErrUnknownClassification, 110},
		{"empty", "", "", ErrNotClinVar, 0},
		{"other root", "", "<?xml version=\"1.0\"?>\n<html>\n</html>\n", ErrNotClinVar, 2},
		{"mismatched tag", "", "<ReleaseSet>\n<ClinVarSet ID=\"1\">\n<RecordStatus>current</Status>\n</ClinVarSet>\n</ReleaseSet>\n", ErrSyntax, 3},
		{"truncated between sets", "", string(release[:bytes.Index(release, []byte("</ClinVarSet>"))+len("</ClinVarSet>\n")]), ErrSyntax, 230},
		{"bad position", "", "<ClinVarSet ID=\"1\">\n<ReferenceClinVarAssertion><MeasureSet Type=\"Variant\" ID=\"2\"><Measure Type=\"x\" ID=\"3\">\n<SequenceLocation Assembly=\"GRCh37\" Chr=\"1\" positionVCF=\"-4\"/>\n</Measure></MeasureSet></ReferenceClinVarAssertion></ClinVarSet>\n", ErrSyntax, 3},
		{"nested too deep", "", "<ClinVarSet>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</ClinVarSet>", ErrLimit, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.input)
			name := "input.xml"
			if tc.file != "" {
				name = tc.file
				var err error
				if in, err = os.ReadFile(filepath.Join("testdata/clinvar", tc.file)); err != nil {
					t.Fatal(err)
				}
			}
			err := ClinVarXMLToVCF(namedReader{bytes.NewReader(in), name}, io.Discard, "GRCh37")
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if pe.File != name || pe.Line != tc.line {
				t.Errorf("error at %s line %d, want %s line %d (%v)", pe.File, pe.Line, name, tc.line, err)
			}
		})
	}
}

type namedReader struct {
	io.Reader
	name string
}

func (n namedReader) Name() string { return n.name }

// TestClinVarXMLSticky checks a syntax error repeats and an unknown term
// lets the reader go on.
func TestClinVarXMLSticky(t *testing.T) {
	bad, _ := os.ReadFile("testdata/clinvar/unknown-classification.xml")
	good, _ := os.ReadFile("testdata/clinvar/1128.xml")
	body := func(b []byte) string {
		s := string(b)
		return s[strings.Index(s, "<ClinVarSet"):]
	}
	in := `<ReleaseSet Dated="2020-01-01">` + body(bad) + body(good) + "</ReleaseSet>\n"
	r := NewClinVarXMLReader(strings.NewReader(in), "x.xml")
	if _, err := r.Next(); !errors.Is(err, ErrUnknownClassification) {
		t.Fatalf("first set: %v", err)
	}
	if s, err := r.Next(); err != nil || s.AlleleID != "16167" {
		t.Fatalf("second set: %v %+v", err, s)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

	r = NewClinVarXMLReader(strings.NewReader(in[:len(in)/2]), "cut.xml")
	r.Next()
	_, err1 := r.Next()
	_, err2 := r.Next()
	if !errors.Is(err1, ErrSyntax) || err1 != err2 {
		t.Errorf("errors %v then %v, want the same syntax error", err1, err2)
	}
}

func TestClinVarXMLSetLimit(t *testing.T) {
	defer func(n int64) { maxSetBytes = n }(maxSetBytes)
	maxSetBytes = 1000
	f, _ := os.Open("testdata/clinvar/1128.xml")
	defer f.Close()
	if _, err := NewClinVarXMLReader(f, "1128.xml").Next(); !errors.Is(err, ErrLimit) {
		t.Errorf("error %v, want ErrLimit", err)
	}
}

func FuzzClinVarXML(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/clinvar/*.xml")
	shared, _ := filepath.Glob(filepath.Join(sharedClinVar, "*.xml"))
	for _, p := range append(seeds, shared...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewClinVarXMLReader(bytes.NewReader(data), "fuzz.xml")
		agg, _ := NewClinVarAggregator("GRCh37")
		for range 1000 {
			s, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("error without a position: %v", err)
				}
				if errors.Is(err, ErrUnknownClassification) {
					continue
				}
				break
			}
			agg.Add(s)
		}
		var out bytes.Buffer
		if err := WriteClinVarVCF(&out, r.Dated(), "GRCh37", agg.Variants()); err != nil {
			t.Fatal(err)
		}
		// Whatever is written must read back.
		vr, err := vcf.NewReader(bytes.NewReader(out.Bytes()), "out.vcf")
		if err != nil {
			t.Fatalf("written VCF header: %v\n%s", err, out.String())
		}
		for {
			_, err := vr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("written VCF: %v\n%s", err, out.String())
			}
		}
	})
}
