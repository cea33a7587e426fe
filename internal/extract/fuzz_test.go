package extract

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The mappings FuzzLoad reads its inputs with; each seed is every
// testdata extract under each mapping.
var fuzzMappings = []string{"patients.yaml", "clarity_patients.yaml", "cerner_encounters.yaml", "clarity_results.yaml"}

// FuzzLoad loads arbitrary bytes as an extract. It checks that the load
// neither panics nor fails for anything but the file, that its counts add
// up, that the reject file is CSV with one increasing line per rejected
// row and no invalid UTF-8, that what is stored holds no NUL or invalid
// UTF-8 and no empty key, and that loading the same bytes again changes
// nothing. With the comma mapping it also compares the reader with
// encoding/csv.
func FuzzLoad(f *testing.F) {
	var maps []*Mapping
	for _, name := range fuzzMappings {
		maps = append(maps, loadMappingT(f, name))
	}
	files, err := filepath.Glob("testdata/*.*")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".golden") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for i := range maps {
			f.Add(data, uint8(i))
			f.Add(data, uint8(i|0x80|0x04))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		m := maps[int(which)%len(maps)]
		if which&0x80 != 0 { // without the watermark: every row upserted again
			mm := *m
			mm.Watermark = ""
			m = &mm
		}
		batch := 1 + int(which>>2)%7
		sink := newMemSink()
		l := &Loader{Mapping: m, Sink: sink, BatchSize: batch, Now: func() time.Time { return testNow }}
		var rej bytes.Buffer
		sum, err := l.Load(context.Background(), "fuzz", bytes.NewReader(data), &rej)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("load failed for a reason outside the file: %v", err)
			}
			if sink.calls != 0 {
				t.Fatalf("a file error after %d sink calls: %v", sink.calls, err)
			}
		} else if sum.Read != sum.Loaded+sum.Superseded+sum.Skipped+sum.Rejected {
			t.Fatalf("counts do not add up: %+v", sum)
		}

		// The reject file.
		if !utf8.Valid(rej.Bytes()) {
			t.Fatalf("reject file is not UTF-8: %q", rej.Bytes())
		}
		recs, cerr := csv.NewReader(&rej).ReadAll()
		if cerr != nil {
			t.Fatalf("reject file is not CSV: %v", cerr)
		}
		if len(recs) == 0 { // nothing rejected, nothing written
			recs = [][]string{{"line", "reason", "row"}}
		}
		if strings.Join(recs[0], ",") != "line,reason,row" {
			t.Fatalf("reject file header: %q", recs)
		}
		if int64(len(recs)-1) != sum.Rejected {
			t.Fatalf("%d reject rows for %d rejected", len(recs)-1, sum.Rejected)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		last := 0
		for _, r := range recs[1:] {
			n, err := strconv.Atoi(r[0])
			if err != nil || n <= last || n > lines || r[1] == "" {
				t.Fatalf("reject row %q after line %d of %d", r, last, lines)
			}
			last = n
		}

		// What is stored.
		check := func(fields ...string) {
			for _, s := range fields {
				if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("stored text %q", s)
				}
			}
		}
		for _, p := range sink.patients {
			if p.MRN == "" {
				t.Fatalf("patient stored without an MRN: %+v", p)
			}
			if p.Sex != "" && !sexCodes.codes[p.Sex] {
				t.Fatalf("sex %q stored", p.Sex)
			}
			check(p.MRN, p.AssigningAuthority, p.FamilyName, p.GivenName, p.Sex)
		}
		for _, e := range sink.encounters {
			if e.VisitNumber == "" || e.MRN == "" {
				t.Fatalf("encounter stored without its identifiers: %+v", e)
			}
			check(e.VisitNumber, e.MRN, e.Class, e.Location)
		}
		for _, r := range sink.results {
			if r.OrderNumber == "" || r.Code == "" || r.MRN == "" {
				t.Fatalf("result stored without its identifiers: %+v", r)
			}
			check(r.OrderNumber, r.MRN, r.Code, r.Display, r.Value, r.Units, r.ReferenceRange, r.Status)
		}

		// Loading again leaves what is stored as it was.
		if err == nil {
			before := sink.dump()
			if _, err := l.Load(context.Background(), "fuzz", bytes.NewReader(data), nil); err != nil {
				t.Fatalf("second load: %v", err)
			}
			if after := sink.dump(); after != before {
				t.Fatalf("second load changed the records:\n%s\nwas\n%s", after, before)
			}
		}

		if m.Format.Delimiter == ',' && m.Format.Quote == '"' {
			checkAgainstCSV(t, string(data))
		}
	})
}

// FuzzParseMapping reads arbitrary YAML as a mapping: no panic, and a
// mapping it accepts validates again and loads a small file.
func FuzzParseMapping(f *testing.F) {
	for _, name := range fuzzMappings {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(minimalPatient)
	f.Fuzz(func(t *testing.T, y string) {
		m, err := ParseMapping(strings.NewReader(y))
		if err != nil {
			if len(mappingErrors(err)) == 0 {
				var me *MappingError
				if !errors.As(err, &me) {
					t.Fatalf("error is not a *MappingError: %v", err)
				}
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted, then invalid: %v", err)
		}
		l := &Loader{Mapping: m, Sink: newMemSink(), Now: func() time.Time { return testNow }}
		_, err = l.Load(context.Background(), "x", strings.NewReader("MRN,B\n1,2\n"), nil)
		var fe *FileError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("load: %v", err)
		}
	})
}
