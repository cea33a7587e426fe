package qc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

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
	br := bufio.NewReaderSize(r, 1<<20)
	var chrom []byte
	var cur []*acc
	lo, line := 0, 0
	var prev int64
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			line++
			f := bytes.Split(bytes.TrimRight(b, "\r\n"), []byte{'\t'})
			if len(f) < 3 {
				return nil, fmt.Errorf("%s:%d: want contig, position and depth separated by tabs", name, line)
			}
			pos, perr := strconv.ParseInt(string(f[1]), 10, 64)
			d, derr := strconv.ParseInt(string(f[2]), 10, 64)
			if perr != nil || derr != nil || pos < 1 || d < 0 {
				return nil, fmt.Errorf("%s:%d: bad position or depth", name, line)
			}
			if !bytes.Equal(f[0], chrom) {
				chrom = append(chrom[:0], f[0]...)
				cur, lo, prev = byChrom[string(chrom)], 0, 0
			} else if pos < prev {
				return nil, fmt.Errorf("%s:%d: positions out of order", name, line)
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
		}
		if err == io.EOF {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%s:%d: line too long", name, line+1)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	out := make([]RegionCoverage, len(regions))
	for i, a := range all {
		n := float64(max(regions[i].End-regions[i].Start, 1))
		out[i] = RegionCoverage{Region: regions[i], MeanDepth: float64(a.sum) / n, Covered20x: float64(a.at20) / n}
	}
	return out, nil
}
