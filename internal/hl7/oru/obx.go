package oru

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/format/contig"
	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/report"
)

// obx appends an OBX with its set id, value type, observation, sub-id and
// status; the caller writes OBX-5.
func (b *builder) obx(typ string, obs cwe, sub string) *hl7.Segment {
	s := b.seg("OBX")
	b.nobx++
	b.set(s, "1", strconv.Itoa(b.nobx))
	b.set(s, "2", typ)
	b.setCWE(s, "3", obs)
	b.set(s, "4", sub)
	b.set(s, "11", b.status)
	return s
}

// coded appends a CWE observation.
func (b *builder) coded(obs cwe, sub string, v cwe) {
	b.setCWE(b.obx("CWE", obs, sub), "5", v)
}

// text appends an ST observation; nothing when v is empty.
func (b *builder) text(obs cwe, sub, v string) {
	if v != "" {
		b.set(b.obx("ST", obs, sub), "5", v)
	}
}

// number appends an NM observation.
func (b *builder) number(obs cwe, sub string, v float64) {
	b.set(b.obx("NM", obs, sub), "5", strconv.FormatFloat(v, 'f', -1, 64))
}

// numRange appends an NR observation low^high.
func (b *builder) numRange(obs cwe, sub string, low, high int64) {
	s := b.obx("NR", obs, sub)
	b.set(s, "5.1", strconv.FormatInt(low, 10))
	b.set(s, "5.2", strconv.FormatInt(high, 10))
}

// narrative appends a TX observation, one repetition per line.
func (b *builder) narrative(obs cwe, sub, v string) {
	s := b.obx("TX", obs, sub)
	for i, line := range strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n") {
		b.set(s, "5("+strconv.Itoa(i+1)+")", line)
	}
}

// regions appends the panel studied and, per reference sequence, the
// ranges examined (BED's 0-based half-open made 1-based inclusive).
func (b *builder) regions(r report.Report) {
	if name := r.Test.Panel; name != "" || r.Test.Assay == "panel" {
		if name == "" {
			name = r.Test.Name
		}
		b.coded(obsPanel, "1", cwe{Text: name})
	}
	var chroms []string
	byChrom := map[string][]report.Region{}
	for _, g := range r.Regions {
		if _, ok := byChrom[g.Chrom]; !ok {
			chroms = append(chroms, g.Chrom)
		}
		byChrom[g.Chrom] = append(byChrom[g.Chrom], g)
	}
	for i, c := range chroms {
		sub := "1" + subLetters(i)
		if acc := contig.RefSeq(r.Test.Assembly, c); acc != "" {
			b.text(obsRefSeq, sub, acc)
		} else {
			b.text(obsChromosome, sub, contig.Canonical(c))
		}
		for j, g := range byChrom[c] {
			b.numRange(obsRange, sub+"."+subLetters(j), g.Start+1, g.End)
		}
	}
}

// interpretation is the overall result: positive with a pathogenic or
// likely pathogenic variant; negative with none reported, or only benign
// and likely benign ones; inconclusive otherwise.
func interpretation(vs []report.Variant) cwe {
	res := ansNegative
	for _, v := range vs {
		switch strings.ToLower(v.Classification) {
		case "pathogenic", "likely pathogenic":
			return ansPositive
		case "benign", "likely benign":
		default:
			res = ansInconclusive
		}
	}
	return res
}

// noVariants is the conclusion of a report with neither variants nor a
// conclusion of its own.
const noVariants = "No reportable variants were found."

// overall appends the overall interpretation and the conclusion.
func (b *builder) overall(r report.Report) {
	b.coded(obsOverall, "1", interpretation(r.Variants))
	c := strings.TrimSpace(r.Conclusion)
	if c == "" && len(r.Variants) == 0 {
		c = noVariants
	}
	if c != "" {
		b.narrative(obsReport, "1", c)
	}
}

// pdf appends the rendered report as an ED: source^AP^PDF^Base64^data.
func (b *builder) pdf(doc []byte) {
	if doc == nil {
		return
	}
	s := b.obx("ED", obsReport, "")
	b.set(s, "5.2", "AP")
	b.set(s, "5.3", "PDF")
	b.set(s, "5.4", "Base64")
	b.set(s, "5.5", base64.StdEncoding.EncodeToString(doc))
}
