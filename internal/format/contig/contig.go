// Package contig knows the names one chromosome goes by in different
// files: UCSC writes "chr1" and "chrM", Ensembl "1" and "MT", RefSeq
// (NCBI's GFF3) "NC_000001.11" and "NC_012920.1". A VCF, a gene model and
// a FASTA from different sources can each use any of them; Resolve finds
// the name a file uses for a contig of another.
package contig

import (
	"strconv"
	"strings"
)

// refSeqs are the RefSeq accessions of the primary assembly chromosomes,
// 1-22, X, Y, then MT (the same rCRS in both), by Assembly.
var refSeqs = map[string][]string{
	"grch38": {"NC_000001.11", "NC_000002.12", "NC_000003.12", "NC_000004.12", "NC_000005.10", "NC_000006.12", "NC_000007.14", "NC_000008.11",
		"NC_000009.12", "NC_000010.11", "NC_000011.10", "NC_000012.12", "NC_000013.11", "NC_000014.9", "NC_000015.10", "NC_000016.10",
		"NC_000017.11", "NC_000018.10", "NC_000019.10", "NC_000020.11", "NC_000021.9", "NC_000022.11", "NC_000023.11", "NC_000024.10", "NC_012920.1"},
	"grch37": {"NC_000001.10", "NC_000002.11", "NC_000003.11", "NC_000004.11", "NC_000005.9", "NC_000006.11", "NC_000007.13", "NC_000008.10",
		"NC_000009.11", "NC_000010.10", "NC_000011.9", "NC_000012.11", "NC_000013.10", "NC_000014.8", "NC_000015.9", "NC_000016.9",
		"NC_000017.10", "NC_000018.9", "NC_000019.9", "NC_000020.10", "NC_000021.8", "NC_000022.10", "NC_000023.10", "NC_000024.9", "NC_012920.1"},
}

// chromOfRefSeq is the chromosome of each accession of refSeqs.
var chromOfRefSeq = func() map[string]string {
	m := map[string]string{}
	for _, accs := range refSeqs {
		for i, a := range accs {
			m[a] = chromAt(i)
		}
	}
	return m
}()

// chromAt is the chromosome at index i of a refSeqs list.
func chromAt(i int) string {
	switch i {
	case 22:
		return "X"
	case 23:
		return "Y"
	case 24:
		return "MT"
	}
	return strconv.Itoa(i + 1)
}

// Assembly reduces "GRCh38 (GCA_000001405.15)", "hg38" and the like to
// "grch37" or "grch38"; "" when it is neither.
func Assembly(s string) string {
	s = strings.ToLower(s)
	switch {
	case strings.Contains(s, "grch38"), strings.Contains(s, "hg38"):
		return "grch38"
	case strings.Contains(s, "grch37"), strings.Contains(s, "hg19"):
		return "grch37"
	}
	return ""
}

// RefSeq is the RefSeq accession of chromosome c (any of its names) in
// an assembly (any name Assembly knows), "" when either is unknown.
func RefSeq(assembly, c string) string {
	accs := refSeqs[Assembly(assembly)]
	if accs == nil {
		return ""
	}
	canon := Canonical(c)
	for i := range accs {
		if chromAt(i) == canon {
			return accs[i]
		}
	}
	return ""
}

// Canonical is the name without a "chr" prefix (any case), with "M"
// written "MT" and x, y upper-cased, and a GRCh37 or GRCh38 RefSeq
// accession written as its chromosome: "chr1", "1" and "NC_000001.11"
// are all "1"; "chrM", "chrMT", "MT" and "NC_012920.1" are "MT". Names
// are keyed by it where they are compared across files.
func Canonical(c string) string {
	if chrom, ok := chromOfRefSeq[c]; ok {
		return chrom
	}
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
// c, Canonical(c), "chr" and Canonical(c), for the mitochondrion also
// "chrM" and "M", then the chromosome's GRCh38 and GRCh37 RefSeq
// accessions; each once. A RefSeq accession names one build: its
// aliases leave out the other build's accession (NC_000001.11 is not
// NC_000001.10), except the mitochondrion's, which is the same in both.
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
	_, isAcc := chromOfRefSeq[c]
	for _, asm := range []string{"grch38", "grch37"} {
		if isAcc && RefSeq(asm, c) != c {
			continue // c is the other build's
		}
		if acc := RefSeq(asm, canon); acc != "" {
			add(acc)
		}
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
