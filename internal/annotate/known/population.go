package known

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// The INFO keys the population frequency source adds.
const (
	FieldPopAF      = "POP_AF"
	FieldPopAFMax   = "POP_AF_MAX"
	FieldPopAC      = "POP_AC"
	FieldPopAN      = "POP_AN"
	FieldPopNHomAlt = "POP_NHOMALT"
)

var populationColumns = []string{FieldPopAF, FieldPopAFMax, FieldPopAC, FieldPopAN, FieldPopNHomAlt}

// Population is a gnomAD-style VCF of allele frequencies indexed by
// allele. POP_AF is AF (or AC/AN when AF is absent), POP_AC, POP_AN and
// POP_NHOMALT are AC, AN and nhomalt, and POP_AF_MAX is the highest of the
// per-population AF_<pop> values (AF_afr, AF_nfe, ...; not the sex- or
// raw-specific ones such as AF_XX, AF_nfe_female or AF_raw) and of
// AF_popmax / AF_grpmax when present.
type Population struct {
	name  string
	ix    *Index
	types fieldTypes
}

// populationTypes are the VCF Types of the population fields: AC, AN and
// nhomalt are counts, AF a frequency.
var populationTypes = []string{"Float", "Float", "Integer", "Integer", "Integer"}

// NewPopulation indexes a population VCF stream under the source name
// name; file names it in errors and ref, when not nil, left-aligns indels.
func NewPopulation(name string, r io.Reader, file string, ref Reference) (*Population, error) {
	p := newPopulation(name)
	ix, err := IndexVCF(r, file, populationColumns, p.values, ref)
	if err != nil {
		return nil, err
	}
	p.ix = ix
	return p, nil
}

// LoadPopulation indexes a plain or gzip-compressed population VCF file.
func LoadPopulation(name, path string, ref Reference) (*Population, error) {
	p := newPopulation(name)
	ix, err := indexVCFFile(path, populationColumns, p.values, ref)
	if err != nil {
		return nil, err
	}
	p.ix = ix
	return p, nil
}

func newPopulation(name string) *Population {
	p := &Population{name: name, types: fieldTypes{}}
	for i, f := range populationColumns {
		p.types[f] = populationTypes[i]
	}
	return p
}

// values extracts an allele's values and checks them against the types.
func (p *Population) values(a *Allele) ([]string, bool, error) {
	vals, ok, err := populationValues(a)
	if ok && err == nil {
		p.types.see(populationColumns, vals)
	}
	return vals, ok, err
}

// FieldType is the VCF Type of a field: Float for POP_AF and POP_AF_MAX,
// Integer for POP_AC, POP_AN and POP_NHOMALT, unless a value in the file
// is not a number of that type (String then).
func (p *Population) FieldType(field string) string { return p.types.fieldType(field) }

// notPopulations are AF_<x> keys that are not a population's frequency.
var notPopulations = map[string]bool{"XX": true, "XY": true, "female": true, "male": true, "raw": true}

func populationValues(a *Allele) ([]string, bool, error) {
	out := make([]string, len(populationColumns))
	for i, key := range []string{"AF", "", "AC", "AN", "nhomalt"} {
		if key == "" {
			continue
		}
		v, _, err := a.Value(key)
		if err != nil {
			return nil, false, err
		}
		out[i] = v
	}
	if out[0] == "" && out[2] != "" && out[3] != "" {
		ac, err1 := strconv.ParseFloat(out[2], 64)
		an, err2 := strconv.ParseFloat(out[3], 64)
		if err1 == nil && err2 == nil && an > 0 {
			out[0] = strconv.FormatFloat(ac/an, 'g', 6, 64)
		}
	}
	best, bestText := -1.0, ""
	for k := range a.Info {
		pop, ok := strings.CutPrefix(k, "AF_")
		if !ok || notPopulations[pop] || strings.Contains(pop, "_") || pop == "" {
			continue
		}
		v, ok, err := a.Value(k)
		if err != nil {
			return nil, false, err
		}
		f, perr := strconv.ParseFloat(v, 64)
		if !ok || perr != nil {
			continue
		}
		if f > best {
			best, bestText = f, v
		}
	}
	out[1] = bestText
	for _, v := range out {
		if v != "" {
			return out, true, nil
		}
	}
	return nil, false, nil
}

// Name is the name the source was given.
func (p *Population) Name() string { return p.name }

// Fields are POP_AF, POP_AF_MAX, POP_AC, POP_AN and POP_NHOMALT.
func (p *Population) Fields() []string { return slices.Clone(populationColumns) }

// Len is the number of alleles indexed.
func (p *Population) Len() int { return p.ix.Len() }

// Lookup returns the frequencies of the allele, nil when the population
// file does not have it.
func (p *Population) Lookup(chrom string, pos int64, ref, alt string) (map[string]string, error) {
	row, err := p.ix.Get(chrom, pos, ref, alt)
	if row == nil || err != nil {
		return nil, err
	}
	return fields(populationColumns, row), nil
}
