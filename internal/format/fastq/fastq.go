// Package fastq reads and checks FASTQ files (four lines per record, as
// sequencers write them) and splits read pairs into chunks.
package fastq

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/clinomics/clinomics/internal/format"
)

// Sentinel causes, wrapped in a *ParseError.
var (
	ErrNotFASTQ  = errors.New("not FASTQ: a record must start with '@'")
	ErrNoPlus    = errors.New("malformed FASTQ: the third line of a record must start with '+'")
	ErrQualLen   = errors.New("malformed FASTQ: quality and sequence lengths differ")
	ErrBadBase   = errors.New("malformed FASTQ: invalid character in sequence")
	ErrBadQual   = errors.New("malformed FASTQ: invalid quality character (Phred+33 expects '!' to '~')")
	ErrNoName    = errors.New("malformed FASTQ: empty read name")
	ErrTruncated = errors.New("truncated FASTQ: the file ends inside a record")
	ErrLongLine  = errors.New("malformed FASTQ: line longer than 1 MiB")
	ErrMate      = errors.New("read names of the pair differ")
)

// ParseError names the file and line where reading failed.
type ParseError struct {
	File string
	Line int // 1-based; 0 when not tied to a line
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Record is one read. Its slices are reused by the next call to Next.
type Record struct {
	Name    []byte // without '@' and without the comment
	Comment []byte // text after the first space or tab of the header, if any
	Seq     []byte
	Qual    []byte
}

// Reader reads records one by one, validating each.
type Reader struct {
	br   *bufio.Reader
	file string
	line int // lines consumed so far
	rec  Record
	buf  [4][]byte
}

// NewReader reads FASTQ from r; file names the input in errors.
func NewReader(r io.Reader, file string) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 1<<20), file: file}
}

// Line is the line number of the last line read (the quality line of the
// last record returned).
func (r *Reader) Line() int { return r.line }

// readLine returns the next line without its line ending, copied into dst.
func (r *Reader) readLine(dst []byte) ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, r.errf(r.line+1, ErrLongLine)
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(b) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	r.line++
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	return append(dst[:0], b...), nil
}

func (r *Reader) errf(line int, err error) error {
	return &ParseError{File: r.file, Line: line, Err: err}
}

// Next returns the next record, io.EOF after the last one, or an error
// naming the file and line.
func (r *Reader) Next() (*Record, error) {
	start := r.line + 1
	for i := range r.buf {
		b, err := r.readLine(r.buf[i])
		if err == io.EOF {
			if i == 0 {
				return nil, io.EOF
			}
			return nil, r.errf(r.line, ErrTruncated)
		}
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, fmt.Errorf("%w (reading line %d)", err, r.line+1)
		}
		r.buf[i] = b
		if i == 0 && len(b) == 0 {
			// Tolerate blank lines between records only at the very end.
			if err := r.trailingBlank(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
	}
	h, seq, plus, qual := r.buf[0], r.buf[1], r.buf[2], r.buf[3]
	if h[0] != '@' {
		return nil, r.errf(start, ErrNotFASTQ)
	}
	name, comment := h[1:], []byte(nil)
	if i := bytes.IndexAny(name, " \t"); i >= 0 {
		name, comment = name[:i], name[i+1:]
	}
	if len(name) == 0 {
		return nil, r.errf(start, ErrNoName)
	}
	if len(plus) == 0 || plus[0] != '+' {
		return nil, r.errf(start+2, ErrNoPlus)
	}
	for i, c := range seq {
		if !isBase(c) {
			return nil, r.errf(start+1, fmt.Errorf("%w: %q at column %d", ErrBadBase, c, i+1))
		}
	}
	if len(qual) != len(seq) {
		return nil, r.errf(start+3, fmt.Errorf("%w (%d quality values for %d bases)", ErrQualLen, len(qual), len(seq)))
	}
	for i, c := range qual {
		if c < '!' || c > '~' {
			return nil, r.errf(start+3, fmt.Errorf("%w: %q at column %d", ErrBadQual, c, i+1))
		}
	}
	r.rec = Record{Name: name, Comment: comment, Seq: seq, Qual: qual}
	return &r.rec, nil
}

func (r *Reader) trailingBlank() error {
	for {
		b, err := r.readLine(r.buf[1])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) != 0 {
			return r.errf(r.line-1, errors.New("malformed FASTQ: blank line between records"))
		}
	}
}

// baseOK lists the accepted sequence characters: IUPAC codes in either
// case, and '.' or '-' for a missing call.
var baseOK = func() (t [256]bool) {
	for _, c := range "ACGTUNRYSWKMBDHVacgtunryswkmbdhv.-" {
		t[c] = true
	}
	return
}()

func isBase(c byte) bool { return baseOK[c] }

// MateName strips a trailing "/1" or "/2" from a read name, so mates of a
// pair compare equal.
func MateName(name []byte) []byte {
	if n := len(name); n >= 2 && name[n-2] == '/' && (name[n-1] == '1' || name[n-1] == '2') {
		return name[:n-2]
	}
	return name
}

// CheckPair reports whether a and b are mates of one pair.
func CheckPair(a, b *Record) bool {
	return bytes.Equal(MateName(a.Name), MateName(b.Name))
}

// Sniff opens path (plain, gzip or BGZF) and reads its first record, so a
// file that is not FASTQ, or an empty or unreadable one, is found before
// any work starts. It does not read the whole file.
func Sniff(path string) error {
	f, err := format.OpenFile(path)
	if err != nil {
		return fmt.Errorf("FASTQ %s: %w", path, err)
	}
	defer f.Close()
	if _, err := NewReader(f, path).Next(); err != nil {
		if err == io.EOF {
			return fmt.Errorf("FASTQ %s: no reads", path)
		}
		return err
	}
	return nil
}
