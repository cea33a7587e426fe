package clinical_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/extract"
)

// loadRule loads body with mapping (YAML, its "%EMPTY%" replaced by rule,
// its name suffixed with the rule) into f's database through the Loader
// and the ExtractSink.
func loadRule(t *testing.T, f fixture, mapping, rule, name, body string, full bool) extract.Summary {
	t.Helper()
	m, err := extract.ParseMapping(strings.NewReader(strings.Replace(mapping, "%EMPTY%", rule, 1)))
	if err != nil {
		t.Fatal(err)
	}
	m.Name += "_" + strings.NewReplacer(" ", "", ":", "_").Replace(rule) // a watermark of each rule's own
	file := filepath.Join(f.dir, name)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &extract.Loader{Mapping: m, Sink: clinical.ExtractSink{DB: f.db}, FullReload: full}
	sum, err := l.LoadFile(context.Background(), file, file+".rejects")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rejected != 0 {
		rej, _ := os.ReadFile(file + ".rejects")
		t.Fatalf("%s: %+v\n%s", name, sum, rej)
	}
	return sum
}

const emptyPatients = `
name: snapshot_patients
entity: patient
%EMPTY%
format: {delimiter: pipe, timezone: UTC}
watermark: UPD
fields:
  mrn: MRN
  assigning_authority: {value: EPIC}
  family_name: LAST
  given_name: {columns: [FIRST, MIDDLE], separator: " "}
  birth_date: {column: BIRTH, type: date, layouts: ["2006-01-02", "2006"]}
  sex: {column: SEX, transforms: [{map: {"1": F, "2": M}}]}
  updated_at: {column: UPD, type: datetime}
`

const emptyEncounters = `
name: snapshot_encounters
entity: encounter
%EMPTY%
format: {delimiter: pipe, timezone: UTC}
watermark: UPD
fields:
  visit_number: FIN
  mrn: MRN
  assigning_authority: {value: EPIC}
  class: {column: CLASS, transforms: [{map: {IP: I, OP: O}}]}
  location: LOC
  admit: {column: ADMIT, type: datetime}
  discharge: {column: DISCH, type: datetime}
  updated_at: {column: UPD, type: datetime}
`

// TestExtractEmptyRule: a row loaded, then the same key with empty cells
// in a later row: under empty: clear the stored fields are emptied (the
// name as a whole, with a middle name an HL7 message gave), under the
// default and empty: keep they stay; a new record's empty cells store
// nothing; an older row clears nothing, even loaded again with --full.
func TestExtractEmptyRule(t *testing.T) {
	onBoth(t, testExtractEmptyRule)
}

func testExtractEmptyRule(t *testing.T, f fixture) {
	ctx := context.Background()
	for _, rule := range []string{"", "empty: keep", "empty: clear"} {
		clear := rule == "empty: clear"
		src := strings.NewReplacer(" ", "_", ":", "")
		mrn := "M" + src.Replace(rule)
		// An HL7 message gave the patient a middle name first.
		f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{{Value: mrn, Authority: "EPIC", Type: "MR"}},
			Family: "HL7", Given: "HL7", Middle: "Hl7", AsOf: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})

		loadRule(t, f, emptyPatients, rule, "p1"+mrn, "MRN|LAST|FIRST|MIDDLE|BIRTH|SEX|UPD\n"+
			mrn+"|Zztest|Alpha|Q|1970-01-31|1|2025-01-02 03:04:05\n"+
			mrn+"new|Zztest|||||2025-01-02 03:04:05\n", false)
		loadRule(t, f, emptyEncounters, rule, "e1"+mrn, "FIN|MRN|CLASS|LOC|ADMIT|DISCH|UPD\n"+
			"F"+mrn+"|"+mrn+"|IP|4 WEST|2025-01-02 08:00:00|2025-01-05 10:00:00|2025-01-05 10:05:00\n"+
			"G"+mrn+"|"+mrn+"|IP|5 EAST|2025-01-03 08:00:00||2025-01-05 10:05:00\n", false)

		pid := patientOf(t, f, "EPIC", mrn)
		p, encs, _, _, err := f.db.Records(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		if p.Family != "Zztest" || p.Given != "Alpha Q" || p.Middle != "" || p.BirthDate != "19700131" || p.Sex != "F" {
			t.Fatalf("%q: first load: %+v", rule, p)
		}
		byVisit := map[string]clinical.Encounter{}
		for _, e := range encs {
			byVisit[e.VisitNumber] = e
		}
		if e := byVisit["F"+mrn]; len(encs) != 2 || e.Location != "4 WEST" || e.Discharge == "" || e.Status != "discharged" {
			t.Fatalf("%q: first load: %+v", rule, encs)
		}
		if e := byVisit["G"+mrn]; e.Discharge != "" || e.Status != "admitted" { // a new visit not discharged
			t.Fatalf("%q: first load: %+v", rule, encs)
		}
		np, _, _, _, err := f.db.Records(ctx, patientOf(t, f, "EPIC", mrn+"new"))
		if err != nil || np.Family != "Zztest" || np.Given != "" || np.BirthDate != "" || np.Sex != "" {
			t.Fatalf("%q: new patient with empty cells: %+v %v", rule, np, err)
		}

		// The same keys, later, with every field but the keys empty.
		loadRule(t, f, emptyPatients, rule, "p2"+mrn, "MRN|LAST|FIRST|MIDDLE|BIRTH|SEX|UPD\n"+
			mrn+"||||||2025-02-02 03:04:05\n", false)
		loadRule(t, f, emptyEncounters, rule, "e2"+mrn, "FIN|MRN|CLASS|LOC|ADMIT|DISCH|UPD\n"+
			"F"+mrn+"|"+mrn+"|||||2025-02-05 10:05:00\n", false)
		p, encs, _, _, err = f.db.Records(ctx, pid)
		if err != nil || len(encs) != 2 {
			t.Fatalf("%q: %+v %v", rule, encs, err)
		}
		var e clinical.Encounter
		for _, x := range encs {
			if x.VisitNumber == "F"+mrn {
				e = x
			}
		}
		if clear {
			if p.Family != "" || p.Given != "" || p.Middle != "" || p.BirthDate != "" || p.Sex != "" {
				t.Errorf("%q: patient not cleared: %+v", rule, p)
			}
			if e.Class != "" || e.Location != "" || e.Admit != "" || e.Discharge != "" || e.Status != "admitted" || e.VisitNumber != "F"+mrn {
				t.Errorf("%q: visit not cleared: %+v", rule, e)
			}
		} else {
			if p.Family != "Zztest" || p.Given != "Alpha Q" || p.BirthDate != "19700131" || p.Sex != "F" {
				t.Errorf("%q: patient not kept: %+v", rule, p)
			}
			// The status follows the discharge time, which stays.
			if e.Class != "I" || e.Location != "4 WEST" || e.Admit == "" || e.Discharge == "" || e.Status != "discharged" {
				t.Errorf("%q: visit not kept: %+v", rule, e)
			}
		}
		if !p.AsOf.Equal(time.Date(2025, 2, 2, 3, 4, 5, 0, time.UTC)) || len(p.Identifiers) != 1 {
			t.Errorf("%q: %+v", rule, p)
		}

		// Values again, then an older row with empty cells, loaded past
		// the watermark: the newer values stand.
		loadRule(t, f, emptyPatients, rule, "p3"+mrn, "MRN|LAST|FIRST|MIDDLE|BIRTH|SEX|UPD\n"+
			mrn+"|Zztest|Bravo||1971|2|2025-03-02 03:04:05\n", false)
		if sum := loadRule(t, f, emptyPatients, rule, "p4"+mrn, "MRN|LAST|FIRST|MIDDLE|BIRTH|SEX|UPD\n"+
			mrn+"||||||2025-02-20 00:00:00\n", true); sum.Loaded != 1 {
			t.Fatalf("%q: older row: %+v", rule, sum)
		}
		if p, _, _, _, err = f.db.Records(ctx, pid); err != nil || p.Family != "Zztest" || p.Given != "Bravo" || p.BirthDate != "1971" || p.Sex != "M" {
			t.Errorf("%q: an older row changed the patient: %+v %v", rule, p, err)
		}
	}
}
