package known

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clinomics/clinomics/internal/format/bed"
)

// UserVCF is a site's own VCF indexed by allele: the chosen INFO keys,
// each reported as <name>_<key>.
type UserVCF struct {
	name   string
	fields []string
	ix     *Index
	types  fieldTypes
}

// NewUserVCF indexes the INFO keys of a VCF stream under the source name
// name; file names it in errors and ref, when not nil, left-aligns indels.
// A key neither declared in the header nor found in any record is an
// error (ErrNoKey; most likely a typo).
func NewUserVCF(name string, keys []string, r io.Reader, file string, ref Reference) (*UserVCF, error) {
	if name == "" || len(keys) == 0 {
		return nil, fmt.Errorf("user VCF source %q: a name and at least one INFO key are needed", name)
	}
	fields := make([]string, len(keys))
	for i, k := range keys {
		fields[i] = name + "_" + k
	}
	keys = slices.Clone(keys)
	types := fieldTypes{}
	seen := make([]bool, len(keys))
	first := true
	extract := func(a *Allele) ([]string, bool, error) {
		if first {
			first = false
			for i, k := range keys {
				// A number per allele keeps its declared type.
				if d, ok := a.Header.Info[k]; ok && (d.Number == "A" || d.Number == "R" || d.Number == "1") {
					types[fields[i]] = d.Type
				}
			}
		}
		out := make([]string, len(keys))
		any := false
		for i, k := range keys {
			if _, ok := a.Info[k]; ok {
				seen[i] = true
			}
			v, ok, err := a.Value(k)
			if err != nil {
				return nil, false, err
			}
			if ok && v == "" { // a flag
				v = "1"
			}
			out[i], any = v, any || ok
		}
		if any {
			types.see(fields, out)
		}
		return out, any, nil
	}
	ix, h, err := indexVCF(r, file, fields, extract, ref)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if _, declared := h.Info[k]; !declared && !seen[i] {
			return nil, fmt.Errorf("%s: %w: %s (neither declared by an ##INFO line nor in any record)", file, ErrNoKey, k)
		}
	}
	return &UserVCF{name: name, fields: fields, ix: ix, types: types}, nil
}

// FieldType is the VCF Type of a field: the type the file declares for
// its key when that is Integer or Float with one value per allele (Number
// A, R or 1) and every value indexed parses as one; String otherwise.
func (u *UserVCF) FieldType(field string) string { return u.types.fieldType(field) }

// Name is the name the source was given.
func (u *UserVCF) Name() string { return u.name }

// Fields are <name>_<key> for each chosen INFO key (a flag's value is
// "1").
func (u *UserVCF) Fields() []string { return slices.Clone(u.fields) }

// Lookup returns the chosen INFO values of the allele, nil when the file
// does not have it or has none of the keys for it.
func (u *UserVCF) Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error) {
	row, err := u.ix.Get(chrom, pos, ref, alt)
	if row == nil || err != nil {
		return nil, err
	}
	return fields(u.fields, row), nil
}

// UserBED reports, for a variant overlapping intervals of a BED file, the
// intervals' names.
type UserBED struct {
	name   string
	chroms map[string][]bedEntry
}

type bedEntry struct {
	start, end int64
	maxEnd     int64 // the highest end of this and every earlier entry
	name       string
}

// NewUserBED indexes intervals under the source name name. An interval
// without a name column is reported as "chrom:start-end" (1-based,
// inclusive).
func NewUserBED(name string, ivs []bed.Interval) (*UserBED, error) {
	if name == "" {
		return nil, fmt.Errorf("user BED source: a name is needed")
	}
	u := &UserBED{name: name, chroms: map[string][]bedEntry{}}
	for _, iv := range ivs {
		n := iv.Name
		if n == "" || n == "." {
			n = fmt.Sprintf("%s:%d-%d", iv.Chrom, iv.Start+1, iv.End)
		}
		c := CanonicalChrom(iv.Chrom)
		u.chroms[c] = append(u.chroms[c], bedEntry{start: iv.Start, end: iv.End, name: strings.Clone(n)})
	}
	for c, es := range u.chroms {
		slices.SortStableFunc(es, func(a, b bedEntry) int { return cmp.Compare(a.start, b.start) })
		var m int64
		for i := range es {
			m = max(m, es[i].end)
			es[i].maxEnd = m
		}
		u.chroms[c] = es
	}
	return u, nil
}

// LoadUserBED reads a (plain or compressed) BED file into a source.
func LoadUserBED(name, path string) (*UserBED, error) {
	ivs, err := bed.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return NewUserBED(name, ivs)
}

// Name is the name the source was given.
func (u *UserBED) Name() string { return u.name }

// Fields is the source name alone.
func (u *UserBED) Fields() []string { return []string{u.name} }

// Lookup returns the names of the intervals the variant's REF span
// overlaps (the anchor base for an insertion), distinct, joined by ',' in
// start order; nil when it overlaps none.
func (u *UserBED) Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error) {
	es := u.chroms[CanonicalChrom(chrom)]
	start := pos - 1
	end := start + int64(max(len(ref), 1))
	// Entries at or past i start at or after end and cannot overlap.
	i, _ := slices.BinarySearchFunc(es, end, func(e bedEntry, t int64) int { return cmp.Compare(e.start, t) })
	var names []string
	for j := i - 1; j >= 0 && es[j].maxEnd > start; j-- {
		if es[j].end > start && !slices.Contains(names, es[j].name) {
			names = append(names, es[j].name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Reverse(names)
	return map[string]string{u.name: strings.Join(names, ",")}, nil
}
