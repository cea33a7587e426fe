// Package fasta reads FASTA sequence files.
package fasta

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/clinomics/clinomics/internal/format"
)

// Sentinel causes, wrapped with the file and line.
var (
	ErrNotFASTA = errors.New("not FASTA: expected a '>' header line")
	ErrBadBase  = errors.New("invalid character in sequence")
	ErrNoName   = errors.New("header without a sequence name")
	ErrDupName  = errors.New("sequence name appears twice")
)

// Record is one sequence.
type Record struct {
	Name        string
	Description string
	Seq         []byte // as written (case kept), without line breaks
}

// Reader reads records in file order.
type Reader struct {
	br     *bufio.Reader
	file   string
	line   int
	header []byte // pending header of the next record
	hline  int    // its line number
	seen   map[string]int
}

// NewReader reads FASTA from r; file names the input in errors.
func NewReader(r io.Reader, file string) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 1<<20), file: file, seen: map[string]int{}}
}

func (r *Reader) errf(line int, err error) error {
	return fmt.Errorf("%s: line %d: %w", r.file, line, err)
}

func (r *Reader) readLine() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		// Unwrapped genomes put a whole chromosome on one line.
		more := append([]byte(nil), b...)
		b, err = r.br.ReadSlice('\n')
		b = append(more, b...)
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w (reading line %d)", err, r.line+1)
	}
	if len(b) == 0 {
		return nil, io.EOF
	}
	r.line++
	b = bytes.TrimRight(b, "\r\n")
	return b, nil
}

// Next returns the next sequence, or io.EOF after the last one.
func (r *Reader) Next() (*Record, error) {
	if r.header == nil {
		for {
			b, err := r.readLine()
			if err != nil {
				if err == io.EOF && r.line == 0 {
					return nil, fmt.Errorf("%s: %w (the file is empty)", r.file, ErrNotFASTA)
				}
				return nil, err
			}
			if len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			if b[0] != '>' {
				return nil, r.errf(r.line, ErrNotFASTA)
			}
			r.header, r.hline = append([]byte(nil), b...), r.line
			break
		}
	}
	hdrLine := r.hline
	// As samtools: the name runs from '>' to the first space or tab.
	name, desc := r.header[1:], []byte(nil)
	if i := bytes.IndexAny(name, " \t"); i >= 0 {
		name, desc = name[:i], name[i+1:]
	}
	if len(name) == 0 {
		return nil, r.errf(hdrLine, ErrNoName)
	}
	if first, dup := r.seen[string(name)]; dup {
		return nil, r.errf(hdrLine, fmt.Errorf("%w: %q (first at line %d)", ErrDupName, name, first))
	}
	r.seen[string(name)] = hdrLine
	rec := &Record{Name: string(name), Description: string(bytes.TrimSpace(desc))}
	r.header = nil
	for {
		b, err := r.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(b) > 0 && b[0] == '>' {
			r.header, r.hline = append([]byte(nil), b...), r.line
			break
		}
		for i, c := range b {
			if !isSeq(c) {
				return nil, r.errf(r.line, fmt.Errorf("%w: %q at column %d", ErrBadBase, c, i+1))
			}
		}
		rec.Seq = append(rec.Seq, b...)
	}
	return rec, nil
}

// isSeq accepts letters (IUPAC codes, either case) and '-' / '*'.
func isSeq(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '*'
}

// LoadAll reads a whole (optionally compressed) FASTA into memory, keyed by
// sequence name, upper-cased.
func LoadAll(path string) (map[string][]byte, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := NewReader(f, path)
	out := map[string][]byte{}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out[rec.Name] = bytes.ToUpper(rec.Seq)
	}
}
