package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/fhir/server"
	"github.com/clinomics/clinomics/internal/httpapi"

	"github.com/clinomics/clinomics/internal/testtools"
)

// fhirResources are the resources of one signed report: a patient, two
// observations, the report, and an order.
func fhirResources(n int) [][]byte {
	var out [][]byte
	add := func(s string) { out = append(out, []byte(s)) }
	add(`{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:mrn","value":"MRN-1"}]}`)
	add(`{"resourceType":"ServiceRequest","id":"sr1","status":"active","intent":"order","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://loinc.org","code":"51969-4"}]}}`)
	var results []string
	for i := range n {
		add(fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"69548-6"}]},"subject":{"reference":"Patient/p1"}}`, i))
		results = append(results, fmt.Sprintf(`{"reference":"Observation/o%d"}`, i))
	}
	add(`{"resourceType":"DiagnosticReport","id":"dr1","status":"final","identifier":[{"system":"urn:acc","value":"ACC-1"}],"code":{"coding":[{"system":"http://loinc.org","code":"51969-4"}]},"subject":{"reference":"Patient/p1"},"result":[` + strings.Join(results, ",") + `]}`)
	return out
}

// newFHIRServer serves the API with the resources loaded; scopes, when
// not nil, are the SMART scopes every credential carries.
func newFHIRServer(t *testing.T, scopes []string) *testServer {
	st, _ := server.OpenMem("")
	if err := server.Put(context.Background(), st, time.Now(), fhirResources(5)...); err != nil {
		t.Fatal(err)
	}
	return newServer(t, func(s *httpapi.Server) {
		s.FHIR = &httpapi.FHIRAPI{Store: st}
		if scopes != nil {
			s.FHIR.Scopes = func(*auth.Principal) ([]string, bool) { return scopes, true }
		}
	})
}

func TestFHIRPermissionsScopesAndAudit(t *testing.T) {
	srv := newFHIRServer(t, nil)
	for _, c := range []struct {
		role auth.Role
		path string
		want int
	}{
		{auth.RoleClinician, "/fhir/r4/DiagnosticReport/dr1", 200},
		{auth.RoleClinician, "/fhir/r4/Patient?identifier=urn:mrn|MRN-1", 200},
		{auth.RoleBioinformatician, "/fhir/r4/DiagnosticReport/dr1", 200},
		{auth.RoleBioinformatician, "/fhir/r4/Patient/p1", 403},
		// reports:read but not patients:read: the _include of the subject is refused
		{auth.RoleBioinformatician, "/fhir/r4/DiagnosticReport?_include=DiagnosticReport:subject", 403},
		{auth.RoleResearcher, "/fhir/r4/Observation", 403},
		{auth.RoleClinician, "/fhir/r4/Patient/nope", 404},
		{auth.RoleClinician, "/fhir/r4/Foo", 404},
		{auth.RoleClinician, "/fhir/r4/Patient?bogus=1", 400},
		{"", "/fhir/r4/Patient/p1", 401},
		{"", "/fhir/r4/metadata", 401},
		{auth.RoleResearcher, "/fhir/r4/metadata", 200},
	} {
		resp, b := srv.do(t, c.role, "GET", c.path, "")
		if resp.StatusCode != c.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/fhir+json") {
			t.Errorf("%s %s: %d %s, want %d", c.role, c.path, resp.StatusCode, b, c.want)
		}
		if c.want != 200 && !strings.Contains(string(b), "OperationOutcome") {
			t.Errorf("%s %s: not an OperationOutcome: %s", c.role, c.path, b)
		}
	}
	resp, b := srv.do(t, auth.RoleClinician, "POST", "/fhir/r4/Patient", `{"resourceType":"Patient"}`)
	if resp.StatusCode != 405 || !strings.Contains(string(b), "read-only") {
		t.Errorf("write: %d %s", resp.StatusCode, b)
	}
	evs, err := srv.store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if strings.Contains(e.Detail+e.Resource+e.Action, "MRN-1") {
			t.Errorf("audit record holds an identifier value: %+v", e)
		}
		if e.Action == "fhir read" && e.Patient == "p1" && strings.Contains(e.Resource, "DiagnosticReport/dr1") {
			found = true
		}
	}
	if !found {
		t.Error("no audit record of the report read for patient p1")
	}

	scoped := newFHIRServer(t, []string{"system/DiagnosticReport.read", "system/Observation.read"})
	for path, want := range map[string]int{
		"/fhir/r4/DiagnosticReport/dr1":                               200,
		"/fhir/r4/DiagnosticReport?_include=DiagnosticReport:result":  200,
		"/fhir/r4/DiagnosticReport?_include=DiagnosticReport:subject": 403,
		"/fhir/r4/Patient/p1":                                         403,
	} {
		if resp, b := scoped.do(t, auth.RoleClinician, "GET", path, ""); resp.StatusCode != want {
			t.Errorf("scoped %s: %d %s, want %d", path, resp.StatusCode, b, want)
		}
	}
}

// TestFHIRKitClient reads the API with the third-party client
// fhir-kit-client (scripts/node/fhir-client.mjs).
func TestFHIRKitClient(t *testing.T) {
	node := testtools.Node(t, "fhir-kit-client")
	srv := newFHIRServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join(testtools.NodeDir(), "fhir-client.mjs"), "--base", srv.URL+"/fhir/r4",
		"--token", srv.tokens[auth.RoleClinician], "--identifier", "urn:acc|ACC-1", "--count", "2").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("fhir-client.mjs: %v\n%s", err, stderr)
	}
	var got struct {
		FhirVersion      string
		Types            []string
		SearchTotal      int
		SearchEntries    []string
		ReadID           string
		ReadVersion      string
		ObservationPages []int
		ObservationTotal int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	slices.Sort(got.SearchEntries)
	want := []string{"include Observation", "include Observation", "include Observation", "include Observation", "include Observation", "include Patient", "match DiagnosticReport"}
	if got.FhirVersion != "4.0.1" || len(got.Types) != 4 || got.SearchTotal != 1 || !slices.Equal(got.SearchEntries, want) ||
		got.ReadID != "dr1" || got.ReadVersion != "1" || !slices.Equal(got.ObservationPages, []int{2, 2, 1}) || got.ObservationTotal != 5 {
		t.Errorf("fhir-kit-client read: %s", out)
	}
	_ = http.StatusOK
}
