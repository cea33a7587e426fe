package hl7

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// typeID is a message's MSH-9 and MSH-10.
type typeID struct{ typ, id string }

// sharedFile says what becomes of one file of the shared corpus.
type sharedFile struct {
	// For files that parse: the messages (one for Parse, more for
	// ParseBatch), and whether hapi's C-style comments must be removed
	// first.
	msgs     []typeID
	batch    bool
	comments bool
	// For files that are rejected: the cause and its place.
	err       error
	line, off int
	loc       string
	why       string // why a rejected file is rejected
}

func notHL7(why string) sharedFile {
	return sharedFile{err: ErrNoMSH, line: 1, why: why}
}

var omlHapi = []typeID{
	{"OML^O21^OML_O21", "msgOP123"}, {"OML^O21^OML_O21", "msgOF102"}, {"OUL^R22^OUL_R22", "msgOF103"},
	{"OUL^R22^OUL_R22", "msgOF105"}, {"OML^O21^OML_O21", "msgOP124"}, {"OUL^R22^OUL_R22", "msgOF108"},
	{"OML^O21^OML_O21", "msgOF109"}, {"OUL^R22^OUL_R22", "msgOF110"}, {"ORL^O34^ORL_O34", "301"},
	{"ORU^R01^ORU_R01", "LAB562901"}, {"OML^O21", ""}, {"OML^O21", ""}, {"OML^O21^OML_O21", "msgOF101"},
}

var omlNHapi = []typeID{
	{"OML^O21^OML_O21", "msgOP123"}, {"OML^O21^OML_O21", "msgOF102"}, {"OML^O21^OML_O21", "msgOP124"},
	{"OML^O21^OML_O21", "msgOF109"}, {"OML^O21", ""}, {"OML^O21^OML_O21", "msgOF101"}, {"OML^O21", ""},
}

var hapiMessages = []typeID{
	{"ORU^R01", "1994050216163360"}, {"BAR^P01", "589888ADT30502184808"}, {"ACK", "589888ADT30502184808"},
	{"BAR^P01", "908594ADT30502185327"}, {"BAR^P01", "178260ADT30502185434"}, {"BAR^P01", "299419ADT30502185725"},
	{"BAR^P01", "814359ADT30502192323"}, {"BAR^P01", "891989ADT30502193728"}, {"BAR^P01", "761994ADT30502194202"},
	{"BAR^P01", "559107ADT30502194312"}, {"BAR^P01", "983420ADT30502194404"}, {"BAR^P01", "270157ADT30502194435"},
	{"BAR^P01", "478151ADT30502194605"}, {"ORM^O01", "940503151537000"}, {"ORM^O01", "940503151550000"},
	{"ORM^O01", "940503173858000"}, {"QRY^Q01", "161875RIQ40113085843"}, {"QRY^Q01", "994983RIQ40112233548"},
}

// sharedFiles classifies every file of /work/shared/data/hl7v2 except
// nhapi's BadInputs, which TestBadInputs covers. A new file fails the test
// until it is added here.
var sharedFiles = map[string]sharedFile{
	"efferent-hl7-dotnetcore/Sample-ADT.txt":                       {msgs: []typeID{{"ADT^O01", "MSGID12349876"}}},
	"efferent-hl7-dotnetcore/Sample-ORM.txt":                       {msgs: []typeID{{"ORM^O01", "3149"}}},
	"hapi-hl7v2/ADT_A01.txt":                                       {msgs: []typeID{{"ADT^A01^ADT_A01", "22139243"}}},
	"hapi-hl7v2/adt_a03.txt":                                       {msgs: []typeID{{"ADT^A03", "263206"}}},
	"hapi-hl7v2/cv.04_001_chem.hl7":                                {msgs: []typeID{{"ERP^Z99^ERP_R09", "bf3dd577-2108-47ad-abd2-4f06284f3b55"}}},
	"hapi-hl7v2/example_oml_o21.hl7":                               {msgs: omlHapi, batch: true},
	"hapi-hl7v2/messages.txt":                                      {msgs: hapiMessages, batch: true, comments: true},
	"hapi-hl7v2/omd_o03.txt":                                       {msgs: []typeID{{"OMD^O03^OMD_O03", "20101027181706"}}},
	"hapi-hl7v2/segmentfinder_a24.hl7":                             {msgs: []typeID{{"ADT^A24", "2003582144"}}},
	"linuxforhealth/ORU-multiline-short-mixed.hl7":                 {msgs: []typeID{{"ORU^R01^ORU_R01", "MSGID00231"}}},
	"linuxforhealth/ORU-multiline-short.hl7":                       {msgs: []typeID{{"ORU^R01^ORU_R01", "MSGID00231"}}},
	"nhapi/tests/NHapi.NUnit/TestData/Parser/OML_O21_messages.txt": {msgs: omlNHapi, batch: true},

	"hapi-hl7v2/uuencoded.txt": notHL7("the uuencoded attachment a hapi test embeds in an ORU, not a message"),
	"linuxforhealth/sample_unix.hl7": {err: ErrEncoding, line: 1, off: 4, loc: "MSH-2",
		why: `MSH|^~\\&|: a Java string escape written out, so the escape and subcomponent characters are both '\'`},
	"linuxforhealth/sample_win.hl7": {err: ErrEncoding, line: 1, off: 4, loc: "MSH-2",
		why: "the same message as sample_unix.hl7 with CRLF"},
	"python-hl7/samples.py":                                     notHL7("Python source; its messages are extracted into testdata/python-hl7_*.hl7 (TestPythonHL7Samples)"),
	"vcf2hl7v2_genomics_oru/expected_NB6TK328.txt":              notHL7("OBX segments without MSH (TestGenomicOBX reads them inside a message)"),
	"vcf2hl7v2_genomics_oru/expected_example1_with_patient.txt": notHL7("OBX segments without MSH (TestGenomicOBX)"),
	"vcf2hl7v2_genomics_oru/expected_example1_wo_patient.txt":   notHL7("OBX segments without MSH (TestGenomicOBX)"),
	"vcf2hl7v2_genomics_oru/expected_example3.txt":              notHL7("OBX segments without MSH (TestGenomicOBX)"),
	"vcf2hl7v2_genomics_oru/expected_example4.txt":              notHL7("OBX segments without MSH (TestGenomicOBX)"),
	"vcf2hl7v2_genomics_oru/NB6TK328_annotations.txt":           notHL7("annotation table, input of vcf2hl7v2"),
	"vcf2hl7v2_genomics_oru/NB6TK328_conversion_region.bed":     notHL7("BED file"),
	"vcf2hl7v2_genomics_oru/NB6TK328_region_studied.bed":        notHL7("BED file"),
	"vcf2hl7v2_genomics_oru/NB6TK328_filtered.vcf":              notHL7("VCF file"),
	"vcf2hl7v2_genomics_oru/vcf_example1.vcf":                   notHL7("VCF file"),
	"vcf2hl7v2_genomics_oru/vcf_example3.vcf":                   notHL7("VCF file"),
	"vcf2hl7v2_genomics_oru/vcf_example4.vcf":                   notHL7("VCF file"),
	"efferent-hl7-dotnetcore/LICENSE.txt":                       notHL7("licence"),
	"linuxforhealth/LICENSE":                                    notHL7("licence"),
	"nhapi/LICENSE":                                             notHL7("licence"),
	"nhapi/RENAMED.txt":                                         notHL7("list of renamed files"),
	"python-hl7/LICENSE":                                        notHL7("licence"),
	"vcf2hl7v2_genomics_oru/LICENSE":                            notHL7("licence"),
}

// TestSharedCorpus: every file of the shared HL7 corpus parses with the
// expected MSH-9 and MSH-10, or is rejected with the expected cause at the
// expected place. What parses also round-trips: Bytes and Parse again give
// the same values, and so does a copy built value by value with Set.
func TestSharedCorpus(t *testing.T) {
	if _, err := os.Stat(sharedHL7); err != nil {
		t.Skipf("shared corpus not found at %s: %v", sharedHL7, err)
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(sharedHL7, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(sharedHL7, p)
		rel = filepath.ToSlash(rel)
		if strings.Contains(rel, "/BadInputs/") {
			return nil
		}
		seen[rel] = true
		c, ok := sharedFiles[rel]
		if !ok {
			t.Errorf("%s: not classified in sharedFiles", rel)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		t.Run(rel, func(t *testing.T) { checkSharedFile(t, b, c) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range sharedFiles {
		if !seen[rel] {
			t.Errorf("%s: in sharedFiles but not in the corpus", rel)
		}
	}
}

func checkSharedFile(t *testing.T, b []byte, c sharedFile) {
	if c.err != nil {
		_, err := Parse(b)
		pe := checkParseError(t, err)
		if !errors.Is(err, c.err) || pe.Line != c.line || pe.Offset != c.off {
			t.Errorf("%v; want %v at line %d, byte %d", err, c.err, c.line, c.off)
		}
		if c.loc != "" && pe.Location.String() != c.loc {
			t.Errorf("at %s, want %s", pe.Location, c.loc)
		}
		return
	}
	if c.comments {
		if _, err := Parse(b); !errors.Is(err, ErrNoMSH) {
			t.Errorf("with its comments: %v, want ErrNoMSH", err)
		}
		b = stripComments(b)
	}
	var msgs []*Message
	if c.batch {
		if _, err := Parse(b); !errors.Is(err, ErrSegment) {
			t.Errorf("Parse of a file of messages: %v, want ErrSegment (second MSH)", err)
		}
		bt, err := ParseBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		msgs = bt.Messages()
		again, err := ParseBatch(bt.Bytes())
		if err != nil || len(again.Messages()) != len(msgs) {
			t.Fatalf("batch written and read again: %v", err)
		}
	} else {
		m, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		msgs = []*Message{m}
	}
	var got []typeID
	for _, m := range msgs {
		got = append(got, typeID{m.Type().String(), m.ControlID()})
	}
	if len(got) != len(c.msgs) {
		t.Fatalf("messages %v\nwant %v", got, c.msgs)
	}
	for i := range got {
		if got[i] != c.msgs[i] {
			t.Errorf("message %d is %v, want %v", i+1, got[i], c.msgs[i])
		}
	}
	for i, m := range msgs {
		checkRoundTrip(t, m, i+1)
	}
}

// checkRoundTrip: m written and read again, and m rebuilt with Set and
// written and read again, hold the same values as m.
func checkRoundTrip(t testing.TB, m *Message, n int) {
	t.Helper()
	want := leaves(m)
	out := m.Bytes()
	if bytes.Contains(out, []byte("\n")) || !bytes.HasSuffix(out, []byte("\r")) {
		t.Errorf("message %d: segments not ended by CR alone", n)
	}
	m2, err := Parse(out)
	if err != nil {
		t.Fatalf("message %d: written and read again: %v", n, err)
	}
	if d := diffLeaves(want, leaves(m2)); d != "" {
		t.Errorf("message %d: written and read again:\n%s", n, d)
	}
	if !bytes.Equal(m2.Bytes(), out) {
		t.Errorf("message %d: writing is not stable", n)
	}
	r := rebuild(t, m)
	m3, err := Parse(r.Bytes())
	if err != nil {
		t.Fatalf("message %d: rebuilt and read again: %v", n, err)
	}
	if d := diffLeaves(want, leaves(m3)); d != "" {
		t.Errorf("message %d: rebuilt with Set:\n%s", n, d)
	}
}

// TestValidateShared: the shared messages that lack a required MSH field.
func TestValidateShared(t *testing.T) {
	b, err := ParseBatch(fixture(t, "nhapi_oml_o21_7_messages_crlf.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range b.Messages() {
		err := m.Validate()
		if m.ControlID() == "" {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrRequired) || pe.Location.String() != "MSH-10" {
				t.Errorf("message %d: %v, want MSH-10 required", i+1, err)
			}
			if ae := AckErrorFor(err); ae.Code != CodeRequiredFieldMissing {
				t.Errorf("ack code %d", ae.Code)
			}
		} else if err != nil {
			t.Errorf("message %d: %v", i+1, err)
		}
	}
}
