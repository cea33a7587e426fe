package ehr

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEHR is a test double of an EHR's FHIR API: transactions with
// conditional creates, a paged ServiceRequest search with _include, and
// Patient reads. Tests that can use the real stand-in server do.
type fakeEHR struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	status    int // when not 0, transactions are answered with it
	delay     time.Duration
	received  []string          // bundle identifiers, in the order applied
	created   map[string]string // ifNoneExist → location
	token     string            // the only token accepted ("" accepts any)
	unauth    int               // 401s answered
	requests  []string          // order search URLs asked for
	orders    []map[string]any  // ServiceRequests, with meta.lastUpdated
	patients  map[string]map[string]any
	specimens map[string]map[string]any
	omit      map[string]bool // patients not _included (read separately)
	pageSize  int
	noSort    bool // _sort is refused (400), as a strict server that cannot sort does
	failPage  int  // when not 0, pages from this one (0-based) are answered 503
}

func newFakeEHR(t *testing.T) *fakeEHR {
	f := &fakeEHR{t: t, created: map[string]string{}, patients: map[string]map[string]any{},
		specimens: map[string]map[string]any{}, omit: map[string]bool{}, pageSize: 3}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fhir", f.transaction)
	mux.HandleFunc("GET /fhir/ServiceRequest", f.search)
	mux.HandleFunc("GET /fhir/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		p, ok := f.patients[r.PathValue("id")]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(p)
	})
	f.srv = httptest.NewServer(f.auth(mux))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEHR) base() string { return f.srv.URL + "/fhir" }

func (f *fakeEHR) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		tok := f.token
		f.mu.Unlock()
		if tok != "" && r.Header.Get("Authorization") != "Bearer "+tok {
			f.mu.Lock()
			f.unauth++
			f.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func outcome(status int, diag, expr string) []byte {
	b, _ := json.Marshal(map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": "error", "code": "invalid", "diagnostics": diag, "expression": []string{expr}}}})
	return b
}

func (f *fakeEHR) transaction(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	status, delay := f.status, f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	if status != 0 {
		w.WriteHeader(status)
		if status == 400 || status == 422 {
			w.Write(outcome(status, "DiagnosticReport.subject is required", "Bundle.entry[0].resource.subject"))
		}
		return
	}
	var b struct {
		Identifier struct{ Value string } `json:"identifier"`
		Entry      []struct {
			Request struct {
				Method, URL string
				IfNoneExist string `json:"ifNoneExist"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		w.WriteHeader(400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if b.Identifier.Value == "refuse-me" {
		w.WriteHeader(400)
		w.Write(outcome(400, "Observation.valueCodeableConcept: unknown code", "Bundle.entry[1]"))
		return
	}
	f.received = append(f.received, b.Identifier.Value)
	var entries []any
	for _, e := range b.Entry {
		key := e.Request.URL + "?" + e.Request.IfNoneExist
		loc, ok := f.created[key]
		st := "200 OK"
		if !ok {
			loc = fmt.Sprintf("%s/%d/_history/1", e.Request.URL, len(f.created)+1)
			f.created[key] = loc
			st = "201 Created"
		}
		entries = append(entries, map[string]any{"response": map[string]any{"status": st, "location": loc}})
	}
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": entries})
}

// addOrder adds a ServiceRequest for patient pid with specimen sid.
func (f *fakeEHR) addOrder(id, pid, sid string, updated time.Time, edit func(map[string]any)) {
	sr := map[string]any{"resourceType": "ServiceRequest", "id": id, "meta": map[string]any{"lastUpdated": updated.UTC().Format(time.RFC3339Nano)},
		"identifier": []any{map[string]any{"type": map[string]any{"coding": []any{map[string]any{"code": "PLAC"}}}, "system": "urn:oid:1.2.3", "value": "PL-" + id}},
		"status":     "active", "intent": "order",
		"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}}}},
		"code":     map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "81247-9", "display": "Master HL7 genetic variant reporting panel"}}},
		"subject":  map[string]any{"reference": "Patient/" + pid},
		"specimen": []any{map[string]any{"reference": "Specimen/" + sid}},
	}
	if edit != nil {
		edit(sr)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.orders = append(f.orders, sr)
	if _, ok := f.patients[pid]; !ok {
		f.patients[pid] = map[string]any{"resourceType": "Patient", "id": pid,
			"identifier": []any{map[string]any{"system": "urn:oid:9.9", "type": map[string]any{"coding": []any{map[string]any{"code": "MR"}}}, "value": "MRN-" + pid}},
			"name":       []any{map[string]any{"family": "Doe", "given": []string{"Jo"}}}, "gender": "female", "birthDate": "1970-02-03"}
	}
	f.specimens[sid] = map[string]any{"resourceType": "Specimen", "id": sid, "accessionIdentifier": map[string]any{"value": "SAMPLE-" + sid}}
}

// search answers a paged searchset; pages are asked for with _page.
func (f *fakeEHR) search(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	f.requests = append(f.requests, r.URL.RawQuery)
	if f.noSort && q.Has("_sort") {
		w.WriteHeader(http.StatusBadRequest)
		w.Write(outcome(400, "search parameter _sort: not supported for ServiceRequest", "_sort"))
		return
	}
	if p, _ := strconv.Atoi(q.Get("_page")); f.failPage > 0 && p >= f.failPage {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if q.Get("status") != "active,revoked,entered-in-error" || !slices.Contains(q["_include"], "ServiceRequest:subject") {
		f.t.Errorf("search %s", r.URL.RawQuery)
	}
	var match []map[string]any
	since := strings.TrimPrefix(q.Get("_lastUpdated"), "ge")
	statuses := strings.Split(q.Get("status"), ",")
	for _, o := range f.orders {
		if !slices.Contains(statuses, fmt.Sprint(o["status"])) {
			continue
		}
		lu := o["meta"].(map[string]any)["lastUpdated"].(string)
		t1, _ := time.Parse(time.RFC3339Nano, lu)
		if t0, err := time.Parse(time.RFC3339Nano, since); since != "" && (err != nil || t1.Before(t0)) {
			continue
		}
		match = append(match, o)
	}
	slices.SortStableFunc(match, func(a, b map[string]any) int {
		return strings.Compare(a["meta"].(map[string]any)["lastUpdated"].(string), b["meta"].(map[string]any)["lastUpdated"].(string))
	})
	page, _ := strconv.Atoi(q.Get("_page"))
	lo, hi := page*f.pageSize, min((page+1)*f.pageSize, len(match))
	var entries []any
	for _, o := range match[min(lo, len(match)):hi] {
		entries = append(entries, map[string]any{"fullUrl": f.base() + "/ServiceRequest/" + o["id"].(string), "resource": o, "search": map[string]any{"mode": "match"}})
		if subj, ok := o["subject"].(map[string]any); ok {
			pid := strings.TrimPrefix(fmt.Sprint(subj["reference"]), "Patient/")
			if p, ok := f.patients[pid]; ok && !f.omit[pid] {
				entries = append(entries, map[string]any{"fullUrl": f.base() + "/Patient/" + pid, "resource": p, "search": map[string]any{"mode": "include"}})
			}
		}
		if sps, ok := o["specimen"].([]any); ok {
			sid := strings.TrimPrefix(fmt.Sprint(sps[0].(map[string]any)["reference"]), "Specimen/")
			entries = append(entries, map[string]any{"fullUrl": f.base() + "/Specimen/" + sid, "resource": f.specimens[sid], "search": map[string]any{"mode": "include"}})
		}
	}
	links := []any{map[string]any{"relation": "self", "url": r.URL.String()}}
	if hi < len(match) {
		q.Set("_page", strconv.Itoa(page+1))
		links = append(links, map[string]any{"relation": "next", "url": f.base() + "/ServiceRequest?" + q.Encode()})
	}
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(match), "link": links, "entry": entries})
}
