// Package gff reads gene annotations in GFF3 and GTF (GFF2) form, one
// feature line at a time. Open compressed input with format.OpenFile first.
//
// Coordinates are kept as written: 1-based, inclusive. GFF3 attribute
// values are percent-decoded and split at commas; GTF values are unquoted,
// and a tag that repeats (tag "basic"; tag "MANE_Select") keeps every
// value. A "##FASTA" section ends the features.
package gff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Sentinel causes wrapped by ParseError.
var (
	ErrFieldCount = errors.New("wrong number of tab-separated columns (want 9)")
	ErrCoordinate = errors.New("invalid start or end")
	ErrStrand     = errors.New("invalid strand (want +, -, . or ?)")
	ErrPhase      = errors.New("invalid phase (want 0, 1, 2 or .)")
	ErrAttribute  = errors.New("malformed attribute")
	ErrLineLength = errors.New("line too long")
	ErrEmptyField = errors.New("empty seqid or type")
)

// MaxPosition is the largest start or end accepted: 2^34, three times
// the longest chromosome known. A coordinate past it is a damaged line,
// and a gene model indexed up to it would need memory in proportion.
const MaxPosition = 1 << 34

// MaxLine is the longest line accepted, in bytes (a variable so tests can
// lower it).
var MaxLine = 1 << 20

// Dialect says how the ninth column is written.
type Dialect int

// Dialects. Auto decides from the "##gff-version" pragma or, without it,
// from the first attribute column.
const (
	Auto Dialect = iota
	GFF3
	GTF
)

func (d Dialect) String() string {
	switch d {
	case GFF3:
		return "GFF3"
	case GTF:
		return "GTF"
	}
	return "auto"
}

// ParseError is a problem at one line of the input.
type ParseError struct {
	File   string
	Line   int
	Column int // 1-based column (tab-separated field); 0 when not known
	Err    error
}

func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s: line %d: column %d: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s: line %d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Attribute is one key of the ninth column with its values in order.
type Attribute struct {
	Key    string
	Values []string
}

// Record is one feature line.
type Record struct {
	Seqid, Source, Type string
	Start, End          int64 // 1-based, inclusive
	Score               string
	Strand              byte // '+', '-', '.' or '?'
	Phase               int  // 0..2, or -1 for "."
	Attributes          []Attribute
	RawAttributes       string // the ninth column as written; ParseAttributes reads it again
	Line                int
}

// Attr returns the first value of key, or "".
func (r *Record) Attr(key string) string {
	for _, a := range r.Attributes {
		if a.Key == key && len(a.Values) > 0 {
			return a.Values[0]
		}
	}
	return ""
}

// Values returns every value of key (all Parent IDs, all GTF tags).
func (r *Record) Values(key string) []string {
	var out []string
	for _, a := range r.Attributes {
		if a.Key == key {
			out = append(out, a.Values...)
		}
	}
	return out
}

// HasValue says whether key has the value v.
func (r *Record) HasValue(key, v string) bool {
	for _, a := range r.Attributes {
		if a.Key == key {
			for _, x := range a.Values {
				if x == v {
					return true
				}
			}
		}
	}
	return false
}

// Reader reads records in file order. Errors are sticky.
type Reader struct {
	src     io.Reader
	buf     []byte // read from src; buf[:pending] is the start of a line not yet complete
	pending int
	text    string // complete lines not yet returned
	rerr    error  // from src, after buf[:pending]
	file    string
	line    int
	dialect Dialect
	err     error
	// rec, attrs and vals are reused from line to line (see Next).
	rec   Record
	attrs []Attribute
	vals  []string
	// ClampStart reads a start below 1 as 1 instead of failing. Files
	// cut out of a genome (bcftools' test data) shift chromosome and gene
	// lines below 1; their exons are in range.
	ClampStart bool
}

// NewReader reads from r; file names the input in errors. Pass Auto to
// detect the dialect.
func NewReader(r io.Reader, file string, d Dialect) *Reader {
	return &Reader{src: r, buf: make([]byte, 256<<10), file: file, dialect: d}
}

// Dialect returns the dialect in use (Auto until it has been decided).
func (r *Reader) Dialect() Dialect { return r.dialect }

func (r *Reader) fail(col int, err error) error {
	r.err = &ParseError{File: r.file, Line: r.line, Column: col, Err: err}
	return r.err
}

// readLine returns the next line without its line end. Lines are cut
// from r.text, which holds the complete lines of one or more reads from
// src as a single string: one allocation per read instead of one per
// line, and the strings of a Record share it.
func (r *Reader) readLine() (string, error) {
	for {
		if i := strings.IndexByte(r.text, '\n'); i >= 0 {
			line := r.text[:i+1]
			r.text = r.text[i+1:]
			r.line++
			if len(line) > MaxLine {
				return "", r.fail(0, fmt.Errorf("%w: more than %d bytes", ErrLineLength, MaxLine))
			}
			return trimEOL(line), nil
		}
		if r.text != "" { // the last line, without a line end
			line := r.text
			r.text = ""
			r.line++
			if len(line) > MaxLine {
				return "", r.fail(0, fmt.Errorf("%w: more than %d bytes", ErrLineLength, MaxLine))
			}
			return trimEOL(line), nil
		}
		if err := r.fill(); err != nil {
			return "", err
		}
	}
}

// fill reads from src until r.text holds at least one line, or the last
// line of the input, or fails.
func (r *Reader) fill() error {
	empty := 0 // reads in a row that returned nothing, as bufio counts them
	for {
		if r.pending > MaxLine {
			r.line++
			return r.fail(0, fmt.Errorf("%w: more than %d bytes", ErrLineLength, MaxLine))
		}
		if r.rerr != nil {
			if r.rerr != io.EOF {
				r.err = fmt.Errorf("%s: %w (reading line %d)", r.file, r.rerr, r.line+1)
				return r.err
			}
			if r.pending == 0 {
				return io.EOF
			}
			r.text = string(r.buf[:r.pending])
			r.pending = 0
			return nil
		}
		if r.pending == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		n, err := r.src.Read(r.buf[r.pending:])
		switch {
		case n > 0:
			empty = 0
		case err == nil:
			if empty++; empty == 100 {
				err = io.ErrNoProgress
			}
		}
		r.rerr = err
		if i := bytes.LastIndexByte(r.buf[r.pending:r.pending+n], '\n'); i >= 0 {
			end := r.pending + i + 1
			r.text = string(r.buf[:end])
			r.pending = copy(r.buf, r.buf[end:r.pending+n])
			return nil
		}
		r.pending += n
	}
}

// trimEOL cuts the line end (any run of '\n' and '\r') off line.
func trimEOL(line string) string {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	return line[:n]
}

// Next returns the next feature, or io.EOF after the last one. The
// Record and its Attributes slices are reused by the next call: copy what
// you keep of them (the strings themselves stay valid; they share memory
// with the lines read in the same block, up to a few hundred kilobytes).
func (r *Reader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		b, err := r.readLine()
		if err != nil {
			if err == io.EOF {
				r.err = io.EOF
			}
			return nil, err
		}
		if len(b) == 0 {
			continue
		}
		if b[0] == '#' {
			if strings.HasPrefix(b, "##FASTA") {
				r.err = io.EOF
				return nil, io.EOF
			}
			if v, ok := strings.CutPrefix(b, "##gff-version"); ok && r.dialect == Auto {
				if strings.HasPrefix(strings.TrimSpace(v), "3") {
					r.dialect = GFF3
				} else {
					r.dialect = GTF
				}
			}
			continue
		}
		return r.parse(b)
	}
}

func (r *Reader) parse(line string) (*Record, error) {
	var f [9]string
	rest := line
	for i := 0; i < 8; i++ {
		j := strings.IndexByte(rest, '\t')
		if j < 0 {
			return nil, r.fail(0, fmt.Errorf("%w: found %d", ErrFieldCount, i+1))
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	f[8] = rest
	if strings.IndexByte(rest, '\t') >= 0 {
		return nil, r.fail(0, fmt.Errorf("%w: found more", ErrFieldCount))
	}
	rec := &r.rec
	*rec = Record{Seqid: f[0], Source: f[1], Type: f[2], Score: f[5], RawAttributes: f[8], Line: r.line}
	if rec.Seqid == "" {
		return nil, r.fail(1, ErrEmptyField)
	}
	if rec.Type == "" {
		return nil, r.fail(3, ErrEmptyField)
	}
	var err error
	rec.Start, err = strconv.ParseInt(f[3], 10, 64)
	if err == nil && rec.Start < 1 && r.ClampStart {
		rec.Start = 1
	}
	if err != nil || rec.Start < 1 {
		return nil, r.fail(4, fmt.Errorf("%w: start %q", ErrCoordinate, f[3]))
	}
	if rec.End, err = strconv.ParseInt(f[4], 10, 64); err != nil || rec.End < rec.Start {
		return nil, r.fail(5, fmt.Errorf("%w: end %q (start %d)", ErrCoordinate, f[4], rec.Start))
	}
	if rec.End > MaxPosition {
		return nil, r.fail(5, fmt.Errorf("%w: end %d is past %d, longer than any chromosome", ErrCoordinate, rec.End, int64(MaxPosition)))
	}
	if len(f[6]) != 1 || strings.IndexByte("+-.?", f[6][0]) < 0 {
		return nil, r.fail(7, fmt.Errorf("%w: %q", ErrStrand, f[6]))
	}
	rec.Strand = f[6][0]
	switch f[7] {
	case ".":
		rec.Phase = -1
	case "0", "1", "2":
		rec.Phase = int(f[7][0] - '0')
	default:
		return nil, r.fail(8, fmt.Errorf("%w: %q", ErrPhase, f[7]))
	}
	if r.dialect == Auto {
		r.dialect = detect(f[8])
	}
	if r.dialect == GTF {
		rec.Attributes, err = parseGTF(f[8])
	} else {
		rec.Attributes, r.vals, err = parseGFF3(f[8], r.attrs[:0], r.vals[:0])
		if cap(rec.Attributes) > cap(r.attrs) {
			r.attrs = rec.Attributes
		}
	}
	if err != nil {
		return nil, r.fail(9, err)
	}
	return rec, nil
}

// ParseAttributes parses an attribute column (Record.RawAttributes) as
// Next does in dialect d (GFF3 or GTF), into new slices.
func ParseAttributes(col string, d Dialect) ([]Attribute, error) {
	if d == GTF {
		return parseGTF(col)
	}
	attrs, _, err := parseGFF3(col, nil, nil)
	return attrs, err
}

// detect guesses the dialect from one attribute column: GTF writes
// key "value"; GFF3 writes key=value.
func detect(col string) Dialect {
	eq := strings.IndexByte(col, '=')
	sp := strings.IndexAny(col, " \"")
	if eq >= 0 && (sp < 0 || eq < sp) {
		return GFF3
	}
	if sp >= 0 {
		return GTF
	}
	return GFF3
}

// parseGFF3 parses a GFF3 attribute column into out and its values into
// vals (both appended to, so a caller can reuse them from line to line:
// once they have grown, a line allocates nothing), and returns them.
func parseGFF3(col string, out []Attribute, vals []string) ([]Attribute, []string, error) {
	col = strings.TrimSpace(col)
	if col == "." || col == "" {
		return nil, vals, nil
	}
	escaped := strings.IndexByte(col, '%') >= 0
	for col != "" {
		kv := col
		if i := strings.IndexByte(col, ';'); i >= 0 {
			kv, col = col[:i], col[i+1:]
		} else {
			col = ""
		}
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, vals, fmt.Errorf("%w: %q is not key=value", ErrAttribute, clip(kv))
		}
		first := len(vals)
		for {
			p := v
			i := strings.IndexByte(v, ',')
			if i >= 0 {
				p, v = v[:i], v[i+1:]
			}
			vals = append(vals, p)
			if i < 0 {
				break
			}
		}
		if escaped {
			var err error
			if k, err = unescape(k); err != nil {
				return nil, vals, err
			}
			for j := first; j < len(vals); j++ {
				if vals[j], err = unescape(vals[j]); err != nil {
					return nil, vals, err
				}
			}
		}
		// If vals grew, the Values of earlier attributes keep the old
		// array, which is not written again.
		out = append(out, Attribute{Key: k, Values: vals[first:len(vals):len(vals)]})
	}
	if len(out) == 0 {
		return nil, vals, nil
	}
	return out, vals, nil
}

func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: bad percent escape in %q", ErrAttribute, clip(s))
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%w: bad percent escape in %q", ErrAttribute, clip(s))
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

func parseGTF(col string) ([]Attribute, error) {
	var out []Attribute
	s := col
	for {
		s = strings.TrimLeft(s, " ;")
		if s == "" || s == "." {
			return out, nil
		}
		sp := strings.IndexAny(s, " \t")
		if sp <= 0 {
			return nil, fmt.Errorf("%w: key without a value near %q", ErrAttribute, clip(s))
		}
		key := s[:sp]
		s = strings.TrimLeft(s[sp:], " ")
		var val string
		if strings.HasPrefix(s, "\"") {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("%w: unterminated quote after %q", ErrAttribute, key)
			}
			val, s = s[1:1+end], s[2+end:]
		} else {
			end := strings.IndexByte(s, ';')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		if rest := strings.TrimLeft(s, " "); rest != "" && rest[0] != ';' {
			return nil, fmt.Errorf("%w: missing ';' after %s", ErrAttribute, key)
		}
		appended := false
		for i := range out {
			if out[i].Key == key {
				out[i].Values = append(out[i].Values, val)
				appended = true
				break
			}
		}
		if !appended {
			out = append(out, Attribute{Key: key, Values: []string{val}})
		}
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
