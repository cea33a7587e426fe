// Package vcf reads VCF 4.x text (decompress first with format.OpenFile).
// It checks what a downstream consumer relies on — the header and the
// syntax of its structured lines, column counts, contig names, positions,
// IDs, alleles, filters, genotypes, and INFO and sample values against the
// Number and Type of their key (declared by ##INFO/##FORMAT, else as the
// specification reserves it) — and reports the file, line and column of
// the first problem.
//
// It is as lenient as htslib where real files need it: an INFO value's
// Type is checked only for reserved keys, and a header may define a
// reserved key (AC, GQ, ...) differently from the specification. It checks
// one line at a time, so sort order and duplicate records are left to the
// caller.
package vcf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("malformed VCF")

// Hard limits on what one input can make the reader hold (variables so
// tests can lower them).
var (
	maxLine   = 128 << 20 // bytes in one line
	maxHeader = 128 << 20 // bytes of ## lines in all
)

// fixed lists the eight mandatory columns in order.
var fixed = []string{"#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"}

// Header holds the meta-information lines and the sample names.
type Header struct {
	Version string   // e.g. "VCFv4.2"
	Meta    []string // "##" lines without the "##"
	Samples []string
	Contigs []string       // IDs from ##contig lines, in order
	Info    map[string]Def // from ##INFO lines
	Format  map[string]Def // from ##FORMAT lines
}

// Def is the Number and Type an ##INFO or ##FORMAT line gives a key.
type Def struct {
	Number string // an integer, "A", "R", "G", "." (or VCF 4.4+ "LA", "LR", "LG", "P", "M")
	Type   string // "Integer", "Float", "Flag", "Character" or "String"
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
	long   []byte // a line longer than br's buffer
	file   string
	line   int
	minor  int // the x of VCFv4.x
	header Header
}

// NewReader reads and checks the header; file names the input in errors.
func NewReader(r io.Reader, file string) (*Reader, error) {
	vr := &Reader{br: bufio.NewReaderSize(r, 64<<10), file: file}
	vr.header.Info = map[string]Def{}
	vr.header.Format = map[string]Def{}
	if err := vr.readHeader(); err != nil {
		return nil, err
	}
	return vr, nil
}

// Header returns the parsed header.
func (r *Reader) Header() *Header { return &r.header }

func (r *Reader) errf(col string, f string, a ...any) error {
	return r.errAt(r.line, col, f, a...)
}

// errAt is errf at line n.
func (r *Reader) errAt(n int, col string, f string, a ...any) error {
	msg := fmt.Sprintf(f, a...)
	if col != "" {
		msg = col + ": " + msg
	}
	return fmt.Errorf("%s: line %d: %w: %s", r.file, n, ErrSyntax, msg)
}

// readLine returns the next line without its ending; a final line
// without a newline is an error (the file was probably cut short).
func (r *Reader) readLine() (string, error) {
	b, err := r.readBytes()
	return string(b), err
}

// readBytes is readLine, valid until the next call.
func (r *Reader) readBytes() ([]byte, error) {
	r.long = r.long[:0] // used only when a line is longer than the buffer
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.long)+len(chunk) > maxLine {
			r.line++
			return nil, r.errf("", "line longer than %d bytes", maxLine)
		}
		if err == bufio.ErrBufferFull {
			r.long = append(r.long, chunk...)
			continue
		}
		if err == io.EOF {
			if len(r.long)+len(chunk) == 0 {
				return nil, io.EOF
			}
			r.line++
			return nil, r.errf("", "last line has no newline: the file is incomplete")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w (reading line %d)", r.file, err, r.line+1)
		}
		r.line++
		if len(r.long) > 0 {
			r.long = append(r.long, chunk...)
			chunk = r.long
		}
		chunk = chunk[:len(chunk)-1] // the newline
		if n := len(chunk); n > 0 && chunk[n-1] == '\r' {
			chunk = chunk[:n-1]
		}
		return chunk, nil
	}
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
	minor, digits := strings.CutPrefix(v, "VCFv4.")
	n, err := strconv.Atoi(minor)
	if !ok || !digits || err != nil || n < 0 || strings.TrimLeft(minor, "0123456789") != "" {
		return r.errf("", "the first line must be ##fileformat=VCFv4.x")
	}
	r.header.Version, r.minor = v, n
	size := len(first)
	for {
		line, err := r.readLine()
		if err == io.EOF {
			return r.errf("", "no #CHROM header line")
		}
		if err != nil {
			return err
		}
		if size += len(line); size > maxHeader {
			return r.errf("", "header longer than %d bytes", maxHeader)
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
		return r.columns(line)
	}
}

// columns checks the #CHROM line and takes the sample names from it.
func (r *Reader) columns(line string) error {
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
		if len(cols) == 9 { // htslib rejects this too
			return r.errf("", "the #CHROM line has a FORMAT column but no samples")
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

func (r *Reader) meta(m string) error {
	key, val, ok := strings.Cut(m, "=")
	if !ok || key == "" {
		return r.errf("", "meta line must be ##key=value")
	}
	if val == "" {
		return r.errf("", "##%s has an empty value", key)
	}
	switch key {
	case "INFO", "FORMAT", "FILTER", "ALT", "contig", "SAMPLE", "META", "PEDIGREE":
		if err := r.definition(key, val); err != nil {
			return err
		}
	default: // a line the specification does not define: only its shape
		if strings.HasPrefix(val, "<") && (len(val) < 3 || !strings.HasSuffix(val, ">")) {
			return r.errf("", "structured ##%s line must end with '>' and not be empty", key)
		}
	}
	r.header.Meta = append(r.header.Meta, m)
	return nil
}

// field is one key=value of a structured meta line.
type field struct {
	key, value string
	quoted     bool
}

// definition checks a structured line the specification defines, such as
// ##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">, and records
// contigs and INFO/FORMAT definitions.
func (r *Reader) definition(key, val string) error {
	if !strings.HasPrefix(val, "<") || !strings.HasSuffix(val, ">") || len(val) < 2 {
		return r.errf("", "structured ##%s line must be <...> and end with '>'", key)
	}
	fields, msg := splitFields(val[1 : len(val)-1])
	if msg != "" {
		return r.errf("", "##%s line: %s", key, msg)
	}
	get := func(k string) (string, bool) {
		for _, f := range fields {
			if f.key == k {
				return f.value, true
			}
		}
		return "", false
	}
	for _, f := range fields {
		if !f.quoted && !strings.HasPrefix(f.value, "[") && strings.ContainsAny(f.value, " \t") {
			return r.errf("", "##%s line: %s value %q has white space and no quotes", key, f.key, f.value)
		}
		if f.key == "Description" && !f.quoted {
			return r.errf("", "##%s line: Description must be in double quotes", key)
		}
	}
	if len(fields) == 0 {
		return r.errf("", "##%s line is empty", key)
	}
	id, _ := get("ID")
	if key != "PEDIGREE" || r.minor >= 3 { // PEDIGREE lines got an ID in VCF 4.3
		if fields[0].key != "ID" || id == "" {
			return r.errf("", "##%s line has no ID (it must come first)", key)
		}
	}
	number, hasNumber := get("Number")
	if hasNumber && !validNumber(number) {
		return r.errf("", "##%s line %s: Number %q is not an integer, A, R, G or '.'", key, id, number)
	}
	typ, hasType := get("Type")
	switch typ {
	case "Integer", "Float", "Flag", "Character", "String":
	default:
		if hasType {
			return r.errf("", "##%s line %s: Type %q is not Integer, Float, Flag, Character or String", key, id, typ)
		}
	}
	switch key {
	case "contig":
		if !validContig(id) {
			return r.errf("", "##contig ID %q is not a valid contig name", id)
		}
		r.header.Contigs = append(r.header.Contigs, id)
	case "ALT":
		if strings.ContainsAny(id, "<>") {
			return r.errf("", "##ALT ID %q contains '<' or '>'", id)
		}
	case "INFO", "FORMAT":
		if !hasNumber || !hasType {
			return r.errf("", "##%s line %s needs Number and Type", key, id)
		}
		defs := r.header.Info
		if key == "FORMAT" {
			defs = r.header.Format
			if !validFormatKey(id) {
				return r.errf("", "##FORMAT ID %q is not a letter or '_' followed by letters, digits, '_' or '.'", id)
			}
			if typ == "Flag" {
				return r.errf("", "##FORMAT line %s: Type=Flag is for INFO only", id)
			}
			if id == "GT" && (number != "1" || typ != "String") {
				return r.errf("", "##FORMAT line GT must have Number=1 and Type=String")
			}
		}
		if _, dup := defs[id]; !dup { // the first definition wins, as in htslib
			defs[id] = Def{Number: number, Type: typ}
		}
	}
	return nil
}

// splitFields splits the inside of <...> into key=value fields. A value is
// either "quoted" (with \" and \\ escapes), a [bracketed, list] or plain
// text up to the next comma.
func splitFields(s string) ([]field, string) {
	var out []field
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" || strings.ContainsAny(k, ",\" \t<>") {
			if i := strings.IndexByte(s, ','); i >= 0 {
				s = s[:i]
			}
			return nil, fmt.Sprintf("%q is not key=value", s)
		}
		f := field{key: k}
		switch {
		case strings.HasPrefix(rest, `"`):
			end := closingQuote(rest)
			if end < 0 {
				return nil, fmt.Sprintf("the quoted value of %s has no closing quote", k)
			}
			f.value, f.quoted, rest = rest[1:end], true, rest[end+1:]
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Sprintf("the [list] value of %s has no closing ']'", k)
			}
			f.value, rest = rest[:end+1], rest[end+1:]
		default:
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			f.value, rest = rest[:end], rest[end:]
		}
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Sprintf("text after the value of %s (an unescaped quote?)", k)
			}
			if rest = rest[1:]; rest == "" {
				return nil, "ends with ','"
			}
		}
		out = append(out, f)
		s = rest
	}
	return out, ""
}

// closingQuote returns the index of the quote that closes s[0], or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func validNumber(n string) bool {
	switch n {
	case "A", "R", "G", ".", "LA", "LR", "LG", "P", "M":
		return true
	}
	i, err := strconv.ParseInt(n, 10, 32)
	return err == nil && i >= 0 && n[0] != '+'
}

// reservedInfo and reservedFormat are the definitions the specification
// gives reserved keys; they apply when the header does not define the key.
var reservedInfo = map[string]Def{
	"AA": {"1", "String"}, "AC": {"A", "Integer"}, "AD": {"R", "Integer"},
	"ADF": {"R", "Integer"}, "ADR": {"R", "Integer"}, "AF": {"A", "Float"},
	"AN": {"1", "Integer"}, "BQ": {"1", "Float"}, "CIGAR": {"A", "String"},
	"DB": {"0", "Flag"}, "DP": {"1", "Integer"}, "END": {"1", "Integer"},
	"H2": {"0", "Flag"}, "H3": {"0", "Flag"}, "MQ": {"1", "Float"},
	"MQ0": {"1", "Integer"}, "NS": {"1", "Integer"}, "SOMATIC": {"0", "Flag"},
	"VALIDATED": {"0", "Flag"}, "1000G": {"0", "Flag"},
}

var reservedFormat = map[string]Def{
	"AD": {"R", "Integer"}, "ADF": {"R", "Integer"}, "ADR": {"R", "Integer"},
	"DP": {"1", "Integer"}, "EC": {"A", "Integer"}, "FT": {"1", "String"},
	"GL": {"G", "Float"}, "GP": {"G", "Float"}, "GQ": {"1", "Integer"},
	"HQ": {"2", "Integer"}, "MQ": {"1", "Integer"}, "PL": {"G", "Integer"},
	"PP": {"G", "Integer"}, "PQ": {"1", "Integer"}, "PS": {"1", "Integer"},
}

// infoCounts and formatCounts are the reserved keys whose numbers
// cannot be negative.
var (
	infoCounts   = map[string]bool{"AC": true, "AF": true, "AN": true, "DP": true, "END": true, "MQ0": true, "NS": true}
	formatCounts = map[string]bool{"AD": true, "ADF": true, "ADR": true, "DP": true}
)

func lookup(defs, reserved map[string]Def, key string) (Def, bool) {
	if d, ok := defs[key]; ok {
		return d, true
	}
	d, ok := reserved[key]
	return d, ok
}

// Next returns the next record or io.EOF.
func (r *Reader) Next() (*Record, error) {
	rec := new(Record)
	if err := r.Read(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// Read is Next into rec, which it overwrites whole: a caller reading
// many records into the same Record saves allocations, as rec's Alt,
// Format and Samples slices are reused. It returns io.EOF at the end.
func (r *Reader) Read(rec *Record) error {
	alt, format, samples := rec.Alt[:0], rec.Format[:0], rec.Samples[:0]
	*rec = Record{Alt: alt, Format: format, Samples: samples}
	if err := r.read(rec); err != nil {
		*rec = Record{}
		return err
	}
	return nil
}

func (r *Reader) read(rec *Record) error {
	line, err := r.readLine()
	if err != nil {
		return err
	}
	return r.parse(rec, line, r.line)
}

// NextLine returns the next data line, without its line ending, and its
// number, or io.EOF: the raw text for ParseLine, which can then run on
// other goroutines. The bytes are valid until the next call.
func (r *Reader) NextLine() ([]byte, int, error) {
	b, err := r.readBytes()
	return b, r.line, err
}

// ParseLine parses data line n, as read by NextLine, into rec the way
// Read does (rec is overwritten, its slices reused). It only reads the
// header, so several goroutines may call it at once; the strings of rec
// are substrings of line.
func (r *Reader) ParseLine(rec *Record, line string, n int) error {
	alt, format, samples := rec.Alt[:0], rec.Format[:0], rec.Samples[:0]
	*rec = Record{Alt: alt, Format: format, Samples: samples}
	if err := r.parse(rec, line, n); err != nil {
		*rec = Record{}
		return err
	}
	return nil
}

// parse parses data line n into rec, which has its slices emptied.
func (r *Reader) parse(rec *Record, line string, n int) error {
	if line == "" {
		return r.errAt(n, "", "empty line")
	}
	var err error
	var colBuf [16]string
	cols := splitTabs(colBuf[:0], line)
	want := 8
	if len(r.header.Samples) > 0 {
		want = 9 + len(r.header.Samples)
	}
	if len(cols) != want && !(len(r.header.Samples) == 0 && len(cols) == 9) {
		return r.errAt(n, "", "%d tab-separated columns, the header declares %d", len(cols), want)
	}
	rec.Chrom, rec.ID, rec.Ref, rec.Qual, rec.Filter, rec.Info, rec.Line = cols[0], cols[2], cols[3], cols[5], cols[6], cols[7], n
	if !validContig(rec.Chrom) {
		return r.errAt(n, "CHROM", "%q is not a valid contig name", rec.Chrom)
	}
	if rec.Pos, err = parsePos(cols[1]); err != nil || rec.Pos < 0 {
		return r.errAt(n, "POS", "%q is not a non-negative integer", cols[1])
	}
	if msg := checkList(rec.ID, true); msg != "" {
		return r.errAt(n, "ID", "%q %s", rec.ID, msg)
	}
	if !validBases(rec.Ref) {
		return r.errAt(n, "REF", "%q is not a sequence of A, C, G, T, N", rec.Ref)
	}
	if cols[4] != "." {
		rec.Alt = appendSplit(rec.Alt, cols[4], ',')
	} else {
		rec.Alt = nil
	}
	for _, a := range rec.Alt {
		if !validAlt(a) {
			return r.errAt(n, "ALT", "allele %q is not bases, '*', a <SYMBOLIC> allele or a breakend ('.' must stand alone)", a)
		}
	}
	if rec.Qual != "." {
		if q, err := strconv.ParseFloat(rec.Qual, 64); err != nil || q < 0 {
			return r.errAt(n, "QUAL", "%q is not '.' or a non-negative number", rec.Qual)
		}
	}
	if msg := checkList(rec.Filter, false); msg != "" {
		return r.errAt(n, "FILTER", "%q %s", rec.Filter, msg)
	}
	if err := r.checkInfo(rec); err != nil {
		return err
	}
	if len(cols) > 8 && cols[8] != "." { // "." is a FORMAT with no keys
		rec.Format = appendSplit(rec.Format, cols[8], ':')
		rec.Samples = append(rec.Samples, cols[9:]...)
		if err := r.checkSamples(rec); err != nil {
			return err
		}
	} else {
		rec.Format, rec.Samples = nil, nil
	}
	return nil
}

// parsePos is strconv.ParseInt(s, 10, 64), with a loop for the plain
// digits of nearly every POS (the call costs more than the parse).
func parsePos(s string) (int64, error) {
	if len(s) == 0 || len(s) > 18 { // 18 digits cannot overflow
		return strconv.ParseInt(s, 10, 64)
	}
	var v int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return strconv.ParseInt(s, 10, 64) // a sign, or an error
		}
		v = v*10 + int64(d)
	}
	return v, nil
}

// splitTabs appends the tab-separated fields of line to dst. Fields
// are short: one pass over the bytes beats a search call per field.
func splitTabs(dst []string, line string) []string {
	from := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '\t' {
			dst = append(dst, line[from:i])
			from = i + 1
		}
	}
	return append(dst, line[from:])
}

// appendSplit appends the sep-separated fields of s to dst.
func appendSplit(dst []string, s string, sep byte) []string {
	for {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+1:]
	}
}

// checkList checks an ID or FILTER column: "." or a ';'-separated list
// of distinct names without white space; a FILTER name is not "0". It
// returns what is wrong, or "".
func checkList(s string, id bool) string {
	if s == "." || s == "PASS" {
		return ""
	}
	if s == "" {
		return "is empty (use '.')"
	}
	var seen map[string]bool
	for name := range strings.SplitSeq(s, ";") {
		switch {
		case name == "":
			return "has an empty name (a stray ';')"
		case strings.ContainsAny(name, " \t"):
			return "contains white space"
		case name == ".":
			return "has '.' in a list"
		case name == "0" && !id:
			return "uses the reserved name 0"
		case seen[name]:
			return "repeats " + name
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[name] = true
	}
	return ""
}

// checkInfo checks the INFO column: distinct keys; a Flag has no value
// (or 0 or 1) and any other key has one. Values are checked against the
// key's definition (from the header, else the specification's for a
// reserved key) more loosely than sample values, as htslib does: their
// Type only for the reserved keys, whose meaning is standard (annotation
// files, the GIAB truth sets among them, declare Integer for lists of
// names), and their number only for non-String keys (a String value may
// hold commas).
func (r *Reader) checkInfo(rec *Record) error {
	if rec.Info == "" {
		return r.errAt(rec.Line, "INFO", "empty (use '.')")
	}
	if rec.Info == "." {
		return nil
	}
	seen := map[string]bool{}
	for kv := range strings.SplitSeq(rec.Info, ";") {
		k, v, hasValue := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return r.errAt(rec.Line, "INFO", "key %q is empty or contains a space", k)
		}
		if seen[k] {
			return r.errAt(rec.Line, "INFO", "key %s appears twice", k)
		}
		seen[k] = true
		def, ok := lookup(r.header.Info, reservedInfo, k)
		switch {
		case !ok:
		case def.Type == "Flag":
			if hasValue && v != "0" && v != "1" {
				return r.errAt(rec.Line, "INFO", "%s is a Flag and takes no value (or 0 or 1)", k)
			}
		case !hasValue:
			return r.errAt(rec.Line, "INFO", "%s has no value (only a Flag may)", k)
		default:
			lo, hi := -1, -1
			if def.Type != "String" {
				lo, hi = wantCount(def.Number, len(rec.Alt), anyPloidy(len(rec.Alt)))
			}
			if _, reserved := reservedInfo[k]; !reserved {
				def.Type = "String" // whatever the header says; see above
			}
			if msg := checkValues(v, def, lo, hi, infoCounts[k]); msg != "" {
				return r.errAt(rec.Line, "INFO", "%s: %s", k, msg)
			}
		}
	}
	return nil
}

// checkSamples checks the FORMAT keys and each sample's values: the GT
// parses and names listed alleles (ALT '.' lists none, and then allele
// numbers are not checked, as hts-specs' valid files expect), and the
// other values fit their key's Type and Number, Number=G by the sample's
// ploidy.
func (r *Reader) checkSamples(rec *Record) error {
	// What each key calls for, found once for all the samples (in memory
	// of the stack for the few keys of most lines).
	type formatKey struct {
		def          Def
		known, count bool
	}
	var keyBuf [8]formatKey
	keys := keyBuf[:0]
	var seen map[string]bool // for many keys; a few are compared
	for i, k := range rec.Format {
		var repeated bool
		if len(rec.Format) <= len(keyBuf) {
			repeated = slices.Contains(rec.Format[:i], k)
		} else {
			if seen == nil {
				seen = map[string]bool{}
			}
			repeated = seen[k]
			seen[k] = true
		}
		switch {
		case k == "":
			return r.errAt(rec.Line, "FORMAT", "empty key")
		case k == "GT" && i != 0:
			return r.errAt(rec.Line, "FORMAT", "GT must be the first key")
		case !validFormatKey(k):
			return r.errAt(rec.Line, "FORMAT", "key %q is not a letter or '_' followed by letters, digits, '_' or '.'", k)
		case repeated:
			return r.errAt(rec.Line, "FORMAT", "key %s appears twice", k)
		}
		def, known := lookup(r.header.Format, reservedFormat, k)
		keys = append(keys, formatKey{def, known, formatCounts[k]})
	}
	var gtBuf [4]int
	for i, s := range rec.Samples {
		name := r.header.Samples[i]
		if n := strings.Count(s, ":") + 1; n > len(rec.Format) {
			return r.errAt(rec.Line, name, "%d values for %d FORMAT keys", n, len(rec.Format))
		}
		g := anyPloidy(len(rec.Alt)) // until GT tells the ploidy
		j := 0
		for v := range strings.SplitSeq(s, ":") {
			k := rec.Format[j]
			switch {
			case k == "GT":
				gt, _, ok := appendGT(gtBuf[:0], v)
				if !ok {
					return r.errAt(rec.Line, name, "genotype %q is malformed", v)
				}
				for _, a := range gt {
					if a > len(rec.Alt) && len(rec.Alt) > 0 {
						return r.errAt(rec.Line, name, "genotype %q refers to allele %d, the record has %d ALT alleles", v, a, len(rec.Alt))
					}
				}
				if v != "." { // a lone "." is the missing genotype of any ploidy
					n := genotypes(len(rec.Alt)+1, len(gt))
					g = [2]int{n, n}
				}
			case keys[j].known:
				lo, hi := wantCount(keys[j].def.Number, len(rec.Alt), g)
				if msg := checkValues(v, keys[j].def, lo, hi, keys[j].count); msg != "" {
					return r.errAt(rec.Line, name, "%s: %s", k, msg)
				}
			}
			j++
		}
	}
	return nil
}

// wantCount returns how many values Number calls for: lo or hi, or any
// number when lo < 0 (Number=0 or '.', or an allele count when ALT is
// '.'). g is the number of genotypes, for Number=G: two counts when the
// ploidy is not known (see anyPloidy).
func wantCount(number string, alts int, g [2]int) (lo, hi int) {
	// Atoi only where it may succeed: its error for "A", "R", "G" or
	// "." is an allocation.
	if number != "" && (number[0] >= '0' && number[0] <= '9' || number[0] == '+' || number[0] == '-') {
		if n, err := strconv.Atoi(number); err == nil && n > 0 {
			return n, n
		}
	}
	if alts == 0 { // ALT is ".": nothing to count alleles against
		return -1, -1
	}
	switch number {
	case "A":
		return alts, alts
	case "R":
		return alts + 1, alts + 1
	case "G":
		return g[0], g[1]
	}
	return -1, -1
}

// anyPloidy is the number of haploid and of diploid genotypes, for a G
// field whose ploidy no GT tells.
func anyPloidy(alts int) [2]int {
	return [2]int{genotypes(alts+1, 1), genotypes(alts+1, 2)}
}

// genotypes is how many unordered genotypes of the given ploidy n alleles
// make, C(n+ploidy-1, ploidy), capped at MaxInt32.
func genotypes(n, ploidy int) int {
	c := 1
	for i := 1; i <= ploidy; i++ {
		c = c * (n + i - 1) / i
		if c > math.MaxInt32 {
			return math.MaxInt32
		}
	}
	return c
}

// checkValues checks a comma-separated value against its definition and
// returns what is wrong, or "". "." (or nothing) is missing, as a whole or
// as one of the values; lo and hi are from wantCount; count says the
// values cannot be negative.
func checkValues(v string, def Def, lo, hi int, count bool) string {
	if v == "." || v == "" {
		return ""
	}
	n := 0
	// The values between commas, as strings.SplitSeq gives them, without
	// its cost for the few values of most keys.
	for rest, more := v, true; more; {
		e := rest
		if i := strings.IndexByte(rest, ','); i >= 0 {
			e, rest = rest[:i], rest[i+1:]
		} else {
			more = false
		}
		n++
		switch {
		case e == ".":
		case !validValue(def.Type, e):
			return fmt.Sprintf("%q is not of Type %s", e, def.Type)
		case count && strings.HasPrefix(e, "-"):
			return fmt.Sprintf("%q is negative", e)
		}
	}
	if lo >= 0 && n != lo && n != hi {
		want := strconv.Itoa(lo)
		if hi != lo {
			want += " or " + strconv.Itoa(hi)
		}
		return fmt.Sprintf("%d values, Number=%s calls for %s", n, def.Number, want)
	}
	return ""
}

func validValue(typ, e string) bool {
	switch typ {
	case "Integer":
		if len(e) > 0 && len(e) < 10 && allDigits(e) { // the common case
			return true
		}
		// 32-bit, less the eight lowest values that BCF reserves.
		i, err := strconv.ParseInt(e, 10, 32)
		return err == nil && i > math.MinInt32+7
	case "Float":
		_, err := strconv.ParseFloat(e, 64)
		return (err == nil || errors.Is(err, strconv.ErrRange)) && !strings.ContainsAny(e, "xX_")
	case "Character":
		return utf8.RuneCountInString(e) == 1
	}
	return true
}

// allDigits says whether s is ASCII digits only.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validFormatKey follows the VCF 4.3 rule for FORMAT keys.
func validFormatKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' || k[0] == '.' {
		return false
	}
	for i := 0; i < len(k); i++ {
		b := k[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.') {
			return false
		}
	}
	return true
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
		if !contigByte[c[i]] {
			return false
		}
	}
	return true
}

// contigByte marks the bytes a contig name may hold.
var contigByte = func() (t [256]bool) {
	for b := '!'; b <= '~'; b++ {
		t[b] = !strings.ContainsRune(`\,"'()[]{}<>`, b)
	}
	return
}()

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

// validAlt accepts bases, '*', a <SYMBOLIC> allele, a breakend (t[p[,
// t]p], ]p]t, [p[t) or a single breakend (.t, t.).
func validAlt(a string) bool {
	switch {
	case validBases(a): // the common case first
		return true
	case a == "*":
		return true
	case strings.HasPrefix(a, "<"):
		id, ok := strings.CutSuffix(a[1:], ">")
		return ok && id != "" && !strings.ContainsAny(id, "<> \t")
	case strings.ContainsAny(a, "[]"):
		return validBreakend(a)
	case len(a) > 1 && a[0] == '.':
		return validBases(a[1:])
	case len(a) > 1 && a[len(a)-1] == '.':
		return validBases(a[:len(a)-1])
	}
	return validBases(a)
}

// validBreakend checks t[p[, t]p], ]p]t and [p[t, where t is bases (or
// "." at a telomere) and p is chrom:pos.
func validBreakend(a string) bool {
	b := "["
	if strings.Contains(a, "]") {
		b = "]"
	}
	if strings.Count(a, "[")+strings.Count(a, "]") != 2 || strings.Count(a, b) != 2 {
		return false
	}
	i, j := strings.Index(a, b), strings.LastIndex(a, b)
	before, mate, after := a[:i], a[i+1:j], a[j+1:]
	t := before + after // "." at a telomere
	if (before == "") == (after == "") || t != "." && !validBases(t) {
		return false
	}
	k := strings.LastIndexByte(mate, ':') // the contig name may hold ':'
	if k < 0 {
		return false
	}
	chrom, pos := mate[:k], mate[k+1:]
	n, err := strconv.ParseInt(pos, 10, 64)
	return validContig(chrom) && err == nil && n >= 0 && pos[0] != '+'
}

// parseGT parses a genotype like "0/1", "1|0", "./." or "1"; missing
// alleles are -1.
func parseGT(s string) (alleles []int, phased, ok bool) { return appendGT(nil, s) }

// appendGT is parseGT appending the alleles to dst.
func appendGT(dst []int, s string) (alleles []int, phased, ok bool) {
	if s == "" {
		return nil, false, false
	}
	alleles = dst
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
			if err != nil || n < 0 || a[0] == '+' {
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
	for kv := range strings.SplitSeq(rec.Info, ";") {
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// IsPass reports whether FILTER is PASS or missing.
func (rec *Record) IsPass() bool { return rec.Filter == "PASS" || rec.Filter == "." }
