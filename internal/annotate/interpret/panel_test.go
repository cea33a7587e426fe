package interpret

import (
	"slices"
	"strings"
	"testing"
)

func TestGeneList(t *testing.T) {
	p, err := LoadGeneList("testdata/genes.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Genes(), []string{"BRCA1", "BRCA2", "TP53"}) {
		t.Errorf("genes %q", p.Genes())
	}
	if !p.Includes("Brca2", "13", 1) || p.Includes("ATM", "11", 1) || p.Includes("", "13", 32315508) {
		t.Error("gene filter")
	}
	for _, tc := range []struct{ in, want string }{
		{"# only comments\n\n", "x.txt: no gene symbols"},
		{"BRCA1\n" + strings.Repeat("A", 300) + "\n", "x.txt: line 2: gene symbol longer"},
	} {
		if _, err := ReadGeneList(strings.NewReader(tc.in), "x.txt"); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestBEDPanel(t *testing.T) {
	byName, err := LoadBED("testdata/panel.bed", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(byName.Genes(), []string{"BRCA1", "BRCA2"}) || byName.Covers("13", 32315600) {
		t.Errorf("by name: %q", byName.Genes())
	}
	regions, err := LoadBED("testdata/panel.bed", false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		chrom string
		pos   int64
		want  bool
	}{
		{"13", 32315507, false}, // 0-based start 32315507 is 1-based 32315508
		{"13", 32315508, true},
		{"chr13", 32400268, true},
		{"13", 32400269, false},
		{"17", 43100000, true},
		{"chr1", 43100000, false},
	}
	for _, tc := range tests {
		if got := regions.Covers(tc.chrom, tc.pos); got != tc.want {
			t.Errorf("Covers(%s:%d) = %v", tc.chrom, tc.pos, got)
		}
	}
	if regions.HasGene("BRCA1") {
		t.Error("a region panel has no genes")
	}
}

func TestFrequencyFilter(t *testing.T) {
	f := FrequencyFilter{MaxAF: 0.01}
	for af, want := range map[float64]bool{-1: true, 0: true, 0.01: true, 0.0101: false, 0.5: false} {
		if f.Keep(af) != want {
			t.Errorf("Keep(%v) = %v", af, !want)
		}
	}
}
