// Package csq predicts the consequence of a small variant on each
// transcript it touches: Sequence Ontology terms, HGVS c., p. and g.
// notation (indels shifted 3' as HGVS asks, insertions that repeat the
// sequence before them written as dup), the protein position and a
// bcftools-style amino-acid change for comparison with bcftools csq.
//
// A REF allele that does not match the reference, or a contig the gene
// model does not know, is an error (ErrRefMismatch, ErrUnknownContig):
// the caller counts it and writes no consequence rather than a wrong one.
package csq

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
)

// Reference gives reference bases.
type Reference interface {
	// Seq returns the bases of chrom from start to end, 1-based and
	// inclusive. A range past the end of the contig, or an unknown
	// contig, is an error. The caller must not modify the result.
	Seq(chrom string, start, end int64) ([]byte, error)
}

// Errors for variants that get no consequence.
var (
	ErrRefMismatch   = errors.New("REF allele does not match the reference")
	ErrUnknownContig = errors.New("contig not in the gene model")
	ErrUnsupported   = errors.New("allele not annotated")
)

// Variant is one ALT allele of a VCF record.
type Variant struct {
	Chrom    string
	Pos      int64 // 1-based, as in the VCF
	Ref, Alt string
	// End is the last base of a symbolic <DEL> (INFO END); 0 otherwise.
	End int64
}

// Effect is the consequence of a variant on one transcript (or, with a
// nil Transcript, on no transcript: intergenic_variant).
type Effect struct {
	Transcript   *genemodel.Transcript
	Terms        []string // Sequence Ontology terms, most severe first
	Exon, Intron string   // "3/10" when the variant touches an exon / intron
	HGVSc, HGVSp string   // "ENST…:c.123+5G>A", "ENSP-less p.(Arg12Ter)"
	CDSPos       string   // "123" or "123-125"
	ProteinPos   string   // "41" or "41-42"
	AminoAcids   string   // VEP style: "R/C", "R" when unchanged
	AAChange     string   // bcftools style: "41R>41C", "41R"
	Distance     int64    // to the transcript, for upstream/downstream
}

// Result holds every effect of one variant.
type Result struct {
	HGVSg   string
	Effects []Effect
}

// Annotator predicts consequences against a gene model and a reference.
// It is safe for concurrent use.
type Annotator struct {
	model *genemodel.Model
	ref   Reference
	maps  sync.Map // *genemodel.Transcript -> *txMap (with sequence)
}

// New returns an Annotator.
func New(m *genemodel.Model, ref Reference) *Annotator {
	return &Annotator{model: m, ref: ref}
}

// allele is a variant with its common prefix and suffix removed.
type allele struct {
	chrom    string
	start    int64  // first replaced base; for an insertion, the base after it
	ref, alt []byte // upper case, genomic orientation; either may be empty
	v        Variant
	symbolic bool // <INS...> after v.Pos, or <DEL> of v.Pos+1..v.End
}

func (al *allele) ins() bool { return len(al.ref) == 0 }

// span is the genomic range touched: for an insertion, the two bases
// either side of it.
func (al *allele) span() (int64, int64) {
	if al.ins() {
		return al.start - 1, al.start
	}
	return al.start, al.start + int64(len(al.ref)) - 1
}

// Annotate returns the effects of v on every transcript within
// genemodel.Flank of it, or intergenic_variant.
func (a *Annotator) Annotate(v Variant) (*Result, error) {
	if !a.model.HasChrom(v.Chrom) {
		return nil, fmt.Errorf("%s: %w", v.Chrom, ErrUnknownContig)
	}
	al, err := a.normalize(v)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if !al.symbolic {
		res.HGVSg = a.hgvsG(al)
	}
	lo, hi := al.span()
	for _, t := range a.model.Overlapping(v.Chrom, min(lo, v.Pos), max(hi, v.Pos+int64(len(v.Ref))-1)) {
		m, err := a.txMap(t)
		if err != nil {
			return nil, err
		}
		use := al
		if (lo > t.End || hi < t.Start) && !al.symbolic && (len(al.ref) == 0 || len(al.alt) == 0) {
			// An indel left of the transcript in the VCF but able to move
			// into it: place it at its 3'-most position for this strand.
			use = a.moved(al, int(t.Strand))
		}
		if e, ok := a.effect(m, use); ok {
			res.Effects = append(res.Effects, e)
		}
	}
	if len(res.Effects) == 0 {
		res.Effects = append(res.Effects, Effect{Terms: []string{"intergenic_variant"}})
	}
	return res, nil
}

func (a *Annotator) txMap(t *genemodel.Transcript) (*txMap, error) {
	if m, ok := a.maps.Load(t); ok {
		return m.(*txMap), nil
	}
	m := newTxMap(t)
	if err := m.load(a.ref); err != nil {
		return nil, err
	}
	a.maps.Store(t, m)
	return m, nil
}

func validBases(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'A', 'C', 'G', 'T', 'N', 'a', 'c', 'g', 't', 'n':
		default:
			return false
		}
	}
	return s != ""
}

func (a *Annotator) normalize(v Variant) (*allele, error) {
	if !validBases(v.Ref) {
		return nil, fmt.Errorf("%w: REF %q", ErrUnsupported, v.Ref)
	}
	refSeq, err := a.ref.Seq(v.Chrom, v.Pos, v.Pos+int64(len(v.Ref))-1)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w: %v", v.Chrom, v.Pos, ErrRefMismatch, err)
	}
	ref := []byte(strings.ToUpper(v.Ref))
	for i, c := range bytes.ToUpper(refSeq) {
		if ref[i] != c && ref[i] != 'N' && c != 'N' {
			return nil, fmt.Errorf("%s:%d: %w: VCF has %s, reference has %s", v.Chrom, v.Pos, ErrRefMismatch, v.Ref, refSeq)
		}
	}
	al := &allele{chrom: v.Chrom, v: v}
	if strings.HasPrefix(v.Alt, "<INS") {
		al.symbolic = true
		al.start = v.Pos + 1
		return al, nil
	}
	if strings.HasPrefix(v.Alt, "<DEL") && v.End > v.Pos {
		// The deleted bases are not spelled out: N stands for them.
		al.symbolic = true
		al.start = v.Pos + 1
		al.ref = bytes.Repeat([]byte{'N'}, int(v.End-v.Pos))
		return al, nil
	}
	if !validBases(v.Alt) {
		return nil, fmt.Errorf("%w: ALT %q", ErrUnsupported, v.Alt)
	}
	alt := []byte(strings.ToUpper(v.Alt))
	if bytes.Equal(ref, alt) {
		return nil, fmt.Errorf("%w: ALT equals REF", ErrUnsupported)
	}
	start := v.Pos
	// Prefix first, keeping the VCF anchor base to the left.
	for len(ref) > 0 && len(alt) > 0 && ref[0] == alt[0] {
		ref, alt = ref[1:], alt[1:]
		start++
	}
	for len(ref) > 0 && len(alt) > 0 && ref[len(ref)-1] == alt[len(alt)-1] {
		ref, alt = ref[:len(ref)-1], alt[:len(alt)-1]
	}
	al.start, al.ref, al.alt = start, ref, alt
	return al, nil
}

// base returns the upper-case reference base at pos, 0 when there is none.
func (a *Annotator) base(chrom string, pos int64) byte {
	if pos < 1 {
		return 0
	}
	s, err := a.ref.Seq(chrom, pos, pos)
	if err != nil || len(s) != 1 {
		return 0
	}
	return s[0] &^ 0x20
}

// moved returns the indel shifted as far as it goes in direction dir.
func (a *Annotator) moved(al *allele, dir int) *allele {
	sh := a.shift(al, dir, 1, 1<<62)
	out := *al
	switch sh.kind {
	case "del":
		out.start = sh.s
		out.ref = bytes.Repeat([]byte{'N'}, int(sh.e-sh.s+1))
		if seq, err := a.ref.Seq(al.chrom, sh.s, sh.e); err == nil {
			out.ref = bytes.ToUpper(seq)
		}
	case "ins":
		out.start = sh.s + 1
		out.alt = sh.ins
	case "dup":
		x := sh.e
		if dir < 0 {
			x = sh.s - 1
		}
		out.start = x + 1
		out.alt = sh.ins
	}
	return &out
}
