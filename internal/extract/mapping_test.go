package extract

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

const minimalPatient = `name: p
entity: patient
fields:
  mrn: MRN
  assigning_authority: {value: X}
`

func TestParseMappingErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		yaml      string
		line, col int
		err       error
		msg       string
	}{
		{"not yaml", "name: [", 1, 0, ErrMappingSyntax, "did not find expected"},
		{"empty", "", 0, 0, ErrMappingSyntax, "empty document"},
		{"two documents", minimalPatient + "---\nname: q\n", 6, 1, ErrMappingSyntax, "more than one YAML document"},
		{"not a mapping", "- a\n- b\n", 1, 1, ErrMappingSyntax, "expected a mapping"},
		{"unknown top key", minimalPatient + "feilds: {}\n", 6, 1, ErrUnknownKey, "expected one of name, entity"},
		{"missing name", "entity: patient\nfields:\n  mrn: MRN\n  assigning_authority: {value: X}\n", 1, 1, ErrMissing, "every mapping needs name"},
		{"bad name", strings.Replace(minimalPatient, "name: p", "name: a b", 1), 1, 7, ErrInvalid, "letters, digits"},
		{"bad entity", strings.Replace(minimalPatient, "patient", "person", 1), 2, 9, ErrInvalid, "expected patient, encounter or result"},
		{"unknown field", minimalPatient + "  birthdate: BD\n", 6, 3, ErrUnknownKey, `a patient has no field "birthdate"`},
		{"duplicate key", minimalPatient + "  mrn: OTHER\n", 6, 3, ErrInvalid, "key given twice"},
		{"no source", minimalPatient + "  sex: {required: true}\n", 6, 3, ErrMissing, "give column, columns or value"},
		{"two sources", minimalPatient + "  sex: {column: S, value: F}\n", 6, 3, ErrInvalid, "only one of column, columns and value"},
		{"unknown field key", minimalPatient + "  sex: {colum: S}\n", 6, 9, ErrUnknownKey, "expected one of column"},
		{"date type on text", minimalPatient + "  sex: {column: S, type: date}\n", 6, 3, ErrInvalid, "sex is a text field"},
		{"unknown type", minimalPatient + "  sex: {column: S, type: bool}\n", 6, 3, ErrInvalid, "expected string, int"},
		{"layout not go", minimalPatient + "  birth_date: {column: B, layout: YYYY-MM-DD}\n", 6, 3, ErrInvalid, "not YYYY-MM-DD"},
		{"layout day without month", minimalPatient + "  birth_date: {column: B, layout: '2006 02'}\n", 6, 3, ErrInvalid, "a day but no month"},
		{"time field needs a day", "format: {timezone: UTC}\n" + minimalPatient + "  updated_at: {column: U, layout: '2006-01'}\n", 7, 3, ErrInvalid, "a time field needs a layout with year, month and day"},
		{"timezone missing", minimalPatient + "  updated_at: {column: U, type: datetime}\n", 0, 0, ErrMissing, "name their zone"},
		{"timezone unknown", "format: {timezone: Mars/Olympus}\n" + minimalPatient, 1, 20, ErrInvalid, "not a time zone"},
		{"bad delimiter", "format: {delimiter: ab}\n" + minimalPatient, 1, 21, ErrInvalid, "expected comma, tab"},
		{"bad encoding", "format: {encoding: ebcdic}\n" + minimalPatient, 1, 20, ErrInvalid, "expected utf-8"},
		{"header not a bool", "format: {header: yes}\n" + minimalPatient, 1, 18, ErrInvalid, "expected true or false"},
		{"quote equals delimiter", "format: {quote: ',', delimiter: comma}\n" + minimalPatient, 1, 17, ErrInvalid, "other than a line break and the delimiter"},
		{"columns with header", "format: {columns: 3}\n" + minimalPatient, 1, 19, ErrInvalid, "only for files without a header"},
		{"headerless names", "format: {header: false}\n" + minimalPatient, 5, 3, ErrInvalid, "columns are numbered from 1"},
		{"bad regexp", minimalPatient + "  family_name: {column: F, transforms: [{regexp: 'a(b'}]}\n", 6, 41, ErrInvalid, "missing closing )"},
		{"two groups", minimalPatient + "  family_name: {column: F, transforms: [{regexp: '(a)(b)'}]}\n", 6, 41, ErrInvalid, "at most one capturing group"},
		{"empty map", minimalPatient + "  sex: {column: S, transforms: [{map: {}}]}\n", 6, 33, ErrMissing, "lists no values"},
		{"unknown transform", minimalPatient + "  sex: {column: S, transforms: [titlecase]}\n", 6, 33, ErrInvalid, "expected trim, upper"},
		{"transform with map and regexp", minimalPatient + "  sex: {column: S, transforms: [{map: {a: F}, regexp: x}]}\n", 6, 47, ErrInvalid, "one transform per list item"},
		{"other on trim", minimalPatient + "  sex: {column: S, transforms: [{other: U}]}\n", 6, 33, ErrMissing, "needs map or regexp"},
		{"transforms on value", minimalPatient + "  sex: {value: F, transforms: [trim]}\n", 6, 3, ErrInvalid, "do not apply to a value"},
		{"default not a code", minimalPatient + "  sex: {column: S, default: Q}\n", 6, 3, ErrInvalid, "not a code of HL7 table 0001"},
		{"value not a date", minimalPatient + "  birth_date: {value: soon}\n", 6, 3, ErrInvalid, "not a date in layout 2006-01-02"},
		{"key unknown", minimalPatient + "key: [mrn, ssn]\n", 6, 6, ErrInvalid, `no field "ssn"`},
		{"key not text", minimalPatient + "key: [birth_date]\n", 6, 6, ErrInvalid, "birth_date is not a text field"},
		{"key not mapped", minimalPatient + "key: [mrn, family_name]\n", 4, 3, ErrMissing, "key field family_name must be mapped"},
		{"must map", "name: e\nentity: encounter\nfields:\n  visit_number: V\n", 4, 3, ErrMissing, "every encounter mapping maps mrn"},
		{"watermark not a time", minimalPatient + "watermark: MRN\n", 6, 12, ErrInvalid, "column of a date or time field"},
		{"alias", "x: &a MRN\n" + minimalPatient, 1, 1, ErrUnknownKey, "expected one of"},
		{"alias used", minimalPatient + "  family_name: &f F\n  given_name: *f\n", 7, 15, ErrMappingSyntax, "aliases are not accepted"},
		{"empty key value", strings.Replace(minimalPatient, "{value: X}", "{value: ''}", 1), 5, 3, ErrMissing, "assigning_authority is required: its value cannot be empty"},
		{"too many key fields", minimalPatient + "key: [mrn, assigning_authority, family_name, given_name, sex]\n", 6, 6, ErrTooLarge, "at most 4 fields"},
		{"concat of dates", minimalPatient + "  birth_date: {columns: [A, B]}\n", 6, 3, ErrInvalid, "only text fields can be concatenated"},
		{"empty rule unknown", minimalPatient + "empty: blank\n", 6, 8, ErrInvalid, "empty: invalid value: expected keep"},
		{"empty rule in another case", "empty: Clear\n" + minimalPatient, 1, 8, ErrInvalid, "expected keep (an empty value keeps the stored one) or clear"},
		{"empty rule not a scalar", minimalPatient + "empty: [clear]\n", 6, 8, ErrMappingSyntax, "empty: not a mapping document: expected a single value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMapping(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			found := false
			for _, me := range mappingErrors(err) {
				if strings.Contains(me.Error(), tc.msg) && (tc.line == 0 || me.Line == tc.line && (tc.col == 0 || me.Column == tc.col)) {
					found = true
				}
			}
			if !found {
				t.Errorf("error %v\nwant one at %d:%d saying %q", err, tc.line, tc.col, tc.msg)
			}
		})
	}
}

func mappingErrors(err error) []*MappingError {
	var out []*MappingError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, mappingErrors(e)...)
		}
		return out
	}
	var me *MappingError
	if errors.As(err, &me) {
		out = append(out, me)
	}
	return out
}

func TestLoadMappingNamesFile(t *testing.T) {
	_, err := LoadMapping("testdata/no-such-mapping.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	m, err := LoadMapping("testdata/clarity_patients.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "clarity_patients" || m.Entity != EntityPatient || m.Format.Delimiter != '|' || m.Format.Quote != 0 ||
		m.Format.Encoding != Windows1252 || m.Watermark != "UPDATE_DATE" || len(m.Fields) != 7 {
		t.Errorf("%+v", m)
	}
	if f := m.Fields[5]; f.Field != "sex" || f.Default != "U" || len(f.Transforms) != 2 || f.Transforms[1].Table["950"] != "O" || f.Pos.Line != 26 {
		t.Errorf("sex: %+v", f)
	}
}

func TestMappingErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/m.yaml"
	writeFile(t, path, minimalPatient+"  sex: {column: S, default: Q}\n  birth_date: {column: B, layout: x}\n")
	_, err := LoadMapping(path)
	mes := mappingErrors(err)
	if len(mes) != 2 {
		t.Fatalf("error %v", err)
	}
	for _, me := range mes {
		if !strings.HasPrefix(me.Error(), path+":") {
			t.Errorf("%q does not start with the file", me.Error())
		}
	}
	if want := path + ":6:3: fields.sex.default: invalid value: not a code of HL7 table 0001 (administrative sex): F, M, O, U, A, N"; mes[0].Error() != want {
		t.Errorf("got  %s\nwant %s", mes[0].Error(), want)
	}
}

func TestDatePrecision(t *testing.T) {
	for _, tc := range []struct {
		layout, in, want string
		prec             Precision
	}{
		{"2006-01-02", "1948-07-14", "1948-07-14", PrecisionDay},
		{"2006-01", "1948-07", "1948-07", PrecisionMonth},
		{"2006", "1948", "1948", PrecisionYear},
		{"01/2006", "07/1948", "1948-07", PrecisionMonth},
		{"Jan 2006", "Jul 1948", "1948-07", PrecisionMonth},
		{"Mon Jan 2 2006", "Wed Jul 14 1948", "1948-07-14", PrecisionDay},
		{"20060102", "19480714", "1948-07-14", PrecisionDay},
		{"2006-01-02 15:04:05", "1948-07-14 23:59:59", "1948-07-14", PrecisionDay},
	} {
		lp, msg := planLayout(tc.layout, kindDate)
		if msg != "" || lp.prec != tc.prec {
			t.Errorf("%s: precision %v %q, want %v", tc.layout, lp.prec, msg, tc.prec)
			continue
		}
		fp := &fieldPlan{def: fieldDef{kind: kindDate}, typ: TypeDate, layouts: []layoutPlan{lp}}
		v, re := (&plan{}).typed(fp, tc.in)
		if re != nil || v.d.String() != tc.want || v.d.Precision != tc.prec {
			t.Errorf("%s %q: %v %v, want %s", tc.layout, tc.in, v.d, re, tc.want)
		}
	}
	if (Date{}).String() != "" || !(Date{}).IsZero() {
		t.Error("zero Date")
	}
}

// The fast path reads exactly what time.ParseInLocation reads, for values
// that fit its template; the rest go to time.ParseInLocation anyway.
func TestFastLayouts(t *testing.T) {
	layouts := []string{"2006-01-02", "2006-01-02 15:04:05", "01/02/2006 15:04", "01/02/2006", "20060102150405", "2006-01-02T15:04:05", "2006-01-02 15:04"}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n, max int) string { return fmt.Sprintf("%0*d", n, rng.IntN(max)) }
	for _, layout := range layouts {
		tmpl := fastTemplate(layout)
		if tmpl == nil {
			t.Fatalf("%s has no fast template", layout)
		}
		for range 20000 {
			// Mostly valid values, with out-of-range parts and DST edges.
			s := layout
			s = strings.Replace(s, "2006", digits(4, 10000), 1)
			s = strings.Replace(s, "01", digits(2, 14), 1)
			s = strings.Replace(s, "02", digits(2, 33), 1)
			s = strings.Replace(s, "15", digits(2, 25), 1)
			s = strings.Replace(s, "04", digits(2, 61), 1)
			s = strings.Replace(s, "05", digits(2, 61), 1)
			if rng.IntN(10) == 0 {
				b := []byte(s)
				b[rng.IntN(len(b))] = "0123456789 -/:Tx"[rng.IntN(16)]
				s = string(b)
			}
			want, werr := time.ParseInLocation(layout, s, chicago)
			got, ok := parseFast(tmpl, s, chicago)
			if ok && (werr != nil || !got.Equal(want) || got.Location() != want.Location()) {
				t.Fatalf("%s %q: fast %v, time package %v %v", layout, s, got, want, werr)
			}
			if !ok && werr == nil && fitsTemplate(tmpl, s) {
				t.Fatalf("%s %q: fast path refused what the time package reads as %v", layout, s, want)
			}
		}
	}
	for _, l := range []string{"2006-01-02 3:04PM", "Jan 2 2006", "2006-01-02 2006", "02.01.2006"} {
		if fastTemplate(l) != nil {
			t.Errorf("%s should not have a fast template", l)
		}
	}
}

func TestWindows1252(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte("plain"), "plain"},
		{[]byte{'O', 0x92, 'B'}, "O’B"},
		{[]byte{0x80, 0x85, 0x96, 0x97, 0x9F}, "€…–—Ÿ"},
		{[]byte{0x81, 0x8D, 0x8F, 0x90, 0x9D}, "\u0081\u008d\u008f\u0090\u009d"},
		{[]byte{0xA0, 0xC9, 0xEB, 0xFF}, "\u00a0Éëÿ"},
	} {
		if got := string(decode1252(nil, tc.in)); got != tc.want {
			t.Errorf("% x: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fitsTemplate(tmpl []byte, s string) bool {
	if len(s) != len(tmpl) {
		return false
	}
	for i := range len(s) {
		if tmpl[i] >= 'A' && tmpl[i] != 'T' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != tmpl[i] {
			return false
		}
	}
	return true
}

// The example in the package documentation is a valid mapping.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var y strings.Builder
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "//\tname: ") {
			in = true
		}
		if in && !strings.HasPrefix(line, "//\t") {
			break
		}
		if in {
			y.WriteString(strings.TrimPrefix(line, "//\t"))
			y.WriteString("\n")
		}
	}
	m, err := ParseMapping(strings.NewReader(y.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, y.String())
	}
	if m.Name != "clarity_patients" || len(m.Fields) != 7 {
		t.Errorf("%+v", m)
	}
}

// TestDocumentedMapping: the example mapping in docs/hl7.md is a valid
// mapping, and loads the fixture it describes.
func TestDocumentedMapping(t *testing.T) {
	doc, err := os.ReadFile("../../docs/hl7.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "```yaml\nname: clarity_patients")
	if start < 0 {
		t.Fatal("docs/hl7.md has no example mapping")
	}
	text = text[start+len("```yaml\n"):]
	text = text[:strings.Index(text, "```")]
	m, err := ParseMapping(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := loadMappingT(t, "clarity_patients.yaml")
	sink := newMemSink()
	sum, err, _ := loadInto(t, m, sink, "testdata/clarity_patients.txt", 100)
	wantSum, _, _ := loadInto(t, want, newMemSink(), "testdata/clarity_patients.txt", 100)
	if err != nil || sum.Loaded != wantSum.Loaded || sum.Rejected != wantSum.Rejected {
		t.Fatalf("documented mapping: %+v %v; the fixture's: %+v", sum, err, wantSum)
	}
}
