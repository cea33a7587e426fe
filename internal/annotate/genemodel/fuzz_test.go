package genemodel

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/gff"
)

// FuzzBuild: any GFF3 or GTF either fails with an error naming the file,
// or gives a model whose transcripts hold together: sorted exons inside
// the transcript, a CDS inside the exons, each transcript in its gene.
func FuzzBuild(f *testing.F) {
	for _, name := range []string{
		"testdata/missing_parent.gff3", "testdata/bad_cds_phase.gff3",
		"../../format/gff/testdata/ensembl_tlr8.gff3", "../../format/gff/testdata/gencode_head.gtf",
		"../../format/gff/testdata/refseq_head.gff3",
	} {
		b, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.HasSuffix(name, ".gtf"))
	}
	f.Fuzz(func(t *testing.T, data []byte, gtf bool) {
		d := gff.GFF3
		if gtf {
			d = gff.GTF
		}
		m, err := Build(bytes.NewReader(data), "fuzz.gff", d)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.gff") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, tr := range m.Transcripts {
			if tr.Gene == nil || !containsTx(tr.Gene.Transcripts, tr) || len(tr.Exons) == 0 {
				t.Fatalf("transcript %q: gene %v, %d exons", tr.ID, tr.Gene, len(tr.Exons))
			}
			for i, x := range tr.Exons {
				if x.Start > x.End || x.Start < tr.Start || x.End > tr.End || (i > 0 && x.Start <= tr.Exons[i-1].End) {
					t.Fatalf("transcript %q %d-%d: exons %v", tr.ID, tr.Start, tr.End, tr.Exons)
				}
			}
			for _, c := range tr.CDS {
				inside := false
				for _, x := range tr.Exons {
					inside = inside || (c.Start >= x.Start && c.End <= x.End)
				}
				if !inside {
					t.Fatalf("transcript %q: CDS %v outside exons %v", tr.ID, c, tr.Exons)
				}
			}
		}
	})
}

func containsTx(ts []*Transcript, t *Transcript) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
