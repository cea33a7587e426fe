package known

import (
	"io"
	"iter"
	"net/url"
	"slices"
	"strings"

	"github.com/clinomics/clinomics/internal/report"
)

// The INFO keys the ClinVar source adds.
const (
	FieldClinVarID         = "CLINVAR_ID"
	FieldClinVarSig        = "CLINVAR_CLNSIG"
	FieldClinVarRevStat    = "CLINVAR_CLNREVSTAT"
	FieldClinVarConditions = "CLINVAR_CLNDN"
)

// clinvarColumns are the index columns of a ClinVar source: the four
// fields it reports, then what ClinVarRecord adds.
var clinvarColumns = []string{FieldClinVarID, FieldClinVarSig, FieldClinVarRevStat, FieldClinVarConditions, "ALLELEID", "GENEINFO", "MC"}

// ClinVar is a ClinVar VCF (as NCBI publishes it, or as ClinVarXMLToVCF
// writes it) indexed by allele: the variation id (ID column), CLNSIG,
// CLNREVSTAT, CLNDN, ALLELEID, GENEINFO and MC.
type ClinVar struct{ ix *Index }

// NewClinVar indexes a ClinVar VCF stream; file names it in errors and
// ref, when not nil, left-aligns indels.
func NewClinVar(r io.Reader, file string, ref Reference) (*ClinVar, error) {
	ix, err := IndexVCF(r, file, clinvarColumns, clinvarValues, ref)
	if err != nil {
		return nil, err
	}
	return &ClinVar{ix: ix}, nil
}

// LoadClinVar indexes a plain or gzip-compressed ClinVar VCF file.
func LoadClinVar(path string, ref Reference) (*ClinVar, error) {
	ix, err := indexVCFFile(path, clinvarColumns, clinvarValues, ref)
	if err != nil {
		return nil, err
	}
	return &ClinVar{ix: ix}, nil
}

func clinvarValues(a *Allele) ([]string, bool, error) {
	out := make([]string, len(clinvarColumns))
	if a.Record.ID != "." {
		out[0] = a.Record.ID
	}
	for i, key := range []string{"CLNSIG", "CLNREVSTAT", "CLNDN", "ALLELEID", "GENEINFO", "MC"} {
		v, _, err := a.Value(key)
		if err != nil {
			return nil, false, err
		}
		out[i+1] = v
	}
	return out, true, nil
}

// Name is "clinvar".
func (c *ClinVar) Name() string { return "clinvar" }

// Fields are CLINVAR_ID, CLINVAR_CLNSIG, CLINVAR_CLNREVSTAT and
// CLINVAR_CLNDN, with the values as ClinVar's VCF writes them.
func (c *ClinVar) Fields() []string { return slices.Clone(clinvarColumns[:4]) }

// Len is the number of alleles indexed.
func (c *ClinVar) Len() int { return c.ix.Len() }

// Lookup returns the ClinVar fields of the allele, nil when ClinVar has
// no record of it.
func (c *ClinVar) Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error) {
	row, err := c.ix.Get(chrom, pos, ref, alt)
	if row == nil || err != nil {
		return nil, err
	}
	return fields(clinvarColumns[:4], row[:4]), nil
}

// Record returns what ClinVar says about the allele for a report, nil
// when ClinVar has no record of it.
func (c *ClinVar) Record(chrom string, pos int64, ref, alt string) (*report.ClinVar, error) {
	row, err := c.ix.Get(chrom, pos, ref, alt)
	if row == nil || err != nil {
		return nil, err
	}
	cv := clinvarReport(row)
	return &cv, nil
}

func clinvarReport(row []string) report.ClinVar {
	return report.ClinVar{ID: row[0], Significance: row[1], ReviewStatus: row[2], Conditions: conditions(row[3])}
}

// conditions splits a CLNDN value into condition names for people to
// read: '|' separates them, '_' stands for a space and %XX escapes.
func conditions(clndn string) []string {
	if clndn == "" || clndn == "." {
		return nil
	}
	var out []string
	for c := range strings.SplitSeq(clndn, "|") {
		c = strings.ReplaceAll(c, "_", " ")
		if u, err := url.PathUnescape(c); err == nil {
			c = u
		}
		out = append(out, c)
	}
	return out
}

// ClinVarRecord is one allele of a ClinVar source.
type ClinVarRecord struct {
	Chrom    string // as CanonicalChrom names it
	Pos      int64  // 1-based, after normalisation
	Ref, Alt string // normalised
	ClinVar  report.ClinVar
	AlleleID string
	GeneInfo string // e.g. "BRCA2:675", several joined by '|'
	MC       string // molecular consequences, e.g. "SO:0001583|missense_variant"
}

// Records iterates over every allele of the source, in chromosome and
// position order.
func (c *ClinVar) Records() iter.Seq[ClinVarRecord] {
	return func(yield func(ClinVarRecord) bool) {
		c.ix.All(func(chrom string, pos int64, ref, alt string, row []string) bool {
			return yield(ClinVarRecord{Chrom: chrom, Pos: pos, Ref: ref, Alt: alt, ClinVar: clinvarReport(row), AlleleID: row[4], GeneInfo: row[5], MC: row[6]})
		})
	}
}
