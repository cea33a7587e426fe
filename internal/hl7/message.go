package hl7

import (
	"strconv"
	"strings"
)

// Message is a parsed or built HL7 v2 message. Its text is kept UTF-8
// internally, encoded as when read; Bytes writes it back in the message's
// character set. Reading a Message from several goroutines at once is
// safe; Set and Append need it to themselves.
type Message struct {
	d    Delimiters
	cs   charset
	segs []*Segment
}

// Segment is one segment of a message. Field n (1-based, as PID-n) is
// fields[n]; fields[0] is the segment ID. In MSH (and FHS, BHS) field 1
// is the field separator and field 2 the encoding characters.
type Segment struct {
	m      *Message
	fields []string
}

// Delimiters returns the message's encoding characters.
func (m *Message) Delimiters() Delimiters { return m.d }

// Segments returns the segments in order. The slice is a copy; the
// segments are the message's own.
func (m *Message) Segments() []*Segment { return append([]*Segment(nil), m.segs...) }

// All returns the segments with the given ID, in order.
func (m *Message) All(id string) []*Segment {
	var out []*Segment
	for _, s := range m.segs {
		if s.fields[0] == id {
			out = append(out, s)
		}
	}
	return out
}

// First returns the first segment with the given ID, or nil.
func (m *Message) First(id string) *Segment {
	for _, s := range m.segs {
		if s.fields[0] == id {
			return s
		}
	}
	return nil
}

// count returns how many segments have the ID.
func (m *Message) count(id string) int {
	n := 0
	for _, s := range m.segs {
		if s.fields[0] == id {
			n++
		}
	}
	return n
}

// occurrence returns the nth segment with the ID (1-based; negative counts
// from the end), or nil.
func (m *Message) occurrence(id string, n int) *Segment {
	if n < 0 {
		for i := len(m.segs) - 1; i >= 0; i-- {
			if m.segs[i].fields[0] == id {
				if n++; n == 0 {
					return m.segs[i]
				}
			}
		}
		return nil
	}
	for _, s := range m.segs {
		if s.fields[0] == id {
			if n--; n == 0 {
				return s
			}
		}
	}
	return nil
}

// String describes the message without its content, so that printing a
// message by mistake does not leak patient data.
func (m *Message) String() string {
	t := m.Get("MSH-9.1") + "^" + m.Get("MSH-9.2")
	return "hl7.Message{" + t + ", " + strconv.Itoa(len(m.segs)) + " segments}"
}

// ID returns the segment ID, such as "PID".
func (s *Segment) ID() string { return s.fields[0] }

// Len returns the number of the last field present (trailing empty fields
// that were written count).
func (s *Segment) Len() int { return len(s.fields) - 1 }

// String describes the segment without its content.
func (s *Segment) String() string {
	return "hl7.Segment{" + s.fields[0] + ", " + strconv.Itoa(len(s.fields)-1) + " fields}"
}

// header reports whether field n of the segment is taken literally: MSH-1
// and MSH-2 (and FHS, BHS).
func (s *Segment) literal(n int) bool {
	if n != 1 && n != 2 {
		return false
	}
	id := s.fields[0]
	return id == "MSH" || id == "FHS" || id == "BHS"
}

// Field returns field n (1-based). A field beyond the last is empty.
func (s *Segment) Field(n int) Value {
	if n <= 0 || n >= len(s.fields) {
		return Value{m: s.m}
	}
	lv := levelField
	if s.literal(n) {
		lv = levelLiteral
	}
	return Value{m: s.m, raw: s.fields[n], level: lv}
}

// Get returns the decoded value at a path within the segment:
// "field(rep).comp.sub", such as "5.1" or "3(2).4". See Message.Get.
func (s *Segment) Get(path string) string {
	p, err := parseRelPath(path)
	if err != nil {
		return ""
	}
	return s.value(p).String()
}

// Value returns the element at a path within the segment (see Get).
func (s *Segment) Value(path string) Value {
	p, err := parseRelPath(path)
	if err != nil {
		return Value{m: s.m}
	}
	return s.value(p)
}

func (s *Segment) value(p path) Value {
	v := s.Field(p.field)
	if p.rep > 0 {
		v = v.Rep(p.rep)
	}
	if p.comp > 0 {
		v = v.Component(p.comp)
		if p.sub > 0 {
			v = v.Sub(p.sub)
		}
	}
	return v
}

// Get returns the decoded text at a path such as "PID-5.1" or
// "OBX[2]-5(1).2": the first subcomponent of the first component of the
// first repetition of what the path names. It returns "" when the element
// is absent, empty or null, and when the path is malformed (see Lookup).
func (m *Message) Get(path string) string {
	v, _ := m.Lookup(path)
	return v.String()
}

// GetRep is Get of repetition rep (1-based) of the field the path names;
// a repetition in the path itself is replaced.
func (m *Message) GetRep(path string, rep int) string {
	p, err := parsePath(path)
	if err != nil || rep < 1 {
		return ""
	}
	p.rep = rep
	return m.lookup(p).String()
}

// Value returns the element at a path (see Get), or an empty Value.
func (m *Message) Value(path string) Value {
	v, _ := m.Lookup(path)
	return v
}

// Reps returns the repetitions of the field a path names.
func (m *Message) Reps(path string) []Value {
	p, err := parsePath(path)
	if err != nil {
		return nil
	}
	p.rep, p.comp, p.sub = 0, 0, 0
	return m.lookup(p).Reps()
}

// Lookup returns the element at a path, or an error wrapping ErrPath if
// the path is malformed. An absent element is an empty Value, not an
// error.
func (m *Message) Lookup(path string) (Value, error) {
	p, err := parsePath(path)
	if err != nil {
		return Value{m: m}, err
	}
	return m.lookup(p), nil
}

func (m *Message) lookup(p path) Value {
	s := m.occurrence(p.seg, p.occ)
	if s == nil {
		return Value{m: m}
	}
	return s.value(p)
}

// level is how far down a Value sits.
type level uint8

const (
	levelField level = iota
	levelRep
	levelComp
	levelSub
	levelLiteral // MSH-1, MSH-2: never split or decoded
)

// Value is an element of a message as encoded: a field, a repetition, a
// component or a subcomponent. The zero Value is empty.
type Value struct {
	m     *Message
	raw   string
	level level
}

// Raw returns the element as encoded, delimiters and escapes included.
func (v Value) Raw() string { return v.raw }

// IsNull reports whether the element is the null value "" (delete the
// value held by the receiver), as opposed to empty (no value sent).
func (v Value) IsNull() bool { return v.raw == `""` }

// IsEmpty reports whether the element is absent or empty (not null).
func (v Value) IsEmpty() bool { return v.raw == "" }

// String returns the decoded text of the element's first subcomponent of
// its first component of its first repetition; "" when null.
func (v Value) String() string {
	if v.level == levelLiteral {
		return v.raw
	}
	if v.m == nil {
		return ""
	}
	s := v.raw
	d := &v.m.d
	if v.level <= levelField {
		s = piece(s, d.Repetition, 1)
	}
	if v.level <= levelRep {
		s = piece(s, d.Component, 1)
	}
	if v.level <= levelComp {
		s = piece(s, d.Subcomponent, 1)
	}
	if s == `""` {
		return ""
	}
	return v.m.decode(s)
}

// Text returns the decoded text of the whole element, with its inner
// delimiters left as written: for a value whose parts are not themselves
// meaningful, such as a TX or FT field (see OBX.Text for repetitions).
func (v Value) Text() string {
	if v.level == levelLiteral || v.m == nil {
		return v.raw
	}
	if v.raw == `""` {
		return ""
	}
	return v.m.decode(v.raw)
}

// Rep returns repetition i (1-based) of a field. Below field level,
// Rep(1) is the element itself.
func (v Value) Rep(i int) Value {
	switch {
	case v.level == levelField && v.m != nil:
		return Value{m: v.m, raw: piece(v.raw, v.m.d.Repetition, i), level: levelRep}
	case i == 1:
		return v
	}
	return Value{m: v.m, level: levelRep}
}

// Reps returns the repetitions of a field; none when it is empty.
func (v Value) Reps() []Value {
	if v.raw == "" {
		return nil
	}
	if v.level != levelField || v.m == nil || v.m.d.Repetition == 0 {
		return []Value{v}
	}
	sep := v.m.d.Repetition
	out := make([]Value, 0, strings.Count(v.raw, string(sep))+1)
	rest := v.raw
	for {
		i := strings.IndexByte(rest, sep)
		if i < 0 {
			return append(out, Value{m: v.m, raw: rest, level: levelRep})
		}
		out = append(out, Value{m: v.m, raw: rest[:i], level: levelRep})
		rest = rest[i+1:]
	}
}

// Component returns component j (1-based), of the first repetition when v
// is a field. Below component level, Component(1) is the element itself.
func (v Value) Component(j int) Value {
	if v.m == nil {
		return v
	}
	switch v.level {
	case levelField:
		return v.Rep(1).Component(j)
	case levelRep:
		return Value{m: v.m, raw: piece(v.raw, v.m.d.Component, j), level: levelComp}
	case levelLiteral:
		if j == 1 {
			return v
		}
		return Value{m: v.m, level: levelLiteral}
	}
	if j == 1 {
		return v
	}
	return Value{m: v.m, level: v.level}
}

// Sub returns subcomponent k (1-based) of the element's first component.
func (v Value) Sub(k int) Value {
	if v.m == nil {
		return v
	}
	switch v.level {
	case levelField, levelRep:
		return v.Component(1).Sub(k)
	case levelComp:
		return Value{m: v.m, raw: piece(v.raw, v.m.d.Subcomponent, k), level: levelSub}
	}
	if k == 1 {
		return v
	}
	return Value{m: v.m, level: v.level}
}

// piece returns part n (1-based) of s split at sep; with no separator,
// part 1 is s.
func piece(s string, sep byte, n int) string {
	if n < 1 {
		return ""
	}
	if sep == 0 {
		if n == 1 {
			return s
		}
		return ""
	}
	for ; n > 1; n-- {
		j := strings.IndexByte(s, sep)
		if j < 0 {
			return ""
		}
		s = s[j+1:]
	}
	if j := strings.IndexByte(s, sep); j >= 0 {
		s = s[:j]
	}
	return s
}
