package hl7

import "strconv"

// Delimiters are a message's encoding characters. A zero byte means the
// message did not define that delimiter.
type Delimiters struct {
	Field        byte // MSH-1
	Component    byte // MSH-2, first character
	Repetition   byte // second
	Escape       byte // third
	Subcomponent byte // fourth
	Truncation   byte // fifth, v2.7 and later
}

// DefaultDelimiters are the recommended |^~\& (no truncation character).
var DefaultDelimiters = Delimiters{'|', '^', '~', '\\', '&', 0}

// Encoding returns MSH-2 as written: the encoding characters after the
// field separator, up to the first one not defined.
func (d Delimiters) Encoding() string {
	b := make([]byte, 0, 5)
	for _, c := range [...]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent, d.Truncation} {
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// validDelimiter reports whether c may be a delimiter: printable ASCII,
// not a letter or digit, not a space, not the null quote.
func validDelimiter(c byte) bool {
	switch {
	case c <= ' ' || c >= 0x7f, c == '"':
		return false
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return false
	}
	return true
}

// parseDelimiters reads the field separator fs and the MSH-2 text enc (or
// FHS-2, BHS-2). It returns the field (1 or 2) and the reason when they
// are not usable.
func parseDelimiters(fs byte, enc string) (Delimiters, int, error) {
	var d Delimiters
	if !validDelimiter(fs) {
		return d, 1, because(ErrEncoding, "the field separator must be a printable ASCII character other than a letter, digit, space or '\"'")
	}
	d.Field = fs
	switch {
	case len(enc) == 0:
		return d, 2, because(ErrEncoding, "no encoding characters")
	case len(enc) > 5:
		return d, 2, because(ErrEncoding, "more than 5 encoding characters")
	}
	var seen [256]bool
	seen[fs] = true
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !validDelimiter(c) {
			return d, 2, because(ErrEncoding, "character "+strconv.Itoa(i+1)+" is not a printable ASCII character other than a letter, digit, space or '\"'")
		}
		if seen[c] {
			return d, 2, because(ErrEncoding, "character "+strconv.Itoa(i+1)+" repeats another delimiter")
		}
		seen[c] = true
	}
	dst := [...]*byte{&d.Component, &d.Repetition, &d.Escape, &d.Subcomponent, &d.Truncation}
	for i := 0; i < len(enc); i++ {
		*dst[i] = enc[i]
	}
	return d, 0, nil
}

// isDelim reports whether c is one of d's delimiters other than the field
// separator.
func (d *Delimiters) isDelim(c byte) bool {
	return c != 0 && (c == d.Component || c == d.Repetition || c == d.Escape || c == d.Subcomponent || c == d.Field || c == d.Truncation)
}
