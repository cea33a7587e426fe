package extract

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// sqliteSink stores patients in a real SQLite database the way the
// catalog is opened (WAL, synchronous=NORMAL, one connection, immediate
// transactions): one transaction per batch, one prepared upsert per row.
// The benchmark and the crash test use it; the catalog's own Sink will
// have its own tables.
type sqliteSink struct {
	db     *sql.DB
	upsert *sql.Stmt // one row
	multi  *sql.Stmt // multiRows rows
	mark   *sql.Stmt
	// multiRow stores rows multiRows at a time; otherwise one at a time.
	multiRow bool
}

// multiRows is how many rows one execution of the multi-row upsert
// stores: fewer statement executions for the same rows.
const multiRows = 64

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS patients (
	assigning_authority TEXT NOT NULL,
	mrn                 TEXT NOT NULL,
	family_name         TEXT NOT NULL,
	given_name          TEXT NOT NULL,
	birth_date          TEXT NOT NULL,
	sex                 TEXT NOT NULL,
	updated_at          INTEGER NOT NULL,
	PRIMARY KEY (assigning_authority, mrn)
);
CREATE TABLE IF NOT EXISTS extract_watermarks (
	source TEXT PRIMARY KEY,
	at     INTEGER NOT NULL
);`

func openSQLiteSink(ctx context.Context, path string) (*sqliteSink, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(30000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		db.Close()
		return nil, err
	}
	s := &sqliteSink{db: db}
	// A row replaces the stored one unless that one is later; an equal
	// row is not written at all.
	upsert := func(rows int) string {
		return `INSERT INTO patients (assigning_authority, mrn, family_name, given_name, birth_date, sex, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)` + strings.Repeat(", (?, ?, ?, ?, ?, ?, ?)", rows-1) + upsertTail
	}
	s.upsert, err = db.PrepareContext(ctx, upsert(1))
	if err == nil {
		s.multi, err = db.PrepareContext(ctx, upsert(multiRows))
	}
	if err == nil {
		s.mark, err = db.PrepareContext(ctx, `
INSERT INTO extract_watermarks (source, at) VALUES (?, ?)
ON CONFLICT (source) DO UPDATE SET at = excluded.at WHERE excluded.at > extract_watermarks.at`)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

const upsertTail = `
ON CONFLICT (assigning_authority, mrn) DO UPDATE SET
	family_name = excluded.family_name, given_name = excluded.given_name, birth_date = excluded.birth_date,
	sex = excluded.sex, updated_at = excluded.updated_at
WHERE excluded.updated_at >= patients.updated_at
  AND (patients.family_name, patients.given_name, patients.birth_date, patients.sex, patients.updated_at)
      IS NOT (excluded.family_name, excluded.given_name, excluded.birth_date, excluded.sex, excluded.updated_at)`

func (s *sqliteSink) Close() error { return s.db.Close() }

func (s *sqliteSink) Watermark(ctx context.Context, source string) (time.Time, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT at FROM extract_watermarks WHERE source = ?`, source).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, n).UTC(), nil
}

func (s *sqliteSink) UpsertPatients(ctx context.Context, b *Batch[Patient]) (err error) {
	if !slices.Equal(b.Key, []string{"assigning_authority", "mrn"}) {
		return fmt.Errorf("sqlite sink: patients are kept by assigning_authority, mrn, not %v", b.Key)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	recs := b.Records
	if s.multiRow && len(recs) >= multiRows {
		st := tx.StmtContext(ctx, s.multi)
		args := make([]any, 0, 7*multiRows)
		for len(recs) >= multiRows {
			args = args[:0]
			for i := range multiRows {
				p := &recs[i]
				args = append(args, p.AssigningAuthority, p.MRN, p.FamilyName, p.GivenName, p.BirthDate.String(), p.Sex, p.UpdatedAt.UnixNano())
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
			recs = recs[multiRows:]
		}
	}
	st := tx.StmtContext(ctx, s.upsert)
	for i := range recs {
		p := &recs[i]
		if _, err := st.ExecContext(ctx, p.AssigningAuthority, p.MRN, p.FamilyName, p.GivenName, p.BirthDate.String(), p.Sex, p.UpdatedAt.UnixNano()); err != nil {
			return err
		}
	}
	if !b.Watermark.IsZero() {
		if _, err := tx.StmtContext(ctx, s.mark).ExecContext(ctx, b.Source, b.Watermark.UnixNano()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteSink) UpsertEncounters(context.Context, *Batch[Encounter]) error {
	return errors.New("sqlite sink: patients only")
}

func (s *sqliteSink) UpsertResults(context.Context, *Batch[Result]) error {
	return errors.New("sqlite sink: patients only")
}

var _ Sink = (*sqliteSink)(nil)

// digest summarises the stored patients and watermarks.
func (s *sqliteSink) digest(t testing.TB) string {
	t.Helper()
	var n int64
	var sum string
	err := s.db.QueryRow(`SELECT count(*), coalesce(sum(length(mrn || family_name || given_name || birth_date || sex)) || ':' || sum(updated_at % 1000003), '')
		FROM patients`).Scan(&n, &sum)
	if err != nil {
		t.Fatal(err)
	}
	var wms []string
	rows, err := s.db.Query(`SELECT source, at FROM extract_watermarks ORDER BY source`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var src string
		var at int64
		if err := rows.Scan(&src, &at); err != nil {
			t.Fatal(err)
		}
		wms = append(wms, src+"="+time.Unix(0, at).UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%d patients %s; %s", n, sum, strings.Join(wms, ","))
}

// clarityMapping is the mapping of the generated extracts.
const clarityMapping = `
name: clarity_patients
entity: patient
format: {delimiter: pipe, quote: none, encoding: windows-1252, timezone: America/Chicago}
key: [assigning_authority, mrn]
watermark: UPDATE_DATE
fields:
  mrn: {column: PAT_MRN_ID, transforms: [trim, upper]}
  assigning_authority: {value: EPIC}
  family_name: {column: PAT_LAST_NAME, transforms: [trim]}
  given_name: {columns: [PAT_FIRST_NAME, PAT_MIDDLE_NAME], separator: " "}
  birth_date: {column: BIRTH_DATE, type: datetime, layouts: ["2006-01-02 15:04:05", "2006-01-02"]}
  sex:
    column: SEX_C
    transforms: [trim, {map: {"1": F, "2": M, "3": U, "950": O}}]
    default: U
  updated_at: {column: UPDATE_DATE, type: datetime, layout: "2006-01-02 15:04:05"}
`

// writeClarityExtract writes n synthetic patients, Clarity style, in
// UPDATE_DATE order; every 1000th row has a bad birth date.
func writeClarityExtract(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("PAT_ID|PAT_MRN_ID|PAT_LAST_NAME|PAT_FIRST_NAME|PAT_MIDDLE_NAME|BIRTH_DATE|SEX_C|ZIP|UPDATE_DATE\r\n")
	given := []string{"ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL", "INDIA", "JULIET"}
	sexes := []string{"1", "2", "3", "950", ""}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var b []byte
	for i := range n {
		b = b[:0]
		b = append(b, 'Z')
		b = strconv.AppendInt(b, int64(100000000+i), 10)
		b = append(b, "|E"...)
		b = strconv.AppendInt(b, int64(10000000+i), 10)
		b = append(b, "|ZZTEST"...)
		b = strconv.AppendInt(b, int64(i%9973), 10)
		b = append(b, '|')
		b = append(b, given[i%len(given)]...)
		b = append(b, '|')
		if i%3 == 0 {
			b = append(b, 'Q')
		}
		b = append(b, '|')
		if i%1000 == 999 {
			b = append(b, "1990-02-30 00:00:00"...)
		} else {
			b = time.Date(1930+i%90, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC).AppendFormat(b, "2006-01-02 15:04:05")
		}
		b = append(b, '|')
		b = append(b, sexes[i%len(sexes)]...)
		b = append(b, "|00000|"...)
		b = start.Add(time.Duration(i)*time.Second).AppendFormat(b, "2006-01-02 15:04:05")
		b = append(b, '\r', '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func TestSQLiteSink(t *testing.T) {
	for _, multiRow := range []bool{false, true} {
		t.Run(fmt.Sprint("multiRow=", multiRow), func(t *testing.T) { testSQLiteSink(t, multiRow) })
	}
}

func testSQLiteSink(t *testing.T, multiRow bool) {
	ctx := context.Background()
	dir := t.TempDir()
	extract := filepath.Join(dir, "PATIENTS.txt")
	f, err := os.Create(extract)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeClarityExtract(f, 5000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, err := ParseMapping(strings.NewReader(clarityMapping))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := openSQLiteSink(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sink.multiRow = multiRow
	l := &Loader{Mapping: m, Sink: sink, BatchSize: 700}
	sum, err := l.LoadFile(ctx, extract, "")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 5000 || sum.Rejected != 5 || sum.Loaded != 4995 {
		t.Fatalf("%v", sum)
	}
	first := sink.digest(t)
	if !strings.HasPrefix(first, "4995 patients") || !strings.Contains(first, "clarity_patients=2024-01-01T07:23:18Z") {
		t.Errorf("stored %s", first)
	}
	// Again: all skipped by the watermark but the last row, rejected and
	// later than the watermark. Then in full: all upserted to the same
	// values.
	sum, err = l.LoadFile(ctx, extract, "")
	if err != nil || sum.Skipped != 4999 || sum.Rejected != 1 {
		t.Fatalf("%v %v", sum, err)
	}
	l.FullReload = true
	if _, err := l.LoadFile(ctx, extract, ""); err != nil {
		t.Fatal(err)
	}
	if got := sink.digest(t); got != first {
		t.Errorf("after reloading: %s, want %s", got, first)
	}
}

// TestCrashResume kills a loading process with SIGKILL part way and loads
// the file again: the batches committed before the kill stay whole, the
// watermark is not moved by the killed load, and the second load ends in
// the state of one uninterrupted load.
func TestCrashResume(t *testing.T) {
	if os.Getenv("EXTRACT_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	ctx := context.Background()
	dir := t.TempDir()
	extract := filepath.Join(dir, "PATIENTS.txt")
	f, err := os.Create(extract)
	if err != nil {
		t.Fatal(err)
	}
	const rows, batch = 50_000, 1000
	if err := writeClarityExtract(f, rows); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := filepath.Join(dir, "crash.sqlite")

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashResume$")
	cmd.Env = append(os.Environ(), "EXTRACT_CRASH_CHILD="+db+"|"+extract+"|"+strconv.Itoa(batch))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	commits := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "committed ") {
			if commits++; commits == 5 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	go io.Copy(io.Discard, out)
	cmd.Wait()
	if commits < 5 {
		t.Fatalf("the child committed %d batches before it ended", commits)
	}

	sink, err := openSQLiteSink(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var n int64
	var integrity string
	if err := sink.db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity check: %q %v", integrity, err)
	}
	if err := sink.db.QueryRow(`SELECT count(*) FROM patients`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// Whole batches only: rejected rows do not count towards a batch.
	if n%batch != 0 || n < 5*batch || n >= rows-rows/1000 {
		t.Fatalf("%d patients after the kill", n)
	}
	if wm, err := sink.Watermark(ctx, "clarity_patients"); err != nil || !wm.IsZero() {
		t.Fatalf("the killed load stored watermark %v (%v)", wm, err)
	}
	t.Logf("killed after %d patients in %d+ batches", n, commits)

	m, _ := ParseMapping(strings.NewReader(clarityMapping))
	l := &Loader{Mapping: m, Sink: sink, BatchSize: batch}
	if _, err := l.LoadFile(ctx, extract, ""); err != nil {
		t.Fatal(err)
	}
	clean, err := openSQLiteSink(ctx, filepath.Join(dir, "clean.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Close()
	l.Sink = clean
	if _, err := l.LoadFile(ctx, extract, ""); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.digest(t), clean.digest(t); got != want {
		t.Errorf("after the resumed load: %s\nafter one clean load: %s", got, want)
	}
}

// crashChild loads slowly, telling the parent about each commit, until
// it is killed.
func crashChild() {
	parts := strings.Split(os.Getenv("EXTRACT_CRASH_CHILD"), "|")
	batch, _ := strconv.Atoi(parts[2])
	ctx := context.Background()
	sink, err := openSQLiteSink(ctx, parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	m, _ := ParseMapping(strings.NewReader(clarityMapping))
	l := &Loader{Mapping: m, Sink: &announcingSink{sqliteSink: sink}, BatchSize: batch}
	if _, err := l.LoadFile(ctx, parts[1], ""); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

type announcingSink struct {
	*sqliteSink
	n int
}

func (s *announcingSink) UpsertPatients(ctx context.Context, b *Batch[Patient]) error {
	err := s.sqliteSink.UpsertPatients(ctx, b)
	if err == nil {
		s.n++
		fmt.Printf("committed %d\n", s.n)
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
