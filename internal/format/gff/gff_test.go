package gff

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format"
)

func readAll(t *testing.T, r *Reader) []*Record {
	t.Helper()
	var out []*Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c := *rec // Next reuses the record and its attribute slices
		c.Attributes = nil
		for _, a := range rec.Attributes {
			c.Attributes = append(c.Attributes, Attribute{Key: a.Key, Values: slices.Clone(a.Values)})
		}
		out = append(out, &c)
	}
}

func TestGFF3Attributes(t *testing.T) {
	in := "##gff-version 3\n" +
		"chr1\tsrc\tmRNA\t10\t20\t.\t-\t.\tID=rna1;Parent=g1,g2;Name=a%3Bb%2Cc;tag=MANE Select\n" +
		"chr1\tsrc\tCDS\t10\t12\t.\t-\t2\tParent=rna1\n" +
		"##FASTA\n>x\nACGT\n"
	recs := readAll(t, NewReader(strings.NewReader(in), "t.gff3", Auto))
	if len(recs) != 2 {
		t.Fatalf("got %d records", len(recs))
	}
	r := recs[0]
	if r.Seqid != "chr1" || r.Type != "mRNA" || r.Start != 10 || r.End != 20 || r.Strand != '-' || r.Phase != -1 || r.Line != 2 {
		t.Errorf("record %+v", r)
	}
	if got := r.Values("Parent"); len(got) != 2 || got[1] != "g2" {
		t.Errorf("Parent %q", got)
	}
	if r.Attr("Name") != "a;b,c" || !r.HasValue("tag", "MANE Select") {
		t.Errorf("attributes %+v", r.Attributes)
	}
	if recs[1].Phase != 2 {
		t.Errorf("phase %d", recs[1].Phase)
	}
}

func TestGTFAttributes(t *testing.T) {
	in := "1\tens\ttranscript\t5\t9\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\"; tag \"basic\"; tag \"MANE_Select\"; level 2;\n"
	r := NewReader(strings.NewReader(in), "t.gtf", Auto)
	recs := readAll(t, r)
	if r.Dialect() != GTF {
		t.Fatalf("dialect %v", r.Dialect())
	}
	rec := recs[0]
	if rec.Attr("transcript_id") != "T1" || rec.Attr("level") != "2" {
		t.Errorf("attributes %+v", rec.Attributes)
	}
	if tags := rec.Values("tag"); len(tags) != 2 || tags[1] != "MANE_Select" {
		t.Errorf("tags %q", tags)
	}
}

func TestErrors(t *testing.T) {
	ok := "c\ts\texon\t1\t5\t.\t+\t.\tID=a\n"
	cases := []struct {
		name, in string
		d        Dialect
		line     int
		col      int
		err      error
	}{
		{"eight columns", ok + "c\ts\texon\t1\t5\t.\t+\t.\n", Auto, 2, 0, ErrFieldCount},
		{"ten columns", "c\ts\texon\t1\t5\t.\t+\t.\tID=a\tx\n", Auto, 1, 0, ErrFieldCount},
		{"start zero", ok + "#c\nc\ts\texon\t0\t5\t.\t+\t.\tID=a\n", Auto, 3, 4, ErrCoordinate},
		{"negative start of a gene", "c\ts\tgene\t-5\t5\t.\t+\t.\tID=a\n", Auto, 1, 4, ErrCoordinate},
		{"end before start", "c\ts\texon\t9\t5\t.\t+\t.\tID=a\n", Auto, 1, 5, ErrCoordinate},
		{"end past any chromosome", "c\ts\tgene\t1\t10000000000000\t.\t+\t.\tID=a\n", Auto, 1, 5, ErrCoordinate},
		{"strand", "c\ts\texon\t1\t5\t.\tx\t.\tID=a\n", Auto, 1, 7, ErrStrand},
		{"phase", "c\ts\tCDS\t1\t5\t.\t+\t3\tID=a\n", Auto, 1, 8, ErrPhase},
		{"no equals", "c\ts\texon\t1\t5\t.\t+\t.\tID\n", GFF3, 1, 9, ErrAttribute},
		{"bad escape", "c\ts\texon\t1\t5\t.\t+\t.\tID=a%zz\n", GFF3, 1, 9, ErrAttribute},
		{"gtf quote", "c\ts\texon\t1\t5\t.\t+\t.\tgene_id \"x\n", GTF, 1, 9, ErrAttribute},
		{"empty seqid", "\ts\texon\t1\t5\t.\t+\t.\tID=a\n", Auto, 1, 1, ErrEmptyField},
		{"long line", "c\ts\texon\t1\t5\t.\t+\t.\tID=" + strings.Repeat("a", 300) + "\n", Auto, 1, 0, ErrLineLength},
	}
	defer func(n int) { MaxLine = n }(MaxLine)
	MaxLine = 200
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(c.in), "x.gff", c.d)
			var err error
			for err == nil {
				_, err = r.Next()
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
			if pe.Line != c.line || pe.Column != c.col || pe.File != "x.gff" {
				t.Errorf("position %s:%d:%d, want line %d column %d", pe.File, pe.Line, pe.Column, c.line, c.col)
			}
			if _, again := r.Next(); again != err {
				t.Errorf("error not sticky: %v", again)
			}
		})
	}
}

func TestRealFiles(t *testing.T) {
	for _, name := range []string{"ensembl_tlr8.gff3", "gencode_head.gtf", "refseq_head.gff3", "negative_chromosome_start.gff3"} {
		f, err := format.OpenFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(f, name, Auto)
		r.ClampStart = strings.HasPrefix(name, "negative")
		recs := readAll(t, r)
		f.Close()
		if len(recs) < 5 {
			t.Errorf("%s: %d records", name, len(recs))
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, name := range []string{"ensembl_tlr8.gff3", "gencode_head.gtf", "refseq_head.gff3", "negative_chromosome_start.gff3"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz.gff", Auto)
		for range len(data) + 2 {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.gff") {
					t.Fatalf("error without the file name: %v", err)
				}
				return
			}
			if rec.Start < 1 || rec.End < rec.Start || rec.Seqid == "" || rec.Phase > 2 {
				t.Fatalf("accepted an invalid record %+v", rec)
			}
		}
		t.Fatal("reader did not stop")
	})
}

// stuttering returns (0, nil) before every byte it gives.
type stuttering struct {
	r     io.Reader
	empty bool
}

func (s *stuttering) Read(p []byte) (int, error) {
	if s.empty = !s.empty; s.empty {
		return 0, nil
	}
	return s.r.Read(p[:min(len(p), 1)])
}

// TestEmptyReads: reads that return nothing now and then do not stop
// the reader (only 100 in a row do, as in bufio).
func TestEmptyReads(t *testing.T) {
	line := "1\tt\tgene\t1\t1000\t.\t+\t.\tID=gene:G1;Note=" + strings.Repeat("x", 300) + "\n"
	recs := readAll(t, NewReader(&stuttering{r: strings.NewReader("##gff-version 3\n" + line)}, "s.gff3", Auto))
	if len(recs) != 1 || recs[0].Attr("ID") != "gene:G1" {
		t.Fatalf("%d records", len(recs))
	}
	_, err := NewReader(readerFunc(func([]byte) (int, error) { return 0, nil }), "z.gff3", Auto).Next()
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("a reader that never gives anything: %v", err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
