package known

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// maxInterned bounds the distinct values one column of an index interns;
// past it, values are stored as they come (a column of unique ids gains
// nothing from a table).
const maxInterned = 1 << 14

// entry is one allele of one chromosome.
type entry struct {
	pos      int64
	ref, alt string
	row      int32 // index of the allele's values in Index.values / len(columns)
}

// IndexBuilder collects alleles with their values; Build sorts them into
// an Index. It is not safe for concurrent use.
type IndexBuilder struct {
	columns []string
	ref     Reference
	chroms  map[string][]entry
	values  []string
	interns []map[string]string
}

// NewIndexBuilder starts an index whose alleles carry one value per
// column; ref, when not nil, left-aligns indels.
func NewIndexBuilder(columns []string, ref Reference) *IndexBuilder {
	b := &IndexBuilder{
		columns: slices.Clone(columns),
		ref:     ref,
		chroms:  map[string][]entry{},
		interns: make([]map[string]string, len(columns)),
	}
	for i := range b.interns {
		b.interns[i] = map[string]string{}
	}
	return b
}

// Add records an allele (pos 1-based, alleles as in a VCF) with one value
// per column ("" for none). Values are copied, so they may be slices of a
// larger string.
func (b *IndexBuilder) Add(chrom string, pos int64, ref, alt string, values []string) error {
	if len(values) != len(b.columns) {
		return fmt.Errorf("index: %d values for %d columns", len(values), len(b.columns))
	}
	if len(b.values)/max(len(b.columns), 1) >= 1<<31-1 {
		return fmt.Errorf("index: %w: more than 2^31 alleles", ErrLimit)
	}
	pos, ref, alt, err := Normalize(chrom, pos, ref, alt, b.ref)
	if err != nil {
		return err
	}
	row := int32(len(b.values) / max(len(b.columns), 1))
	for i, v := range values {
		b.values = append(b.values, b.intern(i, v))
	}
	c := CanonicalChrom(chrom)
	b.chroms[c] = append(b.chroms[c], entry{pos: pos, ref: allele(ref), alt: allele(alt), row: row})
	return nil
}

func (b *IndexBuilder) intern(col int, v string) string {
	if v == "" {
		return ""
	}
	m := b.interns[col]
	if s, ok := m[v]; ok {
		return s
	}
	s := strings.Clone(v)
	if len(m) < maxInterned {
		m[s] = s
	}
	return s
}

// singleBases holds one shared string per one-base allele.
var singleBases = func() map[byte]string {
	m := map[byte]string{}
	for _, c := range "ACGTN*" {
		m[byte(c)] = string(c)
	}
	return m
}()

// allele copies an allele so the index does not pin the line it came from.
func allele(s string) string {
	if len(s) == 1 {
		if c, ok := singleBases[s[0]]; ok {
			return c
		}
	}
	return strings.Clone(s)
}

// Build sorts what was added into an Index; the builder must not be used
// afterwards.
func (b *IndexBuilder) Build() *Index {
	for c, es := range b.chroms {
		slices.SortStableFunc(es, func(x, y entry) int {
			return cmp.Or(cmp.Compare(x.pos, y.pos), strings.Compare(x.ref, y.ref), strings.Compare(x.alt, y.alt))
		})
		b.chroms[c] = slices.Clip(es)
	}
	ix := &Index{columns: b.columns, ref: b.ref, chroms: b.chroms, values: slices.Clip(b.values)}
	b.chroms, b.values, b.interns = nil, nil, nil
	return ix
}

// Index is a sorted, read-only set of alleles with their values. It is
// safe for concurrent use.
type Index struct {
	columns []string
	ref     Reference
	chroms  map[string][]entry
	values  []string
}

// Columns returns the names of the values each allele carries.
func (ix *Index) Columns() []string { return slices.Clone(ix.columns) }

// Len is the number of alleles indexed.
func (ix *Index) Len() int {
	n := 0
	for _, es := range ix.chroms {
		n += len(es)
	}
	return n
}

// Get returns the values of the allele (normalised as Add does), or nil
// when it is not indexed. When several records gave the same allele, the
// first added wins. The returned slice must not be modified.
func (ix *Index) Get(chrom string, pos int64, ref, alt string) ([]string, error) {
	es := ix.chroms[CanonicalChrom(chrom)]
	if len(es) == 0 {
		return nil, nil
	}
	pos, ref, alt, err := Normalize(chrom, pos, ref, alt, ix.ref)
	if err != nil {
		return nil, err
	}
	i, _ := slices.BinarySearchFunc(es, pos, func(e entry, p int64) int { return cmp.Compare(e.pos, p) })
	for ; i < len(es) && es[i].pos == pos; i++ {
		if es[i].ref == ref && es[i].alt == alt {
			return ix.row(es[i].row), nil
		}
	}
	return nil, nil
}

func (ix *Index) row(r int32) []string {
	n := len(ix.columns)
	return ix.values[int(r)*n : int(r)*n+n : int(r)*n+n]
}

// fields maps the values of a row to names, leaving out empty values; nil
// when every value is empty.
func fields(names, row []string) map[string]string {
	var m map[string]string
	for i, v := range row {
		if v == "" {
			continue
		}
		if m == nil {
			m = make(map[string]string, len(row))
		}
		m[names[i]] = v
	}
	return m
}

// All calls yield with every allele in chromosome (as CanonicalChrom
// names it, in sorted name order) and position order, with its values,
// until yield returns false.
func (ix *Index) All(yield func(chrom string, pos int64, ref, alt string, values []string) bool) {
	names := make([]string, 0, len(ix.chroms))
	for c := range ix.chroms {
		names = append(names, c)
	}
	slices.SortFunc(names, compareChrom)
	for _, c := range names {
		for _, e := range ix.chroms[c] {
			if !yield(c, e.pos, e.ref, e.alt, ix.row(e.row)) {
				return
			}
		}
	}
}

// compareChrom orders chromosome names 1..22, X, Y, MT, then others by
// name.
func compareChrom(a, b string) int {
	ra, rb := chromRank(CanonicalChrom(a)), chromRank(CanonicalChrom(b))
	return cmp.Or(cmp.Compare(ra, rb), strings.Compare(a, b))
}

func chromRank(c string) int {
	n := 0
	for i := 0; i < len(c); i++ {
		if c[i] < '0' || c[i] > '9' || n > 1000 {
			n = -1
			break
		}
		n = n*10 + int(c[i]-'0')
	}
	switch {
	case c != "" && n > 0:
		return n
	case c == "X":
		return 1001
	case c == "Y":
		return 1002
	case c == "MT":
		return 1003
	}
	return 2000
}
