package annotate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync/atomic"

	"github.com/clinomics/clinomics/internal/annotate/csq"
	"github.com/clinomics/clinomics/internal/format/fasta"
)

// Reference serves reference bases: a plain FASTA with a .fai index is
// mapped into memory and read in place; any other FASTA (gzip, or no
// index) is read whole.
type Reference struct {
	seqs  map[string][]byte            // whole sequences, when read whole
	index map[string]*fasta.IndexEntry // when mapped
	data  []byte                       // the mapped file
	unmap func() error
	// last is the entry of index looked up last: callers annotating a
	// sorted VCF ask for one contig over and over.
	last atomic.Pointer[fasta.IndexEntry]
}

var _ csq.Reference = (*Reference)(nil)

// ErrNoSequence: the reference has no sequence of that name. Seq and
// AppendSeq wrap it, so a contig missing from the FASTA is told apart
// from a range past the end of one it has.
var ErrNoSequence = errors.New("sequence not in the reference")

// LoadReference opens a FASTA file (plain or gzip). Close releases it.
func LoadReference(path string) (*Reference, error) {
	if ref, err := mapIndexed(path); ref != nil || err != nil {
		return ref, err
	}
	seqs, err := fasta.LoadAll(path)
	if err != nil {
		return nil, err
	}
	return &Reference{seqs: seqs}, nil
}

// mapIndexed maps path when it is plain FASTA with a .fai beside it; nil
// and no error when it is not.
func mapIndexed(path string) (*Reference, error) {
	if _, err := os.Stat(path + ".fai"); err != nil {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [2]byte
	if n, _ := f.Read(magic[:]); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return nil, nil
	}
	entries, err := fasta.ReadIndexFile(path + ".fai")
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data, unmap, err := mapFile(f, st.Size())
	if err != nil || data == nil {
		return nil, err
	}
	r := &Reference{index: map[string]*fasta.IndexEntry{}, data: data, unmap: unmap}
	for _, e := range entries {
		// The last base must lie inside the file: a FASTA cut short
		// after its index was made would otherwise be read past its end.
		if e.Length > 0 && (e.LineBases <= 0 || e.LineWidth < e.LineBases || fileOffset(&e, e.Length-1) >= st.Size()) {
			unmap()
			return nil, fmt.Errorf("%s.fai: entry %s does not fit the FASTA (stale index?)", path, e.Name)
		}
		r.index[e.Name] = &e
	}
	return r, nil
}

// NewReference wraps sequences already in memory.
func NewReference(seqs map[string][]byte) *Reference { return &Reference{seqs: seqs} }

// Close releases a mapped file.
func (r *Reference) Close() error {
	if r.unmap != nil {
		return r.unmap()
	}
	return nil
}

// AppendSeq appends what Seq returns to dst.
func (r *Reference) AppendSeq(dst []byte, chrom string, start, end int64) ([]byte, error) {
	if r.index == nil {
		s, err := r.Seq(chrom, start, end)
		if err != nil {
			return dst, err
		}
		return append(dst, s...), nil
	}
	e := r.entry(chrom)
	if e == nil {
		return dst, fmt.Errorf("%w: %q", ErrNoSequence, chrom)
	}
	if start < 1 || end < start || end > e.Length {
		return dst, fmt.Errorf("%s:%d-%d is outside the reference (length %d)", chrom, start, end, e.Length)
	}
	n := len(dst)
	rest := r.data[fileOffset(e, start-1) : fileOffset(e, end-1)+1]
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest)
		}
		line := rest[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		dst = append(dst, line...)
		rest = rest[min(i+1, len(rest)):]
	}
	if int64(len(dst)-n) != end-start+1 {
		return dst[:n], fmt.Errorf("%s:%d-%d: the FASTA does not match its .fai index", chrom, start, end)
	}
	return dst, nil
}

// Seq returns bases start..end (1-based, inclusive) of chrom; outside the
// sequence, or on an unknown one, it is an error. Case is as in the file.
func (r *Reference) Seq(chrom string, start, end int64) ([]byte, error) {
	if r.index == nil {
		s, ok := r.seqs[chrom]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrNoSequence, chrom)
		}
		if start < 1 || end < start || end > int64(len(s)) {
			return nil, fmt.Errorf("%s:%d-%d is outside the reference (length %d)", chrom, start, end, len(s))
		}
		return s[start-1 : end], nil
	}
	e := r.entry(chrom)
	if e == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoSequence, chrom)
	}
	if start < 1 || end < start || end > e.Length {
		return nil, fmt.Errorf("%s:%d-%d is outside the reference (length %d)", chrom, start, end, e.Length)
	}
	a, b := fileOffset(e, start-1), fileOffset(e, end-1)+1
	if b-a == end-start+1 {
		return r.data[a:b], nil // within one line
	}
	out := make([]byte, 0, end-start+1)
	for _, c := range r.data[a:b] {
		if c != '\n' && c != '\r' {
			out = append(out, c)
		}
	}
	if int64(len(out)) != end-start+1 {
		return nil, fmt.Errorf("%s:%d-%d: the FASTA does not match its .fai index", chrom, start, end)
	}
	return bytes.Clone(out), nil
}

// Names lists the reference's sequences, sorted.
func (r *Reference) Names() []string {
	var out []string
	if r.index == nil {
		for n := range r.seqs {
			out = append(out, n)
		}
	} else {
		for n := range r.index {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// entry returns the index entry of chrom, nil when there is none.
func (r *Reference) entry(chrom string) *fasta.IndexEntry {
	if e := r.last.Load(); e != nil && e.Name == chrom {
		return e
	}
	e := r.index[chrom]
	if e != nil {
		r.last.Store(e)
	}
	return e
}

// renamedRef reads a Reference under other names: names maps a name
// asked for to the reference's own; any other name is asked as it is.
type renamedRef struct {
	ref   csq.Reference
	names map[string]string
}

var (
	_ csq.Reference = (*renamedRef)(nil)
	_ seqAppender   = (*renamedRef)(nil)
)

func (r *renamedRef) name(chrom string) string {
	if n, ok := r.names[chrom]; ok {
		return n
	}
	return chrom
}

// Seq is the reference's Seq of the sequence chrom names.
func (r *renamedRef) Seq(chrom string, start, end int64) ([]byte, error) {
	return r.ref.Seq(r.name(chrom), start, end)
}

// AppendSeq appends what Seq returns to dst.
func (r *renamedRef) AppendSeq(dst []byte, chrom string, start, end int64) ([]byte, error) {
	if ap, ok := r.ref.(seqAppender); ok {
		return ap.AppendSeq(dst, r.name(chrom), start, end)
	}
	s, err := r.ref.Seq(r.name(chrom), start, end)
	if err != nil {
		return dst, err
	}
	return append(dst, s...), nil
}

// fileOffset is the offset in the FASTA file of 0-based base p of e.
func fileOffset(e *fasta.IndexEntry, p int64) int64 {
	return e.Offset + p/e.LineBases*e.LineWidth + p%e.LineBases
}
