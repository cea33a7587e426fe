package fhir

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/report"
)

// Code systems and profiles of the Genomics Reporting IG STU3 (3.0.0).
const (
	LOINC          = "http://loinc.org"
	UCUM           = "http://unitsofmeasure.org"
	HGNC           = "http://www.genenames.org"
	HGVS           = "http://varnomen.hgvs.org"
	RefSeq         = "http://www.ncbi.nlm.nih.gov/refseq"
	Ensembl        = "http://www.ensembl.org"
	V2DiagService  = "http://terminology.hl7.org/CodeSystem/v2-0074"
	V2IdentifierTy = "http://terminology.hl7.org/CodeSystem/v2-0203"
	V2SpecimenType = "http://terminology.hl7.org/CodeSystem/v2-0487"
	ObsCategory    = "http://terminology.hl7.org/CodeSystem/observation-category"
	ProvAgentType  = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	DataOperation  = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
	// TBDCodes is the IG's code system for concepts LOINC has no code for
	// yet. STU1 called it .../CodeSystem/tbd-codes; STU3 .../tbd-codes-cs.
	TBDCodes = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
	// URIIdentifier is the identifier system whose values are URIs; with
	// it the default identifiers are the urn:uuid fullUrls themselves.
	URIIdentifier = "urn:ietf:rfc:3986"

	igBase                       = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/"
	ProfileGenomicReport         = igBase + "genomic-report"
	ProfileVariant               = igBase + "variant"
	ProfileDiagnosticImplication = igBase + "diagnostic-implication"
	ProfileMolecularConsequence  = igBase + "molecular-consequence"

	// SequenceOntology is the code system of molecular consequences.
	SequenceOntology = "http://sequenceontology.org"
)

// LOINC codes of the genomic report, its observations and components.
const (
	LoincGeneticReport       = "51969-4" // Genetic analysis report
	LoincVariant             = "69548-6" // Genetic variant assessment
	LoincRegionStudied       = "53041-0" // DNA region of interest panel
	LoincGeneStudied         = "48018-6"
	LoincCHGVS               = "48004-6"
	LoincPHGVS               = "48005-3"
	LoincGHGVS               = "81290-9"
	LoincGenomicRefSeq       = "48013-7"
	LoincTranscriptRefSeq    = "51958-7"
	LoincRefAllele           = "69547-8"
	LoincAltAllele           = "69551-0"
	LoincAllelicState        = "53034-5"
	LoincAlleleFrequency     = "81258-6"
	LoincAllelicReadDepth    = "82121-5"
	LoincGenomicSourceClass  = "48002-0"
	LoincCoordinateSystem    = "92822-6"
	LoincExactStartEnd       = "81254-5"
	LoincAssembly            = "62374-4"
	LoincChromosome          = "48000-4"
	LoincRegionRange         = "51959-5" // Ranges of DNA sequence examined
	LoincClinicalSignificanc = "53037-8"
	LoincPredictedPhenotype  = "81259-4"
	LoincPopulationAF        = "92821-8" // Population allele frequency
	LoincPresent             = "LA9633-4"
	LoincSequencing          = "LA26398-0"
)

// answer is a LOINC answer code with its display.
type answer struct{ code, display string }

var (
	allelicStates = map[string]answer{
		"heterozygous": {"LA6706-1", "Heterozygous"},
		"homozygous":   {"LA6705-3", "Homozygous"},
		"hemizygous":   {"LA6707-9", "Hemizygous"},
	}
	sourceClasses = map[string]answer{
		"germline": {"LA6683-2", "Germline"},
		"somatic":  {"LA6684-0", "Somatic"},
	}
	assemblies = map[string]answer{
		"GRCh38": {"LA26806-2", "GRCh38"},
		"GRCh37": {"LA14029-5", "GRCh37"},
	}
	// significances is LOINC answer list LL4034-6 (ACMG/AMP five tiers).
	significances = map[string]answer{
		"Pathogenic":             {"LA6668-3", "Pathogenic"},
		"Likely pathogenic":      {"LA26332-9", "Likely pathogenic"},
		"Uncertain significance": {"LA26333-7", "Uncertain significance"},
		"Likely benign":          {"LA26334-5", "Likely benign"},
		"Benign":                 {"LA6675-8", "Benign"},
	}
	oneBased       = answer{"LA30102-0", "1-based character counting"}
	zeroBasedRange = answer{"LA30100-4", "0-based interval counting"}
	// specimenTypes maps report specimen types onto HL7 v2 table 0487.
	specimenTypes = map[string]answer{
		"blood": {"BLD", "Whole blood"}, "saliva": {"SAL", "Saliva"},
		"ffpe tissue": {"TISS", "Tissue"}, "tissue": {"TISS", "Tissue"},
		"buccal swab": {"BUCCAL", "Buccal"},
	}
)

// soTerms are the Sequence Ontology accessions of the consequence terms
// the annotator writes (docs/annotation.md).
var soTerms = map[string]string{
	"transcript_ablation":                "SO:0001893",
	"splice_acceptor_variant":            "SO:0001574",
	"splice_donor_variant":               "SO:0001575",
	"stop_gained":                        "SO:0001587",
	"frameshift_variant":                 "SO:0001589",
	"stop_lost":                          "SO:0001578",
	"start_lost":                         "SO:0002012",
	"inframe_insertion":                  "SO:0001821",
	"inframe_deletion":                   "SO:0001822",
	"missense_variant":                   "SO:0001583",
	"protein_altering_variant":           "SO:0001818",
	"splice_region_variant":              "SO:0001630",
	"incomplete_terminal_codon_variant":  "SO:0001626",
	"start_retained_variant":             "SO:0002019",
	"stop_retained_variant":              "SO:0001567",
	"synonymous_variant":                 "SO:0001819",
	"coding_sequence_variant":            "SO:0001580",
	"5_prime_UTR_variant":                "SO:0001623",
	"3_prime_UTR_variant":                "SO:0001624",
	"non_coding_transcript_exon_variant": "SO:0001792",
	"intron_variant":                     "SO:0001627",
	"NMD_transcript_variant":             "SO:0001621",
	"non_coding_transcript_variant":      "SO:0001619",
	"feature_elongation":                 "SO:0001907",
	"feature_truncation":                 "SO:0001906",
	"upstream_gene_variant":              "SO:0001631",
	"downstream_gene_variant":            "SO:0001632",
	"intergenic_variant":                 "SO:0001628",
}

// uuidNamespace is the namespace of the name-based UUIDs of our bundles.
const uuidNamespace = "6f1c3a52-0d4e-5b8a-9c27-3e5f1a7b9d10"

// BundleOptions says how GenomicReportBundle identifies and decorates the
// resources. The zero value works when the patient's assigning authority
// is a URI; PatientSystem is needed otherwise.
type BundleOptions struct {
	// IdentifierSystem is the system of the identifiers given to the
	// resources we create (report, observations, specimen,
	// document), their values derived from the report id. "" uses
	// urn:ietf:rfc:3986 with the resource's urn:uuid as value.
	IdentifierSystem string
	// PatientSystem is the MRN's system; "" uses the system
	// AuthoritySystems gives for Patient.Authority, else the authority
	// itself when it is a URI (urn:, http:, https:), else urn:oid:X for
	// an authority that is an OID X.
	PatientSystem string
	// AuthoritySystems maps each name of an assigning authority (an HL7
	// namespace such as HOSP, an OID, another URI) to the URI system of
	// its identifiers (the first URI or OID of its names in config
	// clinical.authorities): the system our FHIR API searches it as.
	AuthoritySystems map[string]string
	// PlacerSystem and FillerSystem are the systems of the order numbers;
	// "" derives them from IdentifierSystem.
	PlacerSystem, FillerSystem string
	// UserSystem is the system of Signature.By, the platform's user
	// subject ids; "" derives it from IdentifierSystem.
	UserSystem string
	// Performer is the laboratory (usually an Organization reference);
	// nil leaves DiagnosticReport.performer out.
	Performer *Reference
	// PDF is the rendered report; nil for none. It goes into
	// DiagnosticReport.presentedForm, or into a DocumentReference when
	// PDFAsDocument is set.
	PDF           []byte
	PDFTitle      string
	PDFAsDocument bool
	// Software names the platform in the Provenance; "" is "clinomics".
	Software string
}

// Errors of GenomicReportBundle.
var (
	ErrNotSigned   = errors.New("fhir: only a signed report is sent")
	ErrNoPatientID = errors.New("fhir: the patient has no MRN with a known system")
)

// GenomicReportBundle maps a signed report onto a FHIR R4 transaction
// Bundle that follows the HL7 Genomics Reporting IG STU3 (3.0.0)
// genomic-report profile:
//
//   - Patient (MRN identifier), ServiceRequest (placer and filler order
//     numbers), Specimen;
//   - DiagnosticReport (meta.profile genomic-report): category GE, code
//     LOINC 51969-4 "Genetic analysis report" (the code STU3 fixes; STU1
//     used 81247-9, the master panel, which the IG no longer uses as a
//     report code), status final, or amended for an amendment;
//     result → every observation below; presentedForm the PDF;
//   - one Variant Observation (69548-6, value LA9633-4 Present) per
//     variant, with its components;
//   - one Diagnostic Implication (code tbd-codes-cs#diagnostic-implication,
//     clinical significance 53037-8, derivedFrom the variant) per variant
//     that has a Classification;
//   - one region observation (53041-0) per region studied;
//   - a Provenance of the report (the pipeline, its tools, reference and
//     databases; the signer) and, when asked, a DocumentReference with
//     the PDF.
//
// Where STU2 (2.0.0) differs: STU2 had a region-studied profile
// (53041-0) for the regions; STU3 dropped it for GenomicStudy (a Procedure
// profile with the genomic-study-analysis-regions extension). The region
// observations here follow STU2's shape without claiming a profile, since
// a bundle claiming STU3 profiles cannot claim an STU2 one. STU2's
// implication components and the TBD code system's URL also differ.
//
// Retries. Every resource is created conditionally: POST with
// ifNoneExist on an identifier derived from the report id (and the
// variant or region index), so a transaction sent twice creates nothing
// the second time. fullUrls are name-based UUIDs of the report id, so the
// same report always gives the same bundle. Provenance has no identifier
// in R4: it is written with PUT Provenance/{uuid} (update as create).
//
// Amendments. In R4 an amended DiagnosticReport is a new version of the
// same resource: the amendment's report is a conditional update (PUT
// DiagnosticReport?identifier=…) of the report it amends, status amended,
// carrying both identifiers; R4's DiagnosticReport has no relatesTo and
// the IG defines no replaces extension for it, so the Provenance records
// the amended report as an entity with role "revision". Observations of
// the amendment are new resources (their identifiers derive from the
// amendment's id).
func GenomicReportBundle(r report.Report, opt BundleOptions) (*Bundle, error) {
	if r.Status != report.Signed {
		return nil, ErrNotSigned
	}
	g := &genomicBuilder{r: &r, opt: opt}
	return g.build()
}

type genomicBuilder struct {
	r   *report.Report
	opt BundleOptions
	b   *Bundle

	patient, order, specimen, report Reference
	signedAt                         string

	concepts []CodeableConcept // slabs, see concept
	codings  []Coding
}

// fullURL is the deterministic urn:uuid of one resource of the bundle.
func (g *genomicBuilder) fullURL(kind string, i int) string {
	return "urn:uuid:" + NameUUID(uuidNamespace, g.r.ID+"/"+kind+"/"+strconv.Itoa(i))
}

// identifier is our identifier for one resource of the bundle.
func (g *genomicBuilder) identifier(kind string, i int, reportID string) Identifier {
	if g.opt.IdentifierSystem == "" {
		if reportID != g.r.ID {
			return Identifier{System: URIIdentifier, Value: "urn:uuid:" + NameUUID(uuidNamespace, reportID+"/"+kind+"/"+strconv.Itoa(i))}
		}
		return Identifier{System: URIIdentifier, Value: g.fullURL(kind, i)}
	}
	v := reportID + "/" + kind
	if i > 0 {
		v += "/" + strconv.Itoa(i)
	}
	return Identifier{System: g.opt.IdentifierSystem, Value: v}
}

// derivedSystem is a system for a kind of id derived from IdentifierSystem.
func (g *genomicBuilder) derivedSystem(set, kind string) string {
	switch {
	case set != "":
		return set
	case g.opt.IdentifierSystem == "":
		return "urn:clinomics:" + kind
	}
	return strings.TrimRight(g.opt.IdentifierSystem, "/") + "/" + kind
}

// add appends an entry created conditionally on its first identifier.
func (g *genomicBuilder) add(fullURL string, res Resource, id Identifier) {
	g.b.Entry = append(g.b.Entry, BundleEntry{FullURL: fullURL, Resource: res,
		Request: &BundleEntryRequest{Method: "POST", URL: res.ResourceType(), IfNoneExist: IdentifierQuery(id.System, id.Value)}})
}

func (g *genomicBuilder) build() (*Bundle, error) {
	r := g.r
	g.b = &Bundle{Type: "transaction"}
	g.b.Entry = make([]BundleEntry, 0, 6+3*len(r.Variants)+len(r.Regions))
	g.signedAt = timeString(signedTime(r))
	g.b.Timestamp = g.signedAt

	if err := g.addPatient(); err != nil {
		return nil, err
	}
	g.addOrder()
	g.addSpecimen()

	g.report = Reference{Reference: g.fullURL("DiagnosticReport", 0)}
	results, err := g.addObservations()
	if err != nil {
		return nil, err
	}
	if r.Amends != "" {
		if r.Amended == nil || r.Amended.ID != r.Amends {
			return nil, fmt.Errorf("fhir: report %s amends %s, which was not loaded with it (report.Report.Amended): its observations could not be retired", r.ID, r.Amends)
		}
		if err := g.retire(r.Amended); err != nil {
			return nil, err
		}
	}
	g.addReport(results)
	if g.opt.PDF != nil && g.opt.PDFAsDocument {
		g.addDocument()
	}
	g.addProvenance()
	return g.b, nil
}

// addObservations adds the report's variants, their consequences and
// implications, and its regions, and returns references to them.
func (g *genomicBuilder) addObservations() ([]Reference, error) {
	var results []Reference
	for i := range g.r.Variants {
		v := &g.r.Variants[i]
		ref := g.addVariant(i+1, v)
		results = append(results, ref)
		if len(v.Consequence) > 0 {
			results = append(results, g.addConsequence(i+1, v, ref))
		}
		if v.Classification != "" {
			imp, err := g.addImplication(i+1, v, ref)
			if err != nil {
				return nil, err
			}
			results = append(results, imp)
		}
	}
	for i := range g.r.Regions {
		results = append(results, g.addRegion(i+1, &g.r.Regions[i]))
	}
	return results, nil
}

// retire adds, to an amendment's bundle, the observations of the report
// it amends (orig), each as a conditional update of the one that
// report's bundle created, with status entered-in-error ("withdrawn
// following previous final release"): the amendment's own observations
// replace them in the report's result, and a search of the patient's
// observations must not return the corrected ones as final. Their
// earlier versions stay in the EHR's history.
func (g *genomicBuilder) retire(orig *report.Report) error {
	o := &genomicBuilder{r: orig, opt: g.opt, b: &Bundle{}, patient: g.patient, order: g.order, specimen: g.specimen,
		report: g.report, signedAt: timeString(signedTime(orig))}
	if _, err := o.addObservations(); err != nil {
		return fmt.Errorf("fhir: the amended report %s: %w", orig.ID, err)
	}
	for _, e := range o.b.Entry {
		obs := e.Resource.(*Observation)
		obs.Status = "entered-in-error"
		id := obs.Identifier[0]
		e.Request = &BundleEntryRequest{Method: "PUT", URL: "Observation?" + IdentifierQuery(id.System, id.Value)}
		g.b.Entry = append(g.b.Entry, e)
	}
	return nil
}

func (g *genomicBuilder) addPatient() error {
	p := g.r.Patient
	sys := g.opt.PatientSystem
	switch {
	case sys != "":
	case g.opt.AuthoritySystems[p.Authority] != "": // another name of the authority, a URI too
		sys = g.opt.AuthoritySystems[p.Authority]
	case isURI(p.Authority):
		sys = p.Authority
	case IsOID(p.Authority):
		sys = "urn:oid:" + p.Authority
	}
	if sys == "" || p.MRN == "" {
		return ErrNoPatientID
	}
	id := Identifier{Use: "usual", System: sys, Value: p.MRN,
		Type: &CodeableConcept{Coding: []Coding{{System: V2IdentifierTy, Code: "MR", Display: "Medical record number"}}}}
	if p.Authority != "" && p.Authority != sys {
		id.Assigner = &Reference{Display: p.Authority}
	}
	pat := &Patient{Identifier: []Identifier{id}, BirthDate: p.BirthDate}
	switch p.Sex {
	case "male", "female", "other", "unknown":
		pat.Gender = p.Sex
	}
	if p.Family != "" || p.Given != "" {
		n := HumanName{Use: "official", Family: p.Family}
		if p.Given != "" {
			n.Given = []string{p.Given}
		}
		pat.Name = []HumanName{n}
	}
	url := g.fullURL("Patient", 0)
	g.patient = Reference{Reference: url}
	if p.Family != "" || p.Given != "" {
		g.patient.Display = strings.TrimSpace(p.Given + " " + p.Family)
	}
	g.add(url, pat, id)
	return nil
}

func (g *genomicBuilder) addOrder() {
	o := g.r.Order
	sr := &ServiceRequest{Status: "completed", Intent: "order", Subject: ref(g.patient),
		AuthoredOn: o.OrderedDate}
	if o.Placer != "" {
		sr.Identifier = append(sr.Identifier, Identifier{Use: "usual", System: g.derivedSystem(g.opt.PlacerSystem, "placer"), Value: o.Placer,
			Type: &CodeableConcept{Coding: []Coding{{System: V2IdentifierTy, Code: "PLAC", Display: "Placer Identifier"}}}})
	}
	if o.Filler != "" {
		sr.Identifier = append(sr.Identifier, Identifier{System: g.derivedSystem(g.opt.FillerSystem, "filler"), Value: o.Filler,
			Type: &CodeableConcept{Coding: []Coding{{System: V2IdentifierTy, Code: "FILL", Display: "Filler Identifier"}}}})
	}
	own := g.identifier("ServiceRequest", 0, g.r.ID)
	if len(sr.Identifier) == 0 {
		sr.Identifier = []Identifier{own}
	}
	if o.Code != "" || o.Display != "" || g.r.Test.Name != "" {
		cc := &CodeableConcept{Text: o.Display}
		if o.Code != "" {
			cc.Coding = []Coding{{System: o.CodeSystem, Code: o.Code, Display: o.Display}}
		}
		if cc.Text == "" {
			cc.Text = g.r.Test.Name
		}
		sr.Code = cc
	}
	if o.OrderedBy != "" {
		sr.Requester = &Reference{Display: o.OrderedBy}
	}
	if o.Reason != "" {
		sr.ReasonCode = []CodeableConcept{{Text: o.Reason}}
	}
	url := g.fullURL("ServiceRequest", 0)
	g.order = Reference{Reference: url}
	g.specimen = Reference{Reference: g.fullURL("Specimen", 0)}
	sr.Specimen = []Reference{g.specimen}
	g.add(url, sr, sr.Identifier[0])
}

func (g *genomicBuilder) addSpecimen() {
	s := g.r.Specimen
	sp := &Specimen{Status: "available", Subject: ref(g.patient), Request: []Reference{g.order},
		ReceivedTime: s.Received}
	id := g.identifier("Specimen", 0, g.r.ID)
	if s.SampleID != "" {
		id = Identifier{System: g.derivedSystem("", "sample"), Value: s.SampleID}
		sp.AccessionIdentifier = &Identifier{System: id.System, Value: s.SampleID}
	}
	sp.Identifier = []Identifier{id}
	if s.Type != "" {
		cc := &CodeableConcept{Text: s.Type}
		if a, ok := specimenTypes[strings.ToLower(s.Type)]; ok {
			cc.Coding = []Coding{{System: V2SpecimenType, Code: a.code, Display: a.display}}
		}
		sp.Type = cc
	}
	if s.Collected != "" {
		sp.Collection = &SpecimenCollection{CollectedDateTime: s.Collected}
	}
	g.add(g.specimen.Reference, sp, id)
}

// genomicCategories is the category pair every genomic observation has.
func genomicCategories() []CodeableConcept {
	return []CodeableConcept{
		{Coding: []Coding{{System: ObsCategory, Code: "laboratory", Display: "Laboratory"}}},
		{Coding: []Coding{{System: V2DiagService, Code: "GE", Display: "Genetics"}}},
	}
}

// concept returns a new CodeableConcept with one coding. The builder
// allocates them in slabs (a 50-variant bundle has about 1,700); each
// Coding slice is capped at its length, so appending to it copies.
func (g *genomicBuilder) concept(system, code, display string) *CodeableConcept {
	if len(g.codings) == cap(g.codings) {
		g.codings = make([]Coding, 0, 256)
	}
	if len(g.concepts) == cap(g.concepts) {
		g.concepts = make([]CodeableConcept, 0, 256)
	}
	n := len(g.codings)
	g.codings = append(g.codings, Coding{System: system, Code: code, Display: display})
	g.concepts = append(g.concepts, CodeableConcept{Coding: g.codings[n : n+1 : n+1]})
	return &g.concepts[len(g.concepts)-1]
}

func (g *genomicBuilder) loinc(code, display string) *CodeableConcept {
	return g.concept(LOINC, code, display)
}

func (g *genomicBuilder) component(code, display string) ObservationComponent {
	return ObservationComponent{Code: g.loinc(code, display)}
}

// tbd is a component coded in the IG's own code system, valued value.
func (g *genomicBuilder) tbd(code, display string, value *CodeableConcept) ObservationComponent {
	c := ObservationComponent{Code: g.concept(TBDCodes, code, display)}
	c.ValueCodeableConcept = value
	return c
}

func (g *genomicBuilder) coded(code, display string, value *CodeableConcept) ObservationComponent {
	c := g.component(code, display)
	c.ValueCodeableConcept = value
	return c
}

// observation is the common part of our genomic observations.
func (g *genomicBuilder) observation(profile string, code *CodeableConcept, kind string, i int) *Observation {
	o := &Observation{Status: "final", Category: genomicCategories(), Code: code, Subject: ref(g.patient),
		Specimen: ref(g.specimen), Issued: g.signedAt, Identifier: []Identifier{g.identifier(kind, i, g.r.ID)}}
	if profile != "" {
		o.Meta = &Meta{Profile: []string{profile}}
	}
	o.EffectiveDateTime = effectiveDate(g.r)
	if g.opt.Performer != nil {
		o.Performer = []Reference{*g.opt.Performer}
	}
	return o
}

// withAccession prefixes a bare HGVS expression ("c.7397T>C") with its
// reference sequence.
func withAccession(acc, expr string) string {
	if acc == "" || expr == "" || strings.Contains(expr, ":") {
		return expr
	}
	return acc + ":" + expr
}

func refSeqSystem(acc string) string {
	if strings.HasPrefix(acc, "ENS") {
		return Ensembl
	}
	return RefSeq
}

// decimal formats a float with the fewest digits that read back the same.
func decimal(f float64) Decimal {
	return Decimal(strconv.FormatFloat(f, 'f', -1, 64))
}

func (g *genomicBuilder) addVariant(i int, v *report.Variant) Reference {
	o := g.observation(ProfileVariant, g.loinc(LoincVariant, "Genetic variant assessment"), "variant", i)
	o.ValueCodeableConcept = g.loinc(LoincPresent, "Present")
	o.Method = g.loinc(LoincSequencing, "Sequencing")
	c := make([]ObservationComponent, 0, 18) // all the components below
	if v.Gene != "" {
		cc := &CodeableConcept{Text: v.Gene}
		if v.GeneID != "" {
			cc = g.concept(HGNC, v.GeneID, v.Gene)
		}
		c = append(c, g.coded(LoincGeneStudied, "Gene studied [ID]", cc))
	}
	if v.HGVSc != "" {
		expr := withAccession(v.Transcript, v.HGVSc)
		c = append(c, g.coded(LoincCHGVS, "DNA change (c.HGVS)", g.concept(HGVS, expr, expr)))
	}
	if v.HGVSp != "" {
		c = append(c, g.coded(LoincPHGVS, "Amino acid change (pHGVS)", g.concept(HGVS, v.HGVSp, v.HGVSp)))
	}
	if v.HGVSg != "" {
		c = append(c, g.coded(LoincGHGVS, "Genomic DNA change (gHGVS)", g.concept(HGVS, v.HGVSg, v.HGVSg)))
	}
	if v.Transcript != "" {
		c = append(c, g.coded(LoincTranscriptRefSeq, "Transcript reference sequence [ID]",
			g.concept(refSeqSystem(v.Transcript), v.Transcript, "")))
	}
	refSeq := v.RefSeqID
	if refSeq == "" {
		refSeq, _, _ = strings.Cut(v.HGVSg, ":")
		if !strings.HasPrefix(refSeq, "NC_") && !strings.HasPrefix(refSeq, "NG_") {
			refSeq = ""
		}
	}
	if refSeq != "" {
		c = append(c, g.coded(LoincGenomicRefSeq, "Genomic reference sequence [ID]",
			g.concept(refSeqSystem(refSeq), refSeq, "")))
	}
	if v.Chrom != "" {
		c = append(c, g.coded(LoincChromosome, "Chromosome [Identifier]", &CodeableConcept{Text: v.Chrom}))
	}
	// Alleles and coordinates are genomic: on the forward strand of the
	// reference whatever the gene's strand, as in the VCF; only the
	// c./p. expressions are relative to the transcript.
	if v.Ref != "" {
		ca := g.component(LoincRefAllele, "Genomic ref allele [ID]")
		ca.ValueString = v.Ref
		c = append(c, ca)
	}
	if v.Alt != "" {
		ca := g.component(LoincAltAllele, "Genomic alt allele [ID]")
		ca.ValueString = v.Alt
		c = append(c, ca)
	}
	if a, ok := allelicStates[v.Zygosity]; ok {
		c = append(c, g.coded(LoincAllelicState, "Allelic state", g.loinc(a.code, a.display)))
	}
	if v.AlleleFreq >= 0 && v.AlleleFreq <= 1 && (v.AlleleFreq > 0 || v.Depth > 0) {
		ca := g.component(LoincAlleleFrequency, "Sample variant allelic frequency [NFr]")
		ca.ValueQuantity = &Quantity{Value: decimal(v.AlleleFreq), System: UCUM, Code: "1", Unit: "relative frequency of a particular allele in the specimen"}
		c = append(c, ca)
	}
	if v.AltDepth > 0 {
		ca := g.component(LoincAllelicReadDepth, "Allelic read depth")
		ca.ValueQuantity = &Quantity{Value: Decimal(strconv.Itoa(v.AltDepth)), System: UCUM, Code: "1", Unit: "reads"}
		c = append(c, ca)
	}
	if v.PopulationAF >= 0 && v.PopulationAF <= 1 {
		ca := g.component(LoincPopulationAF, "Population allele frequency")
		ca.ValueQuantity = &Quantity{Value: decimal(v.PopulationAF), System: UCUM, Code: "1", Unit: "relative frequency of a particular allele in the population"}
		c = append(c, ca)
	}
	if a, ok := sourceClasses[v.Origin]; ok {
		c = append(c, g.coded(LoincGenomicSourceClass, "Genomic source class [Type]", g.loinc(a.code, a.display)))
	}
	if v.Pos > 0 {
		c = append(c, g.coded(LoincCoordinateSystem, "Genomic coordinate system [Type]", g.loinc(oneBased.code, oneBased.display)))
		end := v.Pos + int64(len(v.Ref)) - 1
		if end < v.Pos {
			end = v.Pos
		}
		ca := g.component(LoincExactStartEnd, "Variant exact start-end")
		ca.ValueRange = &Range{Low: &Quantity{Value: Decimal(strconv.FormatInt(v.Pos, 10))},
			High: &Quantity{Value: Decimal(strconv.FormatInt(end, 10))}}
		c = append(c, ca)
	}
	if a, ok := assemblies[g.r.Test.Assembly]; ok {
		c = append(c, g.coded(LoincAssembly, "Human reference sequence assembly version", g.loinc(a.code, a.display)))
	}
	if v.Comment != "" && v.Classification == "" {
		// Without an implication to carry it, the comment goes on the
		// variant (GenomicBase's conclusion-string).
		cs := ObservationComponent{Code: g.concept(TBDCodes, "conclusion-string", "Conclusion String")}
		cs.ValueString = v.Comment
		c = append(c, cs)
	}
	o.Component = c
	url := g.fullURL("variant", i)
	g.add(url, o, o.Identifier[0])
	return Reference{Reference: url}
}

func (g *genomicBuilder) addImplication(i int, v *report.Variant, variant Reference) (Reference, error) {
	sig, ok := significances[v.Classification]
	if !ok {
		return Reference{}, fmt.Errorf("fhir: variant %d: classification %q is not an ACMG/AMP tier", i, v.Classification)
	}
	code := &CodeableConcept{Coding: []Coding{{System: TBDCodes, Code: "diagnostic-implication", Display: "Diagnostic Implication"}}}
	o := g.observation(ProfileDiagnosticImplication, code, "implication", i)
	o.DerivedFrom = []Reference{variant}
	o.Component = []ObservationComponent{g.coded(LoincClinicalSignificanc, "Genetic variation clinical significance [Imp]", g.loinc(sig.code, sig.display))}
	if v.Condition != "" {
		o.Component = append(o.Component, g.coded(LoincPredictedPhenotype, "Genetic disease present", &CodeableConcept{Text: v.Condition}))
	}
	if v.Comment != "" {
		c := ObservationComponent{Code: &CodeableConcept{Coding: []Coding{{System: TBDCodes, Code: "conclusion-string", Display: "Conclusion String"}}}}
		c.ValueString = v.Comment
		o.Component = append(o.Component, c)
	}
	if ev := acmgEvidence(v.Evidence); ev != "" {
		// The IG has no element for ACMG/AMP criteria: they go as a note,
		// as the signed report shows them (confirmed ones only).
		o.Note = []Annotation{{Text: ev}}
	}
	url := g.fullURL("implication", i)
	g.add(url, o, o.Identifier[0])
	return Reference{Reference: url}, nil
}

// acmgEvidence lists the ACMG/AMP criteria a person confirmed, with their
// strength and evidence; "" when none.
func acmgEvidence(ev []report.Evidence) string {
	var parts []string
	for _, e := range ev {
		if !e.Confirmed || e.Criterion == "" {
			continue
		}
		p := e.Criterion
		if e.Strength != "" {
			p += " (" + e.Strength + ")"
		}
		if e.Text != "" {
			p += ": " + e.Text
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return "ACMG/AMP criteria applied: " + strings.Join(parts, "; ")
}

// addConsequence adds the variant's molecular consequence in its
// transcript (STU3 molecular-consequence): the Sequence Ontology terms
// and the c./p. expressions.
func (g *genomicBuilder) addConsequence(i int, v *report.Variant, variant Reference) Reference {
	code := g.concept(TBDCodes, "molecular-consequence", "Molecular Consequence")
	o := g.observation(ProfileMolecularConsequence, code, "consequence", i)
	o.DerivedFrom = []Reference{variant}
	c := make([]ObservationComponent, 0, 4)
	if v.Transcript != "" {
		c = append(c, g.coded(LoincTranscriptRefSeq, "Transcript reference sequence [ID]",
			g.concept(refSeqSystem(v.Transcript), v.Transcript, "")))
	}
	fc := &CodeableConcept{}
	for _, t := range v.Consequence {
		if so, ok := soTerms[t]; ok {
			fc.Coding = append(fc.Coding, Coding{System: SequenceOntology, Code: so, Display: t})
		}
	}
	fc.Text = strings.Join(v.Consequence, "&")
	c = append(c, g.tbd("feature-consequence", "Feature Consequence", fc))
	if v.HGVSc != "" {
		expr := withAccession(v.Transcript, v.HGVSc)
		c = append(c, g.tbd("coding-hgvs", "Coding HGVS", g.concept(HGVS, expr, expr)))
	}
	if v.HGVSp != "" {
		c = append(c, g.tbd("protein-hgvs", "Protein HGVS", g.concept(HGVS, v.HGVSp, v.HGVSp)))
	}
	o.Component = c
	url := g.fullURL("consequence", i)
	g.add(url, o, o.Identifier[0])
	return Reference{Reference: url}
}

func (g *genomicBuilder) addRegion(i int, reg *report.Region) Reference {
	o := g.observation("", g.loinc(LoincRegionStudied, "DNA region of interest panel"), "region", i)
	c := make([]ObservationComponent, 0, 5)
	if reg.Gene != "" {
		c = append(c, g.coded(LoincGeneStudied, "Gene studied [ID]", &CodeableConcept{Text: reg.Gene}))
	}
	if reg.Chrom != "" {
		c = append(c, g.coded(LoincChromosome, "Chromosome [Identifier]", &CodeableConcept{Text: reg.Chrom}))
	}
	c = append(c, g.coded(LoincCoordinateSystem, "Genomic coordinate system [Type]", g.loinc(zeroBasedRange.code, zeroBasedRange.display)))
	rc := g.component(LoincRegionRange, "Ranges of DNA sequence examined")
	rc.ValueRange = &Range{Low: &Quantity{Value: Decimal(strconv.FormatInt(reg.Start, 10))}, High: &Quantity{Value: Decimal(strconv.FormatInt(reg.End, 10))}}
	c = append(c, rc)
	if reg.Covered20x > 0 && reg.Covered20x <= 1 {
		cc := ObservationComponent{Code: g.concept(TBDCodes, "region-coverage", "Region Coverage")}
		cc.ValueQuantity = &Quantity{Value: decimal(100 * reg.Covered20x), System: UCUM, Code: "%", Unit: "% of bases read at least 20 times"}
		c = append(c, cc)
	}
	if a, ok := assemblies[g.r.Test.Assembly]; ok {
		c = append(c, g.coded(LoincAssembly, "Human reference sequence assembly version", g.loinc(a.code, a.display)))
	}
	o.Component = c
	url := g.fullURL("region", i)
	g.add(url, o, o.Identifier[0])
	return Reference{Reference: url}
}

// interpreters are the people who signed the report, by their user id.
func (g *genomicBuilder) interpreters() []Reference {
	var refs []Reference
	seen := map[string]bool{}
	for _, s := range g.r.Review {
		if (s.Action != "signed" && s.Action != "amended") || s.By == "" || seen[s.By] {
			continue
		}
		seen[s.By] = true
		refs = append(refs, Reference{Type: "Practitioner", Display: s.Name,
			Identifier: &Identifier{System: g.derivedSystem(g.opt.UserSystem, "user"), Value: s.By}})
	}
	return refs
}

func (g *genomicBuilder) pdfAttachment() *Attachment {
	sum := sha1.Sum(g.opt.PDF)
	size := int64(len(g.opt.PDF))
	title := g.opt.PDFTitle
	if title == "" {
		title = g.r.Test.Name
	}
	return &Attachment{ContentType: "application/pdf", Data: base64.StdEncoding.EncodeToString(g.opt.PDF),
		Size: &size, Hash: base64.StdEncoding.EncodeToString(sum[:]), Title: title, Creation: g.signedAt}
}

func (g *genomicBuilder) addReport(results []Reference) {
	r := g.r
	id := g.identifier("DiagnosticReport", 0, r.ID)
	dr := &DiagnosticReport{
		Identifier: []Identifier{id},
		Status:     "final",
		Category:   []CodeableConcept{{Coding: []Coding{{System: V2DiagService, Code: "GE", Display: "Genetics"}}}},
		Code:       g.loinc(LoincGeneticReport, "Genetic analysis report"),
		Subject:    ref(g.patient), BasedOn: []Reference{g.order}, Specimen: []Reference{g.specimen},
		EffectiveDateTime: effectiveDate(r), Issued: g.signedAt,
		ResultsInterpreter: g.interpreters(), Result: results, Conclusion: r.Conclusion,
	}
	dr.Meta = &Meta{Profile: []string{ProfileGenomicReport}}
	if r.Test.Name != "" {
		dr.Code.Text = r.Test.Name
	}
	if g.opt.Performer != nil {
		dr.Performer = []Reference{*g.opt.Performer}
	}
	if g.opt.PDF != nil && !g.opt.PDFAsDocument {
		dr.PresentedForm = []Attachment{*g.pdfAttachment()}
	}
	entry := BundleEntry{FullURL: g.report.Reference, Resource: dr,
		Request: &BundleEntryRequest{Method: "POST", URL: "DiagnosticReport", IfNoneExist: IdentifierQuery(id.System, id.Value)}}
	if r.Amends != "" {
		dr.Status = "amended"
		amended := g.identifier("DiagnosticReport", 0, r.Amends)
		amended.Use = "old"
		dr.Identifier = append(dr.Identifier, amended)
		entry.Request = &BundleEntryRequest{Method: "PUT", URL: "DiagnosticReport?" + IdentifierQuery(amended.System, amended.Value)}
	}
	g.b.Entry = append(g.b.Entry, entry)
}

func (g *genomicBuilder) addDocument() {
	doc := &DocumentReference{Status: "current", DocStatus: "final",
		Type: g.loinc(LoincGeneticReport, "Genetic analysis report"), Subject: ref(g.patient), Date: g.signedAt,
		Content:    []DocumentReferenceContent{{Attachment: g.pdfAttachment()}},
		Context:    &DocumentReferenceContext{Related: []Reference{g.report}},
		Identifier: []Identifier{g.identifier("DocumentReference", 0, g.r.ID)},
	}
	if g.r.Amends != "" {
		doc.DocStatus = "amended"
	}
	if g.opt.Performer != nil {
		doc.Author = []Reference{*g.opt.Performer}
	}
	g.add(g.fullURL("DocumentReference", 0), doc, doc.Identifier[0])
}

func agentType(code, display string) *CodeableConcept {
	return &CodeableConcept{Coding: []Coding{{System: ProvAgentType, Code: code, Display: display}}}
}

func (g *genomicBuilder) addProvenance() {
	m := g.r.Methods
	software := g.opt.Software
	if software == "" {
		software = "clinomics"
	}
	platform := strings.TrimSpace(strings.Join([]string{software, m.Pipeline, m.Version}, " "))
	uuid := NameUUID(uuidNamespace, g.r.ID+"/Provenance/0")
	p := &Provenance{Target: []Reference{g.report}, Recorded: g.signedAt,
		Activity: &CodeableConcept{Coding: []Coding{{System: DataOperation, Code: "CREATE", Display: "create"}}},
		Agent: []ProvenanceAgent{{Type: agentType("assembler", "Assembler"),
			Who: &Reference{Type: "Device", Display: platform}}},
	}
	p.Id = uuid
	for _, who := range g.interpreters() {
		p.Agent = append(p.Agent, ProvenanceAgent{Type: agentType("attester", "Attester"), Who: &who})
	}
	for _, t := range m.Tools {
		p.Agent = append(p.Agent, ProvenanceAgent{Type: agentType("performer", "Performer"),
			Who: &Reference{Type: "Device", Display: strings.TrimSpace(t.Name + " " + t.Version)}})
	}
	if m.Reference != "" {
		p.Entity = append(p.Entity, ProvenanceEntity{Role: "source", What: &Reference{Display: "reference genome " + m.Reference}})
	}
	for _, d := range m.Databases {
		p.Entity = append(p.Entity, ProvenanceEntity{Role: "source", What: &Reference{Display: strings.TrimSpace(d.Name + " " + d.Version)}})
	}
	if g.r.Amends != "" {
		p.Activity = &CodeableConcept{Coding: []Coding{{System: DataOperation, Code: "UPDATE", Display: "revise"}}}
		old := g.identifier("DiagnosticReport", 0, g.r.Amends)
		p.Entity = append(p.Entity, ProvenanceEntity{Role: "revision",
			What: &Reference{Type: "DiagnosticReport", Identifier: &old, Display: "amended report"}})
	}
	g.b.Entry = append(g.b.Entry, BundleEntry{FullURL: "urn:uuid:" + uuid, Resource: p,
		Request: &BundleEntryRequest{Method: "PUT", URL: "Provenance/" + uuid}})
}

func ref(r Reference) *Reference { return &r }

// isURI says whether s looks like an absolute URI usable as a system.
// IsOID says whether s is an ISO object identifier in dotted form
// (1.2.840.114350...), as HL7 v2 gives one in an HD's universal id.
func IsOID(s string) bool {
	if len(s) < 3 || s[0] < '0' || s[0] > '2' || s[1] != '.' {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c == '.' && s[i-1] == '.' || c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return s[len(s)-1] != '.'
}

// IsURI says whether s is a URI a FHIR system may be (urn:, http:,
// https:).
func IsURI(s string) bool { return isURI(s) }

func isURI(s string) bool {
	return strings.HasPrefix(s, "urn:") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// signedTime is when the report was signed (the last signing step), or
// its last update.
func signedTime(r *report.Report) time.Time {
	var t time.Time
	for _, s := range r.Review {
		if (s.Action == "signed" || s.Action == "amended") && s.At.After(t) {
			t = s.At
		}
	}
	if t.IsZero() {
		t = r.Updated
	}
	return t
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// effectiveDate is the clinically relevant time: the specimen's collection
// (or receipt) date.
func effectiveDate(r *report.Report) string {
	if r.Specimen.Collected != "" {
		return r.Specimen.Collected
	}
	return r.Specimen.Received
}

// IdentifierQuery returns the search "identifier=system|value" with the
// FHIR search escapes (\ , $ |) and percent-encoding of the characters a
// query string cannot hold, for ifNoneExist and conditional URLs.
func IdentifierQuery(system, value string) string {
	return "identifier=" + searchEscape(system) + "|" + searchEscape(value)
}

func searchEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == ',' || c == '$' || c == '|':
			b.WriteString("%5C") // the FHIR escape, itself percent-encoded
			b.WriteByte(c)
		case c <= ' ' || c >= 0x7f || c == '&' || c == '#' || c == '+' || c == '%' || c == '=':
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
