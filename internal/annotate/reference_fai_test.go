package annotate

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/format/fasta"
)

// writeIndexed writes seqs as a FASTA at path with lines of width
// bases ending in eol, and a .fai describing it as samtools faidx
// would. lastEOL is what ends the file's last line ("" for none).
func writeIndexed(t testing.TB, path string, names []string, seqs map[string][]byte, width int, eol, lastEOL string) {
	t.Helper()
	var fa, fai bytes.Buffer
	for i, name := range names {
		s := seqs[name]
		fmt.Fprintf(&fa, ">%s some description%s", name, eol)
		lb, lw := min(width, len(s)), min(width, len(s))+len(eol) // as samtools: a one-line sequence's line
		if i == len(names)-1 && len(s) <= width && lastEOL == "" {
			lw = lb + 1 // samtools counts one byte for a missing line end
		}
		fmt.Fprintf(&fai, "%s\t%d\t%d\t%d\t%d\n", name, len(s), fa.Len(), lb, lw)
		for j := 0; j < len(s); j += width {
			fa.Write(s[j:min(j+width, len(s))])
			if i == len(names)-1 && j+width >= len(s) {
				fa.WriteString(lastEOL)
			} else {
				fa.WriteString(eol)
			}
		}
	}
	if err := os.WriteFile(path, fa.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".fai", fai.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomBases(r *rand.Rand, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = "ACGTacgtN"[r.IntN(9)]
	}
	return s
}

// BenchmarkMappedAppendSeq reads through the .fai of a mapped 10 Mb
// FASTA as annotation does: REF-sized ranges (checkRef), exons
// (a transcript's bases) and single bases (csq's shifting).
func BenchmarkMappedAppendSeq(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 10_000_000
	fa := filepath.Join(b.TempDir(), "r.fa")
	writeIndexed(b, fa, []string{"c"}, map[string][]byte{"c": randomBases(r, n)}, 60, "\n", "\n")
	ref, err := LoadReference(fa)
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	starts := make([]int64, 4096)
	for i := range starts {
		starts[i] = 1 + r.Int64N(n-1000)
	}
	for _, size := range []int64{1, 3, 150, 1000} {
		b.Run(fmt.Sprint("append", size), func(b *testing.B) {
			var dst []byte
			i := 0
			for b.Loop() {
				s := starts[i%len(starts)]
				i++
				if dst, err = ref.AppendSeq(dst[:0], "c", s, s+size-1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("seq1", func(b *testing.B) {
		i := 0
		for b.Loop() {
			s := starts[i%len(starts)]
			i++
			if _, err := ref.Seq("c", s, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// checkAllRanges reads random ranges of every sequence of the indexed
// FASTA at fa through Seq and AppendSeq, and compares them with the
// whole-file parse.
func checkAllRanges(t *testing.T, fa string, r *rand.Rand) {
	t.Helper()
	want, err := fasta.LoadAll(fa)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := LoadReference(fa)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if ref.index == nil {
		t.Fatal("not read through the index")
	}
	for _, name := range ref.Names() {
		s := want[name]
		n := int64(len(s))
		for i := 0; i < 300; i++ {
			start := 1 + r.Int64N(n)
			end := start + r.Int64N(min(n-start+1, 200))
			if i == 0 {
				start, end = 1, n
			}
			got, err := ref.Seq(name, start, end)
			if err != nil || !bytes.EqualFold(got, s[start-1:end]) { // LoadAll upper-cases
				t.Fatalf("%s: Seq %s:%d-%d = %q, %v; want %q", fa, name, start, end, got, err, s[start-1:end])
			}
			app, err := ref.AppendSeq([]byte("x"), name, start, end)
			if err != nil || !bytes.EqualFold(app, append([]byte("x"), s[start-1:end]...)) {
				t.Fatalf("%s: AppendSeq %s:%d-%d = %q, %v", fa, name, start, end, app, err)
			}
		}
		if _, err := ref.Seq(name, n, n+1); err == nil || errors.Is(err, ErrStaleIndex) {
			t.Fatalf("past the end of %s: %v", name, err)
		}
	}
}

// TestReferenceFaiReads: ranges read through a .fai equal the whole-file
// parse, for LF and CRLF lines, a last line with or without a line end,
// and sequences whose last line is short, full, or the only one.
func TestReferenceFaiReads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"chr1", "chr2", "chrM", "x"}
	seqs := map[string][]byte{"chr1": randomBases(r, 1234), "chr2": randomBases(r, 600), "chrM": randomBases(r, 17), "x": randomBases(r, 61)}
	for _, eol := range []string{"\n", "\r\n"} {
		for _, lastEOL := range []string{eol, ""} {
			for _, width := range []int{60, 7, 1} {
				fa := filepath.Join(t.TempDir(), "r.fa")
				writeIndexed(t, fa, names, seqs, width, eol, lastEOL)
				checkAllRanges(t, fa, r)
			}
		}
	}
}

// TestReferenceFaiSamtools: writeIndexed writes the .fai samtools faidx
// writes, and what samtools indexes (empty sequences left out of the
// index, CRLF, no final line end) reads as the whole-file parse does.
// Skipped without samtools.
func TestReferenceFaiSamtools(t *testing.T) {
	if _, err := exec.LookPath("samtools"); err != nil {
		t.Skip("no samtools")
	}
	r := rand.New(rand.NewPCG(5, 6))
	names := []string{"a", "b", "c"}
	seqs := map[string][]byte{"a": randomBases(r, 130), "b": randomBases(r, 60), "c": randomBases(r, 7)}
	for _, eol := range []string{"\n", "\r\n"} {
		for _, lastEOL := range []string{eol, ""} {
			fa := filepath.Join(t.TempDir(), "r.fa")
			writeIndexed(t, fa, names, seqs, 60, eol, lastEOL)
			ours, err := os.ReadFile(fa + ".fai")
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("samtools", "faidx", fa).CombinedOutput(); err != nil {
				t.Fatalf("samtools faidx: %v: %s", err, out)
			}
			theirs, err := os.ReadFile(fa + ".fai")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("eol %q, last %q: .fai\n%s\nsamtools wrote\n%s", eol, lastEOL, ours, theirs)
			}
		}
	}
	fa := filepath.Join(t.TempDir(), "e.fa")
	if err := os.WriteFile(fa, []byte(">a d\r\nACGTA\r\nACG\r\n>empty\r\n>b\r\nAC\r\nGT\r\n\r\n>c\r\nAAAAA\r\nCC"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("samtools", "faidx", fa).CombinedOutput(); err != nil {
		t.Fatalf("samtools faidx: %v: %s", err, out)
	}
	checkAllRanges(t, fa, r)
}

// TestReferenceFaiStale: a FASTA edited after it was indexed, or beside
// another file's .fai, is refused at load with the index, the sequence
// and the remedy named; an edit that leaves every sequence's extent as
// it was (one line longer, a later one shorter) passes the load but
// every read of a line it moved is refused, and reads of lines in place
// still succeed. Never are shifted bases returned.
func TestReferenceFaiStale(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	names := []string{"a", "b", "c"}
	seqs := map[string][]byte{"a": randomBases(r, 150), "b": randomBases(r, 61), "c": randomBases(r, 300)}
	// edit the FASTA text: line is 1-based in the file (headers count).
	editLine := func(line int, f func([]byte) []byte) func([]byte) []byte {
		return func(fa []byte) []byte {
			lines := bytes.SplitAfter(fa, []byte("\n"))
			lines[line-1] = f(bytes.Clone(lines[line-1]))
			return bytes.Join(lines, nil)
		}
	}
	longer := func(l []byte) []byte { return append([]byte{'G'}, l...) }
	shorter := func(l []byte) []byte { return l[1:] }
	other := filepath.Join(t.TempDir(), "other.fa")
	writeIndexed(t, other, []string{"a", "b", "c"}, map[string][]byte{"a": seqs["a"], "b": randomBases(r, 70), "c": seqs["c"]}, 60, "\n", "\n")
	// File lines: 1 >a, 2-4 a, 5 >b, 6-7 b, 8 >c, 9-13 c.
	for _, c := range []struct {
		name     string
		edit     func(fa []byte) []byte
		otherFai bool
		loadErr  string // in the load error; "" when the load passes
	}{
		{"line 2 one base longer", editLine(2, longer), false, "sequence a"},
		{"line 3 one base shorter", editLine(3, shorter), false, "sequence a"},
		{"last line of a longer", editLine(4, longer), false, "sequence a"},
		{"only line of b shorter", editLine(6, shorter), false, "sequence b"},
		{"line 2 of c longer", editLine(10, longer), false, "sequence c"},
		{"line 2 of c shorter", editLine(10, shorter), false, "sequence c"},
		{"last line of c longer", editLine(13, longer), false, "sequence c"},
		{"last line of c shorter", editLine(13, shorter), false, "sequence c"},
		{"a header renamed", editLine(5, func([]byte) []byte { return []byte(">B\n") }), false, "sequence b"},
		{"a sequence appended", func(fa []byte) []byte { return append(fa, ">d\nACGT\n"...) }, false, "goes on after the last sequence"},
		{"another file's .fai", nil, true, "sequence b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fa := filepath.Join(t.TempDir(), "r.fa")
			writeIndexed(t, fa, names, seqs, 60, "\n", "\n")
			if c.edit != nil {
				text, err := os.ReadFile(fa)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(fa, c.edit(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if c.otherFai {
				b, err := os.ReadFile(other + ".fai")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(fa+".fai", b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ref, err := LoadReference(fa)
			if err == nil {
				ref.Close()
			}
			if !errors.Is(err, ErrStaleIndex) {
				t.Fatalf("load: %v", err)
			}
			for _, s := range []string{fa + ".fai", c.loadErr, "samtools faidx " + fa} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("load error does not say %q: %v", s, err)
				}
			}
		})
	}

	// One line of c longer and a later one shorter: every extent is as
	// indexed, the lines between have moved (line 1 and 5 have not).
	fa := filepath.Join(t.TempDir(), "r.fa")
	writeIndexed(t, fa, names, seqs, 60, "\n", "\n")
	text, err := os.ReadFile(fa)
	if err != nil {
		t.Fatal(err)
	}
	text = editLine(12, shorter)(editLine(10, longer)(text)) // c's lines 2 and 4: bases 61-120 and 181-240
	if err := os.WriteFile(fa, text, 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := LoadReference(fa)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, c := range []struct {
		start, end int64
		ok         bool
	}{
		{1, 60, true}, {60, 60, true}, {60, 61, false}, {61, 61, false}, {70, 75, false}, {100, 130, false},
		{150, 150, false}, {200, 200, false}, {240, 240, false}, {241, 241, true}, {250, 300, true}, {240, 241, false},
	} {
		for _, read := range []string{"Seq", "AppendSeq"} {
			var got []byte
			var err error
			if read == "Seq" {
				got, err = ref.Seq("c", c.start, c.end)
			} else {
				got, err = ref.AppendSeq(nil, "c", c.start, c.end)
			}
			want := seqs["c"][c.start-1 : c.end]
			switch {
			case c.ok && (err != nil || !bytes.Equal(got, want)):
				t.Errorf("%s c:%d-%d = %q, %v; want %q", read, c.start, c.end, got, err, want)
			case !c.ok && !errors.Is(err, ErrStaleIndex):
				t.Errorf("%s c:%d-%d = %q, %v; want an error (stale index)", read, c.start, c.end, got, err)
			case !c.ok:
				for _, s := range []string{fa + ": c:", fa + ".fai", "samtools faidx " + fa} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("%s c:%d-%d: error does not say %q: %v", read, c.start, c.end, s, err)
					}
				}
			}
		}
	}
}

// TestReferenceFaiReview: cases a second reading found. A CRLF FASTA
// whose last line lost a base under its old .fai would hand out the
// carriage return as a base; a .fai with absurd numbers made offsets
// overflow (a panic); both are refused now.
func TestReferenceFaiReview(t *testing.T) {
	dir := t.TempDir()
	fa := filepath.Join(dir, "crlf.fa")
	if err := os.WriteFile(fa, []byte(">a\r\nACGTA\r\nC\r\n"), 0o644); err != nil { // was ACGTA / CG
		t.Fatal(err)
	}
	if err := os.WriteFile(fa+".fai", []byte("a\t7\t4\t5\t7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ref, err := LoadReference(fa); err == nil {
		s, err := ref.Seq("a", 1, 7)
		ref.Close()
		if !errors.Is(err, ErrStaleIndex) {
			t.Errorf("CRLF, last line shortened: %q %v", s, err)
		}
	} else if !errors.Is(err, ErrStaleIndex) {
		t.Errorf("CRLF, last line shortened: %v", err)
	}
	huge := filepath.Join(dir, "huge.fa")
	if err := os.WriteFile(huge, []byte(">a\nA\nC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, fai := range []string{"a\t4611686018427387904\t3\t1\t2\n", "a\t2\t3\t1\t4611686018427387904\n"} {
		if err := os.WriteFile(huge+".fai", []byte(fai), 0o644); err != nil {
			t.Fatal(err)
		}
		if ref, err := LoadReference(huge); err == nil { // refused (by the .fai reader or as stale), not a panic
			ref.Close()
			t.Errorf("%q: loaded", fai)
		}
	}
}
