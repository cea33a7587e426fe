// Package contig knows the names one chromosome goes by in different
// files: UCSC writes "chr1" and "chrM", Ensembl and NCBI "1" and "MT".
// A VCF, a gene model and a FASTA from different sources can each use
// either; Resolve finds the name a file uses for a contig of another.
package contig

import "strings"

// Canonical is the name without a "chr" prefix (any case), with "M"
// written "MT" and x, y upper-cased: "chr1" and "1" are both "1";
// "chrM", "chrMT" and "MT" are "MT". Names are keyed by it where they
// are compared across files.
func Canonical(c string) string {
	if len(c) > 3 && strings.EqualFold(c[:3], "chr") {
		c = c[3:]
	}
	switch c {
	case "M", "m", "mt", "Mt":
		return "MT"
	case "x":
		return "X"
	case "y":
		return "Y"
	}
	return c
}

// Aliases lists the names a file may use for contig c, c itself first:
// c, Canonical(c), "chr" and Canonical(c), and for the mitochondrion
// also "chrM" and "M"; each once.
func Aliases(c string) []string {
	canon := Canonical(c)
	out := []string{c}
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	add(canon)
	add("chr" + canon)
	if canon == "MT" {
		add("chrM")
		add("M")
	}
	return out
}

// Resolve returns the name under which has knows contig c: c itself
// when has(c), else the first of its Aliases that has reports; c and
// false when there is none.
func Resolve(c string, has func(string) bool) (string, bool) {
	if has(c) {
		return c, true
	}
	for _, a := range Aliases(c)[1:] {
		if has(a) {
			return a, true
		}
	}
	return c, false
}
