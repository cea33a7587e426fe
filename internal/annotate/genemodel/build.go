package genemodel

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/gff"
)

// feature is what the builder keeps of one GFF line.
type feature struct {
	typ, id, chrom string
	parents        []string
	start, end     int64
	strand         int8
	phase          int
	line           int
	name, biotype  string
	txID, geneID   string // explicit transcript_id / gene_id attributes
	mane, ensCanon bool
	geneName       string
	tx             *txBuild // GFF3: the transcript this feature heads, once made
	warned         bool     // GFF3: its missing parent was reported
}

// Part types: features that belong to a transcript.
func isExon(t string) bool { return t == "exon" || t == "noncoding_exon" }
func isCDS(t string) bool  { return t == "CDS" || t == "stop_codon" }
func isUTR(t string) bool {
	return t == "five_prime_UTR" || t == "three_prime_UTR" || t == "UTR" || t == "5UTR" || t == "3UTR"
}

// BuildFile reads a GFF3 or GTF file (plain or gzip) once and builds the
// model.
func BuildFile(path string) (*Model, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ra := newReadAhead(f)
	defer ra.stop()
	return Build(ra, path, gff.Auto)
}

// readAhead reads (and so decompresses) its source on another goroutine,
// a few chunks ahead of the parser.
type readAhead struct {
	chunks chan chunk
	free   chan []byte
	done   chan struct{}
	cur    chunk
}

type chunk struct {
	buf []byte // as allocated, for reuse
	b   []byte // what is left to read of buf
	err error  // after b
}

const (
	readAheadChunk = 256 << 10
	readAheadDepth = 4
)

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{chunks: make(chan chunk, readAheadDepth), free: make(chan []byte, readAheadDepth+2), done: make(chan struct{})}
	go func() {
		defer close(ra.chunks)
		for {
			var buf []byte
			select {
			case buf = <-ra.free:
			default:
				buf = make([]byte, readAheadChunk)
			}
			n := 0
			var err error
			for n < len(buf) && err == nil { // errors (io.EOF too) as r gives them
				var k int
				k, err = r.Read(buf[n:])
				n += k
			}
			select {
			case ra.chunks <- chunk{buf, buf[:n], err}:
			case <-ra.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur.b) == 0 {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.buf != nil {
			select {
			case ra.free <- ra.cur.buf:
			default:
			}
			ra.cur.buf = nil
		}
		c, ok := <-ra.chunks
		if !ok {
			return 0, io.EOF
		}
		ra.cur = c
	}
	n := copy(p, ra.cur.b)
	ra.cur.b = ra.cur.b[n:]
	return n, nil
}

// stop ends the goroutine (before the source is closed).
func (ra *readAhead) stop() {
	close(ra.done)
	for range ra.chunks {
	}
}

// Build reads GFF3 or GTF from r; file names the input in warnings and
// errors. A syntax error stops the build; a modelling problem is a
// Warning and the model is built without the feature it concerns.
func Build(r io.Reader, file string, d gff.Dialect) (*Model, error) {
	gr := gff.NewReader(r, file, d)
	gr.ClampStart = true
	var feats []*feature
	var slab []feature   // features are allocated a slab at a time
	var parents []string // and their Parent IDs
	for {
		rec, err := gr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Type == "chromosome" || rec.Type == "region" || rec.Type == "biological_region" || rec.Type == "match" || rec.Type == "cDNA_match" {
			continue
		}
		if len(slab) == cap(slab) {
			slab = make([]feature, 0, 1024)
		}
		slab = slab[:len(slab)+1] // convert sets every field
		f := &slab[len(slab)-1]
		convert(f, rec, &parents)
		feats = append(feats, f)
	}
	b := &builder{file: file}
	if gr.Dialect() == gff.GTF {
		b.gtf(feats)
	} else {
		b.gff3(feats)
	}
	return b.finish(), nil
}

// convert fills f from rec; the Parent IDs of f are appended to *slab
// when they fit (it is replaced when full).
func convert(f *feature, rec *gff.Record, slab *[]string) {
	*f = feature{typ: rec.Type, chrom: rec.Seqid, start: rec.Start, end: rec.End, phase: rec.Phase, line: rec.Line}
	switch rec.Strand {
	case '+':
		f.strand = 1
	case '-':
		f.strand = -1
	}
	// One pass over the attributes: the first value of each key read
	// (what rec.Attr returns), and every Parent and tag (rec.Values).
	var first [nAttrKeys]string
	var seen uint32
	for _, a := range rec.Attributes {
		switch a.Key {
		case "Parent":
			if f.parents != nil || len(a.Values) > 256 { // rare: a second Parent attribute, or very many
				f.parents = append(f.parents, a.Values...)
				continue
			}
			if len(*slab)+len(a.Values) > cap(*slab) {
				*slab = make([]string, 0, 4096)
			}
			n := len(*slab)
			*slab = append(*slab, a.Values...)
			f.parents = (*slab)[n:len(*slab):len(*slab)]
			continue
		case "tag":
			for _, tag := range a.Values {
				switch tag {
				case "MANE_Select", "MANE Select":
					f.mane = true
				case "Ensembl_canonical":
					f.ensCanon = true
				}
			}
			continue
		}
		if k := attrKey(a.Key); k >= 0 && seen&(1<<k) == 0 && len(a.Values) > 0 {
			first[k], seen = a.Values[0], seen|1<<k
		}
	}
	f.id = first[aID]
	f.txID = first[aTranscriptID]
	f.geneID = first[aGeneID]
	f.name = first[aName]
	f.geneName = firstNonEmpty(first[aGeneName], first[aGene])
	f.biotype = firstNonEmpty(first[aBiotype], first[aTranscriptBiotype], first[aTranscriptType], first[aGeneBiotype], first[aGeneType])
	if f.biotype == "" && first[aGbkey] != "" {
		f.biotype = refseqBiotype(rec)
	}
}

// The attributes convert reads the first value of.
const (
	aID = iota
	aTranscriptID
	aGeneID
	aName
	aGeneName
	aGene
	aBiotype
	aTranscriptBiotype
	aTranscriptType
	aGeneBiotype
	aGeneType
	aGbkey
	nAttrKeys
)

// attrKey numbers the attributes convert reads; -1 for the others.
func attrKey(k string) int {
	switch k {
	case "ID":
		return aID
	case "transcript_id":
		return aTranscriptID
	case "gene_id":
		return aGeneID
	case "Name":
		return aName
	case "gene_name":
		return aGeneName
	case "gene":
		return aGene
	case "biotype":
		return aBiotype
	case "transcript_biotype":
		return aTranscriptBiotype
	case "transcript_type":
		return aTranscriptType
	case "gene_biotype":
		return aGeneBiotype
	case "gene_type":
		return aGeneType
	case "gbkey":
		return aGbkey
	}
	return -1
}

// refseqBiotype maps RefSeq gbkey / ncrna_class to Ensembl-like biotypes.
func refseqBiotype(rec *gff.Record) string {
	switch rec.Attr("gbkey") {
	case "mRNA", "CDS":
		return "protein_coding"
	case "ncRNA":
		if c := rec.Attr("ncrna_class"); c != "" {
			return c
		}
		return "ncRNA"
	case "Gene":
		return ""
	}
	return rec.Attr("gbkey")
}

type builder struct {
	file     string
	warnings []Warning
	genes    map[string]*Gene
	order    []*Gene
	txs      []*txBuild
}

type txBuild struct {
	t     *Transcript
	head  *feature // the transcript line, when there is one
	exons []*feature
	cds   []*feature
	utrs  []*feature
}

// warn records a problem with the feature at line, on contig chrom.
func (b *builder) warn(kind, chrom string, line int, format string, a ...any) {
	b.warnings = append(b.warnings, Warning{Kind: kind, File: b.file, Line: line, Chrom: chrom, Message: fmt.Sprintf(format, a...)})
}

func stripPrefix(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		switch id[:i] {
		case "gene", "transcript", "CDS", "exon":
			return id[i+1:]
		}
	}
	return id
}

func (b *builder) gene(id string, f *feature) *Gene {
	if b.genes == nil {
		b.genes = map[string]*Gene{}
	}
	g := b.genes[id]
	if g == nil {
		g = &Gene{ID: id, Chrom: f.chrom, Strand: f.strand, Start: f.start, End: f.end}
		b.genes[id] = g
		b.order = append(b.order, g)
	}
	return g
}

// gff3 links features by ID and Parent: a feature that is the parent of
// an exon or CDS is a transcript; its parent is the gene (a transcript
// without a parent is its own gene).
func (b *builder) gff3(feats []*feature) {
	n := 0
	for _, f := range feats {
		if f.id != "" {
			n++
		}
	}
	byID := make(map[string]*feature, n)
	for _, f := range feats {
		if f.id != "" {
			byID[f.id] = f
		}
	}
	for _, f := range feats {
		if !isExon(f.typ) && !isCDS(f.typ) && !isUTR(f.typ) {
			continue
		}
		if len(f.parents) == 0 {
			b.warn(WarnMissingParent, f.chrom, f.line, "%s without a Parent attribute", f.typ)
			continue
		}
		for _, pid := range f.parents {
			p := byID[pid]
			if p == nil {
				b.warn(WarnMissingParent, f.chrom, f.line, "%s: Parent %q is not defined in the file", f.typ, pid)
				continue
			}
			tb := p.tx
			if tb == nil {
				tb = b.newTx(p, byID)
				if tb == nil {
					continue
				}
				p.tx = tb
			}
			tb.add(f)
		}
	}
	for _, f := range feats {
		if len(f.parents) == 0 || f.tx != nil || isExon(f.typ) || isCDS(f.typ) || isUTR(f.typ) || f.warned {
			continue
		}
		missing := false
		for _, pid := range f.parents {
			if byID[pid] == nil {
				b.warn(WarnMissingParent, f.chrom, f.line, "%s: Parent %q is not defined in the file", f.typ, pid)
				missing = true
			}
		}
		if !missing && len(byID[f.parents[0]].parents) == 0 {
			// A child of a top-level gene with no parts of its own.
			b.warn(WarnNoExons, f.chrom, f.line, "%s %s has no exons; dropped", f.typ, firstNonEmpty(f.txID, stripPrefix(f.id)))
		}
	}
}

func (b *builder) newTx(p *feature, byID map[string]*feature) *txBuild {
	var gf *feature
	if len(p.parents) > 0 {
		gf = byID[p.parents[0]]
		if gf == nil {
			if !p.warned {
				b.warn(WarnMissingParent, p.chrom, p.line, "%s: Parent %q is not defined in the file", p.typ, p.parents[0])
				p.warned = true
			}
			return nil
		}
	} else {
		gf = p
	}
	gid := gf.geneID
	if gid == "" {
		gid = stripPrefix(gf.id)
	}
	g := b.gene(gid, gf)
	if g.Name == "" {
		g.Name = firstNonEmpty(gf.name, gf.geneName, p.geneName, gid)
	}
	if g.Biotype == "" {
		g.Biotype = gf.biotype
	}
	id := firstNonEmpty(p.txID, stripPrefix(p.id), p.name)
	bt := p.biotype
	if p == gf || bt == "" {
		bt = firstNonEmpty(p.biotype, gf.biotype)
		if p.typ == "mRNA" {
			bt = "protein_coding"
		}
	}
	t := &Transcript{ID: id, Biotype: bt, Chrom: p.chrom, Start: p.start, End: p.end, Strand: p.strand,
		MANE: p.mane, EnsemblCanonical: p.ensCanon, Gene: g}
	tb := &txBuild{t: t, head: p}
	b.txs = append(b.txs, tb)
	return tb
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func (tb *txBuild) add(f *feature) {
	switch {
	case isExon(f.typ):
		tb.exons = append(tb.exons, f)
	case isCDS(f.typ):
		tb.cds = append(tb.cds, f)
	default:
		tb.utrs = append(tb.utrs, f)
	}
}

// gtf groups features by transcript_id and gene_id.
func (b *builder) gtf(feats []*feature) {
	byTx := map[string]*txBuild{}
	for _, f := range feats {
		if f.txID == "" {
			if f.typ != "gene" {
				if isExon(f.typ) || isCDS(f.typ) || isUTR(f.typ) {
					b.warn(WarnMissingParent, f.chrom, f.line, "%s without transcript_id", f.typ)
				}
			}
			continue
		}
		tb := byTx[f.txID]
		if tb == nil {
			if f.geneID == "" {
				b.warn(WarnMissingParent, f.chrom, f.line, "%s without gene_id", f.typ)
				continue
			}
			g := b.gene(f.geneID, f)
			if g.Name == "" {
				g.Name = firstNonEmpty(f.geneName, f.geneID)
			}
			tb = &txBuild{t: &Transcript{ID: f.txID, Chrom: f.chrom, Strand: f.strand, Start: f.start, End: f.end, Gene: g}}
			byTx[f.txID] = tb
			b.txs = append(b.txs, tb)
		}
		t := tb.t
		if f.biotype != "" && (t.Biotype == "" || f.typ == "transcript") {
			t.Biotype = f.biotype
		}
		if g := t.Gene; g.Biotype == "" && f.typ == "gene" {
			g.Biotype = f.biotype
		}
		t.MANE = t.MANE || f.mane
		t.EnsemblCanonical = t.EnsemblCanonical || f.ensCanon
		switch {
		case f.typ == "transcript":
			tb.head = f
		case isExon(f.typ) || isCDS(f.typ) || isUTR(f.typ):
			tb.add(f)
		}
	}
}

// finish checks every transcript, fixes spans, links genes and indexes.
func (b *builder) finish() *Model {
	m := &Model{}
	for _, tb := range b.txs {
		if b.check(tb) {
			t := tb.t
			t.Gene.Transcripts = append(t.Gene.Transcripts, t)
		}
	}
	for _, g := range b.order {
		if len(g.Transcripts) == 0 {
			continue
		}
		for _, t := range g.Transcripts {
			g.Start, g.End = min(g.Start, t.Start), max(g.End, t.End)
			if g.Biotype == "" {
				g.Biotype = t.Biotype
			}
		}
		chooseCanonical(g)
		m.Genes = append(m.Genes, g)
		m.Transcripts = append(m.Transcripts, g.Transcripts...)
	}
	sort.SliceStable(b.warnings, func(i, j int) bool { return b.warnings[i].Line < b.warnings[j].Line })
	m.Warnings = b.warnings
	m.index = buildIndex(m.Transcripts)
	return m
}

func line(tb *txBuild) int {
	if tb.head != nil {
		return tb.head.line
	}
	for _, l := range [][]*feature{tb.exons, tb.cds, tb.utrs} {
		if len(l) > 0 {
			return l[0].line
		}
	}
	return 0
}

// check validates one transcript and fills Exons, CDS and StartPhase;
// false drops it.
func (b *builder) check(tb *txBuild) bool {
	t := tb.t
	for _, l := range [][]*feature{tb.exons, tb.cds, tb.utrs} {
		for _, f := range l {
			if f.chrom != t.Chrom || (f.strand != t.Strand && f.strand != 0 && t.Strand != 0) {
				b.warn(WarnInconsistent, t.Chrom, f.line, "%s of %s is on %s strand %d, the transcript on %s strand %d; transcript dropped", f.typ, t.ID, f.chrom, f.strand, t.Chrom, t.Strand)
				return false
			}
			if t.Strand == 0 {
				t.Strand = f.strand
			}
		}
	}
	if t.Strand == 0 {
		t.Strand = 1
	}
	exons := ranges(tb.exons)
	cds := ranges(tb.cds)
	if len(exons) == 0 {
		if len(cds) == 0 && len(tb.utrs) == 0 {
			b.warn(WarnNoExons, t.Chrom, line(tb), "transcript %s has no exon, CDS or UTR; dropped", t.ID)
			return false
		}
		b.warn(WarnNoExons, t.Chrom, line(tb), "transcript %s has no exon features; exons taken from its CDS and UTR", t.ID)
		exons = merge(append(append([]Range(nil), cds...), ranges(tb.utrs)...))
	}
	exons = merge(exons)
	t.Exons = exons
	// CDS (GTF's stop_codon is merged into the CDS next to it).
	sorted := append([]*feature(nil), tb.cds...)
	slices.SortFunc(sorted, func(x, y *feature) int { return cmp.Compare(x.start, y.start) })
	var merged []Range
	var phases []int
	var lines []int
	lastTyp := ""
	for _, f := range sorted {
		prevTyp := lastTyp
		lastTyp = f.typ
		if n := len(merged); n > 0 && f.start <= merged[n-1].End+1 {
			if f.start <= merged[n-1].End && f.typ == "CDS" && prevTyp == "CDS" {
				b.warn(WarnCDSOverlap, t.Chrom, f.line, "CDS %d-%d of %s overlaps CDS %d-%d; transcript dropped", f.start, f.end, t.ID, merged[n-1].Start, merged[n-1].End)
				return false
			}
			merged[n-1].End = max(merged[n-1].End, f.end)
			if f.typ == "CDS" && t.Strand < 0 {
				phases[n-1] = f.phase
			}
			continue
		}
		merged = append(merged, Range{f.start, f.end})
		phases = append(phases, f.phase)
		lines = append(lines, f.line)
	}
	for i, c := range merged {
		inside := false
		for _, e := range exons {
			if c.Start >= e.Start && c.End <= e.End {
				inside = true
				break
			}
		}
		if !inside {
			b.warn(WarnCDSOutsideExon, t.Chrom, lines[i], "CDS %d-%d of %s is not inside an exon; transcript dropped", c.Start, c.End, t.ID)
			return false
		}
	}
	// Phases in transcription order must follow from the lengths.
	n := len(merged)
	prevLen, prevPhase := int64(0), -1
	for k := 0; k < n; k++ {
		i := k
		if t.Strand < 0 {
			i = n - 1 - k
		}
		ph := phases[i]
		if k == 0 {
			if ph > 0 {
				t.StartPhase = ph
			}
		} else if ph >= 0 && prevPhase >= 0 {
			want := int((3 - (prevLen-int64(prevPhase))%3) % 3)
			if ph != want {
				b.warn(WarnCDSPhase, t.Chrom, lines[i], "CDS %d-%d of %s has phase %d but the CDS before it makes it %d; transcript dropped", merged[i].Start, merged[i].End, t.ID, ph, want)
				return false
			}
		}
		prevLen, prevPhase = merged[i].Len(), max(ph, 0)
	}
	t.CDS = merged
	// Span: the transcript line if present, else its parts.
	lo, hi := exons[0].Start, exons[len(exons)-1].End
	if tb.head == nil || t.Start > lo || t.End < hi {
		t.Start, t.End = lo, hi
	}
	return true
}

func ranges(fs []*feature) []Range {
	out := make([]Range, 0, len(fs))
	for _, f := range fs {
		out = append(out, Range{f.start, f.end})
	}
	return out
}

// merge sorts ranges and joins overlapping or adjacent ones.
func merge(rs []Range) []Range {
	slices.SortFunc(rs, func(x, y Range) int { return cmp.Compare(x.Start, y.Start) })
	var out []Range
	for _, r := range rs {
		if n := len(out); n > 0 && r.Start <= out[n-1].End+1 {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}
