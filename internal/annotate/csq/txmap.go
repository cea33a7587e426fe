package csq

import (
	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/contig"
)

// txMap maps between genomic positions and positions in the spliced
// transcript (cDNA, 0-based offsets in transcription order).
type txMap struct {
	t      *genemodel.Transcript
	exons  []genemodel.Range // transcription order
	offset []int64           // cDNA offset of each exon's first base
	length int64             // spliced length
	// cdsFirst and cdsLast are the cDNA offsets of the first and last
	// coding base; -1 for a non-coding transcript.
	cdsFirst, cdsLast int64
	skip              int    // bases of a partial first codon (CDS incomplete at 5')
	seq               []byte // spliced sequence, transcript orientation, upper case
	prefix            string // of its HGVS: "ENST…:c." or "ENST…:n."
	nmd               bool   // biotype nonsense_mediated_decay
	code              *geneticCode
}

func newTxMap(t *genemodel.Transcript) *txMap {
	m := &txMap{t: t, cdsFirst: -1, cdsLast: -1, nmd: t.Biotype == "nonsense_mediated_decay", code: standardCode}
	if contig.Canonical(t.Chrom) == "MT" { // chrM, MT, NC_012920.1
		m.code = mitoCode
	}
	n := len(t.Exons)
	m.exons = make([]genemodel.Range, n)
	for i := range t.Exons {
		if t.Strand < 0 {
			m.exons[i] = t.Exons[n-1-i]
		} else {
			m.exons[i] = t.Exons[i]
		}
	}
	m.offset = make([]int64, n)
	for i, e := range m.exons {
		m.offset[i] = m.length
		m.length += e.Len()
	}
	if t.Coding() {
		first, last := t.CDS[0].Start, t.CDS[len(t.CDS)-1].End
		if t.Strand < 0 {
			first, last = last, first
		}
		m.cdsFirst, _ = m.cdna(first)
		m.cdsLast, _ = m.cdna(last)
		m.skip = t.StartPhase
	}
	m.prefix = t.ID + ":n."
	if m.coding() {
		m.prefix = t.ID + ":c."
	}
	return m
}

// load fetches the spliced sequence.
func (m *txMap) load(ref Reference) error {
	if m.seq != nil {
		return nil
	}
	seq := make([]byte, 0, m.length)
	ap, _ := ref.(seqAppender)
	for _, e := range m.t.Exons {
		if ap != nil {
			var err error
			if seq, err = ap.AppendSeq(seq, m.t.Chrom, e.Start, e.End); err != nil {
				return err
			}
			continue
		}
		s, err := ref.Seq(m.t.Chrom, e.Start, e.End)
		if err != nil {
			return err
		}
		seq = append(seq, s...)
	}
	if m.t.Strand < 0 {
		revcompInPlace(seq) // upper case, whatever the case of seq
	} else {
		for i, c := range seq {
			seq[i] = upper(c)
		}
	}
	m.seq = seq
	return nil
}

// cdna returns the cDNA offset of genomic position g, if exonic.
func (m *txMap) cdna(g int64) (int64, bool) {
	ex := m.t.Exons
	gi := firstEndingAfter(ex, g)
	if gi == len(ex) || ex[gi].Start > g {
		return 0, false
	}
	return m.cdnaIn(gi, g), true
}

// cdnaIn is cdna(g) for a g in exon gi (genomic order).
func (m *txMap) cdnaIn(gi int, g int64) int64 {
	e := m.t.Exons[gi]
	if m.t.Strand < 0 {
		return m.offset[len(m.exons)-1-gi] + e.End - g
	}
	return m.offset[gi] + g - e.Start
}

// coding says whether the transcript has a CDS.
func (m *txMap) coding() bool { return m.cdsFirst >= 0 }

// appendCPos appends a cDNA offset as an HGVS c. (or n.) position
// without the prefix: 123, -12, *34.
func (m *txMap) appendCPos(dst []byte, off int64) []byte {
	if !m.coding() {
		return AppendInt(dst, off+1)
	}
	switch {
	case off < m.cdsFirst:
		return AppendInt(append(dst, '-'), m.cdsFirst-off)
	case off > m.cdsLast:
		return AppendInt(append(dst, '*'), off-m.cdsLast)
	}
	return AppendInt(dst, off-m.cdsFirst+1)
}

// appendHGVSPos appends genomic position g as an HGVS transcript
// position, intronic ones as an offset from the nearest exon (c.123+5,
// c.-12-3).
func (m *txMap) appendHGVSPos(dst []byte, g int64) []byte {
	return m.appendHGVSPosAt(dst, g, firstEndingAfter(m.t.Exons, g))
}

// appendHGVSPosAt is appendHGVSPos with gi, the first exon (genomic
// order) to end at or after g, found already.
func (m *txMap) appendHGVSPosAt(dst []byte, g int64, gi int) []byte {
	if gi < len(m.exons) && m.t.Exons[gi].Start <= g { // exonic
		return m.appendCPos(dst, m.cdnaIn(gi, g))
	}
	// Intron between exon i and i+1 (transcription order): only the
	// one around g can match.
	from, to := 0, 0
	if gi > 0 && gi < len(m.exons) {
		from = gi - 1 // genomic exons gi-1 and gi surround g
		if m.t.Strand < 0 {
			from = len(m.exons) - 1 - gi
		}
		to = from + 1
	}
	for i := from; i < to; i++ {
		a, b := m.exons[i], m.exons[i+1]
		var up, down int64 // distance from the upstream exon's end, to the downstream exon's start
		if m.t.Strand > 0 {
			if g <= a.End || g >= b.Start {
				continue
			}
			up, down = g-a.End, b.Start-g
		} else {
			if g >= a.Start || g <= b.End {
				continue
			}
			up, down = a.Start-g, g-b.End
		}
		if up <= down {
			dst = m.appendCPos(dst, m.offset[i]+a.Len()-1)
			return AppendInt(append(dst, '+'), up)
		}
		dst = m.appendCPos(dst, m.offset[i+1])
		return AppendInt(append(dst, '-'), down)
	}
	// Outside the transcript.
	if (g < m.t.Start) == (m.t.Strand > 0) {
		d := m.t.Start - g
		if m.t.Strand < 0 {
			d = g - m.t.End
		}
		if m.coding() {
			return AppendInt(append(dst, '-'), m.cdsFirst+d)
		}
		return AppendInt(append(dst, '-'), d)
	}
	d := g - m.t.End
	if m.t.Strand < 0 {
		d = m.t.Start - g
	}
	if m.coding() {
		return AppendInt(append(dst, '*'), m.length-1-m.cdsLast+d)
	}
	return AppendInt(append(dst, '*'), d)
}

// firstEndingAfter returns the index of the first of the exons (genomic
// order) that ends at or after g, len(ex) when none does.
func firstEndingAfter(ex []genemodel.Range, g int64) int {
	lo, hi := 0, len(ex)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if ex[h].End < g {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// region is the exon or intron (by genomic span) holding g; ok is false
// outside the transcript.
func (m *txMap) region(g int64) (genemodel.Range, bool) {
	ex := m.t.Exons
	i := firstEndingAfter(ex, g)
	switch {
	case i == len(ex):
		return genemodel.Range{}, false
	case g >= ex[i].Start:
		return ex[i], true
	case i > 0:
		return genemodel.Range{Start: ex[i-1].End + 1, End: ex[i].Start - 1}, true
	}
	return genemodel.Range{}, false
}
