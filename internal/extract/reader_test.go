package extract

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
)

type readRec struct {
	line   int
	fields []string // nil with err
	err    error    // sentinel of a *RowError
}

func readAllRecords(data string, delim, quote byte, max int) ([]readRec, error) {
	rd := newReader(strings.NewReader(data), delim, quote)
	if max > 0 {
		rd.max = max
	}
	var out []readRec
	for {
		line, err := rd.next()
		if err == io.EOF {
			return out, nil
		}
		var re *RowError
		if errors.As(err, &re) {
			if re.Line != line {
				return out, errors.New("RowError line differs from next's line")
			}
			out = append(out, readRec{line: re.Line, err: re.Err})
			continue
		}
		if err != nil {
			return out, err
		}
		f := make([]string, rd.fields())
		for i := range f {
			f[i] = string(rd.field(i))
		}
		out = append(out, readRec{line: line, fields: f})
	}
}

func TestReader(t *testing.T) {
	many := strings.Repeat(",", MaxFields-1) // MaxFields fields: the limit
	for _, tc := range []struct {
		name  string
		data  string
		delim byte
		quote byte
		max   int
		want  []readRec
	}{
		{name: "simple", data: "a,b\nc,d\n", want: []readRec{{1, []string{"a", "b"}, nil}, {2, []string{"c", "d"}, nil}}},
		{name: "crlf", data: "a,b\r\nc,d\r\n", want: []readRec{{1, []string{"a", "b"}, nil}, {2, []string{"c", "d"}, nil}}},
		{name: "no final newline", data: "a,b\nc,d", want: []readRec{{1, []string{"a", "b"}, nil}, {2, []string{"c", "d"}, nil}}},
		{name: "blank lines keep line numbers", data: "\n\na,b\n\r\n\nc\n\n",
			want: []readRec{{3, []string{"a", "b"}, nil}, {6, []string{"c"}, nil}}},
		{name: "quoted", data: "\"a,b\",\"c\"\"d\"\n\"e\nf\",g\nh\n",
			want: []readRec{{1, []string{"a,b", `c"d`}, nil}, {2, []string{"e\nf", "g"}, nil}, {4, []string{"h"}, nil}}},
		{name: "crlf inside quotes becomes lf", data: "\"a\r\nb\",c\r\n", want: []readRec{{1, []string{"a\nb", "c"}, nil}}},
		{name: "empty fields", data: "\"\",x,\n,,\n", want: []readRec{{1, []string{"", "x", ""}, nil}, {2, []string{"", "", ""}, nil}}},
		{name: "quote inside an unquoted field is text", data: "ab\"c,d\"\n", want: []readRec{{1, []string{`ab"c`, `d"`}, nil}}},
		{name: "lone cr is text", data: "a\rb,c\n", want: []readRec{{1, []string{"a\rb", "c"}, nil}}},
		{name: "text after closing quote", data: "\"a\"b,c\nd\n",
			want: []readRec{{1, nil, ErrQuote}, {2, []string{"d"}, nil}}},
		{name: "text after closing quote on a later line", data: "x,\"a\nb\"c\nd\n",
			want: []readRec{{1, nil, ErrQuote}, {3, []string{"d"}, nil}}},
		{name: "unterminated quote resumes on the next line", data: "a,\"b\nc,d\ne\n",
			want: []readRec{{1, nil, ErrQuote}, {2, []string{"c", "d"}, nil}, {3, []string{"e"}, nil}}},
		{name: "a quote on the next line closes the field", data: "\"a\n\"b\nc\n",
			want: []readRec{{1, nil, ErrQuote}, {3, []string{"c"}, nil}}},
		{name: "a quote lines later closes the field", data: "\"a\nb\n\"c\nd\n",
			want: []readRec{{1, nil, ErrQuote}, {4, []string{"d"}, nil}}},
		{name: "unterminated quote stops at the row limit", data: "\"a\nbbbbbbbbbbbbbbbbbbbbbbb\nc\"\nd\n", max: 16,
			want: []readRec{{1, nil, ErrQuote}, {2, nil, ErrTooLarge}, {3, []string{`c"`}, nil}, {4, []string{"d"}, nil}}},
		{name: "a long line after an open quote is read whole again", data: "\"a\nbbbbbbbbbb,bbbb\nc\n", max: 16,
			want: []readRec{{1, nil, ErrQuote}, {2, []string{"bbbbbbbbbb", "bbbb"}, nil}, {3, []string{"c"}, nil}}},
		{name: "line too long", data: "0123456789abcdefghij\nx\n", max: 16,
			want: []readRec{{1, nil, ErrTooLarge}, {2, []string{"x"}, nil}}},
		{name: "line too long at the end", data: "x\n0123456789abcdefghij", max: 16,
			want: []readRec{{1, []string{"x"}, nil}, {2, nil, ErrTooLarge}}},
		{name: "fields at the limit", data: many + "\n", want: []readRec{{1, make([]string, MaxFields), nil}}},
		{name: "fields over the limit", data: many + ",\nx\n", want: []readRec{{1, nil, ErrFieldCount}, {2, []string{"x"}, nil}}},
		{name: "quoted fields over the limit", data: "\"\"" + many + ",\nx\n", want: []readRec{{1, nil, ErrFieldCount}, {2, []string{"x"}, nil}}},
		{name: "no quoting", data: "\"a,b\"\n", quote: 1, want: []readRec{{1, []string{`"a`, `b"`}, nil}}},
		{name: "pipe", data: "a|b,c\n", delim: '|', want: []readRec{{1, []string{"a", "b,c"}, nil}}},
		{name: "tab", data: "a\tb\n", delim: '\t', want: []readRec{{1, []string{"a", "b"}, nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delim, quote := tc.delim, tc.quote
			if delim == 0 {
				delim = ','
			}
			switch quote {
			case 0:
				quote = '"'
			case 1:
				quote = 0
			}
			got, err := readAllRecords(tc.data, delim, quote, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records %v, want %d %v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.line != w.line || g.err != w.err || strings.Join(g.fields, "\x00") != strings.Join(w.fields, "\x00") || len(g.fields) != len(w.fields) {
					t.Errorf("record %d: got line %d %q %v, want line %d %q %v", i, g.line, g.fields, g.err, w.line, w.fields, w.err)
				}
			}
		})
	}
}

// The reader agrees with encoding/csv wherever encoding/csv reads a file
// without error (it is stricter about quotes).
func TestReaderMatchesEncodingCSV(t *testing.T) {
	for _, data := range []string{
		"a,b\nc,d\n",
		"\"a,b\",\"c\"\"d\"\n\"e\nf\",g\n",
		"\"a\r\nb\",c\r\n",
		"x,,\n\n\n,y,\n",
		",\n",
		"\"\"\n",
		"a\rb\n",
	} {
		checkAgainstCSV(t, data)
	}
}

func checkAgainstCSV(t *testing.T, data string) {
	t.Helper()
	cr := csv.NewReader(strings.NewReader(data))
	cr.FieldsPerRecord = -1
	want, err := cr.ReadAll()
	if err != nil {
		return
	}
	got, err := readAllRecords(data, ',', '"', 0)
	if err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%q: %d records, encoding/csv reads %d", data, len(got), len(want))
	}
	for i := range got {
		if got[i].err != nil || strings.Join(got[i].fields, "\x00") != strings.Join(want[i], "\x00") || len(got[i].fields) != len(want[i]) {
			t.Fatalf("%q record %d: %q %v, encoding/csv reads %q", data, i, got[i].fields, got[i].err, want[i])
		}
	}
}
