// Package findings picks the reportable variants of one sample out of an
// annotated VCF (the CSQ field of clinomics annotate, the known-variant
// fields of its sources, the sample's genotype) and gives each the
// ACMG/AMP criteria that can be suggested automatically.
//
// Every criterion comes out unconfirmed and no variant is classified: the
// suggested class is written in the variant's comment for the reviewer,
// who confirms criteria and sets the classification in the report draft.
// A variant is reportable when the sample carries it, it passed the
// caller's filters, it lies in the panel (when there is one), it is not
// more frequent than MaxAF in the population, and it changes a protein or
// a splice site or ClinVar calls it (likely) pathogenic.
//
// An allele the sample carries that has no consequence at all in the VCF
// (the annotator refused it: REF not matching the reference, a contig
// the reference or the gene model lacks) was not assessed: it is listed
// in Summary.Unannotated with the reason, never counted as of no impact.
package findings

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate/interpret"
	"github.com/clinomics/clinomics/internal/format/vcf"
	"github.com/clinomics/clinomics/internal/report"
)

// ErrNoCSQ: the VCF was not annotated by clinomics annotate.
var ErrNoCSQ = errors.New("no CSQ field in the header (annotate the VCF first)")

// Options select and interpret.
type Options struct {
	Sample string           // sample column; "" is the first
	Panel  *interpret.Panel // nil: every gene
	// MaxAF drops variants more frequent in the population (POP_AF_MAX,
	// else POP_AF); 0 keeps them all.
	MaxAF float64
	ACMG  interpret.Config
	// LoFGenes are the genes where loss of function is a known disease
	// mechanism (for PVS1); nil means none is known, and PVS1 is noted
	// as not applied.
	LoFGenes map[string]bool
	// Codons finds ClinVar's pathogenic variants at the same codon (PS1,
	// PM5); nil skips those criteria.
	Codons *interpret.CodonIndex
	Origin string // "germline" (default) or "somatic"
	// NotAnnotated tells about an allele without a consequence in the
	// VCF: why the annotator gave none ("" when not known), the genes at
	// its position, and whether they are known (located false: the genes
	// could not be looked up, so the panel cannot leave it out). nil
	// knows nothing.
	NotAnnotated func(chrom string, pos int64, ref, alt string) (reason string, genes []string, located bool)
}

// Unannotated is an allele the sample carries that has no consequence in
// the VCF, and why.
type Unannotated struct {
	Chrom    string
	Pos      int64
	Ref, Alt string
	Genes    []string // at its position, when known
	Reason   string
}

// Summary counts what was read and why variants were left out.
type Summary struct {
	Records, Alleles int
	Reportable       int
	NotCarried       int // the sample does not have the allele (or no genotype)
	Filtered         int // FILTER not PASS
	OutsidePanel     int
	Frequent         int // above MaxAF
	NoImpact         int // no protein or splice change and not pathogenic in ClinVar
	// NotAnnotated counts the alleles without a consequence (listed in
	// Unannotated): not assessed.
	NotAnnotated int
	Unannotated  []Unannotated
}

// reportableTerms change a protein or a splice site.
var reportableTerms = []string{
	"transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained", "frameshift_variant",
	"stop_lost", "start_lost", "inframe_insertion", "inframe_deletion", "missense_variant", "protein_altering_variant",
	"splice_region_variant", "incomplete_terminal_codon_variant",
}

// Read reads an annotated VCF and returns the sample's reportable
// variants, in file order.
func Read(r io.Reader, file string, opt Options) ([]report.Variant, Summary, error) {
	var sum Summary
	vr, err := vcf.NewReader(r, file)
	if err != nil {
		return nil, sum, err
	}
	h := vr.Header()
	fields, err := csqFields(h)
	if err != nil {
		return nil, sum, fmt.Errorf("%s: %w", file, err)
	}
	sample := 0
	if opt.Sample != "" {
		if sample = slices.Index(h.Samples, opt.Sample); sample < 0 {
			return nil, sum, fmt.Errorf("%s: no sample %q in the VCF", file, opt.Sample)
		}
	} else if len(h.Samples) == 0 {
		return nil, sum, fmt.Errorf("%s: the VCF has no sample column", file)
	}
	if opt.Origin == "" {
		opt.Origin = "germline"
	}
	// A population source was searched when its fields are declared: a
	// variant without them is then absent from it (PM2).
	_, popQueried := h.Info["POP_AF"]
	var out []report.Variant
	for {
		rec, err := vr.Next()
		if err == io.EOF {
			return out, sum, nil
		}
		if err != nil {
			return out, sum, err
		}
		sum.Records++
		info := parseInfo(rec.Info)
		gt, _, gtOK := rec.Genotype(sample)
		for i, alt := range rec.Alt {
			sum.Alleles++
			n := count(gt, i+1)
			switch {
			case !gtOK || n == 0:
				sum.NotCarried++
				continue
			case !rec.IsPass():
				sum.Filtered++
				continue
			}
			es := entries(info["CSQ"], fields, alt)
			if len(es) == 0 && alt != "*" && alt != "." {
				// Every allele the annotator took has an effect, at
				// least intergenic_variant: this one was refused.
				u := Unannotated{Chrom: rec.Chrom, Pos: rec.Pos, Ref: rec.Ref, Alt: alt}
				located := false
				if opt.NotAnnotated != nil {
					u.Reason, u.Genes, located = opt.NotAnnotated(rec.Chrom, rec.Pos, rec.Ref, alt)
				}
				if u.Reason == "" {
					u.Reason = "no consequence in the annotated VCF"
				}
				if opt.Panel != nil && located && !slices.ContainsFunc(u.Genes, func(g string) bool { return opt.Panel.Includes(g, rec.Chrom, rec.Pos) }) &&
					!opt.Panel.Covers(rec.Chrom, rec.Pos) {
					sum.OutsidePanel++
					continue
				}
				sum.NotAnnotated++
				sum.Unannotated = append(sum.Unannotated, u)
				continue
			}
			e, ok := pick(es)
			if !ok || e["SYMBOL"] == "" {
				sum.NoImpact++
				continue
			}
			if opt.Panel != nil && !opt.Panel.Includes(e["SYMBOL"], rec.Chrom, rec.Pos) {
				sum.OutsidePanel++
				continue
			}
			v := variant(rec, i, alt, e, info, opt.Origin)
			v.Zygosity = zygosity(gt, n)
			v.Depth, v.AltDepth, v.AlleleFreq = depths(rec, sample, i)
			if opt.MaxAF > 0 && v.PopulationAF > opt.MaxAF {
				sum.Frequent++
				continue
			}
			pathogenic := v.ClinVar != nil && interpret.IsPathogenic(v.ClinVar.Significance)
			if !pathogenic && !slices.ContainsFunc(v.Consequence, func(t string) bool { return slices.Contains(reportableTerms, t) }) {
				sum.NoImpact++
				continue
			}
			suggest(&v, rec, alt, e, info, i, popQueried, opt)
			out = append(out, v)
			sum.Reportable++
		}
	}
}

// CSQFieldsRead are the CSQ fields (annotate.CSQFields) findings are
// made from: an annotated VCF written without one of them gives findings
// without what it says.
var CSQFieldsRead = []string{"Allele", "Consequence", "SYMBOL", "Feature", "HGVSc", "HGVSp", "HGVSg",
	"Protein_position", "Amino_acids", "CANONICAL", "MANE"}

// csqFields reads the CSQ format from its ##INFO description.
func csqFields(h *vcf.Header) ([]string, error) {
	for _, m := range h.Meta {
		if !strings.HasPrefix(m, "INFO=<ID=CSQ,") {
			continue
		}
		_, f, ok := strings.Cut(m, "Format: ")
		if !ok {
			break
		}
		f, _, _ = strings.Cut(f, `"`)
		return strings.Split(strings.TrimSpace(f), "|"), nil
	}
	return nil, ErrNoCSQ
}

// parseInfo splits INFO into its keys' raw values.
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for kv := range strings.SplitSeq(s, ";") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// perAllele is the i-th value of a Number=A field, decoded; "" for ".".
func perAllele(info map[string]string, key string, i int) string {
	vals := strings.Split(info[key], ",")
	if i >= len(vals) || vals[i] == "." {
		return ""
	}
	return unescape(vals[i])
}

// unescape undoes the annotator's percent-encoding.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// entries are the CSQ entries of one allele, as field maps.
func entries(csq string, fields []string, alt string) []map[string]string {
	var out []map[string]string
	for ent := range strings.SplitSeq(csq, ",") {
		parts := strings.Split(ent, "|")
		if len(parts) != len(fields) {
			continue
		}
		m := make(map[string]string, len(fields))
		for j, f := range fields {
			m[f] = unescape(parts[j])
		}
		if m["Allele"] == alt {
			out = append(out, m)
		}
	}
	return out
}

// pick is the transcript to report: MANE Select, else the gene's
// canonical transcript, else the first one with a gene.
func pick(es []map[string]string) (map[string]string, bool) {
	for _, want := range []func(map[string]string) bool{
		func(e map[string]string) bool { return e["MANE"] != "" },
		func(e map[string]string) bool { return e["CANONICAL"] == "YES" },
		func(e map[string]string) bool { return e["SYMBOL"] != "" },
	} {
		for _, e := range es {
			if want(e) {
				return e, true
			}
		}
	}
	return nil, false
}

func variant(rec *vcf.Record, i int, alt string, e, info map[string]string, origin string) report.Variant {
	v := report.Variant{Chrom: rec.Chrom, Pos: rec.Pos, Ref: rec.Ref, Alt: alt, Gene: e["SYMBOL"], Transcript: e["Feature"],
		HGVSc: e["HGVSc"], HGVSp: e["HGVSp"], HGVSg: e["HGVSg"], Origin: origin, AlleleFreq: -1, PopulationAF: -1}
	if t := e["Consequence"]; t != "" {
		v.Consequence = strings.Split(t, "&")
	}
	if sig := perAllele(info, "CLINVAR_CLNSIG", i); sig != "" {
		v.ClinVar = &report.ClinVar{ID: perAllele(info, "CLINVAR_ID", i), Significance: sig,
			ReviewStatus: perAllele(info, "CLINVAR_CLNREVSTAT", i)}
		if dn := perAllele(info, "CLINVAR_CLNDN", i); dn != "" {
			v.ClinVar.Conditions = strings.Split(dn, "|")
		}
	}
	for _, k := range []string{"POP_AF_MAX", "POP_AF"} {
		if af, err := strconv.ParseFloat(perAllele(info, k, i), 64); err == nil {
			v.PopulationAF = af
			break
		}
	}
	return v
}

// count is how many times allele a is in the genotype.
func count(gt []int, a int) int {
	n := 0
	for _, g := range gt {
		if g == a {
			n++
		}
	}
	return n
}

func zygosity(gt []int, n int) string {
	if slices.Contains(gt, -1) { // "1/.": the other allele is not called
		return ""
	}
	switch {
	case len(gt) == 1:
		return "hemizygous"
	case n == len(gt):
		return "homozygous"
	}
	return "heterozygous"
}

// depths reads DP and AD (and, without AD, AF) of the sample.
func depths(rec *vcf.Record, sample, i int) (depth, altDepth int, af float64) {
	af = -1
	vals := strings.Split(rec.Samples[sample], ":")
	get := func(key string) string {
		if j := slices.Index(rec.Format, key); j >= 0 && j < len(vals) {
			return vals[j]
		}
		return ""
	}
	depth, _ = strconv.Atoi(get("DP"))
	if ad := strings.Split(get("AD"), ","); len(ad) > i+1 {
		total := 0
		for _, s := range ad {
			n, _ := strconv.Atoi(s)
			total += n
		}
		altDepth, _ = strconv.Atoi(ad[i+1])
		if total > 0 {
			af = float64(altDepth) / float64(total)
		}
		depth = max(depth, total)
	} else if f, err := strconv.ParseFloat(firstOf(get("AF"), i), 64); err == nil {
		af = f
	}
	if altDepth > depth {
		altDepth = depth
	}
	return depth, altDepth, af
}

func firstOf(s string, i int) string {
	vals := strings.Split(s, ",")
	if i < len(vals) {
		return vals[i]
	}
	return ""
}

// suggest adds the ACMG/AMP suggestions, unconfirmed, and the suggested
// class in the comment.
func suggest(v *report.Variant, rec *vcf.Record, alt string, e, info map[string]string, i int, popQueried bool, opt Options) {
	in := interpret.Input{Gene: v.Gene, Consequences: v.Consequence, HGVSp: v.HGVSp, PopulationAF: v.PopulationAF,
		PopulationQueried: popQueried,
		PopulationAC:      -1, PopulationHom: -1, InLoFGene: opt.LoFGenes[strings.ToUpper(v.Gene)]}
	if n, err := strconv.Atoi(perAllele(info, "POP_AC", i)); err == nil {
		in.PopulationAC = n
	}
	if n, err := strconv.Atoi(perAllele(info, "POP_NHOMALT", i)); err == nil {
		in.PopulationHom = n
	}
	if pos, err := strconv.Atoi(e["Protein_position"]); err == nil {
		in.ProteinPos = pos
		if ref, alt, ok := strings.Cut(e["Amino_acids"], "/"); ok {
			in.RefAA, in.AltAA = ref, alt
		}
	}
	if opt.Codons != nil && in.ProteinPos > 0 && in.AltAA != "" {
		in.ClinVarSameChange, in.ClinVarSameCodon = opt.Codons.Lookup(v.Gene, in.ProteinPos, in.AltAA, rec.Chrom, rec.Pos, rec.Ref, alt)
	}
	ev, notes := interpret.Suggest(in, opt.ACMG)
	v.Evidence = ev
	class, rule := interpret.Classify(ev)
	var b strings.Builder
	fmt.Fprintf(&b, "Suggested, to be confirmed: %s", class)
	if rule != "" {
		fmt.Fprintf(&b, " (%s)", rule)
	}
	b.WriteString(".")
	for _, n := range notes {
		fmt.Fprintf(&b, " %s not applied: %s.", n.Criterion, strings.TrimSuffix(n.Text, "."))
	}
	v.Comment = b.String()
}
