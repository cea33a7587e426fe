package audit_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
)

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// trail writes 30 records through a Log that signs every 10 (checkpoints
// at 10, 20 and 30), then 3 more straight to the catalog (unsigned, as the
// lake's own records are until the Log's next checkpoint).
func trail(t *testing.T) (catalog.Store, *sql.DB, *audit.Signer) {
	t.Helper()
	s, path := openCatalog(t)
	signer := newSigner(t)
	l := audit.New(s, signer, audit.Options{CheckpointEvery: 10})
	for i := 1; i <= 30; i++ {
		e := audit.Event{Actor: fmt.Sprint("user:u", i%3), Action: "object.read", Resource: fmt.Sprint("results/S", i, ".vcf.gz"),
			Patient: fmt.Sprint("P", i%4), Source: "10.0.0.9", Outcome: audit.OK}
		if i%10 == 5 {
			e.BreakGlass = "emergency department"
		}
		must(t, l.Record(ctx, e))
	}
	must(t, l.Close())
	for i := range 3 {
		_, err := s.AppendAudit(ctx, catalog.AuditEvent{Actor: "cli:root", Action: "lake.delete", Resource: fmt.Sprint("p/", i), Outcome: audit.OK})
		must(t, err)
	}
	db, err := sql.Open("sqlite", path)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	return s, db, signer
}

// rehash rewrites records from..to (inclusive) with fresh, consistent
// hashes after change has altered them, as an attacker who knows the
// algorithm would.
func rehash(t *testing.T, s catalog.Store, db *sql.DB, from, to int64, change func(e *catalog.AuditEvent)) {
	t.Helper()
	evs, err := s.ListAudit(ctx, from-1, int(to-from+1))
	must(t, err)
	prev := ""
	if from > 1 {
		before, err := s.ListAudit(ctx, from-2, 1)
		must(t, err)
		prev = before[0].Hash
	}
	for _, e := range evs {
		e.Prev = prev
		if change != nil {
			change(&e)
		}
		e.Hash = catalog.AuditHash(e)
		if _, err := db.Exec(`UPDATE audit_events SET detail = ?, prev = ?, hash = ? WHERE seq = ?`, e.Detail, e.Prev, e.Hash, e.Seq); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	type bad struct {
		seq     int64
		problem audit.Problem
	}
	cases := []struct {
		name       string
		tamper     func(t *testing.T, s catalog.Store, db *sql.DB)
		first      *bad  // nil: no bad record
		checkpoint []bad // bad checkpoints
		unsigned   int64
		pinOther   bool // verify against a key that signed nothing
	}{
		{name: "intact", unsigned: 3},
		{name: "edited actor", tamper: sqlTamper(`UPDATE audit_events SET actor = 'user:someone-else' WHERE seq = 7`),
			first: &bad{7, audit.Edited}, unsigned: 3},
		{name: "edited time", tamper: sqlTamper(`UPDATE audit_events SET time = time + 1 WHERE seq = 12`),
			first: &bad{12, audit.Edited}, unsigned: 3},
		{name: "break-glass reason removed", tamper: sqlTamper(`UPDATE audit_events SET break_glass = '' WHERE seq = 15`),
			first: &bad{15, audit.Edited}, unsigned: 3},
		{name: "new-style record passed off as old (source and reason removed)", tamper: sqlTamper(`UPDATE audit_events SET source = '', break_glass = '' WHERE seq = 25`),
			first: &bad{25, audit.Edited}, unsigned: 3},
		{name: "deleted record", tamper: sqlTamper(`DELETE FROM audit_events WHERE seq = 15`),
			first: &bad{15, audit.Missing}, unsigned: 3},
		{name: "deleted records", tamper: sqlTamper(`DELETE FROM audit_events WHERE seq BETWEEN 4 AND 6`),
			first: &bad{4, audit.Missing}, unsigned: 3},
		{name: "deleted first record", tamper: sqlTamper(`DELETE FROM audit_events WHERE seq = 1`),
			first: &bad{1, audit.Missing}, unsigned: 3},
		{name: "deleted signed record", tamper: sqlTamper(`DELETE FROM audit_events WHERE seq = 20`),
			first: &bad{20, audit.Missing}, checkpoint: []bad{{20, audit.Missing}}, unsigned: 3},
		{name: "reordered records", tamper: sqlTamper(`UPDATE audit_events SET seq = -8 WHERE seq = 8`,
			`UPDATE audit_events SET seq = 8 WHERE seq = 9`, `UPDATE audit_events SET seq = 9 WHERE seq = -8`),
			first: &bad{8, audit.Edited}, unsigned: 3},
		{name: "edited and rehashed", tamper: func(t *testing.T, s catalog.Store, db *sql.DB) {
			rehash(t, s, db, 5, 5, func(e *catalog.AuditEvent) { e.Detail = "nothing to see" })
		}, first: &bad{5, audit.BrokenLink}, unsigned: 3},
		{name: "prev changed and rehashed", tamper: func(t *testing.T, s catalog.Store, db *sql.DB) {
			rehash(t, s, db, 5, 5, func(e *catalog.AuditEvent) { e.Prev = "0000" })
		}, first: &bad{5, audit.BrokenLink}, unsigned: 3},
		{name: "history rewritten and every hash recomputed", tamper: func(t *testing.T, s catalog.Store, db *sql.DB) {
			rehash(t, s, db, 14, 33, func(e *catalog.AuditEvent) {
				if e.Seq == 14 {
					e.Detail = "rewritten"
				}
			})
		}, first: &bad{11, audit.Rewritten}, checkpoint: []bad{{20, audit.Rewritten}, {30, audit.Rewritten}}, unsigned: 23},
		{name: "truncated past a checkpoint", tamper: sqlTamper(`DELETE FROM audit_events WHERE seq > 25`),
			first: &bad{26, audit.Truncated}, checkpoint: []bad{{30, audit.Truncated}}, unsigned: 5},
		// Not detectable: the removed records were neither signed nor exported.
		{name: "truncated after the last checkpoint", tamper: sqlTamper(`DELETE FROM audit_events WHERE seq > 31`), unsigned: 1},
		{name: "truncated after export", tamper: func(t *testing.T, s catalog.Store, db *sql.DB) {
			must(t, s.PutAuditCursor(ctx, "syslog:siem:6514", 33))
			sqlTamper(`DELETE FROM audit_events WHERE seq > 31`)(t, s, db)
		}, first: &bad{32, audit.Truncated}, unsigned: 1},
		{name: "checkpoint hash changed", tamper: sqlTamper(`UPDATE audit_checkpoints SET hash = 'ff' WHERE seq = 20`),
			checkpoint: []bad{{20, audit.BadSignature}}, unsigned: 3},
		{name: "checkpoint moved", tamper: sqlTamper(`UPDATE audit_checkpoints SET seq = 19 WHERE seq = 20`),
			checkpoint: []bad{{19, audit.BadSignature}}, unsigned: 3},
		{name: "checkpoints by another key", pinOther: true,
			checkpoint: []bad{{10, audit.UnknownKey}, {20, audit.UnknownKey}, {30, audit.UnknownKey}}, unsigned: 33},
		// Not detectable either: without checkpoints, Unsigned says how
		// much of the end is unprotected.
		{name: "checkpoints deleted", tamper: sqlTamper(`DELETE FROM audit_checkpoints`), unsigned: 33},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, db, signer := trail(t)
			if tc.tamper != nil {
				tc.tamper(t, s, db)
			}
			key := signer.PublicKey()
			if tc.pinOther {
				key, _, _ = ed25519.GenerateKey(rand.Reader)
			}
			res, err := audit.Verify(ctx, s, audit.VerifyOptions{Keys: []ed25519.PublicKey{key}})
			must(t, err)
			switch {
			case tc.first == nil && res.FirstBad != nil:
				t.Errorf("first bad record: %v, want none", res.FirstBad)
			case tc.first != nil && res.FirstBad == nil:
				t.Errorf("no bad record found, want seq %d (%s)", tc.first.seq, tc.first.problem)
			case tc.first != nil && (res.FirstBad.Seq != tc.first.seq || res.FirstBad.Problem != tc.first.problem):
				t.Errorf("first bad record: %v, want seq %d (%s)", res.FirstBad, tc.first.seq, tc.first.problem)
			}
			var got []bad
			for _, f := range res.BadCheckpoints {
				got = append(got, bad{f.Seq, f.Problem})
			}
			if !slices.Equal(got, tc.checkpoint) {
				t.Errorf("bad checkpoints %v, want %v", res.BadCheckpoints, tc.checkpoint)
			}
			if res.Unsigned != tc.unsigned {
				t.Errorf("unsigned %d, want %d", res.Unsigned, tc.unsigned)
			}
			if res.OK() != (tc.first == nil && tc.checkpoint == nil) {
				t.Errorf("OK() = %v", res.OK())
			}
		})
	}
}

func sqlTamper(stmts ...string) func(t *testing.T, s catalog.Store, db *sql.DB) {
	return func(t *testing.T, _ catalog.Store, db *sql.DB) {
		t.Helper()
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
}

func TestVerifyWithCatalogKeys(t *testing.T) {
	s, _ := openCatalog(t)
	signer := newSigner(t)
	must(t, s.PutAuditKey(ctx, catalog.AuditKey{ID: signer.KeyID(), PublicKey: signer.PublicKey(), KeyName: audit.SigningKeyName, KeyVersion: "1", Wrapped: []byte("w")}))
	l := audit.New(s, signer, audit.Options{CheckpointEvery: 2})
	for range 4 {
		must(t, l.Record(ctx, audit.Event{Actor: "service:hl7", Action: "hl7.adt", Patient: "P1", Source: "mllp:10.1.1.1", Outcome: audit.OK}))
	}
	must(t, l.Close())
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	must(t, err)
	if !res.OK() || res.Checkpoints != 2 || res.Records != 4 || res.Keys != "the keys recorded in the catalog" {
		t.Fatalf("%+v", res)
	}
}

func TestReport(t *testing.T) {
	s, _, _ := trail(t)
	evs, err := audit.Report(ctx, s, "P1")
	must(t, err)
	var seqs []int64
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
		if e.Patient != "P1" || e.Source != "10.0.0.9" || e.Actor == "" {
			t.Errorf("record %+v", e)
		}
	}
	if want := []int64{1, 5, 9, 13, 17, 21, 25, 29}; !slices.Equal(seqs, want) {
		t.Errorf("P1: seqs %v, want %v", seqs, want)
	}
	if evs[1].BreakGlass != "emergency department" {
		t.Errorf("break-glass reason lost: %+v", evs[1])
	}
	if _, err := audit.Report(ctx, s, ""); err == nil {
		t.Error("a report without a patient")
	}
}
