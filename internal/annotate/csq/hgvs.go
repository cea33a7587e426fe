package csq

import (
	"math"
	"slices"
	"strconv"
)

// maxShift bounds the 3' shift of an indel (a long microsatellite).
const maxShift = 10000

// Kinds of shifted change.
const (
	kSub = iota
	kDel
	kIns
	kDup
	kDelins
)

// shifted is an indel moved as far 3' as the sequence allows.
type shifted struct {
	kind     int   // kSub, kDel, kIns, kDup or kDelins
	s, e     int64 // genomic range (for ins: the bases either side)
	ins      []byte
	refBases []byte // genomic orientation: inserted or substituted bases
}

// shift moves an indel in direction dir (+1: to higher coordinates, -1:
// lower) within [lo, hi] and detects duplications, reading the reference
// through w. The inserted bases of the result are kept in *buf.
func (a *Annotator) shift(w *seqWindow, buf *[]byte, al *allele, dir int, lo, hi int64) shifted {
	c := al.chrom
	switch {
	case len(al.ref) > 0 && len(al.alt) > 0:
		kind := kDelins
		if len(al.ref) == 1 && len(al.alt) == 1 {
			kind = kSub
		}
		return shifted{kind: kind, s: al.start, e: al.start + int64(len(al.ref)) - 1, ins: al.alt, refBases: al.ref}
	case len(al.alt) == 0: // deletion
		s, e := al.start, al.start+int64(len(al.ref))-1
		for n := 0; n < maxShift; n++ {
			if dir > 0 {
				if e+1 > hi || a.baseAt(w, c, e+1) != a.baseAt(w, c, s) {
					break
				}
				s, e = s+1, e+1
			} else {
				if s-1 < lo || a.baseAt(w, c, s-1) != a.baseAt(w, c, e) {
					break
				}
				s, e = s-1, e-1
			}
		}
		return shifted{kind: kDel, s: s, e: e}
	}
	// insertion after x
	x := al.start - 1
	ins := append((*buf)[:0], al.alt...)
	*buf = ins
	L := int64(len(ins))
	for n := 0; n < maxShift; n++ {
		if dir > 0 {
			if x+1 > hi || a.baseAt(w, c, x+1) != ins[0] {
				break
			}
			f := ins[0]
			copy(ins, ins[1:])
			ins[L-1] = f
			x++
		} else {
			if x < lo || a.baseAt(w, c, x) != ins[L-1] {
				break
			}
			l := ins[L-1]
			copy(ins[1:], ins[:L-1])
			ins[0] = l
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
		if a.baseAt(w, c, ds+i) != ins[i] {
			dup = false
		}
	}
	if dup {
		return shifted{kind: kDup, s: ds, e: ds + L - 1, ins: ins}
	}
	return shifted{kind: kIns, s: x, e: x + 1, ins: ins}
}

// appendHGVSg appends the genomic HGVS of the variant, shifted 3' on the
// forward strand.
func (a *Annotator) appendHGVSg(s *scratch, dst []byte, al *allele) []byte {
	dst = append(dst, al.chrom...)
	dst = append(dst, ":g."...)
	if al.snv() {
		return appendSub(AppendInt(dst, al.start), al.ref[0], al.alt[0], false)
	}
	sh := a.shift(&s.win0, &s.shIns, al, 1, 1, math.MaxInt64)
	return describe(dst, &sh, nil, false)
}

// appendHGVSc appends the transcript HGVS (c. or n.), shifted 3' in the
// direction of transcription within the exon or intron holding the
// variant. gi is the first exon (genomic order) to end at or after the
// start of al's span.
func (a *Annotator) appendHGVSc(s *scratch, dst []byte, m *txMap, al *allele, gi int) []byte {
	if al.snv() {
		dst = m.appendHGVSPosAt(append(dst, m.prefix...), al.start, gi)
		return appendSub(dst, al.ref[0], al.alt[0], m.t.Strand < 0)
	}
	lo, hi := m.t.Start, m.t.End
	if len(al.ref) == 0 || len(al.alt) == 0 { // an indel, which may shift
		st, _ := al.span()
		if r, ok := m.region(max(st, m.t.Start)); ok {
			lo, hi = r.Start, r.End
		}
	}
	sh := a.shift(&s.win0, &s.shIns, al, int(m.t.Strand), lo, hi)
	dst = append(dst, m.prefix...)
	return describe(dst, &sh, m, m.t.Strand < 0)
}

// appendSub appends the change of a substitution of one base, "A>G",
// complemented when minus (what describe writes for a kSub).
func appendSub(dst []byte, ref, alt byte, minus bool) []byte {
	if minus {
		ref, alt = complement[ref], complement[alt]
	}
	return append(dst, ref, '>', alt)
}

// appendPos appends genomic position g: as is with no transcript, else
// as an HGVS transcript position.
func appendPos(dst []byte, m *txMap, g int64) []byte {
	if m == nil {
		return AppendInt(dst, g)
	}
	return m.appendHGVSPos(dst, g)
}

// appendBases appends b, reverse-complemented when minus.
func appendBases(dst, b []byte, minus bool) []byte {
	if !minus {
		return append(dst, b...)
	}
	for i := len(b) - 1; i >= 0; i-- {
		dst = append(dst, complement[b[i]])
	}
	return dst
}

// describe appends a shifted variant with positions on m (genomic when
// m is nil); minus says the positions and bases are read on the reverse
// strand.
func describe(dst []byte, sh *shifted, m *txMap, minus bool) []byte {
	s, e := sh.s, sh.e
	if minus {
		s, e = e, s
	}
	switch sh.kind {
	case kSub:
		dst = appendPos(dst, m, s)
		dst = appendBases(dst, sh.refBases, minus)
		dst = append(dst, '>')
		return appendBases(dst, sh.ins, minus)
	case kIns:
		dst = appendPos(dst, m, s)
		dst = append(dst, '_')
		dst = appendPos(dst, m, e)
		dst = append(dst, "ins"...)
		return appendBases(dst, sh.ins, minus)
	}
	dst = appendPos(dst, m, s)
	if sh.s != sh.e {
		dst = append(dst, '_')
		dst = appendPos(dst, m, e)
	}
	switch sh.kind {
	case kDel:
		return append(dst, "del"...)
	case kDup:
		return append(dst, "dup"...)
	}
	dst = append(dst, "delins"...)
	return appendBases(dst, sh.ins, minus)
}

// AppendInt appends v in decimal, as strconv.AppendInt(dst, v, 10)
// does, writing the digits in place two at a time (numbers are written
// many times per variant).
func AppendInt(dst []byte, v int64) []byte {
	if v < 0 {
		if v == math.MinInt64 {
			return strconv.AppendInt(dst, v, 10)
		}
		dst = append(dst, '-')
		v = -v
	}
	u := uint64(v)
	switch { // most numbers (exon, cDNA and protein positions) are short
	case u < 10:
		return append(dst, byte('0'+u))
	case u < 100:
		return append(dst, digits2[2*u], digits2[2*u+1])
	case u < 10000:
		q, r := u/100, u%100
		if q < 10 {
			return append(dst, byte('0'+q), digits2[2*r], digits2[2*r+1])
		}
		return append(dst, digits2[2*q], digits2[2*q+1], digits2[2*r], digits2[2*r+1])
	}
	n := 2
	for t := uint64(100); n < 19 && u >= t; t *= 10 {
		n++
	}
	l := len(dst)
	dst = slices.Grow(dst, n)[:l+n]
	i := l + n
	for u >= 100 {
		q := u / 100
		r := (u - q*100) * 2
		i -= 2
		dst[i], dst[i+1] = digits2[r], digits2[r+1]
		u = q
	}
	if u >= 10 {
		dst[i-2], dst[i-1] = digits2[u*2], digits2[u*2+1]
	} else {
		dst[i-1] = byte('0' + u)
	}
	return dst
}

const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
