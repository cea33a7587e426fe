// Package genemodel builds genes, their transcripts, exons and coding
// sequence from a GFF3 or GTF file (Ensembl, GENCODE or RefSeq style),
// picks a canonical transcript per gene, answers overlap queries by
// position, and stores the built model in a compact checksummed binary
// form.
//
// A feature the builder cannot place in a sound model (a missing Parent,
// CDS phases that disagree with CDS lengths, overlapping CDS, CDS outside
// every exon, a transcript without exons) gives a Warning naming the file
// and line, counted by kind. A transcript whose coding model is unsound
// is dropped rather than kept with a wrong model.
package genemodel

import (
	"fmt"
	"sort"
)

// Flank is how far upstream and downstream of a transcript an overlap
// query reaches by default (upstream_gene_variant /
// downstream_gene_variant within 5 kb, as VEP); AppendWithin takes
// another flank.
const Flank = 5000

// Range is a 1-based inclusive genomic interval.
type Range struct{ Start, End int64 }

// Len is the number of bases in r.
func (r Range) Len() int64 { return r.End - r.Start + 1 }

// Gene groups transcripts.
type Gene struct {
	ID, Name, Biotype, Chrom string
	Start, End               int64
	Strand                   int8 // +1 or -1
	Transcripts              []*Transcript
	Canonical                *Transcript
}

// Transcript is one spliced product. Exons and CDS are sorted by genomic
// position whatever the strand.
type Transcript struct {
	ID, Biotype, Chrom string
	Gene               *Gene
	Start, End         int64
	Strand             int8
	Exons              []Range
	CDS                []Range // empty for a non-coding transcript
	// StartPhase is the phase of the first coding base in transcription
	// order (non-zero for a CDS incomplete at its 5' end).
	StartPhase       int
	MANE             bool // MANE Select
	EnsemblCanonical bool // tagged Ensembl_canonical
	Canonical        bool // chosen canonical transcript of its gene

	index int // position in Model.Transcripts
}

// Index is the position of t in its Model's Transcripts, for tables
// kept beside the model.
func (t *Transcript) Index() int { return t.index }

// Coding says whether the transcript has a CDS.
func (t *Transcript) Coding() bool { return len(t.CDS) > 0 }

// CDSLen is the total coding length in bases.
func (t *Transcript) CDSLen() int64 {
	var n int64
	for _, c := range t.CDS {
		n += c.Len()
	}
	return n
}

// ExonLen is the spliced length in bases.
func (t *Transcript) ExonLen() int64 {
	var n int64
	for _, e := range t.Exons {
		n += e.Len()
	}
	return n
}

// Warning kinds.
const (
	WarnMissingParent  = "missing_parent"
	WarnCDSPhase       = "cds_phase"
	WarnCDSOverlap     = "cds_overlap"
	WarnCDSOutsideExon = "cds_outside_exon"
	WarnNoExons        = "no_exons"
	WarnInconsistent   = "inconsistent_feature" // strand or contig differs from the transcript's
)

// Warning is one problem found while building, at a line of the input.
type Warning struct {
	Kind    string
	File    string
	Line    int
	Message string
	// Chrom is the contig of the feature at Line, "" when not known (a
	// model stored by an older build). A contig with warnings and no
	// transcript had every transcript on it dropped.
	Chrom string
}

func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, w.Kind, w.Message)
}

// Model is a built set of gene models with an overlap index.
type Model struct {
	Genes       []*Gene
	Transcripts []*Transcript
	Warnings    []Warning
	index       map[string]*chromIndex
}

// WarningCounts counts warnings by kind.
func (m *Model) WarningCounts() map[string]int {
	c := map[string]int{}
	for _, w := range m.Warnings {
		c[w.Kind]++
	}
	return c
}

// HasChrom reports whether any transcript lies on chrom.
func (m *Model) HasChrom(chrom string) bool {
	_, ok := m.index[chrom]
	return ok
}

// Chroms lists the contigs with transcripts, sorted.
func (m *Model) Chroms() []string {
	var out []string
	for c := range m.index {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// chooseCanonical marks one transcript per gene: MANE Select, then the
// Ensembl_canonical tag, then the longest CDS of a protein-coding
// transcript, then the longest spliced transcript; ties go to the
// smallest ID so the choice does not depend on file order.
func chooseCanonical(g *Gene) {
	rank := func(t *Transcript) [4]int64 {
		var r [4]int64
		if t.MANE {
			r[0] = 1
		}
		if t.EnsemblCanonical {
			r[1] = 1
		}
		if t.Biotype == "protein_coding" || t.Biotype == "mRNA" {
			r[2] = t.CDSLen()
		}
		r[3] = t.ExonLen()
		return r
	}
	var best *Transcript
	var br [4]int64
	for _, t := range g.Transcripts {
		t.Canonical = false
		r := rank(t)
		better := best == nil
		for i := 0; !better && i < 4; i++ {
			if r[i] != br[i] {
				better = r[i] > br[i]
				break
			}
			if i == 3 && t.ID < best.ID {
				better = true
			}
		}
		if better {
			best, br = t, r
		}
	}
	if best != nil {
		best.Canonical = true
	}
	g.Canonical = best
}
