package oru

import (
	"strconv"
	"strings"

	"github.com/clinomics/clinomics/internal/format/contig"
	"github.com/clinomics/clinomics/internal/report"
)

// variant appends the OBX group of one variant, sub-id sub.
func (b *builder) variant(sub string, v report.Variant, assembly string) {
	refSeq := v.RefSeqID
	if refSeq == "" {
		if acc, _, ok := strings.Cut(v.HGVSg, ":"); ok {
			refSeq = acc
		} else {
			refSeq = contig.RefSeq(assembly, v.Chrom)
		}
	}
	b.coded(obsCategory, sub, ansSimple)
	b.text(obsDisplayName, sub, displayName(v, refSeq))
	b.coded(obsAssessment, sub, ansPresent)
	if v.Gene != "" {
		g := cwe{Code: v.GeneID, Text: v.Gene}
		if v.GeneID != "" {
			g.System = "HGNC"
		}
		b.coded(obsGene, sub, g)
	}
	if c := hgvsc(v); c != "" {
		b.coded(obsDNAChange, sub, cwe{Code: c})
	}
	if v.HGVSp != "" {
		b.coded(obsAminoAcid, sub, cwe{Code: v.HGVSp})
	}
	if refSeq != "" {
		b.coded(obsRefSeq, sub, cwe{Code: refSeq})
	}
	b.text(obsRefAllele, sub, v.Ref)
	b.numRange(obsStartEnd, sub, v.Pos, v.Pos+int64(max(len(v.Ref), 1))-1)
	b.text(obsAltAllele, sub, v.Alt)
	b.coded(obsCoordSystem, sub, ansOneBased)
	if a, ok := answersAssembly[contig.Assembly(assembly)]; ok {
		b.coded(obsAssembly, sub, a)
	}
	b.text(obsChromosome, sub, contig.Canonical(v.Chrom))
	if c, ok := answersOrigin[strings.ToLower(v.Origin)]; ok {
		b.coded(obsSourceClass, sub, c)
	}
	b.coded(obsMethod, sub, ansSequencing)
	if c, ok := answersClinSig[strings.ToLower(v.Classification)]; ok {
		b.coded(obsSignificance, sub, c)
	}
	if v.Condition != "" {
		b.coded(obsPhenotype, sub, cwe{Text: v.Condition})
	}
	if c, ok := answersZygosity[strings.ToLower(v.Zygosity)]; ok {
		b.coded(obsAllelicState, sub, c)
	}
	if v.AlleleFreq >= 0 {
		b.number(obsAlleleFreq, sub, v.AlleleFreq)
	}
	if v.AltDepth > 0 {
		b.number(obsAllelicDepth, sub, float64(v.AltDepth))
	}
	b.comment(v.Comment)
}

// comment appends the variant's comment as an NTE of the group's last OBX.
func (b *builder) comment(c string) {
	if c == "" {
		return
	}
	s := b.seg("NTE")
	b.set(s, "1", "1")
	b.set(s, "2", "L")
	b.set(s, "3", c)
}

// hgvsc is the c. change qualified by its transcript.
func hgvsc(v report.Variant) string {
	if v.HGVSc == "" || strings.Contains(v.HGVSc, ":") || v.Transcript == "" {
		return v.HGVSc
	}
	return v.Transcript + ":" + v.HGVSc
}

// displayName is the variant in SPDI form (sequence:0-based position:
// deleted:inserted), as vcf2hl7v2 names it, or chrom-pos-ref-alt without
// a reference sequence.
func displayName(v report.Variant, refSeq string) string {
	if refSeq == "" {
		return contig.Canonical(v.Chrom) + "-" + strconv.FormatInt(v.Pos, 10) + "-" + v.Ref + "-" + v.Alt
	}
	return refSeq + ":" + strconv.FormatInt(v.Pos-1, 10) + ":" + v.Ref + ":" + v.Alt
}
