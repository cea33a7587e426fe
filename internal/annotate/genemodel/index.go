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
	return m.AppendOverlapping(nil, chrom, start, end)
}

// AppendOverlapping appends what Overlapping returns to dst; with a dst
// of enough capacity it does not allocate.
func (m *Model) AppendOverlapping(dst []*Transcript, chrom string, start, end int64) []*Transcript {
	ci := m.index[chrom]
	if ci == nil || end < start {
		return dst
	}
	lo, hi := max(start, 0)>>binShift, min(end>>binShift, int64(len(ci.bins))-1)
	for b := lo; b <= hi; b++ {
		for _, t := range ci.bins[b] {
			if t.Start-Flank > end || t.End+Flank < start {
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
