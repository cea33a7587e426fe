package extract

import (
	"unicode/utf8"
)

// cp1252High maps the bytes 0x80–0x9F of Windows-1252 to Unicode, as the
// WHATWG Encoding Standard does: the five bytes Windows leaves undefined
// map to the C1 controls of the same value. The bytes 0xA0–0xFF are the
// code points of the same value, as in ISO-8859-1.
var cp1252High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, // 80–87
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, // 88–8F
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, // 90–97
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, // 98–9F
}

// isASCII reports whether b holds only 7-bit bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// decode1252 appends the Windows-1252 text b to dst as UTF-8.
func decode1252(dst, b []byte) []byte {
	for _, c := range b {
		switch {
		case c < 0x80:
			dst = append(dst, c)
		case c < 0xA0:
			dst = utf8.AppendRune(dst, cp1252High[c-0x80])
		default:
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

// printable returns b as valid UTF-8 for the reject file: text in a
// single-byte encoding is decoded, invalid UTF-8 and NUL bytes become
// U+FFFD.
func printable(b []byte, enc Encoding) string {
	if enc != UTF8 && enc != "" {
		b = decode1252(nil, b)
	}
	if utf8.Valid(b) && !containsNUL(b) {
		return string(b)
	}
	out := make([]rune, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == 0 {
			r = utf8.RuneError
		}
		out = append(out, r)
		b = b[n:]
	}
	return string(out)
}

func containsNUL(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}
