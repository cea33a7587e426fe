package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMigrationPlan(t *testing.T) {
	tests := []struct {
		names    []string
		sqlite   []migration
		postgres []migration
		err      string
	}{
		{
			names:    []string{"m/0002_b.sql", "m/0001_a.sql"},
			sqlite:   []migration{{1, "m/0001_a.sql"}, {2, "m/0002_b.sql"}},
			postgres: []migration{{1, "m/0001_a.sql"}, {2, "m/0002_b.sql"}},
		},
		{
			// A version of one dialect only is recorded (with nothing to
			// run) by the other, so versions stay aligned.
			names:    []string{"m/0001_a.sql", "m/0002_b.sqlite.sql", "m/0003_c.sql"},
			sqlite:   []migration{{1, "m/0001_a.sql"}, {2, "m/0002_b.sqlite.sql"}, {3, "m/0003_c.sql"}},
			postgres: []migration{{1, "m/0001_a.sql"}, {2, ""}, {3, "m/0003_c.sql"}},
		},
		{
			names:    []string{"m/0001_b.postgres.sql", "m/0001_b.sqlite.sql"},
			sqlite:   []migration{{1, "m/0001_b.sqlite.sql"}},
			postgres: []migration{{1, "m/0001_b.postgres.sql"}},
		},
		{names: []string{"m/0001_a.sql", "m/0001_a.sqlite.sql"}, err: "a file for both dialects and one for a single dialect"},
		{names: []string{"m/0001_a.sqlite.sql", "m/0001_a.sql"}, err: "a file for both dialects and one for a single dialect"},
		{names: []string{"m/0001_a.sql", "m/0001_b.sql"}, err: "same version"},
		{names: []string{"m/0001_a.sqlite.sql", "m/0001_b.sqlite.sql"}, err: "same version"},
		{names: []string{"m/0001_a.mysql.sql"}, err: "unknown dialect"},
		{names: []string{"m/init.sql"}, err: "must start with a positive number"},
		{names: []string{"m/0000_a.sql"}, err: "must start with a positive number"},
	}
	for _, tc := range tests {
		for _, d := range []struct {
			dialect string
			want    []migration
		}{{"sqlite", tc.sqlite}, {"postgres", tc.postgres}} {
			got, err := migrationPlan(tc.names, d.dialect)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%v, %s: error %v, want one containing %q", tc.names, d.dialect, err, tc.err)
				}
				continue
			}
			if err != nil || !slices.Equal(got, d.want) {
				t.Errorf("%v, %s: %v, %v; want %v", tc.names, d.dialect, got, err, d.want)
			}
		}
	}
}

// TestSQLiteMigrationRebuildsAudit: a database made by the schema before
// migration 11, with audit records, is migrated by Open: its records are
// kept and audit_events is one B-tree (seq the rowid) plus its index.
func TestSQLiteMigrationRebuildsAudit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	old := &sqlStore{db: db}
	if err := old.migrateTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := db.Exec(`INSERT INTO audit_events (seq, time, actor, action, resource, patient, outcome, detail, prev, hash, source)
			VALUES (?, ?, 'a', 'x', 'r', ?, 'ok', '', ?, ?, 's')`, i, i*10, fmt.Sprintf("p%d", i%2), fmt.Sprintf("h%d", i-1), fmt.Sprintf("h%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.(*sqlStore)
	var n, max int
	if err := st.db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max); err != nil || n != max || max < 11 {
		t.Fatalf("schema_migrations: %d rows, max %d, %v", n, max, err)
	}
	var ddl string
	if err := st.db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ddl, "seq         INTEGER PRIMARY KEY") {
		t.Errorf("audit_events after the migration: %s", ddl)
	}
	var idx []string
	rows, err := st.db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		idx = append(idx, name)
	}
	rows.Close()
	if !slices.Equal(idx, []string{"audit_events_patient"}) {
		t.Errorf("indexes of audit_events: %v, want only audit_events_patient", idx)
	}
	evs, err := s.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[2].Seq != 3 || evs[2].Hash != "h3" || evs[2].Prev != "h2" || evs[2].Source != "s" || evs[2].Patient != "p1" {
		t.Fatalf("audit records after the migration: %+v", evs)
	}
	// The chain goes on from the copied records.
	out, err := s.AppendAudit(ctx, AuditEvent{Actor: "a", Action: "x", Outcome: "ok"})
	if err != nil || out.Seq != 4 || out.Prev != "h3" {
		t.Fatalf("append after the migration: %+v, %v", out, err)
	}
}

// TestClinicalQueryPlans: every hot statement of the clinical tables and
// the audit trail, and the lists by patient, sample and state, find their
// rows through a key or an index (SQLite's plan has no full SCAN of a
// table), and no index exists that none of them uses.
func TestClinicalQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.(*sqlStore)
	qs := slices.Concat(clinicalQueries, auditQueries, []string{
		`SELECT hash FROM patient_ids WHERE patient_id = ? ORDER BY hash`, // PatientIdentifiers
		`UPDATE encounters SET patient_id = ? WHERE patient_id = ?`,       // MovePatientRecords
		`UPDATE orders SET patient_id = ? WHERE patient_id = ?`,
		`UPDATE results SET patient_id = ? WHERE patient_id = ?`,
		`SELECT id, patient_id, key_hash, order_id, sealed, updated FROM results WHERE patient_id = ? ORDER BY id`, // ListPatientRecords
		`SELECT id, patient_id, key_hash, sample_id, status, sealed, updated FROM orders WHERE patient_id = ? ORDER BY id`,
		`SELECT DISTINCT patient_id FROM orders WHERE sample_id = ? AND sample_id != ''`,         // PatientOfSample
		`SELECT ` + hl7Cols + ` FROM hl7_messages WHERE state = ? ORDER BY received, id LIMIT ?`, // ListHL7Messages
		`SELECT ` + hl7Cols + ` FROM hl7_messages WHERE id = ?`,
		`SELECT ` + auditCols + ` FROM audit_events WHERE patient = ? AND seq > ? ORDER BY seq LIMIT ?`,
	})
	used := map[string]bool{}
	for _, q := range qs {
		if !strings.Contains(q, "?") {
			continue // no lookup (the savepoints)
		}
		args := make([]any, strings.Count(q, "?"))
		rows, err := st.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
			for _, w := range strings.Fields(detail) {
				used[w] = true
			}
		}
		rows.Close()
		for _, d := range plan {
			if strings.HasPrefix(d, "SCAN ") && !strings.HasSuffix(d, "VALUES CLAUSE") && !strings.HasPrefix(d, "SCAN CONSTANT") && !strings.Contains(d, "USING") && !strings.Contains(d, "VIRTUAL") &&
				!strings.HasPrefix(d, "SCAN audit_events") /* qLastAudit: ORDER BY seq DESC LIMIT 1, the rowid's end */ {
				t.Errorf("%.100s: %v", q, plan)
			}
		}
	}
	rows, err := st.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN
		('patients', 'patient_ids', 'encounters', 'orders', 'results', 'hl7_messages', 'audit_events')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		rows.Scan(&name)
		if !used[name] {
			t.Errorf("index %s is used by none of the statements", name)
		}
	}
}
