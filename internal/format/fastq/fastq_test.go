package fastq

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readAll(t testing.TB, data []byte) ([]Record, error) {
	r := NewReader(bytes.NewReader(data), "in.fastq")
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, Record{Name: bytes.Clone(rec.Name), Comment: bytes.Clone(rec.Comment), Seq: bytes.Clone(rec.Seq), Qual: bytes.Clone(rec.Qual)})
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadRealRecords(t *testing.T) {
	recs, err := readAll(t, fixture(t, "na12878_R1_3reads.fastq"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	if got := string(recs[0].Name); got != "HSQ1004:134:C0D8DACXX:1:1304:7855:18692" {
		t.Errorf("name %q", got)
	}
	if len(recs[0].Seq) != 101 || len(recs[0].Qual) != 101 {
		t.Errorf("lengths %d/%d, want 101", len(recs[0].Seq), len(recs[0].Qual))
	}
}

func TestVariants(t *testing.T) {
	for name, in := range map[string]string{
		"CRLF line endings":       "@r1 1:N:0:ACGT\r\nACGN\r\n+\r\nIIII\r\n",
		"no final newline":        "@r1\nACGT\n+\nIIII",
		"repeated name after '+'": "@r1\nACGT\n+r1\nIIII\n",
		"trailing blank lines":    "@r1\nACGT\n+\nIIII\n\n\n",
		"empty read":              "@r1\n\n+\n\n",
		"lower-case and IUPAC":    "@r1\nacgtRYN.\n+\nIIIIIIII\n",
	} {
		recs, err := readAll(t, []byte(in))
		if err != nil || len(recs) != 1 || string(recs[0].Name) != "r1" {
			t.Errorf("%s: %d records, err %v", name, len(recs), err)
		}
	}
	recs, _ := readAll(t, []byte("@r1 1:N:0:ACGT\nA\n+\nI\n"))
	if string(recs[0].Comment) != "1:N:0:ACGT" {
		t.Errorf("comment %q", recs[0].Comment)
	}
}

// TestErrors checks the error and the line it names for each malformation.
func TestErrors(t *testing.T) {
	good := "@r1\nACGT\n+\nIIII\n"
	cases := []struct {
		name string
		in   string
		want error
		line int
	}{
		{"FASTA instead of FASTQ", ">chr20\nACGT\n+\nIIII\n", ErrNotFASTQ, 1},
		{"second record without '@'", good + "r2\nACGT\n+\nIIII\n", ErrNotFASTQ, 5},
		{"missing plus line", good + "@r2\nACGT\nIIII\n@r3\n", ErrNoPlus, 7},
		{"quality shorter than sequence", good + "@r2\nACGT\n+\nIII\n", ErrQualLen, 8},
		{"quality longer (multi-line FASTQ)", "@r1\nACGT\nAC\n+\nIIIIII\n", ErrNoPlus, 3},
		{"space in sequence", "@r1\nAC T\n+\nIIII\n", ErrBadBase, 2},
		{"digit in sequence", "@r1\nAC1T\n+\nIIII\n", ErrBadBase, 2},
		{"control char in quality", "@r1\nACGT\n+\nII\x01I\n", ErrBadQual, 4},
		{"space in quality", "@r1\nACGT\n+\nI II\n", ErrBadQual, 4},
		{"empty name", "@\nACGT\n+\nIIII\n", ErrNoName, 1},
		{"name is only a comment", "@ comment\nACGT\n+\nIIII\n", ErrNoName, 1},
		{"ends after header", good + "@r2\n", ErrTruncated, 5},
		{"ends after plus", good + "@r2\nACGT\n+\n", ErrTruncated, 7},
		{"blank line between records", good + "\n" + good, nil, 5},
		{"line too long", "@r1\n" + strings.Repeat("A", 2<<20) + "\n+\nI\n", ErrLongLine, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readAll(t, []byte(c.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err %v (%T), want *ParseError", err, err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
			if pe.Line != c.line || pe.File != "in.fastq" {
				t.Errorf("error at %s line %d, want in.fastq line %d (%v)", pe.File, pe.Line, c.line, err)
			}
			if !strings.Contains(err.Error(), "in.fastq") {
				t.Errorf("message %q does not name the file", err)
			}
		})
	}
}

func TestMateName(t *testing.T) {
	for in, want := range map[string]string{"r/1": "r", "r/2": "r", "r/3": "r/3", "r": "r", "/1": "", "a/12": "a/12"} {
		if got := string(MateName([]byte(in))); got != want {
			t.Errorf("MateName(%q) = %q, want %q", in, got, want)
		}
	}
}

func gz(t *testing.T, path string, data []byte) {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSplitTo(t *testing.T) {
	dir := t.TempDir()
	r1, r2 := filepath.Join(dir, "R1.fastq.gz"), filepath.Join(dir, "R2.fastq")
	gz(t, r1, fixture(t, "na12878_R1_3reads.fastq"))
	os.WriteFile(r2, fixture(t, "na12878_R2_3reads.fastq"), 0o644)
	out1 := []string{filepath.Join(dir, "a1"), filepath.Join(dir, "b1")}
	out2 := []string{filepath.Join(dir, "a2"), filepath.Join(dir, "b2")}
	st, err := SplitTo(context.Background(), r1, r2, out1, out2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reads != 6 || st.Bases != 6*101 {
		t.Errorf("stats %+v, want 6 reads, 606 bases", st)
	}
	counts := map[string]int{}
	for _, p := range append(out1, out2...) {
		b, _ := os.ReadFile(p)
		got, err := readAll(t, b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		counts[filepath.Base(p)] = len(got)
	}
	if counts["a1"] != 2 || counts["b1"] != 1 || counts["a2"] != 2 || counts["b2"] != 1 {
		t.Errorf("chunk sizes %v, want round-robin 2/1", counts)
	}
	// Mates stay together: chunk b holds the second pair in both files.
	b1, _ := os.ReadFile(out1[1])
	b2, _ := os.ReadFile(out2[1])
	n1, _ := readAll(t, b1)
	n2, _ := readAll(t, b2)
	if !bytes.Equal(n1[0].Name, n2[0].Name) {
		t.Errorf("chunk b: %s vs %s", n1[0].Name, n2[0].Name)
	}
}

func TestSplitToErrors(t *testing.T) {
	dir := t.TempDir()
	r1 := filepath.Join(dir, "R1.fastq")
	os.WriteFile(r1, fixture(t, "na12878_R1_3reads.fastq"), 0o644)
	r2 := fixture(t, "na12878_R2_3reads.fastq")
	lines := strings.SplitAfter(string(r2), "\n")
	swapped := strings.Join(append(append([]string{}, lines[:4]...), append([]string{"@other\n"}, lines[5:]...)...), "")
	cases := []struct {
		name, file, content string
		want                []string
	}{
		{"fewer", "few_R2.fastq", strings.Join(lines[:8], ""), []string{"few_R2.fastq has fewer reads", "ends after 2 reads"}},
		{"more", "more_R2.fastq", string(r2) + strings.Join(lines[:4], ""), []string{"R1.fastq has fewer reads"}},
		{"mismatch", "sw_R2.fastq", swapped, []string{"sw_R2.fastq: line 5", "read 2", "other"}},
		{"empty", "empty_R2.fastq", "", []string{"empty_R2.fastq has fewer reads"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.file)
			os.WriteFile(p, []byte(c.content), 0o644)
			_, err := SplitTo(context.Background(), r1, p, []string{filepath.Join(dir, "o1")}, []string{filepath.Join(dir, "o2")})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
		})
	}
	empty := filepath.Join(dir, "none.fastq")
	os.WriteFile(empty, nil, 0o644)
	if _, err := SplitTo(context.Background(), empty, "", []string{filepath.Join(dir, "o")}, nil); !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "none.fastq") {
		t.Errorf("empty single-end input: %v", err)
	}
	trunc := filepath.Join(dir, "trunc.fastq.gz")
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(bytes.Repeat(fixture(t, "na12878_R1_3reads.fastq"), 200))
	w.Close()
	os.WriteFile(trunc, b.Bytes()[:b.Len()/2], 0o644)
	if _, err := SplitTo(context.Background(), trunc, "", []string{filepath.Join(dir, "o")}, nil); err == nil || !strings.Contains(err.Error(), "trunc.fastq.gz") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated gzip: %v", err)
	}
}

// FuzzReader: no input makes the reader panic or hang; records it returns
// are consistent, and errors name the file and a line.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"na12878_R1_3reads.fastq", "na12878_R2_3reads.fastq"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("@r\nA\n+\nI\n"))
	f.Add([]byte(">chr\nACGT\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz.fastq")
		for range len(data) + 1 {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.fastq") {
					t.Fatalf("error without the file name: %v", err)
				}
				return
			}
			if len(rec.Name) == 0 || len(rec.Seq) != len(rec.Qual) {
				t.Fatalf("inconsistent record %+v", rec)
			}
		}
		t.Fatal("reader did not stop")
	})
}
