// Package annotate streams a VCF through the consequence predictor
// (package csq) and any known-variant Sources, and writes an annotated
// VCF, with a CSQ INFO field declared in its header, and a TSV with one
// row per variant and transcript. Records are annotated on several
// workers and written in input order.
//
// A record whose REF does not match the reference (or names a base the
// reference does not know), on a contig the reference or the gene model
// does not have, or with an allele the predictor does not handle, is
// written unchanged, without a consequence, and counted as a warning by
// kind: never annotated wrongly. When no allele at all could be annotated
// because the reference lacks the VCF's contigs, Run fails.
//
// The VCF, the gene model and the reference need not name contigs alike:
// a VCF contig the gene model (or the reference) lacks is looked up there
// under its aliases (package contig: "chrX" and "X", "chrM" and "MT"),
// once per contig. What is written keeps the VCF's names; the Summary
// lists the contigs read under another name.
package annotate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/clinomics/clinomics/internal/annotate/csq"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/contig"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

// Source is a known-variant database (ClinVar, gnomAD, ...).
type Source interface {
	// Name names the source in headers and errors ("clinvar").
	Name() string
	// Fields lists the INFO keys Lookup may return, e.g.
	// CLINVAR_CLNSIG. They become INFO fields (Number=A) and TSV columns.
	Fields() []string
	// Lookup returns what the source knows of one allele, keyed by
	// Fields, or nil when it knows nothing. Alleles are as in the VCF
	// (not normalised). It is called from several goroutines at once.
	Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error)
}

// TypedSource is a Source that knows the VCF Type of its fields: they
// are declared with it in the annotated VCF's header (String otherwise).
type TypedSource interface {
	Source
	// FieldType returns "Integer" or "Float" for a field of Fields whose
	// every value Lookup returns is a number of that VCF Type, "String"
	// (or "") for any other.
	FieldType(field string) string
}

// FieldType is the VCF Type the annotated VCF declares for field of s:
// Integer or Float when s is a TypedSource that says so, else String.
func FieldType(s Source, field string) string {
	if ts, ok := s.(TypedSource); ok {
		switch t := ts.FieldType(field); t {
		case "Integer", "Float":
			return t
		}
	}
	return "String"
}

// Warning kinds counted in the Summary.
const (
	// WarnRefMismatch: REF differs from the reference, runs past the end
	// of its contig, or has N (any base but A, C, G, T) where the
	// reference has a base, or a base where the reference has N.
	WarnRefMismatch = "ref_mismatch"
	// WarnNotInReference: the contig is not in the reference (FASTA),
	// whether or not the gene model has it: REF cannot be checked.
	WarnNotInReference = "contig_not_in_reference"
	// WarnUnknownContig: the contig is in the reference but the gene
	// model has nothing on it.
	WarnUnknownContig = "unknown_contig"
	// WarnNoTranscripts: the gene model file has features on the contig
	// but every transcript there was dropped (see the model's warnings).
	WarnNoTranscripts = "no_usable_transcripts"
	// WarnTranscriptOutside: a transcript the allele touches runs past
	// the end of the reference's contig (csq.ErrTranscriptOutsideReference:
	// the gene model and the FASTA disagree).
	WarnTranscriptOutside = "transcript_outside_reference"
	// WarnUnsupported: an allele the predictor does not handle (symbolic
	// alleles other than <INS…> and <DEL> with END, breakends), or a REF
	// of N where the reference is N too (an unknown base).
	WarnUnsupported = "unsupported_allele"
)

// ErrNothingAnnotated: no allele could be annotated because the
// reference or the gene model lacks the contigs of the VCF's records (a
// FASTA or GFF of another assembly or organism, or other contig names).
var ErrNothingAnnotated = errors.New("no allele could be annotated")

// Skip is one allele given no consequence, and why.
type Skip struct {
	Line     int // VCF line
	Chrom    string
	Pos      int64
	Ref, Alt string
	Kind     string // WarnRefMismatch, ...
	Message  string
}

// Summary says what a run did.
type Summary struct {
	Records   int            // VCF data lines
	Alleles   int            // ALT alleles seen
	Annotated int            // alleles given consequences
	Rows      int            // TSV rows written
	Warnings  map[string]int // by kind
	// Examples holds the first few warnings, "file:line: message".
	Examples []string
	// NotInReference counts the alleles on each contig the reference
	// does not have (WarnNotInReference).
	NotInReference map[string]int
	// NotInModel counts the alleles on each contig the gene model has
	// no transcript on (WarnUnknownContig).
	NotInModel map[string]int
	// Matched counts, by source name, the alleles the source knew
	// something of (a ClinVar or gnomAD of another build matches none).
	Matched map[string]int
	// Renamed holds, for each VCF contig that the gene model or the
	// reference has only under an alias, the names they were read under.
	Renamed map[string]ContigNames
}

// ContigNames are the names a VCF contig goes by in the gene model and
// in the reference: the VCF's own name where neither it nor an alias
// of it is there.
type ContigNames struct {
	Model, Reference string
}

const maxExamples = 20

// Options configure an Annotator.
type Options struct {
	Threads int      // workers; 0 means runtime.NumCPU()
	Sources []Source // known-variant sources, in column order
	// Flank is how far from a transcript, in bases, a variant gets
	// upstream_gene_variant or downstream_gene_variant on it. nil means
	// genemodel.Flank (5 kb, as VEP); 0 means only the transcripts a
	// variant overlaps get an effect (as bcftools csq), and no upstream
	// or downstream effect is looked for.
	Flank *int64
	// Fields are the CSQ fields written, in this order: names from
	// CSQFields (see ParseFields), Consequence among them. nil means all
	// of CSQFields. HGVS
	// notations left out are not computed. An unknown name fails Run
	// (ErrFields) before it writes anything.
	Fields []string
	// Skipped, when not nil, is called with each allele given no
	// consequence (each warning of the Summary), in input order, on the
	// goroutine that called Run.
	Skipped func(Skip)
}

// Annotator annotates VCF streams against one gene model and reference.
type Annotator struct {
	model   *genemodel.Model
	pred    *csq.Annotator
	ref     csq.Reference
	threads int
	skipped func(Skip)
	// dropped counts, for each contig whose every transcript the model
	// builder dropped, the model's warnings there, by kind.
	dropped map[string]map[string]int
	sources []Source
	fields  []string // all source fields, in order
	tx      []txOut  // by Transcript.Index: the fixed parts of its output
	none    txOut    // for an effect on no transcript
	// csqFields are the CSQ fields written, layout how: nil when they are
	// all of CSQFields in order (written by appendEffectVCF and
	// appendEffectTSV, without choosing).
	csqFields []string
	layout    *layout
	fieldsErr error // Options.Fields is not a list of CSQFields
	// refNames are the reference's sequences, when it lists them (nil:
	// refHas asks it for a base).
	refNames map[string]bool
	mu       sync.Mutex
	contigs  map[string]ContigNames // resolved VCF contigs, by VCF name
}

// New returns an Annotator. ref must stay valid while it is used.
func New(model *genemodel.Model, ref csq.Reference, opt Options) *Annotator {
	flank := int64(genemodel.Flank)
	if opt.Flank != nil {
		flank = *opt.Flank
	}
	a := &Annotator{ref: ref, model: model, threads: opt.Threads, sources: opt.Sources, skipped: opt.Skipped, csqFields: CSQFields}
	var omit csq.Omit
	if opt.Fields != nil {
		var sel []int
		sel, a.fieldsErr = fieldIndexes(opt.Fields)
		a.csqFields = slices.Clone(opt.Fields)
		omit = csq.Omit{HGVSc: !slices.Contains(sel, fHGVSc), HGVSp: !slices.Contains(sel, fHGVSp), HGVSg: !slices.Contains(sel, fHGVSg)}
		if a.fieldsErr == nil && !slices.Equal(opt.Fields, CSQFields) {
			a.layout = newLayout(sel)
		}
	}
	if n, ok := ref.(interface{ Names() []string }); ok {
		a.refNames = map[string]bool{}
		for _, c := range n.Names() {
			a.refNames[c] = true
		}
	}
	a.pred = csq.NewWithOptions(model, a.modelRef(model), csq.Options{Flank: flank, Omit: omit})
	for _, w := range model.Warnings {
		if w.Chrom == "" || model.HasChrom(w.Chrom) {
			continue
		}
		if a.dropped == nil {
			a.dropped = map[string]map[string]int{}
		}
		if a.dropped[w.Chrom] == nil {
			a.dropped[w.Chrom] = map[string]int{}
		}
		a.dropped[w.Chrom][w.Kind]++
	}
	if a.threads <= 0 {
		a.threads = runtime.NumCPU()
	}
	for _, s := range opt.Sources {
		a.fields = append(a.fields, s.Fields()...)
	}
	a.tx = make([]txOut, len(model.Transcripts))
	for i, t := range model.Transcripts {
		a.tx[i] = newTxOut(t, a.layout)
	}
	a.none = newTxOut(nil, a.layout)
	return a
}

// batch is a run of records annotated by one worker. Batches are
// reused, with their buffers, once written.
type batch struct {
	seq   int
	raw   []byte    // the text of its data lines, end to end
	lines []rawLine // where each line is in raw
	n     int       // lines
	vcf   []byte
	tsv   []byte
	sum   Summary
	skips []Skip // when Options.Skipped is set
	err   error
}

// rawLine is a data line of a batch: raw[start:end], line number num.
type rawLine struct{ start, end, num int }

// worker is the memory one worker reuses from batch to batch.
type worker struct {
	rec    vcf.Record // the record annotated
	res    csq.Result
	extra  [][]string // per source field, per ALT
	prefix []byte     // TSV: CHROM, POS and REF of the record
	alt    []byte     // the ALT, escaped for INFO, and '|'
	hgvsg  []byte     // HGVSg, escaped for INFO, between two '|'
	// With a choice of CSQ fields: the ALT and HGVSg, escaped for INFO.
	escAlt, escHGVSg string
	chrom            string // the contig of the last record
	plain            bool   // chrom has no byte to escape in INFO
	refSeq           []byte // the reference under REF
	// ctg is the contig of the last record, names what the gene model
	// and the reference call it; renamed says names.Model is not ctg.
	ctg     string
	names   ContigNames
	renamed bool
}

const batchSize = 512

// Run reads VCF from in (file names it in messages) and writes the
// annotated VCF to vcfOut and the TSV to tsvOut (either may be nil).
//
// A reader goroutine cuts the input into batches of lines, a.threads
// workers parse and annotate them into per-batch output buffers, and Run
// writes the buffers in input order, each batch with one Write per
// output; written batches go back to the reader with their memory.
func (a *Annotator) Run(ctx context.Context, in io.Reader, file string, vcfOut, tsvOut io.Writer) (*Summary, error) {
	if a.fieldsErr != nil {
		return nil, a.fieldsErr
	}
	r, err := vcf.NewReader(in, file)
	if err != nil {
		return nil, err
	}
	if vcfOut != nil {
		vw := bufio.NewWriter(vcfOut)
		a.writeHeader(vw, r.Header())
		if err := vw.Flush(); err != nil {
			return nil, err
		}
	}
	if tsvOut != nil {
		if _, err := io.WriteString(tsvOut, strings.Join(a.tsvColumns(), "\t")+"\n"); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *batch, a.threads)
	done := make(chan *batch, a.threads)
	// At most maxBatches batches exist: once they are all made, the
	// reader waits for one to be written and reuses it, buffers and all.
	maxBatches := 3*a.threads + 2
	free := make(chan *batch, maxBatches)
	var readErr error
	go func() { // reader
		defer close(work)
		seq := 0
		made := 0
		for {
			var b *batch
			if made < maxBatches {
				made++
				b = &batch{}
			} else {
				select {
				case b = <-free:
				case <-ctx.Done():
					return
				}
				*b = batch{raw: b.raw[:0], lines: b.lines[:0], vcf: b.vcf[:0], tsv: b.tsv[:0], skips: b.skips[:0]}
			}
			b.seq = seq
			// The reader only splits lines; workers parse them.
			for b.n < batchSize {
				line, num, err := r.NextLine()
				if err == io.EOF {
					break
				}
				if err != nil {
					readErr = err
					break
				}
				b.lines = append(b.lines, rawLine{len(b.raw), len(b.raw) + len(line), num})
				b.raw = append(b.raw, line...)
				b.n++
			}
			n := b.n
			if n == 0 {
				return
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
			seq++
			if readErr != nil || n < batchSize {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range a.threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{extra: make([][]string, len(a.fields))}
			for b := range work {
				a.annotateBatch(r, w, b, file, vcfOut != nil, tsvOut != nil)
				select {
				case done <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	sum := &Summary{Warnings: map[string]int{}}
	pending := map[int]*batch{}
	next := 0
	var firstErr error
	for b := range done {
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if firstErr != nil {
				continue
			}
			if nb.err != nil {
				firstErr = nb.err
				cancel()
				continue
			}
			if vcfOut != nil && len(nb.vcf) > 0 {
				if _, err := vcfOut.Write(nb.vcf); err != nil {
					firstErr = err
					cancel()
					continue
				}
			}
			if tsvOut != nil && len(nb.tsv) > 0 {
				if _, err := tsvOut.Write(nb.tsv); err != nil {
					firstErr = err
					cancel()
					continue
				}
			}
			sum.add(&nb.sum)
			if a.skipped != nil {
				for _, sk := range nb.skips {
					a.skipped(sk)
				}
			}
			free <- nb // cannot block: it holds at most every batch
		}
	}
	if firstErr == nil {
		firstErr = readErr
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return sum, firstErr
	}
	if sum.Annotated == 0 && (len(sum.NotInReference) > 0 || len(sum.NotInModel) > 0) {
		return sum, a.nothingAnnotated(sum)
	}
	return sum, nil
}

// nothingAnnotated is the error of a run that annotated nothing because
// the reference or the gene model lacks the records' contigs.
func (a *Annotator) nothingAnnotated(sum *Summary) error {
	var msgs []string
	if len(sum.NotInReference) > 0 {
		msg := "the reference has no sequence " + firstFew(slices.Sorted(maps.Keys(sum.NotInReference)), 10)
		if n, ok := a.ref.(interface{ Names() []string }); ok {
			if have := n.Names(); len(have) > 0 {
				msg += fmt.Sprintf(" (it has %d: %s)", len(have), firstFew(have, 10))
			} else {
				msg += " (it has no sequence)"
			}
		}
		msgs = append(msgs, msg)
	}
	if len(sum.NotInModel) > 0 {
		msg := "the gene model has no transcript on " + firstFew(slices.Sorted(maps.Keys(sum.NotInModel)), 10)
		if have := a.model.Chroms(); len(have) > 0 {
			msg += fmt.Sprintf(" (it has %d contigs: %s)", len(have), firstFew(have, 10))
		} else {
			msg += " (it has no transcript)"
		}
		msgs = append(msgs, msg)
	}
	return fmt.Errorf("%w: %s", ErrNothingAnnotated, strings.Join(msgs, "; "))
}

// firstFew joins the first n of s, and says how many more there are.
func firstFew(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

func (s *Summary) add(o *Summary) {
	s.Records += o.Records
	s.Alleles += o.Alleles
	s.Annotated += o.Annotated
	s.Rows += o.Rows
	for k, v := range o.Warnings {
		s.Warnings[k] += v
	}
	for _, e := range o.Examples {
		if len(s.Examples) < maxExamples {
			s.Examples = append(s.Examples, e)
		}
	}
	count(&s.NotInReference, o.NotInReference)
	count(&s.NotInModel, o.NotInModel)
	count(&s.Matched, o.Matched)
	for c, n := range o.Renamed {
		if s.Renamed == nil {
			s.Renamed = map[string]ContigNames{}
		}
		s.Renamed[c] = n
	}
}

// count adds the counts of from to *to, made when needed.
func count(to *map[string]int, from map[string]int) {
	for k, n := range from {
		if *to == nil {
			*to = map[string]int{}
		}
		(*to)[k] += n
	}
}

// inc adds one to (*m)[k], making *m when needed.
func inc(m *map[string]int, k string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

// warn counts an allele given no consequence, of kind for err.
func (a *Annotator) warn(b *batch, file string, rec *vcf.Record, alt, kind string, err error) {
	if b.sum.Warnings == nil {
		b.sum.Warnings = map[string]int{}
	}
	b.sum.Warnings[kind]++
	if len(b.sum.Examples) < maxExamples {
		b.sum.Examples = append(b.sum.Examples, fmt.Sprintf("%s:%d: %s: %v", file, rec.Line, kind, err))
	}
	switch kind {
	case WarnNotInReference:
		inc(&b.sum.NotInReference, rec.Chrom)
	case WarnUnknownContig:
		inc(&b.sum.NotInModel, rec.Chrom)
	}
	if a.skipped != nil {
		b.skips = append(b.skips, Skip{Line: rec.Line, Chrom: strings.Clone(rec.Chrom), Pos: rec.Pos,
			Ref: strings.Clone(rec.Ref), Alt: strings.Clone(alt), Kind: kind, Message: err.Error()})
	}
}

// setContig makes c the contig of w's records, and notes in b's Summary
// when the gene model or the reference has it under another name.
func (a *Annotator) setContig(w *worker, b *batch, c string) {
	w.ctg = strings.Clone(c)
	w.names = a.Resolve(w.ctg)
	w.renamed = w.names.Model != c
	if w.names.Model != c || w.names.Reference != c {
		if b.sum.Renamed == nil {
			b.sum.Renamed = map[string]ContigNames{}
		}
		b.sum.Renamed[w.ctg] = w.names
	}
}

// Resolve returns the names of VCF contig c in the gene model and in the
// reference: c where it is there, else the first of its aliases
// (contig.Aliases) that is, else c. A contig the model dropped every
// transcript of counts as there. Each contig is resolved once; Resolve
// may be called from several goroutines at once.
func (a *Annotator) Resolve(c string) ContigNames {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n, ok := a.contigs[c]; ok {
		return n
	}
	var n ContigNames
	n.Model, _ = contig.Resolve(c, func(s string) bool { return a.model.HasChrom(s) || a.dropped[s] != nil })
	n.Reference, _ = contig.Resolve(c, a.refHas)
	if a.contigs == nil {
		a.contigs = map[string]ContigNames{}
	}
	a.contigs[c] = n
	return n
}

// Predict is the predictor's result for one allele (not checked against
// the reference as Run checks it first) on a contig named as the VCF or
// another file names it: it is read under the gene model's name for it
// (Resolve). For callers outside Run, such as the report draft placing
// ClinVar's variants on codons.
func (a *Annotator) Predict(v csq.Variant) (*csq.Result, error) {
	v.Chrom = a.Resolve(v.Chrom).Model
	return a.pred.Annotate(v)
}

// refHas says whether the reference has a sequence named c.
func (a *Annotator) refHas(c string) bool {
	if a.refNames != nil {
		return a.refNames[c]
	}
	_, err := a.ref.Seq(c, 1, 1)
	return err == nil
}

// modelRef is the reference as the predictor reads it: under the gene
// model's contig names, which the predictor is given and reads the
// transcripts' bases under. It is a.ref itself unless the reference has
// some of the model's contigs only under an alias.
func (a *Annotator) modelRef(m *genemodel.Model) csq.Reference {
	var names map[string]string
	for _, c := range m.Chroms() {
		if r, ok := contig.Resolve(c, a.refHas); ok && r != c {
			if names == nil {
				names = map[string]string{}
			}
			names[c] = r
		}
	}
	if names == nil {
		return a.ref
	}
	return &renamedRef{ref: a.ref, names: names}
}

// renamed is err with the contig name its message starts with, from,
// written to: the predictor names contigs as the gene model does, the
// warnings as the VCF does.
func renamed(err error, from, to string) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, from+":") {
		return err
	}
	return &renamedError{msg: to + msg[len(from):], err: err}
}

type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// seqAppender is a Reference that copies bases into the caller's memory.
type seqAppender interface {
	AppendSeq(dst []byte, chrom string, start, end int64) ([]byte, error)
}

// checkRef checks REF against the reference before the predictor does,
// for what the predictor lets through or reports under another name: a
// contig the reference does not have (WarnNotInReference), N in REF over
// a reference base, a base in REF over N in the reference
// (WarnRefMismatch), N over N (WarnUnsupported: the base is unknown, so
// is the consequence). Bases that plainly differ, and a REF past the end
// of the contig, are left to the predictor. "" when REF passes.
// refChrom is the name of rec's contig in the reference.
func (a *Annotator) checkRef(w *worker, rec *vcf.Record, refChrom string) (string, error) {
	end := rec.Pos + int64(len(rec.Ref)) - 1
	var seq []byte
	var err error
	if ap, ok := a.ref.(seqAppender); ok {
		w.refSeq, err = ap.AppendSeq(w.refSeq[:0], refChrom, rec.Pos, end)
		seq = w.refSeq
	} else {
		seq, err = a.ref.Seq(refChrom, rec.Pos, end)
	}
	if err != nil {
		if errors.Is(err, ErrNoSequence) {
			return WarnNotInReference, fmt.Errorf("%s: contig not in the reference", rec.Chrom)
		}
		if errors.Is(err, ErrStaleIndex) {
			return "", err // no record can be trusted: the run stops
		}
		return "", nil
	}
	unknown := false
	for i := 0; i < len(seq) && i < len(rec.Ref); i++ {
		r, c := upper(rec.Ref[i]), upper(seq[i])
		switch {
		case isBase(r) && isBase(c):
			// equal, or a plain mismatch the predictor reports
		case isBase(c):
			return WarnRefMismatch, fmt.Errorf("%s:%d: %w: VCF has %s, reference has %s (REF has %c where the reference has %c)",
				rec.Chrom, rec.Pos, csq.ErrRefMismatch, rec.Ref, seq, rec.Ref[i], seq[i])
		case isBase(r):
			return WarnRefMismatch, fmt.Errorf("%s:%d: %w: VCF has %s, reference has %s (the reference does not know base %d: REF cannot be checked)",
				rec.Chrom, rec.Pos, csq.ErrRefMismatch, rec.Ref, seq, rec.Pos+int64(i))
		default: // N over N (or another ambiguity code)
			unknown = true
		}
	}
	if unknown {
		return WarnUnsupported, fmt.Errorf("%s:%d: %w: REF %s over reference %s: the base is unknown, so is the consequence",
			rec.Chrom, rec.Pos, csq.ErrUnsupported, rec.Ref, seq)
	}
	return "", nil
}

func isBase(c byte) bool { return c == 'A' || c == 'C' || c == 'G' || c == 'T' }

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 32
	}
	return c
}

// droppedError says why a contig in the gene model file has no
// transcript in the model.
func (a *Annotator) droppedError(chrom string) error {
	kinds := a.dropped[chrom]
	names := make([]string, 0, len(kinds))
	for k, c := range kinds {
		names = append(names, fmt.Sprintf("%s %d", k, c))
	}
	slices.Sort(names)
	return fmt.Errorf("%s: no usable transcript on %s: the gene model dropped what its file has there (%s); see the gene model warnings",
		chrom, chrom, strings.Join(names, ", "))
}

func warnKind(err error) string {
	switch {
	case errors.Is(err, csq.ErrRefMismatch):
		return WarnRefMismatch
	case errors.Is(err, csq.ErrUnknownContig):
		return WarnUnknownContig
	case errors.Is(err, csq.ErrTranscriptOutsideReference):
		return WarnTranscriptOutside
	case errors.Is(err, csq.ErrUnsupported):
		return WarnUnsupported
	}
	return ""
}

func (a *Annotator) annotateBatch(r *vcf.Reader, w *worker, b *batch, file string, wantVCF, wantTSV bool) {
	text := string(b.raw) // one string for every record of the batch
	vb, tb := b.vcf[:0], b.tsv[:0]
	extra := w.extra
	// The strings of the previous batch's results are all copied out.
	w.res.Recycle()
	rec := &w.rec
	// Each line is parsed just before it is annotated (the record is
	// still in the cache when it is written).
	for ri, l := range b.lines[:b.n] {
		line := text[l.start:l.end]
		if err := r.ParseLine(rec, line, l.num); err != nil {
			b.err = err
			return
		}
		b.sum.Records++
		if rec.Chrom != w.ctg {
			a.setContig(w, b, rec.Chrom)
		}
		vb, tb = reserve(vb, wantVCF), reserve(tb, wantTSV)
		for i := range extra {
			extra[i] = append(extra[i][:0], make([]string, len(rec.Alt))...)
		}
		var head, tail string
		whole, hasInfo := false, false // hasInfo: the INFO written so far has an entry
		if wantVCF {
			head, tail, whole = splitLine(rec, line)
			vb, hasInfo = appendFixed(vb, rec, head, a.fields)
		}
		if wantTSV {
			w.prefix = append(w.prefix[:0], rec.Chrom...)
			w.prefix = append(w.prefix, '\t')
			w.prefix = csq.AppendInt(w.prefix, rec.Pos)
			w.prefix = append(w.prefix, '\t')
			w.prefix = append(w.prefix, rec.Ref...)
			w.prefix = append(w.prefix, '\t')
		}
		firstCSQ := true
		checked, refKind := false, ""
		var refErr error
		for ai, alt := range rec.Alt {
			b.sum.Alleles++
			for _, s := range a.sources {
				m, err := s.Lookup(rec.Chrom, rec.Pos, rec.Ref, alt)
				if err != nil {
					b.err = parseError(r, rec, text, b.lines[ri+1:b.n], fmt.Errorf("%s: line %d: source %s: %w", file, rec.Line, s.Name(), err))
					return
				}
				if m != nil {
					inc(&b.sum.Matched, s.Name())
				}
				for fi, f := range a.fields {
					if v, ok := m[f]; ok {
						extra[fi][ai] = v
					}
				}
			}
			if alt == "*" || alt == "." {
				continue
			}
			v := csq.Variant{Chrom: w.names.Model, Pos: rec.Pos, Ref: rec.Ref, Alt: alt}
			if strings.HasPrefix(alt, "<") { // END matters to symbolic alleles only
				if end, ok := rec.InfoValue("END"); ok {
					v.End, _ = strconv.ParseInt(end, 10, 64)
				}
			}
			if !checked { // once per record: REF is the record's
				checked = true
				refKind, refErr = a.checkRef(w, rec, w.names.Reference)
				if refKind == "" && refErr != nil {
					b.err = parseError(r, rec, text, b.lines[ri+1:b.n], fmt.Errorf("%s: line %d: --fasta: %w", file, rec.Line, refErr))
					return
				}
			}
			if refKind != "" {
				a.warn(b, file, rec, alt, refKind, refErr)
				continue
			}
			res := &w.res
			if err := a.pred.AnnotateTo(res, v); err != nil {
				kind := warnKind(err)
				if kind == "" {
					b.err = parseError(r, rec, text, b.lines[ri+1:b.n], fmt.Errorf("%s: line %d: %w", file, rec.Line, err))
					return
				}
				if kind == WarnUnknownContig && a.dropped[w.names.Model] != nil {
					kind, err = WarnNoTranscripts, a.droppedError(w.names.Model)
				}
				if w.renamed {
					err = renamed(err, w.names.Model, rec.Chrom)
				}
				a.warn(b, file, rec, alt, kind, err)
				continue
			}
			b.sum.Annotated++
			hgvsg := res.HGVSg
			if w.renamed && strings.HasPrefix(hgvsg, w.names.Model+":") {
				// csq names the contig as the gene model does.
				hgvsg = rec.Chrom + hgvsg[len(w.names.Model):]
			}
			if wantVCF && a.layout != nil {
				w.escAlt, w.escHGVSg = alt, hgvsg
				if needsEscape(alt) {
					w.escAlt = escapeInfo(alt)
				}
				if needsEscape(hgvsg) { // only its contig may need it
					w.escHGVSg = escapeInfo(hgvsg)
				}
			}
			if wantVCF && a.layout == nil {
				w.alt = append(appendEscaped(w.alt[:0], alt), '|')
				if rec.Chrom != w.chrom {
					w.chrom, w.plain = rec.Chrom, !needsEscape(rec.Chrom)
				}
				// HGVSg is the contig, ":g." and positions, bases and
				// letters (package csq): only the contig may need escaping.
				w.hgvsg = append(w.hgvsg[:0], '|')
				if w.plain {
					w.hgvsg = append(w.hgvsg, hgvsg...)
				} else {
					w.hgvsg = appendEscaped(w.hgvsg, hgvsg)
				}
				w.hgvsg = append(w.hgvsg, '|')
			}
			for i := range res.Effects {
				e := &res.Effects[i]
				to := &a.none
				if e.Transcript != nil {
					to = &a.tx[e.Transcript.Index()]
				}
				if wantVCF {
					switch {
					case !firstCSQ:
						vb = append(vb, ',')
					case hasInfo:
						vb = append(vb, ";CSQ="...)
					default:
						vb = append(vb, "CSQ="...)
					}
					firstCSQ = false
					if a.layout == nil {
						vb = appendEffectVCF(vb, w.alt, w.hgvsg, e, to)
					} else {
						vb = appendEffectFields(vb, a.layout.vcf, false, w.escAlt, w.escHGVSg, e, to)
					}
				}
				if wantTSV {
					tb = append(tb, w.prefix...)
					if a.layout == nil {
						tb = appendEffectTSV(tb, alt, hgvsg, e, to)
					} else {
						tb = appendEffectFields(addDot(tb, alt), a.layout.tsv, true, alt, hgvsg, e, to)
					}
					for fi := range a.fields {
						tb = addDot(append(tb, '\t'), extra[fi][ai])
					}
					tb = append(tb, '\n')
					b.sum.Rows++
				}
			}
		}
		if wantVCF {
			vb = appendRest(vb, rec, tail, whole, !hasInfo && firstCSQ, a.fields, extra, len(r.Header().Samples))
		}
	}
	b.vcf, b.tsv = vb, tb
}

// parseError returns the error of the first of lines (of text) that does
// not parse, err when they all do: a batch is reported failing for a
// line it cannot parse before any error annotating an earlier one. rec
// is overwritten.
func parseError(r *vcf.Reader, rec *vcf.Record, text string, lines []rawLine, err error) error {
	for _, l := range lines {
		if perr := r.ParseLine(rec, text[l.start:l.end], l.num); perr != nil {
			return perr
		}
	}
	return err
}

// reserve makes room in an output buffer for at least one more record,
// doubling it (append grows a large slice by a quarter at a time, copying
// it each time).
func reserve(b []byte, want bool) []byte {
	const room = 64 << 10
	if !want || cap(b)-len(b) >= room {
		return b
	}
	return append(make([]byte, 0, 2*cap(b)+room), b...)
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}
