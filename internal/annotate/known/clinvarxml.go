package known

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Hard limits on what one ClinVar XML input can make the reader hold
// (variables so tests can lower them).
var (
	maxSetBytes  int64 = 256 << 20 // bytes of one ClinVarSet
	maxTextBytes       = 1 << 20   // bytes of one element's text
	maxDepth           = 64        // element nesting inside a ClinVarSet
	maxListItems       = 10000     // submissions, locations, genes ... in one set
)

// ClinVarSet is one ClinVarSet element of ClinVar's release XML: one
// variant (or genotype, or haplotype) and one condition (the RCV), with
// the submissions (SCVs) about them.
type ClinVarSet struct {
	ID   string // ClinVarSet ID
	RCV  string // RCV accession
	Line int    // line of the ClinVarSet start tag

	// Kind is the MeasureSet Type ("Variant") for a single variant, or
	// the GenotypeSet or MeasureSet Type ("CompoundHeterozygote",
	// "Haplotype", ...) for a combination, which has no single position.
	Kind         string
	Measures     int    // Measure elements in the MeasureSet
	VariationID  string // MeasureSet (or GenotypeSet) ID
	AlleleID     string // Measure ID
	VariantType  string // Measure Type, e.g. "single nucleotide variant"
	Locations    []SequenceLocation
	Genes        []Gene
	RS           string   // dbSNP rs number, without "rs"
	Consequences []string // e.g. "SO:0001583|missense_variant"
	Conditions   []string // preferred trait names

	// RCV-level classification as ClinVar computed it for this set.
	RCVSignificance string
	RCVReviewStatus string

	Submissions []Submission
}

// SequenceLocation is where a variant lies on one assembly, in VCF terms.
type SequenceLocation struct {
	Assembly string // "GRCh37", "GRCh38"
	Chrom    string // as ClinVar writes it: "1".."22", "X", "Y", "MT"
	Pos      int64  // positionVCF; 0 when ClinVar gives none
	Ref, Alt string // referenceAlleleVCF, alternateAlleleVCF
	Length   int64  // variantLength
}

// Gene is a gene the variant lies in.
type Gene struct {
	Symbol string
	ID     string // NCBI Gene ID
}

// Submission is one submitted assertion (SCV) about the variant.
type Submission struct {
	SCV            string // accession, else the ClinVarAssertion ID
	Submitter      string
	Status         string // RecordStatus, e.g. "current"
	ReviewStatus   string // as written, e.g. "criteria provided, single submitter"
	Classification string // as written, e.g. "likely Pathogenic"
	// Terms is Classification in ClinVar VCF spelling, e.g.
	// ["Likely_pathogenic"] or ["Pathogenic", "low_penetrance"]; empty for
	// "not provided".
	Terms     []string
	Evaluated string // DateLastEvaluated
}

// ClinVarXMLReader reads ClinVarSets one at a time from a ClinVar release
// XML stream (ReleaseSet root, or a single ClinVarSet), token by token.
//
// Malformed or truncated XML and exceeded limits are sticky errors: every
// later Next returns the same error. A set with a classification outside
// ClinVar's terms is returned as an error wrapping
// ErrUnknownClassification, and Next may be called again to continue with
// the following set.
type ClinVarXMLReader struct {
	d       *xml.Decoder
	file    string
	dated   string
	started bool
	release int // 1 inside <ReleaseSet>, 2 after </ReleaseSet>
	err     error
}

// NewClinVarXMLReader reads XML from r; file names the input in errors.
func NewClinVarXMLReader(r io.Reader, file string) *ClinVarXMLReader {
	d := xml.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	d.Strict = true
	return &ClinVarXMLReader{d: d, file: file}
}

// Dated is the release date (ReleaseSet Dated attribute), once known.
func (r *ClinVarXMLReader) Dated() string { return r.dated }

func (r *ClinVarXMLReader) errAt(err error) error {
	line, col := r.d.InputPos()
	return &ParseError{File: r.file, Line: line, Column: col, Err: err}
}

// token returns the next token, turning decoder errors into ParseErrors.
func (r *ClinVarXMLReader) token() (xml.Token, error) {
	tok, err := r.d.Token()
	if err == nil || err == io.EOF {
		return tok, err
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return nil, &ParseError{File: r.file, Line: se.Line, Err: fmt.Errorf("%w: %s", ErrSyntax, se.Msg)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, r.errAt(fmt.Errorf("%w: %w", ErrSyntax, err))
	}
	return nil, r.errAt(err) // a read error, or XML the decoder refuses (an unsupported version or encoding)
}

// Next returns the next ClinVarSet, or io.EOF after the last.
func (r *ClinVarXMLReader) Next() (*ClinVarSet, error) {
	if r.err != nil {
		return nil, r.err
	}
	set, err := r.next()
	if err != nil && !errors.Is(err, ErrUnknownClassification) {
		r.err = err
	}
	return set, err
}

func (r *ClinVarXMLReader) next() (*ClinVarSet, error) {
	for {
		tok, err := r.token()
		if err == io.EOF {
			if !r.started {
				return nil, &ParseError{File: r.file, Err: fmt.Errorf("%w: no ReleaseSet or ClinVarSet element", ErrNotClinVar)}
			}
			if r.release == 1 {
				return nil, r.errAt(fmt.Errorf("%w: input ends before </ReleaseSet> (truncated)", ErrSyntax))
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		if end, ok := tok.(xml.EndElement); ok && end.Name.Local == "ReleaseSet" {
			r.release = 2
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !r.started {
			r.started = true
			switch start.Name.Local {
			case "ReleaseSet":
				r.dated, r.release = attr(start, "Dated"), 1
				continue
			case "ClinVarSet":
			default:
				return nil, r.errAt(fmt.Errorf("%w: root element is %s", ErrNotClinVar, start.Name.Local))
			}
		}
		if start.Name.Local == "ClinVarSet" {
			return r.readSet(start)
		}
		if err := r.d.Skip(); err != nil {
			return nil, r.wrap(err)
		}
	}
}

func (r *ClinVarXMLReader) wrap(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return &ParseError{File: r.file, Line: se.Line, Err: fmt.Errorf("%w: %s", ErrSyntax, se.Msg)}
	}
	return r.errAt(fmt.Errorf("%w: %w", ErrSyntax, err))
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// setParser holds the state of one ClinVarSet being read.
type setParser struct {
	set      *ClinVarSet
	path     []string // element names below ClinVarSet
	text     []byte   // text of the element being captured
	capture  bool
	gene     Gene
	mcTerm   string
	mcSO     string
	attrType string // Type of the current AttributeSet/Attribute or ElementValue
	sub      *Submission
	subDescs []string
	line     int             // the decoder's line
	descLine int             // line of the submission's first classification
	seen     map[string]bool // consequences and conditions already listed
}

const (
	rca     = "ReferenceClinVarAssertion/"
	measure = rca + "MeasureSet/Measure"
	scv     = "ClinVarAssertion"
)

func (r *ClinVarXMLReader) readSet(start xml.StartElement) (*ClinVarSet, error) {
	line, _ := r.d.InputPos()
	begin := r.d.InputOffset()
	p := &setParser{set: &ClinVarSet{ID: attr(start, "ID"), Line: line}, seen: map[string]bool{}}
	var unknown error
	for {
		tok, err := r.token()
		if err == io.EOF {
			return nil, r.errAt(fmt.Errorf("%w: input ends inside ClinVarSet %s (line %d)", ErrSyntax, p.set.ID, line))
		}
		if err != nil {
			return nil, err
		}
		if r.d.InputOffset()-begin > maxSetBytes {
			return nil, r.errAt(fmt.Errorf("%w: ClinVarSet %s is longer than %d bytes", ErrLimit, p.set.ID, maxSetBytes))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(p.path) >= maxDepth {
				return nil, r.errAt(fmt.Errorf("%w: elements nested deeper than %d", ErrLimit, maxDepth))
			}
			p.path = append(p.path, t.Name.Local)
			if err := p.start(strings.Join(p.path, "/"), t); err != nil {
				return nil, r.errAt(err)
			}
		case xml.CharData:
			if p.capture {
				if len(p.text)+len(t) > maxTextBytes {
					return nil, r.errAt(fmt.Errorf("%w: element text longer than %d bytes", ErrLimit, maxTextBytes))
				}
				p.text = append(p.text, t...)
			}
		case xml.EndElement:
			if len(p.path) == 0 { // </ClinVarSet>
				if unknown != nil {
					return nil, unknown
				}
				return p.set, nil
			}
			p.line, _ = r.d.InputPos()
			if err := p.end(strings.Join(p.path, "/")); err != nil {
				if !errors.Is(err, ErrUnknownClassification) {
					return nil, r.errAt(err)
				}
				if unknown == nil {
					unknown = &ParseError{File: r.file, Line: p.descLine, Err: fmt.Errorf("ClinVarSet %s: %w", p.set.ID, err)}
				}
			}
			p.path = p.path[:len(p.path)-1]
		}
	}
}

// textPaths are the elements whose text the parser keeps.
var textPaths = map[string]bool{
	measure + "/MeasureRelationship/Symbol/ElementValue":        true,
	measure + "/AttributeSet/Attribute":                         true,
	rca + "TraitSet/Trait/Name/ElementValue":                    true,
	rca + "ClinicalSignificance/Description":                    true,
	rca + "ClinicalSignificance/ReviewStatus":                   true,
	rca + "Classifications/GermlineClassification/Description":  true,
	rca + "Classifications/GermlineClassification/ReviewStatus": true,
	scv + "/RecordStatus":                                       true,
	scv + "/ClinicalSignificance/ReviewStatus":                  true,
	scv + "/ClinicalSignificance/Description":                   true,
	scv + "/Classification/ReviewStatus":                        true,
	scv + "/Classification/GermlineClassification":              true,
}

func tooMany(n int, what string) error {
	if n >= maxListItems {
		return fmt.Errorf("%w: more than %d %s in one ClinVarSet", ErrLimit, maxListItems, what)
	}
	return nil
}

func (p *setParser) start(path string, e xml.StartElement) error {
	s := p.set
	if textPaths[path] {
		p.capture, p.text = true, p.text[:0]
		p.attrType = attr(e, "Type")
	}
	switch path {
	case rca + "ClinVarAccession":
		s.RCV = attr(e, "Acc")
	case rca + "MeasureSet", rca + "GenotypeSet":
		if s.Kind == "" {
			s.Kind, s.VariationID = attr(e, "Type"), attr(e, "ID")
		}
	case measure:
		s.Measures++
		if s.Measures == 1 {
			s.VariantType, s.AlleleID = attr(e, "Type"), attr(e, "ID")
		}
	case measure + "/SequenceLocation":
		if s.Measures != 1 {
			break
		}
		if err := tooMany(len(s.Locations), "locations"); err != nil {
			return err
		}
		loc := SequenceLocation{Assembly: attr(e, "Assembly"), Chrom: attr(e, "Chr"), Ref: attr(e, "referenceAlleleVCF"), Alt: attr(e, "alternateAlleleVCF")}
		if v := attr(e, "positionVCF"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("%w: SequenceLocation positionVCF %q is not a positive integer", ErrSyntax, v)
			}
			loc.Pos = n
		}
		if v := attr(e, "variantLength"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: SequenceLocation variantLength %q is not a non-negative integer", ErrSyntax, v)
			}
			loc.Length = n
		}
		s.Locations = append(s.Locations, loc)
	case measure + "/MeasureRelationship":
		p.gene = Gene{}
	case measure + "/MeasureRelationship/XRef":
		if attr(e, "DB") == "Gene" && p.gene.ID == "" {
			p.gene.ID = attr(e, "ID")
		}
	case measure + "/XRef":
		if attr(e, "DB") == "dbSNP" && attr(e, "Type") == "rs" && s.RS == "" && s.Measures == 1 {
			s.RS = attr(e, "ID")
		}
	case measure + "/AttributeSet":
		p.mcTerm, p.mcSO = "", ""
	case measure + "/AttributeSet/XRef":
		if attr(e, "DB") == "Sequence Ontology" && p.mcSO == "" {
			p.mcSO = attr(e, "ID")
		}
	case scv:
		if err := tooMany(len(s.Submissions), "submissions"); err != nil {
			return err
		}
		p.sub, p.subDescs = &Submission{SCV: attr(e, "ID")}, nil
	case scv + "/ClinVarAccession":
		if acc := attr(e, "Acc"); acc != "" {
			p.sub.SCV = acc
		}
	case scv + "/ClinVarSubmissionID":
		p.sub.Submitter = attr(e, "submitter")
	case scv + "/ClinicalSignificance", scv + "/Classification":
		if d := attr(e, "DateLastEvaluated"); d != "" {
			p.sub.Evaluated = d
		}
	}
	return nil
}

func (p *setParser) end(path string) error {
	s := p.set
	var text string
	if p.capture && textPaths[path] {
		text = strings.Join(strings.Fields(string(p.text)), " ")
		p.capture = false
	}
	switch path {
	case measure + "/MeasureRelationship/Symbol/ElementValue":
		if p.attrType == "Preferred" && p.gene.Symbol == "" {
			p.gene.Symbol = text
		}
	case measure + "/MeasureRelationship":
		if s.Measures == 1 && p.gene.Symbol != "" {
			if err := tooMany(len(s.Genes), "genes"); err != nil {
				return err
			}
			s.Genes = append(s.Genes, p.gene)
		}
	case measure + "/AttributeSet/Attribute":
		if p.attrType == "MolecularConsequence" {
			p.mcTerm = text
		}
	case measure + "/AttributeSet":
		if p.mcTerm != "" && s.Measures == 1 {
			mc := p.mcSO + "|" + strings.ReplaceAll(p.mcTerm, " ", "_")
			if !p.seen["mc:"+mc] {
				p.seen["mc:"+mc] = true
				if err := tooMany(len(s.Consequences), "consequences"); err != nil {
					return err
				}
				s.Consequences = append(s.Consequences, mc)
			}
		}
	case rca + "TraitSet/Trait/Name/ElementValue":
		if p.attrType == "Preferred" && text != "" && !p.seen["dn:"+text] {
			p.seen["dn:"+text] = true
			if err := tooMany(len(s.Conditions), "conditions"); err != nil {
				return err
			}
			s.Conditions = append(s.Conditions, text)
		}
	case rca + "ClinicalSignificance/Description", rca + "Classifications/GermlineClassification/Description":
		s.RCVSignificance = text
	case rca + "ClinicalSignificance/ReviewStatus", rca + "Classifications/GermlineClassification/ReviewStatus":
		s.RCVReviewStatus = text
	case scv + "/RecordStatus":
		p.sub.Status = text
	case scv + "/ClinicalSignificance/ReviewStatus", scv + "/Classification/ReviewStatus":
		p.sub.ReviewStatus = text
	case scv + "/ClinicalSignificance/Description", scv + "/Classification/GermlineClassification":
		if text != "" {
			if len(p.subDescs) == 0 {
				p.descLine = p.line
			}
			p.subDescs = append(p.subDescs, text)
		}
	case scv:
		sub := p.sub
		sub.Classification = strings.Join(p.subDescs, ", ")
		terms, err := ParseSignificance(sub.Classification)
		s.Submissions = append(s.Submissions, *sub)
		if err != nil {
			return fmt.Errorf("%s: %w", sub.SCV, err)
		}
		s.Submissions[len(s.Submissions)-1].Terms = terms
	}
	return nil
}
