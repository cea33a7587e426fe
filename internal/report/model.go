// Package report is the clinical report of one sample: what it says
// (patient, order, specimen, regions studied, reportable variants with
// their classification and evidence, QC, limitations, methods), its
// review workflow (draft, reviewed, signed; a correction is an amended
// report that references the signed one), and its HTML and PDF renderings.
//
// The FHIR Genomics Reporting bundle and the HL7 ORU^R01 are built from a
// signed Report; so are the renderings. A Report carries patient data:
// it is stored sealed and never logged.
package report

import "time"

// Status is where a report is in its workflow.
//
//	draft ──review──▶ reviewed ──sign──▶ signed ──amend──▶ (a new draft, Amends = the signed id)
//	  ▲                  │
//	  └──── reopen ──────┘
//
// A signed report never changes; Superseded marks one that an amended
// report has since replaced (set when the amendment is signed).
type Status string

// Report statuses.
const (
	Draft      Status = "draft"
	Reviewed   Status = "reviewed"
	Signed     Status = "signed"
	Superseded Status = "superseded"
)

// Report is the content and state of one clinical report.
type Report struct {
	ID      string // internal id, e.g. "rpt-0f3a…"; never patient data
	Status  Status
	Amends  string // id of the signed report this one corrects; "" for an original
	Version int    // 1 for an original, +1 for each amendment

	Patient  Patient
	Order    Order
	Specimen Specimen
	Test     Test

	Regions     []Region    // regions studied (panels, exomes); empty for WGS
	Variants    []Variant   // reportable variants, in report order
	QC          []QCMetric  // sample QC
	Limitations []string    // free text, one paragraph each
	Methods     Methods     // pipeline, tools and databases with versions
	Conclusion  string      // the overall interpretation, free text
	Review      []Signature // who reviewed, signed or amended, and when

	Created time.Time
	Updated time.Time

	// Amended is the signed report this one amends (Amends), as it was
	// signed, when the store loaded it for the signing hooks and
	// SignedSince: the FHIR bundle of an amendment retires its
	// observations. Not stored with the report.
	Amended *Report `json:"-"`
}

// Patient is who the report is about. ID is the platform's pseudonymous
// patient id; the rest is PHI.
type Patient struct {
	ID        string
	MRN       string
	Authority string // assigning authority of the MRN
	Family    string
	Given     string
	BirthDate string // YYYY-MM-DD, "" when unknown
	Sex       string // "male", "female", "other", "unknown"
}

// Order is the genetic test order the report answers.
type Order struct {
	ID          string // internal order id
	Placer      string // placer order number (the EHR's)
	Filler      string // filler order number (ours)
	Code        string // ordered test code, e.g. a LOINC or local code
	CodeSystem  string // its system URI, "" when local
	Display     string
	OrderedBy   string // ordering provider, as "Family, Given" or an id
	OrderedDate string // YYYY-MM-DD
	Reason      string // indication, free text
}

// Specimen is the sample sequenced.
type Specimen struct {
	ID        string // internal specimen id
	SampleID  string // lab sample id (as in the sample sheet)
	Type      string // e.g. "Blood", "Saliva", "FFPE tissue"
	Collected string // YYYY-MM-DD, "" when unknown
	Received  string // YYYY-MM-DD
}

// Test is the test performed.
type Test struct {
	Name     string // e.g. "Hereditary cancer panel"
	Assay    string // "wgs", "exome", "panel", "rnaseq"
	Panel    string // panel name and version when Assay is "panel"
	Assembly string // reference assembly, e.g. "GRCh38"
}

// Region is one region studied with its coverage.
type Region struct {
	Chrom      string
	Start, End int64 // 0-based half-open, as in BED
	Gene       string
	MeanDepth  float64
	Covered20x float64 // fraction of bases at depth >= 20, 0..1
}

// Variant is one reportable variant in one transcript.
type Variant struct {
	Chrom string
	Pos   int64 // 1-based, VCF style
	Ref   string
	Alt   string

	Gene        string   // HGNC symbol
	GeneID      string   // e.g. "HGNC:1101", "" when unknown
	Transcript  string   // e.g. "NM_000059.4" or "ENST00000380152.8"
	HGVSc       string   // e.g. "NM_000059.4:c.7397T>C" or "c.7397T>C"
	HGVSp       string   // e.g. "p.(Val2466Ala)"
	HGVSg       string   // e.g. "NC_000013.11:g.32355250T>C"
	RefSeqID    string   // genomic reference sequence, e.g. "NC_000013.11"
	Consequence []string // Sequence Ontology terms, e.g. "missense_variant"

	Zygosity   string  // "heterozygous", "homozygous", "hemizygous", "" when unknown
	AlleleFreq float64 // sample allele fraction 0..1; negative when unknown
	Depth      int     // read depth at the site; 0 when unknown
	AltDepth   int     // reads supporting Alt; 0 when unknown
	Origin     string  // "germline" or "somatic"

	Classification string     // ACMG/AMP: "Pathogenic", "Likely pathogenic", "Uncertain significance", "Likely benign", "Benign"; "" when not interpreted
	Evidence       []Evidence // criteria applied, confirmed by a person
	ClinVar        *ClinVar   // nil when ClinVar has no record
	PopulationAF   float64    // highest population allele frequency; negative when unknown
	Condition      string     // associated condition, free text
	Comment        string
}

// Evidence is one ACMG/AMP criterion applied to a variant.
type Evidence struct {
	Criterion string // "PVS1", "PM2", "BA1", ...
	Strength  string // "very strong", "strong", "moderate", "supporting", "stand-alone"
	Text      string // the evidence, e.g. "gnomAD AF 0.00001 < 0.0001"
	Confirmed bool   // a qualified person confirmed the suggestion
}

// ClinVar is what ClinVar says about a variant.
type ClinVar struct {
	ID           string // variation id
	Significance string // e.g. "Pathogenic", "Conflicting_interpretations_of_pathogenicity"
	ReviewStatus string // e.g. "criteria_provided,_multiple_submitters,_no_conflicts"
	Conditions   []string
}

// QCMetric is one quality measure of the sample.
type QCMetric struct {
	Name  string // e.g. "Mean coverage", "Ti/Tv"
	Value string
	Pass  bool
}

// Methods says how the result was produced.
type Methods struct {
	Pipeline  string // e.g. "clinomics germline"
	Version   string // pipeline (platform) version
	Reference string // reference genome, e.g. "GRCh38 (GCA_000001405.15)"
	Tools     []Tool // aligners, callers, annotators
	Databases []Tool // ClinVar, gnomAD, gene models, with release
}

// Tool is a program or database with its version.
type Tool struct {
	Name    string
	Version string
}

// Signature is one workflow step taken by a person.
type Signature struct {
	Action string // "drafted", "reviewed", "reopened", "signed", "amended"
	By     string // the user's subject id (as in the audit)
	Name   string // the user's display name for the rendered report
	At     time.Time
	Note   string
}
