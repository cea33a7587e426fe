package genemodel

import "sort"

const binShift = 16 // 64 kb bins

// chromIndex finds transcripts by position: each transcript, widened by
// Flank on both sides, is listed in every bin it touches. bins is dense,
// indexed by bin number (a human chromosome has a few thousand).
type chromIndex struct {
	bins [][]*Transcript
}

// buildIndex indexes ts and numbers each transcript by its position in
// ts (Transcript.Index).
func buildIndex(ts []*Transcript) map[string]*chromIndex {
	idx := map[string]*chromIndex{}
	for i, t := range ts {
		t.index = i
		ci := idx[t.Chrom]
		if ci == nil {
			ci = &chromIndex{}
			idx[t.Chrom] = ci
		}
		lo, hi := max(t.Start-Flank, 1)>>binShift, (t.End+Flank)>>binShift
		if need := int(hi) + 1; need > len(ci.bins) {
			ci.bins = append(ci.bins, make([][]*Transcript, need-len(ci.bins))...)
		}
		for b := lo; b <= hi; b++ {
			ci.bins[b] = append(ci.bins[b], t)
		}
	}
	for _, ci := range idx {
		for _, l := range ci.bins {
			sort.SliceStable(l, func(i, j int) bool { return l[i].Start < l[j].Start })
		}
	}
	return idx
}

// Overlapping returns the transcripts on chrom whose span widened by
// Flank overlaps [start, end] (1-based, inclusive), in order of start.
func (m *Model) Overlapping(chrom string, start, end int64) []*Transcript {
	return m.AppendWithin(nil, chrom, start, end, Flank)
}

// AppendOverlapping appends what Overlapping returns to dst; with a dst
// of enough capacity it does not allocate.
func (m *Model) AppendOverlapping(dst []*Transcript, chrom string, start, end int64) []*Transcript {
	return m.AppendWithin(dst, chrom, start, end, Flank)
}

// AppendWithin appends to dst the transcripts on chrom whose span
// widened by flank on both sides overlaps [start, end] (1-based,
// inclusive), in order of start. A flank of 0
// gives the transcripts [start, end] overlaps; a negative flank is 0.
// With a dst of enough capacity it does not allocate.
func (m *Model) AppendWithin(dst []*Transcript, chrom string, start, end, flank int64) []*Transcript {
	ci := m.index[chrom]
	if ci == nil || end < start {
		return dst
	}
	flank = max(flank, 0)
	// The bins list each transcript widened by Flank; for a wider flank
	// the query range is widened by the difference instead.
	qs, qe := start, end
	if flank > Flank {
		qs, qe = start-(flank-Flank), end+(flank-Flank)
	}
	lo, hi := max(qs, 0)>>binShift, min(qe>>binShift, int64(len(ci.bins))-1)
	for b := lo; b <= hi; b++ {
		for _, t := range ci.bins[b] {
			if t.Start-flank > end {
				break // a bin is in order of start: so are the rest
			}
			if t.End+flank < start {
				continue
			}
			// A transcript listed in several bins is reported once: from
			// the first bin of the query it is listed in.
			if b != max(max(t.Start-Flank, 1)>>binShift, lo) {
				continue
			}
			dst = append(dst, t)
		}
	}
	return dst
}
