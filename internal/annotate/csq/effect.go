package csq

import "math/bits"

// order lists the terms, most severe first (the Ensembl ranking).
var order = []string{
	"transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
	"frameshift_variant", "stop_lost", "start_lost", "inframe_insertion", "inframe_deletion",
	"missense_variant", "splice_region_variant", "incomplete_terminal_codon_variant",
	"start_retained_variant", "stop_retained_variant", "synonymous_variant",
	"coding_sequence_variant", "5_prime_UTR_variant", "3_prime_UTR_variant",
	"non_coding_transcript_exon_variant", "intron_variant", "NMD_transcript_variant",
	"feature_elongation", "feature_truncation",
	"upstream_gene_variant", "downstream_gene_variant", "intergenic_variant",
}

// A term is its index in order.
type term uint

// Terms, in the order of the order list.
const (
	tTranscriptAblation term = iota
	tSpliceAcceptor
	tSpliceDonor
	tStopGained
	tFrameshift
	tStopLost
	tStartLost
	tInframeInsertion
	tInframeDeletion
	tMissense
	tSpliceRegion
	tIncompleteTerminalCodon
	tStartRetained
	tStopRetained
	tSynonymous
	tCodingSequence
	t5PrimeUTR
	t3PrimeUTR
	tNonCodingExon
	tIntron
	tNMD
	tFeatureElongation
	tFeatureTruncation
	tUpstream
	tDownstream
	tIntergenic
	nTerms
)

func init() {
	if len(order) != int(nTerms) {
		panic("csq: term constants do not match the order list")
	}
}

// terms is a set of terms, one bit each in the order of severity.
type terms uint64

func (ts *terms) set(t term) { *ts |= 1 << t }

func (ts terms) has(t term) bool { return ts&(1<<t) != 0 }

// appendSorted appends the terms, most severe first.
func (ts terms) appendSorted(out []string) []string {
	for ts != 0 {
		i := bits.TrailingZeros64(uint64(ts))
		out = append(out, order[i])
		ts &^= 1 << uint(i)
	}
	return out
}

func overlaps(lo, hi, s, e int64) bool { return lo <= e && hi >= s }

// effect adds the consequence of al on one transcript to r, unless the
// variant is outside it and farther than the Annotator's flank from it
// (with a flank of 0: outside it).
func (a *Annotator) effect(r *Result, m *txMap, al *allele) {
	t := m.t
	lo, hi := al.span()
	var ts terms
	ins := al.ins()
	inside := overlaps(lo, hi, t.Start, t.End)
	if ins {
		inside = lo >= t.Start && hi <= t.End
	}
	if !inside {
		if a.flank == 0 {
			return // only the transcripts the variant overlaps
		}
		var d int64
		if hi < t.Start || (ins && hi <= t.Start) {
			d = t.Start - hi
		} else {
			d = lo - t.End
		}
		if ins {
			d++
		}
		if d > a.flank {
			return
		}
		e := r.newEffect(t)
		e.Distance = d
		if (hi <= t.Start) == (t.Strand > 0) {
			ts.set(tUpstream)
		} else {
			ts.set(tDownstream)
		}
		e.Terms = ts.appendSorted(e.Terms)
		return
	}
	ei := len(r.Effects)
	r.newEffect(t)
	s := r.s

	// Exons, introns and splice sites touched.
	n := len(t.Exons)
	exonic, intronic := false, false
	exonLo, exonHi, intronLo, intronHi := 0, 0, 0, 0 // lowest and highest numbers hit
	num := func(i int) int {                         // genomic index to transcription-order number (1-based)
		if t.Strand > 0 {
			return i + 1
		}
		return n - i
	}
	// Exons (and the introns after them) that end more than 3 bases
	// before the variant cannot be touched: start at the last of them
	// (exon 0 when none). Exons after gi, the first to end at or after
	// lo, start after lo; a few before it may start within 2 bases of it.
	gi := firstEndingAfter(t.Exons, lo)
	first := max(min(gi, n-1), 0)
	for first > 0 && t.Exons[first].Start+2 >= lo {
		first--
	}
	for i := first; i < n; i++ {
		x := t.Exons[i]
		if x.Start > hi+3 {
			break // this exon and the ones after it (and their introns) are out of reach
		}
		// An insertion between bases lo and hi belongs to the exon or
		// intron of hi (bcftools places it the same way).
		hitExon := overlaps(lo, hi, x.Start, x.End)
		if ins {
			hitExon = hi >= x.Start && hi <= x.End
		}
		if hitExon {
			k := num(i)
			if !exonic || k < exonLo {
				exonLo = k
			}
			if !exonic || k > exonHi {
				exonHi = k
			}
			exonic = true
		}
		if i+1 == n {
			continue
		}
		is, ie := x.End+1, t.Exons[i+1].Start-1 // intron
		if is > ie || !overlaps(lo, hi, is-3, ie+3) {
			continue
		}
		hitIntron := overlaps(lo, hi, is, ie)
		if ins {
			hitIntron = hi >= is && hi <= ie
		}
		if hitIntron {
			in := num(i)
			if t.Strand < 0 {
				in = n - 1 - i
			}
			if !intronic || in < intronLo {
				intronLo = in
			}
			if !intronic || in > intronHi {
				intronHi = in
			}
			intronic = true
		}
		// donor/acceptor: the two intron bases at each end.
		startSite, endSite := tSpliceDonor, tSpliceAcceptor
		if t.Strand < 0 {
			startSite, endSite = endSite, startSite
		}
		if ins {
			inStart, inEnd := lo == is && hi == is+1, lo == ie-1 && hi == ie
			if inStart {
				ts.set(startSite)
			}
			if inEnd {
				ts.set(endSite)
			}
			// Between an exon's last base and the donor: the donor
			// dinucleotide is pushed away from the exon.
			if (t.Strand > 0 && lo == is-1) || (t.Strand < 0 && hi == ie+1) {
				ts.set(tSpliceDonor)
			}
			touch := func(s, e int64) bool { return (lo >= s && lo <= e) || (hi >= s && hi <= e) }
			if !inStart && !inEnd && (touch(is-3, is-1) || touch(ie+1, ie+3) || touch(is+2, min(is+7, ie)) || touch(max(ie-7, is), ie-2)) {
				ts.set(tSpliceRegion)
			}
			if lo >= is+1 && hi <= ie-1 {
				ts.set(tIntron)
			}
			continue
		}
		site := false
		if overlaps(lo, hi, is, is+1) {
			ts.set(startSite)
			site = true
		}
		if overlaps(lo, hi, ie-1, ie) {
			ts.set(endSite)
			site = true
		}
		// splice region: 3 exon bases and intron bases 3 to 8, unless the
		// variant already reaches the donor or acceptor itself.
		if !site && (overlaps(lo, hi, is-3, is-1) || overlaps(lo, hi, ie+1, ie+3) ||
			overlaps(lo, hi, is+2, min(is+7, ie)) || overlaps(lo, hi, max(ie-7, is), ie-2)) {
			ts.set(tSpliceRegion)
		}
		if overlaps(lo, hi, is+2, ie-2) {
			ts.set(tIntron)
		}
	}
	if exonic {
		st := len(s.arena)
		s.arena = appendRange(s.arena, exonLo, exonHi, n)
		r.Effects[ei].Exon = s.view(st)
	}
	if intronic {
		st := len(s.arena)
		s.arena = appendRange(s.arena, intronLo, intronHi, n-1)
		r.Effects[ei].Intron = s.view(st)
	}

	if !ins && lo <= t.Start && hi >= t.End {
		// The whole transcript is deleted: transcript_ablation, alone
		// (as VEP); nothing of it is left to predict from, nor to name
		// in HGVS c.
		e := &r.Effects[ei]
		e.Terms = append(e.Terms, order[tTranscriptAblation])
		return
	}
	if al.symbolic && !ins {
		// A symbolic deletion: say what it truncates, with no sequence
		// to predict more from (bcftools does the same).
		ts.set(tFeatureTruncation)
	} else if exonic {
		if !m.coding() {
			ts.set(tNonCodingExon)
		} else {
			a.codingEffect(r, ei, m, al, &ts, intronic, gi)
		}
	}
	if al.symbolic && ins {
		ts.set(tFeatureElongation)
	}
	if m.nmd {
		ts.set(tNMD)
	}
	if ts == 0 {
		// An insertion at an exon-intron boundary outside the splice
		// region (a short intron): call it intronic.
		ts.set(tIntron)
	}
	if !al.symbolic && !a.omit.HGVSc {
		st := len(s.arena)
		s.arena = a.appendHGVSc(s, s.arena, m, al, gi)
		r.Effects[ei].HGVSc = s.view(st)
	}
	e := &r.Effects[ei]
	e.Terms = ts.appendSorted(e.Terms)
}

// appendRange appends "lo/total" or "lo-hi/total".
func appendRange(dst []byte, lo, hi, total int) []byte {
	dst = AppendInt(dst, int64(lo))
	if hi != lo {
		dst = AppendInt(append(dst, '-'), int64(hi))
	}
	return AppendInt(append(dst, '/'), int64(total))
}
