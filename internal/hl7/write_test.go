package hl7

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPaths(t *testing.T) {
	good := map[string]path{
		"PID-5":            {seg: "PID", occ: 1, field: 5},
		"PID-5.1":          {seg: "PID", occ: 1, field: 5, comp: 1},
		"PID-3(2).4.2":     {seg: "PID", occ: 1, field: 3, rep: 2, comp: 4, sub: 2},
		"OBX[3]-5":         {seg: "OBX", occ: 3, field: 5},
		"OBX[-1]-5(1).2":   {seg: "OBX", occ: -1, field: 5, rep: 1, comp: 2},
		"ZB1-100000":       {seg: "ZB1", occ: 1, field: 100000},
		"MSH-9.2":          {seg: "MSH", occ: 1, field: 9, comp: 2},
		"PD1[12]-4(3).1.1": {seg: "PD1", occ: 12, field: 4, rep: 3, comp: 1, sub: 1},
	}
	for s, want := range good {
		got, err := parsePath(s)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "PID", "PID-", "PID-0", "PID-5.", "PID-5.0", "PID-5(0)", "PID-5(1", "PID-5.1.1.1",
		"pid-5", "PID5", "PID[0]-5", "PID[-0]-5", "PID[1-5", "PID-100001", "PID-5x", "PID -5", "PID-99999999999999999999",
		"PID-5()", "PID[]-5", "PID-5(-1)"} {
		if _, err := parsePath(s); !errors.Is(err, ErrPath) {
			t.Errorf("%q: %v, want ErrPath", s, err)
		}
	}
}

func TestBuild(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", -5*3600))
	m, err := NewMessage(Header{
		SendingApp:        HD{Namespace: "CLINOMICS"},
		SendingFacility:   HD{Namespace: "LAB", UniversalID: "1.2.3.4", UniversalIDType: "ISO"},
		ReceivingApp:      HD{Namespace: "EHR"},
		ReceivingFacility: HD{Namespace: "HOSP"},
		Time:              DTMOf(now, PrecisionSecond),
		Type:              MessageType{"ORU", "R01", "ORU_R01"},
		ControlID:         "42",
		ProcessingID:      "P",
		Version:           "2.5.1",
		Charset:           "UNICODE UTF-8",
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct{ path, value string }{
		{"PID-3.1", "MRN|1^2"},
		{"PID-3.4", "HOSP&SUB"},
		{"PID-3.5", "MR"},
		{"PID-3(2).1", "SSN~9"},
		{"PID-5.1", `Doe\Smith`},
		{"PID-5.2", "Zoë"},
		{"PID-8", "F"},
		{"OBX-1", "1"},
		{"OBX-2", "TX"},
		{"OBX-5", "line one\r\nline two"},
		{"OBX[2]-1", "2"},
		{"OBX[2]-5(3)", "third"},
		{"OBX[2]-3.3", "LN"},
		{"NTE-3", `""`},
	}
	for _, s := range steps {
		if err := m.Set(s.path, s.value); err != nil {
			t.Fatalf("Set(%s): %v", s.path, err)
		}
	}
	if err := m.SetNull("PID-7"); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		`MSH|^~\&|CLINOMICS|LAB^1.2.3.4^ISO|EHR|HOSP|20260304050607-0500||ORU^R01^ORU_R01|42|P|2.5.1||||||UNICODE UTF-8`,
		`PID|||MRN\F\1\S\2^^^HOSP\T\SUB^MR~SSN\R\9||Doe\E\Smith^Zoë||""|F`,
		`OBX|1|TX|||line one\X0D\\X0A\line two`,
		`OBX|2||^^LN||~~third`,
		`NTE|||\X22\\X22\`,
	}, "\r") + "\r"
	if got := string(m.Bytes()); got != want {
		t.Errorf("wrote\n%s\nwant\n%s", strings.ReplaceAll(got, "\r", "\n"), strings.ReplaceAll(want, "\r", "\n"))
	}
	back, err := Parse(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if got := back.Get(s.path); got != s.value && !strings.Contains(s.path, "-3.4") {
			t.Errorf("Get(%s) = %q, want %q", s.path, got, s.value)
		}
	}
	if back.Get("PID-3.4") != "HOSP&SUB" || !back.Value("PID-7").IsNull() || back.Value("NTE-3").IsNull() {
		t.Error("escaped subcomponent separator or null lost")
	}
	// Replacing an element replaces what is below it.
	back.Set("PID-5", "Roe")
	if back.Get("PID-5.2") != "" || back.Get("PID-5") != "Roe" {
		t.Errorf("PID-5 = %q", back.Value("PID-5").Raw())
	}

	// What cannot be set.
	bad := []struct {
		path, value string
		want        error
	}{
		{"MSH-1", "#", ErrNotAllowed},
		{"MSH-2", "^~", ErrNotAllowed},
		{"OBX[4]-1", "x", ErrPath},  // OBX[3] does not exist
		{"OBX[-3]-1", "x", ErrPath}, // only two
		{"PID5", "x", ErrPath},
		{"PID-5", "a\x00b", ErrValue},
		{"PID-5", "bad \xff UTF-8", ErrValue},
		{"MSH-1000000", "x", ErrPath},
	}
	for _, c := range bad {
		if err := m.Set(c.path, c.value); !errors.Is(err, c.want) {
			t.Errorf("Set(%s): %v, want %v", c.path, err, c.want)
		}
	}
	if _, err := m.Append("MSH"); !errors.Is(err, ErrSegment) {
		t.Errorf("Append MSH: %v", err)
	}
	if _, err := m.Append("zz1"); !errors.Is(err, ErrSegment) {
		t.Errorf("Append zz1: %v", err)
	}

	// Character sets limit what can be written.
	latin, err := NewMessage(Header{Type: MessageType{"ADT", "A08", ""}, ControlID: "1", ProcessingID: "P", Version: "2.4", Charset: "8859/1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := latin.Set("PID-5", "Müller"); err != nil {
		t.Fatal(err)
	}
	if err := latin.Set("PID-5.2", "€uro"); !errors.Is(err, ErrValue) {
		t.Errorf("€ in 8859/1: %v", err)
	}
	if got := latin.Bytes(); !strings.Contains(string(got), "PID|||||M\xfcller\r") {
		t.Errorf("8859/1 written as %q", got)
	}
	ascii, _ := NewMessage(Header{Charset: "ASCII"})
	if err := ascii.Set("PID-5", "Zoë"); !errors.Is(err, ErrValue) {
		t.Errorf("ë in ASCII: %v", err)
	}
	if _, err := NewMessage(Header{Charset: "ISO IR87"}); !errors.Is(err, ErrCharset) {
		t.Errorf("unsupported charset: %v", err)
	}
	if _, err := NewMessage(Header{Delimiters: Delimiters{Field: '|', Component: '|'}}); !errors.Is(err, ErrEncoding) {
		t.Errorf("bad delimiters: %v", err)
	}
	if _, err := NewMessage(Header{ControlID: "a\x01"}); !errors.Is(err, ErrValue) {
		t.Errorf("control character in MSH-10: %v", err)
	}
	// No escape character: delimiters cannot be written.
	noEsc, err := NewMessage(Header{Delimiters: Delimiters{Field: '|', Component: '^', Repetition: '~'}})
	if err != nil {
		t.Fatal(err)
	}
	if err := noEsc.Set("NTE-3", "a|b"); !errors.Is(err, ErrValue) {
		t.Errorf("delimiter without escape character: %v", err)
	}
	if err := noEsc.Set("NTE-3.1.2", "x"); !errors.Is(err, ErrValue) {
		t.Errorf("subcomponent without separator: %v", err)
	}
}

func TestSegmentSet(t *testing.T) {
	m, err := Parse(fixture(t, "hapi_adt_a01_cr.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	pid := m.First("PID")
	if err := pid.Set("5.2", "Daisy"); err != nil {
		t.Fatal(err)
	}
	if err := pid.Set("40", "far"); err != nil {
		t.Fatal(err)
	}
	if m.Get("PID-5.2") != "Daisy" || m.Get("PID-5") != "Duck" || m.Get("PID-40") != "far" || pid.Len() != 40 {
		t.Errorf("%q %q %q %d", m.Get("PID-5.2"), m.Get("PID-5"), m.Get("PID-40"), pid.Len())
	}
	// The next segment is untouched by PID growing.
	if m.Get("PV1-3") != "ZFAST TRACK" {
		t.Errorf("PV1-3 = %q", m.Get("PV1-3"))
	}
	// A component path without a repetition is in the first repetition;
	// the others stay (PID-11 holds two addresses).
	if err := m.Set("PID-11.3", "OTTAWA"); err != nil {
		t.Fatal(err)
	}
	if m.Get("PID-11.3") != "OTTAWA" || m.Get("PID-11(2).3") != "TORONTO" || len(m.Reps("PID-11")) != 2 {
		t.Errorf("PID-11 = %q", m.Value("PID-11").Raw())
	}
	z, err := m.Append("ZCL")
	if err != nil {
		t.Fatal(err)
	}
	z.Set("1", "custom")
	back, err := Parse(m.Bytes())
	if err != nil || back.Get("ZCL-1") != "custom" || back.Get("PID-40") != "far" {
		t.Errorf("%v %q", err, back.Get("ZCL-1"))
	}
}
