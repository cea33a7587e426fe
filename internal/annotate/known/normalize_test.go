package known

import (
	"errors"
	"fmt"
	"testing"
)

// seqRef is a Reference over in-memory sequences (1-based, inclusive).
type seqRef map[string]string

func (s seqRef) Seq(chrom string, start, end int64) ([]byte, error) {
	seq, ok := s[chrom]
	if !ok {
		return nil, fmt.Errorf("no sequence %q", chrom)
	}
	if start < 1 || start > end+1 || end > int64(len(seq)) {
		return nil, fmt.Errorf("bad range %d-%d", start, end)
	}
	return []byte(seq[start-1 : end]), nil
}

func TestNormalize(t *testing.T) {
	//                   1234567890
	ref := seqRef{"chr1": "GCAAAACTGTGTGTA"}
	tests := []struct {
		name     string
		pos      int64
		ref, alt string
		useRef   bool
		wantPos  int64
		wantRef  string
		wantAlt  string
	}{
		{"snv unchanged", 5, "a", "g", false, 5, "A", "G"},
		{"shared suffix", 5, "AC", "GC", false, 5, "A", "G"},
		{"shared prefix and suffix", 4, "AAC", "AGC", false, 5, "A", "G"},
		{"padded deletion", 5, "AAC", "AC", false, 5, "AA", "A"},
		{"deletion left-aligned", 5, "AA", "A", true, 2, "CA", "C"},
		{"deletion written right", 6, "AC", "C", true, 2, "CA", "C"},
		{"insertion left-aligned", 6, "A", "AA", true, 2, "C", "CA"},
		{"dinucleotide repeat", 12, "TGT", "T", true, 7, "CTG", "C"},
		{"no reference: trimmed only", 6, "AC", "C", false, 6, "AC", "C"},
		{"mnv", 3, "AAA", "GAT", false, 3, "AAA", "GAT"},
		{"symbolic", 3, "A", "<DEL>", true, 3, "A", "<DEL>"},
		{"alias chrom for the reference", 5, "AA", "A", true, 2, "CA", "C"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Reference
			chrom := "chr1"
			if tc.name == "alias chrom for the reference" {
				chrom = "1"
			}
			if tc.useRef {
				r = ref
			}
			pos, a, b, err := Normalize(chrom, tc.pos, tc.ref, tc.alt, r)
			if err != nil {
				t.Fatal(err)
			}
			if pos != tc.wantPos || a != tc.wantRef || b != tc.wantAlt {
				t.Errorf("got %d %s>%s, want %d %s>%s", pos, a, b, tc.wantPos, tc.wantRef, tc.wantAlt)
			}
		})
	}
	if _, _, _, err := Normalize("chr1", 1, "", "A", nil); !errors.Is(err, ErrAllele) {
		t.Errorf("empty REF: %v", err)
	}
	if _, _, _, err := Normalize("chr9", 5, "AA", "A", ref); err == nil {
		t.Error("unknown chromosome: no error")
	}
}

func TestCanonicalChrom(t *testing.T) {
	for in, want := range map[string]string{"chr1": "1", "1": "1", "CHR2": "2", "chrM": "MT", "MT": "MT", "M": "MT", "chrMT": "MT", "chrX": "X", "GL000192.1": "GL000192.1", "chr": "chr"} {
		if got := CanonicalChrom(in); got != want {
			t.Errorf("CanonicalChrom(%q) = %q, want %q", in, got, want)
		}
	}
}
