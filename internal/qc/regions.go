package qc

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"github.com/clinomics/clinomics/internal/format/bed"
)

// RegionCoverage is the coverage of one region studied.
type RegionCoverage struct {
	Region     bed.Interval
	MeanDepth  float64 // over every base of the region (a base missing from the input counts as 0)
	Covered20x float64 // fraction of the region's bases at depth >= 20
}

// ReadRegionDepth reads `samtools depth -a -b REGIONS.bed` output (contig,
// 1-based position, depth per line, positions ascending within a contig)
// and gives each region its mean depth and the fraction of its bases at
// depth 20 or more. Overlapping regions each count the shared bases.
func ReadRegionDepth(r io.Reader, name string, regions []bed.Interval) ([]RegionCoverage, error) {
	type acc struct {
		i         int // index into regions
		sum, at20 int64
	}
	byChrom := map[string][]*acc{}
	all := make([]*acc, len(regions))
	for i, iv := range regions {
		a := &acc{i: i}
		all[i] = a
		byChrom[iv.Chrom] = append(byChrom[iv.Chrom], a)
	}
	for _, as := range byChrom {
		slices.SortFunc(as, func(a, b *acc) int { return int(regions[a.i].Start - regions[b.i].Start) })
	}
	var chrom []byte
	var cur []*acc
	lo := 0
	var prev int64
	err := scanDepth(r, name, func(c []byte, pos, d int64) error {
		if !bytes.Equal(c, chrom) {
			chrom = append(chrom[:0], c...)
			cur, lo, prev = byChrom[string(chrom)], 0, 0
		} else if pos < prev {
			return errors.New("positions out of order")
		}
		prev = pos
		p0 := pos - 1 // BED is 0-based
		for lo < len(cur) && regions[cur[lo].i].End <= p0 {
			lo++
		}
		for j := lo; j < len(cur) && regions[cur[j].i].Start <= p0; j++ {
			if p0 < regions[cur[j].i].End {
				cur[j].sum += d
				if d >= 20 {
					cur[j].at20++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]RegionCoverage, len(regions))
	for i, a := range all {
		n := float64(max(regions[i].End-regions[i].Start, 1))
		out[i] = RegionCoverage{Region: regions[i], MeanDepth: float64(a.sum) / n, Covered20x: float64(a.at20) / n}
	}
	return out, nil
}
