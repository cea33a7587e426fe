package extract

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// clearSink keeps the records of every batch as sent, Clear and all.
type clearSink struct {
	discardSink
	patients   []Patient
	encounters []Encounter
	results    []Result
}

func (c *clearSink) UpsertPatients(_ context.Context, b *Batch[Patient]) error {
	c.patients = append(c.patients, b.Records...)
	return nil
}

func (c *clearSink) UpsertEncounters(_ context.Context, b *Batch[Encounter]) error {
	c.encounters = append(c.encounters, b.Records...)
	return nil
}

func (c *clearSink) UpsertResults(_ context.Context, b *Batch[Result]) error {
	c.results = append(c.results, b.Records...)
	return nil
}

// TestEmptyRuleClear: under empty: clear, a field read from the file
// that a row leaves empty is named in the record's Clear by the clinical
// record's JSON name; keys, required fields, fields with a default,
// constants and updated_at never are; under keep (or no rule) Clear is
// nil.
func TestEmptyRuleClear(t *testing.T) {
	const patients = `
name: p
entity: patient
%s
format: {timezone: UTC}
fields:
  mrn: MRN
  assigning_authority: {column: AUTH, default: X}
  family_name: LAST
  given_name: {columns: [FIRST, MIDDLE], separator: " "}
  birth_date: {column: BIRTH, layouts: ["2006-01-02", "2006"]}
  sex: {column: SEX, transforms: [{map: {"1": F, "2": M, "9": ""}}]}
  updated_at: {column: UPD, type: datetime}
`
	const header = "MRN,AUTH,LAST,FIRST,MIDDLE,BIRTH,SEX,UPD\n"
	rows := []struct {
		row  string
		want []string // under empty: clear
	}{
		{"M1,A,Zztest,Alpha,Q,1970-01-31,1,2025-01-02 03:04:05", nil},
		{"M2,,,,,,,", []string{"family", "given", "birth_date", "sex"}},
		{"M3,A,Zztest,,,1970,2,", []string{"given"}},              // FIRST and MIDDLE empty; the clinical update rule replaces the name whole anyway
		{"M4,A,,,Q,,9,", []string{"family", "birth_date", "sex"}}, // sex mapped to empty
		{"M5,A,Zztest,,,,1,", []string{"given", "birth_date"}},
	}
	for _, rule := range []string{"", "empty: keep", "empty: clear"} {
		m, err := ParseMapping(strings.NewReader(fmt.Sprintf(patients, rule)))
		if err != nil {
			t.Fatal(err)
		}
		var data strings.Builder
		data.WriteString(header)
		for _, r := range rows {
			data.WriteString(r.row + "\n")
		}
		sink := &clearSink{}
		sum, rej := loadString(t, &Loader{Mapping: m, Sink: sink}, data.String())
		if sum.Loaded != int64(len(rows)) {
			t.Fatalf("%q: %+v\n%s", rule, sum, rej)
		}
		for i, p := range sink.patients {
			want := rows[i].want
			if rule != "empty: clear" {
				want = nil
			}
			if !slices.Equal(p.Clear, want) || (want == nil) != (p.Clear == nil) {
				t.Errorf("%q: %s: Clear %q, want %q", rule, p.MRN, p.Clear, want)
			}
		}
		if rule == "empty: clear" && m.Empty != EmptyClear || rule == "" && m.Empty != "" {
			t.Errorf("%q: Mapping.Empty %q", rule, m.Empty)
		}
	}
}

// TestEmptyRuleEncountersAndResults: an encounter's class, location,
// admit and discharge are cleared; its visit number (the key) and MRN are
// required, so never; results carry no Clear, and their empty values
// stay empty (they are replaced whole) under either rule.
func TestEmptyRuleEncountersAndResults(t *testing.T) {
	m, err := ParseMapping(strings.NewReader(`
name: e
entity: encounter
empty: clear
format: {timezone: UTC}
fields:
  visit_number: V
  mrn: MRN
  assigning_authority: {value: X}
  class: {column: C, default: U}
  location: L
  admit: {column: A, type: datetime}
  discharge: {column: D, type: datetime}
`))
	if err != nil {
		t.Fatal(err)
	}
	sink := &clearSink{}
	_, rej := loadString(t, &Loader{Mapping: m, Sink: sink}, "V,MRN,C,L,A,D\nV1,M1,,,,\nV2,M1,I,4W,2025-01-02 03:04:05,\nV3,,,,,\n")
	if len(sink.encounters) != 2 || !strings.Contains(rej, "column MRN: required but empty") {
		t.Fatalf("%+v\n%s", sink.encounters, rej)
	}
	if got, want := sink.encounters[0].Clear, []string{"location", "admit", "discharge"}; !slices.Equal(got, want) {
		t.Errorf("V1: Clear %q, want %q (class has a default)", got, want)
	}
	if got := sink.encounters[1].Clear; !slices.Equal(got, []string{"discharge"}) {
		t.Errorf("V2: Clear %q", got)
	}
	// A Sink appending to one record's Clear does not change another's.
	_ = append(sink.encounters[1].Clear, "x")
	if got := sink.encounters[0].Clear; !slices.Equal(got, []string{"location", "admit", "discharge"}) {
		t.Errorf("V1's Clear changed by an append to V2's: %q", got)
	}

	for _, rule := range []string{"keep", "clear"} {
		m, err := ParseMapping(strings.NewReader("name: r\nentity: result\nempty: " + rule + "\nfields:\n  order_number: O\n  mrn: MRN\n  code: C\n  units: U\n"))
		if err != nil {
			t.Fatal(err)
		}
		sink := &clearSink{}
		loadString(t, &Loader{Mapping: m, Sink: sink}, "O,MRN,C,U\nO1,M1,C1,\n")
		if len(sink.results) != 1 || sink.results[0].Units != "" {
			t.Errorf("%s: %+v", rule, sink.results)
		}
	}
}

// TestEmptyRuleValidate: a Mapping built in Go is checked too.
func TestEmptyRuleValidate(t *testing.T) {
	m, err := ParseMapping(strings.NewReader(minimalPatient))
	if err != nil {
		t.Fatal(err)
	}
	m.Empty = "null"
	err = m.Validate()
	var me *MappingError
	if !errors.As(err, &me) || me.Path != "empty" || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := (&Loader{Mapping: m, Sink: discardSink{}}).Load(context.Background(), "x.csv", strings.NewReader("MRN\n1\n"), nil); !errors.As(err, &me) {
		t.Fatalf("Load with a bad rule: %v", err)
	}
}
