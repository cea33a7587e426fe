package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFHIROrdersThroughServe posts a ServiceRequest with a contained
// patient to `clinomics serve`, reads it back by patient from the sealed
// FHIR store, and checks the audit trail and that the patient data is in
// neither the log nor the audit trail nor the catalog files.
func TestFHIROrdersThroughServe(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(cfg, []byte("log:\n  level: debug\n"), 0o644)
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfg)
	stdout, stderr, code := s.run(nil, "token", "create", "--local", "--name", "orders", "--grant", "clinician")
	if code != 0 {
		t.Fatalf("token create: %s", stderr)
	}
	s.token = strings.TrimSpace(stdout)
	server, stop := startServer(t, s)
	defer stop()
	const mark = "ZQXMRN8812"
	send := func(method, path, body string) (int, http.Header, []byte) {
		req, _ := http.NewRequest(method, server+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		if body != "" {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		resp, err := s.client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	sr := `{"resourceType":"ServiceRequest","status":"active","intent":"order",
 "identifier":[{"system":"urn:placer","value":"E2E-1"}],"code":{"coding":[{"system":"http://loinc.org","code":"81247-9"}]},
 "contained":[{"resourceType":"Patient","id":"p","identifier":[{"system":"urn:mrn","value":"` + mark + `"}],"name":[{"family":"` + mark + `"}]}],
 "subject":{"reference":"#p"}}`
	code, hdr, b := send("POST", "/fhir/r4/ServiceRequest", sr)
	if code != 201 || !strings.Contains(hdr.Get("Location"), "/fhir/r4/ServiceRequest/") {
		t.Fatalf("post: %d %s", code, b)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	pid := strings.TrimPrefix(got["subject"].(map[string]any)["reference"].(string), "Patient/")
	code, _, b = send("GET", "/fhir/r4/ServiceRequest?patient="+pid, "")
	if code != 200 || !strings.Contains(string(b), `"total":1`) {
		t.Fatalf("search by patient: %d %s", code, b)
	}
	if code, _, b := send("POST", "/fhir/r4/ServiceRequest", strings.Replace(sr, `"subject":{"reference":"#p"}`, `"subject":{"reference":"#q"}`, 1)); code != 422 ||
		!strings.Contains(string(b), "ServiceRequest.subject.reference") || strings.Contains(string(b), mark) {
		t.Errorf("bad subject: %d %s", code, b)
	}
	stop()
	trail, _, _ := s.run(nil, "audit", "export", "--jsonl", "-")
	for _, want := range []string{"fhir.order.accept", "fhir create", "fhir read"} {
		if !strings.Contains(trail, want) {
			t.Errorf("no %q in the audit trail", want)
		}
	}
	files, _ := filepath.Glob(filepath.Join(s.data, "*"))
	files = append(files, filepath.Join(s.data, "server.log"))
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		if b, _ := os.ReadFile(f); strings.Contains(string(b), mark) {
			t.Errorf("%s holds the patient's data", filepath.Base(f))
		}
	}
	if strings.Contains(trail, mark) {
		t.Error("the audit trail holds the patient's data")
	}
}
