package extract

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits on what one row may hold; larger rows are rejected, not read
// into memory.
const (
	MaxRecordBytes = 1 << 20 // bytes in one row, quoted line breaks included
	MaxFields      = 1024    // fields in one row
)

// reader splits a delimited file into records, in the manner of
// encoding/csv but keeping what the loader needs: the raw bytes of each
// record for the reject file, its first line, and recovery from an
// unterminated quote (the record is rejected and reading resumes on the
// line after the one where it started).
//
// A field that begins with the quote character is quoted: it ends at a
// quote followed by the delimiter or the end of a line, "" inside it is
// one quote, and it may span lines (a CRLF inside it becomes LF). A quote
// elsewhere in an unquoted field is kept as text. Blank lines are skipped.
type reader struct {
	br       *bufio.Reader
	pushback []byte // bytes to read before br, after a resync
	delim    byte
	quote    byte // 0: no quoting
	max      int  // MaxRecordBytes, lower in tests

	line int    // physical lines consumed
	raw  []byte // the current record as read, line terminators included
	buf  []byte // field contents of the current record, back to back
	ends []int  // end of each field in buf
	eof  bool
}

func newReader(r io.Reader, delim, quote byte) *reader {
	return &reader{br: bufio.NewReaderSize(r, 64<<10), delim: delim, quote: quote, max: MaxRecordBytes}
}

// errTooLong marks a physical line longer than the record limit.
var errTooLong = errors.New("line too long")

// readLine appends the next physical line, terminator included, to
// r.raw and returns it (a slice of r.raw). It returns io.EOF when there
// is nothing more. When the record would exceed r.max it returns
// errTooLong: with skip, r.raw then holds the first r.max bytes of the
// record and the rest of the line is skipped; without skip, r.raw holds
// what was read of the line and the rest is left unread, for a resync to
// read again.
func (r *reader) readLine(skip bool) ([]byte, error) {
	start := len(r.raw)
	for {
		var chunk []byte
		var err error
		switch {
		case len(r.pushback) > 0:
			if i := bytes.IndexByte(r.pushback, '\n'); i >= 0 {
				chunk, r.pushback = r.pushback[:i+1], r.pushback[i+1:]
			} else {
				// The line goes on in br (or the input ends).
				chunk, r.pushback, err = r.pushback, nil, bufio.ErrBufferFull
			}
		case r.eof:
			err = io.EOF
		default:
			chunk, err = r.br.ReadSlice('\n')
			if err == io.EOF {
				r.eof = true
			}
		}
		if len(r.raw)+len(chunk) > r.max {
			if !skip {
				r.raw = append(r.raw, chunk...)
				return nil, errTooLong
			}
			r.raw = append(r.raw, chunk[:r.max-len(r.raw)]...)
			r.line++
			if err == bufio.ErrBufferFull {
				if err := r.skipLine(); err != nil {
					return nil, err
				}
			}
			return nil, errTooLong
		}
		r.raw = append(r.raw, chunk...)
		switch err {
		case nil:
			r.line++
			return r.raw[start:], nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(r.raw) == start {
				return nil, io.EOF
			}
			r.line++
			return r.raw[start:], nil
		default:
			return nil, err
		}
	}
}

// skipLine discards input up to and including the next newline.
func (r *reader) skipLine() error {
	if len(r.pushback) > 0 {
		if i := bytes.IndexByte(r.pushback, '\n'); i >= 0 {
			r.pushback = r.pushback[i+1:]
			return nil
		}
		r.pushback = nil
	}
	for !r.eof {
		_, err := r.br.ReadSlice('\n')
		switch err {
		case nil:
			return nil
		case bufio.ErrBufferFull:
		case io.EOF:
			r.eof = true
		default:
			return err
		}
	}
	return nil
}

// trimEOL removes a trailing LF or CRLF, or the CR of a last line that
// ends in CR without LF (as encoding/csv does).
func trimEOL(l []byte) []byte {
	if n := len(l); n > 0 && l[n-1] == '\n' {
		l = l[:n-1]
	}
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l
}

// next reads the next record into r.buf and r.ends. It returns the line
// the record starts on and nil; io.EOF at the end of the input; a
// *RowError for a malformed record, after which the reader is positioned
// at the next record; or the underlying reader's error.
func (r *reader) next() (int, error) {
	r.buf = r.buf[:0]
	r.ends = r.ends[:0]
	r.raw = r.raw[:0]
	var l []byte
	var err error
	for {
		l, err = r.readLine(true)
		if err == errTooLong {
			return r.line, &RowError{Line: r.line, Err: ErrTooLarge, Msg: fmt.Sprintf("row longer than %d bytes", r.max)}
		}
		if err != nil {
			return 0, err
		}
		if len(trimEOL(l)) > 0 {
			break
		}
		r.raw = r.raw[:0] // blank line
	}
	start := r.line
	content := trimEOL(l)
	if r.quote == 0 || bytes.IndexByte(content, r.quote) < 0 {
		return start, r.split(content, start)
	}
	return start, r.parseQuoted(content, start)
}

// split splits an unquoted line at the delimiter.
func (r *reader) split(content []byte, line int) error {
	for n := 1; ; n++ {
		i := bytes.IndexByte(content, r.delim)
		if i < 0 {
			r.buf = append(r.buf, content...)
			r.ends = append(r.ends, len(r.buf))
			return nil
		}
		if n >= MaxFields {
			return &RowError{Line: line, Err: ErrFieldCount, Msg: fmt.Sprintf("more than %d fields", MaxFields)}
		}
		r.buf = append(r.buf, content[:i]...)
		r.ends = append(r.ends, len(r.buf))
		content = content[i+1:]
	}
}

// parseQuoted parses a record whose first line holds a quote, reading
// more lines while a quoted field is open.
func (r *reader) parseQuoted(content []byte, line int) error {
	const (
		fieldStart = iota
		unquoted
		quoted
		quoteInQuoted // a quote seen inside a quoted field: its end, or the first of ""
	)
	state := fieldStart
	field := 1
	firstLen := len(r.raw) // raw bytes of the first line, for a resync
	endField := func() error {
		if len(r.ends) >= MaxFields-1 {
			return &RowError{Line: line, Err: ErrFieldCount, Msg: fmt.Sprintf("more than %d fields", MaxFields)}
		}
		r.ends = append(r.ends, len(r.buf))
		field++
		state = fieldStart
		return nil
	}
	for {
		for i := 0; i < len(content); i++ {
			c := content[i]
			switch state {
			case fieldStart:
				switch c {
				case r.quote:
					state = quoted
				case r.delim:
					if err := endField(); err != nil {
						return err
					}
				default:
					r.buf = append(r.buf, c)
					state = unquoted
				}
			case unquoted:
				if c == r.delim {
					if err := endField(); err != nil {
						return err
					}
				} else {
					r.buf = append(r.buf, c)
				}
			case quoted:
				// Copy up to the next quote in one go.
				j := bytes.IndexByte(content[i:], r.quote)
				if j < 0 {
					r.buf = append(r.buf, content[i:]...)
					i = len(content)
					continue
				}
				r.buf = append(r.buf, content[i:i+j]...)
				i += j
				state = quoteInQuoted
			case quoteInQuoted:
				switch c {
				case r.quote:
					r.buf = append(r.buf, c)
					state = quoted
				case r.delim:
					if err := endField(); err != nil {
						return err
					}
				default:
					return &RowError{Line: line, Err: ErrQuote, Msg: fmt.Sprintf("text after the closing quote of field %d", field)}
				}
			}
		}
		if state != quoted {
			r.ends = append(r.ends, len(r.buf))
			return nil
		}
		// The line ends inside a quoted field: the line break is data.
		r.buf = append(r.buf, '\n')
		l, err := r.readLine(false)
		if err == io.EOF || err == errTooLong {
			return r.resync(line, firstLen, field)
		}
		if err != nil {
			return err
		}
		content = trimEOL(l)
	}
}

// resync handles a quoted field left open at the end of the input or of
// the record limit: the record is rejected as its first line only, and
// the lines read after it are read again as records of their own. No
// quote follows the opening one in what was read (it would have closed
// the field), so those lines read quickly and without another resync:
// each byte of the input is read at most twice.
func (r *reader) resync(line, firstLen, field int) error {
	if rest := r.raw[firstLen:]; len(rest) > 0 {
		pb := make([]byte, 0, len(rest)+len(r.pushback))
		pb = append(pb, rest...)
		r.pushback = append(pb, r.pushback...)
	}
	r.raw = r.raw[:firstLen]
	r.line = line
	return &RowError{Line: line, Err: ErrQuote, Msg: fmt.Sprintf("quoted field %d is not closed", field)}
}

// fields returns the number of fields of the current record.
func (r *reader) fields() int { return len(r.ends) }

// field returns field i of the current record.
func (r *reader) field(i int) []byte {
	s := 0
	if i > 0 {
		s = r.ends[i-1]
	}
	return r.buf[s:r.ends[i]]
}

// rawRecord returns the current record as read, without its final line
// terminator.
func (r *reader) rawRecord() []byte { return trimEOL(r.raw) }
