package catalog_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// TestAuditHashKeepsOldRecords: a record without Source and BreakGlass hashes
// exactly as records did before migration 0004, so an existing trail still
// verifies; setting either field changes the hash.
func TestAuditHashKeepsOldRecords(t *testing.T) {
	e := catalog.AuditEvent{Seq: 7, Time: time.Unix(1700000000, 123), Actor: "cli:alice", Action: "lake.delete",
		Resource: "p/x", Patient: "P1", Outcome: "ok", Detail: "d", Prev: "abc"}
	b, _ := json.Marshal([]any{e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Resource, e.Patient, e.Outcome, e.Detail, e.Prev})
	sum := sha256.Sum256(b)
	if got, want := catalog.AuditHash(e), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("hash of a pre-0004 record changed: %s, want %s", got, want)
	}
	base := catalog.AuditHash(e)
	seen := map[string]bool{base: true}
	for _, f := range []func(*catalog.AuditEvent){
		func(e *catalog.AuditEvent) { e.Source = "cli" },
		func(e *catalog.AuditEvent) { e.BreakGlass = "cli" }, // the same value in the other field
		func(e *catalog.AuditEvent) { e.Source, e.BreakGlass = "cli", "emergency" },
		func(e *catalog.AuditEvent) { e.Detail, e.Source = "", "d" }, // a value moved between fields
	} {
		c := e
		f(&c)
		h := catalog.AuditHash(c)
		if seen[h] {
			t.Errorf("%+v hashes like another record", c)
		}
		seen[h] = true
	}
}

// TestAuditMigrationKeepsChain: records written by the schema before
// migration 0004 read back with empty Source and BreakGlass and their
// stored hashes still match.
func TestAuditMigrationKeepsChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`,
		`CREATE TABLE audit_events (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
			resource TEXT NOT NULL, patient TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	prev := ""
	for i := int64(1); i <= 3; i++ {
		e := catalog.AuditEvent{Seq: i, Time: time.Unix(1700000000+i, 0).UTC(), Actor: "cli:root", Action: "key.rotate", Resource: "lake", Outcome: "ok", Prev: prev}
		e.Hash = catalog.AuditHash(e)
		if _, err := db.Exec(`INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Resource, e.Patient, e.Outcome, e.Detail, e.Prev, e.Hash); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	// Pretend migrations 1 to 3 ran (only the audit table matters here).
	for v := 1; v <= 3; v++ {
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := catalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AppendAudit(context.Background(), catalog.AuditEvent{Actor: "user:u1", Action: "object.read", Source: "10.1.2.3", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListAudit(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	prev = ""
	for _, e := range evs {
		if e.Prev != prev || e.Hash != catalog.AuditHash(e) {
			t.Fatalf("record %d does not verify after the migration: %+v", e.Seq, e)
		}
		prev = e.Hash
	}
	if len(evs) != 4 || evs[3].Source != "10.1.2.3" {
		t.Fatalf("records: %+v", evs)
	}
}
