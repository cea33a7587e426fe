package extract

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Benchmarks of a 1,000,000-row Clarity-style patient extract:
//
//	go test ./internal/extract -run '^$' -bench . -benchtime 3x
//
// BenchmarkLoadSQLite is the whole path (read, map, upsert into SQLite in
// WAL mode, one transaction per batch) at several batch sizes; MapOnly
// stops at the Sink; SQLiteOnly upserts records made beforehand;
// PeerSQLite3CLI loads the same file with the sqlite3 shell's .import and
// one INSERT ... SELECT doing the same mapping in SQL, for comparison.

const benchRows = 1_000_000

// benchExtract writes the extract into the benchmark's temporary folder.
func benchExtract(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "PATIENTS_1M.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := writeClarityExtract(f, benchRows); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchMapping(b *testing.B) *Mapping {
	m, err := ParseMapping(strings.NewReader(clarityMapping))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkLoadSQLite(b *testing.B) {
	path := benchExtract(b)
	m := benchMapping(b)
	for _, tc := range []struct {
		batch    int
		multiRow bool
	}{{1000, false}, {5000, false}, {20000, false}, {1000, true}, {5000, true}, {20000, true}} {
		name := "batch=" + itoa(tc.batch) + "/rows_per_insert=1"
		if tc.multiRow {
			name = "batch=" + itoa(tc.batch) + "/rows_per_insert=" + itoa(multiRows)
		}
		batch := tc.batch
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var rows int64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				sink, err := openSQLiteSink(ctx, filepath.Join(dir, "bench.sqlite"))
				if err != nil {
					b.Fatal(err)
				}
				sink.multiRow = tc.multiRow
				l := &Loader{Mapping: m, Sink: sink, BatchSize: batch}
				b.StartTimer()
				start := time.Now()
				sum, err := l.LoadFile(ctx, path, filepath.Join(dir, "rejects.csv"))
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if sum.Loaded != benchRows-benchRows/1000 {
					b.Fatalf("%v", sum)
				}
				rows += sum.Read
				sink.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		})
	}
}

// discardSink takes every batch and stores nothing.
type discardSink struct{}

func (discardSink) Watermark(context.Context, string) (time.Time, error)      { return time.Time{}, nil }
func (discardSink) UpsertPatients(context.Context, *Batch[Patient]) error     { return nil }
func (discardSink) UpsertEncounters(context.Context, *Batch[Encounter]) error { return nil }
func (discardSink) UpsertResults(context.Context, *Batch[Result]) error       { return nil }

func BenchmarkMapOnly(b *testing.B) {
	path := benchExtract(b)
	m := benchMapping(b)
	ctx := context.Background()
	var rows int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		l := &Loader{Mapping: m, Sink: discardSink{}}
		sum, err := l.LoadFile(ctx, path, filepath.Join(b.TempDir(), "rejects.csv"))
		if err != nil {
			b.Fatal(err)
		}
		rows += sum.Read
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkSQLiteOnly upserts the records of the extract, mapped
// beforehand, in batches of 5000: the database's share of the load.
func BenchmarkSQLiteOnly(b *testing.B) {
	for _, multiRow := range []bool{false, true} {
		b.Run("rows_per_insert="+map[bool]string{false: "1", true: itoa(multiRows)}[multiRow], func(b *testing.B) {
			benchSQLiteOnly(b, multiRow)
		})
	}
}

func benchSQLiteOnly(b *testing.B, multiRow bool) {
	path := benchExtract(b)
	m := benchMapping(b)
	ctx := context.Background()
	var recs []Patient
	collect := &collectSink{}
	if _, err := (&Loader{Mapping: m, Sink: collect}).LoadFile(ctx, path, filepath.Join(b.TempDir(), "rejects.csv")); err != nil {
		b.Fatal(err)
	}
	recs = collect.patients
	b.ResetTimer()
	var rows int64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sink, err := openSQLiteSink(ctx, filepath.Join(b.TempDir(), "bench.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		sink.multiRow = multiRow
		b.StartTimer()
		start := time.Now()
		for j := 0; j < len(recs); j += 5000 {
			batch := &Batch[Patient]{Source: "bench", Key: []string{"assigning_authority", "mrn"}, Records: recs[j:min(j+5000, len(recs))]}
			if err := sink.UpsertPatients(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(start)
		rows += int64(len(recs))
		b.StopTimer()
		sink.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
}

type collectSink struct {
	discardSink
	patients []Patient
}

func (c *collectSink) UpsertPatients(_ context.Context, b *Batch[Patient]) error {
	c.patients = append(c.patients, b.Records...)
	return nil
}

// BenchmarkPeerSQLite3CLI loads the extract with the sqlite3 shell (C
// SQLite): .import into a staging table, then one INSERT ... SELECT that
// trims, maps the sex codes and upserts, in WAL mode. It checks nothing:
// no dates are parsed, nothing is rejected, times stay local text.
func BenchmarkPeerSQLite3CLI(b *testing.B) {
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		b.Skip("sqlite3 shell not installed (Debian sqlite3)")
	}
	path := benchExtract(b)
	script := `PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE patients (assigning_authority TEXT NOT NULL, mrn TEXT NOT NULL, family_name TEXT NOT NULL,
  given_name TEXT NOT NULL, birth_date TEXT NOT NULL, sex TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (assigning_authority, mrn));
.mode csv
.separator "|" "\r\n"
.import ` + path + ` staging
INSERT INTO patients SELECT 'EPIC', upper(trim(PAT_MRN_ID)), trim(PAT_LAST_NAME),
  trim(PAT_FIRST_NAME || ' ' || PAT_MIDDLE_NAME), substr(BIRTH_DATE, 1, 10),
  CASE trim(SEX_C) WHEN '1' THEN 'F' WHEN '2' THEN 'M' WHEN '3' THEN 'U' WHEN '950' THEN 'O' ELSE 'U' END,
  UPDATE_DATE FROM staging WHERE true
ON CONFLICT (assigning_authority, mrn) DO UPDATE SET family_name = excluded.family_name,
  given_name = excluded.given_name, birth_date = excluded.birth_date, sex = excluded.sex, updated_at = excluded.updated_at
  WHERE excluded.updated_at >= patients.updated_at;
SELECT count(*) FROM patients;
`
	var elapsed time.Duration
	var rows int64
	for i := 0; i < b.N; i++ {
		db := filepath.Join(b.TempDir(), "peer.sqlite")
		cmd := exec.Command(sqlite3, db)
		cmd.Stdin = strings.NewReader(script)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		elapsed += time.Since(start)
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "\n"+itoa(benchRows)) {
			b.Fatalf("sqlite3: %v: %s", err, out)
		}
		rows += benchRows
	}
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
}

func itoa(n int) string { return strconv.Itoa(n) }
