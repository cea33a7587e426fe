// Package vcf reads VCF 4.x text (decompress first with format.OpenFile).
// It checks the structure a downstream consumer relies on — header, column
// counts, positions, alleles, genotypes — and reports the file, line and
// column of the first problem.
package vcf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("malformed VCF")

// fixed lists the eight mandatory columns in order.
var fixed = []string{"#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"}

// Header holds the meta-information lines and the sample names.
type Header struct {
	Version string   // e.g. "VCFv4.2"
	Meta    []string // "##" lines without the "##"
	Samples []string
	Contigs []string // IDs from ##contig lines, in order
}

// Record is one data line. Sample columns are kept raw and parsed on use.
type Record struct {
	Chrom   string
	Pos     int64 // 1-based
	ID      string
	Ref     string
	Alt     []string // empty when ALT is "."
	Qual    string   // "." when missing
	Filter  string
	Info    string
	Format  []string
	Samples []string
	Line    int
}

// Reader reads a header then records.
type Reader struct {
	br     *bufio.Reader
	file   string
	line   int
	header Header
}

// NewReader reads and checks the header; file names the input in errors.
func NewReader(r io.Reader, file string) (*Reader, error) {
	vr := &Reader{br: bufio.NewReaderSize(r, 1<<20), file: file}
	if err := vr.readHeader(); err != nil {
		return nil, err
	}
	return vr, nil
}

// Header returns the parsed header.
func (r *Reader) Header() *Header { return &r.header }

func (r *Reader) errf(col string, f string, a ...any) error {
	msg := fmt.Sprintf(f, a...)
	if col != "" {
		msg = col + ": " + msg
	}
	return fmt.Errorf("%s: line %d: %w: %s", r.file, r.line, ErrSyntax, msg)
}

// readLine returns the next line without its ending; a final line without
// a newline is an error (the file was probably cut short).
func (r *Reader) readLine() (string, error) {
	s, err := r.br.ReadString('\n')
	if err == io.EOF {
		if s == "" {
			return "", io.EOF
		}
		r.line++
		return "", r.errf("", "last line has no newline: the file is incomplete")
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w (reading line %d)", r.file, err, r.line+1)
	}
	r.line++
	return strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r"), nil
}

func (r *Reader) readHeader() error {
	first, err := r.readLine()
	if err == io.EOF {
		return fmt.Errorf("%s: %w: the file is empty", r.file, ErrSyntax)
	}
	if err != nil {
		return err
	}
	v, ok := strings.CutPrefix(first, "##fileformat=")
	if !ok || !strings.HasPrefix(v, "VCFv4.") {
		return r.errf("", "the first line must be ##fileformat=VCFv4.x")
	}
	r.header.Version = v
	for {
		line, err := r.readLine()
		if err == io.EOF {
			return r.errf("", "no #CHROM header line")
		}
		if err != nil {
			return err
		}
		if meta, ok := strings.CutPrefix(line, "##"); ok {
			if err := r.meta(meta); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(line, "#CHROM") {
			return r.errf("", "expected a ## meta line or the #CHROM header line")
		}
		cols := strings.Split(line, "\t")
		if len(cols) < len(fixed) {
			return r.errf("", "the #CHROM line needs the 8 tab-separated columns %s", strings.Join(fixed, " "))
		}
		for i, want := range fixed {
			if cols[i] != want {
				return r.errf("", "column %d of the #CHROM line is %q, want %q", i+1, cols[i], want)
			}
		}
		if len(cols) > 8 {
			if cols[8] != "FORMAT" {
				return r.errf("", "column 9 of the #CHROM line is %q, want FORMAT", cols[8])
			}
			seen := map[string]bool{}
			for _, s := range cols[9:] {
				if s == "" || seen[s] {
					return r.errf("", "sample name %q is empty or repeated", s)
				}
				seen[s] = true
			}
			r.header.Samples = cols[9:]
		}
		return nil
	}
}

func (r *Reader) meta(m string) error {
	key, val, ok := strings.Cut(m, "=")
	if !ok || key == "" {
		return r.errf("", "meta line must be ##key=value")
	}
	if strings.HasPrefix(val, "<") {
		if !strings.HasSuffix(val, ">") {
			return r.errf("", "structured ##%s line must end with '>'", key)
		}
		id, ok := structuredID(val)
		if !ok && (key == "INFO" || key == "FORMAT" || key == "FILTER" || key == "contig" || key == "ALT") {
			return r.errf("", "##%s line has no ID", key)
		}
		if key == "contig" {
			r.header.Contigs = append(r.header.Contigs, id)
		}
	}
	r.header.Meta = append(r.header.Meta, m)
	return nil
}

// structuredID extracts ID=... from "<ID=x,...>".
func structuredID(v string) (string, bool) {
	inner := strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	if id, ok := strings.CutPrefix(inner, "ID="); ok {
		if i := strings.IndexByte(id, ','); i >= 0 {
			id = id[:i]
		}
		return id, id != ""
	}
	return "", false
}

// Next returns the next record or io.EOF.
func (r *Reader) Next() (*Record, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	if line == "" {
		return nil, r.errf("", "empty line")
	}
	cols := strings.Split(line, "\t")
	want := 8
	if len(r.header.Samples) > 0 {
		want = 9 + len(r.header.Samples)
	}
	if len(cols) != want && !(len(r.header.Samples) == 0 && len(cols) == 9) {
		return nil, r.errf("", "%d tab-separated columns, the header declares %d", len(cols), want)
	}
	rec := &Record{Chrom: cols[0], ID: cols[2], Ref: cols[3], Qual: cols[5], Filter: cols[6], Info: cols[7], Line: r.line}
	if !validContig(rec.Chrom) {
		return nil, r.errf("CHROM", "%q is not a valid contig name", rec.Chrom)
	}
	if rec.Pos, err = strconv.ParseInt(cols[1], 10, 64); err != nil || rec.Pos < 0 {
		return nil, r.errf("POS", "%q is not a non-negative integer", cols[1])
	}
	if rec.ID == "" || strings.ContainsAny(rec.ID, " ") {
		return nil, r.errf("ID", "%q is empty or contains a space", rec.ID)
	}
	if !validBases(rec.Ref) {
		return nil, r.errf("REF", "%q is not a sequence of A, C, G, T, N", rec.Ref)
	}
	if cols[4] != "." {
		rec.Alt = strings.Split(cols[4], ",")
		for _, a := range rec.Alt {
			if !validAlt(a) {
				return nil, r.errf("ALT", "allele %q is not bases, '*', '.', a <SYMBOLIC> allele or a breakend", a)
			}
		}
	}
	if rec.Qual != "." {
		if q, err := strconv.ParseFloat(rec.Qual, 64); err != nil || q < 0 {
			return nil, r.errf("QUAL", "%q is not '.' or a non-negative number", rec.Qual)
		}
	}
	if rec.Filter == "" || strings.ContainsAny(rec.Filter, " ") {
		return nil, r.errf("FILTER", "%q is empty or contains a space", rec.Filter)
	}
	if err := r.checkInfo(rec.Info); err != nil {
		return nil, err
	}
	if len(cols) > 8 {
		rec.Format = strings.Split(cols[8], ":")
		for i, k := range rec.Format {
			if k == "" {
				return nil, r.errf("FORMAT", "empty key")
			}
			if k == "GT" && i != 0 {
				return nil, r.errf("FORMAT", "GT must be the first key")
			}
		}
		rec.Samples = cols[9:]
		for i, s := range rec.Samples {
			if n := strings.Count(s, ":") + 1; n > len(rec.Format) {
				return nil, r.errf(r.header.Samples[i], "%d values for %d FORMAT keys", n, len(rec.Format))
			}
			if rec.Format[0] == "GT" {
				if _, _, ok := parseGT(firstField(s)); !ok {
					return nil, r.errf(r.header.Samples[i], "genotype %q is malformed", firstField(s))
				}
			}
		}
	}
	return rec, nil
}

func (r *Reader) checkInfo(info string) error {
	if info == "" {
		return r.errf("INFO", "empty (use '.')")
	}
	if info == "." {
		return nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(info, ";") {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, " ") {
			return r.errf("INFO", "key %q is empty or contains a space", k)
		}
		if seen[k] {
			return r.errf("INFO", "key %s appears twice", k)
		}
		seen[k] = true
	}
	return nil
}

// validContig follows the VCF 4.3 contig name rule, and also accepts a
// whole name in angle brackets (a symbolic contig from an assembly file).
func validContig(c string) bool {
	if len(c) > 2 && c[0] == '<' && c[len(c)-1] == '>' {
		c = c[1 : len(c)-1]
	}
	if c == "" || c[0] == '*' || c[0] == '=' {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if b <= ' ' || b > '~' || strings.IndexByte(`\,"'()[]{}<>`, b) >= 0 {
			return false
		}
	}
	return true
}

func firstField(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return s
}

func validBases(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] | 0x20 {
		case 'a', 'c', 'g', 't', 'n':
		default:
			return false
		}
	}
	return true
}

func validAlt(a string) bool {
	switch {
	case a == "*" || a == ".":
		return true
	case strings.HasPrefix(a, "<") && strings.HasSuffix(a, ">") && len(a) > 2:
		return true
	case strings.ContainsAny(a, "[]") || strings.HasPrefix(a, ".") || strings.HasSuffix(a, "."):
		return true // breakend notation
	}
	return validBases(a)
}

// parseGT parses a genotype like "0/1", "1|0", "./." or "1"; missing
// alleles are -1.
func parseGT(s string) (alleles []int, phased, ok bool) {
	if s == "" {
		return nil, false, false
	}
	if s[0] == '|' || s[0] == '/' { // VCF 4.4 explicit phasing prefix
		phased, s = s[0] == '|', s[1:]
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '/' && s[i] != '|' {
			continue
		}
		a := s[start:i]
		switch {
		case a == ".":
			alleles = append(alleles, -1)
		default:
			n, err := strconv.Atoi(a)
			if err != nil || n < 0 {
				return nil, false, false
			}
			alleles = append(alleles, n)
		}
		if i < len(s) && s[i] == '|' {
			phased = true
		}
		start = i + 1
	}
	return alleles, phased, true
}

// Genotype returns sample i's alleles (-1 for missing) and whether they are
// phased; ok is false when the record has no GT for that sample.
func (rec *Record) Genotype(i int) (alleles []int, phased, ok bool) {
	if i < 0 || i >= len(rec.Samples) || len(rec.Format) == 0 || rec.Format[0] != "GT" {
		return nil, false, false
	}
	return parseGT(firstField(rec.Samples[i]))
}

// InfoValue returns the value of an INFO key; a flag returns "" and true.
func (rec *Record) InfoValue(key string) (string, bool) {
	for _, kv := range strings.Split(rec.Info, ";") {
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// IsPass reports whether FILTER is PASS or missing.
func (rec *Record) IsPass() bool { return rec.Filter == "PASS" || rec.Filter == "." }
