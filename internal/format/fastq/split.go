package fastq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/clinomics/clinomics/internal/format"
)

// ErrEmpty is returned for an input without a single read.
var ErrEmpty = errors.New("empty: no reads")

// PairStats counts what SplitTo read.
type PairStats struct {
	Reads int64 // records in all inputs (both mates)
	Bases int64
}

// SplitTo validates r1 (and its mate file r2, when not empty) completely
// and deals the records round-robin into the uncompressed FASTQ files
// out1 (and out2), so every chunk gets the same share and mates stay in
// the same chunk. Mates must come in the same order with the same names.
// On any error the outputs are incomplete; the caller discards them.
func SplitTo(ctx context.Context, r1, r2 string, out1, out2 []string) (PairStats, error) {
	var st PairStats
	if len(out1) == 0 || (r2 != "" && len(out2) != len(out1)) {
		return st, errors.New("fastq split: need one R1 output per chunk, and as many R2 outputs")
	}
	in1, err := openReader(r1)
	if err != nil {
		return st, err
	}
	defer in1.close()
	var in2 *input
	if r2 != "" {
		if in2, err = openReader(r2); err != nil {
			return st, err
		}
		defer in2.close()
	}
	w1, err := createAll(out1)
	if err != nil {
		return st, err
	}
	defer closeAll(w1)
	var w2 []*output
	if r2 != "" {
		if w2, err = createAll(out2); err != nil {
			return st, err
		}
		defer closeAll(w2)
	}
	for i := 0; ; i++ {
		if i&0xffff == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		a, errA := in1.r.Next()
		if errA != nil && errA != io.EOF {
			return st, errA
		}
		if in2 == nil {
			if errA == io.EOF {
				break
			}
			st.add(a)
			if err := w1[i%len(w1)].write(a); err != nil {
				return st, err
			}
			continue
		}
		b, errB := in2.r.Next()
		if errB != nil && errB != io.EOF {
			return st, errB
		}
		switch {
		case errA == io.EOF && errB == io.EOF:
			goto done
		case errA == io.EOF:
			return st, fmt.Errorf("%s has fewer reads than %s: it ends after %d reads", r1, r2, i)
		case errB == io.EOF:
			return st, fmt.Errorf("%s has fewer reads than %s: it ends after %d reads", r2, r1, i)
		}
		if !CheckPair(a, b) {
			return st, &ParseError{File: r2, Line: in2.r.Line() - 3,
				Err: fmt.Errorf("%w: read %d is %q here but %q in %s (the files must list mates in the same order)", ErrMate, i+1, b.Name, a.Name, r1)}
		}
		st.add(a)
		st.add(b)
		if err := w1[i%len(w1)].write(a); err != nil {
			return st, err
		}
		if err := w2[i%len(w2)].write(b); err != nil {
			return st, err
		}
	}
done:
	if st.Reads == 0 {
		return st, fmt.Errorf("%s: %w", r1, ErrEmpty)
	}
	for _, w := range append(w1, w2...) {
		if err := w.finish(); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (s *PairStats) add(r *Record) {
	s.Reads++
	s.Bases += int64(len(r.Seq))
}

type input struct {
	f *format.File
	r *Reader
}

func openReader(path string) (*input, error) {
	f, err := format.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("FASTQ %w", err)
	}
	return &input{f: f, r: NewReader(f, path)}, nil
}

func (in *input) close() { in.f.Close() }

type output struct {
	f *os.File
	w *bufio.Writer
}

func createAll(paths []string) ([]*output, error) {
	var out []*output
	for _, p := range paths {
		f, err := os.Create(p)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, &output{f: f, w: bufio.NewWriterSize(f, 256<<10)})
	}
	return out, nil
}

func closeAll(out []*output) {
	for _, o := range out {
		o.f.Close()
	}
}

func (o *output) write(r *Record) error {
	w := o.w
	w.WriteByte('@')
	w.Write(r.Name)
	if len(r.Comment) > 0 {
		w.WriteByte(' ')
		w.Write(r.Comment)
	}
	w.WriteByte('\n')
	w.Write(r.Seq)
	w.WriteString("\n+\n")
	w.Write(r.Qual)
	return w.WriteByte('\n')
}

func (o *output) finish() error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	return o.f.Sync()
}
