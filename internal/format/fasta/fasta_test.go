package fasta

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readAll(data []byte) ([]*Record, error) {
	r := NewReader(bytes.NewReader(data), "in.fa")
	var out []*Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

// TestRealFASTAMatchesIndex reads a real FASTA and checks it against the
// samtools .fai that came with it.
func TestRealFASTAMatchesIndex(t *testing.T) {
	fa, err := os.ReadFile("testdata/EDUMMY0001.fa")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(fa)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ReadIndexFile("testdata/EDUMMY0001.fa.fai")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(idx) {
		t.Fatalf("%d records, index lists %d", len(recs), len(idx))
	}
	for i, e := range idx {
		if recs[i].Name != e.Name || int64(len(recs[i].Seq)) != e.Length {
			t.Errorf("record %s of %d bases, index says %s of %d", recs[i].Name, len(recs[i].Seq), e.Name, e.Length)
		}
		// The index offset points at the first base.
		if got := fa[e.Offset : e.Offset+10]; !bytes.Equal(got, recs[i].Seq[:10]) {
			t.Errorf("offset %d reads %q", e.Offset, got)
		}
	}
}

func TestRecords(t *testing.T) {
	recs, err := readAll([]byte("\n>a desc here\r\nAC\r\ngt\n\n>b\n>c\nNN-*\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{Name: "a", Description: "desc here", Seq: []byte("ACgt")}, {Name: "b"}, {Name: "c", Seq: []byte("NN-*")}}
	if len(recs) != len(want) {
		t.Fatalf("%d records", len(recs))
	}
	for i, w := range want {
		if recs[i].Name != w.Name || recs[i].Description != w.Description || string(recs[i].Seq) != string(w.Seq) {
			t.Errorf("record %d = %+v, want %+v", i, recs[i], w)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
		line     string
	}{
		{"FASTQ, not FASTA", "@r1\nACGT\n+\nIIII\n", ErrNotFASTA, "line 1"},
		{"empty file", "", ErrNotFASTA, "empty"},
		{"digits in sequence", ">a\nACGT\nAC3T\n", ErrBadBase, "line 3"},
		{"header without name", ">a\nAC\n> x\nAC\n", ErrNoName, "line 3"},
		{"duplicate name", ">a\nAC\n>b\nA\n>a\nG\n", ErrDupName, "line 5"},
	}
	for _, c := range cases {
		_, err := readAll([]byte(c.in))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "in.fa") || !strings.Contains(err.Error(), c.line) {
			t.Errorf("%s: err %v, want %v at %s", c.name, err, c.want, c.line)
		}
	}
}

func TestLoadAll(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.fa")
	os.WriteFile(p, []byte(">x\nacgtN\n"), 0o644)
	m, err := LoadAll(p)
	if err != nil || string(m["x"]) != "ACGTN" {
		t.Errorf("LoadAll = %q, %v", m, err)
	}
}

func TestReadIndex(t *testing.T) {
	idx, err := ReadIndexFile("testdata/ucsc.hg19.chr20.fa.fai")
	if err != nil || len(idx) != 1 || idx[0].Length != 63025520 || idx[0].LineBases != 50 || idx[0].LineWidth != 51 {
		t.Fatalf("%+v %v", idx, err)
	}
	cases := []struct{ name, in, want string }{
		{"four columns", "chr1\t10\t6\t60\n", "line 1: need 5"},
		{"negative length", "chr1\t-1\t6\t60\t61\n", `length "-1"`},
		{"not a number", "chr1\t10\tsix\t60\t61\n", `offset "six"`},
		{"width < bases", "chr1\t10\t6\t60\t59\n", "linewidth 59"},
		{"zero line bases", "chr1\t10\t6\t0\t0\n", "linebases is 0"},
		{"duplicate", "a\t1\t3\t1\t2\na\t1\t9\t1\t2\n", "line 2"},
		{"empty", "", "empty index"},
		{"empty name", "\t1\t3\t1\t2\n", "empty sequence name"},
	}
	for _, c := range cases {
		_, err := ReadIndex(strings.NewReader(c.in), "ref.fa.fai")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "ref.fa.fai") {
			t.Errorf("%s: err %v, want it to mention %q and the file", c.name, err, c.want)
		}
	}
}

func seeds(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzReader(f *testing.F) {
	seeds(f, "EDUMMY0001.fa")
	f.Add([]byte(">a\nAC\n>b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz.fa")
		for range len(data) + 2 {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.fa") {
					t.Fatalf("error without the file name: %v", err)
				}
				return
			}
			if rec.Name == "" {
				t.Fatal("record without a name")
			}
		}
		t.Fatal("reader did not stop")
	})
}

func FuzzReadIndex(f *testing.F) {
	seeds(f, "EDUMMY0001.fa.fai", "ucsc.hg19.chr20.fa.fai")
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ReadIndex(bytes.NewReader(data), "fuzz.fai")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.fai") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, e := range idx {
			if e.Name == "" || e.Length < 0 || e.LineWidth < e.LineBases || (e.Length > 0 && e.LineBases == 0) {
				t.Fatalf("accepted an invalid entry %+v", e)
			}
		}
	})
}
