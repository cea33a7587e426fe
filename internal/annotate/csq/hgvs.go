package csq

import (
	"math"
	"strconv"
)

// maxShift bounds the 3' shift of an indel (a long microsatellite).
const maxShift = 10000

// shifted is an indel moved as far 3' as the sequence allows.
type shifted struct {
	kind     string // "sub", "del", "ins", "dup", "delins"
	s, e     int64  // genomic range (for ins: the bases either side)
	ins      []byte // genomic orientation: inserted or substituted bases
	refBases []byte
}

// shift moves an indel in direction dir (+1: to higher coordinates, -1:
// lower) within [lo, hi] and detects duplications.
func (a *Annotator) shift(al *allele, dir int, lo, hi int64) shifted {
	c := al.chrom
	switch {
	case len(al.ref) > 0 && len(al.alt) > 0:
		kind := "delins"
		if len(al.ref) == 1 && len(al.alt) == 1 {
			kind = "sub"
		}
		return shifted{kind: kind, s: al.start, e: al.start + int64(len(al.ref)) - 1, ins: al.alt, refBases: al.ref}
	case len(al.alt) == 0: // deletion
		s, e := al.start, al.start+int64(len(al.ref))-1
		for n := 0; n < maxShift; n++ {
			if dir > 0 {
				if e+1 > hi || a.base(c, e+1) != a.base(c, s) {
					break
				}
				s, e = s+1, e+1
			} else {
				if s-1 < lo || a.base(c, s-1) != a.base(c, e) {
					break
				}
				s, e = s-1, e-1
			}
		}
		return shifted{kind: "del", s: s, e: e}
	}
	// insertion after x
	x := al.start - 1
	ins := append([]byte(nil), al.alt...)
	L := int64(len(ins))
	for n := 0; n < maxShift; n++ {
		if dir > 0 {
			if x+1 > hi || a.base(c, x+1) != ins[0] {
				break
			}
			ins = append(ins[1:], ins[0])
			x++
		} else {
			if x < lo || a.base(c, x) != ins[L-1] {
				break
			}
			ins = append([]byte{ins[L-1]}, ins[:L-1]...)
			x--
		}
	}
	// A duplication repeats the bases just before it (in the direction
	// of the shift).
	ds := x - L + 1
	if dir < 0 {
		ds = x + 1
	}
	dup := ds >= 1
	for i := int64(0); dup && i < L; i++ {
		if a.base(c, ds+i) != ins[i] {
			dup = false
		}
	}
	if dup {
		return shifted{kind: "dup", s: ds, e: ds + L - 1, ins: ins}
	}
	return shifted{kind: "ins", s: x, e: x + 1, ins: ins}
}

// hgvsG writes the genomic HGVS of the variant, shifted 3' on the
// forward strand.
func (a *Annotator) hgvsG(al *allele) string {
	sh := a.shift(al, 1, 1, math.MaxInt64)
	pos := func(g int64) string { return strconv.FormatInt(g, 10) }
	return al.chrom + ":g." + describe(sh, pos, false)
}

// hgvsC writes the transcript HGVS (c. or n.), shifted 3' in the
// direction of transcription within the exon or intron holding the
// variant.
func (a *Annotator) hgvsC(m *txMap, al *allele) string {
	lo, hi := m.t.Start, m.t.End
	s, _ := al.span()
	if r, ok := m.region(max(s, m.t.Start)); ok {
		lo, hi = r.Start, r.End
	}
	sh := a.shift(al, int(m.t.Strand), lo, hi)
	prefix := ":c."
	if !m.coding() {
		prefix = ":n."
	}
	return m.t.ID + prefix + describe(sh, m.hgvsPos, m.t.Strand < 0)
}

// describe writes a shifted variant with the position formatter pos;
// minus says the positions and bases are read on the reverse strand.
func describe(sh shifted, pos func(int64) string, minus bool) string {
	s, e := sh.s, sh.e
	bases := sh.ins
	ref := sh.refBases
	if minus {
		s, e = e, s
		bases = revcomp(bases)
		ref = revcomp(ref)
	}
	rng := pos(s)
	if sh.s != sh.e {
		rng += "_" + pos(e)
	}
	switch sh.kind {
	case "sub":
		return pos(s) + string(ref) + ">" + string(bases)
	case "del":
		return rng + "del"
	case "dup":
		return rng + "dup"
	case "ins":
		return pos(s) + "_" + pos(e) + "ins" + string(bases)
	}
	return rng + "delins" + string(bases)
}
