package csq

// codonTable is the standard genetic code, indexed by the three bases as
// 2-bit values (T=0, C=1, A=2, G=3).
const codonTable = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"

// geneticCode is a translation table (NCBI's numbering): the amino acid
// of each codon, indexed as codonTable, and the codons a protein starts
// with, read as Met in the first codon (HGVS p.Met1).
type geneticCode struct {
	aa     string
	starts []string
}

var (
	// standardCode is NCBI table 1, ATG the only start (as Ensembl and
	// VEP for nuclear transcripts).
	standardCode = &geneticCode{aa: codonTable, starts: []string{"ATG"}}
	// mitoCode is NCBI table 2, the vertebrate mitochondrial code: TGA
	// Trp, ATA Met, AGA and AGG stops; ATT, ATC, ATA, ATG and GTG start.
	mitoCode = &geneticCode{aa: "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSS**VVVVAAAADDEEGGGG",
		starts: []string{"ATT", "ATC", "ATA", "ATG", "GTG"}}
)

// translate3 is the amino acid of the bases a, b, d; 'X' when one is not
// A, C, G or T.
func (g *geneticCode) translate3(a, b, d byte) byte {
	x, y, z := codeOf[a], codeOf[b], codeOf[d]
	if x|y|z > 3 {
		return 'X'
	}
	return g.aa[int(x)*16+int(y)*4+int(z)]
}

// translateCodon is the amino acid of one codon.
func (g *geneticCode) translateCodon(c []byte) byte { return g.translate3(c[0], c[1], c[2]) }

// appendTranslate appends the translation of the whole codons of s.
func (g *geneticCode) appendTranslate(dst, s []byte) []byte {
	for i := 0; i+3 <= len(s); i += 3 {
		dst = append(dst, g.translate3(s[i], s[i+1], s[i+2]))
	}
	return dst
}

// start says whether codon c starts a protein.
func (g *geneticCode) start(c []byte) bool {
	for _, s := range g.starts {
		if string(c) == s {
			return true
		}
	}
	return false
}

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
