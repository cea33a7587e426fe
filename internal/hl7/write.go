package hl7

import (
	"strings"
)

// Bytes encodes the message with its delimiters and character set,
// each segment ended by CR.
func (m *Message) Bytes() []byte {
	n := 0
	for _, s := range m.segs {
		for _, f := range s.fields {
			n += len(f) + 1
		}
	}
	b := make([]byte, 0, n+len(m.segs))
	for _, s := range m.segs {
		b = s.appendTo(b)
	}
	return b
}

// appendTo appends the segment and its CR.
func (s *Segment) appendTo(b []byte) []byte {
	cs := s.m.cs
	fs := s.m.d.Field
	b = append(b, s.fields[0]...)
	start := 1
	if s.literal(1) && len(s.fields) > 2 {
		b = append(b, s.fields[1]...)
		b = append(b, s.fields[2]...)
		start = 3
	}
	for _, f := range s.fields[start:] {
		b = append(b, fs)
		b = cs.appendEncoded(b, f)
	}
	return append(b, '\r')
}

// Set writes value, escaped, at a path (see Get), replacing the element
// the path names with everything below it: Set("PID-5", "Doe") leaves
// PID-5 with one repetition of one component, while Set("PID-5.1", "Doe")
// changes the first component of the first repetition only. A missing segment is
// appended when the path names the next occurrence (OBX[3] when there are
// two). The value is always text: Set(p, `""`) writes two quotation marks
// (escaped, so as not to read as null); SetNull writes the null value.
// MSH-1 and MSH-2 cannot be set.
func (m *Message) Set(p string, value string) error {
	return m.set(p, value, false)
}

// SetNull writes the null value "" at a path.
func (m *Message) SetNull(p string) error { return m.set(p, `""`, true) }

func (m *Message) set(ps, value string, raw bool) error {
	p, err := parsePath(ps)
	if err != nil {
		return err
	}
	s := m.occurrence(p.seg, p.occ)
	if s == nil {
		if p.occ != m.count(p.seg)+1 {
			return because(ErrPath, "no such segment occurrence")
		}
		if s, err = m.Append(p.seg); err != nil {
			return err
		}
	}
	return s.set(p, value, raw)
}

// Set writes value, escaped, at a path within the segment such as "5.1"
// (see Message.Set).
func (s *Segment) Set(rel string, value string) error {
	p, err := parseRelPath(rel)
	if err != nil {
		return err
	}
	return s.set(p, value, false)
}

func (s *Segment) set(p path, value string, raw bool) error {
	if s.literal(p.field) {
		return because(ErrNotAllowed, "the encoding characters are fixed when a message is made")
	}
	enc := value
	if !raw {
		var err error
		if enc, err = s.m.encode(value); err != nil {
			return err
		}
	}
	d := &s.m.d
	for _, lv := range []struct {
		n   int
		sep byte
	}{{p.rep, d.Repetition}, {p.comp, d.Component}, {p.sub, d.Subcomponent}} {
		if lv.n > 1 && lv.sep == 0 {
			return because(ErrValue, "the message has no delimiter for that level")
		}
	}
	if p.field > maxIndex {
		return because(ErrPath, "field number too large")
	}
	for len(s.fields) <= p.field {
		s.fields = append(s.fields, "")
	}
	rep := p.rep
	if rep == 0 && p.comp > 0 {
		rep = 1 // PID-5.1 is in the first repetition
	}
	old := s.fields[p.field]
	s.fields[p.field] = replacePart(old, d.Repetition, rep, func(rep string) string {
		if p.comp == 0 {
			return enc
		}
		return replacePart(rep, d.Component, p.comp, func(comp string) string {
			if p.sub == 0 {
				return enc
			}
			return replacePart(comp, d.Subcomponent, p.sub, func(string) string { return enc })
		})
	})
	return nil
}

// replacePart replaces part n (1-based; 0 means the whole of s) of s split
// at sep with f(part), adding empty parts as needed and dropping trailing
// empty ones.
func replacePart(s string, sep byte, n int, f func(string) string) string {
	if n == 0 || sep == 0 {
		return f(s)
	}
	parts := strings.Split(s, string(sep))
	for len(parts) < n {
		parts = append(parts, "")
	}
	parts[n-1] = f(parts[n-1])
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, string(sep))
}

// Append adds an empty segment with the given ID at the end of the
// message. MSH and the batch segments cannot be appended.
func (m *Message) Append(id string) (*Segment, error) {
	if !validSegmentID(id) {
		return nil, because(ErrSegment, "a segment ID is an upper-case letter then two upper-case letters or digits")
	}
	if id == "MSH" || isEnvelope(id) {
		return nil, because(ErrSegment, "MSH and batch segments cannot be appended")
	}
	s := &Segment{m: m, fields: []string{id}}
	m.segs = append(m.segs, s)
	return s, nil
}
