package clinical_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/extract"
)

func loadFile(t testing.TB, f fixture, mapping, file string) extract.Summary {
	t.Helper()
	m, err := extract.LoadMapping(mapping)
	if err != nil {
		t.Fatal(err)
	}
	l := &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: f.db}}
	sum, err := l.LoadFile(context.Background(), file, filepath.Join(f.dir, filepath.Base(file)+".rejects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestExtractsIntoTheClinicalDatabase loads the Clarity-style patients and
// results and the Cerner-style encounters of internal/extract's testdata.
func TestExtractsIntoTheClinicalDatabase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const td = "../extract/testdata/"
	p := loadFile(t, f, td+"clarity_patients.yaml", td+"clarity_patients.txt")
	e := loadFile(t, f, td+"cerner_encounters.yaml", td+"cerner_encounters.csv")
	r := loadFile(t, f, td+"clarity_results.yaml", td+"clarity_results.tsv")
	if p.Loaded == 0 || e.Loaded == 0 || r.Loaded == 0 {
		t.Fatalf("loaded %d patients, %d encounters, %d results", p.Loaded, e.Loaded, r.Loaded)
	}
	pid, err := f.db.FindPatient(ctx, []clinical.Identifier{{Value: "E1000001", Authority: "EPIC", Type: "MR"}})
	if err != nil {
		t.Fatal(err)
	}
	pt, _, ords, res, err := f.db.Records(ctx, pid)
	if err != nil || pt.Family != "ZZTEST" || pt.BirthDate != "19700131" || len(ords) == 0 || len(res) < 2 {
		t.Fatalf("E1000001: %+v, %d orders, %d results, %v", pt, len(ords), len(res), err)
	}
	// The result's reference range and abnormal flag are kept (WBC 11.8, 4.0-11.0, H).
	var wbc *clinical.Result
	for i := range res {
		if res[i].Code == "6690-2" {
			wbc = &res[i]
		}
	}
	if wbc == nil || wbc.Value != "11.8" || wbc.ReferenceRange != "4.0-11.0" || wbc.Abnormal != "H" {
		t.Fatalf("WBC result: %+v", wbc)
	}
	// Loading the same files again changes nothing: the watermark skips them all.
	if again := loadFile(t, f, td+"clarity_patients.yaml", td+"clarity_patients.txt"); again.Loaded != 0 {
		t.Fatalf("second load stored %d rows", again.Loaded)
	}
	// A result whose order belongs to another patient is refused, not moved.
	bad := filepath.Join(t.TempDir(), "results.tsv")
	head, _ := os.ReadFile(td + "clarity_results.tsv")
	lines := strings.SplitN(string(head), "\n", 3)
	row := strings.Replace(lines[1], "E1000001", "E1000002", 1)
	row = strings.Replace(row, "2025-01-15 10:00:00", "2025-02-15 10:00:00", 1)
	os.WriteFile(bad, []byte(lines[0]+"\n"+row+"\n"), 0o600)
	sum := loadFile(t, f, td+"clarity_results.yaml", bad)
	if sum.Rejected != 1 || sum.Loaded != 0 {
		t.Fatalf("result of another patient's order: %+v", sum)
	}
}

// BenchmarkExtractPatients: rows/s of a patient extract into the clinical
// database (sealed demographics, keyed-hash identifiers, durable batches).
func BenchmarkExtractPatients(b *testing.B) {
	const rows = 50000
	benchmarkExtract(b, "clarity_patients", rows, nil, func(sb *strings.Builder) {
		sb.WriteString("PAT_ID|PAT_MRN_ID|PAT_LAST_NAME|PAT_FIRST_NAME|PAT_MIDDLE_NAME|BIRTH_DATE|SEX_C|ZIP|UPDATE_DATE\n")
		for i := range rows {
			fmt.Fprintf(sb, "Z%d|E%07d|ZZTEST|ALPHA%d||1970-01-31 00:00:00|1|00000|2025-01-02 03:04:05\n", i, i, i)
		}
	})
}

// BenchmarkExtractEncounters: rows/s of an encounter extract, two visits
// a patient, the patients unknown (each made from its MRN by its first
// visit).
func BenchmarkExtractEncounters(b *testing.B) {
	const rows = 50000
	benchmarkExtract(b, "cerner_encounters", rows, nil, func(sb *strings.Builder) {
		sb.WriteString(`"ENCNTR_ID","FIN_NBR","MRN","ENCNTR_TYPE_CLASS","LOC_NURSE_UNIT","REG_DT_TM","DISCH_DT_TM","UPDT_DT_TM"` + "\r\n")
		for i := range rows {
			fmt.Fprintf(sb, `"%d","FIN%07d","C%07d","Inpatient","4 WEST","01/15/2025 08:30","01/18/2025 11:00","01/18/2025 11:05"`+"\r\n", i, i, i/2)
		}
	})
}

// BenchmarkExtractResults: rows/s of a result extract, five results an
// order, one order a patient, the patients loaded before (by a patient
// extract, not timed) and the orders unknown (each made by its first
// result).
func BenchmarkExtractResults(b *testing.B) {
	const rows = 50000
	before := func(b *testing.B, f fixture, dir string) {
		file := filepath.Join(dir, "patients.txt")
		var sb strings.Builder
		sb.WriteString("PAT_ID|PAT_MRN_ID|PAT_LAST_NAME|PAT_FIRST_NAME|PAT_MIDDLE_NAME|BIRTH_DATE|SEX_C|ZIP|UPDATE_DATE\n")
		for i := range rows / 5 {
			fmt.Fprintf(&sb, "Z%d|E%07d|ZZTEST|ALPHA%d||1970-01-31 00:00:00|1|00000|2025-01-02 03:04:05\n", i, i, i)
		}
		os.WriteFile(file, []byte(sb.String()), 0o600)
		if sum := loadFile(b, f, "../extract/testdata/clarity_patients.yaml", file); sum.Loaded != rows/5 {
			b.Fatalf("patients: %+v", sum)
		}
	}
	codes := []string{"718-7", "6690-2", "789-8", "787-2", "777-3"}
	benchmarkExtract(b, "clarity_results", rows, before, func(sb *strings.Builder) {
		sb.WriteString("ORDER_PROC_ID\tPAT_MRN_ID\tCOMPONENT_ID\tCOMPONENT_NAME\tLOINC_CODE\tORD_VALUE\tVALUE_TYPE\tREFERENCE_UNIT\tREFERENCE_RANGE\tRESULT_FLAG\tRESULT_STATUS_C\tRESULT_TIME\tUPDATE_DATE\n")
		for i := range rows {
			fmt.Fprintf(sb, "7%07d\tE%07d\t1526\tTEST\t%s\t13.20\tNUMERIC\tg/dL\t12.0-16.0\t\t2\t2025-01-15 09:12:00\t2025-01-15 10:00:00\n", i/5, i/5, codes[i%5])
		}
	})
}

// benchmarkExtract loads rows rows that write make, with the mapping of
// internal/extract/testdata named mapping, into a fresh database each
// time, after before (when not nil, not timed).
func benchmarkExtract(b *testing.B, mapping string, rows int, before func(*testing.B, fixture, string), write func(*strings.Builder)) {
	dir := b.TempDir()
	file := filepath.Join(dir, "extract")
	var sb strings.Builder
	write(&sb)
	os.WriteFile(file, []byte(sb.String()), 0o600)
	m, err := extract.LoadMapping("../extract/testdata/" + mapping + ".yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f := newFixture(&testing.T{})
		if before != nil {
			before(b, f, f.dir)
		}
		l := &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: f.db}}
		b.StartTimer()
		cpu0 := cpuTime()
		sum, err := l.LoadFile(context.Background(), file, filepath.Join(dir, "rejects.csv"))
		if err != nil || sum.Loaded != int64(rows) {
			b.Fatalf("%+v %v", sum, err)
		}
		b.ReportMetric(sum.RowsPerSecond(), "rows/s")
		// CPU time (user and system, all threads) per row: steadier than
		// rows/s on a shared machine.
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(rows), "cpu-µs/row")
	}
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
