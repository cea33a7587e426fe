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
	attrs          string // the attribute column, to read names from (see names)
	parents        []string
	start, end     int64
	line           int
	nm             *names   // nil until names is called, for a GFF3 part
	tx             *txBuild // GFF3: the transcript this feature heads, once made
	strand         int8
	phase          int8
	kind           partKind
	warned         bool // GFF3: its missing parent was reported
}

// names are the attributes that matter for a feature that heads a
// transcript or a gene (and, in GTF, for every feature).
type names struct {
	name, biotype  string
	txID, geneID   string // explicit transcript_id / gene_id attributes
	geneName       string
	entrez         string // the NCBI Gene id of a Dbxref GeneID:N (RefSeq)
	mane, ensCanon bool
}

// partKind says whether a feature belongs to a transcript, and as what.
type partKind uint8

const (
	notPart partKind = iota
	exonPart
	cdsPart
	utrPart
)

// Part types: features that belong to a transcript.
func isExon(t string) bool { return t == "exon" || t == "noncoding_exon" }
func isCDS(t string) bool  { return t == "CDS" || t == "stop_codon" }
func isUTR(t string) bool {
	return t == "five_prime_UTR" || t == "three_prime_UTR" || t == "UTR" || t == "5UTR" || t == "3UTR"
}

func kindOf(t string) partKind {
	switch {
	case isExon(t):
		return exonPart
	case isCDS(t):
		return cdsPart
	case isUTR(t):
		return utrPart
	}
	return notPart
}

// isPart says whether f is an exon, CDS or UTR.
func (f *feature) isPart() bool { return f.kind != notPart }

// names returns the names of f. Those of a GFF3 part are read from its
// attribute column only when asked for (a part rarely heads a
// transcript), which parsed once already, so it cannot fail.
func (f *feature) names() *names {
	if f.nm == nil {
		attrs, _ := gff.ParseAttributes(f.attrs, gff.GFF3)
		f.nm = &names{}
		readNames(f.nm, attrs)
	}
	return f.nm
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
	readAheadChunk = 64 << 10
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
	var feats features
	var parents []string // Parent IDs are allocated a slab at a time
	var nms []names      // and so are names
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
		f := feats.add()
		convert(f, rec, &parents)
		if f.id != "" {
			feats.nID++
		}
		if f.isPart() {
			feats.nParts++
		}
		// GTF groups every feature by its names; GFF3 needs those of
		// the features that head transcripts and genes, rarely a part's.
		if !f.isPart() || gr.Dialect() == gff.GTF {
			if len(nms) == cap(nms) {
				nms = make([]names, 0, 256)
			}
			nms = nms[:len(nms)+1]
			f.nm = &nms[len(nms)-1]
			readNames(f.nm, rec.Attributes)
		}
	}
	b := &builder{file: file}
	if gr.Dialect() == gff.GTF {
		b.gtf(feats)
	} else {
		b.gff3(feats)
	}
	return b.finish(), nil
}

// features holds the features of a file in order, a slab at a time.
type features struct {
	slabs       [][]feature
	nID, nParts int // features with an ID, exons, CDS and UTRs
}

func (fs *features) add() *feature {
	k := len(fs.slabs) - 1
	if k < 0 || len(fs.slabs[k]) == cap(fs.slabs[k]) {
		fs.slabs = append(fs.slabs, make([]feature, 0, 1024))
		k++
	}
	s := fs.slabs[k][:len(fs.slabs[k])+1]
	fs.slabs[k] = s
	return &s[len(s)-1]
}

// all yields the features in file order.
func (fs *features) all(yield func(*feature) bool) {
	for _, s := range fs.slabs {
		for i := range s {
			if !yield(&s[i]) {
				return
			}
		}
	}
}

// convert fills f from rec, but for its names; the Parent IDs of f are
// appended to *slab when they fit (it is replaced when full).
func convert(f *feature, rec *gff.Record, slab *[]string) {
	*f = feature{typ: rec.Type, chrom: rec.Seqid, attrs: rec.RawAttributes, start: rec.Start, end: rec.End, phase: int8(rec.Phase), line: rec.Line, kind: kindOf(rec.Type)}
	switch rec.Strand {
	case '+':
		f.strand = 1
	case '-':
		f.strand = -1
	}
	// The ID is the first value of the first ID (what rec.Attr returns);
	// the parents are every Parent value (rec.Values).
	seenID := false
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
		case "ID":
			if !seenID && len(a.Values) > 0 {
				f.id, seenID = a.Values[0], true
			}
		}
	}
}

// readNames fills nm from attrs in one pass: the first value of each key
// read (what Record.Attr returns), and every tag (Record.Values).
func readNames(nm *names, attrs []gff.Attribute) {
	var first [nAttrKeys]string
	var seen uint32
	for _, a := range attrs {
		if a.Key == "tag" {
			for _, tag := range a.Values {
				switch tag {
				case "MANE_Select", "MANE Select":
					nm.mane = true
				case "Ensembl_canonical":
					nm.ensCanon = true
				}
			}
			continue
		}
		if a.Key == "Dbxref" || a.Key == "db_xref" {
			for _, x := range a.Values {
				if id, ok := strings.CutPrefix(x, "GeneID:"); ok && nm.entrez == "" {
					nm.entrez = id
				}
			}
			continue
		}
		if k := attrKey(a.Key); k >= 0 && seen&(1<<k) == 0 && len(a.Values) > 0 {
			first[k], seen = a.Values[0], seen|1<<k
		}
	}
	nm.txID = first[aTranscriptID]
	nm.geneID = first[aGeneID]
	nm.name = first[aName]
	nm.geneName = firstNonEmpty(first[aGeneName], first[aGene])
	nm.biotype = firstNonEmpty(first[aBiotype], first[aTranscriptBiotype], first[aTranscriptType], first[aGeneBiotype], first[aGeneType])
	if nm.biotype == "" && first[aGbkey] != "" {
		nm.biotype = refseqBiotype(first[aGbkey], first[aNcrnaClass])
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
	aNcrnaClass
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
	case "ncrna_class":
		return aNcrnaClass
	}
	return -1
}

// refseqBiotype maps RefSeq gbkey / ncrna_class to Ensembl-like biotypes.
// from the first gbkey and ncrna_class values.
func refseqBiotype(gbkey, ncrnaClass string) string {
	switch gbkey {
	case "mRNA", "CDS":
		return "protein_coding"
	case "ncRNA":
		if ncrnaClass != "" {
			return ncrnaClass
		}
		return "ncRNA"
	case "Gene":
		return ""
	}
	return gbkey
}

type builder struct {
	file     string
	warnings []Warning
	genes    map[string]*Gene
	order    []*Gene
	txs      []*txBuild
	// links are the parts of each transcript in file order; finish hands
	// them out to the transcripts' exons, cds and utrs.
	links []link
	// Allocated a slab at a time: transcripts, genes, and the exon and
	// CDS ranges of the transcripts.
	txSlab    []txBuild
	trSlab    []Transcript
	geneSlab  []Gene
	rangeSlab []Range
	// Scratch of check.
	phases, lines []int
}

type link struct {
	tb *txBuild
	f  *feature
}

type txBuild struct {
	t     *Transcript
	head  *feature // the transcript line, when there is one
	exons []*feature
	cds   []*feature
	utrs  []*feature
	// The number of each kind of part, counted by finish.
	nExons, nCDS, nUTRs int
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
		if len(b.geneSlab) == cap(b.geneSlab) {
			b.geneSlab = make([]Gene, 0, 256)
		}
		b.geneSlab = append(b.geneSlab, Gene{ID: id, Chrom: f.chrom, Strand: f.strand, Start: f.start, End: f.end})
		g = &b.geneSlab[len(b.geneSlab)-1]
		b.genes[id] = g
		b.order = append(b.order, g)
	}
	return g
}

// newTxBuild returns a new transcript under construction, with t as its
// transcript, listed in b.txs.
func (b *builder) newTxBuild(t Transcript, head *feature) *txBuild {
	if len(b.trSlab) == cap(b.trSlab) {
		b.trSlab = make([]Transcript, 0, 256)
		b.txSlab = make([]txBuild, 0, 256)
	}
	b.trSlab = append(b.trSlab, t)
	b.txSlab = append(b.txSlab, txBuild{t: &b.trSlab[len(b.trSlab)-1], head: head})
	tb := &b.txSlab[len(b.txSlab)-1]
	b.txs = append(b.txs, tb)
	return tb
}

// gff3 links features by ID and Parent: a feature that is the parent of
// an exon or CDS is a transcript; its parent is the gene (a transcript
// without a parent is its own gene).
func (b *builder) gff3(feats features) {
	byID := make(map[string]*feature, feats.nID)
	for f := range feats.all {
		if f.id != "" {
			byID[f.id] = f
		}
	}
	b.links = make([]link, 0, feats.nParts)
	lastID, lastP := "", (*feature)(nil)
	for f := range feats.all {
		if !f.isPart() {
			continue
		}
		if len(f.parents) == 0 {
			b.warn(WarnMissingParent, f.chrom, f.line, "%s without a Parent attribute", f.typ)
			continue
		}
		for _, pid := range f.parents {
			p := lastP
			if pid != lastID { // parts of one transcript are often next to each other
				p = byID[pid]
				lastID, lastP = pid, p
			}
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
			b.links = append(b.links, link{tb, f})
		}
	}
	for f := range feats.all {
		if len(f.parents) == 0 || f.tx != nil || f.isPart() || f.warned {
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
			b.warn(WarnNoExons, f.chrom, f.line, "%s %s has no exons; dropped", f.typ, firstNonEmpty(f.names().txID, stripPrefix(f.id)))
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
	pn, gn := p.names(), gf.names()
	gid := gn.geneID
	if gid == "" {
		gid = stripPrefix(gf.id)
	}
	g := b.gene(gid, gf)
	if g.Name == "" {
		g.Name = firstNonEmpty(gn.name, gn.geneName, pn.geneName, gid)
	}
	if gn.geneID == "" && gn.entrez != "" && g.ID == gid {
		// RefSeq's GFF3 names genes by file-local IDs (gene49544,
		// gene-BRCA2): the gene's id is its NCBI Gene id, as VEP gives
		// it. The gene is still keyed by gid (the PAR copies of a gene on
		// X and Y share a Gene id).
		g.ID = gn.entrez
	}
	if g.Biotype == "" {
		g.Biotype = gn.biotype
	}
	id := firstNonEmpty(pn.txID, stripPrefix(p.id), pn.name)
	bt := pn.biotype
	if p == gf || bt == "" {
		bt = firstNonEmpty(pn.biotype, gn.biotype)
		if p.typ == "mRNA" {
			bt = "protein_coding"
		}
	}
	return b.newTxBuild(Transcript{ID: id, Biotype: bt, Chrom: p.chrom, Start: p.start, End: p.end, Strand: p.strand,
		MANE: pn.mane, EnsemblCanonical: pn.ensCanon, Gene: g}, p)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// distribute hands out b.links: each transcript's exons, cds and utrs,
// in file order, share one array.
func (b *builder) distribute() {
	for _, l := range b.links {
		switch l.f.kind {
		case exonPart:
			l.tb.nExons++
		case cdsPart:
			l.tb.nCDS++
		default:
			l.tb.nUTRs++
		}
	}
	all := make([]*feature, len(b.links))
	off := 0
	cut := func(n int) []*feature {
		if n == 0 {
			return nil
		}
		s := all[off : off : off+n]
		off += n
		return s
	}
	for _, tb := range b.txs {
		tb.exons, tb.cds, tb.utrs = cut(tb.nExons), cut(tb.nCDS), cut(tb.nUTRs)
	}
	for _, l := range b.links {
		tb := l.tb
		switch l.f.kind {
		case exonPart:
			tb.exons = append(tb.exons, l.f)
		case cdsPart:
			tb.cds = append(tb.cds, l.f)
		default:
			tb.utrs = append(tb.utrs, l.f)
		}
	}
	b.links = nil
}

// gtf groups features by transcript_id and gene_id.
func (b *builder) gtf(feats features) {
	byTx := map[string]*txBuild{}
	b.links = make([]link, 0, feats.nParts)
	for f := range feats.all {
		nm := f.names()
		if nm.txID == "" {
			if f.typ != "gene" {
				if f.isPart() {
					b.warn(WarnMissingParent, f.chrom, f.line, "%s without transcript_id", f.typ)
				}
			}
			continue
		}
		tb := byTx[nm.txID]
		if tb == nil {
			if nm.geneID == "" {
				b.warn(WarnMissingParent, f.chrom, f.line, "%s without gene_id", f.typ)
				continue
			}
			g := b.gene(nm.geneID, f)
			if g.Name == "" {
				g.Name = firstNonEmpty(nm.geneName, nm.geneID)
			}
			tb = b.newTxBuild(Transcript{ID: nm.txID, Chrom: f.chrom, Strand: f.strand, Start: f.start, End: f.end, Gene: g}, nil)
			byTx[nm.txID] = tb
		}
		t := tb.t
		if nm.biotype != "" && (t.Biotype == "" || f.typ == "transcript") {
			t.Biotype = nm.biotype
		}
		if g := t.Gene; g.Biotype == "" && f.typ == "gene" {
			g.Biotype = nm.biotype
		}
		t.MANE = t.MANE || nm.mane
		t.EnsemblCanonical = t.EnsemblCanonical || nm.ensCanon
		switch {
		case f.typ == "transcript":
			tb.head = f
		case f.isPart():
			b.links = append(b.links, link{tb, f})
		}
	}
}

// finish checks every transcript, fixes spans, links genes and indexes.
func (b *builder) finish() *Model {
	b.distribute()
	m := &Model{}
	for _, tb := range b.txs {
		if b.check(tb) {
			t := tb.t
			t.Gene.Transcripts = append(t.Gene.Transcripts, t)
		} else {
			*tb.t = Transcript{} // its slab lives on: see own
		}
	}
	for _, g := range b.order {
		if len(g.Transcripts) == 0 {
			*g = Gene{} // as a dropped transcript
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
	own(m)
	m.index = buildIndex(m.Transcripts)
	return m
}

// own gives the model strings of its own: those parsed are cut from
// blocks of the file's text (package gff), which a model that kept them
// would keep whole. Contig names and biotypes are stored once. (The
// transcripts and genes the model leaves out share slabs with those it
// keeps: finish empties them.)
func own(m *Model) {
	seen := map[string]string{}
	intern := func(s string) string {
		if c, ok := seen[s]; ok {
			return c
		}
		c := strings.Clone(s)
		seen[c] = c
		return c
	}
	for _, g := range m.Genes {
		g.ID, g.Name, g.Biotype, g.Chrom = strings.Clone(g.ID), strings.Clone(g.Name), intern(g.Biotype), intern(g.Chrom)
	}
	for _, t := range m.Transcripts {
		t.ID, t.Biotype, t.Chrom = strings.Clone(t.ID), intern(t.Biotype), intern(t.Chrom)
	}
	for i := range m.Warnings {
		m.Warnings[i].Chrom = intern(m.Warnings[i].Chrom)
	}
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
// false drops it. It sorts tb.cds.
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
	var exons []Range
	if len(tb.exons) == 0 {
		if len(tb.cds) == 0 && len(tb.utrs) == 0 {
			b.warn(WarnNoExons, t.Chrom, line(tb), "transcript %s has no exon, CDS or UTR; dropped", t.ID)
			return false
		}
		b.warn(WarnNoExons, t.Chrom, line(tb), "transcript %s has no exon features; exons taken from its CDS and UTR", t.ID)
		exons = merge(append(ranges(b.alloc(len(tb.cds)+len(tb.utrs)), tb.cds), ranges(nil, tb.utrs)...))
	} else {
		exons = ranges(b.alloc(len(tb.exons)), tb.exons)
	}
	exons = merge(exons)
	t.Exons = exons
	// CDS (GTF's stop_codon is merged into the CDS next to it).
	sorted := tb.cds
	slices.SortFunc(sorted, func(x, y *feature) int { return cmp.Compare(x.start, y.start) })
	merged := b.alloc(len(sorted)) // nil without CDS
	phases, lines := b.phases[:0], b.lines[:0]
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
				phases[n-1] = int(f.phase)
			}
			continue
		}
		merged = append(merged, Range{f.start, f.end})
		phases = append(phases, int(f.phase))
		lines = append(lines, f.line)
	}
	b.phases, b.lines = phases, lines
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

// alloc returns an empty slice with room for n ranges (nil for none),
// cut from b.rangeSlab.
func (b *builder) alloc(n int) []Range {
	if n == 0 {
		return nil
	}
	if n > cap(b.rangeSlab)-len(b.rangeSlab) {
		b.rangeSlab = make([]Range, 0, max(n, 4096))
	}
	k := len(b.rangeSlab)
	b.rangeSlab = b.rangeSlab[:k+n]
	return b.rangeSlab[k : k : k+n]
}

// ranges appends the spans of fs to out.
func ranges(out []Range, fs []*feature) []Range {
	for _, f := range fs {
		out = append(out, Range{f.start, f.end})
	}
	return out
}

// merge sorts ranges and joins overlapping or adjacent ones, in place.
func merge(rs []Range) []Range {
	slices.SortFunc(rs, func(x, y Range) int { return cmp.Compare(x.Start, y.Start) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.Start <= out[n-1].End+1 {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}
