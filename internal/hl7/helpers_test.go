package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sharedHL7 is the shared HL7 v2 corpus (/work/shared/data/hl7v2), found
// from this directory.
const sharedHL7 = "../../../shared/data/hl7v2"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// msg joins segments with CR.
func msg(segs ...string) []byte { return []byte(strings.Join(segs, "\r") + "\r") }

// stripComments removes the C-style comment lines of hapi's messages.txt,
// which are not HL7.
func stripComments(b []byte) []byte {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "/*") || strings.HasPrefix(t, "*") || strings.HasPrefix(t, "//") {
			keep = append(keep, "")
			continue
		}
		keep = append(keep, l)
	}
	return []byte(strings.Join(keep, "\n"))
}

// sentinels are the causes a *ParseError from Parse or ParseBatch wraps.
var sentinels = []error{ErrNoMSH, ErrEncoding, ErrCharset, ErrTooLarge, ErrSegment, ErrBatch}

// checkParseError fails unless err is a *ParseError wrapping a sentinel.
func checkParseError(t testing.TB, err error) *ParseError {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v (%T), want *ParseError", err, err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return pe
		}
	}
	t.Fatalf("err %v wraps no sentinel", err)
	return nil
}

// leaves lists every non-empty element of a message, decoded, keyed by
// position ("3:PID-5(1).2.1"), with null values as "<null>".
func leaves(m *Message) map[string]string {
	out := map[string]string{}
	for i, s := range m.segs {
		for f := 1; f <= s.Len(); f++ {
			key := fmt.Sprintf("%d:%s-%d", i+1, s.ID(), f)
			v := s.Field(f)
			if v.level == levelLiteral {
				out[key] = v.Raw()
				continue
			}
			for r, rep := range v.Reps() {
				for c := 1; c <= count(rep.raw, m.d.Component); c++ {
					comp := rep.Component(c)
					for k := 1; k <= count(comp.raw, m.d.Subcomponent); k++ {
						sub := comp.Sub(k)
						lk := key + "(" + strconv.Itoa(r+1) + ")." + strconv.Itoa(c) + "." + strconv.Itoa(k)
						switch {
						case sub.IsNull():
							out[lk] = "<null>"
						case sub.String() != "":
							out[lk] = sub.String()
						}
					}
				}
			}
		}
	}
	return out
}

// count returns the number of parts of s split at sep.
func count(s string, sep byte) int {
	if sep == 0 {
		return 1
	}
	return strings.Count(s, string(sep)) + 1
}

// diffLeaves describes how two leaf maps differ, or returns "".
func diffLeaves(a, b map[string]string) string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q became %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	sort.Strings(d)
	if len(d) > 5 {
		d = append(d[:5], fmt.Sprintf("... %d more", len(d)-5))
	}
	return strings.Join(d, "\n")
}

// rebuild makes a new message from m's leaves with Set and SetNull, to
// check that what the decoder reads, the encoder writes back.
func rebuild(t testing.TB, m *Message) *Message {
	t.Helper()
	n := &Message{d: m.d, cs: m.cs}
	for i, s := range m.segs {
		var ns *Segment
		if i == 0 {
			ns = &Segment{m: n, fields: []string{s.ID(), string(m.d.Field), m.d.Encoding()}}
			n.segs = append(n.segs, ns)
		} else {
			ns = &Segment{m: n, fields: []string{s.ID()}}
			n.segs = append(n.segs, ns)
		}
		for f := 1; f <= s.Len(); f++ {
			v := s.Field(f)
			if v.level == levelLiteral {
				continue
			}
			for r, rep := range v.Reps() {
				for c := 1; c <= count(rep.raw, m.d.Component); c++ {
					comp := rep.Component(c)
					for k := 1; k <= count(comp.raw, m.d.Subcomponent); k++ {
						sub := comp.Sub(k)
						p := path{field: f, rep: r + 1, comp: c, sub: k}
						var err error
						switch {
						case sub.IsNull():
							err = ns.set(p, `""`, true)
						case sub.String() != "":
							err = ns.set(p, sub.String(), false)
						}
						if err != nil {
							t.Fatalf("set %s-%d(%d).%d.%d: %v", s.ID(), f, r+1, c, k, err)
						}
					}
				}
			}
		}
	}
	return n
}

// repair replaces the field separator and encoding characters of the
// first MSH in b with |^~\&, so that a fuzzer-found input whose header
// alone is wrong reaches the rest of the parser.
func repair(b []byte) []byte {
	i := bytes.Index(b, []byte("MSH"))
	if i < 0 || len(b) < i+4 {
		return b
	}
	fs := b[i+3]
	j := i + 4
	for j < len(b) && b[j] != fs && b[j] != '\r' && b[j] != '\n' {
		j++
	}
	out := append([]byte(nil), b[:i]...)
	out = append(out, "MSH|^~\\&"...)
	rest := bytes.ReplaceAll(b[j:], []byte{fs}, []byte{'|'})
	return append(out, rest...)
}
