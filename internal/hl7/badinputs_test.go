package hl7

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const badInputs = sharedHL7 + "/nhapi/tests/NHapi.NUnit/TestData/BadInputs"

// badInputResults is what Parse makes of each of nHapi's fuzzer-found
// inputs (grouped in directories by what they did to nHapi: hangs, stack
// overflows, exceptions). Most use digits as encoding characters
// (MSH|0000|), which is rejected at MSH-2 before anything else; the
// others fail on a malformed segment ID or parse as the harmless, nearly
// empty messages they are.
var badInputResults = map[string]error{
	"LegacyPipeParser/EncodingNotSupportedException/aoor1":                                         ErrNoMSH,    // empty file
	"LegacyPipeParser/EncodingNotSupportedException/nullref1":                                      ErrEncoding, // MSHH0: 'H' as field separator
	"LegacyPipeParser/HL7Exception/hang1":                                                          ErrSegment,  // second segment "^AA"
	"LegacyPipeParser/HL7Exception/ioor1":                                                          ErrEncoding,
	"LegacyPipeParser/HL7Exception/stackoverflow1":                                                 nil, // MSH|^| and an IN2 of 30 empty fields
	"LegacyPipeParser/HL7Exception/stackoverflow2":                                                 nil,
	"LegacyPipeParser/HL7Exception/sys1":                                                           ErrEncoding,
	"LegacyPipeParser/HL7Exception/sys2":                                                           ErrEncoding,
	"LegacyPipeParser/NoException/regex1":                                                          ErrEncoding, // 0x01 in MSH-2
	"PipeParser/EncodingNotSupportedException/id_000014_sig_02_src_000480_000349_op_splice_rep_32": ErrNoMSH,    // starts with NUL NUL STX
	"PipeParser/EncodingNotSupportedException/id_000213_sig_02_src_001353_000130_op_splice_rep_8":  ErrNoMSH,
	"PipeParser/HL7Exception/id_000001_sig_02_src_000000_op_havoc_rep_16":                          ErrEncoding,
	"PipeParser/HL7Exception/id_000029_sig_02_src_000167_001027_op_splice_rep_8":                   ErrSegment, // MSH-2 ended by LF
	"PipeParser/HL7Exception/id_000042_sig_02_src_000334_000148_op_splice_rep_4":                   ErrEncoding,
	"PipeParser/HL7Exception/id_000055_sig_02_src_000959_000226_op_splice_rep_16":                  ErrEncoding,
	"PipeParser/HL7Exception/id_000064_sig_02_src_000051_000380_op_splice_rep_16":                  ErrEncoding, // MSH||||...
	"PipeParser/HL7Exception/id_000087_sig_02_src_000967_001832_op_splice_rep_2":                   ErrEncoding, // 0xFD in MSH-2
	"PipeParser/HL7Exception/id_000092_sig_02_src_001582_001861_op_splice_rep_16":                  ErrEncoding, // '"' in MSH-2
	"PipeParser/HL7Exception/id_000099_sig_02_src_004226_004602_op_splice_rep_4":                   ErrEncoding,
	"PipeParser/HL7Exception/id_000118_sig_02_src_001039_002153_op_splice_rep_16":                  ErrEncoding,
	"PipeParser/HL7Exception/id_000119_sig_02_src_001911_op_havoc_rep_64":                          ErrEncoding, // 'y' in MSH-2
	"PipeParser/HL7Exception/id_000123_sig_02_src_000372_002313_op_splice_rep_8":                   ErrEncoding, // space in MSH-2
	"PipeParser/HL7Exception/id_000125_sig_02_src_004230_004691_op_splice_rep_16":                  ErrEncoding,
	"PipeParser/HL7Exception/id_000149_sig_02_src_004338_004594_op_splice_rep_4":                   ErrEncoding,
	"PipeParser/HL7Exception/id_000151_sig_02_src_001351_op_havoc_rep_2":                           ErrEncoding,
	"PipeParser/HL7Exception/id_000160_sig_02_src_004804_004815_op_splice_rep_8":                   ErrEncoding,
	"PipeParser/HL7Exception/id_000172_sig_02_src_001146_002011_op_splice_rep_16":                  ErrEncoding,
	"PipeParser/HL7Exception/id_000176_sig_02_src_002656_002699_op_splice_rep_32":                  ErrEncoding,
	"PipeParser/HL7Exception/id_000205_sig_02_src_001449_op_havoc_rep_2":                           ErrEncoding,
	"PipeParser/HL7Exception/so":                                                                   ErrEncoding,
	"PipeParser/HL7Exception/so2":                                                                  ErrEncoding,
	"PipeParser/HL7Exception/so3":                                                                  ErrEncoding,
	"PipeParser/HL7Exception/so4":                                                                  ErrEncoding,
	"PipeParser/HL7Exception/so5":                                                                  ErrEncoding,
	"PipeParser/NoException/id_000109_sig_02_src_001098_002192_op_splice_rep_4":                    ErrSegment,
	"PipeParser/NoException/id_000146_sig_02_src_000682_002159_op_splice_rep_4":                    ErrEncoding,
	"PipeParser/NoException/id_000168_sig_02_src_002426_002144_op_splice_rep_8":                    ErrEncoding,
}

// bound is how long one bad input may take through every entry point; it
// takes microseconds, so only a hang reaches it.
const bound = 5 * time.Second

// TestBadInputs: nHapi's malformed inputs, and the same inputs with their
// header repaired to |^~\& so that they reach the segment parser, never
// panic and return within a bound through Parse, ParseBatch, every
// accessor and typed reader, Bytes, Ack and AckUnparsed.
func TestBadInputs(t *testing.T) {
	inputs := map[string][]byte{}
	if _, err := os.Stat(badInputs); err == nil {
		err := filepath.WalkDir(badInputs, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(badInputs, p)
			inputs[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(inputs) != len(badInputResults) {
			t.Errorf("%d bad inputs found, %d expected", len(inputs), len(badInputResults))
		}
	} else {
		t.Logf("shared corpus not found (%v); using the copies in testdata", err)
	}
	copies, _ := filepath.Glob("testdata/nhapi_badinput_*")
	for _, p := range copies {
		b, _ := os.ReadFile(p)
		inputs["testdata/"+filepath.Base(p)] = b
	}
	for name, b := range inputs {
		t.Run(name, func(t *testing.T) {
			err := withinBound(t, b)
			if want, ok := badInputResults[name]; ok && !errors.Is(err, want) && !(want == nil && err == nil) {
				t.Errorf("Parse: %v, want %v", err, want)
			}
			withinBound(t, repair(b))
		})
	}
}

// withinBound runs everything on b in a goroutine and fails the test if it
// panics or takes longer than bound. It returns Parse's error.
func withinBound(t *testing.T, b []byte) error {
	t.Helper()
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{panic: fmt.Sprint(r)}
			}
		}()
		done <- result{err: exercise(b)}
	}()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("panic: %v", r.panic)
		}
		return r.err
	case <-time.After(bound):
		t.Fatalf("did not return within %v", bound)
	}
	return nil
}

// exercise runs every entry point on b and returns Parse's error.
func exercise(b []byte) error {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := Parse(b)
	if bt, berr := ParseBatch(b); berr == nil {
		bt.Bytes()
		for _, bm := range bt.Messages() {
			touch(bm, now)
		}
	}
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			panic("error is not a *ParseError: " + err.Error())
		}
		Ack := AckUnparsed(b, err, now, "ACK1")
		if _, perr := Parse(Ack.Bytes()); perr != nil {
			panic("AckUnparsed wrote an unreadable message: " + perr.Error())
		}
		return err
	}
	touch(m, now)
	return nil
}

// touch reads everything there is to read in m.
func touch(m *Message, now time.Time) {
	leaves(m)
	m.Header()
	m.Validate()
	m.Orders()
	m.PID()
	m.PV1()
	m.MRG()
	for _, s := range m.Segments() {
		switch s.ID() {
		case "ORC":
			ReadORC(s)
		case "OBR":
			ReadOBR(s)
		case "OBX":
			o, _ := ReadOBX(s)
			o.Text()
			o.Number()
		case "SPM":
			ReadSPM(s)
		}
	}
	if _, err := Parse(m.Bytes()); err != nil {
		panic("written message does not parse: " + err.Error())
	}
	md := AckMode(m)
	a := Ack(m, md.CodeFor(m.Validate()), []AckError{AckErrorFor(m.Validate())}, now, "A1")
	if _, err := Parse(a.Bytes()); err != nil {
		panic("ack does not parse: " + err.Error())
	}
}
