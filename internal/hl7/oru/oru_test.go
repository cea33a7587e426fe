package oru

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares msg, one segment a line, with testdata/name.golden.
func golden(t *testing.T, name string, msg []byte) {
	t.Helper()
	got := bytes.ReplaceAll(msg, []byte("\r"), []byte("\n"))
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended):\n%s", name, got)
	}
}

// build makes the ORU of r with the test envelope, and parses it back
// with the project's parser.
func build(t *testing.T, r report.Report, opt Options) (*hl7.Message, []byte) {
	t.Helper()
	m, err := ORU(r, opt)
	if err != nil {
		t.Fatal(err)
	}
	raw := m.Bytes()
	back, err := hl7.Parse(raw)
	if err != nil {
		t.Fatalf("our own ORU does not parse: %v", err)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
	return back, raw
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    report.Report
	}{
		{"three_variants", threeVariants()},
		{"no_variants", noVariantReport()},
		{"amended", amendedReport()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, raw := build(t, tc.r, testOptions())
			golden(t, tc.name, raw)
		})
	}
}

// group is the OBX of one sub-id, by LOINC code.
type group map[string]hl7.OBX

// groups reads the OBX of a message by sub-id.
func groups(t *testing.T, m *hl7.Message) map[string]group {
	t.Helper()
	out := map[string]group{}
	for _, s := range m.All("OBX") {
		o, err := hl7.ReadOBX(s)
		if err != nil {
			t.Fatal(err)
		}
		if out[o.SubID] == nil {
			out[o.SubID] = group{}
		}
		out[o.SubID][o.Observation.Code] = o
	}
	return out
}

func TestParsedBack(t *testing.T) {
	r := threeVariants()
	m, _ := build(t, r, testOptions())
	h := m.Header()
	for _, c := range [][2]string{
		{h.Type.String(), "ORU^R01^ORU_R01"}, {h.Version, "2.5.1"}, {h.Charset, "UNICODE UTF-8"}, {h.ControlID, "ORU-0001"},
		{h.SendingApp.Namespace, "CLINOMICS"}, {h.SendingFacility.Namespace, "GENLAB"},
		{h.ReceivingApp.Namespace, "EPIC"}, {h.ReceivingFacility.Namespace, "HOSP"}, {h.ProcessingID, "P"},
		{m.Get("ORC-1"), "RE"}, {m.Get("ORC-2"), "PO-77"}, {m.Get("ORC-3"), "F-1"},
		{m.Get("OBR-4.1"), "81247-9"}, {m.Get("OBR-4.3"), "LN"}, {m.Get("OBR-7"), "20260202"}, {m.Get("OBR-25"), "F"},
		{m.Get("OBR-32.1.1"), "u-director"}, {m.Get("OBR-32.1.2"), "Moreau"}, {m.Get("OBR-32.1.3"), "Claire"},
		{m.Get("OBR-22"), "20260310143000+0000"}, {m.Get("SPM-2.2"), "S-2026-0042"}, {m.Get("SPM-4.2"), "Blood"},
	} {
		if c[0] != c[1] {
			t.Errorf("got %q, want %q", c[0], c[1])
		}
	}
	pid, err := m.PID()
	if err != nil {
		t.Fatal(err)
	}
	if id := pid.Identifiers[0]; id.ID != "MRN100" || id.AssigningAuthority.Namespace != "HOSP" || id.TypeCode != "MR" {
		t.Errorf("PID-3 %+v", id)
	}
	if n := pid.Names[0]; n.Family != "Müller" || n.Given != "Anna" || pid.Sex != "F" || pid.BirthDate.String() != "19800229" {
		t.Errorf("PID %+v", pid)
	}
	obr, err := hl7.ReadOBR(m.First("OBR"))
	if err != nil || obr.Placer.ID != "PO-77" || obr.Filler.ID != "F-1" || obr.ResultStatus != "F" {
		t.Errorf("OBR %+v %v", obr, err)
	}

	g := groups(t, m)
	if got := g["1"]["51968-6"].Values[0].CWE(); got.Code != "LA6576-8" || got.Text != "Positive" {
		t.Errorf("overall interpretation %+v", got)
	}
	if got := g["1"]["51969-4"].Text(); got != r.Conclusion {
		t.Errorf("conclusion %q, want %q", got, r.Conclusion)
	}
	if got := g["1"]["53041-0"].Values[0].CWE().Text; got != "HBOC v2" {
		t.Errorf("panel %q", got)
	}
	// Regions: one reference sequence per chromosome, ranges 1-based.
	if got := g["1a"]["48013-7"].Text(); got != "NC_000017.11" {
		t.Errorf("region 1a %q", got)
	}
	if v := g["1a.a"]["51959-5"].Values[0]; v.Component(1).String() != "43044295" || v.Component(2).String() != "43125483" {
		t.Errorf("region 1a.a %q", v.Raw())
	}
	want := []struct {
		sub, code, value string // value: OBX-5.1 (a CWE's code, NM's number, ST's text)
	}{
		{"2a", "69548-6", "LA9633-4"}, {"2a", "48018-6", "HGNC:1100"}, {"2a", "48004-6", "NM_007294.4:c.68_69del"},
		{"2a", "48005-3", "p.(Glu23ValfsTer17)"}, {"2a", "48013-7", "NC_000017.11"}, {"2a", "69547-8", "ACT"},
		{"2a", "69551-0", "A"}, {"2a", "81254-5", "43124027"}, {"2a", "92822-6", "LA30102-0"}, {"2a", "62374-4", "LA26806-2"},
		{"2a", "48000-4", "17"}, {"2a", "53034-5", "LA6706-1"}, {"2a", "81258-6", "0.48"}, {"2a", "82121-5", "101"},
		{"2a", "48002-0", "LA6683-2"}, {"2a", "53037-8", "LA6668-3"}, {"2a", "47998-0", "NC_000017.11:43124026:ACT:A"},
		{"2b", "48004-6", "NM_000051.4:c.1234G>A"}, {"2b", "48013-7", "NC_000011.10"}, {"2b", "53034-5", "LA6706-1"},
		{"2c", "53034-5", "LA6705-3"}, {"2c", "81258-6", "1"}, {"2c", "53037-8", "LA6675-8"}, {"2c", "48018-6", "HGNC:1101"},
	}
	for _, w := range want {
		o, ok := g[w.sub][w.code]
		if !ok {
			t.Errorf("%s %s: no OBX", w.sub, w.code)
			continue
		}
		if got := o.Values[0].Component(1).String(); got != w.value {
			t.Errorf("%s %s: %q, want %q", w.sub, w.code, got, w.value)
		}
		if o.Status != "F" {
			t.Errorf("%s %s: OBX-11 %q", w.sub, w.code, o.Status)
		}
	}
	if got := g["2a"]["81254-5"].Values[0].Component(2).String(); got != "43124029" {
		t.Errorf("2a start-end: end %q, want 43124029", got)
	}
	if _, ok := g["2b"]["53037-8"]; ok {
		t.Error("an unclassified variant has a clinical significance OBX")
	}
	if _, ok := g["2b"]["82121-5"]; ok {
		t.Error("an unknown allelic depth was sent")
	}
	// The comment with every delimiter round-trips through the NTE.
	notes := m.All("NTE")
	if len(notes) != 1 || notes[0].Field(3).Text() != nastyComment {
		t.Errorf("NTE: %d notes, %q", len(notes), notes[0].Field(3).Text())
	}
	if ords := m.Orders(); len(ords) != 1 || len(ords[0].OBX) != len(m.All("OBX")) || len(ords[0].SPM) != 1 {
		t.Errorf("the message does not group as one order with its OBX and SPM")
	}
}

func TestEscapedEverywhere(t *testing.T) {
	r := threeVariants()
	r.Patient.Family = `O'Brien|Smith^Jr&~\`
	r.Variants[0].Condition = "a|b^c&d~e\\f"
	r.Conclusion = "line one | ^\n\nline three & ~ \\"
	m, _ := build(t, r, testOptions())
	pid, _ := m.PID()
	if pid.Names[0].Family != r.Patient.Family {
		t.Errorf("family name %q", pid.Names[0].Family)
	}
	g := groups(t, m)
	if got := g["2a"]["81259-4"].Values[0].CWE().Text; got != r.Variants[0].Condition {
		t.Errorf("condition %q", got)
	}
	if got := g["1"]["51969-4"].Text(); got != r.Conclusion {
		t.Errorf("conclusion %q", got)
	}
}

func TestNoVariants(t *testing.T) {
	m, _ := build(t, noVariantReport(), testOptions())
	g := groups(t, m)
	if got := g["1"]["51968-6"].Values[0].CWE(); got.Code != "LA6577-6" || got.Text != "Negative" {
		t.Errorf("overall interpretation %+v", got)
	}
	if got := g["1"]["51969-4"].Text(); got != noVariants {
		t.Errorf("conclusion %q", got)
	}
	for sub := range g {
		if strings.HasPrefix(sub, "2") {
			t.Errorf("variant group %s in a report without variants", sub)
		}
	}
}

func TestInterpretation(t *testing.T) {
	for _, tc := range []struct {
		classes []string
		want    string
	}{
		{nil, "Negative"},
		{[]string{"Benign", "Likely benign"}, "Negative"},
		{[]string{"Benign", ""}, "Inconclusive"},
		{[]string{"Uncertain significance"}, "Inconclusive"},
		{[]string{"Uncertain significance", "Likely pathogenic"}, "Positive"},
	} {
		var vs []report.Variant
		for _, c := range tc.classes {
			vs = append(vs, report.Variant{Classification: c})
		}
		if got := interpretation(vs).Text; got != tc.want {
			t.Errorf("%q: %s, want %s", tc.classes, got, tc.want)
		}
	}
}

// TestAmended: a correction is result status C in OBR-25 and every
// OBX-11, for the same order, and names the report it replaces.
func TestAmended(t *testing.T) {
	m, _ := build(t, amendedReport(), testOptions())
	if got := m.Get("OBR-25"); got != "C" {
		t.Errorf("OBR-25 %q, want C", got)
	}
	if m.Get("OBR-2") != "PO-77" || m.Get("OBR-3") != "F-1" {
		t.Error("the correction is not for the original order")
	}
	for _, s := range m.All("OBX") {
		if got := s.Get("11"); got != "C" {
			t.Errorf("OBX %s: OBX-11 %q, want C", s.Get("1"), got)
		}
	}
	if got := m.Get("OBR-22"); got != "20260311143000+0000" {
		t.Errorf("OBR-22 %q: not the amendment's signing", got)
	}
	n := m.All("NTE")[0]
	if !strings.Contains(n.Get("3"), "replaces report rpt-0001") || n.Get("4") != "RE" {
		t.Errorf("NTE %q does not reference the original", n.Get("3"))
	}
	if seg := m.Segments(); seg[4].ID() != "NTE" {
		t.Errorf("the amendment note is segment %s, want the NTE after OBR", seg[4].ID())
	}
}

func TestPDF(t *testing.T) {
	doc := []byte("%PDF-1.7\n\x00\xff binary | ^ ~ \\ &\n%%EOF")
	opt := testOptions()
	opt.PDF = doc
	m, _ := build(t, threeVariants(), opt)
	obx := m.All("OBX")
	last, _ := hl7.ReadOBX(obx[len(obx)-1])
	v := last.Values[0]
	if last.ValueType != "ED" || last.Observation.Code != "51969-4" || v.Component(2).String() != "AP" ||
		v.Component(3).String() != "PDF" || v.Component(4).String() != "Base64" {
		t.Fatalf("ED OBX %+v", last)
	}
	got, err := base64.StdEncoding.DecodeString(v.Component(5).String())
	if err != nil || !bytes.Equal(got, doc) {
		t.Errorf("PDF does not round-trip: %v", err)
	}
}

func TestRefused(t *testing.T) {
	draft := threeVariants()
	draft.Status = report.Draft
	noMRN := threeVariants()
	noMRN.Patient.MRN = ""
	long := testOptions()
	long.ControlID = strings.Repeat("x", 21)
	noID := testOptions()
	noID.ControlID = ""
	for _, tc := range []struct {
		name string
		r    report.Report
		opt  Options
		want error
	}{
		{"draft", draft, testOptions(), ErrNotSigned},
		{"no MRN", noMRN, testOptions(), ErrMissing},
		{"control id too long", threeVariants(), long, ErrMissing},
		{"no control id", threeVariants(), noID, ErrMissing},
	} {
		if _, err := ORU(tc.r, tc.opt); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A name the character set cannot hold is an error, not a bad message.
	bad := threeVariants()
	bad.Patient.Family = "bad\x01"
	if _, err := ORU(bad, testOptions()); err == nil || !strings.Contains(err.Error(), "PID-5") {
		t.Errorf("control character in a name: %v", err)
	}
}

func TestSubLetters(t *testing.T) {
	for i, want := range map[int]string{0: "a", 25: "z", 26: "aa", 27: "ab", 51: "az", 52: "ba", 701: "zz", 702: "aaa"} {
		if got := subLetters(i); got != want {
			t.Errorf("subLetters(%d) = %q, want %q", i, got, want)
		}
	}
}
