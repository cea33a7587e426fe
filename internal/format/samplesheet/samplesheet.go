// Package samplesheet reads Illumina sample sheets (SampleSheet.csv) in both
// layouts: v1, written by Illumina Experiment Manager for bcl2fastq
// ([Header], [Reads], [Settings], [Data]), and v2, written for BCL Convert on
// NovaSeq X and NextSeq 1000/2000 ([Header] with FileFormatVersion,2,
// [Reads], [BCLConvert_Settings], [BCLConvert_Data]). Sections it does not
// interpret, such as [Cloud_Data] or [DragenGermline_Settings], are kept as
// read. A v2 sheet may name its sections [Settings] and [Data], as some
// NextSeq 2000 sheets do; a sheet with both [Data] and [BCLConvert_Data] (or
// both settings sections) is rejected as ambiguous.
//
// Parse checks what the rest of the platform relies on: every Sample_ID is
// made of letters, digits, '_' and '-' (it becomes part of FASTQ file names),
// no Sample_ID appears twice in a lane, indexes are made of A, C, G, T and N,
// no two samples share an index pair in a lane, and lanes are small positive
// numbers. Errors are *ParseError values naming the line, section and column
// and wrapping one of the Err* sentinels. Error messages name the position
// and the offending character, never a whole Sample_ID, so they can be logged
// without copying sample identifiers.
package samplesheet

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Limits on what a sheet may contain; larger input is rejected with
// ErrTooLarge rather than read into memory.
const (
	MaxSize     = 16 << 20 // bytes in the whole sheet
	MaxLine     = 64 << 10 // bytes in one line
	MaxSamples  = 100_000  // rows in the data section
	MaxIDLength = 100      // characters in a Sample_ID
	MaxLane     = 99       // highest lane number accepted
	MaxCycles   = 9999     // highest cycle count accepted in [Reads]
)

// Sentinel causes, wrapped in a *ParseError.
var (
	ErrSyntax          = errors.New("malformed sample sheet")
	ErrTooLarge        = errors.New("sample sheet exceeds a size limit")
	ErrEncoding        = errors.New("sample sheet is not ASCII or UTF-8 text")
	ErrSection         = errors.New("bad section header")
	ErrVersion         = errors.New("unknown sample sheet version")
	ErrReads           = errors.New("bad [Reads] section")
	ErrNoData          = errors.New("no data section: a sheet needs [Data] (v1) or [BCLConvert_Data] (v2)")
	ErrDataHeader      = errors.New("bad data section header row")
	ErrNoSamples       = errors.New("the data section lists no samples")
	ErrBadSampleID     = errors.New("invalid Sample_ID")
	ErrDuplicateSample = errors.New("Sample_ID repeated in a lane")
	ErrSampleConflict  = errors.New("rows with the same Sample_ID disagree")
	ErrBadIndex        = errors.New("invalid index")
	ErrDuplicateIndex  = errors.New("two samples share an index in a lane")
	ErrBadLane         = errors.New("invalid Lane")
)

// ParseError names where in the sheet reading failed.
type ParseError struct {
	File    string // set by ParseFile; empty for Parse
	Line    int    // 1-based; 0 when not tied to a line
	Section string // section name without brackets, e.g. "Data"; empty before the first section
	Column  string // data column as written in the header row, e.g. "Sample_ID"; empty when not tied to one
	Err     error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	var where []string
	if e.Line > 0 {
		where = append(where, "line "+strconv.Itoa(e.Line))
	}
	if e.Section != "" {
		where = append(where, "["+e.Section+"]")
	}
	if e.Column != "" {
		where = append(where, "column "+e.Column)
	}
	if len(where) > 0 {
		b.WriteString(strings.Join(where, ", "))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Sheet is a parsed sample sheet.
type Sheet struct {
	// Version is 1 for IEM/bcl2fastq sheets and 2 for BCL Convert sheets
	// (FileFormatVersion,2 in [Header]).
	Version int
	// Header holds the [Header] key/value pairs, keys as written.
	Header map[string]string
	// Reads lists the lengths in cycles of the sequencing reads: the lines
	// of [Reads] in v1, Read1Cycles and Read2Cycles in v2. Nil when the
	// sheet has no [Reads] section.
	Reads []int
	// IndexReads lists Index1Cycles and Index2Cycles of a v2 [Reads]
	// section, when given.
	IndexReads []int
	// Settings holds [Settings] or [BCLConvert_Settings] key/value pairs.
	Settings map[string]string
	// Samples are the rows of the data section, in file order.
	Samples []Sample
	// Other holds every section this package does not interpret
	// ([Cloud_Data], [DragenGermline_Settings], [Manifests], ...), in file
	// order.
	Other []Section
}

// Sample is one row of the data section. A Sample_ID may appear on several
// rows, once per lane.
type Sample struct {
	ID      string // Sample_ID; letters, digits, '_' and '-' only
	Name    string // Sample_Name, if the column exists
	Project string // Sample_Project, if the column exists
	Lane    int    // 0 when the sheet has no Lane column or the cell is empty: every lane
	Index   string // i7 index (column "index" or "Index"); empty if none
	Index2  string // i5 index (column "index2" or "Index2"); empty if none
	Line    int    // line of the row in the sheet
}

// Section is a section kept as read: rows without blank lines, fields
// trimmed of spaces, trailing empty fields removed.
type Section struct {
	Name string // without brackets, as written
	Line int    // line of the [Name] header
	Rows []Row
}

// Row is one line of a kept section.
type Row struct {
	Line   int
	Fields []string
}

// ParseFile reads the sample sheet at path. Errors name the file.
func ParseFile(path string) (*Sheet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sample sheet: %w", err)
	}
	defer f.Close()
	s, err := Parse(f)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.File = path
			return nil, pe
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads and checks a sample sheet. Errors about the content are
// *ParseError values; read errors from r are returned wrapped.
func Parse(r io.Reader) (*Sheet, error) {
	secs, err := readSections(r)
	if err != nil {
		return nil, err
	}
	return interpret(secs)
}

// rawSection is a section as read, before interpretation.
type rawSection struct {
	name string
	line int
	rows []Row
}

// readSections splits the input into sections. It enforces the size limits
// and strips a UTF-8 byte order mark.
func readSections(r io.Reader) ([]rawSection, error) {
	br := bufio.NewReader(r)
	if err := skipBOM(br); err != nil {
		return nil, err
	}
	lim := &limitReader{r: br, line: 1}
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true // a stray '"' in a description is not worth a failed run
	cr.Comment = '#'
	var secs []rawSection
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if lim.err != nil {
				return nil, lim.err
			}
			var ce *csv.ParseError
			if errors.As(err, &ce) {
				return nil, &ParseError{Line: ce.Line, Err: fmt.Errorf("%w: %v", ErrSyntax, ce.Err)}
			}
			return nil, fmt.Errorf("reading sample sheet: %w", err)
		}
		line, _ := cr.FieldPos(0)
		fields := trimFields(rec)
		if len(fields) == 0 {
			continue
		}
		if strings.HasPrefix(fields[0], "[") {
			name, ok := sectionName(fields)
			if !ok {
				sec := ""
				if len(secs) > 0 {
					sec = secs[len(secs)-1].name
				}
				return nil, &ParseError{Line: line, Section: sec, Err: fmt.Errorf("%w: want [Name] alone on its line", ErrSection)}
			}
			secs = append(secs, rawSection{name: name, line: line})
			continue
		}
		if len(secs) == 0 {
			return nil, &ParseError{Line: line, Err: fmt.Errorf("%w: text before the first [Section] header (sheets without sections are not supported)", ErrSyntax)}
		}
		s := &secs[len(secs)-1]
		s.rows = append(s.rows, Row{Line: line, Fields: fields})
	}
	return secs, nil
}

// skipBOM drops a UTF-8 byte order mark and rejects UTF-16 text, which
// Excel writes when asked for "Unicode text".
func skipBOM(br *bufio.Reader) error {
	b, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return &ParseError{Line: 1, Err: fmt.Errorf("%w: UTF-16 text; save the sheet as CSV (UTF-8)", ErrEncoding)}
	}
	return nil
}

// limitReader enforces MaxSize and MaxLine and rejects NUL bytes, counting
// lines so that its errors name the line at fault. Once it fails it keeps
// failing.
type limitReader struct {
	r       io.Reader
	total   int64
	line    int // current line, 1-based
	lineLen int
	err     *ParseError
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		switch c {
		case '\n':
			l.line++
			l.lineLen = 0
			continue
		case 0:
			l.err = &ParseError{Line: l.line, Err: fmt.Errorf("%w: NUL byte (UTF-16 or binary data?)", ErrEncoding)}
			return 0, l.err
		}
		l.lineLen++
		if l.lineLen > MaxLine {
			l.err = &ParseError{Line: l.line, Err: fmt.Errorf("%w: line longer than %d bytes", ErrTooLarge, MaxLine)}
			return 0, l.err
		}
	}
	l.total += int64(n)
	if l.total > MaxSize {
		l.err = &ParseError{Line: l.line, Err: fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, MaxSize)}
		return 0, l.err
	}
	return n, err
}

// trimFields trims spaces from every field and drops trailing empty fields
// (spreadsheets pad every row to the widest one).
func trimFields(rec []string) []string {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	n := len(rec)
	for n > 0 && rec[n-1] == "" {
		n--
	}
	return rec[:n]
}

// sectionName returns Name for a row "[Name]" with no other fields.
func sectionName(fields []string) (string, bool) {
	f := fields[0]
	if len(fields) != 1 || len(f) < 3 || f[len(f)-1] != ']' {
		return "", false
	}
	name := strings.TrimSpace(f[1 : len(f)-1])
	if name == "" || strings.ContainsAny(name, "[]") {
		return "", false
	}
	return name, true
}

// Section kinds this package interprets.
const (
	kindOther = iota
	kindHeader
	kindReads
	kindSettings   // [Settings]
	kindBCLSetting // [BCLConvert_Settings]
	kindData       // [Data]
	kindBCLData    // [BCLConvert_Data]
)

func kindOf(name string) int {
	switch strings.ToLower(name) {
	case "header":
		return kindHeader
	case "reads":
		return kindReads
	case "settings":
		return kindSettings
	case "bclconvert_settings":
		return kindBCLSetting
	case "data":
		return kindData
	case "bclconvert_data":
		return kindBCLData
	}
	return kindOther
}

func interpret(secs []rawSection) (*Sheet, error) {
	known := map[int]*rawSection{}
	sh := &Sheet{}
	for i := range secs {
		s := &secs[i]
		k := kindOf(s.name)
		if k == kindOther {
			sh.Other = append(sh.Other, Section{Name: s.name, Line: s.line, Rows: s.rows})
			continue
		}
		if prev, ok := known[k]; ok {
			return nil, &ParseError{Line: s.line, Section: s.name, Err: fmt.Errorf("%w: repeats the section on line %d", ErrSection, prev.line)}
		}
		known[k] = s
	}
	// One settings section and one data section, under either name.
	for _, pair := range [][2]int{{kindSettings, kindBCLSetting}, {kindData, kindBCLData}} {
		a, b := known[pair[0]], known[pair[1]]
		if a != nil && b != nil {
			return nil, &ParseError{Line: b.line, Section: b.name, Err: fmt.Errorf("%w: the sheet also has [%s] (line %d); keep one", ErrSection, a.name, a.line)}
		}
	}

	var err error
	if sh.Header, err = keyValues(known[kindHeader]); err != nil {
		return nil, err
	}
	if sh.Version, err = version(known[kindHeader]); err != nil {
		return nil, err
	}
	settings := known[kindSettings]
	if settings == nil {
		settings = known[kindBCLSetting]
	}
	if sh.Settings, err = keyValues(settings); err != nil {
		return nil, err
	}
	if err := sh.reads(known[kindReads]); err != nil {
		return nil, err
	}
	data := known[kindData]
	if b := known[kindBCLData]; b != nil {
		if sh.Version != 2 {
			return nil, &ParseError{Line: b.line, Section: b.name, Err: fmt.Errorf("%w: [%s] needs FileFormatVersion,2 in [Header]", ErrVersion, b.name)}
		}
		data = b
	}
	if data == nil {
		return nil, &ParseError{Err: ErrNoData}
	}
	if sh.Samples, err = samples(data); err != nil {
		return nil, err
	}
	return sh, nil
}

// keyValues reads a section of "Key,Value" rows. Fields after the value
// are ignored. A key given twice (in any case) with different values is an
// error.
func keyValues(s *rawSection) (map[string]string, error) {
	m := map[string]string{}
	if s == nil {
		return m, nil
	}
	type seen struct {
		value string
		line  int
	}
	first := map[string]seen{}
	for _, r := range s.rows {
		k, v := r.Fields[0], ""
		if len(r.Fields) > 1 {
			v = r.Fields[1]
		}
		if k == "" {
			return nil, &ParseError{Line: r.Line, Section: s.name, Err: fmt.Errorf("%w: value without a key", ErrSyntax)}
		}
		lk := strings.ToLower(k)
		if old, ok := first[lk]; ok {
			if old.value != v {
				return nil, &ParseError{Line: r.Line, Section: s.name, Err: fmt.Errorf("%w: key %s repeats line %d with another value", ErrSyntax, k, old.line)}
			}
			continue
		}
		first[lk] = seen{v, r.Line}
		m[k] = v
	}
	return m, nil
}

// lookup finds a key case-insensitively, returning its value and line.
func lookup(s *rawSection, key string) (string, int, bool) {
	if s == nil {
		return "", 0, false
	}
	for _, r := range s.rows {
		if strings.EqualFold(r.Fields[0], key) {
			v := ""
			if len(r.Fields) > 1 {
				v = r.Fields[1]
			}
			return v, r.Line, true
		}
	}
	return "", 0, false
}

// version tells v1 from v2. FileFormatVersion must be 2 when present;
// IEMFileVersion, when present, must be 4 or 5 (the versions IEM wrote).
// A sheet without either is v1, as bcl2fastq accepts.
func version(h *rawSection) (int, error) {
	ffv, fline, hasF := lookup(h, "FileFormatVersion")
	iem, iline, hasI := lookup(h, "IEMFileVersion")
	switch {
	case hasF && hasI:
		return 0, &ParseError{Line: iline, Section: h.name, Err: fmt.Errorf("%w: both FileFormatVersion (line %d) and IEMFileVersion are set", ErrVersion, fline)}
	case hasF:
		if ffv != "2" {
			return 0, &ParseError{Line: fline, Section: h.name, Err: fmt.Errorf("%w: FileFormatVersion %q (only 2 is known)", ErrVersion, clip(ffv))}
		}
		return 2, nil
	case hasI:
		if iem != "4" && iem != "5" {
			return 0, &ParseError{Line: iline, Section: h.name, Err: fmt.Errorf("%w: IEMFileVersion %q (only 4 and 5 are known)", ErrVersion, clip(iem))}
		}
	}
	return 1, nil
}

// reads fills Reads (and IndexReads for v2) from the [Reads] section: one
// read length per line in v1, Read1Cycles/Read2Cycles/Index1Cycles/
// Index2Cycles keys in v2.
func (sh *Sheet) reads(s *rawSection) error {
	if s == nil {
		return nil
	}
	bad := func(line int, format string, a ...any) error {
		return &ParseError{Line: line, Section: s.name, Err: fmt.Errorf("%w: "+format, append([]any{ErrReads}, a...)...)}
	}
	if sh.Version == 1 {
		for _, r := range s.rows {
			if len(r.Fields) != 1 {
				return bad(r.Line, "v1 sheets give one read length per line")
			}
			n, err := strconv.Atoi(r.Fields[0])
			if err != nil || n < 1 || n > MaxCycles {
				return bad(r.Line, "read length %q is not a number from 1 to %d", clip(r.Fields[0]), MaxCycles)
			}
			sh.Reads = append(sh.Reads, n)
		}
		return nil
	}
	if _, err := keyValues(s); err != nil { // rejects conflicting repeats
		return err
	}
	get := func(key string, min int) (int, bool, error) {
		v, line, ok := lookup(s, key)
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > MaxCycles {
			return 0, false, bad(line, "%s %q is not a number from %d to %d", key, clip(v), min, MaxCycles)
		}
		return n, true, nil
	}
	var vals [4]int
	var has [4]bool
	var err error
	for i, key := range []string{"Read1Cycles", "Read2Cycles", "Index1Cycles", "Index2Cycles"} {
		min := 1
		if i >= 2 {
			min = 0
		}
		if vals[i], has[i], err = get(key, min); err != nil {
			return err
		}
	}
	if has[1] && !has[0] {
		return bad(s.line, "Read2Cycles without Read1Cycles")
	}
	if has[3] && !has[2] {
		return bad(s.line, "Index2Cycles without Index1Cycles")
	}
	for i := 0; i < 2; i++ {
		if has[i] {
			sh.Reads = append(sh.Reads, vals[i])
		}
		if has[i+2] {
			sh.IndexReads = append(sh.IndexReads, vals[i+2])
		}
	}
	return nil
}

// Data columns this package reads, by lower-case name.
const (
	colID      = "sample_id"
	colName    = "sample_name"
	colProject = "sample_project"
	colIndex   = "index"
	colIndex2  = "index2"
	colLane    = "lane"
)

// samples reads the data section: a header row naming the columns, then
// one row per sample and lane.
func samples(s *rawSection) ([]Sample, error) {
	if len(s.rows) == 0 {
		return nil, &ParseError{Line: s.line, Section: s.name, Err: ErrNoSamples}
	}
	head := s.rows[0]
	cols := map[string]int{}
	for i, name := range head.Fields {
		key := strings.ToLower(name)
		switch key {
		case colID, colName, colProject, colIndex, colIndex2, colLane:
			if _, dup := cols[key]; dup {
				return nil, &ParseError{Line: head.Line, Section: s.name, Column: name, Err: fmt.Errorf("%w: column %s appears twice", ErrDataHeader, name)}
			}
			cols[key] = i
		}
	}
	if _, ok := cols[colID]; !ok {
		return nil, &ParseError{Line: head.Line, Section: s.name, Err: fmt.Errorf("%w: no Sample_ID column", ErrDataHeader)}
	}
	headName := func(key string) string { return head.Fields[cols[key]] }
	fail := func(line int, key string, err error) error {
		c := ""
		if key != "" {
			c = headName(key)
		}
		return &ParseError{Line: line, Section: s.name, Column: c, Err: err}
	}

	out := make([]Sample, 0, len(s.rows)-1)
	byID := map[string][]int{}       // Sample_ID -> indexes into out
	byIndex := map[[2]string][]int{} // index pair -> indexes into out
	for _, r := range s.rows[1:] {
		if len(out) == MaxSamples {
			return nil, fail(r.Line, "", fmt.Errorf("%w: more than %d samples", ErrTooLarge, MaxSamples))
		}
		if len(r.Fields) > len(head.Fields) {
			return nil, fail(r.Line, "", fmt.Errorf("%w: %d fields, but the header row on line %d names %d columns", ErrSyntax, len(r.Fields), head.Line, len(head.Fields)))
		}
		get := func(key string) string {
			i, ok := cols[key]
			if !ok || i >= len(r.Fields) {
				return ""
			}
			return r.Fields[i]
		}
		sm := Sample{ID: get(colID), Name: get(colName), Project: get(colProject), Index: get(colIndex), Index2: get(colIndex2), Line: r.Line}
		if err := checkID(sm.ID); err != nil {
			return nil, fail(r.Line, colID, err)
		}
		if v := get(colLane); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLane {
				return nil, fail(r.Line, colLane, fmt.Errorf("%w: %q is not a lane number from 1 to %d", ErrBadLane, clip(v), MaxLane))
			}
			sm.Lane = n
		}
		if err := checkIndex(sm.Index); err != nil {
			return nil, fail(r.Line, colIndex, err)
		}
		if err := checkIndex(sm.Index2); err != nil {
			return nil, fail(r.Line, colIndex2, err)
		}
		if sm.Index2 != "" && sm.Index == "" {
			return nil, fail(r.Line, colIndex2, fmt.Errorf("%w: index2 without index", ErrBadIndex))
		}
		for _, j := range byID[sm.ID] {
			prev := out[j]
			if lanesOverlap(prev.Lane, sm.Lane) {
				return nil, fail(r.Line, colID, fmt.Errorf("%w: the Sample_ID of line %d is repeated in %s", ErrDuplicateSample, prev.Line, laneText(prev.Lane, sm.Lane)))
			}
			if prev.Project != sm.Project || prev.Name != sm.Name {
				key := colProject
				if prev.Name != sm.Name {
					key = colName
				}
				return nil, fail(r.Line, key, fmt.Errorf("%w: the same Sample_ID on line %d has a different %s", ErrSampleConflict, prev.Line, headName(key)))
			}
		}
		pair := [2]string{sm.Index, sm.Index2}
		for _, j := range byIndex[pair] {
			prev := out[j]
			if prev.ID != sm.ID && lanesOverlap(prev.Lane, sm.Lane) {
				key := colIndex
				if _, ok := cols[key]; !ok {
					key = colID
				}
				what := "the same index pair as"
				if sm.Index == "" {
					what = "no index, like"
				}
				return nil, fail(r.Line, key, fmt.Errorf("%w: %s the sample on line %d in %s", ErrDuplicateIndex, what, prev.Line, laneText(prev.Lane, sm.Lane)))
			}
		}
		byID[sm.ID] = append(byID[sm.ID], len(out))
		byIndex[pair] = append(byIndex[pair], len(out))
		out = append(out, sm)
	}
	if len(out) == 0 {
		return nil, &ParseError{Line: head.Line, Section: s.name, Err: ErrNoSamples}
	}
	return out, nil
}

// lanesOverlap reports whether two rows share a lane; lane 0 means every
// lane.
func lanesOverlap(a, b int) bool { return a == 0 || b == 0 || a == b }

func laneText(a, b int) string {
	switch {
	case a == 0 && b == 0:
		return "the same lanes (no Lane given)"
	case a == 0 || b == 0:
		return fmt.Sprintf("lane %d (a row without Lane covers every lane)", max(a, b))
	}
	return fmt.Sprintf("lane %d", a)
}

// checkID applies the FASTQ file name rules to a Sample_ID. The message
// names the offending character and its position, not the whole ID.
func checkID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrBadSampleID)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%w: %d characters, more than %d", ErrBadSampleID, len(id), MaxIDLength)
	case strings.EqualFold(id, "Undetermined"):
		return fmt.Errorf("%w: Undetermined is reserved for reads without a matching index", ErrBadSampleID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !idChar(c) {
			return fmt.Errorf("%w: %s at position %d; use only letters, digits, '_' and '-'", ErrBadSampleID, charText(id, i), i+1)
		}
	}
	return nil
}

func idChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// checkIndex accepts an empty index or one of A, C, G, T and N.
func checkIndex(ix string) error {
	for i := 0; i < len(ix); i++ {
		switch ix[i] {
		case 'A', 'C', 'G', 'T', 'N':
			continue
		}
		return fmt.Errorf("%w: %s at position %d; use only A, C, G, T and N", ErrBadIndex, charText(ix, i), i+1)
	}
	return nil
}

// charText quotes the character starting at byte i of s.
func charText(s string, i int) string {
	r := []rune(s[i:])[0]
	if r == ' ' {
		return "a space"
	}
	return strconv.QuoteRune(r)
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const n = 20
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
