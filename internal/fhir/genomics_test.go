package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/report"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// signedAt is when the test reports were signed.
var signedAt = time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)

// threeVariants is a signed panel report: a pathogenic BRCA1 deletion on
// the minus strand (genomic alleles on the forward strand, c.HGVS on the
// transcript), an ATM variant without interpretation, and a homozygous
// benign BRCA2 variant.
func threeVariants() report.Report {
	return report.Report{
		ID: "rpt-0001", Status: report.Signed, Version: 1,
		Patient: report.Patient{ID: "pat-7f3a", MRN: "MRN100", Authority: "urn:oid:1.2.36.146.595.217.0.1", Family: "Müller", Given: "Anna",
			BirthDate: "1980-02-29", Sex: "female"},
		Order: report.Order{ID: "ord-1", Placer: "PO-77", Filler: "F-1", Code: "81247-9", CodeSystem: LOINC,
			Display: "Master HL7 genetic variant reporting panel", OrderedBy: "Smith, John", OrderedDate: "2026-02-01",
			Reason: "Family history of breast cancer"},
		Specimen: report.Specimen{ID: "spc-1", SampleID: "S-2026-0042", Type: "Blood", Collected: "2026-02-02", Received: "2026-02-03"},
		Test:     report.Test{Name: "Hereditary cancer panel", Assay: "panel", Panel: "HBOC v2", Assembly: "GRCh38"},
		Regions: []report.Region{
			{Chrom: "chr17", Start: 43044294, End: 43125483, Gene: "BRCA1", MeanDepth: 180, Covered20x: 0.998},
			{Chrom: "chr13", Start: 32315479, End: 32400672, Gene: "BRCA2", MeanDepth: 175, Covered20x: 0.997},
			{Chrom: "chr11", Start: 108222484, End: 108369102, Gene: "ATM", MeanDepth: 160, Covered20x: 0.99},
		},
		Variants: []report.Variant{
			{Chrom: "chr17", Pos: 43124027, Ref: "ACT", Alt: "A", Gene: "BRCA1", GeneID: "HGNC:1100", Transcript: "NM_007294.4",
				HGVSc: "c.68_69del", HGVSp: "p.(Glu23ValfsTer17)", HGVSg: "NC_000017.11:g.43124028_43124029del",
				Zygosity: "heterozygous", AlleleFreq: 0.48, Depth: 210, AltDepth: 101, Origin: "germline",
				Classification: "Pathogenic", Condition: "Hereditary breast and ovarian cancer syndrome", PopulationAF: -1,
				Consequence: []string{"frameshift_variant"},
				Evidence: []report.Evidence{{Criterion: "PVS1", Strength: "very strong", Confirmed: true},
					{Criterion: "PM2", Strength: "supporting", Text: "absent from gnomAD", Confirmed: false}}},
			{Chrom: "chr11", Pos: 108272729, Ref: "G", Alt: "A", Gene: "ATM", GeneID: "HGNC:795", Transcript: "NM_000051.4",
				HGVSc: "NM_000051.4:c.1234G>A", HGVSp: "p.(Gly412Ser)", Zygosity: "heterozygous", AlleleFreq: 0.51, Depth: 180,
				Origin: "germline", PopulationAF: -1, Comment: "Seen once in the family | unphased"},
			{Chrom: "chr13", Pos: 32355250, Ref: "T", Alt: "C", Gene: "BRCA2", GeneID: "HGNC:1101", Transcript: "NM_000059.4",
				HGVSc: "c.7397T>C", HGVSp: "p.(Val2466Ala)", HGVSg: "NC_000013.11:g.32355250T>C", RefSeqID: "NC_000013.11",
				Zygosity: "homozygous", AlleleFreq: 1, Depth: 95, AltDepth: 95, Origin: "germline", Classification: "Benign",
				PopulationAF: 0.97, Comment: "Common polymorphism", Consequence: []string{"missense_variant", "splice_region_variant"},
				Evidence: []report.Evidence{{Criterion: "BA1", Strength: "stand-alone", Text: "gnomAD AF 0.97 > 0.05", Confirmed: true}}},
		},
		Methods: report.Methods{Pipeline: "germline", Version: "1.4.0", Reference: "GRCh38 (GCA_000001405.15)",
			Tools:     []report.Tool{{Name: "bwa", Version: "0.7.17"}, {Name: "bcftools", Version: "1.16"}},
			Databases: []report.Tool{{Name: "ClinVar", Version: "2026-01"}, {Name: "gnomAD", Version: "4.1"}}},
		Conclusion: "Positive: a pathogenic BRCA1 variant was found. Genetic counselling is recommended.",
		Review: []report.Signature{
			{Action: "drafted", By: "u-analyst", Name: "Doe, Jane", At: signedAt.Add(-2 * time.Hour)},
			{Action: "reviewed", By: "u-analyst", Name: "Doe, Jane", At: signedAt.Add(-time.Hour)},
			{Action: "signed", By: "u-director", Name: "Moreau, Claire", At: signedAt},
		},
	}
}

// noVariantReport is threeVariants with nothing to report (and WGS: no
// regions either).
func noVariantReport() report.Report {
	r := threeVariants()
	r.ID = "rpt-0002"
	r.Variants, r.Regions, r.Conclusion = nil, nil, ""
	r.Test.Assay = "wgs"
	return r
}

// amendedReport corrects threeVariants: the ATM variant is now classified.
func amendedReport() report.Report {
	r := threeVariants()
	r.ID, r.Amends, r.Version = "rpt-0003", "rpt-0001", 2
	r.Variants[1].Classification = "Uncertain significance"
	r.Review = append(r.Review, report.Signature{Action: "signed", By: "u-director", Name: "Moreau, Claire", At: signedAt.Add(24 * time.Hour)})
	orig := threeVariants()
	orig.ID = "rpt-0001"
	r.Amended = &orig
	return r
}

// TestAmendmentRetiresTheOriginalsObservations: an amendment's bundle
// updates each observation the amended report's bundle created (same
// identifier) to entered-in-error, and lists only its own as results.
func TestAmendmentRetiresTheOriginalsObservations(t *testing.T) {
	orig, err := GenomicReportBundle(*amendedReport().Amended, testBundleOptions())
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]bool{}
	for _, e := range orig.Entry {
		if o, ok := e.Resource.(*Observation); ok {
			created[IdentifierQuery(o.Identifier[0].System, o.Identifier[0].Value)] = true
		}
	}
	b, err := GenomicReportBundle(amendedReport(), testBundleOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(b); err != nil {
		t.Fatal(err)
	}
	retired, current := map[string]bool{}, map[string]bool{}
	var dr *DiagnosticReport
	for _, e := range b.Entry {
		switch r := e.Resource.(type) {
		case *Observation:
			q := IdentifierQuery(r.Identifier[0].System, r.Identifier[0].Value)
			if r.Status == "entered-in-error" {
				if e.Request.Method != "PUT" || e.Request.URL != "Observation?"+q {
					t.Errorf("retired %s: request %+v", q, e.Request)
				}
				retired[q] = true
			} else {
				current[e.FullURL] = true
			}
		case *DiagnosticReport:
			dr = r
		}
	}
	if len(retired) != len(created) || len(created) == 0 {
		t.Fatalf("%d observations retired, the original created %d", len(retired), len(created))
	}
	for q := range created {
		if !retired[q] {
			t.Errorf("%s not retired", q)
		}
	}
	for _, res := range dr.Result {
		if !current[res.Reference] {
			t.Errorf("the amended report's result %s is not one of its own observations", res.Reference)
		}
	}
}

func testBundleOptions() BundleOptions {
	return BundleOptions{
		IdentifierSystem: "https://genlab.example.org/fhir/id",
		PlacerSystem:     "https://hospital.example.org/orders",
		Performer:        &Reference{Display: "Genomics Laboratory", Identifier: &Identifier{System: "urn:oid:2.16.840.1.113883.4.7", Value: "05D1234567"}},
		PDF:              []byte("%PDF-1.4\n% a tiny stand-in for the rendered report\n%%EOF\n"),
		PDFTitle:         "Hereditary cancer panel report",
	}
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", name, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d vs %d lines", name, len(gl), len(wl))
	}
}

// emitted collects every bundle the tests build, for the npm validation.
var emitted = map[string]*Bundle{}

func buildBundle(t *testing.T, name string, r report.Report, opt BundleOptions) *Bundle {
	t.Helper()
	b, err := GenomicReportBundle(r, opt)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := Validate(b); err != nil {
		t.Fatalf("%s: Validate: %v", name, err)
	}
	emitted[name] = b
	return b
}

func TestGenomicReportBundleGolden(t *testing.T) {
	cases := []struct {
		name string
		r    report.Report
		opt  func(*BundleOptions)
	}{
		{"three-variants", threeVariants(), nil},
		{"no-variants", noVariantReport(), nil},
		{"amended", amendedReport(), func(o *BundleOptions) { o.PDFAsDocument = true }},
		{"default-identifiers", threeVariants(), func(o *BundleOptions) { *o = BundleOptions{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := testBundleOptions()
			if tc.opt != nil {
				tc.opt(&opt)
			}
			b := buildBundle(t, tc.name, tc.r, opt)
			out, err := MarshalIndent(b, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "bundle-"+tc.name+".golden", append(out, '\n'))

			// The bundle reads back as the same JSON, and validates.
			back, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(back); err != nil {
				t.Fatal(err)
			}
			again, _ := MarshalIndent(back, "", "  ")
			if !bytes.Equal(out, again) {
				t.Error("the bundle does not round-trip byte for byte")
			}
		})
	}
}

// TestGenomicReportBundleContent checks what the golden files hold, so a
// careless -update cannot hide a wrong mapping.
func TestGenomicReportBundleContent(t *testing.T) {
	b := buildBundle(t, "content", threeVariants(), testBundleOptions())
	count := map[string]int{}
	var dr *DiagnosticReport
	var variants, implications, consequences []*Observation
	for _, e := range b.Entry {
		count[e.Resource.ResourceType()]++
		switch r := e.Resource.(type) {
		case *DiagnosticReport:
			dr = r
		case *Observation:
			switch {
			case claims(&r.ResourceBase, ProfileVariant):
				variants = append(variants, r)
			case claims(&r.ResourceBase, ProfileDiagnosticImplication):
				implications = append(implications, r)
			case claims(&r.ResourceBase, ProfileMolecularConsequence):
				consequences = append(consequences, r)
			}
		}
		if e.Request == nil || (e.Request.Method == "POST" && !strings.HasPrefix(e.Request.IfNoneExist, "identifier=")) {
			t.Errorf("%s: not a conditional create: %+v", e.FullURL, e.Request)
		}
	}
	if len(variants) != 3 || len(implications) != 2 || len(consequences) != 2 || count["Observation"] != 3+2+2+3 {
		t.Fatalf("%d variants, %d implications, %d consequences, %d observations; want 3, 2 (one variant is not interpreted), 2 (one has no consequence), 10",
			len(variants), len(implications), len(consequences), count["Observation"])
	}
	if dr == nil || dr.Status != "final" || len(dr.Result) != 10 || len(dr.PresentedForm) != 1 || dr.PresentedForm[0].ContentType != "application/pdf" {
		t.Fatalf("report: %+v", dr)
	}
	if count["Patient"] != 1 || count["ServiceRequest"] != 1 || count["Specimen"] != 1 || count["Provenance"] != 1 || count["DocumentReference"] != 0 {
		t.Errorf("resources: %v", count)
	}
	// The minus-strand BRCA1 deletion: alleles and coordinates as in the
	// VCF (forward strand), c.HGVS on the transcript.
	brca1 := variants[0]
	want := map[string]string{LoincRefAllele: "ACT", LoincAltAllele: "A"}
	for _, c := range brca1.Component {
		code := loincCode(c.Code)
		if w, ok := want[code]; ok && c.ValueString != w {
			t.Errorf("BRCA1 %s = %q, want %q", code, c.ValueString, w)
		}
		if code == LoincExactStartEnd && (c.ValueRange.Low.Value != "43124027" || c.ValueRange.High.Value != "43124029") {
			t.Errorf("BRCA1 exact start-end %s-%s", c.ValueRange.Low.Value, c.ValueRange.High.Value)
		}
		if code == LoincCHGVS && c.ValueCodeableConcept.Coding[0].Code != "NM_007294.4:c.68_69del" {
			t.Errorf("BRCA1 c.HGVS %q", c.ValueCodeableConcept.Coding[0].Code)
		}
	}
	// The BRCA2 variant's consequences, its population frequency, and the
	// confirmed ACMG/AMP criteria only (PM2 on BRCA1 was not confirmed).
	brca2 := consequences[1]
	var so []string
	for _, c := range brca2.Component {
		if c.Code.Coding[0].Code == "feature-consequence" {
			for _, cd := range c.ValueCodeableConcept.Coding {
				so = append(so, cd.System+"|"+cd.Code)
			}
		}
	}
	if strings.Join(so, " ") != SequenceOntology+"|SO:0001583 "+SequenceOntology+"|SO:0001630" || brca2.DerivedFrom[0].Reference != variantURL(b, 2) {
		t.Errorf("BRCA2 consequence: %v from %s", so, brca2.DerivedFrom[0].Reference)
	}
	popAF := ""
	for _, c := range variants[2].Component {
		if loincCode(c.Code) == LoincPopulationAF {
			popAF = string(c.ValueQuantity.Value)
		}
	}
	if popAF != "0.97" {
		t.Errorf("BRCA2 population allele frequency %q, want 0.97", popAF)
	}
	if n := implications[0].Note; len(n) != 1 || n[0].Text != "ACMG/AMP criteria applied: PVS1 (very strong)" {
		t.Errorf("BRCA1 implication note: %+v", n)
	}
	if implications[0].DerivedFrom[0].Reference != b.Entry[3].FullURL {
		t.Errorf("the implication derives from %s, want the BRCA1 variant %s", implications[0].DerivedFrom[0].Reference, b.Entry[3].FullURL)
	}
}

func TestGenomicReportBundleDeterministic(t *testing.T) {
	a, err := GenomicReportBundle(threeVariants(), testBundleOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenomicReportBundle(threeVariants(), testBundleOptions())
	ja, _ := Marshal(a)
	jb, _ := Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("the same report gives two different bundles")
	}
	other := threeVariants()
	other.ID = "rpt-0099"
	c, _ := GenomicReportBundle(other, testBundleOptions())
	for i := range c.Entry {
		if c.Entry[i].FullURL == a.Entry[i].FullURL {
			t.Errorf("entry %d: two reports share the fullUrl %s", i, a.Entry[i].FullURL)
		}
	}
}

func TestGenomicReportBundleRefusals(t *testing.T) {
	draft := threeVariants()
	draft.Status = report.Draft
	if _, err := GenomicReportBundle(draft, BundleOptions{}); !errors.Is(err, ErrNotSigned) {
		t.Errorf("draft: %v", err)
	}
	local := threeVariants()
	local.Patient.Authority = "HOSP"
	if _, err := GenomicReportBundle(local, BundleOptions{}); !errors.Is(err, ErrNoPatientID) {
		t.Errorf("authority not a URI: %v", err)
	}
	if _, err := GenomicReportBundle(local, BundleOptions{PatientSystem: "urn:oid:1.2.3"}); err != nil {
		t.Errorf("with PatientSystem: %v", err)
	}
	// The system clinical.authorities lists for the namespace, or an OID's.
	for _, c := range []struct {
		authority string
		opt       BundleOptions
		want      string
	}{
		{"HOSP", BundleOptions{AuthoritySystems: map[string]string{"HOSP": "https://hospital.example.org/mrn"}}, "https://hospital.example.org/mrn"},
		{"1.2.840.99999.1", BundleOptions{}, "urn:oid:1.2.840.99999.1"},
		// A URI that is another name of the authority: its first system,
		// the one a search under the URI is rewritten to.
		{"https://old.example.org/mrn", BundleOptions{AuthoritySystems: map[string]string{"https://old.example.org/mrn": "urn:oid:1.2.840.99999.1"}}, "urn:oid:1.2.840.99999.1"},
		{"https://other.example.org/mrn", BundleOptions{}, "https://other.example.org/mrn"},
	} {
		local.Patient.Authority = c.authority
		b, err := GenomicReportBundle(local, c.opt)
		if err != nil {
			t.Errorf("%s: %v", c.authority, err)
			continue
		}
		if j, _ := json.Marshal(b); !strings.Contains(string(j), `"system":"`+c.want+`","value":"`+local.Patient.MRN+`"`) {
			t.Errorf("%s: no identifier %s|%s in the bundle", c.authority, c.want, local.Patient.MRN)
		}
	}
	for _, s := range []string{"1.2", "2.16.840.1", "0.9"} {
		if !IsOID(s) {
			t.Errorf("IsOID(%q) = false", s)
		}
	}
	for _, s := range []string{"", "1", "1.", "3.1", "1..2", "1.2.", "HOSP", "1.2a"} {
		if IsOID(s) {
			t.Errorf("IsOID(%q) = true", s)
		}
	}
	lone := amendedReport()
	lone.Amended = nil
	if _, err := GenomicReportBundle(lone, BundleOptions{}); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("an amendment without the report it amends: %v", err)
	}
	odd := threeVariants()
	odd.Variants[0].Classification = "Probably bad"
	if _, err := GenomicReportBundle(odd, BundleOptions{}); err == nil {
		t.Error("an unknown classification was accepted")
	}
}

func TestIdentifierQuery(t *testing.T) {
	for _, tc := range []struct{ sys, val, want string }{
		{"urn:oid:1.2.3", "MRN100", "identifier=urn:oid:1.2.3|MRN100"},
		{"https://x.org/id", "a|b,c$d\\e", `identifier=https://x.org/id|a%5C|b%5C,c%5C$d%5C\e`},
		{"https://x.org/id", "a b&c=d#e+f%", "identifier=https://x.org/id|a%20b%26c%3Dd%23e%2Bf%25"},
	} {
		if got := IdentifierQuery(tc.sys, tc.val); got != tc.want {
			t.Errorf("IdentifierQuery(%q, %q) = %q, want %q", tc.sys, tc.val, got, tc.want)
		}
	}
}

func TestNameUUID(t *testing.T) {
	// RFC 9562 appendix A.4: the DNS namespace and "www.example.com".
	if got := NameUUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"); got != "2ed6657d-e927-568b-95e1-2665a8aea6a2" {
		t.Errorf("NameUUID = %s", got)
	}
	if got := NameUUID("not-a-uuid", "x"); got != "" {
		t.Errorf("bad namespace gave %q", got)
	}
}

// variantURL is the fullUrl of the i-th variant observation (0-based).
func variantURL(b *Bundle, i int) string {
	for _, e := range b.Entry {
		if o, ok := e.Resource.(*Observation); ok && claims(&o.ResourceBase, ProfileVariant) {
			if i == 0 {
				return e.FullURL
			}
			i--
		}
	}
	return ""
}
