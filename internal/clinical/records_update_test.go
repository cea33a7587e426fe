package clinical_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
)

// TestUpdateKeepsWhatIsNotSent: a newer record that leaves a field empty
// keeps the stored value, one that clears it (Clear, HL7's null "")
// empties it, and an older record changes nothing; results replace as a
// whole. Each case runs through the single and the batch writes.
func TestUpdateKeepsWhatIsNotSent(t *testing.T) {
	later, earlier := t0.Add(time.Hour), t0.Add(-time.Hour)
	type batch bool
	for _, inBatch := range []batch{false, true} {
		name := map[batch]string{false: "one", true: "batch"}[inBatch]
		t.Run("patient/"+name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				next clinical.Patient
				want clinical.Patient
			}{
				{"A08 without PID-5, PID-7 and PID-8", clinical.Patient{AsOf: later},
					clinical.Patient{Family: "Zzyzx", Given: "Quill", Middle: "R", BirthDate: "19610704", Sex: "F", AsOf: later}},
				{"A08 without PID-7, its name without a middle name", clinical.Patient{Family: "Zzyzx", Given: "Quill", AsOf: later},
					clinical.Patient{Family: "Zzyzx", Given: "Quill", BirthDate: "19610704", Sex: "F", AsOf: later}},
				{"PID-7 null", clinical.Patient{Clear: []string{"birth_date"}, AsOf: later},
					clinical.Patient{Family: "Zzyzx", Given: "Quill", Middle: "R", Sex: "F", AsOf: later}},
				{"a name replaces the whole name", clinical.Patient{Family: "Ode", Given: "Quill", Sex: "U", AsOf: later},
					clinical.Patient{Family: "Ode", Given: "Quill", BirthDate: "19610704", Sex: "U", AsOf: later}},
				{"PID-5 null", clinical.Patient{Clear: []string{"family", "given", "middle"}, AsOf: later},
					clinical.Patient{BirthDate: "19610704", Sex: "F", AsOf: later}},
				{"older, with values", clinical.Patient{Family: "Stale", BirthDate: "19000101", AsOf: earlier},
					clinical.Patient{Family: "Zzyzx", Given: "Quill", Middle: "R", BirthDate: "19610704", Sex: "F", AsOf: t0}},
				{"older, clearing", clinical.Patient{Clear: []string{"sex"}, AsOf: earlier},
					clinical.Patient{Family: "Zzyzx", Given: "Quill", Middle: "R", BirthDate: "19610704", Sex: "F", AsOf: t0}},
			} {
				f := newFixture(t)
				ids := []clinical.Identifier{mrn}
				pid := f.upsert(t, clinical.Patient{Identifiers: ids, Family: "Zzyzx", Given: "Quill", Middle: "R", BirthDate: "19610704", Sex: "F", AsOf: t0})
				c.next.Identifiers = ids
				err := f.db.Update(context.Background(), func(tx *clinical.Tx) error {
					if !inBatch {
						_, err := tx.UpsertPatient(c.next)
						return err
					}
					_, errs, err := tx.UpsertPatients([]clinical.Patient{c.next})
					if err == nil {
						err = errs[0]
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				got, _, _, _, err := f.db.Records(context.Background(), pid)
				if err != nil {
					t.Fatal(err)
				}
				c.want.ID, c.want.Identifiers = pid, ids
				if !samePatient(got, c.want) {
					t.Errorf("%s: stored %+v, want %+v", c.name, got, c.want)
				}
			}
		})
		t.Run("encounter/"+name, func(t *testing.T) {
			stored := clinical.Encounter{VisitNumber: "V-8812", VisitIssuer: "HOSP", Class: "I", Location: "W1^101^A", Admit: "20260301075500", Status: "admitted", AsOf: t0}
			for _, c := range []struct {
				name string
				next clinical.Encounter
				want clinical.Encounter
			}{
				{"A08 without PV1-3 and PV1-44", clinical.Encounter{Class: "I", Status: "updated", AsOf: later},
					clinical.Encounter{Class: "I", Location: "W1^101^A", Admit: "20260301075500", Status: "updated", AsOf: later}},
				{"A03 adds the discharge", clinical.Encounter{Discharge: "20260302115000", Status: "discharged", AsOf: later},
					clinical.Encounter{Class: "I", Location: "W1^101^A", Admit: "20260301075500", Discharge: "20260302115000", Status: "discharged", AsOf: later}},
				{"PV1-3 null", clinical.Encounter{Status: "updated", Clear: []string{"location"}, AsOf: later},
					clinical.Encounter{Class: "I", Admit: "20260301075500", Status: "updated", AsOf: later}},
				{"older", clinical.Encounter{Location: "ED", Status: "registered", Clear: []string{"admit"}, AsOf: earlier},
					clinical.Encounter{Class: "I", Location: "W1^101^A", Admit: "20260301075500", Status: "admitted", AsOf: t0}},
			} {
				f := newFixture(t)
				pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, AsOf: t0})
				c.next.VisitNumber, c.next.VisitIssuer = stored.VisitNumber, stored.VisitIssuer
				err := f.db.Update(context.Background(), func(tx *clinical.Tx) error {
					if _, err := tx.UpsertEncounter(pid, stored); err != nil {
						return err
					}
					if !inBatch {
						_, err := tx.UpsertEncounter(pid, c.next)
						return err
					}
					d, err := f.db.DraftEncounter(c.next)
					if err != nil {
						return err
					}
					_, errs, err := tx.UpsertEncounters([]string{pid}, []clinical.EncounterDraft{d})
					if err == nil {
						err = errs[0]
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				_, encs, _, _, err := f.db.Records(context.Background(), pid)
				if err != nil || len(encs) != 1 {
					t.Fatalf("%s: %d encounters, %v", c.name, len(encs), err)
				}
				got := encs[0]
				c.want.ID, c.want.PatientID, c.want.VisitNumber, c.want.VisitIssuer = got.ID, pid, stored.VisitNumber, stored.VisitIssuer
				if !got.AsOf.Equal(c.want.AsOf) {
					t.Errorf("%s: as of %v, want %v", c.name, got.AsOf, c.want.AsOf)
				}
				got.AsOf, c.want.AsOf = time.Time{}, time.Time{}
				if got.Class != c.want.Class || got.Location != c.want.Location || got.Admit != c.want.Admit ||
					got.Discharge != c.want.Discharge || got.Status != c.want.Status || got.VisitIssuer != c.want.VisitIssuer {
					t.Errorf("%s: stored %+v, want %+v", c.name, got, c.want)
				}
			}
		})
	}
	t.Run("order", func(t *testing.T) {
		stored := clinical.Order{PlacerNumber: "ORD2002", PlacerIssuer: "EPIC", Status: "new", Code: "81247-9", CodeSystem: "LN",
			Display: "Genetic variant panel", Genetic: true, SampleID: "SMP-1", Specimen: "BLD", SpecimenType: "Whole blood",
			Ordered: "20260302130000", Orderer: "1234", AsOf: t0}
		for _, c := range []struct {
			name string
			next clinical.Order
			want func(o *clinical.Order)
		}{
			{"ORU without ORC-12, OBR-7, OBR-4, SPM", clinical.Order{FillerNumber: "F-1", Status: "completed", AsOf: later},
				func(o *clinical.Order) { o.FillerNumber, o.Status, o.AsOf = "F-1", "completed", later }},
			{"ORC-12 and OBR-7 null", clinical.Order{Status: "completed", Clear: []string{"ordered", "orderer"}, AsOf: later},
				func(o *clinical.Order) { o.Ordered, o.Orderer, o.Status, o.AsOf = "", "", "completed", later }},
			{"another service replaces code, system, display", clinical.Order{Status: "new", Code: "CBC", AsOf: later},
				func(o *clinical.Order) {
					o.Code, o.CodeSystem, o.Display, o.Genetic, o.AsOf = "CBC", "", "", false, later
				}},
			{"a specimen code alone replaces the type", clinical.Order{Status: "new", Specimen: "SAL", AsOf: later},
				func(o *clinical.Order) { o.Specimen, o.SpecimenType, o.AsOf = "SAL", "", later }},
			{"SPM-4 null", clinical.Order{Status: "new", Clear: []string{"specimen", "specimen_type"}, AsOf: later},
				func(o *clinical.Order) { o.Specimen, o.SpecimenType, o.AsOf = "", "", later }},
			{"older", clinical.Order{Status: "cancelled", Orderer: "9", Clear: []string{"ordered"}, AsOf: earlier},
				func(o *clinical.Order) {}},
		} {
			f := newFixture(t)
			pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, AsOf: t0})
			c.next.PlacerNumber, c.next.PlacerIssuer = stored.PlacerNumber, stored.PlacerIssuer
			err := f.db.Update(context.Background(), func(tx *clinical.Tx) error {
				if _, err := tx.UpsertOrder(pid, stored); err != nil {
					return err
				}
				_, err := tx.UpsertOrder(pid, c.next)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			_, _, ords, _, err := f.db.Records(context.Background(), pid)
			if err != nil || len(ords) != 1 {
				t.Fatalf("%s: %d orders, %v", c.name, len(ords), err)
			}
			want := stored
			c.want(&want)
			got := ords[0]
			want.ID, want.PatientID = got.ID, got.PatientID
			if !got.AsOf.Equal(want.AsOf) {
				t.Errorf("%s: as of %v, want %v", c.name, got.AsOf, want.AsOf)
			}
			got.AsOf, want.AsOf = time.Time{}, time.Time{}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
				t.Errorf("%s: stored\n%+v, want\n%+v", c.name, got, want)
			}
		}
	})
}

// TestUpsertOrderChanged: an order whose update would store what is
// stored already (as of the same time) is not written again and is
// reported unchanged; a new order, a newer time, a changed field and a
// cleared one are changes; an older order changes nothing; another
// patient's placer number is refused, unchanged.
func TestUpsertOrderChanged(t *testing.T) { onBoth(t, testUpsertOrderChanged) }

func testUpsertOrderChanged(t *testing.T, f fixture) {
	ctx := context.Background()
	later, earlier := t0.Add(time.Hour), t0.Add(-time.Hour)
	pid := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{mrn}, AsOf: t0})
	other := f.upsert(t, clinical.Patient{Identifiers: []clinical.Identifier{{Value: "MRN-2", Authority: "HOSP", Type: "MR"}}, AsOf: t0})
	base := clinical.Order{PlacerNumber: "ORD-5512", PlacerIssuer: "EHR", Status: "new", Code: "81479", CodeSystem: "CPT",
		Display: "Hereditary cancer panel", Genetic: true, SampleID: "S-0091", Specimen: "BLD", SpecimenType: "Whole blood",
		Ordered: "20260301074500", Orderer: "Ode^Quill", AsOf: t0}
	with := func(edit func(o *clinical.Order)) clinical.Order {
		o := base
		edit(&o)
		return o
	}
	var row catalog.OrderRow // as stored after the last step
	for _, c := range []struct {
		name    string
		pid     string
		o       clinical.Order
		changed bool
		err     error
	}{
		{"new", pid, base, true, nil},
		{"the same again", pid, base, false, nil},
		{"the same without its sample id", pid, with(func(o *clinical.Order) { o.SampleID = "" }), false, nil},
		{"the same, clearing a field it has not", pid, with(func(o *clinical.Order) { o.Clear = []string{"filler_number"} }), false, nil},
		{"older, changed", pid, with(func(o *clinical.Order) { o.Orderer, o.AsOf = "Zzyzx^Ann", earlier }), false, nil},
		{"the same as of later", pid, with(func(o *clinical.Order) { o.AsOf = later }), true, nil},
		{"the orderer changed", pid, with(func(o *clinical.Order) { o.Orderer, o.AsOf = "Zzyzx^Ann", later }), true, nil},
		{"the orderer cleared", pid, with(func(o *clinical.Order) { o.Orderer, o.Clear, o.AsOf = "", []string{"orderer"}, later }), true, nil},
		{"the orderer cleared again", pid, with(func(o *clinical.Order) { o.Orderer, o.Clear, o.AsOf = "", []string{"orderer"}, later }), false, nil},
		{"another patient's", other, with(func(o *clinical.Order) { o.Status, o.AsOf = "completed", later.Add(time.Hour) }), false, clinical.ErrConflict},
	} {
		var id string
		var changed bool
		err := f.db.Update(ctx, func(tx *clinical.Tx) error {
			var err error
			id, changed, err = tx.UpsertOrderChanged(c.pid, c.o)
			return err
		})
		if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.err)
		}
		if changed != c.changed {
			t.Errorf("%s: changed %v, want %v", c.name, changed, c.changed)
		}
		_, ords, _, err := f.st.ListPatientRecords(ctx, pid)
		if err != nil || len(ords) != 1 {
			t.Fatalf("%s: %d orders, %v", c.name, len(ords), err)
		}
		if c.err == nil && id != ords[0].ID {
			t.Errorf("%s: id %s, stored %s", c.name, id, ords[0].ID)
		}
		rewritten := !bytes.Equal(ords[0].Sealed, row.Sealed) || !ords[0].Updated.Equal(row.Updated)
		if rewritten != c.changed {
			t.Errorf("%s: row rewritten %v, want %v", c.name, rewritten, c.changed)
		}
		row = ords[0]
	}
}

func samePatient(a, b clinical.Patient) bool {
	return a.ID == b.ID && len(a.Identifiers) == len(b.Identifiers) && a.Family == b.Family && a.Given == b.Given &&
		a.Middle == b.Middle && a.BirthDate == b.BirthDate && a.Sex == b.Sex && a.Deceased == b.Deceased && a.AsOf.Equal(b.AsOf)
}
