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
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAliases(t *testing.T) {
	for in, want := range map[string][]string{
		"1":     {"1", "chr1"},
		"chr1":  {"chr1", "1"},
		"chrX":  {"chrX", "X"},
		"MT":    {"MT", "chrMT", "chrM", "M"},
		"chrM":  {"chrM", "MT", "chrMT", "M"},
		"CHR2":  {"CHR2", "2", "chr2"},
		"chrUn": {"chrUn", "Un"},
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
