package hl7

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestPythonHL7Samples reads the strings of python-hl7's samples.py
// (extracted into testdata): single messages, batches and files, and the
// malformed ones, each rejected at its place.
func TestPythonHL7Samples(t *testing.T) {
	type shape struct {
		fhs, fts bool
		groups   []int  // messages per group
		bhs, bts []bool // per group
	}
	cases := []struct {
		name string
		want shape
		err  error
		line int
		loc  string
	}{
		{"sample_hl7", shape{groups: []int{1}, bhs: []bool{false}, bts: []bool{false}}, nil, 0, ""},
		{"rep_sample_hl7", shape{groups: []int{1}, bhs: []bool{false}, bts: []bool{false}}, nil, 0, ""},
		{"sample_msh", shape{groups: []int{1}, bhs: []bool{false}, bts: []bool{false}}, nil, 0, ""},
		{"sample_batch", shape{groups: []int{1}, bhs: []bool{true}, bts: []bool{true}}, nil, 0, ""},
		{"sample_batch1", shape{groups: []int{2}, bhs: []bool{true}, bts: []bool{true}}, nil, 0, ""},
		{"sample_batch2", shape{groups: []int{2}, bhs: []bool{false}, bts: []bool{false}}, nil, 0, ""},
		{"sample_batch3", shape{groups: []int{1}, bhs: []bool{true}, bts: []bool{false}}, nil, 0, ""}, // no BTS: tolerated
		{"sample_batch4", shape{groups: []int{1}, bhs: []bool{false}, bts: []bool{true}}, nil, 0, ""}, // BTS without BHS
		{"sample_file", shape{fhs: true, fts: true, groups: []int{1}, bhs: []bool{true}, bts: []bool{true}}, nil, 0, ""},
		{"sample_file1", shape{fhs: true, fts: true, groups: []int{2, 1}, bhs: []bool{true, true}, bts: []bool{true, true}}, nil, 0, ""},
		{"sample_file2", shape{fhs: true, fts: true, groups: []int{2}, bhs: []bool{false}, bts: []bool{false}}, nil, 0, ""},
		{"sample_file3", shape{fhs: true, groups: []int{1}, bhs: []bool{true}, bts: []bool{true}}, nil, 0, ""},
		{"sample_file4", shape{fts: true, groups: []int{1}, bhs: []bool{true}, bts: []bool{true}}, nil, 0, ""},
		{"sample_file5", shape{fhs: true, fts: true, groups: []int{1}, bhs: []bool{true}, bts: []bool{false}}, nil, 0, ""},
		{"sample_file6", shape{fhs: true, fts: true, groups: []int{1}, bhs: []bool{false}, bts: []bool{true}}, nil, 0, ""},
		{"sample_bad_batch", shape{}, ErrBatch, 2, ""},     // BHS then EVN: no MSH
		{"sample_bad_batch1", shape{}, ErrBatch, 4, "BHS"}, // a second BHS inside the first batch
		{"sample_bad_file", shape{}, ErrBatch, 3, ""},      // FHS, BHS, then EVN
		{"sample_bad_file1", shape{}, ErrBatch, 5, "BHS"},  // BHS inside a batch
		{"sample_bad_file2", shape{}, ErrBatch, 5, "FHS"},  // FHS inside a file
		{"sample_bad_file3", shape{}, ErrBatch, 2, ""},     // FHS then EVN
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := fixture(t, "python-hl7_"+c.name+".hl7")
			b, err := ParseBatch(in)
			if c.err != nil {
				pe := checkParseError(t, err)
				if !errors.Is(err, c.err) || pe.Line != c.line || (c.loc != "" && pe.Location.String() != c.loc) {
					t.Errorf("%v; want %v at line %d %s", err, c.err, c.line, c.loc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := shape{fhs: b.FHS != nil, fts: b.FTS != nil}
			for _, g := range b.Groups {
				got.groups = append(got.groups, len(g.Messages))
				got.bhs = append(got.bhs, g.BHS != nil)
				got.bts = append(got.bts, g.BTS != nil)
			}
			if !equalShape(got.groups, c.want.groups) || !slices.Equal(got.bhs, c.want.bhs) || !slices.Equal(got.bts, c.want.bts) || got.fhs != c.want.fhs || got.fts != c.want.fts {
				t.Errorf("shape %+v, want %+v", got, c.want)
			}
			for i, m := range b.Messages() {
				checkRoundTrip(t, m, i+1)
			}
			again, err := ParseBatch(b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Messages()) != len(b.Messages()) || !bytes.Equal(again.Bytes(), b.Bytes()) {
				t.Error("batch not the same when written and read again")
			}
			if b.FHS != nil && b.FHS.Get("10") != "abchs20070101123401.hl7" {
				t.Errorf("FHS-10 = %q", b.FHS.Get("10"))
			}
		})
	}
	// The repetition sample of python-hl7's docs.
	m, err := Parse(fixture(t, "python-hl7_rep_sample_hl7.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"PID-1": "Field1", "PID-2.2": "Component2", "PID-3.2": "Sub-Component1",
		"PID-3.2.2": "Sub-Component2", "PID-3.3": "Component3", "PID-4": "Repeat1", "PID-4(2)": "Repeat2"} {
		if got := m.Get(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBatchErrors: counts in the trailers, errors inside a message of a
// batch, and envelopes out of place.
func TestBatchErrors(t *testing.T) {
	m1 := `MSH|^~\&|A|B|C|D|20240101||ADT^A04|1|P|2.5`
	m2 := `MSH|^~\&|A|B|C|D|20240101||ADT^A04|2|P|2.5`
	cases := []struct {
		name   string
		segs   []string
		want   error
		msg    int
		line   int
		loc    string
		reason string
	}{
		{"BTS count too high", []string{"BHS|^~\\&", m1, "PID|1", "BTS|2"}, ErrBatch, 0, 4, "BTS-1", "1 messages"},
		{"BTS count too low", []string{"BHS|^~\\&", m1, m2, "BTS|1"}, ErrBatch, 0, 4, "BTS-1", "2 messages"},
		{"BTS count not a number", []string{"BHS|^~\\&", m1, "BTS|one"}, ErrBatch, 0, 3, "BTS-1", "not a number"},
		{"FTS count", []string{"FHS|^~\\&", "BHS|^~\\&", m1, "BTS|1", "BHS|^~\\&", m2, "BTS|1", "FTS|1"}, ErrBatch, 0, 8, "FTS-1", "2 batches"},
		{"segment after FTS", []string{"FHS|^~\\&", m1, "FTS|1", m2}, ErrBatch, 0, 4, "", "after FTS"},
		{"BTS twice", []string{"BHS|^~\\&", m1, "BTS|1", "BTS|0"}, ErrBatch, 0, 4, "BTS", "without a batch"},
		{"FHS second", []string{m1, "FHS|^~\\&"}, ErrBatch, 0, 2, "FHS", "first segment"},
		{"bad FHS encoding", []string{"FHS|0000", m1}, ErrEncoding, 0, 1, "FHS-2", ""},
		{"trailer with another separator", []string{"BHS|^~\\&", m1, "BTS^1"}, ErrBatch, 0, 3, "BTS-1", "field separator"},
		{"bad segment in message 2", []string{"BHS|^~\\&", m1, "PID|1", m2, "EVN|A04", "pid|2", "BTS|2"}, ErrSegment, 2, 6, "", ""},
		{"control character in message 2", []string{m1, m2, "PID|1||\x01"}, ErrCharset, 2, 3, "PID-3", ""},
		{"NUL in BHS", []string{"BHS|^~\\&|\x00", m1}, ErrCharset, 0, 1, "BHS-3", ""},
		{"no segments", []string{"", " "}, ErrNoMSH, 0, 0, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseBatch([]byte(strings.Join(c.segs, "\r\n")))
			pe := checkParseError(t, err)
			if !errors.Is(err, c.want) || pe.Message != c.msg || pe.Line != c.line {
				t.Errorf("%v; want %v in message %d at line %d", err, c.want, c.msg, c.line)
			}
			if loc := locString(pe); loc != c.loc {
				t.Errorf("location %q, want %q (%v)", loc, c.loc, err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("%v does not say %q", err, c.reason)
			}
		})
	}
	// Limits: messages in a batch, and the size of each.
	in := []byte(strings.Join([]string{m1, m2, m1}, "\r"))
	if _, err := (Limits{MaxMessages: 2}).ParseBatch(in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxMessages: %v", err)
	}
	if _, err := (Limits{MaxSize: 30}).ParseBatch(in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxSize: %v", err)
	}
	if _, err := (Limits{MaxBatchSize: 30}).ParseBatch(in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxBatchSize: %v", err)
	}
	// Offsets of an error in a later message are the file's.
	file := []byte("FHS|^~\\&\r\n" + m1 + "\r\n" + m2 + "\r\nPID|1|\x02\r\n")
	_, err := ParseBatch(file)
	pe := checkParseError(t, err)
	if pe.Offset != bytes.IndexByte(file, 2) || pe.Line != 4 || pe.Message != 2 {
		t.Errorf("%v: offset %d line %d", err, pe.Offset, pe.Line)
	}
}

func locString(pe *ParseError) string {
	if pe.Location.Segment == "" {
		return ""
	}
	return pe.Location.String()
}

// TestBatchMessagesHaveOwnDelimiters: hapi's file of 13 OML/OUL/ORU
// messages and nHapi's 7 (CRLF, blank lines between) parse one by one,
// each with the values a single Parse gives.
func TestBatchMessagesHaveOwnDelimiters(t *testing.T) {
	b, err := ParseBatch(fixture(t, "hapi_oml_o21_13_messages_utf8_undeclared.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := b.Messages()
	if len(msgs) != 13 || len(b.Groups) != 1 || b.Groups[0].BHS != nil {
		t.Fatalf("%d messages in %d groups", len(msgs), len(b.Groups))
	}
	if got := msgs[10].Get("PID-5.2"); got != "RODOLFO SEBASTIÁN" {
		t.Errorf("undeclared UTF-8: %q", got)
	}
	for i, m := range msgs {
		single, err := Parse(m.Bytes())
		if err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		if d := diffLeaves(leaves(m), leaves(single)); d != "" {
			t.Errorf("message %d:\n%s", i+1, d)
		}
	}
}
