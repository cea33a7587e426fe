package ehr

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/fhir"
	"github.com/clinomics/clinomics/internal/outbox"
	"github.com/clinomics/clinomics/internal/report"
)

// TestOnSignedNamesThePatientProblem: a report whose MRN has no system
// the bundle can use is refused by the signing hook with a field error
// (the signer's HTTP 400), not an internal error; with
// fhir.results.patient_system set it goes through to the queue.
func TestOnSignedNamesThePatientProblem(t *testing.T) {
	f, err := os.Open("../../report/testdata/draft.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ParseDraft(f)
	if err != nil {
		t.Fatal(err)
	}
	r.ID, r.Status = "rpt-0123456789abcdef0123", report.Signed
	r.Review = append(r.Review, report.Signature{Action: string(report.ActSign), By: "user:dir", At: time.Now()})
	q := &outbox.Queue{Destination: Destination("https://ehr.example.org/fhir")} // no store: the hook fails before using it
	ctx := context.Background()
	for _, c := range []struct {
		mrn, field string
	}{{"MRN0042", "Patient.Authority"}, {"", "Patient.MRN"}} {
		r.Patient.MRN, r.Patient.Authority = c.mrn, "HOSP"
		var fe *report.FieldError
		if err := OnSigned(q, fhir.BundleOptions{}, nil)(ctx, nil, r); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("MRN %q, authority HOSP, no patient system: %v, want a field error on %s", c.mrn, err, c.field)
		}
	}
	r.Patient.MRN = "MRN0042"
	if _, err := ReportBundle(ctx, r, fhir.BundleOptions{PatientSystem: "urn:oid:2.16.840.1.113883.19.5"}, nil); err != nil {
		t.Errorf("with a patient system: %v", err)
	}
}
