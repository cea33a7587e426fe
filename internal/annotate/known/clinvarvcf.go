package known

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ClinVarVariant is one variant of a ClinVar-style VCF: the ClinVarSets of
// one variation id, combined.
type ClinVarVariant struct {
	Chrom         string
	Pos           int64
	Ref, Alt      string
	VariationID   string
	AlleleID      string
	Aggregate     Aggregate
	Conditions    []string // preferred condition names, first seen first
	Genes         []Gene   // by symbol
	Consequences  []string // "SO:0001583|missense_variant"
	RS            string
	VariantType   string // e.g. "single nucleotide variant"
	VariantLength int64
}

// maxConditions bounds the condition names kept for one variant.
const maxConditions = 1000

// ClinVarAggregator gathers ClinVarSets by variation id, keeping what a
// ClinVar VCF line needs on one assembly.
type ClinVarAggregator struct {
	assembly string
	byID     map[string]*aggVariant
	skipped  int
	strs     map[string]string
}

type aggVariant struct {
	v    ClinVarVariant
	subs []Submission
}

// NewClinVarAggregator gathers variants located on assembly: "GRCh37" or
// "GRCh38" (also "hg19", "hg38", "37", "38", in any case).
func NewClinVarAggregator(assembly string) (*ClinVarAggregator, error) {
	a, err := canonicalAssembly(assembly)
	if err != nil {
		return nil, err
	}
	return &ClinVarAggregator{assembly: a, byID: map[string]*aggVariant{}, strs: map[string]string{}}, nil
}

func canonicalAssembly(s string) (string, error) {
	switch strings.ToLower(s) {
	case "grch37", "hg19", "37":
		return "GRCh37", nil
	case "grch38", "hg38", "38":
		return "GRCh38", nil
	}
	return "", fmt.Errorf("assembly %q: want GRCh37 or GRCh38", s)
}

// Assembly is the assembly variants are placed on.
func (a *ClinVarAggregator) Assembly() string { return a.assembly }

// Skipped counts the sets Add left out.
func (a *ClinVarAggregator) Skipped() int { return a.skipped }

func (a *ClinVarAggregator) str(s string) string {
	if v, ok := a.strs[s]; ok {
		return v
	}
	if len(a.strs) < maxInterned {
		a.strs[s] = s
	}
	return s
}

// Add takes one set and reports whether it was used. Sets that are not a
// single variant (genotypes, haplotypes) and variants without a VCF
// position and alleles on the assembly are left out.
func (a *ClinVarAggregator) Add(s *ClinVarSet) bool {
	loc, ok := a.location(s)
	if s.Kind != "Variant" || s.Measures != 1 || s.VariationID == "" || !ok {
		a.skipped++
		return false
	}
	av := a.byID[s.VariationID]
	if av == nil {
		av = &aggVariant{v: ClinVarVariant{
			Chrom: loc.Chrom, Pos: loc.Pos, Ref: loc.Ref, Alt: loc.Alt,
			VariationID: s.VariationID, AlleleID: s.AlleleID, RS: s.RS,
			VariantType: a.str(s.VariantType), VariantLength: loc.Length,
			Genes: slices.Clone(s.Genes), Consequences: slices.Clone(s.Consequences),
		}}
		a.byID[s.VariationID] = av
	}
	for _, c := range s.Conditions {
		if len(av.v.Conditions) < maxConditions && !slices.Contains(av.v.Conditions, c) {
			av.v.Conditions = append(av.v.Conditions, c)
		}
	}
	for _, sub := range s.Submissions { // duplicates are dropped by Variants
		av.subs = append(av.subs, Submission{
			SCV: sub.SCV, Submitter: a.str(sub.Submitter), Status: a.str(sub.Status),
			ReviewStatus: a.str(sub.ReviewStatus), Terms: sub.Terms, Evaluated: sub.Evaluated,
		})
	}
	return true
}

func (a *ClinVarAggregator) location(s *ClinVarSet) (SequenceLocation, bool) {
	for _, l := range s.Locations {
		if l.Assembly != a.assembly || l.Pos <= 0 || !validChrom(l.Chrom) {
			continue
		}
		ref, alt := strings.ToUpper(l.Ref), strings.ToUpper(l.Alt)
		if ref == "" || alt == "" || ref == alt || !acgtn(ref) || !acgtn(alt) {
			continue
		}
		l.Ref, l.Alt = ref, alt
		return l, true
	}
	return SequenceLocation{}, false
}

// acgtn reports whether s is bases a VCF REF may hold.
func acgtn(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("ACGTN", s[i]) < 0 {
			return false
		}
	}
	return true
}

// validChrom accepts the chromosome names ClinVar uses (letters, digits,
// '.', '_', '-').
func validChrom(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// Variants returns the gathered variants with their aggregate
// classification, in chromosome, position and allele order.
func (a *ClinVarAggregator) Variants() []ClinVarVariant {
	out := make([]ClinVarVariant, 0, len(a.byID))
	for _, av := range a.byID {
		v := av.v
		slices.SortStableFunc(av.subs, func(x, y Submission) int { return strings.Compare(x.SCV, y.SCV) })
		av.subs = slices.CompactFunc(av.subs, func(x, y Submission) bool { return x.SCV == y.SCV && x.SCV != "" })
		v.Aggregate = AggregateSubmissions(av.subs)
		slices.SortFunc(v.Genes, func(x, y Gene) int { return cmp.Compare(x.Symbol, y.Symbol) })
		out = append(out, v)
	}
	slices.SortFunc(out, func(x, y ClinVarVariant) int {
		return cmp.Or(compareChrom(x.Chrom, y.Chrom), cmp.Compare(x.Pos, y.Pos), strings.Compare(x.Ref, y.Ref),
			strings.Compare(x.Alt, y.Alt), cmp.Compare(len(x.VariationID), len(y.VariationID)), strings.Compare(x.VariationID, y.VariationID))
	})
	return out
}

// clinvarHeader declares the INFO keys WriteClinVarVCF writes.
const clinvarHeader = `##INFO=<ID=ALLELEID,Number=1,Type=Integer,Description="the ClinVar Allele ID">
##INFO=<ID=CLNDN,Number=.,Type=String,Description="ClinVar's preferred disease name for the concept specified by disease identifiers">
##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status for the Variation ID">
##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance for this single variant">
##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene(s) for the variant reported as gene symbol:gene id. The gene symbol and id are delimited by a colon (:) and each pair is delimited by a vertical bar (|)">
##INFO=<ID=MC,Number=.,Type=String,Description="comma separated list of molecular consequence in the form of Sequence Ontology ID|molecular_consequence">
##INFO=<ID=RS,Number=.,Type=String,Description="dbSNP ID (i.e. rs number)">
##INFO=<ID=SUBDETAILS,Number=.,Type=String,Description="ACMG/AMP terms of the submissions the significance was computed from, with their counts">
##INFO=<ID=VARIANTLENGTH,Number=1,Type=Integer,Description="Variant length as given by ClinVar">
##INFO=<ID=VARIANTTYPE,Number=1,Type=String,Description="Variant type (ClinVar Measure Type)">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO
`

// WriteClinVarVCF writes variants as a ClinVar-style VCF (the INFO keys of
// NCBI's ClinVar VCF, plus SUBDETAILS, VARIANTTYPE and VARIANTLENGTH).
// dated is the release date ("" leaves ##fileDate out).
func WriteClinVarVCF(w io.Writer, dated, assembly string, variants []ClinVarVariant) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "##fileformat=VCFv4.1\n")
	if dated != "" {
		fmt.Fprintf(bw, "##fileDate=%s\n", infoValue(dated))
	}
	fmt.Fprintf(bw, "##source=clinomics ClinVar XML conversion\n##reference=%s\n", infoValue(assembly))
	bw.WriteString(clinvarHeader)
	var info []string
	for i := range variants {
		v := &variants[i]
		info = info[:0]
		add := func(k, val string) {
			if val != "" {
				info = append(info, k+"="+val)
			}
		}
		if _, err := strconv.ParseInt(v.AlleleID, 10, 32); err == nil {
			add("ALLELEID", v.AlleleID)
		}
		add("CLNDN", joinEscaped(v.Conditions, "|"))
		add("CLNREVSTAT", infoValue(v.Aggregate.ReviewStatus))
		add("CLNSIG", infoValue(v.Aggregate.Significance))
		genes := make([]string, 0, len(v.Genes))
		for _, g := range v.Genes {
			genes = append(genes, escapeElem(g.Symbol)+":"+escapeElem(g.ID))
		}
		add("GENEINFO", strings.Join(genes, "|"))
		mc := make([]string, len(v.Consequences))
		for i, c := range v.Consequences {
			mc[i] = strings.ReplaceAll(infoValue(c), ",", "%2C")
		}
		add("MC", strings.Join(mc, ","))
		add("RS", infoValue(v.RS))
		add("SUBDETAILS", infoValue(v.Aggregate.SubDetails))
		if v.VariantLength > 0 {
			add("VARIANTLENGTH", strconv.FormatInt(v.VariantLength, 10))
		}
		add("VARIANTTYPE", infoValue(v.VariantType))
		col := "."
		if len(info) > 0 {
			col = strings.Join(info, ";")
		}
		id := v.VariationID
		if !validID(id) {
			id = "."
		}
		fmt.Fprintf(bw, "%s\t%d\t%s\t%s\t%s\t.\t.\t%s\n", v.Chrom, v.Pos, id, v.Ref, v.Alt, col)
	}
	return bw.Flush()
}

func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, " \t;\n\r") && id != "."
}

// infoValue makes text safe as an INFO value the way ClinVar's VCF does:
// spaces become '_'; '%', ';', '=' and control characters are
// percent-encoded.
func infoValue(s string) string {
	if !strings.ContainsAny(s, " %;=\t\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c == '%' || c == ';' || c == '=' || c < ' ':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeElem is infoValue for an element of a '|' or ':' separated list.
func escapeElem(s string) string {
	s = infoValue(s)
	s = strings.ReplaceAll(s, "|", "%7C")
	return strings.ReplaceAll(s, ":", "%3A")
}

func joinEscaped(list []string, sep string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = strings.ReplaceAll(infoValue(s), "|", "%7C")
	}
	return strings.Join(parts, sep)
}

// ClinVarXMLToVCF converts ClinVar release XML (ClinVarSets) to a
// ClinVar-style VCF on assembly ("GRCh37" or "GRCh38"), which NewClinVar
// reads. The sets of one variation id are combined (the whole input is
// gathered before writing, one small record per variant); sets without a
// single-variant position on the assembly are left out. A classification
// outside ClinVar's vocabulary is an error, as is malformed or truncated
// XML; errors name the input (r's Name() when it has one) and line.
func ClinVarXMLToVCF(r io.Reader, w io.Writer, assembly string) error {
	agg, err := NewClinVarAggregator(assembly)
	if err != nil {
		return err
	}
	name := "ClinVar XML"
	if n, ok := r.(interface{ Name() string }); ok {
		name = n.Name()
	}
	xr := NewClinVarXMLReader(r, name)
	for {
		set, err := xr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		agg.Add(set)
	}
	return WriteClinVarVCF(w, xr.Dated(), agg.Assembly(), agg.Variants())
}
