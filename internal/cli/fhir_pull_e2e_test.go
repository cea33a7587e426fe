package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/fhir/ehr"
	"github.com/clinomics/clinomics/internal/fhir/smart"
	"github.com/clinomics/clinomics/internal/report"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

// TestOrdersPulledFromTheEHR pulls genetic test orders from the EHR
// stand-in running as its own process (`clinomics fhir standin`, SMART
// Backend Services: it fetches our JWKS from `clinomics serve` over TLS)
// with `clinomics fhir orders pull`, three ServiceRequests a page. The
// EHR holds seven active genetic orders of three patients, each with a
// specimen; a non-genetic and a completed order, which the search must
// leave out; and a genetic order naming no patient, which is rejected
// with the element at fault and does not stop the others. The clinical
// database then holds exactly the seven orders, each linked to its
// patient (found by MRN) and its sample id, with an audit record each,
// and the watermark is at the orders' last update. A second pull changes
// nothing; an order changed at the EHR afterwards is updated by the
// next. The search asks for status=active,revoked,entered-in-error (the
// stand-in's token OR): an order the EHR then revokes is cancelled by the
// next pull (status cancelled, audited fhir.order.cancel), and a revoked
// order we never had is skipped, creating nothing. A report draft naming only the patient's internal id and the
// sample id is completed from the pulled order: MRN, name and placer
// order number.
func TestOrdersPulledFromTheEHR(t *testing.T) {
	needTools(t)
	deadline := time.Now().Add(60 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	s := newSandbox(t, t.TempDir())

	ehrAddr, addr := freePort(t), freePort(t)
	ehrBase := "http://" + ehrAddr + "/fhir"
	cfgPath := filepath.Join(t.TempDir(), "site.yaml")
	site := fmt.Sprintf(`fhir:
  ehr:
    base_url: %s
    client_id: clinomics-pull
    timeout: 10s
  orders:
    poll_interval: 0s
    page_size: 3
`, ehrBase)
	if err := os.WriteFile(cfgPath, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfgPath, "CLINOMICS_SERVER=https://"+addr)

	// Our server serves the JWKS the stand-in checks assertions with.
	server, stopServer := startServerAt(t, s, addr)
	defer func() { stopServer() }()
	jwksCA := tlsconf.SelfSignedCertPath(filepath.Join(s.data, "tls"))
	ehrDir := t.TempDir()
	stopEHR := startEHR(t, ehrAddr, ehrDir, "--jwks-url", server+"/.well-known/jwks.json", "--client-id", "clinomics-pull", "--jwks-ca", jwksCA)
	defer func() { stopEHR() }()

	// The clinical database and our SMART client, opened in the test
	// process the way the CLI opens them.
	cv := openClinical(t, s, cfgPath)
	defer cv.close()

	// 1. The EHR's orders, written with a transaction Bundle under an
	// access token the stand-in gave for an assertion signed with our key.
	const mrnSystem = "urn:oid:2.16.840.1.113883.19.5"
	const placerSystem = "urn:oid:2.16.840.1.113883.19.6"
	type pat struct{ mrn, family, given string }
	pats := []pat{{"ZQXPULL-MRN-1", "ZQXPULLFAMA", "Ada"}, {"ZQXPULL-MRN-2", "ZQXPULLFAMB", "Bea"}, {"ZQXPULL-MRN-3", "ZQXPULLFAMC", "Cy"}}
	type ord struct {
		placer, sample string
		patient        int
		category       string // v2-0074 code
		status         string
		noSubject      bool
	}
	orders := []ord{
		{"PULL-1", "SMP-1", 0, "GE", "active", false},
		{"PULL-2", "SMP-2", 1, "GE", "active", false},
		{"PULL-LAB", "SMP-LAB", 0, "CH", "active", false}, // chemistry: not ours
		{"PULL-3", "SMP-3", 2, "GE", "active", false},
		{"PULL-BAD", "SMP-BAD", 0, "GE", "active", true}, // names no patient
		{"PULL-4", "SMP-4", 0, "GE", "active", false},
		{"PULL-DONE", "SMP-DONE", 1, "GE", "completed", false}, // not active
		{"PULL-5", "SMP-5", 1, "GE", "active", false},
		{"PULL-6", "SMP-6", 2, "GE", "active", false},
		{"PULL-7", "SMP-7", 0, "GE", "active", false},
	}
	var entries []map[string]any
	for i, p := range pats {
		entries = append(entries, map[string]any{
			"fullUrl": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-00000000000%d", i+1),
			"resource": map[string]any{"resourceType": "Patient",
				"identifier": []any{map[string]any{"system": mrnSystem, "value": p.mrn,
					"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}}}}},
				"name":      []any{map[string]any{"use": "official", "family": p.family, "given": []any{p.given}}},
				"gender":    "female",
				"birthDate": fmt.Sprintf("198%d-0%d-1%d", i, i+1, i)},
			"request": map[string]any{"method": "POST", "url": "Patient", "ifNoneExist": "identifier=" + mrnSystem + "|" + p.mrn},
		})
	}
	for i, o := range orders {
		subject := map[string]any{"reference": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-00000000000%d", o.patient+1)}
		specimen := fmt.Sprintf("urn:uuid:00000000-0000-4000-9000-0000000000%02d", i)
		entries = append(entries, map[string]any{
			"fullUrl": specimen,
			"resource": map[string]any{"resourceType": "Specimen",
				"accessionIdentifier": map[string]any{"system": "urn:clinomics:lab", "value": o.sample},
				"type":                map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "BLD", "display": "Whole blood"}}},
				"subject":             subject},
			"request": map[string]any{"method": "POST", "url": "Specimen"},
		})
		if o.noSubject {
			subject = map[string]any{"display": "a patient the EHR did not name"}
		}
		entries = append(entries, map[string]any{
			"resource": map[string]any{"resourceType": "ServiceRequest", "status": o.status, "intent": "order",
				"identifier": []any{map[string]any{"system": placerSystem, "value": o.placer,
					"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PLAC"}}}}},
				"category":   []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": o.category}}}},
				"code":       map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "51969-4", "display": "Genetic analysis report"}}},
				"subject":    subject,
				"specimen":   []any{map[string]any{"reference": specimen}},
				"authoredOn": "2026-03-02T10:15:00+01:00",
				"requester":  map[string]any{"display": "Dr. Original"}},
			"request": map[string]any{"method": "POST", "url": "ServiceRequest"},
		})
	}
	tok := cv.ehrToken(t, ctx)
	code, body := ehrSend(t, "POST", ehrBase, tok, map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if code != 200 {
		t.Fatalf("seeding the EHR: %d %s", code, body)
	}
	// The EHR's ids of the ServiceRequests, by placer number.
	srID := map[string]string{}
	patID := map[string]string{} // the EHR's Patient ids, by MRN
	var seeded struct {
		Entry []struct {
			Resource struct {
				ResourceType, ID string
				Identifier       []struct{ Value string }
				Meta             struct{ LastUpdated time.Time }
			}
		}
	}
	json.Unmarshal([]byte(body), &seeded)
	var seedTime time.Time
	for _, e := range seeded.Entry {
		if e.Resource.ResourceType == "ServiceRequest" && len(e.Resource.Identifier) > 0 {
			srID[e.Resource.Identifier[0].Value] = e.Resource.ID
			seedTime = e.Resource.Meta.LastUpdated
		}
		if e.Resource.ResourceType == "Patient" && len(e.Resource.Identifier) > 0 {
			patID[e.Resource.Identifier[0].Value] = e.Resource.ID
		}
	}
	if len(srID) != len(orders) || seedTime.IsZero() {
		t.Fatalf("the EHR created %d ServiceRequests (want %d): %s", len(srID), len(orders), body)
	}
	// A ServiceRequest without a subject at all is refused by the EHR
	// itself (R4: 1..1); one naming no patient is what reaches us.
	bad := entries[len(entries)-1]["resource"].(map[string]any)
	noSubj := map[string]any{}
	for k, v := range bad {
		if k != "subject" && k != "specimen" {
			noSubj[k] = v
		}
	}
	if code, body := ehrSend(t, "POST", ehrBase+"/ServiceRequest", tok, noSubj); code != 422 || !strings.Contains(body, "ServiceRequest.subject") {
		t.Fatalf("the EHR stored a ServiceRequest without a subject: %d %s", code, body)
	}

	pull := func(wantCode int, args ...string) (stdout, stderr string) {
		t.Helper()
		out, errs, code := s.run(nil, append([]string{"fhir", "orders", "pull"}, args...)...)
		if code != wantCode {
			log, _ := os.ReadFile(filepath.Join(ehrDir, "standin.log"))
			t.Fatalf("fhir orders pull: exit %d, want %d\n%s%s\nstand-in log:\n%s", code, wantCode, out, errs, log)
		}
		return out, errs
	}
	applied := regexp.MustCompile(`(?m)^ServiceRequest/(\S+)\torder (\S+)\tpatient (\S+)$`)
	summary := regexp.MustCompile(`(\d+) pages: (\d+) orders applied, (\d+) cancelled, (\d+) skipped, (\d+) unchanged, (\d+) rejected; watermark (\S+)`)
	counts := func(errs string) (pages, app, unch, rej string, wm time.Time) {
		t.Helper()
		m := summary.FindStringSubmatch(errs)
		if m == nil {
			t.Fatalf("no summary in the pull's output:\n%s", errs)
		}
		wm, err := time.Parse(time.RFC3339Nano, m[7])
		if err != nil {
			t.Fatalf("watermark %q: %v", m[7], err)
		}
		return m[1], m[2], m[5], m[6], wm
	}
	cancels := func(errs string) (cancelled, skipped string) {
		t.Helper()
		m := summary.FindStringSubmatch(errs)
		if m == nil {
			t.Fatalf("no summary in the pull's output:\n%s", errs)
		}
		return m[3], m[4]
	}

	// 2. The first pull: three pages, seven orders, one rejected (exit 3:
	// something was rejected), the watermark at the orders' update time.
	out, errs := pull(3)
	pages, nApplied, nUnchanged, nRejected, wm := counts(errs)
	if pages != "3" || nApplied != "7" || nUnchanged != "0" || nRejected != "1" {
		t.Errorf("first pull: %s pages, %s applied, %s unchanged, %s rejected; want 3, 7, 0, 1\n%s%s", pages, nApplied, nUnchanged, nRejected, out, errs)
	}
	if c, sk := cancels(errs); c != "0" || sk != "0" {
		t.Errorf("first pull: %s cancelled, %s skipped; want 0, 0 (the completed order is not searched for)", c, sk)
	}
	if !wm.Equal(seedTime) {
		t.Errorf("watermark after the first pull %s, want the orders' lastUpdated %s", wm, seedTime)
	}
	if got, err := cv.db.Watermark(ctx, ehr.WatermarkSource(ehrBase)); err != nil || !got.Equal(seedTime) {
		t.Errorf("stored watermark %s (%v), want %s", got, err, seedTime)
	}
	orderOf := map[string]string{} // EHR ServiceRequest id -> our order id
	for _, m := range applied.FindAllStringSubmatch(out, -1) {
		orderOf[m[1]] = m[2]
	}
	rejectLine := "ServiceRequest/" + srID["PULL-BAD"] + "\trejected: "
	if !strings.Contains(out, rejectLine) || !strings.Contains(out, "ServiceRequest.subject") {
		t.Errorf("the order naming no patient is not rejected naming ServiceRequest.subject:\n%s", out)
	}
	for _, placer := range []string{"PULL-LAB", "PULL-DONE", "PULL-BAD"} {
		if _, ok := orderOf[srID[placer]]; ok {
			t.Errorf("%s was applied", placer)
		}
	}

	// The clinical database: each patient (by MRN) holds exactly their
	// genetic active orders, with the sample ids of the specimens.
	pids := make([]string, len(pats))
	for i, p := range pats {
		pid, err := cv.db.FindPatient(ctx, []clinical.Identifier{{Value: p.mrn, Authority: mrnSystem, Type: "MR"}})
		if err != nil {
			t.Fatalf("patient %d (by MRN): %v", i+1, err)
		}
		pids[i] = pid
		rec, _, got, _, err := cv.db.Records(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Family != p.family || rec.Given != p.given || rec.Sex != "F" {
			t.Errorf("patient %d: %+v", i+1, rec)
		}
		want := map[string]string{} // placer -> sample
		for _, o := range orders {
			if o.patient == i && o.category == "GE" && o.status == "active" && !o.noSubject {
				want[o.placer] = o.sample
			}
		}
		if len(got) != len(want) {
			t.Errorf("patient %d has %d orders, want %d: %+v", i+1, len(got), len(want), got)
		}
		for _, o := range got {
			if sample, ok := want[o.PlacerNumber]; !ok || o.SampleID != sample || o.PlacerIssuer != placerSystem ||
				!o.Genetic || o.Status != "new" || o.Code != "51969-4" || o.Specimen != "Whole blood" || o.Orderer != "Dr. Original" {
				t.Errorf("patient %d: order %+v (want placer in %v with its sample)", i+1, o, want)
			}
			if orderOf[srID[o.PlacerNumber]] != o.ID {
				t.Errorf("order %s: the pull printed order %q for ServiceRequest/%s", o.ID, orderOf[srID[o.PlacerNumber]], srID[o.PlacerNumber])
			}
		}
	}

	// The audit trail: one pull record per order, one refusal naming the
	// element, and no patient data.
	trail := auditRecords(t, s)
	for sr, oid := range orderOf {
		if n := trail.count("fhir.order.pull", "order:"+oid, "ok", "ServiceRequest/"+sr); n != 1 {
			t.Errorf("%d audit records of the pull of order %s (ServiceRequest/%s), want 1", n, oid, sr)
		}
	}
	if n := trail.count("fhir.order.pull", "ServiceRequest/"+srID["PULL-BAD"], "refused", "ServiceRequest.subject"); n != 1 {
		t.Errorf("%d audit records of the rejected order, want 1 naming ServiceRequest.subject", n)
	}

	// 3. Pulled again: nothing new (the unchanged orders are matched, the
	// bad one is still refused), the watermark stays.
	out, errs = pull(3)
	if _, nApplied, nUnchanged, nRejected, wm := counts(errs); nApplied != "0" || nUnchanged != "7" || nRejected != "1" || !wm.Equal(seedTime) {
		t.Errorf("second pull: %s applied, %s unchanged, %s rejected, watermark %s; want 0, 7, 1, %s\n%s%s", nApplied, nUnchanged, nRejected, wm, seedTime, out, errs)
	}
	if n := auditRecords(t, s).count("fhir.order.pull", "order:", "ok", ""); n != 7 {
		t.Errorf("%d pull records after the second pull, want still 7", n)
	}
	total := 0
	for _, pid := range pids {
		_, _, got, _, err := cv.db.Records(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		total += len(got)
	}
	if total != 7 {
		t.Errorf("%d orders after the second pull, want still 7", total)
	}

	// 4. The EHR changes an order (another requester, a note); the next
	// pull updates it alone and moves the watermark to the change.
	time.Sleep(5 * time.Millisecond) // the change is a later instant
	changed := srID["PULL-4"]
	code, body = ehrSend(t, "GET", ehrBase+"/ServiceRequest/"+changed, tok, nil)
	if code != 200 {
		t.Fatalf("reading ServiceRequest/%s at the EHR: %d %s", changed, code, body)
	}
	var sr map[string]any
	json.Unmarshal([]byte(body), &sr)
	sr["requester"] = map[string]any{"display": "Dr. Changed"}
	sr["note"] = []any{map[string]any{"text": "urgent: family cascade testing"}}
	code, body = ehrSend(t, "PUT", ehrBase+"/ServiceRequest/"+changed, tok, sr)
	if code != 200 {
		t.Fatalf("updating ServiceRequest/%s at the EHR: %d %s", changed, code, body)
	}
	var upd struct {
		Meta struct{ LastUpdated time.Time }
	}
	json.Unmarshal([]byte(body), &upd)
	out, errs = pull(3)
	if _, nApplied, nUnchanged, nRejected, wm := counts(errs); nApplied != "1" || nUnchanged != "6" || nRejected != "1" || !wm.Equal(upd.Meta.LastUpdated) {
		t.Errorf("pull after the change: %s applied, %s unchanged, %s rejected, watermark %s; want 1, 6, 1, %s\n%s%s",
			nApplied, nUnchanged, nRejected, wm, upd.Meta.LastUpdated, out, errs)
	}
	if m := applied.FindAllStringSubmatch(out, -1); len(m) != 1 || m[0][1] != changed || m[0][2] != orderOf[changed] {
		t.Errorf("the pull after the change applied %v, want ServiceRequest/%s as order %s", m, changed, orderOf[changed])
	}
	if got, err := cv.db.Watermark(ctx, ehr.WatermarkSource(ehrBase)); err != nil || !got.Equal(upd.Meta.LastUpdated) {
		t.Errorf("stored watermark after the change %s (%v), want %s", got, err, upd.Meta.LastUpdated)
	}
	_, _, got, _, err := cv.db.Records(ctx, pids[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if o.PlacerNumber == "PULL-4" && (o.Orderer != "Dr. Changed" || !o.AsOf.Equal(upd.Meta.LastUpdated) || o.SampleID != "SMP-4") {
			t.Errorf("the changed order: %+v", o)
		}
	}
	if n := auditRecords(t, s).count("fhir.order.pull", "order:"+orderOf[changed], "ok", ""); n != 2 {
		t.Errorf("%d pull records of the changed order, want 2", n)
	}

	// 5. The EHR revokes a pulled order (PULL-6, patient 3), and holds a
	// revoked genetic order we never had (PULL-NEVER, patient 3 too): the
	// next pull cancels the first (status cancelled, the rest as pulled)
	// and skips the second, creating no order; both are audited.
	time.Sleep(5 * time.Millisecond)
	revoked := srID["PULL-6"]
	code, body = ehrSend(t, "GET", ehrBase+"/ServiceRequest/"+revoked, tok, nil)
	if code != 200 {
		t.Fatalf("reading ServiceRequest/%s at the EHR: %d %s", revoked, code, body)
	}
	sr = nil
	json.Unmarshal([]byte(body), &sr)
	sr["status"] = "revoked"
	code, body = ehrSend(t, "PUT", ehrBase+"/ServiceRequest/"+revoked, tok, sr)
	if code != 200 {
		t.Fatalf("revoking ServiceRequest/%s at the EHR: %d %s", revoked, code, body)
	}
	var rev struct {
		Meta struct{ LastUpdated time.Time }
	}
	json.Unmarshal([]byte(body), &rev)
	time.Sleep(5 * time.Millisecond)
	code, body = ehrSend(t, "POST", ehrBase+"/ServiceRequest", tok, map[string]any{"resourceType": "ServiceRequest", "status": "revoked", "intent": "order",
		"identifier": []any{map[string]any{"system": placerSystem, "value": "PULL-NEVER",
			"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PLAC"}}}}},
		"category":   []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}}}},
		"code":       map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "51969-4", "display": "Genetic analysis report"}}},
		"subject":    map[string]any{"reference": "Patient/" + patID[pats[2].mrn]},
		"authoredOn": "2026-03-03T09:00:00+01:00"})
	if code != 201 {
		t.Fatalf("a revoked ServiceRequest at the EHR: %d %s", code, body)
	}
	var never struct {
		ID   string
		Meta struct{ LastUpdated time.Time }
	}
	json.Unmarshal([]byte(body), &never)
	out, errs = pull(0)
	_, nApplied, nUnchanged, nRejected, wm = counts(errs)
	nCancelled, nSkipped := cancels(errs)
	// PULL-4 is at the watermark (ge): matched again, unchanged.
	if nApplied != "0" || nCancelled != "1" || nSkipped != "1" || nUnchanged != "1" || nRejected != "0" || !wm.Equal(never.Meta.LastUpdated) {
		t.Errorf("pull after the revocation: %s applied, %s cancelled, %s skipped, %s unchanged, %s rejected, watermark %s; want 0, 1, 1, 1, 0, %s\n%s%s",
			nApplied, nCancelled, nSkipped, nUnchanged, nRejected, wm, never.Meta.LastUpdated, out, errs)
	}
	if line := fmt.Sprintf("ServiceRequest/%s\tcancelled order %s\tpatient %s\n", revoked, orderOf[revoked], pids[2]); !strings.Contains(out, line) {
		t.Errorf("the pull does not print %q:\n%s", line, out)
	}
	if !strings.Contains(out, "ServiceRequest/"+never.ID+"\tskipped: ") {
		t.Errorf("the pull does not print the skipped ServiceRequest/%s:\n%s", never.ID, out)
	}
	total = 0
	for i, pid := range pids {
		_, _, got, _, err := cv.db.Records(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		total += len(got)
		for _, o := range got {
			switch {
			case o.PlacerNumber == "PULL-NEVER":
				t.Errorf("patient %d: the order never pulled was created: %+v", i+1, o)
			case o.PlacerNumber == "PULL-6":
				if o.Status != "cancelled" || o.ID != orderOf[revoked] || !o.AsOf.Equal(rev.Meta.LastUpdated) || o.SampleID != "SMP-6" || o.Orderer != "Dr. Original" {
					t.Errorf("the revoked order: %+v (want cancelled as of %s, sample SMP-6)", o, rev.Meta.LastUpdated)
				}
			case o.Status != "new":
				t.Errorf("patient %d: order %s is %q, want new", i+1, o.PlacerNumber, o.Status)
			}
		}
	}
	if total != 7 {
		t.Errorf("%d orders after the cancellation pull, want still 7", total)
	}
	trail = auditRecords(t, s)
	if n := trail.count("fhir.order.cancel", "order:"+orderOf[revoked], "ok", "ServiceRequest/"+revoked); n != 1 {
		t.Errorf("%d audit records of the cancellation of order %s, want 1", n, orderOf[revoked])
	}
	if n := trail.count("fhir.order.cancel", "ServiceRequest/"+never.ID, "ok", "skipped"); n != 1 {
		t.Errorf("%d audit records of the skipped ServiceRequest/%s, want 1", n, never.ID)
	}

	// 6. A report draft naming only the patient and the sample is
	// completed from the pulled order.
	draft := filepath.Join(t.TempDir(), "draft.json")
	b, _ := json.Marshal(map[string]any{
		"Patient":  map[string]any{"ID": pids[1]},
		"Specimen": map[string]any{"SampleID": "SMP-5"},
		"Test":     map[string]any{"Name": "Hereditary cancer panel", "Assay": "panel"},
	})
	os.WriteFile(draft, b, 0o600)
	out, errs, code2 := s.run(nil, "report", "create", "--draft", draft)
	id := regexp.MustCompile(`rpt-[0-9a-f]+`).FindString(out)
	if code2 != 0 || id == "" {
		t.Fatalf("report create: exit %d\n%s%s", code2, out, errs)
	}
	out, errs, code2 = s.run(nil, "report", "show", id, "--json")
	if code2 != 0 {
		t.Fatalf("report show: exit %d\n%s%s", code2, out, errs)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report show --json: %v\n%s", err, out)
	}
	p5 := pats[1]
	if rep.Patient.MRN != p5.mrn || rep.Patient.Authority != mrnSystem || rep.Patient.Family != p5.family || rep.Patient.Given != p5.given ||
		rep.Patient.Sex != "female" || rep.Patient.BirthDate != "1981-02-11" {
		t.Errorf("the report's patient: %+v", rep.Patient)
	}
	if rep.Order.ID != orderOf[srID["PULL-5"]] || rep.Order.Placer != "PULL-5" || rep.Order.Code != "51969-4" ||
		rep.Order.CodeSystem != "http://loinc.org" || rep.Order.OrderedBy != "Dr. Original" || rep.Order.OrderedDate != "2026-03-02" {
		t.Errorf("the report's order: %+v (want order %s, placer PULL-5)", rep.Order, orderOf[srID["PULL-5"]])
	}

	// No patient data in the audit trail or our server's log.
	stopServer()
	trailText, _, _ := s.run(nil, "audit", "export", "--jsonl", "-")
	log, _ := os.ReadFile(filepath.Join(s.data, "server.log"))
	for _, p := range pats {
		for _, v := range []string{p.mrn, p.family} {
			if strings.Contains(trailText, v) || bytes.Contains(log, []byte(v)) {
				t.Errorf("the audit trail or the server's log holds patient data (%s)", v)
			}
		}
	}
}

// clinicalView is the sandbox's catalog and clinical database opened in
// the test process, with our SMART client keys.
type clinicalView struct {
	cfg *config.Config
	st  catalog.Store
	db  *clinical.DB
}

func openClinical(t *testing.T, s *sandbox, cfgPath string) *clinicalView {
	t.Helper()
	t.Setenv("CLINOMICS_DATA_DIR", s.data)
	t.Setenv("CLINOMICS_KEYRING_PASSPHRASE", "e2e test passphrase")
	ctx := context.Background()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := catalog.Open(ctx, cfg.CatalogDSN())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := app.NewKeys(ctx, cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	db, err := clinical.Open(ctx, st, kp)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return &clinicalView{cfg: cfg, st: st, db: db}
}

func (c *clinicalView) close() { c.st.Close() }

// ehrToken is an access token of the stand-in for our client, asked for
// with an assertion signed by our key (as the CLI and the server do).
func (c *clinicalView) ehrToken(t *testing.T, ctx context.Context) string {
	t.Helper()
	e := c.cfg.FHIR.EHR
	ts := &smart.TokenSource{Keys: &smart.Keys{Store: c.st, Sealer: c.db, Alg: e.SigningAlg}, ClientID: e.ClientID,
		Scopes: e.Scopes, FHIRBase: e.BaseURL, HTTP: &http.Client{Timeout: 10 * time.Second}}
	tok, err := ts.Token(ctx)
	if err != nil {
		t.Fatalf("a token of the EHR stand-in: %v", err)
	}
	return tok
}

// ehrSend sends a FHIR request to the stand-in with a bearer token.
func ehrSend(t *testing.T, method, u, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// auditTrail is the records of `clinomics audit export --jsonl`.
type auditTrail []struct {
	Action, Resource, Outcome, Detail string
}

func auditRecords(t *testing.T, s *sandbox) auditTrail {
	t.Helper()
	out, errs, code := s.run(nil, "audit", "export", "--jsonl", "-")
	if code != 0 {
		t.Fatalf("audit export: %s", errs)
	}
	var tr auditTrail
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var e struct{ Action, Resource, Outcome, Detail string }
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("audit export --jsonl: %v", err)
		}
		tr = append(tr, e)
	}
	return tr
}

// count is the number of records of action whose resource starts with
// resource, with outcome, whose detail holds detail.
func (tr auditTrail) count(action, resource, outcome, detail string) int {
	n := 0
	for _, e := range tr {
		if e.Action == action && strings.HasPrefix(e.Resource, resource) && e.Outcome == outcome && strings.Contains(e.Detail, detail) {
			n++
		}
	}
	return n
}
