package genemodel

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/clinomics/clinomics/internal/format/gff"
)

// TestModelKeepsNoText: a model holds its own strings, not the blocks of
// the file's text they were parsed from (which would keep the whole file
// in memory for as long as the model lives: gigabytes for a genome).
func TestModelKeepsNoText(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	const genes = 2000
	data := bigGFF3(genes) // about 28 MB
	text := len(data)
	m, err := Build(bytes.NewReader(data), "big.gff3", gff.GFF3)
	if err != nil {
		t.Fatal(err)
	}
	data = nil // the input itself may go
	after := heap()
	kept := after - min(before, after)
	if len(m.Transcripts) != genes || len(m.Warnings) < genes {
		t.Fatalf("%d transcripts, %d warnings", len(m.Transcripts), len(m.Warnings))
	}
	t.Logf("kept %d of %d", kept, text)
	if kept > uint64(text)/4 {
		t.Errorf("the model of %d transcripts keeps %d bytes in use, of a %d-byte file", genes, kept, text)
	}
	runtime.KeepAlive(m)
}

// bigGFF3 is n genes of one transcript and exon, each with a transcript
// the model drops, and n genes without a transcript; each line with a
// 2,000 byte Note the model does not keep.
func bigGFF3(n int) []byte {
	var in bytes.Buffer
	in.WriteString("##gff-version 3\n")
	note := bytes.Repeat([]byte("x"), 2000)
	for i := range n {
		start := 1 + i*10_000
		fmt.Fprintf(&in, "1\tt\tgene\t%d\t%d\t.\t+\t.\tID=gene:G%d;Name=GENE%d;biotype=protein_coding;Note=%s\n", start, start+999, i, i, note)
		fmt.Fprintf(&in, "1\tt\tmRNA\t%d\t%d\t.\t+\t.\tID=transcript:T%d;Parent=gene:G%d;biotype=protein_coding;Note=%s\n", start, start+999, i, i, note)
		fmt.Fprintf(&in, "1\tt\texon\t%d\t%d\t.\t+\t.\tParent=transcript:T%d;Note=%s\n", start, start+999, i, note)
		// A transcript the model drops (its CDS is outside its exon),
		// and a gene left with none.
		fmt.Fprintf(&in, "1\tt\tmRNA\t%d\t%d\t.\t+\t.\tID=transcript:D%d;Parent=gene:G%d;Note=%s\n", start, start+999, i, i, note)
		fmt.Fprintf(&in, "1\tt\texon\t%d\t%d\t.\t+\t.\tParent=transcript:D%d;Note=%s\n", start, start+99, i, note)
		fmt.Fprintf(&in, "1\tt\tCDS\t%d\t%d\t.\t+\t0\tParent=transcript:D%d;Note=%s\n", start+200, start+299, i, note)
		fmt.Fprintf(&in, "1\tt\tgene\t%d\t%d\t.\t+\t.\tID=gene:E%d;Name=EMPTY%d;Note=%s\n", start+2000, start+2999, i, i, note)
	}
	return in.Bytes()
}
