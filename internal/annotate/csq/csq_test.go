package csq

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
	"github.com/clinomics/clinomics/internal/format/gff"
)

// A hand-made contig: a plus-strand gene in 1-100 and its mirror image,
// a minus-strand gene, in 101-200 (base q there is the complement of
// base 201-q), so every plus-strand case has a minus-strand twin with
// the same c. and p. notation.
//
//	exons 11-40, 61-100; CDS 21-40, 61-91; donor GT at 41, acceptor AG at 59
//	CDS: ATG GCT GAA AAA AAA TGG CT|G CCT TCC GAT CGT GGA CAT ATC TTC GTC TAA
const testGFF = `##gff-version 3
c1	t	gene	11	100	.	+	.	ID=gene:G1;Name=PLUS;biotype=protein_coding
c1	t	mRNA	11	100	.	+	.	ID=transcript:T1;Parent=gene:G1;biotype=protein_coding
c1	t	exon	11	40	.	+	.	Parent=transcript:T1
c1	t	exon	61	100	.	+	.	Parent=transcript:T1
c1	t	CDS	21	40	.	+	0	Parent=transcript:T1
c1	t	CDS	61	91	.	+	1	Parent=transcript:T1
c1	t	gene	101	190	.	-	.	ID=gene:G2;Name=MINUS;biotype=protein_coding
c1	t	mRNA	101	190	.	-	.	ID=transcript:T2;Parent=gene:G2;biotype=protein_coding
c1	t	exon	161	190	.	-	.	Parent=transcript:T2
c1	t	exon	101	140	.	-	.	Parent=transcript:T2
c1	t	CDS	161	180	.	-	0	Parent=transcript:T2
c1	t	CDS	110	140	.	-	1	Parent=transcript:T2
`

func testContig() []byte {
	s := []byte(strings.Repeat("C", 100))
	put := func(pos int, b string) { copy(s[pos-1:], b) }
	put(21, "ATGGCTGAAAAAAAATGGCT")
	put(41, "GTTTTTTTTTTTTTTTTTAG")
	put(61, "GCCTTCCGATCGTGGACATATCTTCGTCTAA")
	return append(s, revcomp(s)...)
}

func testAnnotator(t *testing.T) *Annotator {
	t.Helper()
	m, err := genemodel.Build(strings.NewReader(testGFF), "test.gff3", gff.GFF3)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) > 0 {
		t.Fatalf("warnings: %v", m.Warnings)
	}
	return New(m, mapRef{"c1": testContig()})
}

func effectOn(t *testing.T, a *Annotator, v Variant, tx string) (Effect, string) {
	t.Helper()
	res, err := a.Annotate(v)
	if err != nil {
		t.Fatalf("%+v: %v", v, err)
	}
	for _, e := range res.Effects {
		if e.Transcript != nil && e.Transcript.ID == tx {
			return e, res.HGVSg
		}
	}
	t.Fatalf("%+v: no effect on %s", v, tx)
	return Effect{}, ""
}

// mirror gives the minus-strand twin of a plus-strand VCF variant.
func mirror(v Variant) Variant {
	seq := testContig()
	if len(v.Ref) == 1 && len(v.Alt) == 1 {
		q := 201 - v.Pos
		return Variant{Chrom: v.Chrom, Pos: q, Ref: string(revcomp([]byte(v.Ref))), Alt: string(revcomp([]byte(v.Alt)))}
	}
	// Indel with a left anchor: the twin's anchor is the base left of
	// the mirrored change.
	n := int64(len(v.Ref))
	q := 201 - (v.Pos + n - 1) // mirror of the last REF base
	anchor := string(seq[q-2])
	ref := anchor + string(revcomp([]byte(v.Ref[1:])))
	alt := anchor + string(revcomp([]byte(v.Alt[1:])))
	return Variant{Chrom: v.Chrom, Pos: q - 1, Ref: ref, Alt: alt}
}

func TestConsequences(t *testing.T) {
	a := testAnnotator(t)
	cases := []struct {
		v            Variant
		terms, c, p  string
		protein, aa  string
		skipMirrored bool
	}{
		{Variant{"c1", 24, "G", "C", 0}, "missense_variant", "c.4G>C", "p.(Ala2Pro)", "2", "A/P", false},
		{Variant{"c1", 26, "T", "C", 0}, "synonymous_variant", "c.6T>C", "p.(=)", "2", "A", false},
		{Variant{"c1", 21, "A", "G", 0}, "start_lost", "c.1A>G", "p.(Met1?)", "1", "M/V", false},
		{Variant{"c1", 37, "G", "A", 0}, "stop_gained", "c.17G>A", "p.(Trp6Ter)", "6", "W/*", false},
		{Variant{"c1", 90, "A", "G", 0}, "stop_retained_variant", "c.50A>G", "p.(=)", "17", "*", false},
		{Variant{"c1", 89, "T", "C", 0}, "stop_lost", "c.49T>C", "p.(Ter17GlnextTer?)", "17", "*/Q", false},
		{Variant{"c1", 27, "GA", "G", 0}, "frameshift_variant", "c.15del", "p.(Lys5AsnfsTer?)", "", "", false},
		{Variant{"c1", 29, "A", "AAAA", 0}, "inframe_insertion", "c.13_15dup", "p.(Lys5dup)", "", "", false},
		{Variant{"c1", 23, "GGCT", "G", 0}, "inframe_deletion", "c.5_7del", "p.(Ala2del)", "", "", false},
		{Variant{"c1", 45, "T", "A", 0}, "splice_region_variant&intron_variant", "c.20+5T>A", "", "", "", false},
		{Variant{"c1", 42, "T", "A", 0}, "splice_donor_variant", "c.20+2T>A", "", "", "", false},
		{Variant{"c1", 59, "A", "G", 0}, "splice_acceptor_variant", "c.21-2A>G", "", "", "", false},
		{Variant{"c1", 15, "C", "T", 0}, "5_prime_UTR_variant", "c.-6C>T", "", "", "", false},
		{Variant{"c1", 95, "C", "T", 0}, "3_prime_UTR_variant", "c.*4C>T", "", "", "", false},
		{Variant{"c1", 5, "C", "T", 0}, "upstream_gene_variant", "", "", "", "", true},
	}
	for _, c := range cases {
		for _, tx := range []string{"T1", "T2"} {
			v := c.v
			if tx == "T2" {
				if c.skipMirrored {
					continue
				}
				v = mirror(v)
			}
			e, _ := effectOn(t, a, v, tx)
			got := strings.Join(e.Terms, "&")
			if got != c.terms {
				t.Errorf("%s %+v: terms %s, want %s", tx, v, got, c.terms)
			}
			wantC := ""
			if c.c != "" {
				wantC = tx + ":" + c.c
			}
			if e.HGVSc != wantC || e.HGVSp != c.p {
				t.Errorf("%s %+v: %s %s, want %s %s", tx, v, e.HGVSc, e.HGVSp, wantC, c.p)
			}
			if c.protein != "" && (e.ProteinPos != c.protein || e.AminoAcids != c.aa) {
				t.Errorf("%s %+v: protein %s %s, want %s %s", tx, v, e.ProteinPos, e.AminoAcids, c.protein, c.aa)
			}
		}
	}
}

func TestHGVSg(t *testing.T) {
	a := testAnnotator(t)
	for _, c := range []struct {
		v    Variant
		want string
	}{
		{Variant{"c1", 24, "G", "C", 0}, "c1:g.24G>C"},
		{Variant{"c1", 27, "GA", "G", 0}, "c1:g.35del"},
		{Variant{"c1", 29, "A", "AAAA", 0}, "c1:g.33_35dup"},
		{Variant{"c1", 23, "GGCT", "GAAA", 0}, "c1:g.24_26delinsAAA"},
	} {
		_, g := effectOn(t, a, c.v, "T1")
		if g != c.want {
			t.Errorf("%+v: %s, want %s", c.v, g, c.want)
		}
	}
}

func TestRefusals(t *testing.T) {
	a := testAnnotator(t)
	for _, c := range []struct {
		v    Variant
		want error
	}{
		{Variant{"c1", 24, "T", "C", 0}, ErrRefMismatch},
		{Variant{"c1", 199, "CCCC", "C", 0}, ErrRefMismatch}, // runs past the contig end
		{Variant{"chrUn", 24, "G", "C", 0}, ErrUnknownContig},
		{Variant{"c1", 24, "G", "<DUP>", 0}, ErrUnsupported},
	} {
		res, err := a.Annotate(c.v)
		if !errors.Is(err, c.want) || res != nil {
			t.Errorf("%+v: %v, %v; want %v and no result", c.v, res, err, c.want)
		}
	}
}

func TestFlank(t *testing.T) {
	m, err := genemodel.Build(strings.NewReader(testGFF), "test.gff3", gff.GFF3)
	if err != nil {
		t.Fatal(err)
	}
	// The test contig and 300 more bases: 191-500 is outside both genes.
	ref := mapRef{"c1": append(testContig(), strings.Repeat("C", 300)...)}
	summary := func(a *Annotator, v Variant) string {
		t.Helper()
		res, err := a.Annotate(v)
		if err != nil {
			t.Fatalf("%+v: %v", v, err)
		}
		var out []string
		for _, e := range res.Effects {
			id := "-"
			if e.Transcript != nil {
				id = e.Transcript.ID
			}
			out = append(out, id+":"+strings.Join(e.Terms, "&"))
		}
		return strings.Join(out, " ")
	}
	outside := Variant{Chrom: "c1", Pos: 290, Ref: "C", Alt: "T"} // 100 bases past T2's 5' end
	for _, c := range []struct {
		flank int64
		want  string
	}{
		{genemodel.Flank, "T1:downstream_gene_variant T2:upstream_gene_variant"},
		{100, "T2:upstream_gene_variant"},
		{99, "-:intergenic_variant"},
		{0, "-:intergenic_variant"},
		{-1, "-:intergenic_variant"},
	} {
		if got := summary(NewWithFlank(m, ref, c.flank), outside); got != c.want {
			t.Errorf("flank %d: %s, want %s", c.flank, got, c.want)
		}
	}
	if got := summary(New(m, ref), outside); got != "T1:downstream_gene_variant T2:upstream_gene_variant" {
		t.Errorf("New: %s", got)
	}

	// With flank 0, every variant gets the effects of the default flank
	// less its upstream and downstream ones (an indel in a repeat next to
	// a gene included), and never one of those.
	full, none := New(m, ref), NewWithFlank(m, ref, 0)
	seq, _ := ref.Seq("c1", 1, 500)
	for pos := int64(2); pos < 498; pos++ {
		b := string(seq[pos-1])
		for _, v := range []Variant{
			{Chrom: "c1", Pos: pos, Ref: b, Alt: map[string]string{"A": "C", "C": "G", "G": "T", "T": "A"}[b]},
			{Chrom: "c1", Pos: pos, Ref: string(seq[pos-1 : pos+1]), Alt: b},
			{Chrom: "c1", Pos: pos, Ref: b, Alt: b + "C"},
		} {
			var want []string
			for _, e := range strings.Fields(summary(full, v)) {
				if !strings.Contains(e, "stream_gene_variant") {
					want = append(want, e)
				}
			}
			w := strings.Join(want, " ")
			if w == "" {
				w = "-:intergenic_variant"
			}
			if got := summary(none, v); got != w {
				t.Errorf("%+v: flank 0 gives %s, want %s", v, got, w)
			}
		}
	}
}

// TestTranscriptAblation: a deletion of the whole transcript is
// transcript_ablation alone, with no HGVS c.; one that leaves a base of
// it, or a symbolic <DEL> over it, is not.
func TestTranscriptAblation(t *testing.T) {
	a := testAnnotator(t)
	seq := testContig()
	del := func(from, to int64) Variant { // deletes bases from..to, anchored on the base before
		return Variant{Chrom: "c1", Pos: from - 1, Ref: string(seq[from-2 : to]), Alt: string(seq[from-2])}
	}
	for _, c := range []struct {
		v     Variant
		tx    string
		terms string
	}{
		{del(11, 100), "T1", "transcript_ablation"},
		{del(5, 120), "T1", "transcript_ablation"},
		{del(101, 190), "T2", "transcript_ablation"},
		{Variant{Chrom: "c1", Pos: 10, Ref: "C", Alt: "<DEL>", End: 100}, "T1", "transcript_ablation"},
	} {
		e, _ := effectOn(t, a, c.v, c.tx)
		if got := strings.Join(e.Terms, "&"); got != c.terms || e.HGVSc != "" || e.HGVSp != "" {
			t.Errorf("%s:%d-%d on %s: %s %q %q, want %s", c.v.Chrom, c.v.Pos, c.v.Pos+int64(len(c.v.Ref))-1, c.tx, got, e.HGVSc, e.HGVSp, c.terms)
		}
	}
	// A base of the transcript left: not an ablation.
	for _, v := range []Variant{del(12, 100), del(11, 99)} {
		e, _ := effectOn(t, a, v, "T1")
		if slices.Contains(e.Terms, "transcript_ablation") {
			t.Errorf("%d %s: %v", v.Pos, v.Ref, e.Terms)
		}
	}
}

// TestMitochondrialCode: on the mitochondrion (MT, chrM, NC_012920.1)
// codons are read with the vertebrate mitochondrial code (NCBI table 2):
// TGA is Trp, AGA and AGG stop, ATA Met, and ATT, ATC, ATA, ATG, GTG
// start a protein (read as Met1). The same sequence elsewhere is read
// with the standard code.
func TestMitochondrialCode(t *testing.T) {
	// 20 bases, then the CDS: ATT CCC TGG AAA ATA AGA (M P W K M *), then 20 bases.
	seq := []byte(strings.Repeat("C", 20) + "ATTCCCTGGAAAATAAGA" + strings.Repeat("C", 20))
	const gffFor = "%[1]s\tt\tgene\t11\t48\t.\t+\t.\tID=gene:G;Name=MTG;biotype=protein_coding\n" +
		"%[1]s\tt\tmRNA\t11\t48\t.\t+\t.\tID=transcript:T;Parent=gene:G;biotype=protein_coding\n" +
		"%[1]s\tt\texon\t11\t48\t.\t+\t.\tParent=transcript:T\n" +
		"%[1]s\tt\tCDS\t21\t38\t.\t+\t0\tParent=transcript:T\n"
	annotator := func(chrom string) *Annotator {
		m, err := genemodel.Build(strings.NewReader("##gff-version 3\n"+fmt.Sprintf(gffFor, chrom)), "mt.gff3", gff.GFF3)
		if err != nil || len(m.Warnings) > 0 {
			t.Fatal(err, m.Warnings)
		}
		return New(m, mapRef{chrom: seq})
	}
	cases := []struct {
		pos            int64
		ref, alt       string
		mito, standard string // terms and HGVS p.
	}{
		{29, "G", "A", "synonymous_variant p.(=)", "stop_gained p.(Trp3Ter)"},                         // TGG>TGA
		{31, "A", "G", "stop_gained p.(Lys4Ter)", "missense_variant p.(Lys4Arg)"},                     // AAA>AGA
		{23, "T", "C", "start_retained_variant&synonymous_variant p.(=)", "synonymous_variant p.(=)"}, // ATT>ATC
		{22, "T", "A", "start_lost p.(Met1?)", "missense_variant p.(Ile1Asn)"},                        // ATT>AAT
		{38, "A", "G", "stop_retained_variant p.(=)", "synonymous_variant p.(=)"},                     // AGA>AGG
		{33, "A", "G", "missense_variant p.(Met5Val)", "missense_variant p.(Ile5Val)"},                // ATA>GTA
	}
	for _, chrom := range []string{"MT", "chrM", "NC_012920.1", "1"} {
		a := annotator(chrom)
		for _, c := range cases {
			e, _ := effectOn(t, a, Variant{Chrom: chrom, Pos: c.pos, Ref: c.ref, Alt: c.alt}, "T")
			got := strings.Join(e.Terms, "&") + " " + e.HGVSp
			want := c.mito
			if chrom == "1" {
				want = c.standard
			}
			if got != want {
				t.Errorf("%s:%d %s>%s: %s, want %s", chrom, c.pos, c.ref, c.alt, got, want)
			}
		}
	}
}
