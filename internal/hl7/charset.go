package hl7

import (
	"strings"
	"unicode/utf8"
)

// charset is the character set a message declares in MSH-18.
type charset uint8

const (
	csDefault charset = iota // MSH-18 empty: ASCII, with undeclared UTF-8 tolerated
	csASCII                  // "ASCII"
	csLatin1                 // "8859/1"
	csUTF8                   // "UNICODE UTF-8"
)

// charsetOf maps the first repetition of MSH-18 to a charset.
func charsetOf(code string) (charset, bool) {
	switch strings.ToUpper(strings.TrimSpace(code)) {
	case "":
		return csDefault, true
	case "ASCII":
		return csASCII, true
	case "8859/1":
		return csLatin1, true
	case "UNICODE UTF-8", "UTF-8":
		return csUTF8, true
	}
	return 0, false
}

// checkHigh checks the non-ASCII character at s[0] (s[0] >= 0x80) and
// returns how many bytes it takes, or the reason it is not allowed.
func (cs charset) checkHigh(s string) (int, error) {
	switch cs {
	case csASCII:
		return 0, because(ErrCharset, "a byte outside ASCII, but MSH-18 declares ASCII")
	case csLatin1:
		if s[0] < 0xa0 {
			return 0, because(ErrCharset, "a C1 control byte (0x80-0x9F), not text in ISO-8859-1 (MSH-18 8859/1); Windows-1252 text?")
		}
		return 1, nil
	case csUTF8:
		if r, n := utf8.DecodeRuneInString(s); r == utf8.RuneError && n <= 1 {
			return 0, because(ErrCharset, "invalid UTF-8, but MSH-18 declares UNICODE UTF-8")
		} else {
			return n, nil
		}
	default:
		if r, n := utf8.DecodeRuneInString(s); r == utf8.RuneError && n <= 1 {
			return 0, because(ErrCharset, "a byte outside ASCII that is not UTF-8, and MSH-18 does not name the character set (8859/1?)")
		} else {
			return n, nil
		}
	}
}

// latin1ToUTF8 converts ISO-8859-1 text to UTF-8.
func latin1ToUTF8(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+n)
	for i := 0; i < len(s); i++ {
		b = utf8.AppendRune(b, rune(s[i]))
	}
	return string(b)
}

// representable checks that v can be written in the charset: every
// character of ISO-8859-1 text below U+0100 and not a C1 control, ASCII
// text 7-bit, all text valid UTF-8 without control characters other than
// TAB, CR and LF (which Set escapes).
func (cs charset) representable(v string) error {
	if !utf8.ValidString(v) {
		return because(ErrValue, "not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' && r != '\r' && r != '\n' || r == 0x7f {
			return because(ErrValue, "a control character other than TAB, CR and LF")
		}
		if r < 0x80 {
			continue
		}
		switch cs {
		case csASCII:
			return because(ErrValue, "a character outside ASCII, but MSH-18 declares ASCII")
		case csLatin1:
			if r < 0xa0 || r > 0xff {
				return because(ErrValue, "a character outside ISO-8859-1 (MSH-18 8859/1)")
			}
		}
	}
	return nil
}

// appendEncoded appends s (UTF-8) to b in the charset's bytes.
func (cs charset) appendEncoded(b []byte, s string) []byte {
	if cs != csLatin1 {
		return append(b, s...)
	}
	for i := 0; i < len(s); {
		if s[i] < 0x80 {
			b = append(b, s[i])
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r > 0xff {
			r = '?' // not reachable: Set and Parse keep ISO-8859-1 messages representable
		}
		b = append(b, byte(r))
		i += n
	}
	return b
}
