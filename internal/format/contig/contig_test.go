package contig

import (
	"slices"
	"testing"
)

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"1": "1", "chr1": "1", "CHR1": "1", "Chr1": "1", "chrX": "X", "x": "X", "chry": "Y",
		"M": "MT", "MT": "MT", "chrM": "MT", "chrMT": "MT", "chrm": "MT",
		"chr": "chr", "GL000220.1": "GL000220.1", "chrUn_KI270302v1": "Un_KI270302v1",
		"NC_000001.11": "1", "NC_000001.10": "1", "NC_000023.11": "X", "NC_000024.9": "Y", "NC_012920.1": "MT", "NC_000022.11": "22",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAliases(t *testing.T) {
	for in, want := range map[string][]string{
		"1":            {"1", "chr1", "NC_000001.11", "NC_000001.10"},
		"chr1":         {"chr1", "1", "NC_000001.11", "NC_000001.10"},
		"chrX":         {"chrX", "X", "NC_000023.11", "NC_000023.10"},
		"MT":           {"MT", "chrMT", "chrM", "M", "NC_012920.1"},
		"chrM":         {"chrM", "MT", "chrMT", "M", "NC_012920.1"},
		"CHR2":         {"CHR2", "2", "chr2", "NC_000002.12", "NC_000002.11"},
		"NC_000021.9":  {"NC_000021.9", "21", "chr21"}, // not GRCh37's NC_000021.8
		"NC_000021.8":  {"NC_000021.8", "21", "chr21"},
		"NC_012920.1":  {"NC_012920.1", "MT", "chrMT", "chrM", "M"},
		"chrUn":        {"chrUn", "Un"},
		"NC_000021.10": {"NC_000021.10", "chrNC_000021.10"}, // no such assembly
	} {
		if got := Aliases(in); !slices.Equal(got, want) {
			t.Errorf("Aliases(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	names := map[string]bool{"1": true, "chr1": true, "X": true, "chrM": true}
	has := func(s string) bool { return names[s] }
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"1", "1", true},       // exact first
		{"chr1", "chr1", true}, // exact first, though 1 is there too
		{"chrX", "X", true},
		{"MT", "chrM", true},
		{"M", "chrM", true},
		{"chrZ", "chrZ", false},
	} {
		got, ok := Resolve(c.in, has)
		if got != c.want || ok != c.ok {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRefSeq(t *testing.T) {
	for _, c := range []struct{ asm, chrom, want string }{
		{"GRCh38", "1", "NC_000001.11"}, {"hg19", "chr1", "NC_000001.10"}, {"GRCh38 (GCA_000001405.15)", "chrX", "NC_000023.11"},
		{"grch37", "Y", "NC_000024.9"}, {"hg38", "chrM", "NC_012920.1"}, {"GRCh38", "22", "NC_000022.11"},
		{"GRCh38", "NC_000021.8", "NC_000021.9"}, // another assembly's accession names the chromosome
		{"GRCh38", "23", ""}, {"GRCh38", "GL000220.1", ""}, {"CHM13", "1", ""}, {"", "1", ""},
	} {
		if got := RefSeq(c.asm, c.chrom); got != c.want {
			t.Errorf("RefSeq(%q, %q) = %q, want %q", c.asm, c.chrom, got, c.want)
		}
	}
}
