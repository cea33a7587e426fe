package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/report"
)

func TestCompleteDraft(t *testing.T) {
	keys.DefaultKDF.MemoryKiB = 8 * 1024
	ctx := context.Background()
	dir := t.TempDir()
	st, err := catalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(ctx, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	var pid, oid string
	err = db.Update(ctx, func(tx *clinical.Tx) error {
		if pid, err = tx.UpsertPatient(clinical.Patient{Identifiers: []clinical.Identifier{{Value: "V1", Authority: "VISIT", Type: "VN"}, {Value: "MRN77", Authority: "HOSP", Type: "MR"}},
			Family: "Roe", Given: "Ann", BirthDate: "19800401", Sex: "F"}); err != nil {
			return err
		}
		oid, err = tx.UpsertOrder(pid, clinical.Order{PlacerNumber: "PL1", PlacerIssuer: "EPIC", FillerNumber: "FI1", Code: "51969-4", CodeSystem: "LN",
			Display: "Genetic analysis", SampleID: "S9", Specimen: "BLD", SpecimenType: "Blood", Ordered: "20260302101500", Status: "new"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	complete := CompleteDraft(db)

	r := report.Report{Patient: report.Patient{ID: pid}, Specimen: report.Specimen{SampleID: "S9"}, Test: report.Test{Name: "panel"}}
	if err := complete(ctx, &r); err != nil {
		t.Fatal(err)
	}
	want := report.Patient{ID: pid, MRN: "MRN77", Authority: "HOSP", Family: "Roe", Given: "Ann", BirthDate: "1980-04-01", Sex: "female"}
	if r.Patient != want {
		t.Errorf("patient = %+v, want %+v", r.Patient, want)
	}
	if r.Order.ID != oid || r.Order.Placer != "PL1" || r.Order.Filler != "FI1" || r.Order.CodeSystem != "http://loinc.org" || r.Order.OrderedDate != "2026-03-02" {
		t.Errorf("order = %+v", r.Order)
	}
	if r.Specimen.Type != "Blood" {
		t.Errorf("specimen type = %q, want the order's (SPM-4) Blood", r.Specimen.Type)
	}
	// A draft's own specimen type is kept.
	r = report.Report{Patient: report.Patient{ID: pid}, Specimen: report.Specimen{SampleID: "S9", Type: "Saliva"}}
	if err := complete(ctx, &r); err != nil || r.Specimen.Type != "Saliva" {
		t.Errorf("draft specimen type replaced: %v %+v", err, r.Specimen)
	}

	// What the draft gives is kept.
	r = report.Report{Patient: report.Patient{ID: pid, Given: "Anne"}, Order: report.Order{ID: oid, Display: "Mine"}}
	if err := complete(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if r.Patient.Given != "Anne" || r.Order.Display != "Mine" || r.Specimen.SampleID != "S9" {
		t.Errorf("draft values replaced: %+v %+v", r.Patient, r.Order)
	}

	var fe *report.FieldError
	r = report.Report{Patient: report.Patient{ID: pid, MRN: "MRN99", Authority: "HOSP"}}
	if err := complete(ctx, &r); !errors.As(err, &fe) || fe.Field != "Patient.MRN" {
		t.Errorf("another patient's MRN: %v", err)
	}
	r = report.Report{Patient: report.Patient{ID: pid, MRN: "MRN77", Authority: "HOSP"}}
	if err := complete(ctx, &r); err != nil || r.Patient.Family != "Roe" {
		t.Errorf("the patient's own MRN: %v %+v", err, r.Patient)
	}
	r = report.Report{Patient: report.Patient{ID: pid}, Order: report.Order{ID: "ord-elsewhere"}}
	if err := complete(ctx, &r); !errors.As(err, &fe) || fe.Field != "Order.ID" {
		t.Errorf("another patient's order: %v", err)
	}
	r = report.Report{Patient: report.Patient{ID: "pat-unknown"}}
	if err := complete(ctx, &r); !errors.As(err, &fe) || fe.Field != "Patient.ID" {
		t.Errorf("unknown patient: %v", err)
	}
	r = report.Report{Patient: report.Patient{ID: "pat-unknown", MRN: "X1"}}
	if err := complete(ctx, &r); err != nil {
		t.Errorf("a draft with its own MRN: %v", err)
	}

	// A draft that names only the sample finds the patient by the order
	// naming it.
	r = report.Report{Specimen: report.Specimen{SampleID: "S9"}}
	if err := complete(ctx, &r); err != nil || r.Patient.ID != pid || r.Patient.MRN != "MRN77" || r.Order.ID != oid {
		t.Errorf("by sample: %v %+v %+v", err, r.Patient, r.Order)
	}
	r = report.Report{Specimen: report.Specimen{SampleID: "S404"}}
	if err := complete(ctx, &r); !errors.As(err, &fe) || fe.Field != "Specimen.SampleID" {
		t.Errorf("a sample no order names: %v", err)
	}
	err = db.Update(ctx, func(tx *clinical.Tx) error {
		other, err := tx.UpsertPatient(clinical.Patient{Identifiers: []clinical.Identifier{{Value: "MRN78", Authority: "HOSP"}}})
		if err == nil {
			_, err = tx.UpsertOrder(other, clinical.Order{PlacerNumber: "PL2", PlacerIssuer: "EPIC", SampleID: "S9", Status: "new"})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r = report.Report{Specimen: report.Specimen{SampleID: "S9"}}
	if err := complete(ctx, &r); !errors.As(err, &fe) || fe.Field != "Specimen.SampleID" {
		t.Errorf("a sample two patients' orders name: %v", err)
	}
}

// An order's code system reaches the report as a URI: HL7's LN mapped,
// a FHIR order's URI kept (it was dropped before), a local name left out.
func TestCodeSystemURI(t *testing.T) {
	for in, want := range map[string]string{"LN": "http://loinc.org", "http://loinc.org": "http://loinc.org",
		"urn:oid:2.16.840.1.113883.6.1": "urn:oid:2.16.840.1.113883.6.1", "99LOCAL": "", "": ""} {
		if got := codeSystemURI(in); got != want {
			t.Errorf("codeSystemURI(%q) = %q, want %q", in, got, want)
		}
	}
}
