package clinical_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/extract"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/testtools"
)

// load loads body (written to a file named name) with the mapping of
// internal/extract/testdata named mapping, and returns the summary and
// the reject file.
func load(t *testing.T, f fixture, mapping, name, body string, batch int, full bool) (extract.Summary, string) {
	t.Helper()
	m, err := extract.LoadMapping("../extract/testdata/" + mapping + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(f.dir, name)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: f.db}, BatchSize: batch, FullReload: full}
	sum, err := l.LoadFile(context.Background(), file, file+".rejects")
	if err != nil {
		t.Fatal(err)
	}
	rejects, _ := os.ReadFile(file + ".rejects")
	return sum, string(rejects)
}

func patientOf(t *testing.T, f fixture, authority, mrn string) string {
	t.Helper()
	pid, err := f.db.FindPatient(context.Background(), []clinical.Identifier{{Value: mrn, Authority: authority, Type: "MR"}})
	if err != nil {
		t.Fatalf("%s %s: %v", authority, mrn, err)
	}
	return pid
}

func records(t *testing.T, f fixture, pid string) ([]clinical.Encounter, []clinical.Order, []clinical.Result) {
	t.Helper()
	_, encs, ords, res, err := f.db.Records(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	return encs, ords, res
}

// onBoth runs test on a SQLite catalog and, when CLINOMICS_TEST_POSTGRES
// names a server (scripts/test starts one), on PostgreSQL, in a schema of
// its own.
func onBoth(t *testing.T, test func(*testing.T, fixture)) {
	t.Run("SQLite", func(t *testing.T) { test(t, newFixture(t)) })
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := testtools.PostgresSchema(t, "clinical")
		ctx := context.Background()
		st, err := catalog.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		dir := t.TempDir()
		kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
		if err != nil {
			t.Fatal(err)
		}
		db, err := clinical.Open(ctx, st, kr)
		if err != nil {
			t.Fatal(err)
		}
		test(t, fixture{db: db, st: st, dir: dir})
	})
}

const encHeader = `"ENCNTR_ID","FIN_NBR","MRN","ENCNTR_TYPE_CLASS","LOC_NURSE_UNIT","REG_DT_TM","DISCH_DT_TM","UPDT_DT_TM"` + "\r\n"

// TestExtractEncounterBatches: an encounter extract is stored a batch at
// a time; the patients of unknown MRNs are made once however many visits
// name them, a visit number of another patient is refused alone (with its
// line), a visit older than the stored one does not replace it, and a
// merged patient's MRN finds the survivor.
func TestExtractEncounterBatches(t *testing.T) {
	onBoth(t, testExtractEncounterBatches)
}

func testExtractEncounterBatches(t *testing.T, f fixture) {
	ctx := context.Background()
	sum, rej := load(t, f, "cerner_encounters", "enc1.csv", encHeader+
		`"1","FIN1","C1","Inpatient","4 WEST","01/15/2025 08:30","","01/18/2025 11:05"`+"\r\n"+
		`"2","FIN2","C1","Outpatient","CLINIC","01/16/2025 08:30","01/16/2025 10:00","01/18/2025 11:05"`+"\r\n"+
		`"3","FIN3","C2","Inpatient","4 WEST","01/15/2025 08:30","","01/18/2025 11:05"`+"\r\n"+
		`"4","FIN4","C3","Inpatient","4 WEST","01/15/2025 08:30","","01/18/2025 11:05"`+"\r\n"+
		`"5","FIN5","C2","Emergency","ED","01/17/2025 08:30","","01/18/2025 11:05"`+"\r\n", 4, false)
	if sum.Loaded != 5 || sum.Rejected != 0 {
		t.Fatalf("first load: %+v\n%s", sum, rej)
	}
	c1 := patientOf(t, f, "CERNER", "C1")
	if encs, _, _ := records(t, f, c1); len(encs) != 2 || encs[0].PatientID != c1 {
		t.Fatalf("C1: %+v", encs)
	}

	sum, rej = load(t, f, "cerner_encounters", "enc2.csv", encHeader+
		`"1","FIN1","C2","Inpatient","4 WEST","01/15/2025 08:30","","01/19/2025 11:05"`+"\r\n"+ // C1's visit
		`"3","FIN3","C2","Inpatient","5 EAST","01/15/2025 08:30","","01/19/2025 11:05"`+"\r\n"+
		`"6","FIN6","C4","Inpatient","4 WEST","01/15/2025 08:30","","01/19/2025 11:05"`+"\r\n", 10, false)
	if sum.Loaded != 2 || sum.Rejected != 1 || !strings.Contains(rej, "\n2,refused by the database: its identifiers or numbers belong to another patient,") {
		t.Fatalf("second load: %+v\n%s", sum, rej)
	}
	c2 := patientOf(t, f, "CERNER", "C2")
	location := func(pid, visit string) string {
		encs, _, _ := records(t, f, pid)
		for _, e := range encs {
			if e.VisitNumber == visit {
				return e.Location
			}
		}
		return ""
	}
	if got := location(c2, "FIN3"); got != "5 EAST" {
		t.Fatalf("FIN3 at %q after the newer row", got)
	}
	if encs, _, _ := records(t, f, c1); len(encs) != 2 {
		t.Fatalf("C1 after the refused row: %+v", encs)
	}

	// An older row (loaded again in full) leaves the newer visit; the
	// MRN of a merged patient finds the survivor.
	c4 := patientOf(t, f, "CERNER", "C4")
	err := f.db.Update(ctx, func(tx *clinical.Tx) error {
		_, err := tx.MergePatients(clinical.Patient{Identifiers: []clinical.Identifier{{Value: "C4", Authority: "CERNER", Type: "MR"}}},
			[]clinical.Identifier{{Value: "C3", Authority: "CERNER", Type: "MR"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, rej = load(t, f, "cerner_encounters", "enc3.csv", encHeader+
		`"3","FIN3","C2","Inpatient","OLD","01/15/2025 08:30","","01/18/2025 11:05"`+"\r\n"+
		`"7","FIN7","C3","Inpatient","4 WEST","01/20/2025 08:30","","01/20/2025 11:05"`+"\r\n", 10, true)
	if sum.Loaded != 2 || sum.Rejected != 0 {
		t.Fatalf("third load: %+v\n%s", sum, rej)
	}
	if got := location(c2, "FIN3"); got != "5 EAST" {
		t.Fatalf("FIN3 at %q after an older row", got)
	}
	if got := location(c4, "FIN7"); got != "4 WEST" {
		t.Fatalf("the merged patient's visit is not the survivor's")
	}
}

const resHeader = "ORDER_PROC_ID\tPAT_MRN_ID\tCOMPONENT_ID\tCOMPONENT_NAME\tLOINC_CODE\tORD_VALUE\tVALUE_TYPE\tREFERENCE_UNIT\tREFERENCE_RANGE\tRESULT_FLAG\tRESULT_STATUS_C\tRESULT_TIME\tUPDATE_DATE\n"

// TestExtractResultBatches: a result extract is stored a batch at a
// time; an order unknown is made by its first result, for that result's
// patient, and a later result of it naming another patient is refused
// alone (with its line); loading the file again changes nothing.
func TestExtractResultBatches(t *testing.T) {
	onBoth(t, testExtractResultBatches)
}

func testExtractResultBatches(t *testing.T, f fixture) {
	body := resHeader +
		"700\tE1\t1\tHGB\t718-7\t13.2\tNUMERIC\tg/dL\t\t\t2\t2025-01-15 09:12:00\t2025-01-15 10:00:00\n" +
		"700\tE1\t2\tWBC\t6690-2\t11.8\tNUMERIC\t10*3/uL\t\tH\t2\t2025-01-15 09:12:00\t2025-01-15 10:00:00\n" +
		"700\tE2\t3\tPLT\t777-3\t250\tNUMERIC\t10*3/uL\t\t\t2\t2025-01-15 09:12:00\t2025-01-15 10:00:00\n" + // E1's order
		"701\tE2\t1\tHGB\t718-7\t12.1\tNUMERIC\tg/dL\t\t\t2\t2025-01-15 09:12:00\t2025-01-15 10:00:00\n"
	var updated []time.Time // of E1's results, as first stored
	for round, full := range []bool{false, true} {
		sum, rej := load(t, f, "clarity_results", "res.tsv", body, 10, full)
		if sum.Loaded != 3 || sum.Rejected != 1 || !strings.Contains(rej, "\n4,refused by the database: its identifiers or numbers belong to another patient,") {
			t.Fatalf("round %d: %+v\n%s", round, sum, rej)
		}
		e1, e2 := patientOf(t, f, "EPIC", "E1"), patientOf(t, f, "EPIC", "E2")
		_, ords, res := records(t, f, e1)
		if len(ords) != 1 || ords[0].FillerNumber != "700" || ords[0].Status != "completed" || len(res) != 2 || res[0].OrderID != ords[0].ID {
			t.Fatalf("round %d: E1 %+v %+v", round, ords, res)
		}
		_, ords, res = records(t, f, e2)
		if len(ords) != 1 || ords[0].FillerNumber != "701" || len(res) != 1 || res[0].Value != "12.1" {
			t.Fatalf("round %d: E2 %+v %+v", round, ords, res)
		}
		// Loaded again, results equal to the stored ones are not written.
		_, _, rows, err := f.st.ListPatientRecords(context.Background(), e1)
		if err != nil || len(rows) != 2 {
			t.Fatalf("round %d: %d rows, %v", round, len(rows), err)
		}
		for i, r := range rows {
			if round == 0 {
				updated = append(updated, r.Updated)
			} else if !r.Updated.Equal(updated[i]) {
				t.Errorf("result %s written again (updated %v, was %v)", r.ID, r.Updated, updated[i])
			}
		}
	}
}

// TestLegacyBase64RecordsOpen: records a SQLite catalog stored as base64
// text, before sealed records were stored as BLOBs, open, and a newer
// extract row replaces them.
func TestLegacyBase64RecordsOpen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	load(t, f, "cerner_encounters", "enc.csv", encHeader+
		`"1","FIN1","C1","Inpatient","4 WEST","01/15/2025 08:30","","01/18/2025 11:05"`+"\r\n", 0, false)
	load(t, f, "clarity_patients", "pat.txt", patHeader+"Z1|E1|ZZTEST|ALPHA||1970-01-31 00:00:00|1|00000|2025-01-02 03:04:05\n", 0, false)
	pid, e1 := patientOf(t, f, "CERNER", "C1"), patientOf(t, f, "EPIC", "E1")
	f.st.Close()
	db, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"patients", "encounters"} {
		rows, err := db.Query(`SELECT id, sealed FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		legacy := map[string]string{}
		for rows.Next() {
			var id string
			var sealed []byte
			if err := rows.Scan(&id, &sealed); err != nil {
				t.Fatal(err)
			}
			legacy[id] = base64.StdEncoding.EncodeToString(sealed)
		}
		rows.Close()
		for id, text := range legacy {
			if _, err := db.Exec(`UPDATE `+table+` SET sealed = ? WHERE id = ?`, text, id); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if db.QueryRow(`SELECT count(*) FROM ` + table + ` WHERE typeof(sealed) != 'text'`).Scan(&n); n != 0 || len(legacy) == 0 {
			t.Fatalf("%s: %d rows not text of %d", table, n, len(legacy))
		}
	}
	db.Close()
	f = f.reopen(t)
	if encs, _, _ := records(t, f, pid); len(encs) != 1 || encs[0].Location != "4 WEST" {
		t.Fatalf("legacy records: %+v", encs)
	}
	sum, rej := load(t, f, "cerner_encounters", "enc2.csv", encHeader+
		`"1","FIN1","C1","Inpatient","5 EAST","01/15/2025 08:30","","01/19/2025 11:05"`+"\r\n", 0, false)
	if sum.Loaded != 1 || sum.Rejected != 0 {
		t.Fatalf("%+v\n%s", sum, rej)
	}
	if encs, _, _ := records(t, f, pid); len(encs) != 1 || encs[0].Location != "5 EAST" {
		t.Fatalf("after a newer row: %+v", encs)
	}
	if p, _, _, _, err := f.db.Records(ctx, e1); err != nil || p.Given != "ALPHA" {
		t.Fatalf("legacy patient: %+v, %v", p, err)
	}
	load(t, f, "clarity_patients", "pat2.txt", patHeader+"Z1|E1|ZZTEST|BETA||1970-01-31 00:00:00|1|00000|2025-01-03 03:04:05\n", 0, false)
	if p, _, _, _, err := f.db.Records(ctx, e1); err != nil || p.Given != "BETA" || p.BirthDate != "19700131" {
		t.Fatalf("legacy patient after a newer row: %+v, %v", p, err)
	}
}

const patHeader = "PAT_ID|PAT_MRN_ID|PAT_LAST_NAME|PAT_FIRST_NAME|PAT_MIDDLE_NAME|BIRTH_DATE|SEX_C|ZIP|UPDATE_DATE\n"

// TestExtractPatientBatches: a patient extract, prepared (hashed and
// sealed) ahead of its transactions, on both catalogs: the newer row
// wins, a reload changes nothing.
func TestExtractPatientBatches(t *testing.T) {
	onBoth(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		body := patHeader +
			"Z1|E1|ZZTEST|ALPHA||1970-01-31 00:00:00|1|00000|2025-01-02 03:04:05\n" +
			"Z2|E2|ZZTEST|BRAVO||1980-02-29 00:00:00|2|00000|2025-01-02 03:04:05\n" +
			"Z3|E3|ZZTEST|CHARLIE||1990-03-01 00:00:00|1|00000|2025-01-02 03:04:05\n"
		if sum, rej := load(t, f, "clarity_patients", "p1.txt", body, 2, false); sum.Loaded != 3 || sum.Rejected != 0 {
			t.Fatalf("%+v\n%s", sum, rej)
		}
		e2 := patientOf(t, f, "EPIC", "E2")
		older := patHeader + "Z2|E2|ZZTEST|OLDER||1980-02-29 00:00:00|2|00000|2025-01-01 03:04:05\n" +
			"Z3|E3|ZZTEST|NEWER||1990-03-01 00:00:00|1|00000|2025-01-03 03:04:05\n"
		if sum, rej := load(t, f, "clarity_patients", "p2.txt", older, 2, true); sum.Loaded != 2 || sum.Rejected != 0 {
			t.Fatalf("%+v\n%s", sum, rej)
		}
		for _, tc := range []struct{ mrn, given string }{{"E1", "ALPHA"}, {"E2", "BRAVO"}, {"E3", "NEWER"}} {
			pid := patientOf(t, f, "EPIC", tc.mrn)
			if p, _, _, _, err := f.db.Records(ctx, pid); err != nil || p.Given != tc.given {
				t.Errorf("%s: %+v, %v; want %s", tc.mrn, p, err, tc.given)
			}
		}
		if sum, _ := load(t, f, "clarity_patients", "p1.txt", body, 2, true); sum.Loaded != 3 || patientOf(t, f, "EPIC", "E2") != e2 {
			t.Errorf("reload: %+v", sum)
		}
	})
}
