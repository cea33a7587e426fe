package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/fhir"
	"github.com/clinomics/clinomics/internal/fhir/server"
	"github.com/clinomics/clinomics/internal/report"
)

// TestAmendmentBundleRetiresObservations applies a signed report's bundle
// and then its amendment's, as the EHR (or our own FHIR API) receives
// them: the report is one resource, status amended, whose results are the
// amendment's observations; the original's observations are the same
// resources as before, now entered-in-error.
func TestAmendmentBundleRetiresObservations(t *testing.T) {
	ctx := context.Background()
	signed := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	orig := report.Report{ID: "rpt-0001", Status: report.Signed, Version: 1,
		Patient:  report.Patient{ID: "pat-1", MRN: "MRN1", Authority: "urn:oid:1.2.3"},
		Test:     report.Test{Name: "Panel", Assembly: "GRCh38"},
		Variants: []report.Variant{{Chrom: "chr13", Pos: 32355250, Ref: "T", Alt: "C", Gene: "BRCA2", HGVSc: "c.7397T>C", Transcript: "NM_000059.4", PopulationAF: -1, AlleleFreq: -1, Classification: "Benign", Consequence: []string{"missense_variant"}}},
		Review:   []report.Signature{{Action: "signed", By: "u-1", At: signed}},
	}
	amended := orig
	amended.ID, amended.Amends, amended.Version, amended.Amended = "rpt-0002", orig.ID, 2, &orig
	amended.Variants = []report.Variant{orig.Variants[0]}
	amended.Variants[0].Classification = "Likely benign"
	amended.Review = []report.Signature{{Action: "signed", By: "u-2", At: signed.Add(24 * time.Hour)}}

	st, err := server.OpenMem("")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []report.Report{orig, amended} {
		b, err := fhir.GenomicReportBundle(r, fhir.BundleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := fhir.Marshal(b)
		if _, err := server.PutBundle(ctx, st, signed, body, r.Patient.ID); err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
	}
	reports, _ := st.Search(ctx, server.Query{Type: "DiagnosticReport", Limit: 10})
	if len(reports.Records) != 1 {
		t.Fatalf("%d DiagnosticReports, want the one, amended", len(reports.Records))
	}
	var dr struct {
		Status string
		Result []struct{ Reference string }
	}
	json.Unmarshal(reports.Records[0].Body, &dr)
	results := map[string]bool{}
	for _, r := range dr.Result {
		results[r.Reference] = true
	}
	obs, _ := st.Search(ctx, server.Query{Type: "Observation", Limit: 100})
	byStatus := map[string]int{}
	for _, rec := range obs.Records {
		var o struct{ Status string }
		json.Unmarshal(rec.Body, &o)
		byStatus[o.Status]++
		if final := o.Status == "final"; final != results["Observation/"+rec.ID] {
			t.Errorf("Observation/%s is %s; in the report's results: %v", rec.ID, o.Status, results["Observation/"+rec.ID])
		}
	}
	// One variant, its consequence and its implication, in each report.
	if dr.Status != "amended" || byStatus["final"] != 3 || byStatus["entered-in-error"] != 3 || len(obs.Records) != 6 {
		t.Fatalf("report %s; observations by status %v", dr.Status, byStatus)
	}
}
