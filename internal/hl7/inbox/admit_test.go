package inbox

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 }

// together commits raws as one group (as the writer would, had they arrived
// together) and returns their ACKs.
func together(t *testing.T, in *Inbox, raws ...string) []string {
	t.Helper()
	batch := make([]*pending, len(raws))
	for i, raw := range raws {
		batch[i] = &pending{ctx: context.Background(), source: "test", raw: []byte(raw), ready: make(chan struct{})}
		in.prepare(batch[i])
	}
	in.commit(batch) // the writer is idle: nothing was queued
	acks := make([]string, len(raws))
	for i, p := range batch {
		<-p.ready
		if p.err != nil {
			t.Fatalf("message %d: %v", i, p.err)
		}
		acks[i] = string(p.ack)
	}
	return acks
}

func adt(trigger, ctl, when, pid, name, visit string) string {
	s := fmt.Sprintf("MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|%s||ADT^%s^ADT_A01|%s|P|2.5.1\rPID|1||%s||%s^Given||19700101|F", when, trigger, ctl, pid, name)
	if visit != "" {
		s += "\rPV1|1|I|WARD^1^A||||||||||||||||" + visit + "^^^HOSP"
	}
	return s
}

// TestAdmissionsInOneGroup: a group's admissions are stored together
// (patients in one batch, visits in one), with every guarantee of one at
// a time: in arrival order per patient (by the same identifier, or by two
// identifiers of one stored patient), an older message does not replace
// newer demographics, a message naming two patients or another patient's
// visit fails alone with its ERR, a copy gets the original ACK.
func TestAdmissionsInOneGroup(t *testing.T) {
	db, st := openDB(t)
	in := &Inbox{DB: db}
	in.Start()
	defer in.Close()

	// All new and distinct: one batch, nothing to rerun.
	var raws []string
	for i := range 20 {
		raws = append(raws, adt("A01", fmt.Sprintf("B%d", i), "20260301080000", fmt.Sprintf("B%d^^^HOSP^MR", i), fmt.Sprintf("Name%d", i), fmt.Sprintf("VB%d", i)))
	}
	for i, ack := range together(t, in, raws...) {
		if !bytes.Contains([]byte(ack), []byte("MSA|AA")) {
			t.Fatalf("batch message %d: %q", i, ack)
		}
	}
	for i := range 20 {
		p, encs := recordsOf(t, db, fmt.Sprintf("B%d", i))
		if p.Family != fmt.Sprintf("Name%d", i) || len(encs) != 1 || encs[0].VisitNumber != fmt.Sprintf("VB%d", i) || encs[0].Status != "admitted" {
			t.Fatalf("patient B%d: %+v %+v", i, p, encs)
		}
	}

	together(t, in,
		adt("A04", "S1", "20260301070000", "X^^^HOSP^MR", "Xavier", ""),
		adt("A04", "S2", "20260301070000", "Y^^^HOSP^MR", "Yves", ""),
		adt("A04", "S3", "20260301070000", "Z1^^^HOSP^MR~Z2^^^HOSP^PI", "Zoe", ""))
	// In order per patient; no message fails, so the group is not run
	// again message by message.
	acks := together(t, in,
		adt("A01", "G1", "20260301080000", "N1^^^HOSP^MR", "First", "V1"),
		adt("A08", "G2", "20260301090000", "N1^^^HOSP^MR", "Later", "V1"), // same patient, same visit: after G1
		adt("A08", "G3", "20260301090000", "N2^^^HOSP^MR", "New", ""),
		adt("A08", "G4", "20260301080000", "N2^^^HOSP^MR", "Old", ""),     // older than G3: does not replace it
		adt("A08", "G5", "20260301090000", "Z1^^^HOSP^MR", "ViaZ1", ""),   // one stored patient by two identifiers:
		adt("A08", "G6", "20260301080000", "Z2^^^HOSP^PI", "ViaZ2", ""),   // older, so G5's name stands
		adt("A01", "G1", "20260301080000", "N1^^^HOSP^MR", "First", "V1"), // a copy of G1
		adt("A01", "G9", "20260301090000", "N4^^^HOSP^MR", "Fourth", "V4"),
		adt("A08", "GA", "20260301090000", "N7^^^HOSP^MR", "New7", ""), // one identifier with and without its type:
		adt("A08", "GB", "20260301080000", "N7^^^HOSP", "Old7", ""),    // one patient, GA's name stands
	)
	for i, ack := range acks {
		if !bytes.Contains([]byte(ack), []byte("MSA|AA")) {
			t.Errorf("message %d: %q, want AA", i, ack)
		}
	}
	if acks[6] != acks[0] {
		t.Errorf("the copy of G1 got %q, not the original ACK %q", acks[6], acks[0])
	}
	// Refusals among good messages: each fails alone, with its ERR.
	acks = together(t, in,
		adt("A01", "H1", "20260301090000", "N5^^^HOSP^MR", "Fifth", "V5"),
		adt("A08", "H2", "20260301090000", "X^^^HOSP^MR~Y^^^HOSP^MR", "Two", ""), // two patients: AE
		adt("A01", "H3", "20260301090000", "N3^^^HOSP^MR", "Third", "V1"),        // N1's visit: AE
		adt("A01", "H4", "20260301090000", "N6^^^HOSP^MR", "Sixth", "V6"),
	)
	for i, want := range []string{"AA", "AE", "AE", "AA"} {
		if !bytes.Contains([]byte(acks[i]), []byte("MSA|"+want)) {
			t.Errorf("message H%d: %q, want %s", i+1, acks[i], want)
		}
		if want == "AE" && !bytes.Contains([]byte(acks[i]), []byte("ERR|")) {
			t.Errorf("message H%d refused without ERR: %q", i+1, acks[i])
		}
	}
	for _, c := range []struct{ mrn, family string }{{"N1", "Later"}, {"N2", "New"}, {"Z1", "ViaZ1"}, {"X", "Xavier"}, {"Y", "Yves"},
		{"N4", "Fourth"}, {"N5", "Fifth"}, {"N6", "Sixth"}, {"N7", "New7"}} {
		if p, _ := recordsOf(t, db, c.mrn); p.Family != c.family {
			t.Errorf("patient %s: family %q, want %q", c.mrn, p.Family, c.family)
		}
	}
	if _, encs := recordsOf(t, db, "N1"); len(encs) != 1 || encs[0].Status != "admitted" || encs[0].Class != "I" {
		t.Errorf("N1's visit: %+v, want G2's update, still admitted (an A08 keeps the state)", encs)
	}
	if _, err := db.FindPatient(context.Background(), []clinical.Identifier{{Value: "N3", Authority: "HOSP", Type: "MR"}}); err == nil {
		t.Error("H3 was refused, but its patient was stored")
	}
	errs, err := st.ListHL7Messages(context.Background(), StateError, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 || errs[0].ControlID+errs[1].ControlID != "H2H3" && errs[0].ControlID+errs[1].ControlID != "H3H2" {
		t.Errorf("error queue: %+v", errs)
	}
	all, _ := st.ListHL7Messages(context.Background(), "", 0)
	if len(all) != 20+3+9+4 {
		t.Errorf("%d messages stored, want %d", len(all), 20+3+9+4)
	}
}

func recordsOf(t *testing.T, db *clinical.DB, mrn string) (clinical.Patient, []clinical.Encounter) {
	t.Helper()
	typ := "MR"
	if mrn == "Z2" {
		typ = "PI"
	}
	pid, err := db.FindPatient(context.Background(), []clinical.Identifier{{Value: mrn, Authority: "HOSP", Type: typ}})
	if err != nil {
		t.Fatalf("patient %s: %v", mrn, err)
	}
	p, encs, _, _, err := db.Records(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	return p, encs
}

// openDB is a clinical database over a scratch SQLite catalog (returned
// too) and keyring.
func openDB(t *testing.T) (*clinical.DB, catalog.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "t")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(context.Background(), st, kr)
	if err != nil {
		t.Fatal(err)
	}
	return db, st
}
