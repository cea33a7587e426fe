package hl7

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxSpace bounds the line breaks one \.spN\ expands to.
const maxSpace = 100

// decode replaces the escape sequences in s (see the package doc).
func (m *Message) decode(s string) string {
	esc := m.d.Escape
	if esc == 0 {
		return s
	}
	j := strings.IndexByte(s, esc)
	if j < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		b.WriteString(s[:j])
		s = s[j:]
		k := strings.IndexByte(s[1:], esc)
		if k < 0 {
			b.WriteString(s) // unterminated: kept as written
			break
		}
		seq := s[1 : k+1]
		if !m.unescape(&b, seq) {
			b.WriteString(s[:k+2]) // unknown: kept as written
		}
		s = s[k+2:]
		if j = strings.IndexByte(s, esc); j < 0 {
			b.WriteString(s)
			break
		}
	}
	return b.String()
}

// unescape writes the meaning of the escape sequence seq (without its
// escape characters) and reports whether it knew it.
func (m *Message) unescape(b *strings.Builder, seq string) bool {
	d := &m.d
	if len(seq) == 0 {
		return false
	}
	if len(seq) == 1 {
		var c byte
		switch seq[0] {
		case 'F':
			c = d.Field
		case 'S':
			c = d.Component
		case 'T':
			c = d.Subcomponent
		case 'R':
			c = d.Repetition
		case 'E':
			c = d.Escape
		case 'P':
			c = d.Truncation
		case 'H', 'N':
			return true // highlighting on and off: dropped
		}
		if c == 0 {
			return false
		}
		b.WriteByte(c)
		return true
	}
	switch {
	case seq[0] == 'X':
		return m.hexEscape(b, seq[1:])
	case seq == ".br", seq == ".ce":
		b.WriteByte('\n')
		return true
	case strings.HasPrefix(seq, ".sp"):
		n := 1
		if arg := strings.TrimPrefix(seq[3:], "+"); arg != "" {
			v, err := strconv.Atoi(arg)
			if err != nil || v < 0 {
				return false
			}
			n = min(v, maxSpace)
		}
		for range n {
			b.WriteByte('\n')
		}
		return true
	case seq == ".fi", seq == ".nf":
		return true
	case strings.HasPrefix(seq, ".in"), strings.HasPrefix(seq, ".ti"), strings.HasPrefix(seq, ".sk"):
		arg := seq[3:]
		if len(arg) > 0 && (arg[0] == '+' || arg[0] == '-') {
			arg = arg[1:]
		}
		if _, err := strconv.Atoi(arg); err != nil && arg != "" {
			return false
		}
		return true
	}
	return false
}

// hexEscape writes the bytes of a \Xhh...\ sequence, read in the message's
// character set, dropping control characters other than TAB, CR and LF.
func (m *Message) hexEscape(b *strings.Builder, hex string) bool {
	if len(hex) == 0 || len(hex)%2 != 0 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if !isHex(hex[i]) {
			return false
		}
	}
	raw := make([]byte, 0, len(hex)/2)
	for i := 0; i < len(hex); i += 2 {
		c := unhex(hex[i])<<4 | unhex(hex[i+1])
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			continue
		}
		raw = append(raw, c)
	}
	if m.cs == csLatin1 {
		for _, c := range raw {
			if c >= 0x80 && c < 0xa0 {
				continue
			}
			b.WriteRune(rune(c))
		}
		return true
	}
	b.WriteString(strings.ToValidUTF8(string(raw), string(utf8.RuneError)))
	return true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// encode escapes v for writing as one leaf value: delimiters become \F\
// \S\ \T\ \R\ \E\ \P\, CR and LF \X0D\ and \X0A\. It fails when v needs escaping and the message has no
// escape character, or when v cannot be written in the character set.
func (m *Message) encode(v string) (string, error) {
	if err := m.cs.representable(v); err != nil {
		return "", err
	}
	d := &m.d
	if v == `""` {
		if d.Escape == 0 {
			return "", because(ErrValue, "two quotation marks read as null and the message has no escape character")
		}
		e := string(d.Escape)
		return e + "X22" + e + e + "X22" + e, nil
	}
	need := false
	for i := 0; i < len(v); i++ {
		if c := v[i]; d.isDelim(c) || c < 0x20 && c != '\t' || c == 0x7f {
			need = true
			break
		}
	}
	if !need {
		return v, nil
	}
	if d.Escape == 0 {
		return "", because(ErrValue, "it holds a delimiter or control character and the message has no escape character")
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		var code byte
		switch {
		case c == d.Field:
			code = 'F'
		case c == d.Component:
			code = 'S'
		case c == d.Subcomponent:
			code = 'T'
		case c == d.Repetition:
			code = 'R'
		case c == d.Escape:
			code = 'E'
		case c == d.Truncation:
			code = 'P'
		}
		switch {
		case code != 0:
			b.WriteByte(d.Escape)
			b.WriteByte(code)
			b.WriteByte(d.Escape)
		case c < 0x20 && c != '\t' || c == 0x7f:
			b.WriteByte(d.Escape)
			b.WriteByte('X')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			b.WriteByte(d.Escape)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
