package ehr

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/fhir/server"
)

// TestPutAccepted: an accepted ServiceRequest can be read back from the
// sealed FHIR store by its patient, with the contained patient made a
// Patient of its own; a second request naming the patient by another
// identifier adds it and keeps the demographics.
func TestPutAccepted(t *testing.T) {
	ctx := context.Background()
	w := openWorld(t, t.TempDir())
	defer w.st.Close()
	st := server.NewSealed(w.st, w.db)
	first := `{"resourceType":"ServiceRequest","status":"active","intent":"order",
 "identifier":[{"system":"urn:placer","value":"ORD-7"}],
 "code":{"coding":[{"system":"http://loinc.org","code":"81247-9"}]},
 "contained":[{"resourceType":"Patient","id":"p","identifier":[{"system":"urn:mrn","value":"M7"}],"name":[{"family":"Doe"}]},
              {"resourceType":"Specimen","id":"s","accessionIdentifier":{"value":"S-7"}}],
 "subject":{"reference":"#p"},"specimen":[{"reference":"#s"}]}`
	a, err := Accept(ctx, w.db, []byte(first), "service:ehr")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := PutAccepted(ctx, st, a, []byte(first), time.Now())
	if err != nil || rec.ID != a.OrderID || rec.Patient != a.PatientID || rec.Version != 1 {
		t.Fatalf("put: %+v %v", rec, err)
	}
	var sr map[string]any
	json.Unmarshal(rec.Body, &sr)
	if sr["subject"].(map[string]any)["reference"] != "Patient/"+a.PatientID || len(sr["contained"].([]any)) != 1 {
		t.Errorf("stored request: %s", rec.Body)
	}
	res, err := st.Search(ctx, server.Query{Type: "ServiceRequest", Tokens: [][]string{{"patient=Patient/" + a.PatientID}}, Limit: 5})
	if err != nil || res.Total != 1 {
		t.Errorf("by patient: %+v %v", res, err)
	}
	second := `{"resourceType":"ServiceRequest","status":"active","intent":"order",
 "identifier":[{"system":"urn:placer","value":"ORD-8"}],"code":{"coding":[{"system":"http://loinc.org","code":"81247-9"}]},
 "subject":{"identifier":{"system":"urn:mrn","value":"M7"}}}`
	b, err := Accept(ctx, w.db, []byte(second), "service:ehr")
	if err != nil || b.PatientID != a.PatientID {
		t.Fatalf("second: %+v %v", b, err)
	}
	if _, err := PutAccepted(ctx, st, b, []byte(second), time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := st.Get(ctx, "Patient", a.PatientID)
	var pat map[string]any
	json.Unmarshal(p.Body, &pat)
	if err != nil || p.Version != 2 || pat["name"] == nil || len(pat["identifier"].([]any)) != 1 {
		t.Errorf("patient after the second request: %s %v", p.Body, err)
	}
	if res, _ := st.Search(ctx, server.Query{Type: "ServiceRequest", Tokens: [][]string{{"patient=Patient/" + a.PatientID}}, Limit: 5}); res.Total != 2 {
		t.Errorf("requests of the patient: %d", res.Total)
	}
}
