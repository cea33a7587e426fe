package csq

// codonTable is the standard genetic code, indexed by the three bases as
// 2-bit values (T=0, C=1, A=2, G=3).
const codonTable = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"

func baseCode(b byte) int {
	switch b {
	case 'T', 't':
		return 0
	case 'C', 'c':
		return 1
	case 'A', 'a':
		return 2
	case 'G', 'g':
		return 3
	}
	return -1
}

// translateCodon returns the amino acid of one codon, 'X' when a base is
// not A, C, G or T.
func translateCodon(c []byte) byte { return translate3(c[0], c[1], c[2]) }

// codeOf is baseCode as a table, with 255 for other bytes.
var codeOf = func() (t [256]uint8) {
	for i := range t {
		t[i] = 255
	}
	for i := range 256 {
		if c := baseCode(byte(i)); c >= 0 {
			t[i] = uint8(c)
		}
	}
	return
}()

// translate3 is translateCodon of the bases a, b, d.
func translate3(a, b, d byte) byte {
	x, y, z := codeOf[a], codeOf[b], codeOf[d]
	if x|y|z > 3 {
		return 'X'
	}
	return codonTable[int(x)*16+int(y)*4+int(z)]
}

// translate translates whole codons of s; a trailing partial codon is
// dropped.
func translate(s []byte) []byte { return appendTranslate(make([]byte, 0, len(s)/3), s) }

// appendTranslate appends the translation of the whole codons of s.
func appendTranslate(dst, s []byte) []byte {
	for i := 0; i+3 <= len(s); i += 3 {
		dst = append(dst, translate3(s[i], s[i+1], s[i+2]))
	}
	return dst
}

// three is the three-letter code of each one-letter amino acid.
var three = func() (t [256]string) {
	for k, v := range map[byte]string{
		'A': "Ala", 'R': "Arg", 'N': "Asn", 'D': "Asp", 'C': "Cys", 'Q': "Gln", 'E': "Glu", 'G': "Gly",
		'H': "His", 'I': "Ile", 'L': "Leu", 'K': "Lys", 'M': "Met", 'F': "Phe", 'P': "Pro", 'S': "Ser",
		'T': "Thr", 'W': "Trp", 'Y': "Tyr", 'V': "Val", '*': "Ter", 'X': "Xaa", 'U': "Sec",
	} {
		t[k] = v
	}
	return
}()

// appendAA3 appends amino acids in the three-letter code.
func appendAA3(dst, s []byte) []byte {
	for _, c := range s {
		dst = append(dst, three[c]...)
	}
	return dst
}

var complement [256]byte

func init() {
	for i := range complement {
		complement[i] = 'N'
	}
	for _, p := range []string{"AT", "CG", "GC", "TA", "NN"} {
		complement[p[0]] = p[1]
		complement[p[0]+32] = p[1]
	}
}

// revcomp returns the reverse complement of s (upper case).
func revcomp(s []byte) []byte {
	out := append(make([]byte, 0, len(s)), s...)
	revcompInPlace(out)
	return out
}

// revcompInPlace reverse-complements s (upper case).
func revcompInPlace(s []byte) {
	for i, j := 0, len(s)-1; i <= j; i, j = i+1, j-1 {
		s[i], s[j] = complement[s[j]], complement[s[i]]
	}
}
