package csq

import "strings"

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
func translateCodon(c []byte) byte {
	a, b, d := baseCode(c[0]), baseCode(c[1]), baseCode(c[2])
	if a < 0 || b < 0 || d < 0 {
		return 'X'
	}
	return codonTable[a*16+b*4+d]
}

// translate translates whole codons of s; a trailing partial codon is
// dropped.
func translate(s []byte) []byte {
	out := make([]byte, 0, len(s)/3)
	for i := 0; i+3 <= len(s); i += 3 {
		out = append(out, translateCodon(s[i:i+3]))
	}
	return out
}

var three = map[byte]string{
	'A': "Ala", 'R': "Arg", 'N': "Asn", 'D': "Asp", 'C': "Cys", 'Q': "Gln", 'E': "Glu", 'G': "Gly",
	'H': "His", 'I': "Ile", 'L': "Leu", 'K': "Lys", 'M': "Met", 'F': "Phe", 'P': "Pro", 'S': "Ser",
	'T': "Thr", 'W': "Trp", 'Y': "Tyr", 'V': "Val", '*': "Ter", 'X': "Xaa", 'U': "Sec",
}

// aa3 writes amino acids in the three-letter code.
func aa3(s []byte) string {
	var b strings.Builder
	for _, c := range s {
		b.WriteString(three[c])
	}
	return b.String()
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
	out := make([]byte, len(s))
	for i, c := range s {
		out[len(s)-1-i] = complement[c]
	}
	return out
}
