// Package evaluate compares a call set with a truth set the way
// benchmarking tools do: both are normalised (multiallelic records split,
// alleles trimmed and, given the reference, indels left-aligned) and then
// matched on contig, position, REF and ALT, inside the confident regions.
package evaluate

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/bed"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

// Class is a variant type reported separately.
type Class string

const (
	SNV   Class = "SNV"
	Indel Class = "indel"
	Other Class = "other" // MNPs and complex substitutions
)

// Variant is one normalised allele.
type Variant struct {
	Chrom    string
	Pos      int64 // 1-based
	Ref, Alt string
}

func (v Variant) class() Class {
	switch {
	case len(v.Ref) == 1 && len(v.Alt) == 1:
		return SNV
	case len(v.Ref) != len(v.Alt):
		return Indel
	}
	return Other
}

// Counts is the comparison for one class.
type Counts struct {
	TP, FP, FN int
}

// Precision is TP / (TP + FP); 0 when nothing was called.
func (c Counts) Precision() float64 { return frac(c.TP, c.TP+c.FP) }

// Recall is TP / (TP + FN); 0 when the truth is empty.
func (c Counts) Recall() float64 { return frac(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Counts) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func frac(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Result is the whole comparison.
type Result struct {
	ByClass map[Class]*Counts
	FP, FN  []Variant // the unmatched variants, sorted
}

// Options are the inputs of a comparison.
type Options struct {
	Truth, Calls string            // VCF paths (plain or bgzip)
	Regions      []bed.Interval    // confident regions; nil = everywhere
	Reference    map[string][]byte // contig sequences for left-alignment; nil = trim only
	Sample       int               // sample column of each file whose genotypes count (0 = first)
}

// Compare runs the comparison.
func Compare(o Options) (*Result, error) {
	reg := newRegionIndex(o.Regions)
	truth, err := load(o.Truth, o, reg)
	if err != nil {
		return nil, err
	}
	calls, err := load(o.Calls, o, reg)
	if err != nil {
		return nil, err
	}
	res := &Result{ByClass: map[Class]*Counts{SNV: {}, Indel: {}, Other: {}}}
	for v := range calls {
		if truth[v] {
			res.ByClass[v.class()].TP++
		} else {
			res.ByClass[v.class()].FP++
			res.FP = append(res.FP, v)
		}
	}
	for v := range truth {
		if !calls[v] {
			res.ByClass[v.class()].FN++
			res.FN = append(res.FN, v)
		}
	}
	sortVariants(res.FP)
	sortVariants(res.FN)
	return res, nil
}

// load reads the alleles a file asserts: PASS records whose genotype (when
// the file has samples) carries the allele.
func load(path string, o Options, reg *regionIndex) (map[Variant]bool, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := vcf.NewReader(f, path)
	if err != nil {
		return nil, err
	}
	hasSamples := len(r.Header().Samples) > o.Sample
	out := map[Variant]bool{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !rec.IsPass() {
			continue
		}
		var gt []int
		if hasSamples {
			g, _, ok := rec.Genotype(o.Sample)
			if !ok {
				continue
			}
			gt = g
		}
		for i, alt := range rec.Alt {
			if alt == "*" || alt == "." || strings.HasPrefix(alt, "<") || strings.ContainsAny(alt, "[]") {
				continue
			}
			if hasSamples && !carries(gt, i+1) {
				continue
			}
			v, err := normalise(Variant{Chrom: rec.Chrom, Pos: rec.Pos, Ref: strings.ToUpper(rec.Ref), Alt: strings.ToUpper(alt)}, o.Reference)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, rec.Line, err)
			}
			if v.Ref == v.Alt || !reg.contains(v.Chrom, v.Pos) {
				continue
			}
			out[v] = true
		}
	}
}

func carries(gt []int, allele int) bool {
	for _, a := range gt {
		if a == allele {
			return true
		}
	}
	return false
}

// normalise trims shared bases and, given the reference, left-aligns the
// allele pair (the algorithm of Tan et al. 2015).
func normalise(v Variant, ref map[string][]byte) (Variant, error) {
	seq := ref[v.Chrom]
	if seq != nil {
		if end := v.Pos - 1 + int64(len(v.Ref)); end > int64(len(seq)) {
			return v, fmt.Errorf("%s:%d extends past the reference contig end", v.Chrom, v.Pos)
		}
		if got := string(bytes.ToUpper(seq[v.Pos-1 : v.Pos-1+int64(len(v.Ref))])); got != v.Ref && !strings.Contains(got, "N") {
			return v, fmt.Errorf("REF %s at %s:%d does not match the reference (%s)", v.Ref, v.Chrom, v.Pos, got)
		}
	}
	for {
		changed := false
		if len(v.Ref) > 0 && len(v.Alt) > 0 && v.Ref[len(v.Ref)-1] == v.Alt[len(v.Alt)-1] && (len(v.Ref) > 1 || len(v.Alt) > 1) {
			if seq == nil && (len(v.Ref) == 1 || len(v.Alt) == 1) {
				break // cannot extend left without the reference
			}
			v.Ref, v.Alt = v.Ref[:len(v.Ref)-1], v.Alt[:len(v.Alt)-1]
			changed = true
		}
		if (len(v.Ref) == 0 || len(v.Alt) == 0) && seq != nil && v.Pos > 1 {
			b := string(bytes.ToUpper(seq[v.Pos-2 : v.Pos-1]))
			v.Ref, v.Alt, v.Pos = b+v.Ref, b+v.Alt, v.Pos-1
			changed = true
		}
		if !changed {
			break
		}
	}
	for len(v.Ref) > 1 && len(v.Alt) > 1 && v.Ref[0] == v.Alt[0] {
		v.Ref, v.Alt, v.Pos = v.Ref[1:], v.Alt[1:], v.Pos+1
	}
	return v, nil
}

func sortVariants(vs []Variant) {
	sort.Slice(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		if a.Chrom != b.Chrom {
			return a.Chrom < b.Chrom
		}
		if a.Pos != b.Pos {
			return a.Pos < b.Pos
		}
		return a.Ref+">"+a.Alt < b.Ref+">"+b.Alt
	})
}

type regionIndex struct {
	all bool
	by  map[string][]bed.Interval // merged, sorted
}

func newRegionIndex(ivs []bed.Interval) *regionIndex {
	if ivs == nil {
		return &regionIndex{all: true}
	}
	ri := &regionIndex{by: map[string][]bed.Interval{}}
	for _, iv := range bed.Merge(ivs) {
		ri.by[iv.Chrom] = append(ri.by[iv.Chrom], iv)
	}
	return ri
}

// contains reports whether the 1-based position lies in a region.
func (ri *regionIndex) contains(chrom string, pos int64) bool {
	if ri.all {
		return true
	}
	ivs := ri.by[chrom]
	i := sort.Search(len(ivs), func(i int) bool { return ivs[i].End >= pos })
	return i < len(ivs) && ivs[i].Start < pos && pos <= ivs[i].End
}

// WriteTable prints the comparison.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "type\tTP\tFP\tFN\tprecision\trecall\tF1\t")
	for _, c := range []Class{SNV, Indel, Other} {
		n := r.ByClass[c]
		if c == Other && n.TP+n.FP+n.FN == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t\n", c, n.TP, n.FP, n.FN, n.Precision(), n.Recall(), n.F1())
	}
	return tw.Flush()
}

// JSON is the machine-readable form.
func (r *Result) JSON() map[string]any {
	out := map[string]any{}
	for c, n := range r.ByClass {
		out[string(c)] = map[string]any{"tp": n.TP, "fp": n.FP, "fn": n.FN,
			"precision": n.Precision(), "recall": n.Recall(), "f1": n.F1()}
	}
	list := func(vs []Variant) []string {
		s := make([]string, 0, len(vs))
		for _, v := range vs {
			s = append(s, fmt.Sprintf("%s:%d %s>%s", v.Chrom, v.Pos, v.Ref, v.Alt))
		}
		return s
	}
	out["false_positives"] = list(r.FP)
	out["false_negatives"] = list(r.FN)
	return out
}
