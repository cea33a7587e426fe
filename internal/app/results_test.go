package app

import (
	"maps"
	"testing"

	"github.com/clinomics/clinomics/internal/config"
)

// A report whose MRN authority is any name of an authority (an HL7
// namespace, an OID, another URI) gets the FHIR system that
// clinical.authorities lists first for it.
func TestAuthoritySystems(t *testing.T) {
	got := authoritySystems(map[string][]string{
		"HOSP":                   {"1.2.840.99999.1", "https://hospital.example.org/mrn"},
		"LAB":                    {"LAB-OLD"},
		"2.16.840.1.113883.3.42": {"CLINIC"},
	})
	want := map[string]string{"HOSP": "urn:oid:1.2.840.99999.1", "1.2.840.99999.1": "urn:oid:1.2.840.99999.1",
		// A URI name too: a report whose MRN authority came as it (a FHIR
		// order's system) is written under the authority's system, which
		// is the one a search under that URI is rewritten to.
		"https://hospital.example.org/mrn": "urn:oid:1.2.840.99999.1",
		"2.16.840.1.113883.3.42":           "urn:oid:2.16.840.1.113883.3.42", "CLINIC": "urn:oid:2.16.840.1.113883.3.42"}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// Our FHIR API searches an authority's other URI (or OID) names as the
// system its patients are written with.
func TestSystemAliases(t *testing.T) {
	cfg := &config.Config{}
	cfg.Clinical.Authorities = map[string][]string{
		"HOSP":                   {"https://hospital.example.org/mrn", "1.2.840.99999.1", "urn:oid:1.2.840.99999.2"},
		"https://lab.example/id": {"LAB"},
	}
	want := map[string]string{"urn:oid:1.2.840.99999.1": "https://hospital.example.org/mrn", "urn:oid:1.2.840.99999.2": "https://hospital.example.org/mrn"}
	if got := SystemAliases(cfg); !maps.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	cfg.FHIR.Results.PatientSystem = "urn:oid:9.9"
	if got := SystemAliases(cfg); len(got) != 0 {
		t.Fatalf("with one patient_system: %v", got)
	}
}
