package hl7

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// ackNow is the time of every acknowledgment in the golden files.
var ackNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))

// golden compares got with testdata/name, written with -update. Segments
// are one per line in the file (CR shown as a line break).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	text := strings.ReplaceAll(string(got), "\r", "\n")
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(want) != text {
		t.Errorf("%s differs:\ngot\n%s\nwant\n%s", name, text, want)
	}
}

func TestAckGolden(t *testing.T) {
	parse := func(name string) *Message {
		m, err := Parse(fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	batchMsg := func(name string, i int) *Message {
		b, err := ParseBatch(fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return b.Messages()[i]
	}
	adt := parse("hapi_adt_a01_cr.hl7")
	oru := parse("python-hl7_sample_hl7.hl7")
	omd := parse("hapi_omd_o03_cr.hl7")
	latin := parse("hapi_erp_r09_8859-1.hl7")
	oml := batchMsg("nhapi_oml_o21_7_messages_crlf.hl7", 4)
	_, pidErr := oru.PID()
	unsupported := Supported{Types: map[string][]string{"ADT": {"A01", "A03", "A04", "A08", "A40"}, "ORU": {"R01"}}}

	cases := []struct {
		name string
		msg  *Message
		err  error // the outcome to acknowledge
		mode bool  // want enhanced mode
		code AckCode
	}{
		// v2.4, original mode, accepted.
		{"ack_adt_a01_v24_aa", adt, nil, false, AA},
		// v2.4: PID-7 "196203520" is not a date: AE, ERR-1 and MSA-3 as
		// well as the v2.5 fields.
		{"ack_oru_r01_v24_ae_pid7_data_type", oru, pidErr, false, AE},
		// v2.5 with MSH-15 ER, MSH-16 AL: enhanced mode.
		{"ack_omd_o03_v25_enhanced_ca", omd, nil, true, CA},
		{"ack_omd_o03_v25_enhanced_cr_unsupported_type", omd, unsupported.Check(omd), true, CR},
		// An error that is not ours to explain (a database failure, say):
		// 207 with a fixed text, original mode AR.
		{"ack_adt_a01_v24_ar_internal", adt, errors.New("pq: duplicate key (mrn)=(2216506)"), false, AR},
		// ISO-8859-1 message: the ACK declares the same character set.
		{"ack_erp_r09_v231_8859-1_aa", latin, nil, false, AA},
		// Empty MSH-10 in nHapi's OML: required field missing.
		{"ack_oml_o21_v25_ae_msh10_missing", oml, oml.Validate(), false, AE},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			md := AckMode(c.msg)
			if md.Enhanced != c.mode {
				t.Fatalf("mode %+v", md)
			}
			code := md.CodeFor(c.err)
			if code != c.code {
				t.Errorf("code %s, want %s", code, c.code)
			}
			var errs []AckError
			if c.err != nil {
				errs = append(errs, AckErrorFor(c.err))
			}
			a := Ack(c.msg, code, errs, ackNow, "ACK-"+c.name)
			golden(t, c.name+".golden", a.Bytes())
			checkAck(t, a, c.msg, code)
			if c.err != nil && strings.Contains(string(a.Bytes()), "2216506") {
				t.Error("the ACK carries text from the error")
			}
		})
	}
}

// checkAck: the acknowledgment parses, swaps sender and receiver and
// answers the message's control ID.
func checkAck(t *testing.T, a, m *Message, code AckCode) {
	t.Helper()
	back, err := Parse(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	h, orig := back.Header(), m.Header()
	if h.SendingApp != orig.ReceivingApp || h.ReceivingApp != orig.SendingApp || h.SendingFacility != orig.ReceivingFacility ||
		h.ReceivingFacility != orig.SendingFacility {
		t.Errorf("sender and receiver not swapped: %+v", h)
	}
	if h.Type.Code != "ACK" || h.Type.Trigger != orig.Type.Trigger || h.ProcessingID != orig.ProcessingID || h.Version != orig.Version {
		t.Errorf("header %+v", h)
	}
	if back.Get("MSA-1") != string(code) || back.Get("MSA-2") != m.ControlID() {
		t.Errorf("MSA %q %q", back.Get("MSA-1"), back.Get("MSA-2"))
	}
	if err := back.Validate(); err != nil && m.ControlID() != "" {
		t.Errorf("ACK does not validate: %v", err)
	}
}

func TestAckUnparsed(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		code AckCode
	}{
		// MSH|^~\\&|: MSH-15 AL and MSH-16 NE salvaged, so enhanced mode.
		{"ack_unparsed_adt_a01_msh2_doubled_backslash_cr", fixture(t, "lfh_adt_a01_msh2_doubled_backslash.hl7"), CR},
		// Nothing to salvage from a fuzzer's NUL bytes.
		{"ack_unparsed_garbage_ar", []byte("\x00\x00\x02MSH|0000|||M|M||||||2.80MMMMM0S0"), AR},
		// v2.3 with digits for delimiters: MSH-9 is ACK^A01, without ^ACK.
		{"ack_unparsed_v23_ar", []byte("MSH|0000|SEND|FAC|RECV|FAC|20240101||ADT^A01|CTRL-9|P|2.3\rPID|1||SECRET"), AR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.in)
			if err == nil {
				t.Fatal("parsed")
			}
			a := AckUnparsed(c.in, err, ackNow, "ACK-1")
			golden(t, c.name+".golden", a.Bytes())
			back, perr := Parse(a.Bytes())
			if perr != nil {
				t.Fatal(perr)
			}
			if back.Get("MSA-1") != string(c.code) || back.Get("ERR-3") != "102" && back.Get("ERR-3") != "100" {
				t.Errorf("MSA-1 %q ERR-3 %q", back.Get("MSA-1"), back.Get("ERR-3"))
			}
			if strings.Contains(string(a.Bytes()), "SECRET") {
				t.Error("ACK quotes the message")
			}
		})
	}
}

func TestAckMode(t *testing.T) {
	cases := []struct {
		acc, app string
		enhanced bool
		wanted   map[AckCode]bool
	}{
		{"", "", false, map[AckCode]bool{AA: true, AE: true, AR: true}},
		{"AL", "NE", true, map[AckCode]bool{CA: true, CE: true, CR: true, AA: false, AE: false}},
		{"ER", "AL", true, map[AckCode]bool{CA: false, CE: true, CR: true, AA: true, AE: true}},
		{"SU", "ER", true, map[AckCode]bool{CA: true, CE: false, CR: false, AA: false, AE: true, AR: true}},
		{"NE", "", true, map[AckCode]bool{CA: false, CR: false, AA: true}}, // empty MSH-16 counts as AL
		{"", "SU", true, map[AckCode]bool{CA: true, CE: true, AA: true, AE: false}},
		{`""`, `""`, false, map[AckCode]bool{AA: true}}, // null is no value
	}
	for _, c := range cases {
		m, err := Parse(msg(fmt.Sprintf(`MSH|^~\&|A|B|C|D|20240101||ADT^A01|1|P|2.5|||%s|%s`, c.acc, c.app)))
		if err != nil {
			t.Fatal(err)
		}
		md := AckMode(m)
		if md.Enhanced != c.enhanced {
			t.Errorf("%q %q: enhanced %v", c.acc, c.app, md.Enhanced)
		}
		for code, want := range c.wanted {
			if md.Wanted(code) != want {
				t.Errorf("%q %q: Wanted(%s) = %v", c.acc, c.app, code, !want)
			}
		}
	}
	orig, enh := Mode{}, Mode{Enhanced: true}
	for _, c := range []struct {
		err       error
		orig, enh AckCode
	}{
		{nil, AA, CA},
		{&ParseError{Err: ErrDataType}, AE, CE},
		{&ParseError{Err: ErrRequired}, AE, CE},
		{&ParseError{Err: ErrNoSegment}, AE, CE},
		{&ParseError{Err: ErrUnsupportedVersion}, AR, CR},
		{&ParseError{Err: ErrUnsupportedType}, AR, CR},
		{&ParseError{Err: because(ErrEncoding, "x")}, AR, CR},
		{&ParseError{Err: ErrTooLarge}, AR, CR},
		{errors.New("disk full"), AR, CE},
	} {
		if got := orig.CodeFor(c.err); got != c.orig {
			t.Errorf("original %v: %s, want %s", c.err, got, c.orig)
		}
		if got := enh.CodeFor(c.err); got != c.enh {
			t.Errorf("enhanced %v: %s, want %s", c.err, got, c.enh)
		}
	}
}

func TestAckErrorFor(t *testing.T) {
	loc := Location{Segment: "PID", Sequence: 1, Field: 7}
	for _, c := range []struct {
		err  error
		code int
		sev  Severity
	}{
		{&ParseError{Location: loc, Err: ErrRequired}, 101, SeverityError},
		{&ParseError{Location: loc, Err: because(ErrDataType, "month out of range")}, 102, SeverityError},
		{&ParseError{Location: loc, Err: because(ErrCharset, "x")}, 102, SeverityFatal},
		{&ParseError{Err: because(ErrNoMSH, "x")}, 100, SeverityFatal},
		{&ParseError{Err: ErrNoSegment}, 100, SeverityError},
		{&ParseError{Err: ErrUnsupportedType}, 200, SeverityError},
		{&ParseError{Err: ErrUnsupportedEvent}, 201, SeverityError},
		{&ParseError{Err: ErrUnsupportedProcessingID}, 202, SeverityError},
		{&ParseError{Err: ErrUnsupportedVersion}, 203, SeverityError},
		{&ParseError{Err: because(ErrTooLarge, "x")}, 207, SeverityFatal},
		{fmt.Errorf("wrapped: %w", &ParseError{Location: loc, Err: ErrRequired}), 101, SeverityError},
		{errors.New("SELECT failed for patient Doe"), 207, SeverityError},
	} {
		ae := AckErrorFor(c.err)
		if ae.Code != c.code || ae.Severity != c.sev {
			t.Errorf("%v: %d %s, want %d %s", c.err, ae.Code, ae.Severity, c.code, c.sev)
		}
		if strings.Contains(ae.Message, "Doe") {
			t.Errorf("%v: message %q", c.err, ae.Message)
		}
	}
	// Supported.Check names the field.
	m, _ := Parse(msg(`MSH|^~\&|A|B|C|D|20240101||ADT^A02|1|T|2.3`))
	for _, c := range []struct {
		s    Supported
		want error
		loc  string
	}{
		{Supported{Types: map[string][]string{"ORU": nil}}, ErrUnsupportedType, "MSH-9.1"},
		{Supported{Types: map[string][]string{"ADT": {"A01"}}}, ErrUnsupportedEvent, "MSH-9.2"},
		{Supported{Types: map[string][]string{"ADT": nil}, ProcessingIDs: []string{"P"}}, ErrUnsupportedProcessingID, "MSH-11"},
		{Supported{Versions: []string{"2.5", "2.5.1"}}, ErrUnsupportedVersion, "MSH-12"},
	} {
		err := c.s.Check(m)
		var pe *ParseError
		if !errors.Is(err, c.want) || !errors.As(err, &pe) || pe.Location.String() != c.loc {
			t.Errorf("%+v: %v, want %v at %s", c.s, err, c.want, c.loc)
		}
	}
	if err := (Supported{Types: map[string][]string{"ADT": {"A02"}}, ProcessingIDs: []string{"T"}, Versions: []string{"2.3"}}).Check(m); err != nil {
		t.Error(err)
	}
}
