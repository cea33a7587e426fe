package known

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestIndexGet(t *testing.T) {
	ref := seqRef{"1": "GCAAAACTGTGTGTA"}
	b := NewIndexBuilder([]string{"A", "B"}, ref)
	add := func(chrom string, pos int64, r, a string, vals ...string) {
		t.Helper()
		if err := b.Add(chrom, pos, r, a, vals); err != nil {
			t.Fatal(err)
		}
	}
	add("chr1", 6, "AC", "C", "del", "")
	add("1", 3, "A", "G", "snv", "x")
	add("1", 3, "A", "T", "snv2", "")
	add("1", 3, "A", "G", "dup", "y") // a second record of the same allele
	if err := b.Add("1", 3, "A", "G", []string{"too few"}); err == nil {
		t.Error("wrong value count: no error")
	}
	ix := b.Build()
	if ix.Len() != 4 {
		t.Errorf("Len %d", ix.Len())
	}
	tests := []struct {
		chrom    string
		pos      int64
		ref, alt string
		want     string
	}{
		{"1", 3, "A", "G", "snv"},
		{"chr1", 3, "a", "t", "snv2"},
		{"1", 3, "A", "C", ""},
		{"1", 5, "AA", "A", "del"},   // the same deletion, written elsewhere in the run
		{"1", 2, "CAA", "CA", "del"}, // and padded
		{"2", 3, "A", "G", ""},
	}
	for _, tc := range tests {
		row, err := ix.Get(tc.chrom, tc.pos, tc.ref, tc.alt)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if row != nil {
			got = row[0]
		}
		if got != tc.want {
			t.Errorf("Get(%s:%d %s>%s) = %q, want %q", tc.chrom, tc.pos, tc.ref, tc.alt, got, tc.want)
		}
	}
	n := 0
	ix.All(func(chrom string, pos int64, r, a string, v []string) bool { n++; return true })
	if n != 4 {
		t.Errorf("All gave %d alleles", n)
	}
}

// TestIndexVCFErrors checks errors name the file and line.
func TestIndexVCFErrors(t *testing.T) {
	head := "##fileformat=VCFv4.2\n##INFO=<ID=AF,Number=A,Type=Float,Description=\"x\">\n##INFO=<ID=nhomalt,Number=A,Type=String,Description=\"x\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
	tests := []struct {
		name, body, want string
		sentinel         error
	}{
		{"AF count (checked by vcf)", "1\t5\t.\tA\tG,T\t.\t.\tAF=0.1\n", "pop.vcf: line 5:", nil},
		{"String Number=A count", "1\t5\t.\tA\tG\t.\t.\tAF=0.1\n1\t6\t.\tA\tG,T\t.\t.\tAF=0.1,0.2;nhomalt=a,b,c\n", "pop.vcf: line 6:", ErrSyntax},
		{"bad POS", "1\t5\t.\tA\tG\t.\t.\tAF=0.1\n1\tx\t.\tA\tG\t.\t.\t.\n", "pop.vcf: line 6:", nil},
		{"too few columns", "1\t5\t.\tA\n", "pop.vcf: line 5:", nil},
		{"no newline at end", "1\t5\t.\tA\tG\t.\t.\tAF=0.1", "pop.vcf: line 5:", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPopulation("gnomad", strings.NewReader(head+tc.body), "pop.vcf", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tc.sentinel)
			}
		})
	}
	if _, err := LoadClinVar("testdata/missing.vcf", nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
