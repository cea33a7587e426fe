package inbox_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/hl7"
	"github.com/clinomics/clinomics/internal/hl7/inbox"
	"github.com/clinomics/clinomics/internal/hl7/mllp"
)

// realMessage reads the n-th message (from 1) of a file of the shared
// HL7 data, or of this package's testdata, and changes the fields given
// as path, value pairs.
func realMessage(t *testing.T, file string, n int, set ...string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	msgs := hl7.SplitFile(b)
	if len(msgs) < n {
		t.Fatalf("%s holds %d messages", file, len(msgs))
	}
	m, err := hl7.Parse(msgs[n-1])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(set); i += 2 {
		if err := m.Set(set[i], set[i+1]); err != nil {
			t.Fatalf("set %s: %v", set[i], err)
		}
	}
	return string(m.Bytes())
}

// stored returns the stored message with that control id.
func stored(t *testing.T, f fixture, controlID string) catalog.HL7Message {
	t.Helper()
	all, err := f.st.ListHL7Messages(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []catalog.HL7Message
	for _, m := range all {
		if m.ControlID == controlID {
			out = append(out, m)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d messages stored with control id %s, want 1: %+v", len(out), controlID, all)
	}
	return out[0]
}

// TestDataTypeErrors: a field the mapping reads (docs/hl7.md, "Which
// fields are checked") whose value is not of its data type refuses the
// message with AE (CE in enhanced mode), HL7 error 102 located at the
// field (ERR-2: segment, its occurrence, field), a reason naming the
// position and never the value; the message is kept in the error queue
// and nothing of it is applied. Fields the mapping does not read are not
// checked.
func TestDataTypeErrors(t *testing.T) {
	const (
		adt = "../testdata/hapi_adt_a01_cr.hl7"          // HAPI's ADT^A01, MRN 9999999999
		oml = shared + "/hapi-hl7v2/example_oml_o21.hl7" // #1: an order with OBX|1|NM|GLUCOSE||75, patient 12345
	)
	oruObx := func(obx2 string) string { // the story's ORU with a second OBX changed
		return strings.Replace(oru, "OBX|2|ST|48004-6^DNA change c.HGVS^LN|1|NM_000059.4:c.5946del||||||F", obx2, 1)
	}
	cases := []struct {
		name  string
		raw   string
		code  string // MSA-1
		loc   string // ERR-2, "" when accepted
		why   string // in ERR-8 and the stored reason
		value string // the bad value: in neither
	}{
		{name: "PID-7 month 13", raw: realMessage(t, adt, 1, "PID-7", "19901399"),
			code: "AE", loc: "PID^1^7", why: "PID-7: data type error: month out of range", value: "19901399"},
		{name: "PID-7 enhanced mode", raw: realMessage(t, adt, 1, "PID-7", "19901399", "MSH-10", "E1", "MSH-15", "AL", "MSH-16", "AL"),
			code: "CE", loc: "PID^1^7", why: "PID-7: data type error", value: "19901399"},
		{name: "MSH-7 orders updates", raw: realMessage(t, adt, 1, "MSH-7", "2001052319271", "MSH-10", "M7"),
			code: "AE", loc: "MSH^1^7", why: "MSH-7: data type error", value: "2001052319271"},
		{name: "PV1-44 of a visit", raw: realMessage(t, adt, 1, "PV1-44", "20010230", "MSH-10", "P44"),
			code: "AE", loc: "PV1^1^44", why: "PV1-44: data type error: day out of range", value: "20010230"},
		{name: "OML OBX-5 NM not a number", raw: realMessage(t, oml, 1, "OBX-5", "not-a-number"),
			code: "AE", loc: "OBX^1^5", why: "OBX-5: data type error: not a number (NM) (the OBX with set ID 1)", value: "not-a-number"},
		{name: "OML OBX-14", raw: realMessage(t, oml, 1, "OBX-14", "2025013199", "MSH-10", "O14"),
			code: "AE", loc: "OBX^1^14", why: "OBX-14: data type error: hour out of range", value: "2025013199"},
		{name: "OML OBR-7", raw: realMessage(t, oml, 1, "OBR-7", "200313", "MSH-10", "R7"),
			code: "AE", loc: "OBR^1^7", why: "OBR-7: data type error", value: "200313"},
		{name: "ORU OBX-5 of the 2nd OBX", raw: oruObx("OBX|2|NM|81258-6^Sample variant allelic frequency^LN|1|not-a-number||||||F"),
			code: "AE", loc: "OBX^2^5", why: "segment 5: OBX[2]-5: data type error: not a number (NM) (the OBX with set ID 2)", value: "not-a-number"},
		{name: "ORU OBX-14 of the 2nd OBX", raw: strings.Replace(oruObx("OBX|2|ST|48004-6^DNA change c.HGVS^LN|1|NM_000059.4:c.5946del||||||F|||2025013199"), "|C4|", "|C4b|", 1),
			code: "AE", loc: "OBX^2^14", why: "OBX[2]-14: data type error: hour out of range (the OBX with set ID 2)", value: "2025013199"},
		{name: "ORU SN number", raw: strings.Replace(oruObx("OBX|2|SN|81258-6^Sample variant allelic frequency^LN|1|>^0,5||||||F"), "|C4|", "|C4c|", 1),
			code: "AE", loc: "OBX^2^5", why: "OBX[2]-5: data type error", value: "0,5"},
		{name: "ORU DT value", raw: strings.Replace(oruObx("OBX|2|DT|21112-8^Birth date^LN|1|20250231||||||F"), "|C4|", "|C4d|", 1),
			code: "AE", loc: "OBX^2^5", why: "OBX[2]-5: data type error: day out of range", value: "20250231"},

		// Not refused: fields the mapping does not read, empty values,
		// types whose form is free.
		{name: "PID-29 not mapped", raw: realMessage(t, adt, 1, "PID-29", "19901399", "MSH-10", "D29"), code: "AA"},
		{name: "ORC-9 not mapped", raw: realMessage(t, oml, 1, "ORC-9", "2003090607101", "MSH-10", "C9"), code: "AA"},
		{name: "PV1-44 without a visit number", raw: realMessage(t, adt, 1, "PV1-19", "", "PV1-44", "20010230", "MSH-10", "NV"), code: "AA"},
		{name: "NM empty", raw: strings.Replace(oruObx("OBX|2|NM|81258-6^Sample variant allelic frequency^LN|1|||||||X"), "|C4|", "|C4e|", 1), code: "AA"},
		{name: "NM signed decimal", raw: strings.Replace(oruObx("OBX|2|NM|81258-6^Sample variant allelic frequency^LN|1| -0.48 ||||||F"), "|C4|", "|C4f|", 1), code: "AA"},
		{name: "ST any text", raw: strings.Replace(oruObx("OBX|2|ST|48004-6^DNA change c.HGVS^LN|1|not-a-number||||||F"), "|C4|", "|C4g|", 1), code: "AA"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			m := receive(t, f, c.raw)
			if got := m.Get("MSA-1"); got != c.code {
				t.Fatalf("MSA-1 %s, want %s: %s %s", got, c.code, m.Value("ERR-2").Raw(), m.Get("ERR-8"))
			}
			msg, err := hl7.Parse([]byte(strings.ReplaceAll(c.raw, "\n", "\r")))
			if err != nil {
				t.Fatal(err)
			}
			st := stored(t, f, msg.ControlID())
			if c.loc == "" {
				if st.State != inbox.StateProcessed {
					t.Fatalf("stored as %s: %s", st.State, st.Error)
				}
				return
			}
			if got := m.Value("ERR-2").Raw(); got != c.loc || m.Get("ERR-3.1") != "102" {
				t.Errorf("ERR-2 %q ERR-3 %s, want %s and 102: %s", got, m.Get("ERR-3.1"), c.loc, m)
			}
			if !strings.Contains(m.Get("ERR-8"), c.why) || !strings.Contains(st.Error, c.why) {
				t.Errorf("ERR-8 %q, stored reason %q; want them to say %q", m.Get("ERR-8"), st.Error, c.why)
			}
			if strings.Contains(m.String(), c.value) || strings.Contains(st.Error, c.value) {
				t.Errorf("the ACK or the reason holds the value %q: %s / %s", c.value, m, st.Error)
			}
			if st.State != inbox.StateError || !bytes.Equal(st.Ack, m.Bytes()) {
				t.Errorf("stored as %s with ACK %q, want in the error queue with the ACK sent", st.State, st.Ack)
			}
			// Nothing of it applied: its patient is not known.
			pid := msg.First("PID")
			cx := pid.Field(3).CX()
			if _, err := f.db.FindPatient(context.Background(), []clinical.Identifier{{Value: cx.ID, Authority: cx.AssigningAuthority.Namespace}}); err == nil {
				t.Errorf("the refused message's patient was stored")
			}
		})
	}
}

// TestDataTypeErrorReprocessed: a message refused for a data type error
// is applied once fixed.
func TestDataTypeErrorReprocessed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	bad := realMessage(t, shared+"/hapi-hl7v2/example_oml_o21.hl7", 1, "OBX-5", "not-a-number")
	if m := receive(t, f, bad); m.Get("MSA-1") != "AE" {
		t.Fatalf("%s", m)
	}
	e := stored(t, f, "msgOP123")
	if state, why, err := f.in.Reprocess(ctx, f.st, e.ID, nil, "cli:test"); err != nil || state != inbox.StateError || !strings.Contains(why, "OBX-5") {
		t.Fatalf("reprocess as stored: %s %q %v", state, why, err)
	}
	fixed := realMessage(t, shared+"/hapi-hl7v2/example_oml_o21.hl7", 1)
	if state, why, err := f.in.Reprocess(ctx, f.st, e.ID, []byte(fixed), "cli:test"); err != nil || state != inbox.StateProcessed {
		t.Fatalf("reprocess fixed: %s %q %v", state, why, err)
	}
	pid, err := f.db.FindPatient(ctx, []clinical.Identifier{{Value: "12345", Authority: "Memphis_Hosp"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, res, _ := f.db.Records(ctx, pid); len(res) != 1 || res[0].Value != "75" {
		t.Fatalf("results %+v", res)
	}
}

// TestOBXRequiredNamesTheOBX: LinuxForHealth's ORU, whose second OBX has
// no OBX-3, is refused naming that OBX: ERR-2 segment sequence 2, and
// the reason says which (OBX[2], set ID 2).
func TestOBXRequiredNamesTheOBX(t *testing.T) {
	f := newFixture(t)
	m := receive(t, f, realMessage(t, "../testdata/lfh_oru_r01_lf.hl7", 1))
	if m.Get("MSA-1") != "AE" || m.Value("ERR-2").Raw() != "OBX^2^3" || m.Get("ERR-3.1") != "101" {
		t.Fatalf("%s", m)
	}
	const want = "OBX[2]-3: required field missing (the OBX with set ID 2)"
	if !strings.Contains(m.Get("ERR-8"), want) || !strings.Contains(stored(t, f, "MSGID00231").Error, want) {
		t.Fatalf("ERR-8 %q, want %q", m.Get("ERR-8"), want)
	}
}

// TestMergeOfUnknownPatient: an A40 whose prior patient (MRG-1) is not
// known is refused with AE, HL7 error 204 at MRG-1, and nothing of it
// applied (not even the surviving patient); once the prior patient is
// registered, reprocessing it merges the two.
func TestMergeOfUnknownPatient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := receive(t, f, a40)
	if m.Get("MSA-1") != "AE" || m.Value("ERR-2").Raw() != "MRG^1^1" || m.Get("ERR-3.1") != "204" {
		t.Fatalf("%s", m)
	}
	e := stored(t, f, "C5")
	if e.State != inbox.StateError || !strings.Contains(e.Error, "MRG-1: unknown key identifier") || strings.Contains(e.Error, "TMP-42") {
		t.Fatalf("error queue entry %+v", e)
	}
	mrn := []clinical.Identifier{{Value: "MRN100", Authority: "HOSP"}}
	if _, err := f.db.FindPatient(ctx, mrn); err == nil {
		t.Fatal("the surviving patient was stored by a merge that was refused")
	}
	if state, why, err := f.in.Reprocess(ctx, f.st, e.ID, nil, "cli:test"); err != nil || state != inbox.StateError || !strings.Contains(why, "MRG-1") {
		t.Fatalf("reprocess before the prior patient is known: %s %q %v", state, why, err)
	}
	if m := receive(t, f, tmp); m.Get("MSA-1") != "AA" {
		t.Fatalf("%s", m)
	}
	if state, why, err := f.in.Reprocess(ctx, f.st, e.ID, nil, "cli:test"); err != nil || state != inbox.StateProcessed {
		t.Fatalf("reprocess: %s %q %v", state, why, err)
	}
	a, err := f.db.FindPatient(ctx, mrn)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := f.db.FindPatient(ctx, []clinical.Identifier{{Value: "TMP-42", Authority: "HOSP"}}); err != nil || a != b {
		t.Fatalf("TMP-42 is %s (%v), MRN100 %s: not merged", b, err, a)
	}
	// The merge sent again is a duplicate; a new A40 of the same pair
	// (its prior identifiers now the survivor's) changes nothing.
	if m := receive(t, f, strings.Replace(a40, "|C5|", "|C5b|", 1)); m.Get("MSA-1") != "AA" {
		t.Fatalf("merge again: %s", m)
	}
}

// TestUnparsedKeepSenderAndControlID: a message refused before it could
// be parsed is listed in the error queue with the sender (MSH-3^MSH-4)
// and control id (MSH-10) read from its MSH, and the same message sent
// again gets the first ACK back and is not stored twice. Without a
// readable MSH the entry is "unknown" / "unparsed-…", once per copy.
func TestUnparsedKeepSenderAndControlID(t *testing.T) {
	lfh, err := os.ReadFile(filepath.Join(shared, "linuxforhealth/sample_unix.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, raw         string
		code              string // MSA-1
		sender, controlID string // stored; controlID "" for unparsed-…
		typ               string
	}{
		{name: "MSH-2 repeats a delimiter (LinuxForHealth sample_unix.hl7)", raw: string(lfh),
			code: "CR", sender: "SE050^050", controlID: "102", typ: "ADT^A01"},
		{name: "MSH-18 ISO IR87", raw: "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|J1|P|2.5.1||||||ISO IR87\r" +
			"PID|1||MRN7^^^HOSP^MR||\x1b$B%F%9%H\x1b(B^Taro||19700101|M\r",
			code: "AR", sender: "EPIC^HOSP", controlID: "J1", typ: "ADT^A01^ADT_A01"},
		{name: "control character in PID", raw: "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|J2|P|2.5.1|||AL|NE\r" +
			"PID|1||MRN7^^^HOSP^MR||Doe\x01^Jane||19700101|F\r",
			code: "CR", sender: "EPIC^HOSP", controlID: "J2", typ: "ADT^A01^ADT_A01"},
		{name: "sender with an escape sequence: not keyed", raw: "MSH|^~\\&|EP\\T\\IC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|J3|P|2.5.1||||||ISO IR87\r",
			code: "AR", sender: "unknown"},
		{name: "no control id", raw: "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01||P|2.5.1||||||ISO IR87\r",
			code: "AR", sender: "unknown"},
		{name: "no MSH", raw: "PID|1||MRN7^^^HOSP^MR\r", code: "AR", sender: "unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			first, err := f.in.Receive(ctx, "test", []byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			again, err := f.in.Receive(ctx, "test", []byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			am, err := hl7.Parse(first)
			if err != nil || am.Get("MSA-1") != c.code || am.Get("ERR-8") == "" {
				t.Fatalf("ACK %q %v, want %s with a reason", first, err, c.code)
			}
			rej, err := f.st.ListHL7Messages(ctx, inbox.StateRejected, 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.controlID == "" {
				// Nothing to know a copy by: each is kept.
				if len(rej) != 2 || rej[0].Sender != c.sender || !strings.HasPrefix(rej[0].ControlID, "unparsed-") {
					t.Fatalf("rejected %+v, want two entries of sender %s, control id unparsed-…", rej, c.sender)
				}
				return
			}
			if !bytes.Equal(first, again) {
				t.Errorf("the copy got another ACK:\n%q\n%q", first, again)
			}
			if len(rej) != 1 {
				t.Fatalf("%d entries in the error queue, want 1: %+v", len(rej), rej)
			}
			if e := rej[0]; e.Sender != c.sender || e.ControlID != c.controlID || e.Type != c.typ || !bytes.Equal(e.Ack, first) || e.Error != am.Get("ERR-8") {
				t.Errorf("entry %+v, want sender %s, control id %s, type %s and the ACK sent", e, c.sender, c.controlID, c.typ)
			}
			if body, err := f.db.MessageBody(rej[0]); err != nil || string(body) != c.raw {
				t.Errorf("stored body %d bytes, %v; want the message", len(body), err)
			}
		})
	}
}

// TestTooLarge: a message over hl7.max_message is answered AR (HL7 error
// 207, "message too large (N bytes, limit M)") over MLLP, and recorded in
// the error queue with the sender and control id of its MSH and the
// reason, without its body. Sent again while too large, it gets the same
// AR and is not recorded twice; sent again once it fits (the limit
// raised), it takes the entry's place and is applied.
func TestTooLarge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const limit = 4096
	big := strings.ReplaceAll(oru, "\n", "\r") + strings.Repeat("NTE|1||"+strings.Repeat("x", 90)+"\r", 60)
	big = strings.Replace(big, "|C4|", "|BIG1|", 1)
	send := func(max int) []byte {
		t.Helper()
		srv := &mllp.Server{Handler: f.in, MaxMessage: max}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		defer func() {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		c := &mllp.Client{Addr: ln.Addr().String()}
		defer c.Close()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ack, err := c.Send(sctx, []byte(big))
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	// Seen before the order it results: the ORU needs its patient only.
	first := send(limit)
	am, err := hl7.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	why := fmt.Sprintf("message too large (%d bytes, limit %d)", len(big), limit)
	if am.Get("MSA-1") != "AR" || am.Get("MSA-2") != "BIG1" || am.Get("ERR-3.1") != "207" || am.Get("ERR-8") != why {
		t.Fatalf("ACK %s", am)
	}
	e := stored(t, f, "BIG1")
	if e.State != inbox.StateRejected || e.Sender != "LIS^LAB" || e.Type != "ORU^R01^ORU_R01" ||
		!strings.HasPrefix(e.Error, why) || !strings.Contains(e.Error, "not kept") || !bytes.Equal(e.Ack, first) {
		t.Fatalf("error queue entry %+v", e)
	}
	if body, err := f.db.MessageBody(e); err != nil || len(body) != 0 {
		t.Fatalf("body %d bytes %v; want none kept", len(body), err)
	}
	if state, why, err := f.in.Reprocess(ctx, f.st, e.ID, nil, "cli:test"); err != nil || state != inbox.StateRejected || !strings.Contains(why, "not kept") {
		t.Fatalf("reprocess: %s %q %v", state, why, err)
	}
	if again := send(limit); !bytes.Equal(again, first) {
		t.Fatalf("sent again too large: %q, want the first AR", again)
	}
	stored(t, f, "BIG1") // still one
	// The limit raised, the sender sends it again: applied.
	if m, err := hl7.Parse(send(2 * len(big))); err != nil || m.Get("MSA-1") != "AA" {
		t.Fatalf("sent again within the limit: %s %v", m, err)
	}
	if e2 := stored(t, f, "BIG1"); e2.ID != e.ID || e2.State != inbox.StateProcessed || e2.Error != "" {
		t.Fatalf("entry after the resend %+v", e2)
	}
	// A message too large whose MSH cannot be read is still recorded.
	huge := "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20260301080000||ADT^A01^ADT_A01|BIG2|P|2.5.1||||||ISO IR87\r" + strings.Repeat("Z", 2*limit)
	ack, err := f.in.ReceiveTooLarge(ctx, "test", []byte(huge[:limit]), int64(len(huge)), limit)
	if err != nil || !bytes.Contains(ack, []byte("MSA|AR|BIG2")) {
		t.Fatalf("%q %v", ack, err)
	}
	if e := stored(t, f, "BIG2"); e.Sender != "EPIC^HOSP" || !strings.HasPrefix(e.Error, "message too large (") {
		t.Fatalf("%+v", e)
	}
}
