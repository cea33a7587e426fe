package qc

import (
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/bed"
)

func TestReadRegionDepth(t *testing.T) {
	regions := []bed.Interval{
		{Chrom: "chr1", Start: 0, End: 4, Name: "A"},   // positions 1-4
		{Chrom: "chr1", Start: 2, End: 6, Name: "B"},   // 3-6, overlaps A
		{Chrom: "chr2", Start: 10, End: 12, Name: "C"}, // 11-12, position 12 missing from the input
		{Chrom: "chr3", Start: 0, End: 2, Name: "D"},   // no line at all
	}
	in := "chr1\t1\t10\nchr1\t2\t20\nchr1\t3\t30\nchr1\t4\t40\nchr1\t5\t0\nchr1\t6\t25\nchr2\t11\t50\n"
	got, err := ReadRegionDepth(strings.NewReader(in), "depth.txt", regions)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ mean, at20 float64 }{{25, 0.75}, {23.75, 0.75}, {25, 0.5}, {0, 0}}
	for i, w := range want {
		if got[i].MeanDepth != w.mean || got[i].Covered20x != w.at20 || got[i].Region.Name != regions[i].Name {
			t.Errorf("%s: mean %v at20 %v, want %v %v", regions[i].Name, got[i].MeanDepth, got[i].Covered20x, w.mean, w.at20)
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"chr1\t1\n", "depth.txt:1: want contig"},
		{"chr1\t1\t10\nchr1\tx\t3\n", "depth.txt:2: bad position"},
		{"chr1\t5\t10\nchr1\t3\t3\n", "depth.txt:2: positions out of order"},
	} {
		if _, err := ReadRegionDepth(strings.NewReader(bad.in), "depth.txt", regions); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.in, err, bad.want)
		}
	}
}
