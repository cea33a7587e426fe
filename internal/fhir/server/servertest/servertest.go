// Package servertest is the conformance suite every server.WritableStore
// must pass (the journaled MemStore and the catalog's SealedStore): the
// server's own interactions over HTTP (transactions with conditional
// creates and updates, search by every supported parameter, versions,
// paging under concurrent inserts), all-or-nothing transactions, version
// conflicts, and PutBundle. Whatever a store keeps (plain tokens or keyed
// hashes), searches must give the same answers.
package servertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/fhir/server"
)

// Run runs the suite; open returns a fresh, empty store each call.
func Run(t *testing.T, open func(t *testing.T) server.WritableStore) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, st server.WritableStore)
	}{
		{"TransactionConditionalCreateAndSearch", transactionAndSearch},
		{"UpdateVersions", updateVersions},
		{"PagingUnderInserts", pagingUnderInserts},
		{"FailedTransactionLeavesNothing", failedTransaction},
		{"Conflicts", conflicts},
		{"ConditionalUpdate", conditionalUpdate},
		{"PutBundle", putBundle},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var AllTypes = []string{"Patient", "DiagnosticReport", "Observation", "ServiceRequest", "Specimen"}

// reportBundle is a transaction like the one the report builder sends:
// urn:uuid references between entries, a conditional create of the patient.
func ReportBundle(mrn, accession string) string {
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

func NewServer(t *testing.T, st server.WritableStore, writable bool) *httptest.Server {
	o := server.Options{Store: st, Types: AllTypes, Prefix: "/fhir"}
	if writable {
		o.Writable = st
	}
	srv := httptest.NewServer(server.New(o))
	t.Cleanup(srv.Close)
	return srv
}

func Do(t *testing.T, method, u, body string, hdr ...string) (int, map[string]any) {
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

func Entries(b map[string]any) []map[string]any {
	var out []map[string]any
	es, _ := b["entry"].([]any)
	for _, e := range es {
		out = append(out, e.(map[string]any))
	}
	return out
}

func transactionAndSearch(t *testing.T, st server.WritableStore) {
	srv := NewServer(t, st, true)
	code, resp := Do(t, "POST", srv.URL+"/fhir", ReportBundle("12345", "ACC1"))
	if code != 200 || resp["type"] != "transaction-response" {
		t.Fatalf("transaction: %d %v", code, resp)
	}
	es := Entries(resp)
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
	code, resp = Do(t, "POST", srv.URL+"/fhir", ReportBundle("12345", "ACC1"))
	es = Entries(resp)
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
		{"DiagnosticReport?patient.identifier=urn:mrn|12345", 1}, // chained: the patient by MRN
		{"Observation?patient.identifier=12345&category=laboratory", 2},
		{"DiagnosticReport?patient.identifier=urn:mrn|99999", 0},
		{"Observation?patient=" + pid + "&category=laboratory", 2},
		{"Observation?code=http://loinc.org|69548-6&status=final", 2},
		{"Observation?code=1234,69548-6", 2},
		{"Observation?status=preliminary", 0},
		{"Observation?status=preliminary,final", 2}, // token OR (an EHR pull asks status=active,revoked,entered-in-error)
		{"Observation?status=registered,preliminary", 0},
		{"Observation?_lastUpdated=gt2000-01-01", 2},
		{"Observation?_lastUpdated=lt2000-01-01T00:00:00Z", 0},
		{"Patient?_id=" + pid, 1},
		{"ServiceRequest", 0},
	} {
		code, b := Do(t, "GET", srv.URL+"/fhir/"+c.q, "")
		if code != 200 || b["total"] != float64(c.want) || len(Entries(b)) != c.want {
			t.Errorf("%s: %d total %v, want %d", c.q, code, b["total"], c.want)
		}
	}
	code, b := Do(t, "GET", srv.URL+"/fhir/DiagnosticReport?identifier=ACC1&_include=DiagnosticReport:result&_include=DiagnosticReport:subject", "")
	modes := map[string]int{}
	for _, e := range Entries(b) {
		modes[e["resource"].(map[string]any)["resourceType"].(string)+" "+e["search"].(map[string]any)["mode"].(string)]++
	}
	if code != 200 || modes["DiagnosticReport match"] != 1 || modes["Observation include"] != 1 || modes["Patient include"] != 1 {
		t.Errorf("_include: %d %v", code, modes)
	}
}

func updateVersions(t *testing.T, st server.WritableStore) {
	srv := NewServer(t, st, true)
	code, b := Do(t, "PUT", srv.URL+"/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`)
	if code != 201 || b["meta"].(map[string]any)["versionId"] != "1" {
		t.Fatalf("create by PUT: %d %v", code, b)
	}
	code, b = Do(t, "PUT", srv.URL+"/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1","active":true}`, "If-Match", `W/"1"`)
	if code != 200 || b["meta"].(map[string]any)["versionId"] != "2" {
		t.Fatalf("update: %d %v", code, b)
	}
	if code, _ := Do(t, "PUT", srv.URL+"/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`, "If-Match", `W/"1"`); code != 412 {
		t.Errorf("stale If-Match: %d", code)
	}
	if code, b := Do(t, "GET", srv.URL+"/fhir/Patient/p1/_history/2", ""); code != 200 || b["active"] != true {
		t.Errorf("vread: %d", code)
	}
}

// pagingUnderInserts follows next links while resources are added:
// every resource present at the first page is seen exactly once.
func pagingUnderInserts(t *testing.T, st server.WritableStore) {
	srv := NewServer(t, st, true)
	for i := range 25 {
		Do(t, "PUT", srv.URL+fmt.Sprintf("/fhir/Patient/a%02d", i), fmt.Sprintf(`{"resourceType":"Patient","id":"a%02d"}`, i))
	}
	seen := map[string]int{}
	next := srv.URL + "/fhir/Patient?_count=10"
	var wg sync.WaitGroup
	pages := 0
	var prev string
	for next != "" {
		code, b := Do(t, "GET", next, "")
		if code != 200 || b["total"] != float64(25) {
			t.Fatalf("page %d: %d total %v", pages, code, b["total"])
		}
		for _, e := range Entries(b) {
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
			Do(t, "POST", srv.URL+"/fhir/Patient", `{"resourceType":"Patient"}`)
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

// failedTransaction: an invalid entry fails the whole transaction, and
// nothing of it is written.
func failedTransaction(t *testing.T, st server.WritableStore) {
	srv := NewServer(t, st, true)
	bad := strings.Replace(ReportBundle("atomic", "ATOMIC"), `"status":"final",
  "identifier"`, `"identifier"`, 1)
	if code, _ := Do(t, "POST", srv.URL+"/fhir", bad); code != 422 {
		t.Errorf("invalid entry: %d", code)
	}
	if _, b := Do(t, "GET", srv.URL+"/fhir/Patient?identifier=atomic", ""); b["total"] != float64(0) {
		t.Errorf("a failed transaction left a patient behind")
	}
	boom := errors.New("boom")
	err := st.Apply(context.Background(), func(tx server.Tx) error {
		tx.Put(server.Record{Type: "Patient", ID: "gone", Version: 1, Updated: time.Now(), Body: []byte(`{"resourceType":"Patient","id":"gone","meta":{"versionId":"1"}}`)})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Apply returned %v, want the function's error", err)
	}
	if _, err := st.Get(context.Background(), "Patient", "gone"); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("a failed Apply left a resource: %v", err)
	}
}

// conflicts: a put whose version is not one more than the stored one, or
// two puts of one resource in a transaction, fail with ErrConflict, and
// nothing of that transaction is written.
func conflicts(t *testing.T, st server.WritableStore) {
	ctx := context.Background()
	now := time.Now()
	if err := server.Put(ctx, st, now, []byte(`{"resourceType":"Patient","id":"c1"}`)); err != nil {
		t.Fatal(err)
	}
	body := func(v int) []byte {
		return []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"c1","meta":{"versionId":"%d"}}`, v))
	}
	for _, c := range []struct {
		name string
		recs []server.Record
	}{
		{"version 1 again", []server.Record{{Type: "Patient", ID: "c1", Version: 1, Updated: now, Body: body(1)}}},
		{"version 3 over 1", []server.Record{{Type: "Patient", ID: "c1", Version: 3, Updated: now, Body: body(3)}}},
		{"twice", []server.Record{
			{Type: "Patient", ID: "c2", Version: 1, Updated: now, Body: []byte(`{"resourceType":"Patient","id":"c2","meta":{"versionId":"1"}}`)},
			{Type: "Patient", ID: "c1", Version: 2, Updated: now, Body: body(2)},
			{Type: "Patient", ID: "c1", Version: 2, Updated: now, Body: body(2)}}},
	} {
		err := st.Apply(ctx, func(tx server.Tx) error {
			for _, r := range c.recs {
				tx.Put(r)
			}
			return nil
		})
		if !errors.Is(err, server.ErrConflict) {
			t.Errorf("%s: %v, want ErrConflict", c.name, err)
		}
	}
	if rec, err := st.Get(ctx, "Patient", "c1"); err != nil || rec.Version != 1 {
		t.Errorf("after conflicts: %+v %v", rec, err)
	}
	if _, err := st.Get(ctx, "Patient", "c2"); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("a conflicting transaction wrote part of itself: %v", err)
	}
}

// conditionalUpdate: PUT Type?search in a transaction replaces the one
// match, or creates the resource when there is none.
func conditionalUpdate(t *testing.T, st server.WritableStore) {
	srv := NewServer(t, st, true)
	tx := func(status string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"DiagnosticReport","status":"` + status + `",
 "identifier":[{"system":"urn:acc","value":"CU1"}],"code":{"coding":[{"system":"http://loinc.org","code":"51969-4"}]}},
 "request":{"method":"PUT","url":"DiagnosticReport?identifier=urn:acc|CU1"}}]}`
	}
	code, b := Do(t, "POST", srv.URL+"/fhir", tx("preliminary"))
	es := Entries(b)
	if code != 200 || len(es) != 1 || es[0]["response"].(map[string]any)["status"] != "201 Created" {
		t.Fatalf("conditional update, no match: %d %v", code, b)
	}
	loc := es[0]["response"].(map[string]any)["location"].(string)
	code, b = Do(t, "POST", srv.URL+"/fhir", tx("final"))
	es = Entries(b)
	if code != 200 || es[0]["response"].(map[string]any)["status"] != "200 OK" {
		t.Fatalf("conditional update, one match: %d %v", code, b)
	}
	if loc2 := es[0]["response"].(map[string]any)["location"].(string); strings.TrimSuffix(loc2, "/_history/2") != strings.TrimSuffix(loc, "/_history/1") {
		t.Errorf("updated %s, created %s", loc2, loc)
	}
	if _, b := Do(t, "GET", srv.URL+"/fhir/DiagnosticReport?identifier=CU1&status=final", ""); b["total"] != float64(1) {
		t.Errorf("after the update: %v", b["total"])
	}
	if _, b := Do(t, "GET", srv.URL+"/fhir/DiagnosticReport?status=preliminary", ""); b["total"] != float64(0) {
		t.Errorf("the old version is still found: %v", b["total"])
	}
}

// putBundle applies a report's transaction Bundle without HTTP: urn:uuid
// references resolved, the patient created with the given id, the same
// Bundle again updating nothing but adding its unconditional entries.
func putBundle(t *testing.T, st server.WritableStore) {
	ctx := context.Background()
	recs, err := server.PutBundle(ctx, st, time.Now(), []byte(ReportBundle("PB1", "PBACC")), "pseudo-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Type != "Patient" || recs[0].ID != "pseudo-1" || recs[2].Patient != "pseudo-1" {
		t.Fatalf("records: %+v", recs)
	}
	var dr map[string]any
	json.Unmarshal(recs[2].Body, &dr)
	if ref := dr["result"].([]any)[0].(map[string]any)["reference"]; ref != "Observation/"+recs[1].ID {
		t.Errorf("result reference not resolved: %v", ref)
	}
	res, err := st.Search(ctx, server.Query{Type: "DiagnosticReport", Tokens: [][]string{{"patient=Patient/pseudo-1"}}, Limit: 10})
	if err != nil || res.Total != 1 || res.Records[0].ID != recs[2].ID {
		t.Errorf("report by patient: %+v %v", res, err)
	}
	again, err := server.PutBundle(ctx, st, time.Now(), []byte(ReportBundle("PB1", "PBACC")), "pseudo-1")
	if err != nil || again[0].Version != 1 || again[2].ID != recs[2].ID || again[2].Version != 1 {
		t.Errorf("the same Bundle again: %+v %v", again, err)
	}
	if _, err := server.PutBundle(ctx, st, time.Now(), []byte(`{"resourceType":"Bundle","type":"batch"}`), ""); err == nil {
		t.Error("a batch Bundle was applied")
	}
	bad := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{},"subject":{"reference":"urn:uuid:nowhere"}},"request":{"method":"POST","url":"Observation"}}]}`
	if _, err := server.PutBundle(ctx, st, time.Now(), []byte(bad), ""); err == nil || !strings.Contains(err.Error(), "entry[0]") {
		t.Errorf("a dangling reference: %v", err)
	}
}
