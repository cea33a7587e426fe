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
	"bytes"
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
}

// Annotator annotates VCF streams against one gene model and reference.
type Annotator struct {
	model   *genemodel.Model
	pred    *csq.Annotator
	threads int
	sources []Source
	fields  []string // all source fields, in order
}

// New returns an Annotator. ref must stay valid while it is used.
func New(model *genemodel.Model, ref csq.Reference, opt Options) *Annotator {
	a := &Annotator{model: model, pred: csq.New(model, ref), threads: opt.Threads, sources: opt.Sources}
	if a.threads <= 0 {
		a.threads = runtime.NumCPU()
	}
	for _, s := range opt.Sources {
		a.fields = append(a.fields, s.Fields()...)
	}
	return a
}

// batch is a run of records annotated by one worker.
type batch struct {
	seq  int
	recs []*vcf.Record
	vcf  []byte
	tsv  []byte
	sum  Summary
	err  error
}

const batchSize = 512

// Run reads VCF from in (file names it in messages) and writes the
// annotated VCF to vcfOut and the TSV to tsvOut (either may be nil).
func (a *Annotator) Run(ctx context.Context, in io.Reader, file string, vcfOut, tsvOut io.Writer) (*Summary, error) {
	r, err := vcf.NewReader(in, file)
	if err != nil {
		return nil, err
	}
	var vw, tw *bufio.Writer
	if vcfOut != nil {
		vw = bufio.NewWriterSize(vcfOut, 1<<20)
		a.writeHeader(vw, r.Header())
	}
	if tsvOut != nil {
		tw = bufio.NewWriterSize(tsvOut, 1<<20)
		tw.WriteString(strings.Join(a.tsvColumns(), "\t") + "\n")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *batch, a.threads)
	done := make(chan *batch, a.threads)
	var readErr error
	go func() { // reader
		defer close(work)
		seq := 0
		for {
			b := &batch{seq: seq}
			for len(b.recs) < batchSize {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					readErr = err
					break
				}
				b.recs = append(b.recs, rec)
			}
			if len(b.recs) == 0 {
				return
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
			seq++
			if readErr != nil || len(b.recs) < batchSize {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range a.threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				a.annotateBatch(b, file, vw != nil, tw != nil)
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
			if vw != nil {
				vw.Write(nb.vcf)
			}
			if tw != nil {
				tw.Write(nb.tsv)
			}
			sum.add(&nb.sum)
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
	for _, w := range []*bufio.Writer{vw, tw} {
		if w != nil {
			if err := w.Flush(); err != nil {
				return sum, err
			}
		}
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

func (a *Annotator) annotateBatch(b *batch, file string, wantVCF, wantTSV bool) {
	var vb, tb bytes.Buffer
	vb.Grow(len(b.recs) * 512)
	if wantTSV {
		tb.Grow(len(b.recs) * 1024)
	}
	b.sum.Warnings = map[string]int{}
	extra := make([][]string, len(a.fields)) // per field, per ALT
	for _, rec := range b.recs {
		b.sum.Records++
		for i := range extra {
			extra[i] = append(extra[i][:0], make([]string, len(rec.Alt))...)
		}
		if wantVCF {
			writeFixed(&vb, rec)
		}
		hasInfo := rec.Info != "." && rec.Info != ""
		firstCSQ := true
		for ai, alt := range rec.Alt {
			b.sum.Alleles++
			for _, s := range a.sources {
				m, err := s.Lookup(rec.Chrom, rec.Pos, rec.Ref, alt)
				if err != nil {
					b.err = fmt.Errorf("%s: line %d: source %s: %w", file, rec.Line, s.Name(), err)
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
			if end, ok := rec.InfoValue("END"); ok {
				v.End, _ = strconv.ParseInt(end, 10, 64)
			}
			res, err := a.pred.Annotate(v)
			if err != nil {
				kind := warnKind(err)
				if kind == "" {
					b.err = fmt.Errorf("%s: line %d: %w", file, rec.Line, err)
					return
				}
				b.sum.Warnings[kind]++
				if len(b.sum.Examples) < maxExamples {
					b.sum.Examples = append(b.sum.Examples, fmt.Sprintf("%s:%d: %s: %v", file, rec.Line, kind, err))
				}
				continue
			}
			b.sum.Annotated++
			for _, e := range res.Effects {
				if wantVCF {
					switch {
					case !firstCSQ:
						vb.WriteByte(',')
					case hasInfo:
						vb.WriteString(";CSQ=")
					default:
						vb.WriteString("CSQ=")
					}
					firstCSQ = false
					appendEffect(&vb, alt, res, &e, '|', true)
				}
				if wantTSV {
					tb.WriteString(rec.Chrom)
					tb.WriteByte('\t')
					tb.WriteString(strconv.FormatInt(rec.Pos, 10))
					tb.WriteByte('\t')
					tb.WriteString(rec.Ref)
					tb.WriteByte('\t')
					appendEffect(&tb, alt, res, &e, '\t', false)
					for fi := range a.fields {
						tb.WriteByte('\t')
						tb.WriteString(orDot(extra[fi][ai]))
					}
					tb.WriteByte('\n')
					b.sum.Rows++
				}
			}
		}
		if wantVCF {
			writeRest(&vb, rec, !hasInfo && firstCSQ, a.fields, extra)
		}
	}
	b.vcf, b.tsv = vb.Bytes(), tb.Bytes()
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}
