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
//
// A .fai says where each line of a sequence lies; a FASTA edited after
// it was indexed (a line made longer or shorter, a sequence added) no
// longer fits it, and bases read through it would be other bases. So
// the index is checked against the file when it is loaded (each entry's
// header, first line end and extent; no overlap; nothing after the last
// sequence) and every read checks the line ends of the lines it touches.
// A mismatch is an error wrapping ErrStaleIndex, never shifted bases.
type Reference struct {
	seqs  map[string][]byte            // whole sequences, when read whole
	index map[string]*fasta.IndexEntry // when mapped
	data  []byte                       // the mapped file
	path  string                       // of the FASTA, when mapped
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

// ErrStaleIndex: the FASTA's .fai index does not describe the file (the
// FASTA was changed after it was indexed, or the index is another
// file's). LoadReference wraps it when the index does not fit the file,
// Seq and AppendSeq when a line end is not where the index puts it. It
// is not a property of one record: a caller should stop, not skip.
var ErrStaleIndex = errors.New("the FASTA does not match its .fai index (stale index?)")

// LoadReference opens a FASTA file (plain or gzip). Close releases it.
// A .fai beside a plain FASTA that does not fit it is an error wrapping
// ErrStaleIndex naming the index and the sequence: the index is not
// silently ignored, as the FASTA may not be the one the VCF was called
// against either.
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
		if err == nil && st.Size() == 0 {
			return nil, fmt.Errorf("%s.fai: %w: the FASTA is empty; re-index: samtools faidx %s", path, ErrStaleIndex, path)
		}
		return nil, err
	}
	if err := checkIndex(path, data, entries); err != nil {
		unmap()
		return nil, err
	}
	r := &Reference{index: map[string]*fasta.IndexEntry{}, data: data, path: path, unmap: unmap}
	for _, e := range entries {
		r.index[e.Name] = &e
	}
	return r, nil
}

// checkIndex checks, in time linear in the number of entries, that the
// .fai entries describe data, the FASTA at path: each entry's bytes lie
// in the file after a header line naming it, with a line end where the
// index puts the end of its first line and right after its last base;
// entries do not overlap; nothing but blank lines lies between one
// entry's last line and the next header, or after the last entry. A
// line made longer or shorter changes the extent of its sequence, so it
// is caught here; reads check the lines they touch (checkLine).
func checkIndex(path string, data []byte, entries []fasta.IndexEntry) error {
	order := make([]*fasta.IndexEntry, len(entries))
	for i := range entries {
		order[i] = &entries[i]
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].Offset < order[j].Offset })
	size := int64(len(data))
	prevEnd := int64(0) // where the previous entry's bytes end
	for i, e := range order {
		bad := func(f string, a ...any) error {
			return fmt.Errorf("%s.fai: line %d: sequence %s: %w: %s; re-index: samtools faidx %s",
				path, e.Line, e.Name, ErrStaleIndex, fmt.Sprintf(f, a...), path)
		}
		if e.Length > 0 && (e.LineBases <= 0 || e.LineWidth < e.LineBases) {
			return bad("linebases %d, linewidth %d", e.LineBases, e.LineWidth)
		}
		if e.Length > e.LineBases && e.LineWidth == e.LineBases {
			return bad("lines of %d bases with no line end", e.LineBases)
		}
		if e.Length > size || e.LineWidth > e.LineBases+2 {
			// More bases than the file has bytes, or a line end of more
			// than "\r\n": no FASTA's index (and offsets computed from
			// it could overflow).
			return bad("length %d, linebases %d, linewidth %d for a FASTA of %d bytes", e.Length, e.LineBases, e.LineWidth, size)
		}
		if e.Offset > size {
			return bad("offset %d is past the end of the FASTA (%d bytes)", e.Offset, size)
		}
		if e.Offset < prevEnd {
			return bad("its bytes (from offset %d) overlap those of %s", e.Offset, order[i-1].Name)
		}
		// The header: blank lines, then ">name", maybe a description, a line end.
		if e.Offset == 0 || data[e.Offset-1] != '\n' {
			return bad("no header line ends at offset %d", e.Offset)
		}
		hs := int64(bytes.LastIndexByte(data[prevEnd:e.Offset-1], '\n')) + 1 + prevEnd
		if !onlyHeaders(data[prevEnd:hs]) {
			return bad("sequence lines the index does not have lie before its header (offsets %d-%d)", prevEnd, hs)
		}
		head := bytes.TrimSuffix(data[hs:e.Offset-1], []byte{'\r'})
		if name, _, _ := bytes.Cut(head, []byte{' '}); len(head) == 0 || head[0] != '>' ||
			string(bytes.SplitN(name[1:], []byte{'\t'}, 2)[0]) != e.Name {
			return bad("the line before offset %d is not its header (%.40q)", e.Offset, head)
		}
		end := e.Offset // past the entry's last line end
		if e.Length > 0 {
			last := fileOffset(e, e.Length-1)
			if last >= size {
				return bad("its last base (offset %d) is past the end of the FASTA (%d bytes)", last, size)
			}
			if e.Length > e.LineBases { // the first line's end
				if err := lineEnd(data, e, e.Offset+e.LineBases, false); err != "" {
					return bad("line 1 does not end at offset %d: %s", e.Offset+e.LineBases, err)
				}
			}
			lastLine := (e.Length - 1) / e.LineBases
			ls := e.Offset + lastLine*e.LineWidth
			if bytes.IndexByte(data[ls:last+1], '\n') >= 0 || bytes.IndexByte(data[ls:last+1], '\r') >= 0 || data[ls-1] != '\n' {
				return bad("its last line is not at offset %d", ls)
			}
			if err := lineEnd(data, e, last+1, true); err != "" {
				return bad("its last base is not at offset %d: %s", last, err)
			}
			end = last + 1
			switch {
			case end < size && data[end] == '\r':
				end = min(end+2, size)
			case end < size:
				end++
			}
		}
		prevEnd = end
	}
	if !onlyHeaders(data[prevEnd:]) {
		return fmt.Errorf("%s.fai: %w: the FASTA goes on after the last sequence the index has (%s, ending at offset %d of %d: a sequence added after indexing?); re-index: samtools faidx %s",
			path, ErrStaleIndex, order[len(order)-1].Name, prevEnd, size, path)
	}
	return nil
}

// onlyHeaders says whether b holds only blank lines and header lines:
// what may lie between one indexed sequence and the next (samtools
// leaves empty sequences out of the index).
func onlyHeaders(b []byte) bool {
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		if len(line) > 0 && line[0] != '>' && !(len(line) == 1 && line[0] == '\r') {
			return false
		}
		b = rest
	}
	return true
}

// lineEnd checks that data has the line end of e at offset x: "\n" or
// "\r\n" as e's line width says; the end of the file, or either line end,
// may close a sequence's last line. "" when it does, else what is there.
func lineEnd(data []byte, e *fasta.IndexEntry, x int64, lastLine bool) string {
	n := int64(len(data))
	switch {
	case x == n && lastLine:
		return ""
	case x >= n:
		return "the file ends"
	case data[x] == '\n' && (lastLine || e.LineWidth == e.LineBases+1):
		return ""
	case data[x] == '\r' && x+1 < n && data[x+1] == '\n' && (lastLine || e.LineWidth == e.LineBases+2):
		return ""
	case data[x] == '\r' && x+1 == n && lastLine:
		return ""
	}
	return fmt.Sprintf("%q is there", data[x:min(x+2, n)])
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
	e, err := r.indexed(chrom, start, end)
	if err != nil {
		return dst, err
	}
	n := len(dst)
	p, q := start-1, end-1 // 0-based
	for line := p / e.LineBases; line <= q/e.LineBases; line++ {
		from, to, err := r.checkLine(e, line, p, q)
		if err != nil {
			return dst[:n], err
		}
		dst = append(dst, r.data[from:to]...)
	}
	return dst, nil
}

// Seq returns bases start..end (1-based, inclusive) of chrom; outside the
// sequence, or on an unknown one, it is an error. Case is as in the file.
// Read through a .fai, a line end not where the index puts it, in or at
// the edge of the lines read, is an error wrapping ErrStaleIndex.
func (r *Reference) Seq(chrom string, start, end int64) ([]byte, error) {
	if r.index == nil {
		s, ok := r.seqs[chrom]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrNoSequence, chrom)
		}
		if start < 1 || end < start || end > int64(len(s)) {
			return nil, fmt.Errorf("%s:%d-%d is %w (length %d)", chrom, start, end, csq.ErrOutsideReference, len(s))
		}
		return s[start-1 : end], nil
	}
	e, err := r.indexed(chrom, start, end)
	if err != nil {
		return nil, err
	}
	if line := (start - 1) / e.LineBases; line == (end-1)/e.LineBases { // within one line
		from, to, err := r.checkLine(e, line, start-1, end-1)
		if err != nil {
			return nil, err
		}
		return r.data[from:to], nil
	}
	return r.AppendSeq(make([]byte, 0, end-start+1), chrom, start, end)
}

// indexed is the index entry of chrom, checking that start..end lies in it.
func (r *Reference) indexed(chrom string, start, end int64) (*fasta.IndexEntry, error) {
	e := r.entry(chrom)
	if e == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoSequence, chrom)
	}
	if start < 1 || end < start || end > e.Length {
		return nil, fmt.Errorf("%s:%d-%d is %w (length %d)", chrom, start, end, csq.ErrOutsideReference, e.Length)
	}
	return e, nil
}

// checkLine returns the offsets, in the file, of bases p..q (0-based,
// cut to line, 0-based, of e), after checking that the file has the line
// there: a line end just before it (the header's for line 0), none among
// the bases read, and one right after the line. Otherwise the error names
// the FASTA, the sequence and the first base of the line, and wraps
// ErrStaleIndex.
func (r *Reference) checkLine(e *fasta.IndexEntry, line, p, q int64) (int64, int64, error) {
	ls := e.Offset + line*e.LineWidth
	first := line * e.LineBases
	n := min(e.LineBases, e.Length-first)
	le := ls + n
	last := first+n == e.Length
	// The index was checked to fit the file at load: ls >= 1, le <= len(data).
	// Only the bases read are scanned (a contig may be one line of
	// megabases). A carriage return among them: a CRLF file's line moved
	// (an LF file's index puts a '\r' nowhere a base could be read as one).
	from, to := ls+max(p, first)-first, min(ls+q+1-first, le)
	seg := r.data[from:to]
	if r.data[ls-1] == '\n' && bytes.IndexByte(seg, '\n') < 0 &&
		(e.LineWidth != e.LineBases+2 || bytes.IndexByte(seg, '\r') < 0) {
		if le < int64(len(r.data)) && r.data[le] == '\n' && e.LineWidth == e.LineBases+1 {
			return from, to, nil // the common case
		}
		if lineEnd(r.data, e, le, last) == "" {
			return from, to, nil
		}
	}
	return 0, 0, fmt.Errorf("%s: %s:%d: %w: line %d of %s (bases %d-%d) is not at offsets %d-%d as %s.fai says; re-index: samtools faidx %s",
		r.path, e.Name, first+1, ErrStaleIndex, line+1, e.Name, first+1, first+n, ls, le, r.path, r.path)
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
