package app

import (
	"maps"
	"testing"
)

// A report whose MRN authority is an HL7 namespace gets the FHIR system
// that clinical.authorities lists for it, or urn:oid: for an OID.
func TestAuthoritySystems(t *testing.T) {
	got := authoritySystems(map[string][]string{
		"HOSP":                   {"1.2.840.99999.1", "https://hospital.example.org/mrn"},
		"LAB":                    {"LAB-OLD"},
		"2.16.840.1.113883.3.42": {"CLINIC"},
	})
	want := map[string]string{"HOSP": "urn:oid:1.2.840.99999.1", "1.2.840.99999.1": "urn:oid:1.2.840.99999.1",
		"2.16.840.1.113883.3.42": "urn:oid:2.16.840.1.113883.3.42", "CLINIC": "urn:oid:2.16.840.1.113883.3.42"}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
