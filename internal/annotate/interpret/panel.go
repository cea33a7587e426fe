// Package interpret helps a qualified person interpret annotated variants:
// gene panels (in panel or not), a population frequency filter, ACMG/AMP
// 2015 criteria suggested from annotations, a suggested class combining
// them, and ClinVar codon indexes for PS1 and PM5.
//
// Everything here is a suggestion: each criterion is returned with
// Confirmed false, for a person to confirm or reject, and Classify's
// class is a starting point, not a classification.
package interpret

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clinomics/clinomics/internal/annotate/known"
	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/bed"
)

// maxSymbol bounds the length of one gene symbol line.
const maxSymbol = 256

// Panel is a set of genes and genomic regions.
type Panel struct {
	genes   map[string]bool // upper case
	regions map[string][]region
}

type region struct {
	start, end, maxEnd int64
}

// NewPanel makes a panel of gene symbols (matched case-insensitively) and
// BED intervals (0-based, half-open).
func NewPanel(genes []string, regions []bed.Interval) *Panel {
	p := &Panel{genes: map[string]bool{}, regions: map[string][]region{}}
	for _, g := range genes {
		if g = strings.TrimSpace(g); g != "" {
			p.genes[strings.ToUpper(g)] = true
		}
	}
	for _, iv := range regions {
		c := known.CanonicalChrom(iv.Chrom)
		p.regions[c] = append(p.regions[c], region{start: iv.Start, end: iv.End})
	}
	for c, rs := range p.regions {
		slices.SortFunc(rs, func(a, b region) int { return cmp.Compare(a.start, b.start) })
		var m int64
		for i := range rs {
			m = max(m, rs[i].end)
			rs[i].maxEnd = m
		}
		p.regions[c] = rs
	}
	return p
}

// ReadGeneList reads one gene symbol per line; blank lines and '#'
// comments (whole-line or trailing) are skipped, as is anything after the
// first tab or space. file names the input in errors.
func ReadGeneList(r io.Reader, file string) (*Panel, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 4096), maxSymbol+2)
	var genes []string
	line := 0
	for s.Scan() {
		line++
		t, _, _ := strings.Cut(s.Text(), "#")
		f := strings.Fields(t)
		if len(f) == 0 {
			continue
		}
		if len(f[0]) > maxSymbol {
			return nil, fmt.Errorf("%s: line %d: gene symbol longer than %d bytes", file, line, maxSymbol)
		}
		genes = append(genes, f[0])
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", file, line+1, err)
	}
	if len(genes) == 0 {
		return nil, fmt.Errorf("%s: no gene symbols", file)
	}
	return NewPanel(genes, nil), nil
}

// LoadGeneList reads a (plain or compressed) gene list file.
func LoadGeneList(path string) (*Panel, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadGeneList(f, path)
}

// LoadBED reads a panel from a BED file: with byName, the genes named in
// its fourth column; otherwise its intervals.
func LoadBED(path string, byName bool) (*Panel, error) {
	ivs, err := bed.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !byName {
		return NewPanel(nil, ivs), nil
	}
	var genes []string
	for _, iv := range ivs {
		if iv.Name == "" || iv.Name == "." {
			return nil, fmt.Errorf("%s: line %d: no gene name in the fourth column", path, iv.Line)
		}
		genes = append(genes, iv.Name)
	}
	return NewPanel(genes, nil), nil
}

// Genes returns the panel's gene symbols (upper case), sorted.
func (p *Panel) Genes() []string {
	out := make([]string, 0, len(p.genes))
	for g := range p.genes {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// HasGene reports whether the gene symbol is in the panel.
func (p *Panel) HasGene(symbol string) bool { return p.genes[strings.ToUpper(symbol)] }

// Covers reports whether a panel region contains pos (1-based) on chrom.
func (p *Panel) Covers(chrom string, pos int64) bool {
	rs := p.regions[known.CanonicalChrom(chrom)]
	i, _ := slices.BinarySearchFunc(rs, pos, func(r region, p int64) int { return cmp.Compare(r.start, p) }) // regions starting before pos
	for j := i - 1; j >= 0 && rs[j].maxEnd >= pos; j-- {
		if rs[j].end >= pos {
			return true
		}
	}
	return false
}

// Includes is the panel filter: the variant is in the panel when its
// gene is or a region covers its position.
func (p *Panel) Includes(gene, chrom string, pos int64) bool {
	return (gene != "" && p.HasGene(gene)) || p.Covers(chrom, pos)
}
