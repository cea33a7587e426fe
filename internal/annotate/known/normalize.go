package known

import (
	"fmt"
	"strings"

	"github.com/clinomics/clinomics/internal/format/contig"
)

// Reference gives reference bases; it lets normalisation left-align
// indels.
type Reference interface {
	// Seq returns the bases of chrom from start to end, 1-based and
	// inclusive as in VCF (the annotator's csq.Reference), in either
	// case. A range past the end of the chromosome or an unknown
	// chromosome is an error.
	Seq(chrom string, start, end int64) ([]byte, error)
}

// CanonicalChrom is the name the indexes key chromosomes by:
// contig.Canonical ("chr1" and "1" are both "1"; "chrM", "chrMT" and "MT"
// are "MT").
func CanonicalChrom(c string) string { return contig.Canonical(c) }

// aliasedRef asks the reference under each alias of a chromosome name.
type aliasedRef struct{ ref Reference }

func (a aliasedRef) Seq(chrom string, start, end int64) ([]byte, error) {
	var first error
	for _, c := range contig.Aliases(chrom) {
		b, err := a.ref.Seq(c, start, end)
		if err == nil {
			return b, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// maxShift bounds how far left an indel is shifted (a long tandem repeat
// stops there rather than walking the whole chromosome).
const maxShift = 10000

// Normalize returns the variant in its minimal, left-aligned form: the
// shared suffix of REF and ALT is trimmed, then the shared prefix, keeping
// at least one base in each allele (the VCF anchor); with a Reference an
// indel is then shifted left while its last base repeats before it. Bases
// are upper-cased. Alleles that are not plain bases (symbolic "<DEL>",
// "*", breakends) are returned upper-cased but otherwise unchanged.
func Normalize(chrom string, pos int64, ref, alt string, refSeq Reference) (int64, string, string, error) {
	if ref == "" || alt == "" {
		return 0, "", "", fmt.Errorf("%w: empty REF or ALT at %s:%d", ErrAllele, chrom, pos)
	}
	ref, alt = strings.ToUpper(ref), strings.ToUpper(alt)
	if !plainBases(ref) || !plainBases(alt) {
		return pos, ref, alt, nil
	}
	for len(ref) > 1 && len(alt) > 1 && ref[len(ref)-1] == alt[len(alt)-1] {
		ref, alt = ref[:len(ref)-1], alt[:len(alt)-1]
	}
	for len(ref) > 1 && len(alt) > 1 && ref[0] == alt[0] {
		ref, alt, pos = ref[1:], alt[1:], pos+1
	}
	if refSeq == nil || len(ref) == len(alt) {
		return pos, ref, alt, nil
	}
	return leftAlign(chrom, pos, ref, alt, aliasedRef{refSeq})
}

// leftAlign shifts an indel left (the algorithm of Tan et al. 2015, as
// in vt and bcftools norm): while the alleles end with the same base, drop
// it, prepending the reference base before them whenever an allele would
// become empty; then drop the shared leading bases, keeping one.
func leftAlign(chrom string, pos int64, ref, alt string, refSeq Reference) (int64, string, string, error) {
	var window []byte // reference bases before pos, window[len-1] at pos-1
	for shifted := 0; shifted < maxShift && ref[len(ref)-1] == alt[len(alt)-1]; shifted++ {
		if len(ref) > 1 && len(alt) > 1 {
			ref, alt = ref[:len(ref)-1], alt[:len(alt)-1]
			continue
		}
		if pos <= 1 {
			break
		}
		if len(window) == 0 {
			winStart := max(pos-64, 1) // 1-based first base of the window
			b, err := refSeq.Seq(chrom, winStart, pos-1)
			if err != nil {
				return 0, "", "", fmt.Errorf("left-aligning %s:%d: %w", chrom, pos, err)
			}
			if int64(len(b)) != pos-winStart {
				return 0, "", "", fmt.Errorf("%w: reference ends before %s:%d", ErrAllele, chrom, pos)
			}
			window = b
		}
		prev := string(upper(window[len(window)-1]))
		window = window[:len(window)-1]
		ref, alt = prev+ref[:len(ref)-1], prev+alt[:len(alt)-1]
		pos--
	}
	for len(ref) > 1 && len(alt) > 1 && ref[0] == alt[0] {
		ref, alt, pos = ref[1:], alt[1:], pos+1
	}
	return pos, ref, alt, nil
}
func upper(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 'a' + 'A'
	}
	return b
}

// plainBases reports whether s is upper-case IUPAC nucleotide letters.
func plainBases(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("ACGTNRYSWKMBDHV", s[i]) < 0 {
			return false
		}
	}
	return true
}
