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
	"sync/atomic"
	"unsafe"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
)

// Reference gives reference bases.
type Reference interface {
	// Seq returns the bases of chrom from start to end, 1-based and
	// inclusive. A range past the end of the contig is an error wrapping
	// ErrOutsideReference; an unknown contig is an error too. The caller
	// must not modify the result.
	Seq(chrom string, start, end int64) ([]byte, error)
}

// ErrOutsideReference: a range a Reference was asked for runs past the
// end of its contig.
var ErrOutsideReference = errors.New("outside the reference")

// Errors for variants that get no consequence.
var (
	ErrRefMismatch   = errors.New("REF allele does not match the reference")
	ErrUnknownContig = errors.New("contig not in the gene model")
	ErrUnsupported   = errors.New("allele not annotated")
	// ErrTranscriptOutsideReference: a transcript the variant touches
	// has exons past the end of the reference's contig: the gene model
	// and the FASTA disagree (another build, or a FASTA of part of the
	// contig).
	ErrTranscriptOutsideReference = errors.New("a transcript runs past the end of the reference")
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

// Result holds every effect of one variant. A Result may be reused
// with AnnotateTo, which keeps its buffers; its strings are views of an
// arena of bytes it owns (see scratch.arena).
type Result struct {
	HGVSg   string
	Effects []Effect
	s       *scratch
}

// Annotator predicts consequences against a gene model and a reference.
// It is safe for concurrent use.
type Annotator struct {
	model *genemodel.Model
	ref   Reference
	maps  []atomic.Pointer[txMap] // by Transcript.Index, filled on first use
	flank int64                   // upstream/downstream reach; 0: none
	omit  Omit
}

// Options configure an Annotator made by NewWithOptions.
type Options struct {
	// Flank is how far from a transcript, in bases, a variant gets an
	// upstream_gene_variant or downstream_gene_variant on it; 0 (or
	// less): only the transcripts a variant overlaps, as bcftools csq.
	Flank int64
	// Omit names notations left out of every Result.
	Omit Omit
}

// Omit names HGVS notations an Annotator leaves out of its Results
// (their strings stay empty), for callers that do not write them: they
// cost a good part of the work. Consequences are the same either way.
type Omit struct {
	HGVSc, HGVSp, HGVSg bool
}

// New returns an Annotator that gives upstream_gene_variant and
// downstream_gene_variant on transcripts within genemodel.Flank (5 kb,
// as VEP) of a variant.
func New(m *genemodel.Model, ref Reference) *Annotator {
	return NewWithFlank(m, ref, genemodel.Flank)
}

// NewWithFlank returns an Annotator that gives upstream_gene_variant
// and downstream_gene_variant on transcripts within flank bases of a
// variant. With a flank of 0 (or less) it looks only at the transcripts
// a variant overlaps, as bcftools csq does, and gives no upstream or
// downstream effect; the other effects are those New gives.
func NewWithFlank(m *genemodel.Model, ref Reference, flank int64) *Annotator {
	return NewWithOptions(m, ref, Options{Flank: flank})
}

// NewWithOptions returns an Annotator configured by opt.
func NewWithOptions(m *genemodel.Model, ref Reference, opt Options) *Annotator {
	return &Annotator{model: m, ref: ref, maps: make([]atomic.Pointer[txMap], len(m.Transcripts)), flank: max(opt.Flank, 0), omit: opt.Omit}
}

// Flank is how far from a transcript a variant gets an upstream or
// downstream effect on it; 0 when it gets none.
func (a *Annotator) Flank() int64 { return a.flank }

// allele is a variant with its common prefix and suffix removed.
type allele struct {
	chrom    string
	start    int64  // first replaced base; for an insertion, the base after it
	ref, alt []byte // upper case, genomic orientation; either may be empty
	v        Variant
	symbolic bool // <INS...> after v.Pos, or <DEL> of v.Pos+1..v.End
}

func (al *allele) ins() bool { return len(al.ref) == 0 }

// snv says whether al replaces one base with another (nothing to shift).
func (al *allele) snv() bool { return len(al.ref) == 1 && len(al.alt) == 1 }

// span is the genomic range touched: for an insertion, the two bases
// either side of it.
func (al *allele) span() (int64, int64) {
	if al.ins() {
		return al.start - 1, al.start
	}
	return al.start, al.start + int64(len(al.ref)) - 1
}

// Annotate returns the effects of v on every transcript within the
// Annotator's flank of it, or intergenic_variant. An indel that may be
// shifted (it sits in a repeat) is near a transcript if it is near at
// any of its positions.
func (a *Annotator) Annotate(v Variant) (*Result, error) {
	r := &Result{}
	if err := a.AnnotateTo(r, v); err != nil {
		return nil, err
	}
	r.s = nil
	return r, nil
}

// AnnotateTo is Annotate into r, reusing r's memory, for callers that
// annotate many variants: the effects r held before are overwritten,
// their Terms slices included; their strings stay valid until
// r.Recycle. One goroutine at a time may use r. On an error r holds no
// effects.
func (a *Annotator) AnnotateTo(r *Result, v Variant) error {
	if r.s == nil || r.s.owner != a {
		r.s = &scratch{owner: a}
	}
	s := r.s
	if cap(s.arena)-len(s.arena) < minArenaRoom {
		// A fresh arena: strings handed out still point into the old one.
		s.used += len(s.arena)
		s.arena = make([]byte, 0, min(maxArena, max(2*cap(s.arena), minArenaRoom)))
	}
	r.HGVSg, r.Effects = "", r.Effects[:0]
	if v.Chrom != s.chrom || v.Chrom == "" { // a VCF is sorted: the contig seldom changes
		if !a.model.HasChrom(v.Chrom) {
			return fmt.Errorf("%s: %w", v.Chrom, ErrUnknownContig)
		}
		s.chrom = strings.Clone(v.Chrom)
	}
	al, err := a.normalize(s, v)
	if err != nil {
		return err
	}
	if !al.symbolic && !a.omit.HGVSg {
		st := len(s.arena)
		s.arena = a.appendHGVSg(s, s.arena, al)
		r.HGVSg = s.view(st)
	}
	lo, hi := al.span()
	qlo, qhi := min(lo, v.Pos), max(hi, v.Pos+int64(len(v.Ref))-1)
	if !al.symbolic && (len(al.ref) == 0 || len(al.alt) == 0) {
		// Below, an indel outside a transcript is moved towards it: look
		// as far as it can move either way.
		l, _ := a.shiftedSpan(s, al, -1)
		_, h := a.shiftedSpan(s, al, 1)
		qlo, qhi = min(qlo, l), max(qhi, h)
	}
	s.tx = a.model.AppendWithin(s.tx[:0], v.Chrom, qlo, qhi, a.flank)
	for _, t := range s.tx {
		m, err := a.txMap(t)
		if err != nil {
			r.Effects = r.Effects[:0]
			return err
		}
		use := al
		if (lo > t.End || hi < t.Start) && !al.symbolic && (len(al.ref) == 0 || len(al.alt) == 0) {
			// An indel left of the transcript in the VCF but able to move
			// into it: place it at its 3'-most position for this strand.
			use = a.moved(s, al, int(t.Strand))
		}
		a.effect(r, m, use)
	}
	if len(r.Effects) == 0 {
		e := r.newEffect(nil)
		e.Terms = append(e.Terms, "intergenic_variant")
	}
	return nil
}

// Recycle lets r reuse the memory that holds the strings of every
// Result it was given by AnnotateTo so far: their bytes will be
// overwritten. Call it only when none of those strings is referenced
// any more (a caller that copies each Result into its output before the
// next call, and calls Recycle between runs of variants, allocates
// nothing for strings once warm).
func (r *Result) Recycle() {
	s := r.s
	if s == nil {
		return
	}
	if total := s.used + len(s.arena); total > cap(s.arena) {
		s.arena = make([]byte, 0, total+total/4) // room for as much as last time
	} else {
		s.arena = s.arena[:0]
	}
	s.used = 0
}

// newEffect adds an effect on t to r, reusing the memory of one r held
// before.
func (r *Result) newEffect(t *genemodel.Transcript) *Effect {
	n := len(r.Effects)
	if n < cap(r.Effects) {
		r.Effects = r.Effects[:n+1]
	} else {
		r.Effects = append(r.Effects, Effect{})
	}
	e := &r.Effects[n]
	*e = Effect{Transcript: t, Terms: e.Terms[:0]}
	return e
}

// scratch is the memory one Result reuses from variant to variant.
type scratch struct {
	owner *Annotator // whose reference win0 holds
	chrom string     // a contig of the gene model, the last one seen
	// arena holds the text of the strings of this and earlier Results,
	// which point into it (see view). Bytes below len(arena) are never
	// written again: each call appends after them, and an arena too
	// full to take a Result is replaced, not emptied; only Recycle
	// empties it.
	arena []byte
	used  int // bytes in arenas replaced since the last Recycle
	tx    []*genemodel.Transcript
	al    allele
	mv    allele // an indel moved for one transcript
	ref   []byte // upper case REF
	alt   []byte // upper case ALT, untrimmed
	mvRef []byte
	mvIns []byte
	shIns []byte
	altT  []byte
	win   []byte
	refAA []byte
	altAA []byte
	tmp   []byte
	tail  []byte
	// for bcftoolsChange
	bcAltT, bcRef, bcWin, bcAA []byte
	win0                       seqWindow
}

// Arena sizes: a fresh one has room for a few Results (a single
// Annotate needs little), and they double up to maxArena.
const (
	minArenaRoom = 1 << 10
	maxArena     = 64 << 10
)

// view returns arena[start:] as a string, without copying it: those
// bytes are never written again (see scratch.arena), which is what a Go
// string needs, and the arena stays allocated while the string is
// referenced. If the arena is reallocated by a later append, the string
// keeps the old array.
func (s *scratch) view(start int) string {
	if start == len(s.arena) {
		return ""
	}
	return unsafe.String(&s.arena[start], len(s.arena)-start)
}

func (a *Annotator) txMap(t *genemodel.Transcript) (*txMap, error) {
	i := t.Index()
	cached := i >= 0 && i < len(a.maps) && a.model.Transcripts[i] == t
	if cached {
		if m := a.maps[i].Load(); m != nil {
			return m, nil
		}
	}
	m := newTxMap(t)
	if err := m.load(a.ref); err != nil {
		if errors.Is(err, ErrOutsideReference) {
			return nil, fmt.Errorf("%w: %s %s:%d-%d: %v (the gene model and the FASTA disagree: another build, or a FASTA of part of the contig)",
				ErrTranscriptOutsideReference, t.ID, t.Chrom, t.Start, t.End, err)
		}
		return nil, err
	}
	if cached {
		a.maps[i].CompareAndSwap(nil, m)
	}
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

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 32
	}
	return c
}

func appendUpper(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, upper(s[i]))
	}
	return dst
}

func (a *Annotator) normalize(s *scratch, v Variant) (*allele, error) {
	if !validBases(v.Ref) {
		return nil, fmt.Errorf("%w: REF %q", ErrUnsupported, v.Ref)
	}
	refSeq, err := a.ref.Seq(v.Chrom, v.Pos, v.Pos+int64(len(v.Ref))-1)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w: %v", v.Chrom, v.Pos, ErrRefMismatch, err)
	}
	s.ref = appendUpper(s.ref[:0], v.Ref)
	ref := s.ref
	for i, c := range refSeq {
		c = upper(c)
		if ref[i] != c && ref[i] != 'N' && c != 'N' {
			return nil, fmt.Errorf("%s:%d: %w: VCF has %s, reference has %s", v.Chrom, v.Pos, ErrRefMismatch, v.Ref, refSeq)
		}
	}
	al := &s.al
	*al = allele{chrom: v.Chrom, v: v}
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
	s.alt = appendUpper(s.alt[:0], v.Alt)
	alt := s.alt
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

// seqAppender is a Reference that can copy bases into the caller's
// memory (no allocation when a range crosses a line of the file).
type seqAppender interface {
	// AppendSeq appends what Seq returns to dst.
	AppendSeq(dst []byte, chrom string, start, end int64) ([]byte, error)
}

// seqWindow holds a stretch of reference around the last base read, so
// that walking along a repeat does not ask the Reference base by base.
type seqWindow struct {
	chrom string
	start int64 // position of seq[0]
	seq   []byte
}

// windowFlank is how far around a missed base a window reaches.
const windowFlank = 64

// baseAt is base, read through w.
func (a *Annotator) baseAt(w *seqWindow, chrom string, pos int64) byte {
	if i := pos - w.start; i >= 0 && i < int64(len(w.seq)) && chrom == w.chrom {
		return w.seq[i] &^ 0x20
	}
	if pos < 1 {
		return 0
	}
	start, end := max(1, pos-windowFlank), pos+windowFlank
	var seq []byte
	var err error
	if ap, ok := a.ref.(seqAppender); ok {
		seq, err = ap.AppendSeq(w.seq[:0], chrom, start, end)
	} else {
		seq, err = a.ref.Seq(chrom, start, end)
	}
	if err != nil || int64(len(seq)) != end-start+1 {
		// Near the end of the contig: base by base.
		w.chrom, w.seq = "", w.seq[:0]
		return a.base(chrom, pos)
	}
	if _, ok := a.ref.(seqAppender); !ok {
		seq = append(w.seq[:0], seq...)
	}
	w.chrom, w.start, w.seq = chrom, start, seq
	return w.seq[pos-start] &^ 0x20
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

// shiftedSpan is the span of the indel al shifted as far as it goes in
// direction dir.
func (a *Annotator) shiftedSpan(s *scratch, al *allele, dir int) (int64, int64) {
	sh := a.shift(&s.win0, &s.mvIns, al, dir, 1, 1<<62)
	if sh.kind == kDup {
		x := sh.e
		if dir < 0 {
			x = sh.s - 1
		}
		return x, x + 1 // the bases either side of the insertion
	}
	return sh.s, sh.e
}

// moved returns the indel shifted as far as it goes in direction dir,
// in s.mv (valid until the next call).
func (a *Annotator) moved(s *scratch, al *allele, dir int) *allele {
	sh := a.shift(&s.win0, &s.mvIns, al, dir, 1, 1<<62)
	out := &s.mv
	*out = *al
	switch sh.kind {
	case kDel:
		out.start = sh.s
		s.mvRef = s.mvRef[:0]
		if seq, err := a.ref.Seq(al.chrom, sh.s, sh.e); err == nil {
			for _, c := range seq {
				s.mvRef = append(s.mvRef, upper(c))
			}
		} else {
			for range sh.e - sh.s + 1 {
				s.mvRef = append(s.mvRef, 'N')
			}
		}
		out.ref = s.mvRef
	case kIns:
		out.start = sh.s + 1
		out.alt = sh.ins
	case kDup:
		x := sh.e
		if dir < 0 {
			x = sh.s - 1
		}
		out.start = x + 1
		out.alt = sh.ins
	}
	return out
}
