package clinical_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests

type fixture struct {
	db   *clinical.DB
	st   catalog.Store
	dir  string
	path string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.db")
	st, err := catalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(context.Background(), st, kr)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{db, st, dir, path}
}

// reopen opens the fixture's catalog and keyring again, as a restarted
// process would (after a test changed the database behind its back).
func (f fixture) reopen(t *testing.T, opts ...clinical.Option) fixture {
	t.Helper()
	st, err := catalog.Open(context.Background(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.OpenLocal(filepath.Join(f.dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(context.Background(), st, kr, append(opts, clinical.Rekey())...)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{db, st, f.dir, f.path}
}

func (f fixture) upsert(t *testing.T, p clinical.Patient) string {
	t.Helper()
	var pid string
	err := f.db.Update(context.Background(), func(tx *clinical.Tx) error {
		var err error
		pid, err = tx.UpsertPatient(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

var (
	t0  = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	mrn = clinical.Identifier{Value: "MRN-771203", Authority: "HOSP", Type: "MR"}
)

func TestPatientsAreFoundByIdentifierAndKeptInOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, Family: "Zzyzx", Given: "Quill", BirthDate: "19610704", Sex: "F", AsOf: t0})
	// The same MRN, plus a second identifier, newer: same patient, name updated.
	ssn := clinical.Identifier{Value: "999-00-1234", Authority: "SSA", Type: "SS"}
	if got := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn, ssn}, Family: "Zzyzx-Ode", Given: "Quill", AsOf: t0.Add(time.Hour)}); got != pid {
		t.Fatalf("same MRN gave patient %s, want %s", got, pid)
	}
	// An older message does not overwrite the newer name, but its identifiers count.
	other := clinical.Identifier{Value: "A-55", Authority: "CLINIC", Type: "PI"}
	f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{ssn, other}, Family: "Stale", AsOf: t0.Add(-time.Hour)})
	p, encs, _, _, err := f.db.Records(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Family != "Zzyzx-Ode" || len(p.Identifiers) != 3 || len(encs) != 0 {
		t.Fatalf("patient %+v", p)
	}
	if got, err := f.db.FindPatient(ctx, []clinical.Identifier{other}); err != nil || got != pid {
		t.Fatalf("found by the third identifier: %s %v", got, err)
	}
	// Another authority's same number is another patient.
	if _, err := f.db.FindPatient(ctx, []clinical.Identifier{{Value: mrn.Value, Authority: "ELSEWHERE", Type: "MR"}}); !errors.Is(err, clinical.ErrNotFound) {
		t.Fatalf("MRN at another authority: %v", err)
	}
	err = f.db.Update(ctx, func(tx *clinical.Tx) error { _, err := tx.UpsertPatient(clinical.Patient{Family: "NoId"}); return err })
	if !errors.Is(err, clinical.ErrNoIdentifier) {
		t.Fatalf("patient without identifier: %v", err)
	}
}

func TestNoPatientDataInTheCatalogFile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, Family: "Zzyzx", Given: "Quill", BirthDate: "19610704", AsOf: t0})
	err := f.db.Update(ctx, func(tx *clinical.Tx) error {
		if _, err := tx.UpsertEncounter(pid, clinical.Encounter{VisitNumber: "V-8812", Admit: "20260301", AsOf: t0}); err != nil {
			return err
		}
		oid, err := tx.UpsertOrder(pid, clinical.Order{PlacerNumber: "PL-4411", Status: "new", Code: "GENE-PANEL", AsOf: t0})
		if err != nil {
			return err
		}
		if _, err := tx.UpsertResult(pid, oid, clinical.Result{SetID: "1", Code: "48018-6", Value: "BRCA2-Zzyzx-result", AsOf: t0}); err != nil {
			return err
		}
		return tx.PutMessage(catalog.HL7Message{ID: clinical.NewMessageID(), Sender: "EPIC^HOSP", ControlID: "1", Received: t0, Type: "ADT^A01", State: "processed"},
			[]byte("MSH|^~\\&|EPIC|HOSP|||20260301||ADT^A01|1|P|2.5\rPID|1||MRN-771203^^^HOSP^MR||Zzyzx^Quill"))
	})
	if err != nil {
		t.Fatal(err)
	}
	f.st.Close() // checkpoint the WAL into the file
	for _, name := range []string{"catalog.db", "catalog.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(f.dir, name))
		for _, marker := range []string{"Zzyzx", "Quill", "MRN-771203", "19610704", "V-8812", "PL-4411", "BRCA2-Zzyzx"} {
			if bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s holds %q in the clear", name, marker)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "catalog.db")); !bytes.Contains(b, []byte(pid)) {
		t.Fatal("the search would not find anything: the pseudonymous id is not even there")
	}
}

func TestMergeMovesRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	priorID := clinical.Identifier{Value: "OLD-1", Authority: "HOSP", Type: "MR"}
	prior := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{priorID}, Family: "Temp", AsOf: t0})
	err := f.db.Update(ctx, func(tx *clinical.Tx) error {
		_, err := tx.UpsertEncounter(prior, clinical.Encounter{VisitNumber: "V1", AsOf: t0})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	survivor := clinical.Patient{Identifiers: []clinical.Identifier{mrn}, Family: "Zzyzx", AsOf: t0.Add(time.Hour)}
	var sid string
	for range 2 { // a repeated A40 changes nothing more
		err = f.db.Update(ctx, func(tx *clinical.Tx) error {
			var err error
			sid, err = tx.MergePatients(survivor, []clinical.Identifier{priorID})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if sid == prior {
		t.Fatal("the survivor is the prior patient")
	}
	if got, _ := f.db.FindPatient(ctx, []clinical.Identifier{priorID}); got != sid {
		t.Fatalf("prior identifier finds %s, want the survivor %s", got, sid)
	}
	p, encs, _, _, err := f.db.Records(ctx, sid)
	if err != nil || len(encs) != 1 || len(p.Identifiers) != 2 {
		t.Fatalf("survivor: %+v, %d encounters, %v", p, len(encs), err)
	}
	old, _, _, _, _ := f.db.Records(ctx, prior)
	if old.MergedInto != sid {
		t.Fatalf("prior not marked merged: %+v", old)
	}
}

func TestIdempotentAndOrderedRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, AsOf: t0})
	var ids []string
	for i, st := range []struct {
		status string
		at     time.Time
	}{{"admitted", t0}, {"discharged", t0.Add(2 * time.Hour)}, {"admitted", t0.Add(time.Hour)}, {"discharged", t0.Add(2 * time.Hour)}} {
		err := f.db.Update(ctx, func(tx *clinical.Tx) error {
			id, err := tx.UpsertEncounter(pid, clinical.Encounter{VisitNumber: "V9", Status: st.status, AsOf: st.at})
			ids = append(ids, id)
			return err
		})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	_, encs, _, _, _ := f.db.Records(ctx, pid)
	if len(encs) != 1 || encs[0].Status != "discharged" || ids[0] != ids[3] {
		t.Fatalf("encounters %+v", encs)
	}
}

func TestTamperedRecordDoesNotOpen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, Family: "A", AsOf: t0})
	b := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{{Value: "2", Authority: "HOSP"}}, Family: "B", AsOf: t0})
	f.st.Close()
	db, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	// Give a's row b's sealed demographics: bound to b's id, they do not open as a's.
	if _, err := db.Exec(`UPDATE patients SET sealed = (SELECT sealed FROM patients WHERE id = ?) WHERE id = ?`, b, a); err != nil {
		t.Fatal(err)
	}
	db.Close()
	d2 := f.reopen(t).db
	if _, _, _, _, err := d2.Records(ctx, a); err == nil {
		t.Fatal("a swapped sealed record opened")
	}
}

// TestConflictsAreRefused: another facility's same visit or placer number
// is another record; a record already another patient's is not moved; an
// identifier already another patient's is refused (only A40 merges).
func TestConflictsAreRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, Family: "A", AsOf: t0})
	b := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{{Value: "B-1", Authority: "OTHER", Type: "MR"}}, Family: "B", AsOf: t0})
	do := func(fn func(tx *clinical.Tx) error) error { return f.db.Update(ctx, fn) }
	if err := do(func(tx *clinical.Tx) error {
		_, err := tx.UpsertOrder(a, clinical.Order{PlacerNumber: "1001", PlacerIssuer: "EPIC", Code: "BRCA", AsOf: t0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The same number from another placer is another order.
	if err := do(func(tx *clinical.Tx) error {
		_, err := tx.UpsertOrder(b, clinical.Order{PlacerNumber: "1001", PlacerIssuer: "CERNER", Code: "CBC", AsOf: t0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The same number from the same placer for patient B is a conflict.
	err := do(func(tx *clinical.Tx) error {
		_, err := tx.UpsertOrder(b, clinical.Order{PlacerNumber: "1001", PlacerIssuer: "EPIC", Code: "CBC", AsOf: t0.Add(time.Hour)})
		return err
	})
	if !errors.Is(err, clinical.ErrConflict) || strings.Contains(err.Error(), "1001") {
		t.Fatalf("order of A for B: %v", err)
	}
	_, _, ordsA, _, _ := f.db.Records(ctx, a)
	if len(ordsA) != 1 || ordsA[0].Code != "BRCA" {
		t.Fatalf("A's orders after the conflict: %+v", ordsA)
	}
	// A message for B carrying A's MRN is refused, not a silent move.
	err = do(func(tx *clinical.Tx) error {
		_, err := tx.UpsertPatient(clinical.Patient{Identifiers: []clinical.Identifier{{Value: "B-1", Authority: "OTHER", Type: "MR"}, mrn}, AsOf: t0})
		return err
	})
	if !errors.Is(err, clinical.ErrConflict) {
		t.Fatalf("identifier of A for B: %v", err)
	}
	if got, _ := f.db.FindPatient(ctx, []clinical.Identifier{mrn}); got != a {
		t.Fatalf("A's MRN now finds %s", got)
	}
}

// TestMessageIDsSortByTime: message ids made in later milliseconds sort
// after earlier ones (the message table's index is appended to), and ids
// made in one millisecond still differ.
func TestMessageIDsSortByTime(t *testing.T) {
	seen := map[string]bool{}
	prev := clinical.NewMessageID()
	for range 3 {
		time.Sleep(2 * time.Millisecond)
		id := clinical.NewMessageID()
		if id <= prev || len(id) != 29 || id[0] != 'm' {
			t.Fatalf("id %q after %q", id, prev)
		}
		prev = id
	}
	for range 1000 {
		id := clinical.NewMessageID()
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}

// TestBatchOfOneStoredPatient: two records of a batch that name one
// stored patient by different identifiers are stored in order (the
// second sees the first's write): the newer demographics stand and both
// records' identifiers are kept. So do drafted ones (DraftPatient), which
// also keep a new patient's drafted demographics.
func TestBatchOfOneStoredPatient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ssn := clinical.Identifier{Value: "999-00-1234", Authority: "SSA", Type: "SS"}
	pi := clinical.Identifier{Value: "A-55", Authority: "CLINIC", Type: "PI"}
	pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn, ssn}, Family: "First", AsOf: t0})
	newer := clinical.Patient{Identifiers: []clinical.Identifier{mrn}, Family: "Newer", AsOf: t0.Add(2 * time.Hour)}
	older := clinical.Patient{Identifiers: []clinical.Identifier{ssn, pi}, Family: "Older", AsOf: t0.Add(time.Hour)}
	fresh := clinical.Patient{Identifiers: []clinical.Identifier{{Value: "N-1", Authority: "HOSP", Type: "MR"}}, Family: "Fresh", AsOf: t0}
	for _, drafted := range []bool{false, true} {
		var ids []string
		err := f.db.Update(ctx, func(tx *clinical.Tx) error {
			var errs []error
			var err error
			if drafted {
				var ds []clinical.PatientDraft
				for _, p := range []clinical.Patient{newer, older, fresh} {
					d, err := f.db.DraftPatient(p)
					if err != nil {
						return err
					}
					ds = append(ds, d)
				}
				ids, errs, err = tx.UpsertPatientDrafts(ds)
			} else {
				ids, errs, err = tx.UpsertPatients([]clinical.Patient{newer, older, fresh})
			}
			if err == nil {
				err = errors.Join(errs...)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if ids[0] != pid || ids[1] != pid || ids[2] == "" || ids[2] == pid {
			t.Fatalf("drafted %v: ids %v, want %s twice and a new one", drafted, ids, pid)
		}
		p, _, _, _, err := f.db.Records(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		if p.Family != "Newer" || len(p.Identifiers) != 3 {
			t.Fatalf("drafted %v: patient %+v, want the newer name and three identifiers", drafted, p)
		}
		n, _, _, _, err := f.db.Records(ctx, ids[2])
		if err != nil || n.Family != "Fresh" || len(n.Identifiers) != 1 {
			t.Fatalf("drafted %v: new patient %+v %v", drafted, n, err)
		}
		fresh.Identifiers[0].Value = "N-2" // a new one again next round
	}
}

// TestBatchOfVisits: a batch of visits (Tx.UpsertEncounters) stores new
// and known ones, refuses another patient's visit number alone, and
// stores two of one visit number in order.
func TestBatchOfVisits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, Family: "A", AsOf: t0})
	b := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{{Value: "B", Authority: "HOSP", Type: "MR"}}, Family: "B", AsOf: t0})
	visit := func(n, status string, asOf time.Time) clinical.EncounterDraft {
		d, err := f.db.DraftEncounter(clinical.Encounter{VisitNumber: n, VisitIssuer: "HOSP", Status: status, AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	run := func(pids []string, ds ...clinical.EncounterDraft) []error {
		var errs []error
		err := f.db.Update(ctx, func(tx *clinical.Tx) error {
			var err error
			_, errs, err = tx.UpsertEncounters(pids, ds)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return errs
	}
	errs := run([]string{a, a, b}, visit("V1", "admitted", t0), visit("V2", "admitted", t0), visit("V3", "admitted", t0))
	if errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	// V1 again, newer; V3 is b's; V4 twice, the second newer; V2 older.
	errs = run([]string{a, a, a, a, a}, visit("V1", "discharged", t0.Add(time.Hour)), visit("V3", "admitted", t0.Add(time.Hour)),
		visit("V4", "admitted", t0), visit("V4", "discharged", t0.Add(time.Hour)), visit("V2", "registered", t0.Add(-time.Hour)))
	if errs[0] != nil || !errors.Is(errs[1], clinical.ErrConflict) || errs[2] != nil || errs[3] != nil || errs[4] != nil {
		t.Fatalf("errs %v", errs)
	}
	_, encs, _, _, err := f.db.Records(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range encs {
		got[e.VisitNumber] = e.Status
	}
	if len(got) != 3 || got["V1"] != "discharged" || got["V2"] != "admitted" || got["V4"] != "discharged" {
		t.Fatalf("visits of a: %v", got)
	}
}
