package genemodel

import "sort"

const binShift = 16 // 64 kb bins

// chromIndex finds transcripts by position: each transcript, widened by
// Flank on both sides, is listed in every bin it touches.
type chromIndex struct {
	bins map[int64][]*Transcript
}

func buildIndex(ts []*Transcript) map[string]*chromIndex {
	idx := map[string]*chromIndex{}
	for _, t := range ts {
		ci := idx[t.Chrom]
		if ci == nil {
			ci = &chromIndex{bins: map[int64][]*Transcript{}}
			idx[t.Chrom] = ci
		}
		lo, hi := max(t.Start-Flank, 1)>>binShift, (t.End+Flank)>>binShift
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
	ci := m.index[chrom]
	if ci == nil {
		return nil
	}
	var out []*Transcript
	lo, hi := start>>binShift, end>>binShift
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
			out = append(out, t)
		}
	}
	return out
}
