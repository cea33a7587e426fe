package genemodel

import (
	"path/filepath"
	"testing"
)

// BenchmarkBuildFile builds the model of the ensembl-vep chr21 GFF3
// (30,773 lines, 2,414 transcripts; gzip), as `annotate --gff` does.
// `clinomics bench annotate` compares the whole run with bcftools csq;
// run this with -cpu 1 for its one-core configuration.
func BenchmarkBuildFile(b *testing.B) {
	path := filepath.Join(vepData, "test.gff.gz")
	if _, err := BuildFile(path); err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := BuildFile(path); err != nil {
			b.Fatal(err)
		}
	}
}
