package known

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/vcf"
)

// Allele is one ALT of a VCF record, with the record's INFO parsed once.
type Allele struct {
	Header *vcf.Header
	Record *vcf.Record
	Alt    int               // index into Record.Alt
	Info   map[string]string // INFO key to raw value; a flag maps to ""
	File   string            // the input's name, for errors
}

// Value returns the INFO value of key for this allele: the allele's own
// element of a Number=A (or, past the REF element, Number=R) list, the
// whole value otherwise. A key the header does not declare is split per
// allele when the record has several ALTs and the value has exactly as
// many elements. A list of the wrong length is an error naming the file
// and line.
func (a *Allele) Value(key string) (string, bool, error) {
	v, ok := a.Info[key]
	if !ok {
		return "", false, nil
	}
	n := len(a.Record.Alt)
	def, declared := a.Header.Info[key]
	number := def.Number
	if !declared && n > 1 && strings.Count(v, ",") == n-1 {
		number = "A"
	}
	switch number {
	case "A", "R":
		want, i := n, a.Alt
		if number == "R" {
			want, i = n+1, a.Alt+1
		}
		parts := strings.Split(v, ",")
		if len(parts) != want {
			return "", false, &ParseError{File: a.File, Line: a.Record.Line, Err: fmt.Errorf("%w: INFO %s has %d values, Number=%s needs %d", ErrSyntax, key, len(parts), number, want)}
		}
		if parts[i] == "." {
			return "", false, nil
		}
		return parts[i], true, nil
	}
	return v, true, nil
}

// parseInfo splits an INFO column into keys and values.
func parseInfo(info string) map[string]string {
	m := map[string]string{}
	if info == "." || info == "" {
		return m
	}
	for kv := range strings.SplitSeq(info, ";") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// ExtractFunc returns the values (one per index column) an allele is
// indexed with; ok false leaves the allele out.
type ExtractFunc func(a *Allele) (values []string, ok bool, err error)

// IndexVCF reads a VCF stream and indexes each ALT of each record
// (multi-allelic records are split) with the values extract gives it.
// ALTs that are not bases ("*", symbolic alleles, breakends) are left
// out. file names the input in errors; ref, when not nil, left-aligns
// indels.
func IndexVCF(r io.Reader, file string, columns []string, extract ExtractFunc, ref Reference) (*Index, error) {
	ix, _, err := indexVCF(r, file, columns, extract, ref)
	return ix, err
}

// indexVCF is IndexVCF, also returning the VCF's header.
func indexVCF(r io.Reader, file string, columns []string, extract ExtractFunc, ref Reference) (*Index, *vcf.Header, error) {
	vr, err := vcf.NewReader(r, file)
	if err != nil {
		return nil, nil, err
	}
	b := NewIndexBuilder(columns, ref)
	a := &Allele{Header: vr.Header(), File: file}
	for {
		rec, err := vr.Next()
		if err == io.EOF {
			return b.Build(), vr.Header(), nil
		}
		if err != nil {
			return nil, nil, err
		}
		a.Record, a.Info = rec, nil
		for i, alt := range rec.Alt {
			if !plainBases(strings.ToUpper(alt)) {
				continue
			}
			if a.Info == nil {
				a.Info = parseInfo(rec.Info)
			}
			a.Alt = i
			vals, ok, err := extract(a)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
			if err := b.Add(rec.Chrom, rec.Pos, rec.Ref, alt, vals); err != nil {
				return nil, nil, &ParseError{File: file, Line: rec.Line, Err: err}
			}
		}
	}
}

// fieldTypes keeps the VCF Type of each field of a source: the type it
// is declared with, as long as every value seen parses as that type;
// String once one does not.
type fieldTypes map[string]string

// see checks the values of one allele, by field (parallel slices).
func (t fieldTypes) see(fields, vals []string) {
	for i, v := range vals {
		typ := t[fields[i]]
		if v == "" || typ == "String" || typ == "" {
			continue
		}
		if !numeric(typ, v) {
			t[fields[i]] = "String"
		}
	}
}

// numeric reports whether v is a value of VCF Type typ (Integer or
// Float).
func numeric(typ, v string) bool {
	switch typ {
	case "Integer":
		_, err := strconv.ParseInt(v, 10, 32)
		return err == nil
	case "Float":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return false
		}
		// Go takes "0x1p-2", "Inf" and "1_000"; VCF's Float is decimal
		// (with NaN and Inf spelled as VCF spells them).
		return strings.IndexFunc(v, func(c rune) bool {
			return !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
		}) < 0 || v == "NaN" || v == "Inf" || v == "-Inf"
	}
	return false
}

// fieldType is the VCF Type of field (String when not known).
func (t fieldTypes) fieldType(field string) string {
	if typ := t[field]; typ == "Integer" || typ == "Float" {
		return typ
	}
	return "String"
}

// indexVCFFile opens a plain or gzip-compressed VCF and indexes it.
func indexVCFFile(path string, columns []string, extract ExtractFunc, ref Reference) (*Index, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return IndexVCF(f, path, columns, extract, ref)
}
