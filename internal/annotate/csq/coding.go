package csq

import "bytes"

// codingEffect adds the terms of a variant touching an exon of a coding
// transcript, and its protein change (in effect ei of r) when the variant
// lies wholly in the CDS. gi is the first exon (genomic order) to end at
// or after the start of al's span.
func (a *Annotator) codingEffect(r *Result, ei int, m *txMap, al *allele, ts *terms, intronic bool, gi int) {
	lo, hi := al.span()
	t := m.t
	if al.ins() {
		g := hi
		if t.Strand < 0 {
			g = lo
		}
		i, _ := m.cdna(g)
		switch {
		case i <= m.cdsFirst:
			ts.set(t5PrimeUTR)
		case i > m.cdsLast:
			ts.set(t3PrimeUTR)
		case intronic || al.symbolic:
			ts.set(tCodingSequence)
		default:
			a.protein(r, ei, m, al, ts, i, i)
		}
		return
	}
	// Exonic extent in cDNA.
	var first, last int64 = -1, -1
	exonicLen := int64(0)
	// Exons are sorted and apart: start at the first that reaches lo.
	for ; gi < len(t.Exons) && t.Exons[gi].Start <= hi; gi++ {
		x := t.Exons[gi]
		s, en := max(lo, x.Start), min(hi, x.End)
		exonicLen += en - s + 1
		c1, c2 := m.cdnaIn(gi, s), m.cdnaIn(gi, en)
		if c1 > c2 {
			c1, c2 = c2, c1
		}
		if first < 0 || c1 < first {
			first = c1
		}
		last = max(last, c2)
	}
	if first < m.cdsFirst {
		ts.set(t5PrimeUTR)
	}
	if last > m.cdsLast {
		ts.set(t3PrimeUTR)
	}
	if last < m.cdsFirst || first > m.cdsLast {
		return
	}
	if !intronic && exonicLen == int64(len(al.ref)) && first >= m.cdsFirst && last <= m.cdsLast {
		a.protein(r, ei, m, al, ts, first, last+1)
		return
	}
	// Partly coding: no protein change, but say what is hit.
	cdsHit := min(last, m.cdsLast) - max(first, m.cdsFirst) + 1
	specific := false
	if first <= m.cdsFirst+2 && m.skip == 0 && m.cdsLast-m.cdsFirst >= 2 && m.code.start(m.seq[m.cdsFirst:m.cdsFirst+3]) {
		ts.set(tStartLost)
		specific = true
	}
	if last >= m.cdsLast-2 && m.cdsLast-2 >= m.cdsFirst && m.code.translateCodon(m.seq[m.cdsLast-2:m.cdsLast+1]) == '*' {
		ts.set(tStopLost)
		specific = true
	}
	// The frame is known only when the change stays inside the CDS
	// (apart from intron bases).
	if (len(al.alt) == 0 || int64(len(al.ref)) == exonicLen) && first >= m.cdsFirst && last <= m.cdsLast && lo >= t.Start && hi <= t.End {
		delta := int64(len(al.alt)) - cdsHit
		if len(al.alt) == 0 {
			delta = -cdsHit
		}
		switch {
		case delta%3 != 0:
			ts.set(tFrameshift)
			specific = true
		case delta < 0:
			ts.set(tInframeDeletion)
			specific = true
		}
	}
	if !specific {
		ts.set(tCodingSequence)
	}
}

// protein computes the change of a variant replacing cDNA [i, j) — wholly
// in the CDS — with its ALT, into effect ei of r.
func (a *Annotator) protein(r *Result, ei int, m *txMap, al *allele, ts *terms, i, j int64) {
	s := r.s
	altT := al.alt
	if m.t.Strand < 0 {
		s.altT = appendBases(s.altT[:0], al.alt, true)
		altT = s.altT
	}
	// A CDS incomplete at its 5' end starts with a partial codon, which
	// is left out of the protein (as bcftools and Ensembl number it).
	skip := int64(m.skip)
	cds := m.seq[m.cdsFirst+skip : m.cdsLast+1]
	ci, cj := i-m.cdsFirst-skip, j-m.cdsFirst-skip
	if ci < 0 {
		ts.set(tCodingSequence)
		return
	}
	pad := -skip
	n := int64(len(cds))
	st := len(s.arena)
	if cj > ci {
		s.arena = AppendInt(s.arena, ci+1-pad)
		if cj-1 > ci {
			s.arena = AppendInt(append(s.arena, '-'), cj-pad)
		}
	} else {
		s.arena = AppendInt(s.arena, ci-pad)
		s.arena = AppendInt(append(s.arena, '-'), ci+1-pad)
	}
	r.Effects[ei].CDSPos = s.view(st)
	delta := int64(len(altT)) - (cj - ci)
	ws := ci / 3 * 3
	var we int64
	if cj > ci {
		we = ((cj-1)/3 + 1) * 3
	} else {
		we = (ci + 2) / 3 * 3
	}
	if n%3 != 0 && we > n-n%3 {
		ts.set(tIncompleteTerminalCodon)
	}
	we = min(we, n)
	s.win = append(append(append(s.win[:0], cds[ws:ci]...), altT...), cds[cj:we]...)
	s.refAA = m.code.appendTranslate(s.refAA[:0], cds[ws:we])
	s.altAA = m.code.appendTranslate(s.altAA[:0], s.win)
	refAA, altAA := s.refAA, s.altAA
	if ws == 0 && skip == 0 {
		// A start codon is read as Met (mitochondrial ATA, ATT, …).
		if len(refAA) > 0 && m.code.start(cds[:3]) {
			refAA[0] = 'M'
		}
		if len(altAA) > 0 && m.code.start(s.win[:3]) {
			altAA[0] = 'M'
		}
	}
	startLost := false
	if ws == 0 && skip == 0 && len(refAA) > 0 && refAA[0] == 'M' && delta != 0 && m.shiftsOutOf5(&s.tmp, i, j, altT) {
		// The indel is the same as one in the 5' UTR: the start codon
		// is kept.
		ts.set(tStartRetained)
	} else if ws == 0 && skip == 0 && len(refAA) > 0 && refAA[0] == 'M' {
		// Read the new first codon from the changed CDS.
		s.tmp = append(append(append(s.tmp[:0], cds[:ci]...), altT...), cds[cj:min(n, cj+3)]...)
		if len(s.tmp) >= 3 && m.code.start(s.tmp[:3]) {
			if delta != 0 || !bytes.Equal(s.tmp[:3], cds[:3]) {
				ts.set(tStartRetained)
			}
		} else {
			startLost = true
			ts.set(tStartLost)
		}
	}
	st = len(s.arena)
	if v := al.v; al.snv() && al.start == v.Pos && len(v.Ref) == 1 {
		// bcftools reads the codons under the VCF REF: for an SNV,
		// those translated above.
		s.arena = appendAAChange(s.arena, ws/3+1, refAA, altAA, true)
	} else {
		s.arena = bcftoolsChange(s, s.arena, m, al, cds, pad)
	}
	r.Effects[ei].AAChange = s.view(st)
	k := ws / 3 // 0-based codon index of the window
	if delta%3 != 0 {
		ts.set(tFrameshift)
		if we == n && n >= 3 && m.code.translateCodon(cds[n-3:]) == '*' {
			// The frameshift reaches the stop codon that ends the CDS.
			ts.set(tStopLost)
		}
		st = len(s.arena)
		s.arena = AppendInt(s.arena, k+1)
		r.Effects[ei].ProteinPos = s.view(st)
		if a.omit.HGVSp {
			return
		}
		st = len(s.arena)
		if !startLost {
			s.arena = appendFrameshiftP(s.arena, m, cds, ci, cj, altT, k)
		} else {
			s.arena = append(s.arena, "p.(Met1?)"...)
		}
		r.Effects[ei].HGVSp = s.view(st)
		return
	}
	refStop, altStop := stopAt(refAA), stopAt(altAA)
	switch {
	case refStop >= 0 && altStop < 0:
		ts.set(tStopLost)
	case altStop >= 0 && (refStop < 0 || altStop < refStop):
		ts.set(tStopGained)
	}
	switch {
	case delta > 0:
		ts.set(tInframeInsertion)
	case delta < 0:
		ts.set(tInframeDeletion)
	case bytes.Equal(refAA, altAA):
		if refStop >= 0 {
			ts.set(tStopRetained)
		} else if !startLost {
			ts.set(tSynonymous)
		}
	case !startLost && !ts.has(tStopLost) && !ts.has(tStopGained):
		ts.set(tMissense)
	}
	// Trim the windows to the changed amino acids.
	p := 0
	for p < len(refAA) && p < len(altAA) && refAA[p] == altAA[p] {
		p++
	}
	sfx := 0
	for sfx < len(refAA)-p && sfx < len(altAA)-p && refAA[len(refAA)-1-sfx] == altAA[len(altAA)-1-sfx] {
		sfx++
	}
	rr, x := refAA[p:len(refAA)-sfx], altAA[p:len(altAA)-sfx]
	pos := k + int64(p) + 1 // 1-based protein position of rr[0]
	if len(rr) == 0 && len(x) == 0 {
		st = len(s.arena)
		s.arena = AppendInt(s.arena, k+1)
		r.Effects[ei].ProteinPos = s.view(st)
		st = len(s.arena)
		s.arena = append(s.arena, refAA...)
		r.Effects[ei].AminoAcids = s.view(st)
		if !a.omit.HGVSp {
			st = len(s.arena)
			s.arena = append(s.arena, "p.(=)"...)
			r.Effects[ei].HGVSp = s.view(st)
		}
		return
	}
	st = len(s.arena)
	s.arena = AppendInt(s.arena, pos)
	if len(rr) > 1 {
		s.arena = AppendInt(append(s.arena, '-'), pos+int64(len(rr))-1)
	}
	r.Effects[ei].ProteinPos = s.view(st)
	st = len(s.arena)
	s.arena = appendOrDash(s.arena, rr)
	s.arena = append(s.arena, '/')
	s.arena = appendOrDash(s.arena, x)
	r.Effects[ei].AminoAcids = s.view(st)
	if !a.omit.HGVSp {
		st = len(s.arena)
		s.arena = appendChangeP(s, s.arena, m, cds, rr, x, pos, startLost)
		r.Effects[ei].HGVSp = s.view(st)
	}
}

// stopAt is the index of the first stop ('*') in aa, -1 when there is
// none: bytes.IndexByte, without its call for the few amino acids of a
// change.
func stopAt(aa []byte) int {
	for i, c := range aa {
		if c == '*' {
			return i
		}
	}
	return -1
}

func appendOrDash(dst, b []byte) []byte {
	if len(b) == 0 {
		return append(dst, '-')
	}
	return append(dst, b...)
}

// aaAt translates codon pos (1-based) of cds, a start codon in the first
// as Met; 0 past the end.
func (g *geneticCode) aaAt(cds []byte, pos int64) byte {
	if pos < 1 || pos*3 > int64(len(cds)) {
		return 0
	}
	c := cds[pos*3-3 : pos*3]
	if pos == 1 && g.start(c) {
		return 'M'
	}
	return g.translateCodon(c)
}

// appendOne appends the amino acid at pos and pos: "Arg12".
func (g *geneticCode) appendOne(dst, cds []byte, p int64) []byte {
	dst = append(dst, three[g.aaAt(cds, p)]...)
	return AppendInt(dst, p)
}

// appendChangeP appends the p. notation of replacing amino acids r at
// pos with x.
func appendChangeP(s *scratch, dst []byte, m *txMap, cds, r, x []byte, pos int64, startLost bool) []byte {
	if startLost {
		return append(dst, "p.(Met1?)"...)
	}
	switch {
	case len(r) == 1 && r[0] == '*' && len(x) >= 1 && x[0] != '*':
		// Stop lost: read on into the 3' UTR for the new stop.
		s.tail = append(s.tail[:0], x[1:]...)
		s.tail = appendReadThrough(s.tail, m, cds, pos)
		dst = append(dst, "p.(Ter"...)
		dst = AppendInt(dst, pos)
		dst = append(dst, three[x[0]]...)
		dst = append(dst, "extTer"...)
		if i := bytes.IndexByte(s.tail, '*'); i >= 0 {
			dst = AppendInt(dst, int64(i+1))
		} else {
			dst = append(dst, '?')
		}
		return append(dst, ')')
	case len(r) == 1 && len(x) == 1:
		dst = append(dst, "p.("...)
		dst = append(dst, three[r[0]]...)
		dst = AppendInt(dst, pos)
		dst = append(dst, three[x[0]]...)
		return append(dst, ')')
	case len(x) == 0: // deletion: shift 3' along the protein
		p1, p2 := pos, pos+int64(len(r))-1
		for m.code.aaAt(cds, p2+1) != 0 && m.code.aaAt(cds, p2+1) == m.code.aaAt(cds, p1) && m.code.aaAt(cds, p1) != '*' {
			p1++
			p2++
		}
		dst = append(dst, "p.("...)
		dst = m.code.appendOne(dst, cds, p1)
		if p1 != p2 {
			dst = append(dst, '_')
			dst = m.code.appendOne(dst, cds, p2)
		}
		return append(dst, "del)"...)
	case len(r) == 0: // insertion after pos-1
		after := pos - 1
		ins := append(s.tmp[:0], x...)
		s.tmp = ins
		for m.code.aaAt(cds, after+1) != 0 && m.code.aaAt(cds, after+1) == ins[0] && ins[0] != '*' {
			f := ins[0]
			copy(ins, ins[1:])
			ins[len(ins)-1] = f
			after++
		}
		L := int64(len(ins))
		if after-L+1 >= 1 {
			dup := true
			for q := int64(0); q < L; q++ {
				if m.code.aaAt(cds, after-L+1+q) != ins[q] {
					dup = false
					break
				}
			}
			if dup {
				dst = append(dst, "p.("...)
				if L > 1 {
					dst = m.code.appendOne(dst, cds, after-L+1)
					dst = append(dst, '_')
				}
				dst = m.code.appendOne(dst, cds, after)
				return append(dst, "dup)"...)
			}
		}
		if after < 1 || m.code.aaAt(cds, after+1) == 0 {
			return append(dst, "p.?"...)
		}
		dst = append(dst, "p.("...)
		dst = m.code.appendOne(dst, cds, after)
		dst = append(dst, '_')
		dst = m.code.appendOne(dst, cds, after+1)
		dst = append(dst, "ins"...)
		dst = appendAA3(dst, ins)
		return append(dst, ')')
	}
	end := pos + int64(len(r)) - 1
	dst = append(dst, "p.("...)
	dst = m.code.appendOne(dst, cds, pos)
	if x[0] == '*' {
		return append(dst, "Ter)"...)
	}
	if i := stopAt(x); i >= 0 {
		x = x[:i+1]
	}
	if end != pos {
		dst = append(dst, '_')
		dst = m.code.appendOne(dst, cds, end)
	}
	dst = append(dst, "delins"...)
	dst = appendAA3(dst, x)
	return append(dst, ')')
}

// appendReadThrough appends the translation of what follows a lost stop
// codon at protein position pos, up to the first new stop (included).
func appendReadThrough(out []byte, m *txMap, cds []byte, pos int64) []byte {
	rest := m.seq[m.cdsLast+1:]
	tail := cds[min(int64(len(cds)), pos*3):]
	var c [3]byte
	n := 0
	for _, part := range [2][]byte{tail, rest} {
		for _, b := range part {
			c[n] = b
			if n++; n == 3 {
				n = 0
				aa := m.code.translateCodon(c[:])
				out = append(out, aa)
				if aa == '*' {
					return out
				}
			}
		}
	}
	return out
}

// appendFrameshiftP appends p.(Xaa{n}YaafsTer{k}) for a frameshift from
// codon k0, reading the new frame codon by codon (into the 3' UTR) until
// a stop.
func appendFrameshiftP(dst []byte, m *txMap, cds []byte, ci, cj int64, altT []byte, k0 int64) []byte {
	utr := m.seq[m.cdsLast+1:]
	la, lc := int64(len(altT)), int64(len(cds))
	altLen := ci + la + lc - cj + int64(len(utr))
	altAt := func(i int64) byte {
		switch {
		case i < ci:
			return cds[i]
		case i < ci+la:
			return altT[i-ci]
		case i-la+cj-ci < lc:
			return cds[i-la+cj-ci]
		}
		return utr[i-ci-la-lc+cj]
	}
	altCodon := func(k int64) byte { return m.code.translate3(altAt(3*k), altAt(3*k+1), altAt(3*k+2)) }
	refCodon := func(k int64) byte { return m.code.translate3(cds[3*k], cds[3*k+1], cds[3*k+2]) }
	nRef, nAlt := lc/3, altLen/3
	k := k0
	for k < nRef && k < nAlt && altCodon(k) == refCodon(k) && refCodon(k) != '*' {
		k++
	}
	if k >= nRef || k >= nAlt {
		return append(dst, "p.?"...)
	}
	r, x := refCodon(k), altCodon(k)
	pos := k + 1
	if r == '*' && x == '*' {
		return append(dst, "p.(=)"...) // the shift starts after the stop codon
	}
	dst = append(dst, "p.("...)
	dst = append(dst, three[r]...)
	dst = AppendInt(dst, pos)
	if x == '*' {
		return append(dst, "Ter)"...)
	}
	dst = append(dst, three[x]...)
	dst = append(dst, "fsTer"...)
	ter := int64(-1)
	q := k + 1
	for ; q < nAlt && 3*q < ci+la; q++ { // codons holding ALT bases
		if altCodon(q) == '*' {
			ter = q - k + 1
			break
		}
	}
	if ter < 0 && q < nAlt {
		// Past the ALT bases, the new frame reads on through the rest of
		// the CDS and the 3' UTR, which follow each other in m.seq.
		tail := m.seq[m.cdsLast+1-(lc-cj)+(3*q-ci-la):]
		for j := 0; j+2 < len(tail); j, q = j+3, q+1 {
			if m.code.translate3(tail[j], tail[j+1], tail[j+2]) == '*' {
				ter = q - k + 1
				break
			}
		}
	}
	if ter < 0 {
		dst = append(dst, '?')
	} else {
		dst = AppendInt(dst, ter)
	}
	return append(dst, ')')
}

// bcftoolsChange appends the amino-acid change the way bcftools csq
// does: the codons under the VCF REF allele (anchor base included),
// before and after, each prefixed by the first codon's number: "41R>41C",
// "41R" when unchanged.
func bcftoolsChange(s *scratch, dst []byte, m *txMap, al *allele, cds []byte, pad int64) []byte {
	v := al.v
	if al.symbolic {
		return dst
	}
	r1, ok1 := m.cdna(v.Pos)
	r2, ok2 := m.cdna(v.Pos + int64(len(v.Ref)) - 1)
	alt := s.alt // upper-case v.Alt
	if m.t.Strand < 0 {
		r1, r2 = r2, r1
		s.bcAltT = appendBases(s.bcAltT[:0], alt, true)
		alt = s.bcAltT
	}
	base := m.cdsFirst - pad // cDNA offset of cds[0]
	if !ok1 || !ok2 || r2-r1+1 != int64(len(v.Ref)) || r1 < base || r2 > m.cdsLast {
		return dst
	}
	ws := (r1 - base) / 3 * 3
	we := min(((r2-base)/3+1)*3, int64(len(cds)))
	s.bcRef = m.code.appendTranslate(s.bcRef[:0], cds[ws:we])
	ref := s.bcRef
	win := append(s.bcWin[:0], cds[ws:r1-base]...)
	win = append(win, alt...)
	if r2-base+1 < we {
		win = append(win, cds[r2-base+1:we]...)
	}
	s.bcWin = win
	s.bcAA = m.code.appendTranslate(s.bcAA[:0], win)
	return appendAAChange(dst, ws/3+1, ref, s.bcAA, len(v.Ref) == len(v.Alt))
}

// appendAAChange appends "41R>41C" for the codons from number num
// translating to ref and, changed, to alt (cut after its first stop);
// "41R" when they are the same and sameLen (REF and ALT of a length).
func appendAAChange(dst []byte, num int64, ref, alt []byte, sameLen bool) []byte {
	if i := stopAt(alt); i >= 0 {
		alt = alt[:i+1]
	}
	dst = AppendInt(dst, num)
	dst = append(dst, ref...)
	if bytes.Equal(ref, alt) && sameLen {
		return dst
	}
	dst = append(dst, '>')
	dst = AppendInt(dst, num)
	return append(dst, alt...)
}

// shiftsOutOf5 says whether replacing cDNA [i, j) with alt (an indel)
// can be moved 5' in the transcript to end before the CDS; buf is
// scratch memory.
func (m *txMap) shiftsOutOf5(buf *[]byte, i, j int64, alt []byte) bool {
	s := m.seq
	switch {
	case len(alt) == 0: // deletion of s[i:j]
		for i > 0 && s[i-1] == s[j-1] {
			i, j = i-1, j-1
		}
		return j <= m.cdsFirst
	case i == j: // insertion before i
		ins := append((*buf)[:0], alt...)
		*buf = ins
		L := len(ins)
		for i > 0 && s[i-1] == ins[L-1] {
			l := ins[L-1]
			copy(ins[1:], ins[:L-1])
			ins[0] = l
			i--
		}
		return i <= m.cdsFirst
	}
	return false
}
