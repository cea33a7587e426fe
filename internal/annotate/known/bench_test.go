package known

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var bases = [4]string{"A", "C", "G", "T"}

// synthetic builds an index of n alleles over 22 chromosomes: mostly
// SNVs, every tenth a deletion, with ClinVar-like values.
func synthetic(n int) (*Index, [][4]string) {
	b := NewIndexBuilder([]string{"ID", "CLNSIG", "CLNREVSTAT"}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	sigs := []string{"Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Likely_benign", "Benign"}
	queries := make([][4]string, 0, 1024)
	for i := range n {
		chrom := strconv.Itoa(1 + i%22)
		pos := int64(1 + rng.IntN(200_000_000))
		ref, alt := bases[rng.IntN(4)], bases[rng.IntN(4)]
		if ref == alt {
			alt = "N"
		}
		if i%10 == 0 {
			ref += "TG"
		}
		vals := []string{strconv.Itoa(i), sigs[i%5], "criteria_provided,_single_submitter"}
		if err := b.Add(chrom, pos, ref, alt, vals); err != nil {
			panic(err)
		}
		if len(queries) < cap(queries) && i%977 == 0 {
			queries = append(queries, [4]string{"chr" + chrom, strconv.FormatInt(pos, 10), ref, alt})
		}
	}
	return b.Build(), queries
}

var (
	benchOnce  sync.Once
	benchIndex *Index
	benchHits  [][4]string
	benchBytes float64 // heap per indexed allele
)

// BenchmarkLookup measures lookups on an index of one million alleles,
// half of them hits (found alleles) and half misses (a shifted position).
func BenchmarkLookup(b *testing.B) {
	benchOnce.Do(func() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		benchIndex, benchHits = synthetic(1_000_000)
		runtime.GC()
		runtime.ReadMemStats(&after)
		benchBytes = float64(after.HeapAlloc-before.HeapAlloc) / float64(benchIndex.Len())
	})
	type q struct {
		chrom    string
		pos      int64
		ref, alt string
	}
	var qs []q
	for _, h := range benchHits {
		p, _ := strconv.ParseInt(h[1], 10, 64)
		qs = append(qs, q{h[0], p, h[2], h[3]}, q{h[0], p + 1, h[2], h[3]})
	}
	b.ResetTimer()
	found := 0
	for i := 0; b.Loop(); i++ {
		x := qs[i%len(qs)]
		row, err := benchIndex.Get(x.chrom, x.pos, x.ref, x.alt)
		if err != nil {
			b.Fatal(err)
		}
		if row != nil {
			found++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(benchBytes, "heapB/allele")
	if found == 0 {
		b.Fatal("no hit")
	}
}

// BenchmarkIndexVCF measures building an index from VCF text.
func BenchmarkIndexVCF(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("##fileformat=VCFv4.2\n##INFO=<ID=AF,Number=A,Type=Float,Description=\"x\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
	const n = 100_000
	for i := range n {
		fmt.Fprintf(&sb, "%d\t%d\t.\tA\tG\t.\tPASS\tAC=%d;AN=1000;AF=%g;nhomalt=0;AF_afr=0.001;AF_nfe=0.002\n", 1+i%22, 1000+i*10, i%1000, float64(i%1000)/1000)
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p, err := NewPopulation("gnomad", strings.NewReader(data), "bench.vcf", nil)
		if err != nil || p.Len() != n {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
