package hl7

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const mshADT = `MSH|^~\&|LAB|HOSP|CLIN|HOSP|20240131093000||ADT^A01^ADT_A01|MSG1|P|2.5.1`

// TestErrors checks the sentinel and the position of each malformation.
// Every case holds the word SECRET near the fault: no error may quote it.
func TestErrors(t *testing.T) {
	lim := Limits{MaxRepetitions: 3, MaxComponents: 4, MaxSubcomponents: 2, MaxSegments: 3}
	// at is the text the error offset must point at: its first occurrence
	// in the input, or the end of the input when at is "$".
	cases := []struct {
		name    string
		lim     Limits
		in      string
		want    error
		line    int
		at      string
		segment int
		loc     string // Location.String(), "" when none
	}{
		{"empty input", Limits{}, "", ErrNoMSH, 0, "$", 0, ""},
		{"only blank lines", Limits{}, "\r\n \t\n\r", ErrNoMSH, 0, "$", 0, ""},
		{"starts with PID", Limits{}, "PID|1||SECRET\r", ErrNoMSH, 1, "PID", 1, ""},
		{"PID after blank lines", Limits{}, "\r\n\nPID|1|SECRET", ErrNoMSH, 3, "PID", 1, ""},
		{"batch header", Limits{}, "FHS|^~\\&|SECRET\rMSH|^~\\&\r", ErrNoMSH, 1, "FHS", 1, ""},
		{"MSH alone", Limits{}, "MSH", ErrEncoding, 1, "$", 1, "MSH-1"},
		{"MSH then CR", Limits{}, "MSH\rPID|SECRET", ErrEncoding, 1, "\r", 1, "MSH-1"},
		{"letter as field separator", Limits{}, "MSHa^~\\&aSECRET", ErrEncoding, 1, "a", 1, "MSH-1"},
		{"space as field separator", Limits{}, "MSH ^~\\& SECRET", ErrEncoding, 1, " ", 1, "MSH-1"},
		{"no encoding characters", Limits{}, "MSH||SECRET", ErrEncoding, 1, "|SECRET", 1, "MSH-2"},
		{"MSH| at the end", Limits{}, "MSH|", ErrEncoding, 1, "$", 1, "MSH-2"},
		{"six encoding characters", Limits{}, "MSH|^~\\&#!|SECRET", ErrEncoding, 1, "^", 1, "MSH-2"},
		{"many encoding characters", Limits{}, "MSH|^~\\&#!@$%^&*()|SECRET", ErrEncoding, 1, "^", 1, "MSH-2"},
		{"repeated delimiter ^~\\\\&", Limits{}, "MSH|^~\\\\&|SECRET", ErrEncoding, 1, "^", 1, "MSH-2"},
		{"component equals field separator", Limits{}, "MSH||~\\&|SECRET", ErrEncoding, 1, "|~", 1, "MSH-2"},
		{"digits as delimiters", Limits{}, "MSH|0000|SECRET", ErrEncoding, 1, "0", 1, "MSH-2"},
		{"null quote as delimiter", Limits{}, "MSH|^~\\\"|SECRET", ErrEncoding, 1, "^", 1, "MSH-2"},
		{"non-ASCII delimiter", Limits{}, "MSH|^\xfd00|SECRET", ErrEncoding, 1, "^", 1, "MSH-2"},
		{"NUL in MSH-2", Limits{}, "MSH|^\x00\\&|SECRET", ErrEncoding, 1, "^", 1, "MSH-2"},
		{"unsupported MSH-18", Limits{}, mshADT + "||||||8859/2\rPID|1||SECRET", ErrCharset, 1, "MSH", 1, "MSH-18"},
		{"unsupported MSH-18 ISO IR87", Limits{}, mshADT + "||||||ISO IR87~ASCII\r", ErrCharset, 1, "MSH", 1, "MSH-18"},
		{"second MSH", Limits{}, mshADT + "\rPID|1||SECRET\rMSH|^~\\&|SECRET\r", ErrSegment, 3, "MSH|^~\\&|SECRET", 3, "MSH[2]"},
		{"BHS inside", Limits{}, mshADT + "\rBHS|^~\\&|SECRET\r", ErrSegment, 2, "BHS", 2, "BHS"},
		{"BTS inside", Limits{}, mshADT + "\nBTS|1\n", ErrSegment, 2, "BTS", 2, "BTS"},
		{"lower-case segment ID", Limits{}, mshADT + "\rpid|1||SECRET\r", ErrSegment, 2, "pid", 2, ""},
		{"two-letter segment ID", Limits{}, mshADT + "\r\nPI|1||SECRET\r\n", ErrSegment, 2, "PI|", 2, ""},
		{"four-letter segment ID", Limits{}, mshADT + "\rPIDX|SECRET\r", ErrSegment, 2, "PIDX", 2, ""},
		{"digit first in segment ID", Limits{}, mshADT + "\r0BX|1|SECRET\r", ErrSegment, 2, "0BX", 2, ""},
		{"indented segment", Limits{}, mshADT + "\r PID|1|SECRET\r", ErrSegment, 2, " PID", 2, ""},
		{"other field separator", Limits{}, mshADT + "\rPID^1^SECRET\r", ErrSegment, 2, "PID^", 2, ""},
		{"NUL byte", Limits{}, mshADT + "\rPID|1|SECRET\x00SECRET\r", ErrCharset, 2, "\x00", 2, "PID-2"},
		{"vertical tab", Limits{}, mshADT + "\rPID|1||A^SECRET\x0b\r", ErrCharset, 2, "\x0b", 2, "PID-3"},
		{"DEL", Limits{}, mshADT + "\rEVN|A01\rPID|1||\x7fSECRET\r", ErrCharset, 3, "\x7f", 3, "PID-3"},
		{"byte 0xE9 in ASCII", Limits{}, mshADT + "||||||ASCII\rPID|1||1||M\xe9SECRET\r", ErrCharset, 2, "\xe9", 2, "PID-5"},
		{"Latin-1 without MSH-18", Limits{}, mshADT + "\rPID|1||1||M\xe9nard^SECRET\r", ErrCharset, 2, "\xe9", 2, "PID-5"},
		{"invalid UTF-8 declared", Limits{}, mshADT + "||||||UNICODE UTF-8\rPID|1||1||\xc3SECRET\r", ErrCharset, 2, "\xc3", 2, "PID-5"},
		{"C1 byte in 8859/1", Limits{}, mshADT + "||||||8859/1\rNTE|1||\x93SECRET\x94\r", ErrCharset, 2, "\x93", 2, "NTE-3"},
		{"UTF-8 in MSH-3 under ASCII", Limits{}, "MSH|^~\\&|L\xc3\xa9B||||||ADT^A01|1|P|2.5||||||ASCII\r", ErrCharset, 1, "\xc3", 1, "MSH-3"},
		{"character set escape \\C", Limits{}, mshADT + "\rPID|1||1||SECRET\\C2842\\X\r", ErrCharset, 2, "\\C", 2, "PID-5"},
		{"character set escape \\M", Limits{}, mshADT + "\rNTE|1||\\M248440\\SECRET\r", ErrCharset, 2, "\\M", 2, "NTE-3"},
		{"too large", Limits{MaxSize: 20}, mshADT, ErrTooLarge, 0, "MSH", 0, ""},
		{"too many segments", lim, mshADT + "\rEVN|A01\rPID|1\rPV1|1|SECRET\r", ErrTooLarge, 4, "PV1", 4, ""},
		{"too many fields", Limits{MaxFields: 12}, mshADT + "\rPID|1|2|3|4|5|6|7|8|9|10|11|12|SECRET\r", ErrTooLarge, 2, "|SECRET", 2, "PID-13"},
		{"too many fields in MSH", Limits{MaxFields: 5}, mshADT + "\r", ErrTooLarge, 1, "|HOSP|2024", 1, "MSH-6"},
		{"too many repetitions", lim, mshADT + "\rPID|1||a~b~c~SECRET\r", ErrTooLarge, 2, "~SECRET", 2, "PID-3"},
		{"too many components", lim, mshADT + "\rPID|1||a^b^c^d^SECRET\r", ErrTooLarge, 2, "^SECRET", 2, "PID-3"},
		{"too many subcomponents", lim, mshADT + "\rPID|1||a^b&c&SECRET\r", ErrTooLarge, 2, "&SECRET", 2, "PID-3"},
		{"second MSH after CRLF and blank line", Limits{}, mshADT + "\r\n\r\nPID|1\r\nMSH|^~\\&\r\n", ErrSegment, 4, "MSH|^~\\&\r", 3, "MSH[2]"},
		{"segment sequence in location", Limits{}, mshADT + "\rOBX|1\rOBX|2\rOBX|3|\x01\r", ErrCharset, 4, "\x01", 4, "OBX[3]-2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.lim.Parse([]byte(c.in))
			if err == nil {
				t.Fatalf("parsed: %v", m)
			}
			pe := checkParseError(t, err)
			if !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
			offset := len(c.in)
			if c.at != "$" {
				offset = strings.Index(c.in, c.at)
			}
			if c.name == "too large" {
				offset = 0
			}
			if pe.Line != c.line || pe.Offset != offset || pe.Segment != c.segment {
				t.Errorf("line %d, offset %d, segment %d; want %d, %d, %d (%v)", pe.Line, pe.Offset, pe.Segment, c.line, offset, c.segment, err)
			}
			loc := ""
			if pe.Location.Segment != "" {
				loc = pe.Location.String()
			}
			if loc != c.loc {
				t.Errorf("location %q, want %q (%v)", loc, c.loc, err)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "M\xe9") {
				t.Errorf("error quotes the message: %v", err)
			}
		})
	}
}

func TestParseBasics(t *testing.T) {
	in := "\xef\xbb\xbf\r\n" + strings.Join([]string{
		`MSH|^~\&|LAB|HOSP^1.2.3^ISO|||20240131||ORU^R01^ORU_R01|C1|P|2.5.1`,
		`PID|1||123^^^HOSP^MR~456^^^SSA^SS||Doe^Jane^Q^^Dr.||19800101|F|||1 Main St^^Town`,
		`   `,
		`OBX|1|TX|1234^Text^L||line one~line two||||||F`,
		`OBX|2|NM|2345^Num^L||42.5|mg|||||F`,
		`ZPI|1|custom^value&sub|""|`,
		``,
	}, "\n")
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Segments()); n != 5 {
		t.Fatalf("%d segments, want 5 (blank lines skipped)", n)
	}
	for p, want := range map[string]string{
		"MSH-1": "|", "MSH-2": `^~\&`, "MSH-3": "LAB", "MSH-4": "HOSP", "MSH-4.2": "1.2.3", "MSH-9": "ORU", "MSH-9.3": "ORU_R01",
		"PID-3": "123", "PID-3(2)": "456", "PID-3(2).5": "SS", "PID-3(3)": "", "PID-5": "Doe", "PID-5.2": "Jane", "PID-5.5": "Dr.",
		"PID-11.3": "Town", "PID-99": "", "PID-5.2.1": "Jane", "PID-5.2.2": "",
		"OBX-5": "line one", "OBX[1]-5(2)": "line two", "OBX[2]-5": "42.5", "OBX[-1]-6": "mg", "OBX[-2]-1": "1", "OBX[3]-1": "", "OBX[-3]-1": "",
		"ZPI-2": "custom", "ZPI-2.2": "value", "ZPI-2.2.2": "sub", "ZPI-3": "", "ZPI-4": "",
		"NTE-1": "", "MSH-999": "",
	} {
		if got := m.Get(p); got != want {
			t.Errorf("Get(%s) = %q, want %q", p, got, want)
		}
	}
	if got := m.GetRep("PID-3.5", 2); got != "SS" {
		t.Errorf("GetRep = %q", got)
	}
	if !m.Value("ZPI-3").IsNull() || m.Value("ZPI-4").IsNull() || !m.Value("ZPI-4").IsEmpty() || m.Value("ZPI-3").IsEmpty() {
		t.Error("null and empty not told apart")
	}
	if len(m.Reps("PID-3.1")) != 2 || len(m.Reps("PID-4")) != 0 {
		t.Error("Reps")
	}
	if _, err := m.Lookup("PID5"); !errors.Is(err, ErrPath) {
		t.Errorf("Lookup of a bad path: %v", err)
	}
	if m.Type() != (MessageType{"ORU", "R01", "ORU_R01"}) || m.ControlID() != "C1" || m.Version() != "2.5.1" || m.ProcessingID() != "P" {
		t.Errorf("header %+v", m.Header())
	}
	if s := m.String(); s != "hl7.Message{ORU^R01, 5 segments}" || strings.Contains(s, "Doe") {
		t.Errorf("String() = %q", s)
	}
	if got := m.First("OBX").Value("5").Text(); got != "line one~line two" {
		t.Errorf("Text = %q", got)
	}
	// A message from a buffer that is then reused keeps its values.
	buf := []byte(in)
	m2, _ := Parse(buf)
	for i := range buf {
		buf[i] = 'x'
	}
	if m2.Get("PID-5") != "Doe" {
		t.Error("message shares the caller's buffer")
	}
}

// TestDelimiters reads messages with encoding characters other than
// |^~\&, from hapi's test files and made up.
func TestDelimiters(t *testing.T) {
	m, err := Parse(fixture(t, "hapi_adt_a24_caret_field_separator_crlf.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	want := Delimiters{Field: '^', Component: '~', Repetition: '|', Escape: '\\', Subcomponent: '&'}
	if m.Delimiters() != want {
		t.Fatalf("delimiters %+v", m.Delimiters())
	}
	for p, w := range map[string]string{
		"MSH-9": "ADT", "MSH-9.2": "A24", "MSH-10": "2003582144", "MSH-12": "2.4",
		"PID-3": "11111", "PID-3.4": "FOO", "PID-3.4.3": "0363", "PID-3.5": "NI", "PID-3.6.2": "200M",
		"PID-5": "SMITH", "PID-5.2": "JOHN", "PID-6": "", "PID[2]-1": "2", "PID[2]-3": "22222",
	} {
		if got := m.Get(p); got != w {
			t.Errorf("Get(%s) = %q, want %q", p, got, w)
		}
	}
	b, err := ParseBatch(stripComments(fixture(t, "hapi_messages_odd_encoding_chars.txt")))
	if err != nil {
		t.Fatal(err)
	}
	msgs := b.Messages()
	if len(msgs) != 18 {
		t.Fatalf("%d messages", len(msgs))
	}
	// ^~\}: subcomponent '}'; ^~}: escape '}', no subcomponent separator.
	if d := msgs[1].Delimiters(); d != (Delimiters{'|', '^', '~', '\\', '}', 0}) {
		t.Errorf("^~\\} read as %+v", d)
	}
	if d := msgs[3].Delimiters(); d != (Delimiters{'|', '^', '~', '}', 0, 0}) {
		t.Errorf("^~} read as %+v", d)
	}
	if got := msgs[3].Get("PID-5"); got != "CRESWELL" {
		t.Errorf("PID-5 = %q", got)
	}

	// Made-up delimiters, with a v2.7 truncation character.
	m, err = Parse([]byte("MSH#$*!@%#A#B#####X$Y#1#P#2.7\rNTE#1##a!F!b$c*d@e!P!f%\r"))
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Delimiters(); d != (Delimiters{'#', '$', '*', '!', '@', '%'}) {
		t.Fatalf("%+v", d)
	}
	if got := m.Get("NTE-3"); got != "a#b" {
		t.Errorf("NTE-3 = %q", got)
	}
	if got := m.Get("NTE-3(2).1.2"); got != "e%f%" {
		t.Errorf("NTE-3(2).1.2 = %q", got)
	}
	if got := m.Value("NTE-3").Text(); got != "a#b$c*d@e%f%" {
		t.Errorf("Text = %q", got)
	}
	if m.Get("MSH-9") != "X" || m.Get("MSH-9.2") != "Y" {
		t.Error("MSH-9")
	}
	// One encoding character: components only.
	m, err = Parse([]byte("MSH|^|||||||ADT^A40|||2.8\rIN2|a~b\\c&d^e\r"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Get("IN2-1") != "a~b\\c&d" || m.Get("IN2-1.2") != "e" || m.Get("IN2-1(2)") != "" {
		t.Errorf("one encoding character: %q %q", m.Get("IN2-1"), m.Get("IN2-1.2"))
	}
}

func TestEscapes(t *testing.T) {
	cases := []struct{ raw, want string }{
		{`plain`, "plain"},
		{`a\F\b\S\c\T\d\R\e\E\f`, `a|b^c&d~e\f`},
		{`\X41\`, "A"},
		{`a\X4142\b`, "aABb"},
		{`line\X0D0A\two`, "line\r\ntwo"},
		{`\X0D\\X0A\`, "\r\n"},
		{`nul\X00\gone`, "nulgone"},
		{`\XC3A9\`, "é"},
		{`\XE9\`, "\uFFFD"}, // not UTF-8 in a UTF-8 message
		{`\X4\`, `\X4\`},
		{`\Xzz\`, `\Xzz\`},
		{`\X\`, `\X\`},
		{`one\.br\two`, "one\ntwo"},
		{`\.sp\`, "\n"},
		{`\.sp3\`, "\n\n\n"},
		{`\.sp+2\`, "\n\n"},
		{`\.sp999999\`, strings.Repeat("\n", maxSpace)},
		{`\.spx\`, `\.spx\`},
		{`\.ce\title`, "\ntitle"},
		{`\.fi\\.nf\text`, "text"},
		{`\.in+4\\.ti-2\\.sk3\x`, "x"},
		{`\H\bold\N\ normal`, "bold normal"},
		{`C:\temp`, `C:\temp`},
		{`C:\dir\file.txt`, `C:\dir\file.txt`},
		{`\Q\`, `\Q\`},
		{`\Zlocal\`, `\Zlocal\`},
		{`\P\`, `\P\`}, // no truncation character in |^~\&
		{`\\`, `\\`},
		{`end\`, `end\`},
		{`\E\\E\`, `\\`},
	}
	for _, c := range cases {
		m, err := Parse(msg(mshADT+"||||||UNICODE UTF-8", "NTE|1||"+c.raw))
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		if got := m.Get("NTE-3"); got != c.want {
			t.Errorf("%s: %q, want %q", c.raw, got, c.want)
		}
	}
	// Other delimiters: escape '}' (hapi's ^~}).
	m, err := Parse(msg("MSH|^~}|A||||||BAR^P01|1|P|2.4", `NTE|1||a}F}b}S}c}.br}d}X41}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("NTE-3"); got != "a|b^c\ndA" {
		t.Errorf("escape '}': %q", got)
	}
	// ISO-8859-1: \XE9\ is é.
	m, err = Parse(msg(mshADT+"||||||8859/1", `NTE|1||caf\XE9\ \X80\`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("NTE-3"); got != "café " {
		t.Errorf("8859/1 hex: %q", got)
	}
	// Truncation character (v2.7).
	m, err = Parse(msg(`MSH|^~\&#|A||||||ADT^A01|1|P|2.7`, `NTE|1||cut\P\ here#`))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("NTE-3"); got != "cut# here#" {
		t.Errorf("truncation: %q", got)
	}
	// Real message: \.br\, \H\, \N\ and \X0D\\X0A\ in Efferent's NTE.
	m, err = Parse(fixture(t, "efferent_orm_o01_escapes_br_h_n_x.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	notes := m.All("NTE")
	if got := notes[0].Get("3"); got != "some text\nsome text after new line\nissue Efferent-Health#82" {
		t.Errorf("NTE 1: %q", got)
	}
	if got := notes[1].Get("3"); got != "some text\r\nsome text after new line\r\nissue Efferent-Health#81" {
		t.Errorf("NTE 2: %q", got)
	}
}

// TestCharsets: MSH-18 decides how bytes become text, and Bytes writes
// them back in the same character set.
func TestCharsets(t *testing.T) {
	cases := []struct {
		name, charset string
		name5         string // PID-5 as bytes in the message
		family, given string
	}{
		{"ISO-8859-1", "8859/1", "M\xe9nard^Ren\xe9e", "Ménard", "Renée"},
		{"ISO-8859-1 lower case code", "8859/1", "\xc5str\xf6m^J\xfcrgen", "Åström", "Jürgen"},
		{"UTF-8", "UNICODE UTF-8", "Ménard^Renée", "Ménard", "Renée"},
		{"UTF-8 short name", "UTF-8", "Łukasiewicz^Jan", "Łukasiewicz", "Jan"},
		{"UTF-8 undeclared", "", "Barrionuevo^Sebastián", "Barrionuevo", "Sebastián"},
		{"ASCII", "ASCII", "Doe^John", "Doe", "John"},
		{"ASCII undeclared", "", "Doe^John", "Doe", "John"},
		{"UTF-8 with repetitions", "UNICODE UTF-8~ISO IR87", "山田^太郎", "山田", "太郎"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := msg(mshADT+"||||||"+c.charset, "PID|1||1||"+c.name5+"||19800101|F")
			m, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			if m.Get("PID-5") != c.family || m.Get("PID-5.2") != c.given {
				t.Errorf("name %q %q", m.Get("PID-5"), m.Get("PID-5.2"))
			}
			if out := m.Bytes(); !bytes.Equal(out, in) {
				t.Errorf("written as %q\nwant %q", out, in)
			}
		})
	}
	// Latin-1 before MSH-18 (in MSH-3) is read in the declared set.
	m, err := Parse(msg("MSH|^~\\&|H\xd4PITAL||||||ADT^A01|1|P|2.5||||||8859/1"))
	if err != nil || m.Get("MSH-3") != "HÔPITAL" {
		t.Errorf("MSH-3 %q %v", m.Get("MSH-3"), err)
	}
	// The real 8859/1 message of hapi's tests.
	m, err = Parse(fixture(t, "hapi_erp_r09_8859-1.hl7"))
	if err != nil || m.Header().Charset != "8859/1" || m.Get("ZNT-1.2") != "2.16.840.1.113883.3.59.1:4006" {
		t.Errorf("hapi 8859/1: %v %+v", err, m)
	}
}
