package csq

import (
	"sort"
	"strconv"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
)

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

var bit = map[string]uint{}

func init() {
	for i, t := range order {
		bit[t] = uint(i)
	}
}

// terms is a set of terms, one bit each in the order of severity.
type terms uint64

func (ts *terms) set(t string) {
	b, ok := bit[t]
	if !ok {
		panic("csq: unknown term " + t)
	}
	*ts |= 1 << b
}

func (ts terms) has(t string) bool { return ts&(1<<bit[t]) != 0 }

func (ts terms) sorted() []string {
	out := make([]string, 0, 4)
	for i, t := range order {
		if ts&(1<<uint(i)) != 0 {
			out = append(out, t)
		}
	}
	return out
}

func overlaps(lo, hi, s, e int64) bool { return lo <= e && hi >= s }

// effect computes the consequence of al on one transcript; false when the
// variant is farther than genemodel.Flank from it.
func (a *Annotator) effect(m *txMap, al *allele) (Effect, bool) {
	t := m.t
	lo, hi := al.span()
	e := Effect{Transcript: t}
	var ts terms
	ins := al.ins()
	inside := overlaps(lo, hi, t.Start, t.End)
	if ins {
		inside = lo >= t.Start && hi <= t.End
	}
	if !inside {
		var d int64
		if hi < t.Start || (ins && hi <= t.Start) {
			d = t.Start - hi
		} else {
			d = lo - t.End
		}
		if ins {
			d++
		}
		if d > genemodel.Flank {
			return e, false
		}
		e.Distance = d
		if (hi <= t.Start) == (t.Strand > 0) {
			ts.set("upstream_gene_variant")
		} else {
			ts.set("downstream_gene_variant")
		}
		e.Terms = ts.sorted()
		return e, true
	}

	// Exons, introns and splice sites touched.
	n := len(t.Exons)
	exonic, intronic := false, false
	var exonNums, intronNums []int
	num := func(i int) int { // genomic index to transcription-order number (1-based)
		if t.Strand > 0 {
			return i + 1
		}
		return n - i
	}
	for i, x := range t.Exons {
		// An insertion between bases lo and hi belongs to the exon or
		// intron of hi (bcftools places it the same way).
		hitExon := overlaps(lo, hi, x.Start, x.End)
		if ins {
			hitExon = hi >= x.Start && hi <= x.End
		}
		if hitExon {
			exonic = true
			exonNums = append(exonNums, num(i))
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
			intronNums = append(intronNums, in)
			intronic = true
		}
		// donor/acceptor: the two intron bases at each end.
		startSite, endSite := "splice_donor_variant", "splice_acceptor_variant"
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
				ts.set("splice_donor_variant")
			}
			touch := func(s, e int64) bool { return (lo >= s && lo <= e) || (hi >= s && hi <= e) }
			if !inStart && !inEnd && (touch(is-3, is-1) || touch(ie+1, ie+3) || touch(is+2, min(is+7, ie)) || touch(max(ie-7, is), ie-2)) {
				ts.set("splice_region_variant")
			}
			if lo >= is+1 && hi <= ie-1 {
				ts.set("intron_variant")
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
			ts.set("splice_region_variant")
		}
		if overlaps(lo, hi, is+2, ie-2) {
			ts.set("intron_variant")
		}
	}
	if len(exonNums) > 0 {
		e.Exon = rangeNum(exonNums, n)
	}
	if len(intronNums) > 0 {
		e.Intron = rangeNum(intronNums, n-1)
	}

	if al.symbolic && !ins {
		// A symbolic deletion: say what it truncates, with no sequence
		// to predict more from (bcftools does the same).
		ts.set("feature_truncation")
	} else if exonic {
		if !m.coding() {
			ts.set("non_coding_transcript_exon_variant")
		} else {
			a.codingEffect(m, al, &e, &ts, intronic)
		}
	}
	if al.symbolic && ins {
		ts.set("feature_elongation")
	}
	if t.Biotype == "nonsense_mediated_decay" {
		ts.set("NMD_transcript_variant")
	}
	if ts == 0 {
		// An insertion at an exon-intron boundary outside the splice
		// region (a short intron): call it intronic.
		ts.set("intron_variant")
	}
	if !al.symbolic {
		e.HGVSc = a.hgvsC(m, al)
	}
	e.Terms = ts.sorted()
	return e, true
}

func rangeNum(nums []int, total int) string {
	sort.Ints(nums)
	s := strconv.Itoa(nums[0])
	if last := nums[len(nums)-1]; last != nums[0] {
		s += "-" + strconv.Itoa(last)
	}
	return s + "/" + strconv.Itoa(total)
}
