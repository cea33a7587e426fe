package bed

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readAll(data string) ([]Interval, error) {
	r := NewReader(strings.NewReader(data), "t.bed")
	var out []Interval
	for {
		iv, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, iv)
	}
}

func TestRealFile(t *testing.T) {
	ivs, err := ReadFile("testdata/giab_confident_chr20.bed")
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 11 || ivs[0] != (Interval{Chrom: "chr20", Start: 10000846, End: 10002407, Line: 1}) {
		t.Errorf("%d intervals, first %+v", len(ivs), ivs[0])
	}
}

func TestParse(t *testing.T) {
	ivs, err := readAll("track name=x\nbrowser position chr1\n# comment\n\nchr1\t0\t10\tgeneA\t0\t+\r\nchr2 5 6\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Interval{{Chrom: "chr1", Start: 0, End: 10, Name: "geneA", Line: 5}, {Chrom: "chr2", Start: 5, End: 6, Line: 6}}
	if len(ivs) != 2 || ivs[0] != want[0] || ivs[1] != want[1] {
		t.Errorf("got %+v, want %+v", ivs, want)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"two columns", "chr1\t5\n", "t.bed: line 1: need at least 3 columns"},
		{"start not a number", "chr1\t0\t9\nchr1\tfive\t9\n", `t.bed: line 2: start "five"`},
		{"negative start", "chr1\t-1\t9\n", `line 1: start "-1"`},
		{"end before start", "chr1\t9\t5\n", "line 1: end 5 is before start 9"},
		{"end not a number", "chr1\t1\t9.5\n", `line 1: end "9.5"`},
		{"empty chromosome", "\t1\t9\n", "line 1: empty chromosome"},
		{"huge line", "chr1\t1\t" + strings.Repeat("9", 2<<20) + "\n", "line 1: line longer"},
	}
	for _, c := range cases {
		_, err := readAll(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	p := filepath.Join(t.TempDir(), "only-comments.bed")
	os.WriteFile(p, []byte("# nothing\n"), 0o644)
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), "only-comments.bed: no intervals") {
		t.Errorf("empty BED: %v", err)
	}
}

func TestMergeAndLength(t *testing.T) {
	in := []Interval{{Chrom: "b", Start: 5, End: 9}, {Chrom: "a", Start: 10, End: 20}, {Chrom: "b", Start: 0, End: 5}, {Chrom: "a", Start: 15, End: 30}, {Chrom: "a", Start: 40, End: 40}}
	got := Merge(in)
	want := []Interval{{Chrom: "b", Start: 0, End: 9}, {Chrom: "a", Start: 10, End: 30}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Merge = %+v, want %+v", got, want)
	}
	if n := TotalLength(in); n != 29 {
		t.Errorf("TotalLength = %d, want 29", n)
	}
}

func TestCheckContigs(t *testing.T) {
	ivs, _ := readAll("chr20\t0\t100\nchr99\t1\t100\nchr20\t0\t2000\n")
	err := CheckContigs(ivs, map[string]int64{"chr20": 1000}, "targets.bed")
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`targets.bed: line 2: contig "chr99" is not in the reference`, "targets.bed: line 3: end 2000 is beyond the end of chr20 (1000 bases)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if err := CheckContigs(ivs[:1], map[string]int64{"chr20": 1000}, "t.bed"); err != nil {
		t.Errorf("valid intervals: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	b, err := os.ReadFile("testdata/giab_confident_chr20.bed")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("track x\nchr1 0 1 n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz.bed")
		for range len(data) + 1 {
			iv, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.bed") {
					t.Fatalf("error without the file name: %v", err)
				}
				return
			}
			if iv.Chrom == "" || iv.Start < 0 || iv.End < iv.Start || iv.Line < 1 {
				t.Fatalf("accepted an invalid interval %+v", iv)
			}
		}
		t.Fatal("reader did not stop")
	})
}
