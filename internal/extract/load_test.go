package extract

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testNow is the loader's clock in tests: after every fixture's rows.
var testNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func loadMappingT(t testing.TB, name string) *Mapping {
	t.Helper()
	m, err := LoadMapping(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// loadInto loads file with the mapping into sink and returns the summary,
// the error and the reject file's content.
func loadInto(t testing.TB, m *Mapping, sink Sink, file string, batch int) (Summary, error, string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	l := &Loader{Mapping: m, Sink: sink, BatchSize: batch, Now: func() time.Time { return testNow }}
	var rej bytes.Buffer
	sum, err := l.Load(context.Background(), filepath.Base(file), bytes.NewReader(data), &rej)
	return sum, err, rej.String()
}

func describe(sum Summary, err error, sink *memSink, rejects string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "error: %v\n", err)
	wm := "none"
	if !sum.WatermarkAfter.IsZero() {
		wm = sum.WatermarkAfter.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "summary: read=%d loaded=%d superseded=%d skipped=%d rejected=%d batches=%d watermark=%s\n",
		sum.Read, sum.Loaded, sum.Superseded, sum.Skipped, sum.Rejected, sum.Batches, wm)
	b.WriteString("stored:\n")
	if d := sink.dump(); d != "" {
		b.WriteString(d)
		b.WriteString("\n")
	}
	b.WriteString("rejects:\n")
	b.WriteString(rejects)
	return b.String()
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// The fixtures, each named after what it checks, with the loaded records
// and the reject file in testdata/<fixture>.golden.
var goldenCases = []struct {
	mapping, file string
	err           error // the sentinel the load fails with; nil for a load that completes
}{
	{"patients.yaml", "good.csv", nil},
	{"patients.yaml", "wrong_column_count.csv", nil},
	{"patients.yaml", "unterminated_quote.csv", nil},
	{"patients.yaml", "quoted_newline.csv", nil},
	{"patients.yaml", "bad_dates.csv", nil},
	{"patients.yaml", "bom.csv", nil},
	{"patients.yaml", "crlf.csv", nil},
	{"patients.yaml", "latin1_in_utf8.csv", nil},
	{"patients.yaml", "empty.csv", ErrNoHeader},
	{"patients.yaml", "header_only.csv", nil},
	{"patients.yaml", "utf16.csv", ErrEncoding},
	{"patients.yaml", "missing_required.csv", nil},
	{"patients.yaml", "bad_code.csv", nil},
	{"patients.yaml", "nul_byte.csv", nil},
	{"patients.yaml", "blank_lines.csv", nil},
	{"patients.yaml", "text_after_quote.csv", nil},
	{"patients.yaml", "duplicate_keys.csv", nil},
	{"patients.yaml", "future_watermark.csv", nil},
	{"patients.yaml", "header_missing_column.csv", ErrHeader},
	{"patients.yaml", "no_final_newline.csv", nil},
	{"clarity_patients.yaml", "clarity_patients.txt", nil},
	{"cerner_encounters.yaml", "cerner_encounters.csv", nil},
	{"clarity_results.yaml", "clarity_results.tsv", nil},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.file, func(t *testing.T) {
			m := loadMappingT(t, tc.mapping)
			sink := newMemSink()
			sum, err, rejects := loadInto(t, m, sink, filepath.Join("testdata", tc.file), 3)
			if tc.err == nil && err != nil {
				t.Fatalf("load: %v", err)
			}
			if tc.err != nil {
				var fe *FileError
				if !errors.Is(err, tc.err) || !errors.As(err, &fe) {
					t.Fatalf("load error %v, want a *FileError wrapping %v", err, tc.err)
				}
				if sink.calls != 0 {
					t.Errorf("a file that cannot be loaded made %d sink calls", sink.calls)
				}
			}
			if err == nil && sum.Read != sum.Loaded+sum.Superseded+sum.Skipped+sum.Rejected {
				t.Errorf("counts do not add up: %+v", sum)
			}
			checkRejects(t, m, rejects, sum.Rejected)
			checkGolden(t, tc.file+".golden", describe(sum, err, sink, rejects))
		})
	}
}

// checkRejects checks the reject file's shape, and that no reason quotes a
// cell of its row.
func checkRejects(t *testing.T, m *Mapping, rejects string, n int64) {
	t.Helper()
	if rejects == "" {
		if n != 0 {
			t.Errorf("%d rejects counted, none written", n)
		}
		return
	}
	cr := csv.NewReader(strings.NewReader(rejects))
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("reject file is not CSV: %v", err)
	}
	if got := strings.Join(recs[0], ","); got != "line,reason,row" {
		t.Errorf("reject header %q", got)
	}
	if int64(len(recs)-1) != n {
		t.Errorf("%d reject rows for %d rejects", len(recs)-1, n)
	}
	for _, r := range recs[1:] {
		reason, raw := r[1], r[2]
		for _, cell := range strings.Split(raw, string(rune(m.Format.Delimiter))) {
			cell = strings.Trim(strings.TrimSpace(cell), `"`)
			if len(cell) >= 4 && strings.Contains(reason, cell) && !mentionedByMapping(m, cell) {
				t.Errorf("reason %q quotes the cell %q", reason, cell)
			}
		}
	}
}

func mentionedByMapping(m *Mapping, s string) bool {
	for _, f := range m.Fields {
		if strings.Contains(f.Column, s) || strings.Contains(strings.Join(f.Layouts, " "), s) {
			return true
		}
	}
	return false
}

func TestLoadFileRejectFileMode(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/bad_dates.csv")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bad_dates.csv")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	l := &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: newMemSink(), Now: func() time.Time { return testNow }}
	sum, err := l.LoadFile(context.Background(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	rejectPath := filepath.Join(dir, "bad_dates.csv.20250601T000000Z.rejects.csv")
	if sum.RejectFile != rejectPath || sum.Rejected != 5 || !strings.HasSuffix(sum.String(), "; rejects in "+rejectPath) {
		t.Fatalf("summary %+v", sum)
	}
	fi, err := os.Stat(rejectPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("reject file mode %v, want 0600", fi.Mode().Perm())
	}
	got, _ := os.ReadFile(rejectPath)
	want := "line,reason,row\n" +
		"2,\"column BIRTH_DATE: not a date in layouts 2006-01-02, 2006-01, 2006\",\"1001,Zztest,Alpha,1970-13-01,F,2024-03-01 08:00:00\"\n"
	if !strings.HasPrefix(string(got), want) {
		t.Errorf("reject file starts\n%s\nwant\n%s", got, want)
	}
}

// TestRejectFilesAreNeverOverwritten: the bug where a second load of a
// file truncated the first load's reject file (its rows then counted
// skipped, their reasons lost), and a load with a wrong mapping truncated
// it to its header.
func TestRejectFilesAreNeverOverwritten(t *testing.T) {
	dir, rejects := t.TempDir(), t.TempDir()
	src, err := os.ReadFile("testdata/bad_dates.csv")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bad_dates.csv")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	clock := testNow
	l := &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: newMemSink(), Now: func() time.Time { return clock }}
	load := func(reject string) Summary {
		t.Helper()
		sum, _ := l.LoadFile(context.Background(), path, reject)
		return sum
	}
	first := load(RejectPath(rejects, path, clock))
	if first.Rejected != 5 || filepath.Dir(first.RejectFile) != rejects {
		t.Fatalf("first load: %+v", first)
	}
	firstRejects, _ := os.ReadFile(first.RejectFile)

	// Loaded again a second later: the rows loaded and those rejected for
	// their birth date are skipped (at the watermark); those whose
	// watermark cannot be read are rejected again, into a file of this load.
	clock = clock.Add(time.Second)
	again := load(RejectPath(rejects, path, clock))
	if again.Skipped != 5 || again.Rejected != 2 || again.RejectFile == first.RejectFile || again.RejectFile == "" {
		t.Fatalf("second load: %+v", again)
	}
	// A wrong mapping (header mismatch) writes no reject file.
	wrong := *l
	wrong.Mapping = loadMappingT(t, "clarity_patients.yaml")
	clock = clock.Add(time.Second)
	sum, err := wrong.LoadFile(context.Background(), path, RejectPath(rejects, path, clock))
	if !errors.Is(err, ErrHeader) || sum.RejectFile != "" {
		t.Fatalf("wrong mapping: %+v %v", sum, err)
	}
	// The same reject path twice (two loads in one second): the second
	// goes beside the first.
	l.FullReload = true
	second := load(first.RejectFile)
	if want := strings.TrimSuffix(first.RejectFile, ".rejects.csv") + ".1.rejects.csv"; second.RejectFile != want {
		t.Fatalf("second reject file %q, want %q", second.RejectFile, want)
	}
	if got, _ := os.ReadFile(first.RejectFile); string(got) != string(firstRejects) {
		t.Errorf("first reject file changed:\n%s", got)
	}
	entries, _ := os.ReadDir(rejects)
	if len(entries) != 3 {
		t.Errorf("%d files in the reject folder, want 3", len(entries))
	}
	// Nothing beside the input.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files beside the input", len(entries))
	}
}

// TestRejectFolderNotWritable: a load whose rejects could not be kept
// stores nothing, and says which folder.
func TestRejectFolderNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only folders")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "good.csv")
	src, _ := os.ReadFile("testdata/good.csv")
	os.WriteFile(path, src, 0o600)
	ro := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(ro, 0o500)
	sink := newMemSink()
	l := &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: sink, Now: func() time.Time { return testNow }}
	_, err := l.LoadFile(context.Background(), path, RejectPath(ro, path, testNow))
	if err == nil || !strings.Contains(err.Error(), "reject folder "+ro) || sink.calls != 0 {
		t.Fatalf("err %v, %d sink calls", err, sink.calls)
	}
}

const patientsHeader = "MRN,LAST_NAME,FIRST_NAME,BIRTH_DATE,SEX,UPDATE_DATE\n"

func loadString(t *testing.T, l *Loader, data string) (Summary, string) {
	t.Helper()
	var rej bytes.Buffer
	sum, err := l.Load(context.Background(), "test.csv", strings.NewReader(data), &rej)
	if err != nil {
		t.Fatal(err)
	}
	return sum, rej.String()
}

func TestWatermark(t *testing.T) {
	sink := newMemSink()
	l := &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: sink, BatchSize: 2, Now: func() time.Time { return testNow }}
	first := patientsHeader +
		"1001,Zztest,Alpha,1970-01-31,F,2024-03-01 08:00:00\n" +
		"1002,Zztest,Bravo,1970-01-31,M,2024-03-03 08:00:00\n" + // the latest, not last
		"1003,Zztest,Charlie,1970-01-31,M,2024-03-02 08:00:00\n"
	sum, _ := loadString(t, l, first)
	wantWM := time.Date(2024, 3, 3, 8, 0, 0, 0, time.UTC)
	if !sum.WatermarkAfter.Equal(wantWM) || sum.Loaded != 3 {
		t.Fatalf("first load: %+v", sum)
	}
	if got := sink.watermarks["test_patients"]; !got.Equal(wantWM) {
		t.Fatalf("stored watermark %v, want %v", got, wantWM)
	}

	// The next extract overlaps: rows at or before the watermark are
	// skipped, later ones loaded, and the watermark moves on.
	second := patientsHeader +
		"1001,Zztest,Alpha-changed-before,1970-01-31,F,2024-03-02 08:00:00\n" + // older: skipped
		"1002,Zztest,Bravo,1970-01-31,M,2024-03-03 08:00:00\n" + // equal: skipped
		"1004,Zztest,Delta,1970-01-31,F,2024-03-04 08:00:00\n" +
		"1001,Zztest,Alpha-changed,1970-01-31,F,2024-03-05 08:00:00\n" +
		"1005,Zztest,Echo,bad-date,F,2024-03-01 00:00:00\n" // skipped unread: no reject
	sum, rej := loadString(t, l, second)
	if sum.Read != 5 || sum.Skipped != 3 || sum.Loaded != 2 || sum.Rejected != 0 || rej != "" {
		t.Fatalf("second load: %+v\n%s", sum, rej)
	}
	if want := time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC); !sum.WatermarkAfter.Equal(want) || !sum.WatermarkBefore.Equal(wantWM) {
		t.Fatalf("second load watermark %v → %v", sum.WatermarkBefore, sum.WatermarkAfter)
	}
	if got := sink.patients["TEST\x001001"].GivenName; got != "Alpha-changed" {
		t.Errorf("1001 given name %q", got)
	}

	// Nothing new: nothing stored, watermark kept, no Sink call.
	calls := sink.calls
	sum, _ = loadString(t, l, second)
	if sum.Loaded != 0 || sum.Skipped != 5 || sink.calls != calls {
		t.Errorf("third load: %+v, %d sink calls", sum, sink.calls-calls)
	}

	// A full reload upserts every row again and changes nothing.
	changes := sink.changes
	l.FullReload = true
	sum, _ = loadString(t, l, first+second[len(patientsHeader):])
	if sum.Loaded+sum.Superseded != 7 || sum.Skipped != 0 || sum.Rejected != 1 {
		t.Errorf("full reload: %+v", sum)
	}
	if sink.changes != changes {
		t.Errorf("full reload changed %d records", sink.changes-changes)
	}
	if !sink.watermarks["test_patients"].Equal(time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("full reload moved the watermark to %v", sink.watermarks["test_patients"])
	}
}

func TestWatermarkInFutureIsRejected(t *testing.T) {
	sink := newMemSink()
	l := &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: sink, Now: func() time.Time { return testNow }}
	sum, rej := loadString(t, l, patientsHeader+
		"1001,Zztest,Alpha,1970-01-31,F,2025-06-01 23:00:00\n"+ // within a day: taken
		"1002,Zztest,Bravo,1970-01-31,M,2025-06-02 01:00:00\n") // beyond: rejected
	if sum.Loaded != 1 || sum.Rejected != 1 || !strings.Contains(rej, "3,column UPDATE_DATE: watermark more than 24h0m0s after the loader's clock") {
		t.Errorf("%+v\n%s", sum, rej)
	}
}

// Loading the same file twice changes nothing the second time, with or
// without a watermark, whatever the batch size.
func TestIdempotent(t *testing.T) {
	for _, tc := range []struct{ mapping, file string }{
		{"clarity_patients.yaml", "clarity_patients.txt"},
		{"cerner_encounters.yaml", "cerner_encounters.csv"},
		{"clarity_results.yaml", "clarity_results.tsv"},
		{"patients.yaml", "duplicate_keys.csv"},
	} {
		for _, watermark := range []bool{true, false} {
			for _, batch := range []int{1, 2, 1000} {
				t.Run(fmt.Sprintf("%s/watermark=%v/batch=%d", tc.file, watermark, batch), func(t *testing.T) {
					m := loadMappingT(t, tc.mapping)
					if !watermark {
						m.Watermark = ""
					}
					sink := newMemSink()
					path := filepath.Join("testdata", tc.file)
					sum1, err, _ := loadInto(t, m, sink, path, batch)
					if err != nil {
						t.Fatal(err)
					}
					before, changes := sink.dump(), sink.changes
					sum2, err, _ := loadInto(t, m, sink, path, batch)
					if err != nil {
						t.Fatal(err)
					}
					if sink.changes != changes || sink.dump() != before {
						t.Errorf("second load changed %d records", sink.changes-changes)
					}
					// Every row is at or before the latest: all are skipped,
					// those rejected the first time too.
					if watermark && (sum2.Loaded != 0 || sum2.Skipped != sum1.Read) {
						t.Errorf("second load with a watermark: %+v after %+v", sum2, sum1)
					}
				})
			}
		}
	}
}

// A load that fails part way leaves its committed batches and the old
// watermark; loading the file again completes it, to the state one
// uninterrupted load gives.
func TestResumeAfterFailure(t *testing.T) {
	m := loadMappingT(t, "clarity_patients.yaml")
	path := "testdata/clarity_patients.txt"
	clean := newMemSink()
	if _, err, _ := loadInto(t, m, clean, path, 2); err != nil {
		t.Fatal(err)
	}
	for failAt := 1; failAt <= 4; failAt++ {
		t.Run(fmt.Sprint("failAt=", failAt), func(t *testing.T) {
			sink := newMemSink()
			sink.failAt = failAt
			sum, err, _ := loadInto(t, m, sink, path, 2)
			if !errors.Is(err, errInjected) {
				t.Fatalf("error %v, want the injected one", err)
			}
			if sum.Batches != failAt-1 || sink.commits != failAt-1 {
				t.Errorf("%d batches in the summary, %d committed, want %d", sum.Batches, sink.commits, failAt-1)
			}
			if !sink.watermarks["clarity_patients"].IsZero() || !sum.WatermarkAfter.IsZero() {
				t.Errorf("a failed load stored watermark %v", sink.watermarks["clarity_patients"])
			}
			sink.failAt = 0
			if _, err, _ := loadInto(t, m, sink, path, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := sink.dump(), clean.dump(); got != want {
				t.Errorf("after the retry:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestSinkRefusesRecords(t *testing.T) {
	sink := newMemSink()
	sink.refuse = func(rec any) string {
		if p := rec.(Patient); p.MRN == "E1000003" || p.MRN == "E1000004" {
			return "family_name longer than the column"
		}
		return ""
	}
	m := loadMappingT(t, "clarity_patients.yaml")
	sum, err, rej := loadInto(t, m, sink, "testdata/clarity_patients.txt", 100)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rejected != 5 || sum.Loaded != 3 || sum.Superseded != 1 {
		t.Errorf("%+v", sum)
	}
	for _, want := range []string{
		"4,refused by the database: family_name longer than the column,Z100003|E1000003|O’FAKENAME|CHARLIE||1948-07-04|3|00000|2025-01-02 03:04:07\n",
		"5,refused by the database: family_name longer than the column,",
	} {
		if !strings.Contains(rej, want) {
			t.Errorf("rejects lack %q:\n%s", want, rej)
		}
	}
	if _, ok := sink.patients["EPIC\x00E1000003"]; ok {
		t.Error("a refused record was stored")
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := &Loader{Mapping: loadMappingT(t, "patients.yaml"), Sink: newMemSink()}
	f, _ := os.Open("testdata/good.csv")
	defer f.Close()
	_, err := l.Load(ctx, "good.csv", f, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	m := loadMappingT(t, "patients.yaml")
	for _, tc := range []struct {
		name, data string
		err        error
		msg        string
	}{
		{"case", "mrn,LAST_NAME,FIRST_NAME,BIRTH_DATE,SEX,UPDATE_DATE\n", ErrHeader, "no column MRN (the header has mrn)"},
		{"twice", "MRN,MRN,LAST_NAME,FIRST_NAME,BIRTH_DATE,SEX,UPDATE_DATE\n", ErrHeader, "column MRN appears twice"},
		{"bom in 1252", "\xef\xbb\xbf" + patientsHeader, ErrEncoding, "UTF-8 byte order mark but format.encoding is windows-1252"},
		{"utf16 be", "\xfe\xff\x00M", ErrEncoding, "UTF-16"},
		{"bad utf8", "MRN,LAST_NAME,FIRST_NAME,BIRTH_DATE,SEX,UPDATE_DATE,\xff\n", ErrEncoding, "header field 7 is not valid UTF-8"},
		{"blank only", "\n\r\n\n", ErrNoHeader, "empty"},
		{"unterminated in header", "MRN,\"LAST_NAME\n", ErrHeader, "quoted field 2 is not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mm := *m
			if tc.name == "bom in 1252" {
				mm.Format.Encoding = Windows1252
			}
			l := &Loader{Mapping: &mm, Sink: newMemSink()}
			_, err := l.Load(context.Background(), "h.csv", strings.NewReader(tc.data), nil)
			var fe *FileError
			if !errors.Is(err, tc.err) || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.msg) || fe.Name != "h.csv" {
				t.Errorf("error %v, want a *FileError wrapping %v saying %q", err, tc.err, tc.msg)
			}
		})
	}
}

func TestNoHeader(t *testing.T) {
	m, err := ParseMapping(strings.NewReader(`
name: headerless
entity: patient
format: {header: false, delimiter: tab}
fields:
  mrn: "2"
  assigning_authority: {value: SITE}
  family_name: "4"
  given_name: {columns: ["5", "6"], separator: " "}
`))
	if err != nil {
		t.Fatal(err)
	}
	sink := newMemSink()
	l := &Loader{Mapping: m, Sink: sink}
	sum, rej := loadString(t, l, "x\tM1\ty\tZztest\tAlpha\tQ\nx\tM2\ty\tZztest\tBravo\t\nshort\n")
	if sum.Loaded != 2 || sum.Rejected != 1 || !strings.Contains(rej, "3,\"row has 1 fields, expected 6\",short") {
		t.Errorf("%+v\n%s", sum, rej)
	}
	if p := sink.patients["SITE\x00M1"]; p.GivenName != "Alpha Q" || p.FamilyName != "Zztest" {
		t.Errorf("%+v", p)
	}
	// A column number beyond the rows is a file error.
	m.Fields[2].Column = "9"
	_, err = l.Load(context.Background(), "t.tsv", strings.NewReader("a\tb\n"), nil)
	if !errors.Is(err, ErrHeader) {
		t.Errorf("error %v", err)
	}
}

func TestResultValueType(t *testing.T) {
	base := `
name: r
entity: result
fields:
  order_number: ORD
  mrn: MRN
  code: CODE
  value: {column: VAL, type: %s}
`
	for _, tc := range []struct {
		typ, val, wantType, reject string
	}{
		{"decimal", "7.20", "NM", ""},
		{"decimal", " -0.5 ", "NM", ""},
		{"decimal", "<0.5", "", "column VAL: not a decimal number"},
		{"int", "0042", "NM", ""},
		{"string", "Positive", "ST", ""},
		{"string", "", "", ""},
	} {
		m, err := ParseMapping(strings.NewReader(fmt.Sprintf(base, tc.typ)))
		if err != nil {
			t.Fatal(err)
		}
		sink := newMemSink()
		l := &Loader{Mapping: m, Sink: sink}
		// A row with a value comes after one without, and before another.
		_, rej := loadString(t, l, "ORD,MRN,CODE,VAL\nO0,M1,C1,7\nO1,M1,C1,"+tc.val+"\nO2,M1,C1,\n")
		if tc.reject != "" {
			if !strings.Contains(rej, tc.reject) {
				t.Errorf("%s %q: rejects %q", tc.typ, tc.val, rej)
			}
			continue
		}
		r := sink.results["O1\x00C1"]
		if empty := sink.results["O2\x00C1"]; empty.ValueType != "" {
			t.Errorf("%s: a result without a value has value type %q", tc.typ, empty.ValueType)
		}
		if r.ValueType != tc.wantType {
			t.Errorf("%s %q: value type %q, want %q (%+v)", tc.typ, tc.val, r.ValueType, tc.wantType, r)
		}
	}
}

// failingSink fails every batch with an error that quotes a value, as
// database errors do.
type failingSink struct{ memSink }

func (s *failingSink) UpsertPatients(ctx context.Context, b *Batch[Patient]) error {
	return fmt.Errorf("insert: duplicate key (mrn)=(%s)", b.Records[0].MRN)
}

func TestLogsNoPatientData(t *testing.T) {
	m := loadMappingT(t, "clarity_patients.yaml")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	data, _ := os.ReadFile("testdata/clarity_patients.txt")
	for _, sink := range []Sink{newMemSink(), &failingSink{*newMemSink()}} {
		l := &Loader{Mapping: m, Sink: sink, Log: log, Now: func() time.Time { return testNow }}
		_, err := l.Load(context.Background(), "clarity_patients.txt", bytes.NewReader(data), io.Discard)
		if _, failing := sink.(*failingSink); failing && (err == nil || !strings.Contains(err.Error(), "E1000001")) {
			t.Errorf("the caller should get the sink's whole error: %v", err)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "extract loaded") || !strings.Contains(out, "extract load failed") || !strings.Contains(out, "details withheld") {
		t.Errorf("log:\n%s", out)
	}
	for _, secret := range []string{"E1000001", "ZZTEST", "ALPHA", "1970-01-31"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
}

// preparingSink is a memSink that is a Preparer: it prepares a batch as
// the list of its MRNs and checks, at each call, what it is given.
type preparingSink struct {
	*memSink
	t                               *testing.T
	prepared, withPrep, withRecords int // batches prepared; calls with Prepared; calls with records
}

func (s *preparingSink) PreparePatients(rs []Patient) any {
	s.prepared++
	mrns := make([]string, len(rs))
	for i, r := range rs {
		mrns[i] = r.MRN
	}
	return mrns
}

func (s *preparingSink) PrepareEncounters([]Encounter) any { return nil }
func (s *preparingSink) PrepareResults([]Result) any       { return nil }

func (s *preparingSink) UpsertPatients(ctx context.Context, b *Batch[Patient]) error {
	if len(b.Records) > 0 {
		s.withRecords++
	}
	if b.Prepared != nil {
		s.withPrep++
		mrns := b.Prepared.([]string)
		if len(mrns) != len(b.Records) {
			s.t.Errorf("prepared %d records, sent %d", len(mrns), len(b.Records))
		}
		for i, r := range b.Records {
			if i < len(mrns) && mrns[i] != r.MRN {
				s.t.Errorf("record %d prepared as %s is %s", i, mrns[i], r.MRN)
			}
		}
	}
	return s.memSink.UpsertPatients(ctx, b)
}

var _ Preparer = (*preparingSink)(nil)

// TestPreparer: a Preparer's Prepare of each batch reaches the Upsert of
// the same records; a batch sent again without refused records comes
// without it.
func TestPreparer(t *testing.T) {
	sink := &preparingSink{memSink: newMemSink(), t: t}
	sink.refuse = func(rec any) string {
		if rec.(Patient).MRN == "E1000003" {
			return "refused"
		}
		return ""
	}
	m := loadMappingT(t, "clarity_patients.yaml")
	sum, err, _ := loadInto(t, m, sink, "testdata/clarity_patients.txt", 3)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rejected == 0 || sum.Loaded == 0 {
		t.Fatalf("%+v", sum)
	}
	// Every batch was prepared once and sent with it, and the one with a
	// refused record once more without.
	if sink.prepared < 2 || sink.withPrep != sink.prepared || sink.withRecords != sink.prepared+1 {
		t.Errorf("%d batches prepared, %d calls with them, %d calls with records", sink.prepared, sink.withPrep, sink.withRecords)
	}
}

// An error the sink marks as public is logged as it is; any other is
// withheld (it may hold patient data).
func TestLoggablePublicErrors(t *testing.T) {
	if got := loggable(fmt.Errorf("batch 3: %w", publicTestError("the database refuses this process"))); got != "the database refuses this process" {
		t.Errorf("public: %q", got)
	}
	if got := loggable(fmt.Errorf("batch 3: %w", errors.New("MRN 12345 is odd"))); strings.Contains(got, "12345") {
		t.Errorf("private error logged: %q", got)
	}
}

type publicTestError string

func (e publicTestError) Error() string  { return string(e) }
func (e publicTestError) Public() string { return string(e) }
