package interpret

import (
	"iter"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate/known"
	"github.com/clinomics/clinomics/internal/report"
)

// LocateFunc places a variant on a protein: its gene, codon number and
// the amino acid it gives (one- or three-letter code); ok is false for a
// variant that changes no single codon. The annotator provides it.
type LocateFunc func(chrom string, pos int64, ref, alt string) (gene string, codon int, altAA string, ok bool)

type codonKey struct {
	gene  string // upper case
	codon int
}

type codonEntry struct {
	altAA string // three-letter
	chrom string // canonical
	pos   int64
	ref   string
	alt   string
	cv    report.ClinVar
}

// CodonIndex holds ClinVar's pathogenic and likely pathogenic variants by
// gene and codon, for PS1 (same amino-acid change) and PM5 (another
// change at the codon). It is safe for concurrent use once built.
type CodonIndex struct {
	m map[codonKey][]codonEntry
	n int
}

// NewCodonIndex indexes the pathogenic and likely pathogenic records (as
// IsPathogenic judges their significance) that locate places on a codon.
func NewCodonIndex(records iter.Seq[known.ClinVarRecord], locate LocateFunc) *CodonIndex {
	x := &CodonIndex{m: map[codonKey][]codonEntry{}}
	for r := range records {
		if !IsPathogenic(r.ClinVar.Significance) {
			continue
		}
		gene, codon, altAA, ok := locate(r.Chrom, r.Pos, r.Ref, r.Alt)
		if !ok || gene == "" || codon <= 0 {
			continue
		}
		k := codonKey{strings.ToUpper(gene), codon}
		x.m[k] = append(x.m[k], codonEntry{altAA: threeLetter(altAA), chrom: known.CanonicalChrom(r.Chrom), pos: r.Pos, ref: r.Ref, alt: r.Alt, cv: r.ClinVar})
		x.n++
	}
	return x
}

// Len is the number of variants indexed.
func (x *CodonIndex) Len() int { return x.n }

// Lookup finds, for a variant changing codon of gene to altAA, a
// pathogenic ClinVar variant with the same amino-acid change by another
// nucleotide change (same, for PS1; a Pathogenic one preferred over a
// Likely pathogenic one; nil when none) and those with another amino-acid
// change at the codon (others, for PM5). The variant itself (chrom, pos,
// ref, alt, normalised as the ClinVar source normalises them) is not
// counted.
func (x *CodonIndex) Lookup(gene string, codon int, altAA, chrom string, pos int64, ref, alt string) (same *report.ClinVar, others []report.ClinVar) {
	aa := threeLetter(altAA)
	c := known.CanonicalChrom(chrom)
	if p, r, a, err := known.Normalize(chrom, pos, ref, alt, nil); err == nil {
		pos, ref, alt = p, r, a
	}
	for _, e := range x.m[codonKey{strings.ToUpper(gene), codon}] {
		if e.chrom == c && e.pos == pos && e.ref == ref && e.alt == alt {
			continue
		}
		if e.altAA != aa {
			others = append(others, e.cv)
			continue
		}
		if same == nil || !strings.HasPrefix(sigTerm(same.Significance), "Pathogenic") && strings.HasPrefix(sigTerm(e.cv.Significance), "Pathogenic") {
			cv := e.cv
			same = &cv
		}
	}
	return same, others
}
