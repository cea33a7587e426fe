package csq

import (
	"bytes"
	"strconv"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
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
}

func newTxMap(t *genemodel.Transcript) *txMap {
	m := &txMap{t: t, cdsFirst: -1, cdsLast: -1}
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
	return m
}

// load fetches the spliced sequence.
func (m *txMap) load(ref Reference) error {
	if m.seq != nil {
		return nil
	}
	seq := make([]byte, 0, m.length)
	for _, e := range m.t.Exons {
		s, err := ref.Seq(m.t.Chrom, e.Start, e.End)
		if err != nil {
			return err
		}
		seq = append(seq, s...)
	}
	seq = bytes.ToUpper(seq)
	if m.t.Strand < 0 {
		seq = revcomp(seq)
	}
	m.seq = seq
	return nil
}

// exonIndex returns the index (transcription order) of the exon holding g.
func (m *txMap) exonIndex(g int64) int {
	for i, e := range m.exons {
		if g >= e.Start && g <= e.End {
			return i
		}
	}
	return -1
}

// cdna returns the cDNA offset of genomic position g, if exonic.
func (m *txMap) cdna(g int64) (int64, bool) {
	i := m.exonIndex(g)
	if i < 0 {
		return 0, false
	}
	e := m.exons[i]
	if m.t.Strand < 0 {
		return m.offset[i] + e.End - g, true
	}
	return m.offset[i] + g - e.Start, true
}

// coding says whether the transcript has a CDS.
func (m *txMap) coding() bool { return m.cdsFirst >= 0 }

// cPos writes a cDNA offset as an HGVS c. (or n.) position without the
// prefix: 123, -12, *34.
func (m *txMap) cPos(off int64) string {
	if !m.coding() {
		return strconv.FormatInt(off+1, 10)
	}
	switch {
	case off < m.cdsFirst:
		return "-" + strconv.FormatInt(m.cdsFirst-off, 10)
	case off > m.cdsLast:
		return "*" + strconv.FormatInt(off-m.cdsLast, 10)
	}
	return strconv.FormatInt(off-m.cdsFirst+1, 10)
}

// hgvsPos writes genomic position g as an HGVS transcript position,
// intronic ones as an offset from the nearest exon (c.123+5, c.-12-3).
func (m *txMap) hgvsPos(g int64) string {
	if off, ok := m.cdna(g); ok {
		return m.cPos(off)
	}
	// Intron between exon i and i+1 (transcription order).
	for i := 0; i+1 < len(m.exons); i++ {
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
			return m.cPos(m.offset[i]+a.Len()-1) + "+" + strconv.FormatInt(up, 10)
		}
		return m.cPos(m.offset[i+1]) + "-" + strconv.FormatInt(down, 10)
	}
	// Outside the transcript.
	if (g < m.t.Start) == (m.t.Strand > 0) {
		d := m.t.Start - g
		if m.t.Strand < 0 {
			d = g - m.t.End
		}
		if m.coding() {
			return "-" + strconv.FormatInt(m.cdsFirst+d, 10)
		}
		return "-" + strconv.FormatInt(d, 10)
	}
	d := g - m.t.End
	if m.t.Strand < 0 {
		d = m.t.Start - g
	}
	if m.coding() {
		return "*" + strconv.FormatInt(m.length-1-m.cdsLast+d, 10)
	}
	return "*" + strconv.FormatInt(d, 10)
}

// region is the exon or intron (by genomic span) holding g; ok is false
// outside the transcript.
func (m *txMap) region(g int64) (genemodel.Range, bool) {
	ex := m.t.Exons
	for i, e := range ex {
		if g >= e.Start && g <= e.End {
			return e, true
		}
		if i+1 < len(ex) && g > e.End && g < ex[i+1].Start {
			return genemodel.Range{Start: e.End + 1, End: ex[i+1].Start - 1}, true
		}
	}
	return genemodel.Range{}, false
}
