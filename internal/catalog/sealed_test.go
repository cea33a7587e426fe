package catalog

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSealedLegacyBase64 reads sealed records that SQLite catalogs
// stored as base64 text before they were stored as BLOBs, beside new
// ones, by every read of the clinical tables; and a record written again
// becomes a BLOB.
func TestSealedLegacyBase64(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	old, now := []byte("sealed\x00before\xff"), time.Now().UTC()
	legacy := b64.EncodeToString(old)
	for _, q := range []string{
		`INSERT INTO patients (id, merged_into, sealed, created, updated) VALUES ('p-old', '', ?, 1, 1)`,
		`INSERT INTO encounters (id, patient_id, key_hash, sealed, updated) VALUES ('e-old', 'p-old', 'ek-old', ?, 1)`,
		`INSERT INTO orders (id, patient_id, key_hash, sample_id, status, sealed, updated) VALUES ('o-old', 'p-old', 'ok-old', '', 'new', ?, 1)`,
		`INSERT INTO results (id, patient_id, order_id, key_hash, sealed, updated) VALUES ('r-old', 'p-old', 'o-old', 'rk-old', ?, 1)`,
	} {
		if _, err := s.db.ExecContext(ctx, q, legacy); err != nil {
			t.Fatal(err)
		}
	}
	fresh := []byte("sealed\x00now")
	err = s.InClinicalTx(ctx, func(tx ClinicalTx) error {
		if err := tx.PutPatients(ctx, []PatientRow{{ID: "p-new", Sealed: fresh, Created: now, Updated: now}}); err != nil {
			return err
		}
		if err := tx.PutEncounters(ctx, []ClinicalRow{{ID: "e-new", PatientID: "p-new", KeyHash: "ek-new", Sealed: fresh, Updated: now}}); err != nil {
			return err
		}
		if err := tx.PutOrders(ctx, []OrderRow{{ID: "o-new", PatientID: "p-new", KeyHash: "ok-new", Status: "new", Sealed: fresh, Updated: now}}); err != nil {
			return err
		}
		return tx.PutResults(ctx, []ClinicalRow{{ID: "r-new", PatientID: "p-new", OrderID: "o-new", KeyHash: "rk-new", Sealed: fresh, Updated: now}})
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Errorf("%s: sealed %q, want %q", what, got, want)
		}
	}
	err = s.InClinicalTx(ctx, func(tx ClinicalTx) error {
		p, err := tx.GetPatient(ctx, "p-old")
		if err != nil {
			return err
		}
		check("GetPatient", p.Sealed, old)
		ps, err := tx.GetPatients(ctx, []string{"p-old", "p-new"})
		if err != nil {
			return err
		}
		check("GetPatients, old", ps["p-old"].Sealed, old)
		check("GetPatients, new", ps["p-new"].Sealed, fresh)
		e, err := tx.GetEncounter(ctx, "ek-old")
		if err != nil {
			return err
		}
		check("GetEncounter", e.Sealed, old)
		es, err := tx.GetEncounters(ctx, []string{"ek-old", "ek-new"})
		if err != nil {
			return err
		}
		check("GetEncounters, old", es["ek-old"].Sealed, old)
		check("GetEncounters, new", es["ek-new"].Sealed, fresh)
		o, err := tx.GetOrder(ctx, "ok-old")
		if err != nil {
			return err
		}
		check("GetOrder", o.Sealed, old)
		os, err := tx.GetOrders(ctx, []string{"ok-old", "ok-new"})
		if err != nil {
			return err
		}
		check("GetOrders, old", os["ok-old"].Sealed, old)
		check("GetOrders, new", os["ok-new"].Sealed, fresh)
		r, err := tx.GetResult(ctx, "rk-old")
		if err != nil {
			return err
		}
		check("GetResult", r.Sealed, old)
		rs, err := tx.GetResults(ctx, []string{"rk-old", "rk-new"})
		if err != nil {
			return err
		}
		check("GetResults, old", rs["rk-old"].Sealed, old)
		check("GetResults, new", rs["rk-new"].Sealed, fresh)
		// Written again, the old patient is a BLOB too.
		p.Sealed = []byte("sealed\x00again")
		return tx.PutPatient(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	enc, ord, res, err := s.ListPatientRecords(ctx, "p-old")
	if err != nil || len(enc) != 1 || len(ord) != 1 || len(res) != 1 {
		t.Fatalf("ListPatientRecords: %d, %d, %d, %v", len(enc), len(ord), len(res), err)
	}
	check("ListPatientRecords, encounter", enc[0].Sealed, old)
	check("ListPatientRecords, order", ord[0].Sealed, old)
	check("ListPatientRecords, result", res[0].Sealed, old)
	for _, tc := range []struct{ table, id, typ string }{
		{"patients", "p-old", "blob"}, {"patients", "p-new", "blob"}, {"encounters", "e-old", "text"}, {"encounters", "e-new", "blob"},
		{"orders", "o-new", "blob"}, {"results", "r-new", "blob"},
	} {
		var typ string
		if err := s.db.QueryRowContext(ctx, `SELECT typeof(sealed) FROM `+tc.table+` WHERE id = ?`, tc.id).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if typ != tc.typ {
			t.Errorf("%s %s: sealed stored as %s, want %s", tc.table, tc.id, typ, tc.typ)
		}
	}
}

// TestCorruptBase64IsAnError: a sealed column whose text is not base64
// (damaged outside clinomics) fails the read, naming the column, instead
// of reading as a record that does not open.
func TestCorruptBase64IsAnError(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO patients (id, merged_into, sealed, created, updated) VALUES ('p-bad', '', 'not*base64!', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	err = s.InClinicalTx(ctx, func(tx ClinicalTx) error {
		_, err := tx.GetPatient(ctx, "p-bad")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `"sealed"`) || !strings.Contains(err.Error(), "not base64") {
		t.Fatalf("corrupt sealed column read: %v", err)
	}
}
