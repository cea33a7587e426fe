package hl7

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestSalvage: what can be read of the MSH of messages that do not
// parse, for the error queue and duplicate detection: MSH-3, MSH-4 and
// MSH-10 only when the MSH splits at a valid field separator and each is
// empty or plain, so that a key is never made of a part of a value.
func TestSalvage(t *testing.T) {
	lfh, err := os.ReadFile(sharedHL7 + "/linuxforhealth/sample_unix.hl7")
	if err != nil {
		t.Fatal(err)
	}
	long := "MSH|^~\\&|APP|FAC|||20260301||ADT^A01|L1|P|2.5.1|" + strings.Repeat("x", 5000)
	cases := []struct {
		name    string
		raw     string
		want    Salvaged
		unparse error // what Parse says
	}{
		{"MSH-2 repeats a delimiter (LinuxForHealth)", string(lfh),
			Salvaged{"SE050", "050", MessageType{"ADT", "A01", ""}, "102", true}, ErrEncoding},
		{"MSH-18 ISO IR87", "MSH|^~\\&|EPIC|HOSP|CLIN|LAB|20260301||ADT^A01^ADT_A01|J1|P|2.5.1||||||ISO IR87\rPID|1\r",
			Salvaged{"EPIC", "HOSP", MessageType{"ADT", "A01", "ADT_A01"}, "J1", true}, ErrCharset},
		// MSH-9 whole, as Message.Type reads a parsed one: the error queue
		// shows ADT^A01^ADT_A01 for both (it showed ADT^A01 for this one).
		{"MSH-9 with its structure, escape in it", "MSH|^~\\&|EPIC|HOSP|CLIN|LAB|20260301||ORU^R01^OR\\T\\U|J7|P|2.5.1||||||ISO IR87\r",
			Salvaged{"EPIC", "HOSP", MessageType{"ORU", "R01", ""}, "J7", true}, ErrCharset},
		{"HD components", "\ufeff\r\nMSH|^~\\&|EPIC^1.2.3^ISO|HOSP^^|CLIN|LAB|20260301||ADT^A01|J2|P|2.5.1||||||ISO IR87\n",
			Salvaged{"EPIC", "HOSP", MessageType{"ADT", "A01", ""}, "J2", true}, ErrCharset},
		{"empty sender", "MSH|^~\\&|||CLIN|LAB|20260301||ADT^A01|J3|P|2.5.1||||||ISO IR87\r",
			Salvaged{"", "", MessageType{"ADT", "A01", ""}, "J3", true}, ErrCharset},
		{"escape sequence in MSH-3", "MSH|^~\\&|EP\\T\\IC|HOSP|CLIN|LAB|20260301||ADT^A01|J4|P|2.5.1||||||ISO IR87\r",
			Salvaged{"", "HOSP", MessageType{"ADT", "A01", ""}, "J4", false}, ErrCharset},
		{"control id with a space and a slash", "MSH|^~\\&|EPIC|HOSP|CLIN|LAB|20260301||ADT^A01|J 5/6|P|2.5.1||||||ISO IR87\r",
			Salvaged{"EPIC", "HOSP", MessageType{"ADT", "A01", ""}, "J 5/6", true}, ErrCharset},
		{"control id not plain", "MSH|^~\\&|EPIC|HOSP|CLIN|LAB|20260301||ADT^A01|J\x01|P|2.5.1\r",
			Salvaged{"EPIC", "HOSP", MessageType{"ADT", "A01", ""}, "", false}, ErrCharset},
		{"no control id", "MSH|^~\\&|EPIC|HOSP|CLIN|LAB|20260301||ADT^A01||P|2.5.1||||||ISO IR87\r",
			Salvaged{"EPIC", "HOSP", MessageType{"ADT", "A01", ""}, "", false}, ErrCharset},
		{"letter as field separator (nHapi nullref1)", "MSHH0000H\rPID|1\r", Salvaged{}, ErrEncoding},
		{"short MSH", "MSH|^~\\&|EPIC|HOSP\r", Salvaged{SendingApp: "EPIC", SendingFacility: "HOSP"}, nil},
		{"MSH-10 in the part read of a long line", long, Salvaged{"APP", "FAC", MessageType{"ADT", "A01", ""}, "L1", true}, nil},
		{"MSH-10 cut at the end of the part read", strings.Replace(long, "|L1|", "|L"+strings.Repeat("1", 4100-48)+"|", 1), Salvaged{"APP", "FAC", MessageType{"ADT", "A01", ""}, "", false}, nil},
		{"no MSH", "PID|1||X\r", Salvaged{}, ErrNoMSH},
		{"empty", "", Salvaged{}, ErrNoMSH},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Salvage([]byte(c.raw)); got != c.want {
				t.Errorf("Salvage = %+v, want %+v", got, c.want)
			}
			if _, err := Parse([]byte(c.raw)); c.unparse != nil && !errors.Is(err, c.unparse) {
				t.Errorf("Parse: %v, want %v", err, c.unparse)
			}
		})
	}
}

// TestSegmentErrorAt: a mapping's error at a field names the segment's
// index and its occurrence among its kind, as ERR-2 does.
func TestSegmentErrorAt(t *testing.T) {
	m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20260301||ORU^R01|1|P|2.5.1\rPID|1||X\rOBX|1|NM|A||1\rOBX|2|NM|B||x\r"))
	if err != nil {
		t.Fatal(err)
	}
	e := m.All("OBX")[1].ErrorAt(5, ErrDataType)
	if e.Segment != 4 || e.Location != (Location{Segment: "OBX", Sequence: 2, Field: 5}) || e.Error() != "hl7: segment 4: OBX[2]-5: data type error" {
		t.Fatalf("%+v %q", e, e)
	}
	if ae := AckErrorFor(m.All("OBX")[0].ErrorAt(3, ErrUnknownKey)); ae.Code != CodeUnknownKey || (Mode{}).CodeFor(ErrUnknownKey) != AR ||
		(Mode{}).CodeFor(e) != AE || (Mode{}).CodeFor(m.First("PID").ErrorAt(3, ErrUnknownKey)) != AE {
		t.Fatalf("unknown key: %+v", ae)
	}
}

// TestParseNM: NM as HL7 writes it; the errors never quote the text.
func TestParseNM(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"75", true}, {" -0.48 ", true}, {"+.5", true}, {"1.", true},
		{"not-a-number", false}, {"0,5", false}, {"1e3", false}, {"--1", false}, {".", false}, {"", false},
		{"1.2.3", false}, {strings.Repeat("9", 400), false},
	} {
		_, err := ParseNM(c.in)
		if (err == nil) != c.ok || err != nil && (!errors.Is(err, ErrDataType) || c.in != "" && strings.Contains(err.Error(), c.in)) {
			t.Errorf("ParseNM(%q): %v", c.in, err)
		}
	}
}
