// Package format opens genomics text files, plain or gzip/BGZF compressed,
// and holds one sub-package per format (fastq, fasta, bed, vcf). Every
// parser reports errors with the file name and line number.
package format

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"os"
)

// ErrTruncated marks a compressed file that ends before its final block.
var ErrTruncated = errors.New("truncated: the compressed file ends early")

// File is an open, transparently decompressed file.
type File struct {
	io.Reader
	f  *os.File
	gz *gzip.Reader
	// Compressed says the file is gzip (or BGZF, which is multi-member gzip).
	Compressed bool
}

// Close closes the file.
func (f *File) Close() error {
	if f.gz != nil {
		f.gz.Close()
	}
	return f.f.Close()
}

// OpenFile opens path and decompresses it when it starts with the gzip
// magic bytes. A compressed file cut short reads as ErrTruncated (which
// wraps io.ErrUnexpectedEOF); corrupt data reads as an error naming path.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := &File{Reader: br, f: f}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, wrapGzip(err))
		}
		out.gz, out.Compressed = gz, true
		out.Reader = &gzipErrors{r: gz, path: path}
	}
	return out, nil
}

type gzipErrors struct {
	r    io.Reader
	path string
}

func (g *gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", g.path, wrapGzip(err))
	}
	return n, err
}

func wrapGzip(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w (%w)", ErrTruncated, io.ErrUnexpectedEOF)
	}
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return fmt.Errorf("corrupt gzip data: %w", err)
	}
	return err
}
