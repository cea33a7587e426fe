// Package annotate streams a VCF through the consequence predictor
// (package csq) and any known-variant Sources, and writes an annotated
// VCF, with a CSQ INFO field declared in its header, and a TSV with one
// row per variant and transcript. Records are annotated on several
// workers and written in input order.
//
// A record whose REF does not match the reference, on a contig the gene
// model does not know, or with an allele the predictor does not handle,
// is written unchanged, without a consequence, and counted as a warning
// by kind: never annotated wrongly.
package annotate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/clinomics/clinomics/internal/annotate/csq"
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
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

// Warning kinds counted in the Summary.
const (
	WarnRefMismatch   = "ref_mismatch"
	WarnUnknownContig = "unknown_contig"
	WarnUnsupported   = "unsupported_allele"
)

// Summary says what a run did.
type Summary struct {
	Records   int            // VCF data lines
	Alleles   int            // ALT alleles seen
	Annotated int            // alleles given consequences
	Rows      int            // TSV rows written
	Warnings  map[string]int // by kind
	// Examples holds the first few warnings, "file:line: message".
	Examples []string
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
}

// Annotator annotates VCF streams against one gene model and reference.
type Annotator struct {
	model   *genemodel.Model
	pred    *csq.Annotator
	threads int
	sources []Source
	fields  []string // all source fields, in order
	tx      []txOut  // by Transcript.Index: the fixed parts of its output
	none    txOut    // for an effect on no transcript
}

// New returns an Annotator. ref must stay valid while it is used.
func New(model *genemodel.Model, ref csq.Reference, opt Options) *Annotator {
	flank := int64(genemodel.Flank)
	if opt.Flank != nil {
		flank = *opt.Flank
	}
	a := &Annotator{model: model, pred: csq.NewWithFlank(model, ref, flank), threads: opt.Threads, sources: opt.Sources}
	if a.threads <= 0 {
		a.threads = runtime.NumCPU()
	}
	for _, s := range opt.Sources {
		a.fields = append(a.fields, s.Fields()...)
	}
	a.tx = make([]txOut, len(model.Transcripts))
	for i, t := range model.Transcripts {
		a.tx[i] = newTxOut(t)
	}
	a.none = newTxOut(nil)
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
	chrom  string     // the contig of the last record
	plain  bool       // chrom has no byte to escape in INFO
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
				*b = batch{raw: b.raw[:0], lines: b.lines[:0], vcf: b.vcf[:0], tsv: b.tsv[:0]}
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
	return sum, nil
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
}

func warnKind(err error) string {
	switch {
	case errors.Is(err, csq.ErrRefMismatch):
		return WarnRefMismatch
	case errors.Is(err, csq.ErrUnknownContig):
		return WarnUnknownContig
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
		vb, tb = reserve(vb, wantVCF), reserve(tb, wantTSV)
		for i := range extra {
			extra[i] = append(extra[i][:0], make([]string, len(rec.Alt))...)
		}
		var head, tail string
		whole := false
		if wantVCF {
			head, tail, whole = splitLine(rec, line)
			vb = appendFixed(vb, rec, head)
		}
		if wantTSV {
			w.prefix = append(w.prefix[:0], rec.Chrom...)
			w.prefix = append(w.prefix, '\t')
			w.prefix = csq.AppendInt(w.prefix, rec.Pos)
			w.prefix = append(w.prefix, '\t')
			w.prefix = append(w.prefix, rec.Ref...)
			w.prefix = append(w.prefix, '\t')
		}
		hasInfo := rec.Info != "." && rec.Info != ""
		firstCSQ := true
		for ai, alt := range rec.Alt {
			b.sum.Alleles++
			for _, s := range a.sources {
				m, err := s.Lookup(rec.Chrom, rec.Pos, rec.Ref, alt)
				if err != nil {
					b.err = parseError(r, rec, text, b.lines[ri+1:b.n], fmt.Errorf("%s: line %d: source %s: %w", file, rec.Line, s.Name(), err))
					return
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
			v := csq.Variant{Chrom: rec.Chrom, Pos: rec.Pos, Ref: rec.Ref, Alt: alt}
			if strings.HasPrefix(alt, "<") { // END matters to symbolic alleles only
				if end, ok := rec.InfoValue("END"); ok {
					v.End, _ = strconv.ParseInt(end, 10, 64)
				}
			}
			res := &w.res
			if err := a.pred.AnnotateTo(res, v); err != nil {
				kind := warnKind(err)
				if kind == "" {
					b.err = parseError(r, rec, text, b.lines[ri+1:b.n], fmt.Errorf("%s: line %d: %w", file, rec.Line, err))
					return
				}
				if b.sum.Warnings == nil {
					b.sum.Warnings = map[string]int{}
				}
				b.sum.Warnings[kind]++
				if len(b.sum.Examples) < maxExamples {
					b.sum.Examples = append(b.sum.Examples, fmt.Sprintf("%s:%d: %s: %v", file, rec.Line, kind, err))
				}
				continue
			}
			b.sum.Annotated++
			if wantVCF {
				w.alt = append(appendEscaped(w.alt[:0], alt), '|')
				if rec.Chrom != w.chrom {
					w.chrom, w.plain = rec.Chrom, !needsEscape(rec.Chrom)
				}
				// HGVSg is the contig, ":g." and positions, bases and
				// letters (package csq): only the contig may need escaping.
				w.hgvsg = append(w.hgvsg[:0], '|')
				if w.plain {
					w.hgvsg = append(w.hgvsg, res.HGVSg...)
				} else {
					w.hgvsg = appendEscaped(w.hgvsg, res.HGVSg)
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
					vb = appendEffectVCF(vb, w.alt, w.hgvsg, e, to)
				}
				if wantTSV {
					tb = append(tb, w.prefix...)
					tb = appendEffectTSV(tb, alt, res.HGVSg, e, to)
					for fi := range a.fields {
						tb = addDot(append(tb, '\t'), extra[fi][ai])
					}
					tb = append(tb, '\n')
					b.sum.Rows++
				}
			}
		}
		if wantVCF {
			vb = appendRest(vb, rec, tail, whole, !hasInfo && firstCSQ, a.fields, extra)
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
