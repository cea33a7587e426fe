// Package reference prepares a reference genome once — an uncompressed copy,
// samtools faidx, bwa index and a BED of its called (non-N) stretches — and
// keeps it under the data directory keyed by the FASTA's content hash, so
// every later run reuses it.
package reference

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/format"
	"github.com/clinomics/clinomics/internal/format/fasta"
)

// Reference is a prepared reference.
type Reference struct {
	Dir     string    `json:"-"`
	SHA256  string    `json:"sha256"` // of the uncompressed FASTA
	Source  string    `json:"source"` // path it was added from (informational)
	Contigs []Contig  `json:"contigs"`
	Created time.Time `json:"created"`
}

// Contig is one sequence of the reference.
type Contig struct {
	Name   string `json:"name"`
	Length int64  `json:"length"`
}

// FASTA is the path of the prepared, uncompressed FASTA (indexed by
// samtools faidx and bwa index alongside).
func (r *Reference) FASTA() string { return filepath.Join(r.Dir, "ref.fa") }

// CalledBED is a BED of the reference's stretches without N, the space
// that whole-genome calling and coverage are measured over.
func (r *Reference) CalledBED() string { return filepath.Join(r.Dir, "called.bed") }

// ContigLengths maps contig name to length.
func (r *Reference) ContigLengths() map[string]int64 {
	m := make(map[string]int64, len(r.Contigs))
	for _, c := range r.Contigs {
		m[c.Name] = c.Length
	}
	return m
}

// IndexFiles lists every file a run reads besides the FASTA itself.
func (r *Reference) IndexFiles() []string {
	fa := r.FASTA()
	return []string{fa + ".fai", fa + ".amb", fa + ".ann", fa + ".bwt", fa + ".pac", fa + ".sa"}
}

const manifestName = "reference.json"

// Store keeps prepared references under Root.
type Store struct {
	Root string
	// Log receives progress lines (may be nil).
	Log io.Writer
}

// ErrNotFASTA is wrapped when the file given as a reference is not FASTA.
var ErrNotFASTA = errors.New("not a FASTA file")

// Add prepares the FASTA at path (plain or gzip/bgzip) unless a reference
// with the same content is already prepared, and returns it. Preparation
// happens in a temporary directory renamed into place at the end, so a
// crash never leaves a half-prepared reference that looks ready.
func (s *Store) Add(ctx context.Context, path string) (*Reference, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("reference %s: %w", path, err)
	}
	if err := os.MkdirAll(s.Root, 0o750); err != nil {
		return nil, err
	}
	// A read-only pass validates and hashes; a prepared copy ends here.
	sum, _, err := copyFASTA(path, "")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Root, sum[:16])
	if ref, err := Open(dir); err == nil {
		return ref, nil
	}
	tmp, err := os.MkdirTemp(s.Root, ".adding-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	sum2, contigs, err := copyFASTA(path, filepath.Join(tmp, "ref.fa"))
	if err != nil {
		return nil, err
	}
	if sum2 != sum {
		return nil, fmt.Errorf("reference %s changed while it was being added", path)
	}
	s.logf("preparing reference %s (%d contigs): samtools faidx, bwa index", filepath.Base(path), len(contigs))
	fa := filepath.Join(tmp, "ref.fa")
	if err := runTool(ctx, tmp, "samtools", "faidx", fa); err != nil {
		return nil, err
	}
	if err := checkIndex(fa+".fai", contigs); err != nil {
		return nil, err
	}
	if err := runTool(ctx, tmp, "bwa", "index", fa); err != nil {
		return nil, err
	}
	if err := writeCalledBED(fa, filepath.Join(tmp, "called.bed")); err != nil {
		return nil, err
	}
	ref := &Reference{SHA256: sum, Source: path, Contigs: contigs, Created: time.Now().UTC()}
	b, err := json.MarshalIndent(ref, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, manifestName), append(b, '\n'), 0o640); err != nil {
		return nil, err
	}
	os.RemoveAll(dir) // a stale, incomplete directory from a crash
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	ref.Dir = dir
	return ref, nil
}

func (s *Store) logf(format string, a ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", a...)
	}
}

// Open loads a prepared reference directory; it fails unless the manifest
// (written last) and every index file exist.
func Open(dir string) (*Reference, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	var ref Reference
	if err := json.Unmarshal(b, &ref); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, manifestName), err)
	}
	ref.Dir = dir
	for _, p := range append([]string{ref.FASTA(), ref.CalledBED()}, ref.IndexFiles()...) {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("prepared reference %s is incomplete: %w", dir, err)
		}
	}
	return &ref, nil
}

// copyFASTA streams src into dst (none when dst is empty) uncompressed and
// normalised to 60 columns, validating it as FASTA, and returns the sha256
// of those bytes and the contigs.
func copyFASTA(src, dst string) (string, []Contig, error) {
	in, err := format.OpenFile(src)
	if err != nil {
		return "", nil, fmt.Errorf("reference %s: %w", src, err)
	}
	defer in.Close()
	h := sha256.New()
	var sink io.Writer = h
	var out *os.File
	if dst != "" {
		if out, err = os.Create(dst); err != nil {
			return "", nil, err
		}
		defer out.Close()
		sink = io.MultiWriter(out, h)
	}
	w := bufio.NewWriterSize(sink, 1<<20)
	r := fasta.NewReader(in, src)
	var contigs []Contig
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("reference: %w", err)
		}
		contigs = append(contigs, Contig{Name: rec.Name, Length: int64(len(rec.Seq))})
		fmt.Fprintf(w, ">%s\n", rec.Name)
		for i := 0; i < len(rec.Seq); i += 60 {
			w.Write(rec.Seq[i:min(i+60, len(rec.Seq))])
			w.WriteByte('\n')
		}
	}
	if len(contigs) == 0 {
		return "", nil, fmt.Errorf("reference %s: %w: no sequences", src, ErrNotFASTA)
	}
	if err := w.Flush(); err != nil {
		return "", nil, err
	}
	if out != nil {
		if err := out.Sync(); err != nil {
			return "", nil, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), contigs, nil
}

// writeCalledBED writes the stretches of at least 1 kb without N. Shorter
// runs of N inside sequence do not split a stretch.
func writeCalledBED(fa, dst string) error {
	in, err := os.Open(fa)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	r := fasta.NewReader(in, fa)
	const minGap = 1000
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		seq := rec.Seq
		start, lastBase := -1, -1
		for i, c := range seq {
			if c == 'N' || c == 'n' {
				continue
			}
			if start >= 0 && i-lastBase > minGap {
				fmt.Fprintf(w, "%s\t%d\t%d\n", rec.Name, start, lastBase+1)
				start = -1
			}
			if start < 0 {
				start = i
			}
			lastBase = i
		}
		if start >= 0 {
			fmt.Fprintf(w, "%s\t%d\t%d\n", rec.Name, start, lastBase+1)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return out.Sync()
}

// checkIndex verifies that samtools' .fai lists exactly the contigs we read.
func checkIndex(fai string, contigs []Contig) error {
	idx, err := fasta.ReadIndexFile(fai)
	if err != nil {
		return fmt.Errorf("samtools faidx wrote an unreadable index: %w", err)
	}
	if len(idx) != len(contigs) {
		return fmt.Errorf("%s lists %d contigs, the FASTA has %d", fai, len(idx), len(contigs))
	}
	for i, e := range idx {
		if e.Name != contigs[i].Name || e.Length != contigs[i].Length {
			return fmt.Errorf("%s: line %d: %s of %d bases, the FASTA has %s of %d", fai, e.Line, e.Name, e.Length, contigs[i].Name, contigs[i].Length)
		}
	}
	return nil
}

func runTool(ctx context.Context, dir, name string, args ...string) error {
	if _, err := exec.LookPath(name); err != nil {
		return fmt.Errorf("%s is not installed (Debian package %s): %w", name, name, err)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args[:1], " "), err, tail(stderr.String(), 10))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
