// Package qc computes a sample's quality metrics from what the germline
// pipeline produced: samtools stats, samtools markdup statistics, a
// per-base depth stream and the final VCF.
package qc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/clinomics/clinomics/internal/format/vcf"
)

// Report is the QC of one sample. Rates are fractions in [0, 1].
type Report struct {
	Sample          string   `json:"sample"`
	Reads           int64    `json:"reads"`
	MappedReads     int64    `json:"mapped_reads"`
	MappingRate     float64  `json:"mapping_rate"`
	DuplicateReads  int64    `json:"duplicate_reads"`
	DuplicateRate   float64  `json:"duplicate_rate"`
	MeanCoverage    float64  `json:"mean_coverage"`
	CoverageSpace   string   `json:"coverage_space"`             // "targets" or "reference (non-N)"
	SpaceBases      int64    `json:"space_bases"`                // bases coverage is measured over
	PctTarget20x    *float64 `json:"pct_target_20x,omitempty"`   // only with targets
	SNVs            int      `json:"snvs"`                       // PASS SNVs in the VCF
	Indels          int      `json:"indels"`                     // PASS indels
	Transitions     int      `json:"transitions"`                //
	Transversions   int      `json:"transversions"`              //
	TiTv            *float64 `json:"ti_tv,omitempty"`            // nil when no transversion
	Het             int      `json:"het"`                        // heterozygous PASS variant genotypes
	HomAlt          int      `json:"hom_alt"`                    // homozygous alternate
	HetHomRatio     *float64 `json:"het_hom_ratio,omitempty"`    // nil when no hom-alt
	GenotypedSample string   `json:"genotyped_sample,omitempty"` // VCF sample column used
}

// ParseSamtoolsStats reads the SN section of `samtools stats` output.
func ParseSamtoolsStats(r io.Reader, name string, rep *Report) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line, seen := 0, 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 || f[0] != "SN" {
			continue
		}
		var dst *int64
		switch strings.TrimSuffix(f[1], ":") {
		case "raw total sequences":
			dst = &rep.Reads
		case "reads mapped":
			dst = &rep.MappedReads
		case "reads duplicated":
			dst = &rep.DuplicateReads
		default:
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("%s:%d: bad count %q for %q", name, line, f[2], f[1])
		}
		*dst = v
		seen++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if seen < 3 {
		return fmt.Errorf("%s: not samtools stats output (no SN lines for total, mapped and duplicated reads)", name)
	}
	rep.MappingRate = ratio(rep.MappedReads, rep.Reads)
	rep.DuplicateRate = ratio(rep.DuplicateReads, rep.MappedReads)
	return nil
}

// ReadDepth consumes `samtools depth -a` output (contig, 1-based position,
// depth) and sets the mean coverage and, when targets is true, the
// fraction of target bases at 20x or more.
func ReadDepth(r io.Reader, name string, targets bool, rep *Report) error {
	var bases, sum, at20 int64
	err := scanDepth(r, name, func(_ []byte, _, d int64) error {
		bases++
		sum += d
		if d >= 20 {
			at20++
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.SpaceBases = bases
	rep.MeanCoverage = float64(sum) / float64(max(bases, 1))
	rep.CoverageSpace = "reference (non-N)"
	if targets {
		rep.CoverageSpace = "targets"
		pct := 100 * float64(at20) / float64(max(bases, 1))
		rep.PctTarget20x = &pct
	}
	return nil
}

// scanDepth reads `samtools depth` output, one base per line (contig,
// 1-based position, depth, tab-separated), calling fn for each; an error
// names the input and the line. It allocates nothing per line: the input
// has a line for every base covered.
func scanDepth(r io.Reader, name string, fn func(chrom []byte, pos, depth int64) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	line := 0
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			line++
			b = bytes.TrimRight(b, "\r\n")
			i := bytes.IndexByte(b, '\t')
			j := bytes.LastIndexByte(b, '\t')
			if i < 0 || j <= i {
				return fmt.Errorf("%s:%d: want contig, position and depth separated by tabs", name, line)
			}
			pos, ok := parseCount(b[i+1 : j])
			if !ok || pos < 1 {
				return fmt.Errorf("%s:%d: bad position", name, line)
			}
			d, ok := parseCount(b[j+1:])
			if !ok {
				return fmt.Errorf("%s:%d: bad depth %q", name, line, b[j+1:])
			}
			if ferr := fn(b[:i], pos, d); ferr != nil {
				return fmt.Errorf("%s:%d: %w", name, line, ferr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%s:%d: line too long", name, line+1)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

// parseCount reads a non-negative decimal that fits an int64.
func parseCount(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// ReadVCF counts PASS SNVs and indels, transitions and transversions, and
// heterozygous and homozygous-alternate genotypes of the first sample.
func ReadVCF(r io.Reader, name string, rep *Report) error {
	vr, err := vcf.NewReader(r, name)
	if err != nil {
		return err
	}
	if h := vr.Header(); len(h.Samples) > 0 {
		rep.GenotypedSample = h.Samples[0]
	}
	for {
		rec, err := vr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !rec.IsPass() {
			continue
		}
		for _, alt := range rec.Alt {
			switch {
			case alt == "*" || strings.HasPrefix(alt, "<"):
				continue
			case len(rec.Ref) == 1 && len(alt) == 1:
				rep.SNVs++
				if transition(rec.Ref[0], alt[0]) {
					rep.Transitions++
				} else {
					rep.Transversions++
				}
			case len(rec.Ref) != len(alt):
				rep.Indels++
			}
		}
		if gt, _, ok := rec.Genotype(0); ok && len(gt) == 2 && gt[0] >= 0 && gt[1] >= 0 {
			switch {
			case gt[0] != gt[1]:
				rep.Het++
			case gt[0] > 0:
				rep.HomAlt++
			}
		}
	}
	if rep.Transversions > 0 {
		v := float64(rep.Transitions) / float64(rep.Transversions)
		rep.TiTv = &v
	}
	if rep.HomAlt > 0 {
		v := float64(rep.Het) / float64(rep.HomAlt)
		rep.HetHomRatio = &v
	}
	return nil
}

func transition(a, b byte) bool {
	p := func(c byte) bool { return c == 'A' || c == 'G' || c == 'a' || c == 'g' }
	return p(a) == p(b)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// JSON renders the report.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	return append(b, '\n'), err
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	opt := func(p *float64, format string) string {
		if p == nil {
			return "n/a"
		}
		return fmt.Sprintf(format, *p)
	}
	fmt.Fprintf(tw, "sample\t%s\n", r.Sample)
	fmt.Fprintf(tw, "reads\t%d\n", r.Reads)
	fmt.Fprintf(tw, "mapping rate\t%.2f%%\n", 100*r.MappingRate)
	fmt.Fprintf(tw, "duplicate rate\t%.2f%%\n", 100*r.DuplicateRate)
	fmt.Fprintf(tw, "mean coverage\t%.1fx over %d bases of %s\n", r.MeanCoverage, r.SpaceBases, r.CoverageSpace)
	fmt.Fprintf(tw, "target at >=20x\t%s\n", opt(r.PctTarget20x, "%.2f%%"))
	fmt.Fprintf(tw, "SNVs / indels (PASS)\t%d / %d\n", r.SNVs, r.Indels)
	fmt.Fprintf(tw, "Ti/Tv\t%s\n", opt(r.TiTv, "%.2f"))
	fmt.Fprintf(tw, "het/hom\t%s\n", opt(r.HetHomRatio, "%.2f"))
	return tw.Flush()
}
