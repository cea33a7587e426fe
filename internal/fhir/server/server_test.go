package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var allTypes = []string{"Patient", "DiagnosticReport", "Observation", "ServiceRequest", "Specimen"}

// reportBundle is a transaction like the one the report builder sends:
// urn:uuid references between entries, a conditional create of the patient.
func reportBundle(mrn, accession string) string {
	return `{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111","resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"` + mrn + `"}]},
  "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:mrn|` + mrn + `"}},
 {"fullUrl":"urn:uuid:22222222-2222-4222-8222-222222222222","resource":{"resourceType":"Observation","status":"final",
  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
  "code":{"coding":[{"system":"http://loinc.org","code":"69548-6"}]},"subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"}},
  "request":{"method":"POST","url":"Observation"}},
 {"fullUrl":"urn:uuid:33333333-3333-4333-8333-333333333333","resource":{"resourceType":"DiagnosticReport","status":"final",
  "identifier":[{"system":"urn:acc","value":"` + accession + `"}],
  "code":{"coding":[{"system":"http://loinc.org","code":"51969-4"}]},"subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"},
  "result":[{"reference":"urn:uuid:22222222-2222-4222-8222-222222222222"}]},
  "request":{"method":"POST","url":"DiagnosticReport","ifNoneExist":"identifier=urn:acc|` + accession + `"}}]}`
}

func newTestServer(t *testing.T, st WritableStore, writable bool) *httptest.Server {
	o := Options{Store: st, Types: allTypes, Prefix: "/fhir"}
	if writable {
		o.Writable = st
	}
	srv := httptest.NewServer(New(o))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, u, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("%s %s: Content-Type %q", method, u, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func entries(b map[string]any) []map[string]any {
	var out []map[string]any
	es, _ := b["entry"].([]any)
	for _, e := range es {
		out = append(out, e.(map[string]any))
	}
	return out
}

func TestTransactionConditionalCreateAndSearch(t *testing.T) {
	st, _ := OpenMem("")
	srv := newTestServer(t, st, true)
	code, resp := do(t, "POST", srv.URL+"/fhir", reportBundle("12345", "ACC1"))
	if code != 200 || resp["type"] != "transaction-response" {
		t.Fatalf("transaction: %d %v", code, resp)
	}
	es := entries(resp)
	patientLoc := es[0]["response"].(map[string]any)["location"].(string)
	pid := strings.Split(patientLoc, "/")[1]
	report := es[2]["resource"].(map[string]any)
	if ref := report["subject"].(map[string]any)["reference"]; ref != "Patient/"+pid {
		t.Errorf("subject not rewritten: %v", ref)
	}
	for i, e := range es {
		if s := e["response"].(map[string]any)["status"]; s != "201 Created" {
			t.Errorf("entry %d: %v", i, s)
		}
	}
	// The same bundle again: the patient and report exist, the observation is new.
	code, resp = do(t, "POST", srv.URL+"/fhir", reportBundle("12345", "ACC1"))
	es = entries(resp)
	if code != 200 || es[0]["response"].(map[string]any)["status"] != "200 OK" || es[2]["response"].(map[string]any)["status"] != "200 OK" {
		t.Fatalf("repeat: %d %v", code, resp)
	}
	if es[0]["response"].(map[string]any)["location"] != patientLoc {
		t.Errorf("conditional create made a second patient")
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{"Patient?identifier=urn:mrn|12345", 1},
		{"Patient?identifier=12345", 1},
		{"Patient?identifier=|12345", 0},
		{"Patient?identifier=urn:other|12345", 0},
		{"DiagnosticReport?patient=" + pid, 1},
		{"DiagnosticReport?subject=Patient/" + pid, 1},
		{"Observation?patient=" + pid + "&category=laboratory", 2},
		{"Observation?code=http://loinc.org|69548-6&status=final", 2},
		{"Observation?code=1234,69548-6", 2},
		{"Observation?status=preliminary", 0},
		{"Observation?_lastUpdated=gt2000-01-01", 2},
		{"Observation?_lastUpdated=lt2000-01-01T00:00:00Z", 0},
		{"Patient?_id=" + pid, 1},
		{"ServiceRequest", 0},
	} {
		code, b := do(t, "GET", srv.URL+"/fhir/"+c.q, "")
		if code != 200 || b["total"] != float64(c.want) || len(entries(b)) != c.want {
			t.Errorf("%s: %d total %v, want %d", c.q, code, b["total"], c.want)
		}
	}
	code, b := do(t, "GET", srv.URL+"/fhir/DiagnosticReport?identifier=ACC1&_include=DiagnosticReport:result&_include=DiagnosticReport:subject", "")
	modes := map[string]int{}
	for _, e := range entries(b) {
		modes[e["resource"].(map[string]any)["resourceType"].(string)+" "+e["search"].(map[string]any)["mode"].(string)]++
	}
	if code != 200 || modes["DiagnosticReport match"] != 1 || modes["Observation include"] != 1 || modes["Patient include"] != 1 {
		t.Errorf("_include: %d %v", code, modes)
	}
}

func TestErrors(t *testing.T) {
	st, _ := OpenMem("")
	rw := newTestServer(t, st, true)
	ro := newTestServer(t, st, false)
	do(t, "POST", rw.URL+"/fhir", reportBundle("1", "A"))
	do(t, "POST", rw.URL+"/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"dup"}]}`)
	do(t, "POST", rw.URL+"/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"dup"}]}`)
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
		{ro, "GET", "/fhir/Patient?_format=xml", "", nil, 406, "JSON"},
		{ro, "GET", "/fhir/Patient", "", []string{"Accept", "application/fhir+xml"}, 406, "json"},
		{ro, "POST", "/fhir/Patient", `{"resourceType":"Patient"}`, nil, 405, "read-only"},
		{ro, "PUT", "/fhir/Patient/x", `{"resourceType":"Patient","id":"x"}`, nil, 405, "read-only"},
		{ro, "POST", "/fhir", reportBundle("2", "B"), nil, 405, "read-only"},
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
		code, b := do(t, c.method, c.srv.URL+c.path, c.body, c.hdr...)
		diag := fmt.Sprint(b["issue"])
		if code != c.want || b["resourceType"] != "OperationOutcome" || !strings.Contains(diag, c.diag) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.path, code, diag, c.want, c.diag)
		}
	}
	// An invalid entry fails the whole transaction: nothing of it is written.
	bad := strings.Replace(reportBundle("atomic", "ATOMIC"), `"status":"final",
  "identifier"`, `"identifier"`, 1)
	if code, _ := do(t, "POST", rw.URL+"/fhir", bad); code != 422 {
		t.Errorf("invalid entry: %d", code)
	}
	if _, b := do(t, "GET", rw.URL+"/fhir/Patient?identifier=atomic", ""); b["total"] != float64(0) {
		t.Errorf("a failed transaction left a patient behind")
	}
}

func TestUpdateVersions(t *testing.T) {
	st, _ := OpenMem("")
	srv := newTestServer(t, st, true)
	code, b := do(t, "PUT", srv.URL+"/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`)
	if code != 201 || b["meta"].(map[string]any)["versionId"] != "1" {
		t.Fatalf("create by PUT: %d %v", code, b)
	}
	code, b = do(t, "PUT", srv.URL+"/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1","active":true}`, "If-Match", `W/"1"`)
	if code != 200 || b["meta"].(map[string]any)["versionId"] != "2" {
		t.Fatalf("update: %d %v", code, b)
	}
	if code, _ := do(t, "PUT", srv.URL+"/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`, "If-Match", `W/"1"`); code != 412 {
		t.Errorf("stale If-Match: %d", code)
	}
	if code, b := do(t, "GET", srv.URL+"/fhir/Patient/p1/_history/2", ""); code != 200 || b["active"] != true {
		t.Errorf("vread: %d", code)
	}
}

// TestPagingUnderInserts follows next links while resources are added:
// every resource present at the first page is seen exactly once.
func TestPagingUnderInserts(t *testing.T) {
	st, _ := OpenMem("")
	srv := newTestServer(t, st, true)
	for i := range 25 {
		do(t, "PUT", srv.URL+fmt.Sprintf("/fhir/Patient/a%02d", i), fmt.Sprintf(`{"resourceType":"Patient","id":"a%02d"}`, i))
	}
	seen := map[string]int{}
	next := srv.URL + "/fhir/Patient?_count=10"
	var wg sync.WaitGroup
	pages := 0
	var prev string
	for next != "" {
		code, b := do(t, "GET", next, "")
		if code != 200 || b["total"] != float64(25) {
			t.Fatalf("page %d: %d total %v", pages, code, b["total"])
		}
		for _, e := range entries(b) {
			seen[e["resource"].(map[string]any)["id"].(string)]++
		}
		next, prev = "", ""
		for _, l := range b["link"].([]any) {
			m := l.(map[string]any)
			switch m["relation"] {
			case "next":
				next = m["url"].(string)
			case "previous":
				prev = m["url"].(string)
			}
		}
		if pages > 0 && prev == "" {
			t.Errorf("page %d has no previous link", pages)
		}
		pages++
		wg.Add(1)
		go func() { // inserts ahead of the reader
			defer wg.Done()
			do(t, "POST", srv.URL+"/fhir/Patient", `{"resourceType":"Patient"}`)
		}()
		wg.Wait()
	}
	if pages != 3 || len(seen) != 25 {
		t.Errorf("%d pages, %d distinct resources, want 3 and 25", pages, len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
	if u, _ := url.Parse(prev); u != nil && u.Query().Get("_cursor") == "" {
		t.Errorf("previous link without a cursor: %s", prev)
	}
}

func TestCapabilityStatement(t *testing.T) {
	st, _ := OpenMem("")
	for _, writable := range []bool{false, true} {
		srv := newTestServer(t, st, writable)
		code, b := do(t, "GET", srv.URL+"/fhir/metadata", "")
		rest := b["rest"].([]any)[0].(map[string]any)
		_, hasTx := rest["interaction"]
		if code != 200 || b["fhirVersion"] != "4.0.1" || len(rest["resource"].([]any)) != len(allTypes) || hasTx != writable {
			t.Errorf("writable %v: %d %v", writable, code, b)
		}
	}
}

// TestJournalReplay: the store comes back from its journal, a torn last
// line is dropped, and writing continues after it.
func TestJournalReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	st, err := OpenMem(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, st, true)
	do(t, "POST", srv.URL+"/fhir", reportBundle("j1", "J1"))
	st.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`[{"Type":"Patient","ID":"torn"`)
	f.Close()
	st2, err := OpenMem(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	res, _ := st2.Search(context.Background(), Query{Type: "Patient", Tokens: [][]string{{"identifier|v=j1"}}, Limit: 10})
	if res.Total != 1 {
		t.Fatalf("after replay: %d patients", res.Total)
	}
	if _, err := st2.Get(context.Background(), "Patient", "torn"); err != ErrNotFound {
		t.Errorf("torn line replayed: %v", err)
	}
	srv2 := newTestServer(t, st2, true)
	code, b := do(t, "POST", srv2.URL+"/fhir", reportBundle("j1", "J2"))
	if code != 200 || entries(b)[0]["response"].(map[string]any)["status"] != "200 OK" {
		t.Errorf("after replay: %d", code)
	}
	st3, err := OpenMem(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st3.Close()
	if res, _ := st3.Search(context.Background(), Query{Type: "DiagnosticReport"}); res.Total != 2 {
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
		{"patient/*.read", "Observation", false, true},
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
		if got := ScopeAllows(strings.Fields(c.scopes), c.typ, c.write); got != c.want {
			t.Errorf("%q %s write=%v: %v", c.scopes, c.typ, c.write, got)
		}
	}
}
