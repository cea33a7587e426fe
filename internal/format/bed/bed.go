// Package bed reads BED interval files (0-based, half-open), as used for
// capture targets, confident regions and scatter regions.
package bed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/clinomics/clinomics/internal/format"
)

// Interval is one BED line: [Start, End) on Chrom.
type Interval struct {
	Chrom      string
	Start, End int64
	Name       string // fourth column, if present
	Line       int    // line in the source file; 0 if made in code
}

// Reader reads intervals, skipping blank, '#', "track" and "browser" lines.
type Reader struct {
	s    *bufio.Scanner
	file string
	line int
}

// NewReader reads BED from r; file names the input in errors.
func NewReader(r io.Reader, file string) *Reader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	return &Reader{s: s, file: file}
}

func (r *Reader) errf(format string, a ...any) error {
	return fmt.Errorf("%s: line %d: %s", r.file, r.line, fmt.Sprintf(format, a...))
}

// Next returns the next interval or io.EOF.
func (r *Reader) Next() (Interval, error) {
	for r.s.Scan() {
		r.line++
		b := bytes.TrimRight(r.s.Bytes(), "\r")
		if len(bytes.TrimSpace(b)) == 0 || b[0] == '#' || bytes.HasPrefix(b, []byte("track")) || bytes.HasPrefix(b, []byte("browser")) {
			continue
		}
		f := bytes.Split(b, []byte{'\t'})
		if len(f) < 3 {
			f = bytes.Fields(b)
		}
		if len(f) < 3 {
			return Interval{}, r.errf("need at least 3 columns (chrom, start, end), found %d", len(f))
		}
		start, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil || start < 0 {
			return Interval{}, r.errf("start %q is not a non-negative integer", f[1])
		}
		end, err := strconv.ParseInt(string(f[2]), 10, 64)
		if err != nil || end < 0 {
			return Interval{}, r.errf("end %q is not a non-negative integer", f[2])
		}
		if end < start {
			return Interval{}, r.errf("end %d is before start %d", end, start)
		}
		if len(f[0]) == 0 {
			return Interval{}, r.errf("empty chromosome name")
		}
		iv := Interval{Chrom: string(f[0]), Start: start, End: end, Line: r.line}
		if len(f) > 3 {
			iv.Name = string(f[3])
		}
		return iv, nil
	}
	if err := r.s.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			r.line++
			return Interval{}, r.errf("line longer than 1 MiB")
		}
		return Interval{}, fmt.Errorf("%s: %w", r.file, err)
	}
	return Interval{}, io.EOF
}

// ReadFile reads every interval of a (optionally compressed) BED file. A
// file without intervals is an error.
func ReadFile(path string) ([]Interval, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("BED %w", err)
	}
	defer f.Close()
	r := NewReader(f, path)
	var out []Interval
	for {
		iv, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, iv)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no intervals in BED file", path)
	}
	return out, nil
}

// Merge sorts intervals by chromosome (first-seen order) and start, and
// joins overlapping or touching ones. Empty intervals are dropped.
func Merge(ivs []Interval) []Interval {
	order := map[string]int{}
	var s []Interval
	for _, iv := range ivs {
		if _, ok := order[iv.Chrom]; !ok {
			order[iv.Chrom] = len(order)
		}
		if iv.End > iv.Start {
			s = append(s, Interval{Chrom: iv.Chrom, Start: iv.Start, End: iv.End})
		}
	}
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Chrom != s[j].Chrom {
			return order[s[i].Chrom] < order[s[j].Chrom]
		}
		return s[i].Start < s[j].Start
	})
	var out []Interval
	for _, iv := range s {
		if n := len(out); n > 0 && out[n-1].Chrom == iv.Chrom && iv.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, iv.End)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// TotalLength is the number of bases covered (after merging).
func TotalLength(ivs []Interval) int64 {
	var n int64
	for _, iv := range Merge(ivs) {
		n += iv.End - iv.Start
	}
	return n
}

// CheckContigs verifies each interval lies on a known contig and within its
// length; errors name the file, line and contig.
func CheckContigs(ivs []Interval, lengths map[string]int64, file string) error {
	var errs []error
	for _, iv := range ivs {
		n, ok := lengths[iv.Chrom]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: line %d: contig %q is not in the reference", file, iv.Line, iv.Chrom))
		case iv.End > n:
			errs = append(errs, fmt.Errorf("%s: line %d: end %d is beyond the end of %s (%d bases)", file, iv.Line, iv.End, iv.Chrom, n))
		}
		if len(errs) == 5 {
			errs = append(errs, errors.New("(further errors not shown)"))
			break
		}
	}
	return errors.Join(errs...)
}
