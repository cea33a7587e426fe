package hl7

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seeds returns the fixtures of testdata (not the golden files), the
// shared corpus's nHapi bad inputs when present, and each with its header
// repaired.
func seeds(f *testing.F) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob("testdata/*")
	extra, _ := filepath.Glob(badInputs + "/*/*/*")
	for _, p := range append(files, extra...) {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || strings.HasSuffix(p, ".golden") || strings.HasSuffix(p, "SOURCE.txt") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if strings.HasSuffix(p, "hapi_messages_odd_encoding_chars.txt") {
			b = stripComments(b)
		}
		out = append(out, b, repair(b))
	}
	if len(out) < 40 {
		f.Fatalf("only %d seeds", len(out))
	}
	return out
}

// FuzzParse: no input makes Parse or ParseBatch panic or run long; every
// error is a *ParseError wrapping a sentinel at a position inside the
// input; whatever parses is written back to the same values, and its
// acknowledgment parses.
func FuzzParse(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("MSH|^~\\&|||||||ADT^A01|1|P|2.5\rPID|1||\\C2842\\"))
	f.Add([]byte("MSH|^~\\&#|||||||ADT^A01|1|P|2.7||||||8859/1\rNTE|1||\xe9\\XE9\\\\P\\#"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			checkFuzzError(t, err, len(data))
			a := AckUnparsed(data, err, now, "A")
			if _, err := Parse(a.Bytes()); err != nil {
				t.Fatalf("AckUnparsed wrote an unreadable message: %v", err)
			}
			checkSalvaged(t, Salvage(data))
		} else {
			checkRoundTrip(t, m, 1)
			touch(m, now)
		}
		b, err := ParseBatch(data)
		if err != nil {
			checkFuzzError(t, err, len(data))
			return
		}
		again, err := ParseBatch(b.Bytes())
		if err != nil || len(again.Messages()) != len(b.Messages()) {
			t.Fatalf("batch written and read again: %v", err)
		}
	})
}

// checkSalvaged: what Salvage reads is plain text, and a key only with
// a control id.
func checkSalvaged(t *testing.T, s Salvaged) {
	t.Helper()
	for _, v := range []string{s.SendingApp, s.SendingFacility, s.ControlID, s.Type.Code, s.Type.Trigger} {
		if !plain(v) {
			t.Fatalf("salvaged %q", v)
		}
	}
	if s.Keyed && s.ControlID == "" {
		t.Fatalf("keyed without a control id: %+v", s)
	}
}

func checkFuzzError(t *testing.T, err error, n int) {
	t.Helper()
	pe := checkParseError(t, err)
	if pe.Line < 0 || pe.Offset < 0 || pe.Offset > n || pe.Segment < 0 || pe.Message < 0 {
		t.Fatalf("position out of range: %+v", pe)
	}
	for _, c := range err.Error() {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("error text holds %q: %v", c, err)
		}
	}
}

// FuzzRoundTrip: a message that parses is rebuilt value by value with Set
// to the same values; and any value Set at a path (a component, a
// subcomponent of a repetition, a whole field, a new Z segment) reads back
// the same after Bytes and Parse, the rest of the message unchanged.
func FuzzRoundTrip(f *testing.F) {
	values := []string{"Ménard", `a|b^c~d\e&f#`, "line\r\nbreak\ttab", `""`, "", `\X41\`, `\.br\`, "山田", "  spaced  "}
	for i, b := range seeds(f) {
		f.Add(b, values[i%len(values)])
	}
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, m, 1)
		for _, p := range []string{"PID-5.1", "OBX[2]-5(2).3.2", "NTE-3", "ZZZ-2(3)", "MSH-10"} {
			m, _ := Parse(data)
			before := leaves(m)
			if err := m.Set(p, value); err != nil {
				if !errors.Is(err, ErrValue) && !errors.Is(err, ErrPath) {
					t.Fatalf("Set(%s): %v", p, err)
				}
				continue
			}
			back, err := Parse(m.Bytes())
			if err != nil {
				t.Fatalf("Set(%s, %q) then Parse: %v", p, value, err)
			}
			if got := back.Get(p); got != value {
				t.Fatalf("Set(%s, %q) read back as %q", p, value, got)
			}
			after := leaves(back)
			pp, _ := parsePath(p)
			for k, v := range before {
				if after[k] != v && !strings.Contains(k, ":"+pp.seg+"-"+itoa(pp.field)) {
					t.Fatalf("Set(%s) changed %s: %q became %q", p, k, v, after[k])
				}
			}
		}
	})
}
