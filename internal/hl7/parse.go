package hl7

import (
	"strconv"
	"strings"
)

// Limits bounds what Parse and ParseBatch accept. A zero field takes the
// default given with it.
type Limits struct {
	MaxSize          int // bytes in one message; 1 MiB
	MaxSegments      int // segments in one message; 10,000
	MaxFields        int // fields in one segment; 1,000
	MaxRepetitions   int // repetitions in one field; 1,000
	MaxComponents    int // components in one repetition; 100
	MaxSubcomponents int // subcomponents in one component; 100
	MaxBatchSize     int // bytes in a batch file; 64 MiB
	MaxMessages      int // messages in a batch file; 100,000
}

// Defaults for Limits.
const (
	DefaultMaxSize          = 1 << 20
	DefaultMaxSegments      = 10_000
	DefaultMaxFields        = 1_000
	DefaultMaxRepetitions   = 1_000
	DefaultMaxComponents    = 100
	DefaultMaxSubcomponents = 100
	DefaultMaxBatchSize     = 64 << 20
	DefaultMaxMessages      = 100_000
)

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxSize, DefaultMaxSize)
	def(&l.MaxSegments, DefaultMaxSegments)
	def(&l.MaxFields, DefaultMaxFields)
	def(&l.MaxRepetitions, DefaultMaxRepetitions)
	def(&l.MaxComponents, DefaultMaxComponents)
	def(&l.MaxSubcomponents, DefaultMaxSubcomponents)
	def(&l.MaxBatchSize, DefaultMaxBatchSize)
	def(&l.MaxMessages, DefaultMaxMessages)
	return l
}

// Parse parses one message with the default Limits. A leading UTF-8 byte
// order mark and blank lines are skipped. Errors are *ParseError values.
func Parse(b []byte) (*Message, error) { return Limits{}.Parse(b) }

// Parse parses one message within l. The input must hold exactly one
// message: a second MSH, or a batch segment (FHS, BHS, BTS, FTS), is an
// error; use ParseBatch for files.
func (l Limits) Parse(b []byte) (*Message, error) {
	l = l.withDefaults()
	if len(b) > l.MaxSize {
		return nil, &ParseError{Err: because(ErrTooLarge, "message longer than "+strconv.Itoa(l.MaxSize)+" bytes")}
	}
	s := string(b)
	start := 0
	if strings.HasPrefix(s, bom) {
		start = len(bom)
	}
	p := parser{l: l, s: s, end: len(s)}
	return p.message(start, 1)
}

const bom = "\xef\xbb\xbf"

// parser reads the message in s[start:end]. Offsets and lines in its
// errors are those of s, so a batch file's errors point into the file.
type parser struct {
	l     Limits
	s     string
	end   int
	index int // message number in a batch, for errors; 0 outside one
}

// Byte classes of the scanning loop.
const (
	clText uint8 = iota
	clField
	clRep
	clComp
	clSub
	clEscape
	clControl
	clHigh
	clEnd // CR or LF
)

func (p *parser) fail(line, off, seg int, loc Location, err error) *ParseError {
	return &ParseError{Message: p.index, Line: line, Offset: off, Segment: seg, Location: loc, Err: err}
}

// blank reports whether the line at i holds only spaces and tabs, and
// returns where it ends.
func (p *parser) blank(i int) (bool, int) {
	j := i
	for j < p.end && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	return j == p.end || p.s[j] == '\r' || p.s[j] == '\n', j
}

// next returns the start of the line after the terminator at j (or end).
func (p *parser) next(j int) int {
	if j >= p.end {
		return p.end
	}
	if p.s[j] == '\r' && j+1 < p.end && p.s[j+1] == '\n' {
		return j + 2
	}
	return j + 1
}

// segmentID returns the three-character ID at i and whether it is well
// formed: an upper-case letter, then upper-case letters or digits, then
// the end of the line or the field separator fs.
func (p *parser) segmentID(i int, fs byte) (string, bool) {
	if p.end-i < 3 {
		return "", false
	}
	id := p.s[i : i+3]
	if !validSegmentID(id) {
		return "", false
	}
	if i+3 < p.end {
		c := p.s[i+3]
		if c != fs && c != '\r' && c != '\n' {
			return "", false
		}
	}
	return id, true
}

func validSegmentID(id string) bool {
	if len(id) != 3 || id[0] < 'A' || id[0] > 'Z' {
		return false
	}
	for k := 1; k < 3; k++ {
		if c := id[k]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isEnvelope(id string) bool { return id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS" }

// header reads the encoding characters of the MSH (or FHS, BHS) segment
// at i and returns them and where MSH-3 starts (at the separator before
// it, or the line end).
func (p *parser) header(i, line, seg int, id string) (Delimiters, int, error) {
	fail := func(f int, err error) (Delimiters, int, error) {
		return Delimiters{}, 0, p.fail(line, i+3+min(f-1, 1), seg, Location{Segment: id, Sequence: 1, Field: f}, err)
	}
	if i+3 >= p.end || p.s[i+3] == '\r' || p.s[i+3] == '\n' {
		return fail(1, because(ErrEncoding, "no field separator"))
	}
	fs := p.s[i+3]
	j := i + 4
	for j < p.end && p.s[j] != fs && p.s[j] != '\r' && p.s[j] != '\n' {
		if j-(i+4) > 5 {
			break
		}
		j++
	}
	d, f, err := parseDelimiters(fs, p.s[i+4:j])
	if err != nil {
		return fail(f, err)
	}
	return d, j, nil
}

// headerField returns field n (n >= 3) of the header line whose MSH-3
// starts at j, raw, without checking it.
func (p *parser) headerField(j int, fs byte, n int) string {
	for f := 3; j < p.end && p.s[j] == fs; f++ {
		k := j + 1
		for k < p.end && p.s[k] != fs && p.s[k] != '\r' && p.s[k] != '\n' {
			k++
		}
		if f == n {
			return p.s[j+1 : k]
		}
		j = k
	}
	return ""
}

// message parses the message starting at or after start, on line line,
// up to p.end.
func (p *parser) message(start, line int) (*Message, error) {
	s := p.s
	i := start
	// Skip blank lines before the MSH.
	for i < p.end {
		blank, j := p.blank(i)
		if !blank {
			break
		}
		if j < p.end {
			line++
		}
		i = p.next(j)
	}
	if i >= p.end {
		return nil, p.fail(0, i, 0, Location{}, because(ErrNoMSH, "no segments"))
	}
	if p.end-i < 3 || s[i:i+3] != "MSH" {
		why := "the first segment is not MSH"
		if p.end-i >= 3 && isEnvelope(s[i:i+3]) {
			why = "the first segment is a batch header; batch files are read with ParseBatch"
		}
		return nil, p.fail(line, i, 1, Location{}, because(ErrNoMSH, why))
	}
	d, encEnd, err := p.header(i, line, 1, "MSH")
	if err != nil {
		return nil, err
	}
	raw18 := p.headerField(encEnd, d.Field, 18)
	if d.Repetition != 0 {
		raw18, _, _ = strings.Cut(raw18, string(d.Repetition))
	}
	if d.Component != 0 {
		raw18, _, _ = strings.Cut(raw18, string(d.Component))
	}
	cs, ok := charsetOf(raw18)
	if !ok {
		return nil, p.fail(line, i, 1, Location{Segment: "MSH", Sequence: 1, Field: 18},
			because(ErrCharset, "character set not supported (ASCII, 8859/1 and UNICODE UTF-8 are)"))
	}
	m := &Message{d: d, cs: cs}

	// Sizes for one allocation each of fields and segments.
	body := s[i:p.end]
	nseg := strings.Count(body, "\r") + strings.Count(body, "\n") + 1
	nseg = min(nseg, p.l.MaxSegments+1)
	nfield := strings.Count(body, string(d.Field)) + 2*nseg
	fields := make([]string, 0, nfield)
	block := make([]Segment, 0, nseg)
	m.segs = make([]*Segment, 0, nseg)

	sc := newScanner(m)

	seg := 0
	for i < p.end {
		blank, j := p.blank(i)
		if blank {
			if j < p.end {
				line++
			}
			i = p.next(j)
			continue
		}
		seg++
		if seg > p.l.MaxSegments {
			return nil, p.fail(line, i, seg, Location{}, because(ErrTooLarge, "more than "+strconv.Itoa(p.l.MaxSegments)+" segments"))
		}
		id, ok := p.segmentID(i, d.Field)
		if !ok {
			return nil, p.fail(line, i, seg, Location{}, because(ErrSegment, "a segment must start with a three-character ID (A-Z, then A-Z or 0-9) and the field separator"))
		}
		// at is the error at offset k in field f of this segment.
		at := func(k, f int, err error) error {
			return p.fail(line, k, seg, Location{Segment: id, Sequence: m.count(id) + 1, Field: f}, err)
		}
		if seg > 1 {
			switch {
			case id == "MSH":
				return nil, at(i, 0, because(ErrSegment, "a second MSH: more than one message (batch files are read with ParseBatch)"))
			case isEnvelope(id):
				return nil, at(i, 0, because(ErrSegment, "a batch envelope segment inside a message (batch files are read with ParseBatch)"))
			}
		}
		first := len(fields)
		fields = append(fields, id)
		k := i + 3
		field := 1
		if seg == 1 {
			fields = append(fields, s[i+3:i+4], s[i+4:encEnd])
			k = encEnd
			field = 3
		}
		fields, k, err = p.scan(sc, fields, k, field, at)
		if err != nil {
			return nil, err
		}
		block = append(block, Segment{m: m, fields: fields[first:len(fields):len(fields)]})
		m.segs = append(m.segs, &block[len(block)-1])
		if k < p.end {
			line++
		}
		i = p.next(k)
	}
	if sc.high && cs == csLatin1 {
		for _, sg := range m.segs {
			for f := range sg.fields {
				sg.fields[f] = latin1ToUTF8(sg.fields[f])
			}
		}
	}
	return m, nil
}

// scanner holds what splitting the segments of one message needs.
type scanner struct {
	m     *Message
	class [256]uint8 // byte classes, cl*
	high  bool       // saw bytes >= 0x80 (ISO-8859-1 needs converting)
}

func newScanner(m *Message) *scanner {
	sc := &scanner{m: m}
	d := &m.d
	for c := 0; c < 0x20; c++ {
		sc.class[c] = clControl
	}
	sc.class['\t'] = clText
	sc.class[0x7f] = clControl
	for c := 0x80; c < 0x100; c++ {
		sc.class[c] = clHigh
	}
	sc.class['\r'], sc.class['\n'] = clEnd, clEnd
	sc.class[d.Field] = clField
	for _, dc := range [...]struct{ c, cl uint8 }{{d.Repetition, clRep}, {d.Component, clComp}, {d.Subcomponent, clSub}, {d.Escape, clEscape}} {
		if dc.c != 0 {
			sc.class[dc.c] = dc.cl
		}
	}
	return sc
}

// scan splits the rest of a segment into fields, appending them to
// fields. At k is the separator before field number field, or the end of
// the segment. It checks the limits, the characters and the escape
// sequences, and returns where the segment ends; at makes its errors.
func (p *parser) scan(sc *scanner, fields []string, k, field int, at func(k, f int, err error) error) ([]string, int, error) {
	s := p.s[:p.end]
	d := &sc.m.d
	class := &sc.class
	if k >= len(s) || s[k] != d.Field {
		return fields, k, nil
	}
	k++
	fstart := k
	reps, comps, subs := 1, 1, 1
	for k < len(s) {
		c := class[s[k]]
		if c == clText {
			k++
			continue
		}
		switch c {
		case clEnd:
			return append(fields, s[fstart:k]), k, nil
		case clField:
			fields = append(fields, s[fstart:k])
			fstart = k + 1
			field++
			reps, comps, subs = 1, 1, 1
			if field > p.l.MaxFields {
				return nil, k, at(k, field, because(ErrTooLarge, "more than "+strconv.Itoa(p.l.MaxFields)+" fields in a segment"))
			}
		case clRep:
			reps++
			comps, subs = 1, 1
			if reps > p.l.MaxRepetitions {
				return nil, k, at(k, field, because(ErrTooLarge, "more than "+strconv.Itoa(p.l.MaxRepetitions)+" repetitions in a field"))
			}
		case clComp:
			comps++
			subs = 1
			if comps > p.l.MaxComponents {
				return nil, k, at(k, field, because(ErrTooLarge, "more than "+strconv.Itoa(p.l.MaxComponents)+" components in a field"))
			}
		case clSub:
			subs++
			if subs > p.l.MaxSubcomponents {
				return nil, k, at(k, field, because(ErrTooLarge, "more than "+strconv.Itoa(p.l.MaxSubcomponents)+" subcomponents in a component"))
			}
		case clEscape:
			if charsetEscape(s[k+1:], d.Escape) {
				return nil, k, at(k, field, because(ErrCharset, "a character set escape sequence (\\C or \\M, ISO 2022), which is not supported"))
			}
		case clControl:
			return nil, k, at(k, field, because(ErrCharset, "control character 0x"+strconv.FormatUint(uint64(s[k]), 16)+" (only TAB is allowed)"))
		case clHigh:
			n, err := sc.m.cs.checkHigh(s[k:])
			if err != nil {
				return nil, k, at(k, field, err)
			}
			sc.high = true
			k += n
			continue
		}
		k++
	}
	return append(fields, s[fstart:k]), k, nil
}

// charsetEscape reports whether s, the text after an escape character,
// starts a \Cxxyy\ or \Mxxyyzz\ sequence.
func charsetEscape(s string, esc byte) bool {
	if len(s) == 0 || s[0] != 'C' && s[0] != 'M' {
		return false
	}
	want := 4
	if s[0] == 'M' {
		want = 6
	}
	if len(s) < want+2 || s[want+1] != esc {
		return false
	}
	for k := 1; k <= want; k++ {
		if !isHex(s[k]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
