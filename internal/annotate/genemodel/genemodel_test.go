package genemodel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/gff"
)

const vepData = "../../../../shared/data/annotation/ensembl-vep"

func TestWarnings(t *testing.T) {
	cases := []struct {
		file string
		want []Warning // Kind and Line
		keep []string  // transcripts built
	}{
		{"missing_parent.gff3", []Warning{{Kind: WarnMissingParent, Line: 8}, {Kind: WarnMissingParent, Line: 9}}, []string{"T1"}},
		{"bad_cds_phase.gff3", []Warning{{Kind: WarnCDSPhase, Line: 6}, {Kind: WarnCDSOverlap, Line: 12}, {Kind: WarnCDSOutsideExon, Line: 16}, {Kind: WarnNoExons, Line: 17}}, nil},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			m, err := BuildFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) != len(c.want) {
				t.Fatalf("warnings %v, want %d", m.Warnings, len(c.want))
			}
			for i, w := range c.want {
				got := m.Warnings[i]
				if got.Kind != w.Kind || got.Line != w.Line || got.File != filepath.Join("testdata", c.file) {
					t.Errorf("warning %d: %v, want %s at line %d", i, got, w.Kind, w.Line)
				}
			}
			var ids []string
			for _, tr := range m.Transcripts {
				ids = append(ids, tr.ID)
			}
			if len(ids) != len(c.keep) || (len(ids) > 0 && ids[0] != c.keep[0]) {
				t.Errorf("transcripts %v, want %v", ids, c.keep)
			}
		})
	}
}

func load(t *testing.T, name string) *Model {
	t.Helper()
	m, err := BuildFile(filepath.Join(vepData, name))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	return m
}

func TestRealModels(t *testing.T) {
	for _, c := range []struct {
		file          string
		tx, canonical string
		coding        bool
	}{
		{"test.gff.gz", "ENST00000307301", "", true},
		{"test.gtf.gz", "ENST00000307301", "", true},
		{"refseq.gff.gz", "NM_080794.3", "", true},
	} {
		m := load(t, c.file)
		if len(m.Genes) < 20 || len(m.Transcripts) < 50 {
			t.Errorf("%s: %d genes, %d transcripts", c.file, len(m.Genes), len(m.Transcripts))
		}
		var found *Transcript
		for _, tr := range m.Transcripts {
			if tr.ID == c.tx {
				found = tr
			}
		}
		if found == nil {
			t.Errorf("%s: %s not built", c.file, c.tx)
			continue
		}
		if found.Coding() != c.coding || found.CDSLen()%3 != 0 && found.StartPhase == 0 {
			t.Errorf("%s: %s coding %v, CDS length %d", c.file, c.tx, found.Coding(), found.CDSLen())
		}
		for _, g := range m.Genes {
			if g.Canonical == nil || !g.Canonical.Canonical {
				t.Fatalf("%s: gene %s without canonical transcript", c.file, g.ID)
			}
		}
		t.Logf("%s: %d genes, %d transcripts, warnings %v", c.file, len(m.Genes), len(m.Transcripts), m.WarningCounts())
	}
}

func TestGTFAndGFF3Agree(t *testing.T) {
	a, b := load(t, "test.gff.gz"), load(t, "test.gtf.gz")
	byID := map[string]*Transcript{}
	for _, tr := range b.Transcripts {
		byID[tr.ID] = tr
	}
	same := 0
	for _, tr := range a.Transcripts {
		o := byID[tr.ID]
		if o == nil {
			continue
		}
		if tr.CDSLen() != o.CDSLen() || len(tr.Exons) != len(o.Exons) || tr.Strand != o.Strand {
			t.Errorf("%s: GFF3 CDS %d exons %d, GTF CDS %d exons %d", tr.ID, tr.CDSLen(), len(tr.Exons), o.CDSLen(), len(o.Exons))
			continue
		}
		same++
	}
	if same < 100 {
		t.Errorf("only %d transcripts in both", same)
	}
}

func TestCanonicalChoice(t *testing.T) {
	g := &Gene{}
	mk := func(id, bt string, cds, ex int64, mane, ens bool) *Transcript {
		tr := &Transcript{ID: id, Biotype: bt, Exons: []Range{{1, ex}}, MANE: mane, EnsemblCanonical: ens}
		if cds > 0 {
			tr.CDS = []Range{{1, cds}}
		}
		g.Transcripts = append(g.Transcripts, tr)
		return tr
	}
	long := mk("T1", "retained_intron", 0, 9000, false, false)
	coding := mk("T2", "protein_coding", 300, 400, false, false)
	chooseCanonical(g)
	if g.Canonical != coding {
		t.Errorf("longest CDS: got %s", g.Canonical.ID)
	}
	ens := mk("T3", "protein_coding", 99, 100, false, true)
	chooseCanonical(g)
	if g.Canonical != ens {
		t.Errorf("Ensembl_canonical: got %s", g.Canonical.ID)
	}
	mane := mk("T4", "protein_coding", 99, 100, true, false)
	chooseCanonical(g)
	if g.Canonical != mane || long.Canonical || coding.Canonical {
		t.Errorf("MANE: got %s", g.Canonical.ID)
	}
}

func TestOverlapMatchesScan(t *testing.T) {
	m := load(t, "test.gff.gz")
	for pos := int64(25_000_000); pos < 26_000_000; pos += 7919 {
		got := m.Overlapping("21", pos, pos+10)
		want := 0
		for _, tr := range m.Transcripts {
			if tr.Chrom == "21" && tr.Start-Flank <= pos+10 && tr.End+Flank >= pos {
				want++
			}
		}
		if len(got) != want {
			t.Fatalf("%d: %d transcripts, scan finds %d", pos, len(got), want)
		}
	}
}

func TestAppendWithinMatchesScan(t *testing.T) {
	m := load(t, "test.gff.gz")
	for _, flank := range []int64{0, 1, 100, Flank, 3 * Flank, 200_000} {
		for pos := int64(25_000_000); pos < 26_000_000; pos += 7919 {
			got := m.AppendWithin(nil, "21", pos, pos+10, flank)
			seen := map[*Transcript]bool{}
			for i, tr := range got {
				if seen[tr] {
					t.Fatalf("flank %d, %d: %s twice", flank, pos, tr.ID)
				}
				seen[tr] = true
				if i > 0 && got[i-1].Start > tr.Start {
					t.Fatalf("flank %d, %d: not in order of start", flank, pos)
				}
			}
			want := 0
			for _, tr := range m.Transcripts {
				if tr.Chrom == "21" && tr.Start-flank <= pos+10 && tr.End+flank >= pos {
					want++
					if !seen[tr] {
						t.Fatalf("flank %d, %d: %s missing", flank, pos, tr.ID)
					}
				}
			}
			if len(got) != want {
				t.Fatalf("flank %d, %d: %d transcripts, scan finds %d", flank, pos, len(got), want)
			}
		}
	}
}

func TestSaveLoad(t *testing.T) {
	m := load(t, "test.gff.gz")
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	blob := buf.Bytes()
	m2, err := Load(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Transcripts) != len(m.Transcripts) || len(m2.Warnings) != len(m.Warnings) {
		t.Fatalf("round trip: %d transcripts, want %d", len(m2.Transcripts), len(m.Transcripts))
	}
	for i, tr := range m.Transcripts {
		o := m2.Transcripts[i]
		if o.ID != tr.ID || o.CDSLen() != tr.CDSLen() || o.Start != tr.Start || o.End != tr.End || o.Canonical != tr.Canonical || o.Gene.Name != tr.Gene.Name {
			t.Fatalf("transcript %d differs: %+v vs %+v", i, o, tr)
		}
	}
	t.Logf("stored size %d bytes for %d transcripts", len(blob), len(m.Transcripts))
	if _, err := Load(bytes.NewReader(blob[:len(blob)-7])); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated: %v", err)
	}
	bad := append([]byte(nil), blob...)
	bad[len(bad)/2] ^= 0x40
	if _, err := Load(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt: %v", err)
	}
	if _, err := Load(bytes.NewReader([]byte("##gff-version 3\nchr1\t"))); !errors.Is(err, ErrNotModel) {
		t.Errorf("not a model: %v", err)
	}
}

func TestAppendOverlappingAndIndex(t *testing.T) {
	m := load(t, "test.gff.gz")
	for i, tr := range m.Transcripts {
		if tr.Index() != i {
			t.Fatalf("%s: Index %d, at %d", tr.ID, tr.Index(), i)
		}
	}
	buf := make([]*Transcript, 0, 64)
	for pos := int64(-10); pos < 48_000_000; pos += 100_003 {
		want := m.Overlapping("21", pos, pos+2000)
		buf = m.AppendOverlapping(buf[:0], "21", pos, pos+2000)
		if len(want) != len(buf) {
			t.Fatalf("%d: %d and %d transcripts", pos, len(want), len(buf))
		}
		for i := range want {
			if want[i] != buf[i] {
				t.Fatalf("%d: transcript %d differs", pos, i)
			}
		}
	}
	if got := m.Overlapping("21", 1<<40, 1<<40+5); len(got) != 0 {
		t.Errorf("past the last bin: %d transcripts", len(got))
	}
}

// TestTruncatedGzip: the GFF3 is decompressed ahead of the parser, on
// another goroutine; a file cut short must still fail the build.
func TestTruncatedGzip(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(vepData, "test.gff.gz"))
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	cut := filepath.Join(t.TempDir(), "cut.gff.gz")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildFile(cut); err == nil {
		t.Fatal("a truncated gzip file built a model")
	}
}

// TestSaveLoadWarningContig: a warning's contig is stored (version 2),
// and a version 1 file, which has none, still loads.
func TestSaveLoadWarningContig(t *testing.T) {
	m, err := BuildFile("testdata/missing_parent.gff3")
	if err != nil {
		t.Fatal(err)
	}
	m.Warnings[0].Chrom = "chr1" // set by the builder once it records contigs
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	got, err := Load(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Warnings) != len(m.Warnings) || got.Warnings[0] != m.Warnings[0] {
		t.Errorf("warnings %+v, want %+v", got.Warnings, m.Warnings)
	}
	// Without warnings, versions 1 and 2 write the same payload.
	m.Warnings = nil
	b.Reset()
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	v1 := b.Bytes()
	v1[len(magic)], v1[len(magic)+1] = 1, 0
	if got, err := Load(bytes.NewReader(v1)); err != nil || len(got.Transcripts) != len(m.Transcripts) {
		t.Errorf("version 1: %v", err)
	}
	v1[len(magic)] = 3
	if _, err := Load(bytes.NewReader(v1)); !errors.Is(err, ErrVersion) {
		t.Errorf("version 3: %v", err)
	}
}

// TestLoadRefusesImpossibleSpans: a stored model whose transcript ends
// past gff.MaxPosition (no GFF can give one; the checksum is right) is
// refused as corrupt, not indexed.
func TestLoadRefusesImpossibleSpans(t *testing.T) {
	m, err := BuildFile("testdata/missing_parent.gff3")
	if err != nil {
		t.Fatal(err)
	}
	m.Transcripts[0].End = gff.MaxPosition + 1
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bytes.NewReader(b.Bytes())); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Load: %v, want ErrCorrupt", err)
	}
}

// TestRefSeqGeneIDs: a RefSeq GFF3 gene's id is its NCBI Gene id (its
// Dbxref GeneID:N, as VEP gives it), not the file-local gene49511;
// Ensembl's gene ids stay.
func TestRefSeqGeneIDs(t *testing.T) {
	m, err := BuildFile("../../format/gff/testdata/refseq_head.gff3")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Genes) == 0 {
		t.Fatal("no genes")
	}
	byName := map[string]string{}
	for _, g := range m.Genes {
		byName[g.Name] = g.ID
		if strings.HasPrefix(g.ID, "gene") {
			t.Errorf("gene %s has the file's id %s", g.Name, g.ID)
		}
	}
	if byName["LOC101927869"] != "101927869" {
		t.Errorf("LOC101927869: id %q, want 101927869", byName["LOC101927869"])
	}
	// A gene_id attribute (Ensembl) wins over a Dbxref.
	e, err := Build(strings.NewReader("##gff-version 3\n1\tt\tgene\t1\t100\t.\t+\t.\tID=gene:ENSG1;gene_id=ENSG1;Name=A;Dbxref=GeneID:5\n"+
		"1\tt\tmRNA\t1\t100\t.\t+\t.\tID=transcript:ENST1;Parent=gene:ENSG1\n1\tt\texon\t1\t100\t.\t+\t.\tParent=transcript:ENST1\n"), "e.gff3", gff.GFF3)
	if err != nil || len(e.Genes) != 1 || e.Genes[0].ID != "ENSG1" {
		t.Fatalf("%v %+v", err, e.Genes)
	}
}
