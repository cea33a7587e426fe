package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/fhir/server"
	"github.com/clinomics/clinomics/internal/fhir/server/servertest"
)

func TestErrors(t *testing.T) {
	st, _ := server.OpenMem("")
	rw := servertest.NewServer(t, st, true)
	ro := servertest.NewServer(t, st, false)
	servertest.Do(t, "POST", rw.URL+"/fhir", servertest.ReportBundle("1", "A"))
	servertest.Do(t, "POST", rw.URL+"/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"dup"}]}`)
	servertest.Do(t, "POST", rw.URL+"/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"dup"}]}`)
	for _, c := range []struct {
		srv          *httptest.Server
		method, path string
		body         string
		hdr          []string
		want         int
		diag         string
	}{
		{ro, "GET", "/fhir/Patient/nope", "", nil, 404, "not known"},
		{ro, "GET", "/fhir/Foo/1", "", nil, 404, "not supported"},
		{ro, "GET", "/fhir/Patient?name=x", "", nil, 400, "name"},
		{ro, "GET", "/fhir/Patient?identifier:exact=x", "", nil, 400, "identifier:exact"},
		{ro, "GET", "/fhir/Patient?_count=-1", "", nil, 400, "_count"},
		{ro, "GET", "/fhir/Observation?_lastUpdated=gt2024-13", "", nil, 400, "_lastUpdated"},
		{ro, "GET", "/fhir/Observation?_include=DiagnosticReport:result", "", nil, 400, "_include"},
		{ro, "GET", "/fhir/Patient?_cursor=zzz", "", nil, 400, "_cursor"},
		{ro, "GET", "/fhir/Patient?patient.identifier=x", "", nil, 400, "patient.identifier"},
		{ro, "GET", "/fhir/Observation?patient.identifier=", "", nil, 400, "patient.identifier"},
		{ro, "GET", "/fhir/Patient?_format=xml", "", nil, 406, "JSON"},
		{ro, "GET", "/fhir/Patient", "", []string{"Accept", "application/fhir+xml"}, 406, "json"},
		{ro, "POST", "/fhir/Patient", `{"resourceType":"Patient"}`, nil, 405, "read-only"},
		{ro, "PUT", "/fhir/Patient/x", `{"resourceType":"Patient","id":"x"}`, nil, 405, "read-only"},
		{ro, "POST", "/fhir", servertest.ReportBundle("2", "B"), nil, 405, "read-only"},
		{ro, "DELETE", "/fhir/Patient/x", "", nil, 405, "DELETE"},
		{rw, "POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final"}`, nil, 422, "Observation.code"},
		{rw, "POST", "/fhir/Observation", `{"resourceType":"Patient"}`, nil, 400, "resourceType"},
		{rw, "POST", "/fhir/Patient", `{"resourceType":"Patient"}`, []string{"If-None-Exist", "identifier=urn:mrn|dup"}, 412, "matches 2"},
		{rw, "POST", "/fhir/Patient", `[1]`, nil, 400, "JSON object"},
		{rw, "POST", "/fhir/Patient", `{}`, []string{"Content-Type", "text/plain"}, 415, "fhir+json"},
		{rw, "PUT", "/fhir/Patient/x", `{"resourceType":"Patient","id":"y"}`, nil, 400, "id"},
		{rw, "POST", "/fhir", `{"resourceType":"Bundle","type":"batch"}`, nil, 400, "transaction"},
		{rw, "POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{},"subject":{"reference":"urn:uuid:nowhere"}},"request":{"method":"POST","url":"Observation"}}]}`, nil, 400, "entry[0]"},
	} {
		code, b := servertest.Do(t, c.method, c.srv.URL+c.path, c.body, c.hdr...)
		diag := fmt.Sprint(b["issue"])
		if code != c.want || b["resourceType"] != "OperationOutcome" || !strings.Contains(diag, c.diag) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.path, code, diag, c.want, c.diag)
		}
	}
}

func TestCapabilityStatement(t *testing.T) {
	st, _ := server.OpenMem("")
	for _, writable := range []bool{false, true} {
		srv := servertest.NewServer(t, st, writable)
		code, b := servertest.Do(t, "GET", srv.URL+"/fhir/metadata", "")
		rest := b["rest"].([]any)[0].(map[string]any)
		_, hasTx := rest["interaction"]
		if code != 200 || b["fhirVersion"] != "4.0.1" || len(rest["resource"].([]any)) != len(servertest.AllTypes) || hasTx != writable {
			t.Errorf("writable %v: %d %v", writable, code, b)
		}
	}
}

// TestJournalReplay: the store comes back from its journal, a torn last
// line is dropped, and writing continues after it.
func TestJournalReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	st, err := server.OpenMem(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.NewServer(t, st, true)
	servertest.Do(t, "POST", srv.URL+"/fhir", servertest.ReportBundle("j1", "J1"))
	st.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`[{"Type":"Patient","ID":"torn"`)
	f.Close()
	st2, err := server.OpenMem(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	res, _ := st2.Search(context.Background(), server.Query{Type: "Patient", Tokens: [][]string{{"identifier|v=j1"}}, Limit: 10})
	if res.Total != 1 {
		t.Fatalf("after replay: %d patients", res.Total)
	}
	if _, err := st2.Get(context.Background(), "Patient", "torn"); err != server.ErrNotFound {
		t.Errorf("torn line replayed: %v", err)
	}
	srv2 := servertest.NewServer(t, st2, true)
	code, b := servertest.Do(t, "POST", srv2.URL+"/fhir", servertest.ReportBundle("j1", "J2"))
	if code != 200 || servertest.Entries(b)[0]["response"].(map[string]any)["status"] != "200 OK" {
		t.Errorf("after replay: %d", code)
	}
	st3, err := server.OpenMem(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st3.Close()
	if res, _ := st3.Search(context.Background(), server.Query{Type: "DiagnosticReport"}); res.Total != 2 {
		t.Errorf("second replay: %d reports", res.Total)
	}
}

func TestScopeAllows(t *testing.T) {
	for _, c := range []struct {
		scopes      string
		typ         string
		write, want bool
	}{
		{"system/DiagnosticReport.read", "DiagnosticReport", false, true},
		{"system/DiagnosticReport.read", "Patient", false, false},
		{"system/DiagnosticReport.read", "DiagnosticReport", true, false},
		{"patient/*.read", "Observation", false, false}, // one patient's compartment: not filtered here, so refused
		{"patient/*.read user/Observation.read", "Observation", false, true},
		{"user/*.*", "Observation", true, true},
		{"system/*.write", "Observation", true, true},
		{"system/*.write", "Observation", false, false},
		{"system/Observation.rs", "Observation", false, true},
		{"system/Observation.rs", "Observation", true, false},
		{"system/*.cruds", "Patient", true, true},
		{"system/*.sr", "Patient", false, false}, // not v2 order
		{"openid fhirUser launch/patient", "Patient", false, false},
		{"", "Patient", false, false},
	} {
		if got := server.ScopeAllows(strings.Fields(c.scopes), c.typ, c.write); got != c.want {
			t.Errorf("%q %s write=%v: %v", c.scopes, c.typ, c.write, got)
		}
	}
}

// A search by identifier in another name of the system (SystemAliases)
// finds the resources stored under the one they were written with, in an
// OR list and in a patient.identifier chain too.
func TestSearchBySystemAlias(t *testing.T) {
	st, _ := server.OpenMem("")
	h := server.New(server.Options{Store: st, Writable: st, Types: servertest.AllTypes, Prefix: "/fhir",
		SystemAliases: map[string]string{"urn:oid:1.2.3": "https://hospital.example.org/mrn"}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	servertest.Do(t, "POST", srv.URL+"/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"https://hospital.example.org/mrn","value":"M1"}]}`)
	for _, q := range []string{"identifier=urn:oid:1.2.3|M1", "identifier=urn:x|M9,urn:oid:1.2.3|M1", "identifier=https://hospital.example.org/mrn|M1"} {
		if code, b := servertest.Do(t, "GET", srv.URL+"/fhir/Patient?"+q, ""); code != 200 || b["total"] != 1.0 {
			t.Errorf("%s: %d %v", q, code, b)
		}
	}
	if code, b := servertest.Do(t, "GET", srv.URL+"/fhir/Patient?identifier=urn:oid:1.2.4|M1", ""); code != 200 || b["total"] != 0.0 {
		t.Errorf("another system found it: %d %v", code, b)
	}
}
