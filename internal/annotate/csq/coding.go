package csq

import (
	"bytes"
	"strconv"
	"strings"
)

// codingEffect adds the terms of a variant touching an exon of a coding
// transcript, and its protein change when the variant lies wholly in the
// CDS.
func (a *Annotator) codingEffect(m *txMap, al *allele, e *Effect, ts *terms, intronic bool) {
	lo, hi := al.span()
	t := m.t
	// Exonic extent in cDNA.
	var first, last int64 = -1, -1
	if al.ins() {
		g := hi
		if t.Strand < 0 {
			g = lo
		}
		i, _ := m.cdna(g)
		first, last = i, i-1 // an empty range before i
		switch {
		case i <= m.cdsFirst:
			ts.set("5_prime_UTR_variant")
		case i > m.cdsLast:
			ts.set("3_prime_UTR_variant")
		case intronic || al.symbolic:
			ts.set("coding_sequence_variant")
		default:
			a.protein(m, al, e, ts, i, i)
		}
		return
	}
	exonicLen := int64(0)
	for _, x := range t.Exons {
		s, en := max(lo, x.Start), min(hi, x.End)
		if s > en {
			continue
		}
		exonicLen += en - s + 1
		c1, _ := m.cdna(s)
		c2, _ := m.cdna(en)
		if c1 > c2 {
			c1, c2 = c2, c1
		}
		if first < 0 || c1 < first {
			first = c1
		}
		last = max(last, c2)
	}
	if first < m.cdsFirst {
		ts.set("5_prime_UTR_variant")
	}
	if last > m.cdsLast {
		ts.set("3_prime_UTR_variant")
	}
	if last < m.cdsFirst || first > m.cdsLast {
		return
	}
	if !intronic && exonicLen == int64(len(al.ref)) && first >= m.cdsFirst && last <= m.cdsLast {
		a.protein(m, al, e, ts, first, last+1)
		return
	}
	// Partly coding: no protein change, but say what is hit.
	cdsHit := min(last, m.cdsLast) - max(first, m.cdsFirst) + 1
	specific := false
	if first <= m.cdsFirst+2 && m.skip == 0 && m.cdsLast-m.cdsFirst >= 2 && string(m.seq[m.cdsFirst:m.cdsFirst+3]) == "ATG" {
		ts.set("start_lost")
		specific = true
	}
	if last >= m.cdsLast-2 && m.cdsLast-2 >= m.cdsFirst && translateCodon(m.seq[m.cdsLast-2:m.cdsLast+1]) == '*' {
		ts.set("stop_lost")
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
			ts.set("frameshift_variant")
			specific = true
		case delta < 0:
			ts.set("inframe_deletion")
			specific = true
		}
	}
	if !specific {
		ts.set("coding_sequence_variant")
	}
}

// protein computes the change of a variant replacing cDNA [i, j) — wholly
// in the CDS — with its ALT.
func (a *Annotator) protein(m *txMap, al *allele, e *Effect, ts *terms, i, j int64) {
	altT := al.alt
	if m.t.Strand < 0 {
		altT = revcomp(altT)
	}
	// A CDS incomplete at its 5' end starts with a partial codon, which
	// is left out of the protein (as bcftools and Ensembl number it).
	skip := int64(m.skip)
	cds := m.seq[m.cdsFirst+skip : m.cdsLast+1]
	ci, cj := i-m.cdsFirst-skip, j-m.cdsFirst-skip
	if ci < 0 {
		ts.set("coding_sequence_variant")
		return
	}
	pad := -skip
	n := int64(len(cds))
	if cj > ci {
		e.CDSPos = strconv.FormatInt(ci+1-pad, 10)
		if cj-1 > ci {
			e.CDSPos += "-" + strconv.FormatInt(cj-pad, 10)
		}
	} else {
		e.CDSPos = strconv.FormatInt(ci-pad, 10) + "-" + strconv.FormatInt(ci+1-pad, 10)
	}
	delta := int64(len(altT)) - (cj - ci)
	ws := ci / 3 * 3
	var we int64
	if cj > ci {
		we = ((cj-1)/3 + 1) * 3
	} else {
		we = (ci + 2) / 3 * 3
	}
	if n%3 != 0 && we > n-n%3 {
		ts.set("incomplete_terminal_codon_variant")
	}
	we = min(we, n)
	altWin := append(append(append([]byte(nil), cds[ws:ci]...), altT...), cds[cj:we]...)
	refAA, altAA := translate(cds[ws:we]), translate(altWin)
	startLost := false
	if ws == 0 && skip == 0 && len(refAA) > 0 && refAA[0] == 'M' && delta != 0 && m.shiftsOutOf5(i, j, altT) {
		// The indel is the same as one in the 5' UTR: the start codon
		// is kept.
		ts.set("start_retained_variant")
	} else if ws == 0 && skip == 0 && len(refAA) > 0 && refAA[0] == 'M' {
		// Read the new first codon from the changed CDS.
		altCDS := append(append(append([]byte(nil), cds[:ci]...), altT...), cds[cj:min(n, cj+3)]...)
		if len(altCDS) >= 3 && translateCodon(altCDS[:3]) == 'M' {
			if delta != 0 {
				ts.set("start_retained_variant")
			}
		} else {
			startLost = true
			ts.set("start_lost")
		}
	}
	e.AAChange = bcftoolsChange(m, al, cds, pad)
	k := ws / 3 // 0-based codon index of the window
	if delta%3 != 0 {
		ts.set("frameshift_variant")
		if we == n && n >= 3 && translateCodon(cds[n-3:]) == '*' {
			// The frameshift reaches the stop codon that ends the CDS.
			ts.set("stop_lost")
		}
		e.ProteinPos = strconv.FormatInt(k+1, 10)
		if !startLost {
			e.HGVSp = a.frameshiftP(m, cds, ci, cj, altT, k)
		} else {
			e.HGVSp = "p.(Met1?)"
		}
		return
	}
	refStop, altStop := bytes.IndexByte(refAA, '*'), bytes.IndexByte(altAA, '*')
	switch {
	case refStop >= 0 && altStop < 0:
		ts.set("stop_lost")
	case altStop >= 0 && (refStop < 0 || altStop < refStop):
		ts.set("stop_gained")
	}
	switch {
	case delta > 0:
		ts.set("inframe_insertion")
	case delta < 0:
		ts.set("inframe_deletion")
	case bytes.Equal(refAA, altAA):
		if refStop >= 0 {
			ts.set("stop_retained_variant")
		} else if !startLost {
			ts.set("synonymous_variant")
		}
	case !startLost && !ts.has("stop_lost") && !ts.has("stop_gained"):
		ts.set("missense_variant")
	}
	// Trim the windows to the changed amino acids.
	p := 0
	for p < len(refAA) && p < len(altAA) && refAA[p] == altAA[p] {
		p++
	}
	s := 0
	for s < len(refAA)-p && s < len(altAA)-p && refAA[len(refAA)-1-s] == altAA[len(altAA)-1-s] {
		s++
	}
	r, x := refAA[p:len(refAA)-s], altAA[p:len(altAA)-s]
	pos := k + int64(p) + 1 // 1-based protein position of r[0]
	switch {
	case len(r) == 0 && len(x) == 0:
		e.ProteinPos = strconv.FormatInt(k+1, 10)
		e.AminoAcids = string(refAA)
		e.HGVSp = "p.(=)"
	default:
		e.ProteinPos = strconv.FormatInt(pos, 10)
		if len(r) > 1 {
			e.ProteinPos += "-" + strconv.FormatInt(pos+int64(len(r))-1, 10)
		}
		e.AminoAcids = string(orDash(r)) + "/" + string(orDash(x))
		e.HGVSp = a.changeP(m, cds, r, x, pos, startLost)
	}
}

func orDash(b []byte) []byte {
	if len(b) == 0 {
		return []byte{'-'}
	}
	return b
}

// aaAt translates codon pos (1-based) of cds; 0 past the end.
func aaAt(cds []byte, pos int64) byte {
	if pos < 1 || pos*3 > int64(len(cds)) {
		return 0
	}
	return translateCodon(cds[pos*3-3 : pos*3])
}

// changeP writes the p. notation of replacing amino acids r at pos with x.
func (a *Annotator) changeP(m *txMap, cds, r, x []byte, pos int64, startLost bool) string {
	if startLost {
		return "p.(Met1?)"
	}
	one := func(p int64) string { return three[aaAt(cds, p)] + strconv.FormatInt(p, 10) }
	switch {
	case len(r) == 1 && r[0] == '*' && len(x) >= 1 && x[0] != '*':
		// Stop lost: read on into the 3' UTR for the new stop.
		tail := append(append([]byte(nil), x[1:]...), a.readThrough(m, cds, pos)...)
		ext := "?"
		if i := bytes.IndexByte(tail, '*'); i >= 0 {
			ext = strconv.Itoa(i + 1)
		}
		return "p.(Ter" + strconv.FormatInt(pos, 10) + three[x[0]] + "extTer" + ext + ")"
	case len(r) == 1 && len(x) == 1:
		return "p.(" + three[r[0]] + strconv.FormatInt(pos, 10) + three[x[0]] + ")"
	case len(x) == 0: // deletion: shift 3' along the protein
		p1, p2 := pos, pos+int64(len(r))-1
		for aaAt(cds, p2+1) != 0 && aaAt(cds, p2+1) == aaAt(cds, p1) && aaAt(cds, p1) != '*' {
			p1++
			p2++
		}
		if p1 == p2 {
			return "p.(" + one(p1) + "del)"
		}
		return "p.(" + one(p1) + "_" + one(p2) + "del)"
	case len(r) == 0: // insertion after pos-1
		after := pos - 1
		ins := append([]byte(nil), x...)
		for aaAt(cds, after+1) != 0 && aaAt(cds, after+1) == ins[0] && ins[0] != '*' {
			ins = append(ins[1:], ins[0])
			after++
		}
		L := int64(len(ins))
		if after-L+1 >= 1 {
			dup := true
			for q := int64(0); q < L; q++ {
				if aaAt(cds, after-L+1+q) != ins[q] {
					dup = false
					break
				}
			}
			if dup {
				if L == 1 {
					return "p.(" + one(after) + "dup)"
				}
				return "p.(" + one(after-L+1) + "_" + one(after) + "dup)"
			}
		}
		if after < 1 || aaAt(cds, after+1) == 0 {
			return "p.?"
		}
		return "p.(" + one(after) + "_" + one(after+1) + "ins" + aa3(ins) + ")"
	}
	end := pos + int64(len(r)) - 1
	if x[0] == '*' {
		return "p.(" + one(pos) + "Ter)"
	}
	if i := bytes.IndexByte(x, '*'); i >= 0 {
		x = x[:i+1]
	}
	if end == pos {
		return "p.(" + one(pos) + "delins" + aa3(x) + ")"
	}
	return "p.(" + one(pos) + "_" + one(end) + "delins" + aa3(x) + ")"
}

// readThrough translates what follows a lost stop codon at protein
// position pos, up to the first new stop (included).
func (a *Annotator) readThrough(m *txMap, cds []byte, pos int64) []byte {
	rest := m.seq[m.cdsLast+1:]
	tail := cds[min(int64(len(cds)), pos*3):]
	var out []byte
	var c [3]byte
	n := 0
	for _, part := range [][]byte{tail, rest} {
		for _, b := range part {
			c[n] = b
			if n++; n == 3 {
				n = 0
				aa := translateCodon(c[:])
				out = append(out, aa)
				if aa == '*' {
					return out
				}
			}
		}
	}
	return out
}

// frameshiftP writes p.(Xaa{n}YaafsTer{k}) for a frameshift from codon
// k0, reading the new frame codon by codon (into the 3' UTR) until a stop.
func (a *Annotator) frameshiftP(m *txMap, cds []byte, ci, cj int64, altT []byte, k0 int64) string {
	utr := m.seq[m.cdsLast+1:]
	altLen := ci + int64(len(altT)) + int64(len(cds)) - cj + int64(len(utr))
	altAt := func(i int64) byte {
		switch {
		case i < ci:
			return cds[i]
		case i < ci+int64(len(altT)):
			return altT[i-ci]
		case i-int64(len(altT))+cj-ci < int64(len(cds)):
			return cds[i-int64(len(altT))+cj-ci]
		}
		return utr[i-ci-int64(len(altT))-int64(len(cds))+cj]
	}
	codon := func(at func(int64) byte, k int64) byte {
		return translateCodon([]byte{at(3 * k), at(3*k + 1), at(3*k + 2)})
	}
	refAt := func(i int64) byte { return cds[i] }
	nRef, nAlt := int64(len(cds))/3, altLen/3
	k := k0
	for k < nRef && k < nAlt && codon(altAt, k) == codon(refAt, k) && codon(refAt, k) != '*' {
		k++
	}
	if k >= nRef || k >= nAlt {
		return "p.?"
	}
	r, x := codon(refAt, k), codon(altAt, k)
	pos := k + 1
	if r == '*' && x == '*' {
		return "p.(=)" // the shift starts after the stop codon
	}
	head := three[r] + strconv.FormatInt(pos, 10)
	if x == '*' {
		return "p.(" + head + "Ter)"
	}
	ter := "?"
	for q := k + 1; q < nAlt; q++ {
		if codon(altAt, q) == '*' {
			ter = strconv.FormatInt(q-k+1, 10)
			break
		}
	}
	return "p.(" + head + three[x] + "fsTer" + ter + ")"
}

// bcftoolsChange writes the amino-acid change the way bcftools csq does:
// the codons under the VCF REF allele (anchor base included), before and
// after, each prefixed by the first codon's number: "41R>41C", "41R" when
// unchanged.
func bcftoolsChange(m *txMap, al *allele, cds []byte, pad int64) string {
	v := al.v
	if al.symbolic {
		return ""
	}
	r1, ok1 := m.cdna(v.Pos)
	r2, ok2 := m.cdna(v.Pos + int64(len(v.Ref)) - 1)
	alt := []byte(strings.ToUpper(v.Alt))
	if m.t.Strand < 0 {
		r1, r2 = r2, r1
		alt = revcomp(alt)
	}
	base := m.cdsFirst - pad // cDNA offset of cds[0]
	if !ok1 || !ok2 || r2-r1+1 != int64(len(v.Ref)) || r1 < base || r2 > m.cdsLast {
		return ""
	}
	ws := (r1 - base) / 3 * 3
	we := min(((r2-base)/3+1)*3, int64(len(cds)))
	ref := translate(cds[ws:we])
	win := append([]byte(nil), cds[ws:r1-base]...)
	win = append(win, alt...)
	if r2-base+1 < we {
		win = append(win, cds[r2-base+1:we]...)
	}
	altAA := translate(win)
	if i := bytes.IndexByte(altAA, '*'); i >= 0 {
		altAA = altAA[:i+1]
	}
	num := strconv.FormatInt(ws/3+1, 10)
	if bytes.Equal(ref, altAA) && len(v.Ref) == len(v.Alt) {
		return num + string(ref)
	}
	return num + string(ref) + ">" + num + string(altAA)
}

// shiftsOutOf5 says whether replacing cDNA [i, j) with alt (an indel)
// can be moved 5' in the transcript to end before the CDS.
func (m *txMap) shiftsOutOf5(i, j int64, alt []byte) bool {
	s := m.seq
	switch {
	case len(alt) == 0: // deletion of s[i:j]
		for i > 0 && s[i-1] == s[j-1] {
			i, j = i-1, j-1
		}
		return j <= m.cdsFirst
	case i == j: // insertion before i
		ins := append([]byte(nil), alt...)
		for i > 0 && s[i-1] == ins[len(ins)-1] {
			ins = append([]byte{ins[len(ins)-1]}, ins[:len(ins)-1]...)
			i--
		}
		return i <= m.cdsFirst
	}
	return false
}
