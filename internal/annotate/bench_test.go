package annotate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/clinomics/clinomics/internal/annotate/genemodel"
)

// BenchmarkChr21 annotates SNVs and short indels every 97 bases over
// 10 Mb of chr21, against the ensembl-vep chr21 GFF3 on a synthetic
// reference, with one worker (VCF out only, model built beforehand).
// `clinomics bench annotate` runs variants inside transcripts against
// bcftools csq.
func BenchmarkChr21(b *testing.B) {
	m, err := genemodel.BuildFile(filepath.Join("../../../shared/data/annotation/ensembl-vep", "test.gff.gz"))
	if err != nil {
		b.Skip(err)
	}
	r := rand.New(rand.NewPCG(7, 218))
	seq := make([]byte, 46_709_983)
	for i := range seq {
		seq[i] = "ACGT"[r.IntN(4)]
	}
	var in bytes.Buffer
	in.WriteString("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
	n := 0
	for pos := 25_000_000; pos < 35_000_000; pos += 97 {
		switch n % 10 {
		case 8:
			fmt.Fprintf(&in, "21\t%d\t.\t%s\t%c\t.\t.\t.\n", pos, seq[pos-1:pos+1], seq[pos-1])
		case 9:
			fmt.Fprintf(&in, "21\t%d\t.\t%c\t%cGC\t.\t.\t.\n", pos, seq[pos-1], seq[pos-1])
		default:
			alt := byte('A')
			if seq[pos-1] == 'A' {
				alt = 'C'
			}
			fmt.Fprintf(&in, "21\t%d\t.\t%c\t%c\t.\t.\t.\n", pos, seq[pos-1], alt)
		}
		n++
	}
	data := in.Bytes()
	for _, c := range []struct {
		name   string
		fields []string
	}{{"all", nil}, {"bcsq", BCSQFields}} {
		b.Run(c.name, func(b *testing.B) {
			ann := New(m, NewReference(map[string][]byte{"21": seq}), Options{Threads: 1, Fields: c.fields})
			for b.Loop() {
				if _, err := ann.Run(context.Background(), bytes.NewReader(data), "bench.vcf", io.Discard, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "variants/s")
		})
	}
}
