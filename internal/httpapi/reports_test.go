package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/report"
)

// reportServer is the API with the report workflow, and a token for each
// of three people: a bioinformatician who drafts, and two lab directors.
func reportServer(t *testing.T) (*testServer, map[string]string) {
	t.Helper()
	srv := newServer(t, func(api *httpapi.Server) {
		kr, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), "test")
		if err != nil {
			t.Fatal(err)
		}
		db, err := clinical.Open(context.Background(), api.Store, kr)
		if err != nil {
			t.Fatal(err)
		}
		api.Reports = report.NewStore(api.Store, db, report.Options{})
	})
	people := map[string]string{}
	for name, role := range map[string]auth.Role{"bio": auth.RoleBioinformatician, "dirA": auth.RoleLabDirector, "dirB": auth.RoleLabDirector} {
		g := []auth.Grant{{Role: role, Scope: "site:main"}}
		tok, _, err := auth.CreateToken(context.Background(), srv.store, auth.NewToken{Name: name,
			Owner: &auth.Principal{Kind: auth.KindUser, ID: name, Grants: g}, Expires: time.Hour}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		people[name] = tok
	}
	return srv, people
}

func (ts *testServer) as(t *testing.T, token, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

func TestReportWorkflowOverHTTP(t *testing.T) {
	srv, who := reportServer(t)
	draft, err := os.ReadFile("../report/testdata/draft.json")
	if err != nil {
		t.Fatal(err)
	}
	expect := func(resp *http.Response, b []byte, status int, contains string) {
		t.Helper()
		if resp.StatusCode != status || !strings.Contains(string(b), contains) {
			t.Fatalf("%s %s: %d %s, want %d with %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b, status, contains)
		}
	}
	// Bad drafts name the field.
	resp, b := srv.as(t, who["bio"], "POST", "/api/v1/reports", `{"Patient": {"ID": 7}}`)
	expect(resp, b, 400, `Patient.ID: must be a string`)
	resp, b = srv.as(t, who["bio"], "POST", "/api/v1/reports", `{"Patient": {"ID": "p1"}}`)
	expect(resp, b, 400, `Test.Name: required`)
	resp, b = srv.as(t, who["bio"], "POST", "/api/v1/reports", `{"Patient": `)
	expect(resp, b, 400, `body: `)

	resp, b = srv.as(t, who["bio"], "POST", "/api/v1/reports", string(draft))
	expect(resp, b, 201, `"status": "draft"`)
	var sum report.Summary
	json.Unmarshal(b, &sum)
	if strings.Contains(string(b), "MRN0042") || resp.Header.Get("Location") != "/api/v1/reports/"+sum.ID {
		t.Errorf("create answered %s (Location %q)", b, resp.Header.Get("Location"))
	}
	id := "/api/v1/reports/" + sum.ID

	resp, b = srv.as(t, who["bio"], "GET", id, "")
	expect(resp, b, 200, `"MRN": "MRN0042"`)
	var full report.Report
	json.Unmarshal(b, &full)
	resp, b = srv.as(t, who["bio"], "GET", id+"/html", "")
	expect(resp, b, 200, "DRAFT — NOT FOR CLINICAL USE")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("HTML headers %v", resp.Header)
	}
	resp, b = srv.as(t, who["bio"], "GET", id+"/pdf", "")
	expect(resp, b, 200, "%PDF-")

	// Edit, stale edit, review (not by the bioinformatician), four eyes.
	full.Conclusion = "edited"
	body, _ := json.Marshal(full)
	resp, b = srv.as(t, who["bio"], "PUT", id, string(body))
	expect(resp, b, 200, `"status": "draft"`)
	resp, b = srv.as(t, who["bio"], "PUT", id, string(body))
	expect(resp, b, 409, "changed since it was read")
	resp, b = srv.as(t, who["bio"], "POST", id+"/review", `{}`)
	expect(resp, b, 403, "reports:review")
	resp, b = srv.as(t, who["dirA"], "POST", id+"/review", `{"updated": "2020-01-01T00:00:00Z"}`)
	expect(resp, b, 409, "changed since it was read")
	resp, b = srv.as(t, who["dirA"], "POST", id+"/review", ``)
	expect(resp, b, 200, `"status": "reviewed"`)
	resp, b = srv.as(t, who["dirA"], "POST", id+"/sign", `{}`)
	expect(resp, b, 409, "cannot also sign")
	resp, b = srv.as(t, who["dirA"], "POST", id+"/review", `{}`)
	expect(resp, b, 409, "cannot review a reviewed report")
	resp, b = srv.as(t, who["dirB"], "POST", id+"/sign", `{"reason": "agreed"}`)
	expect(resp, b, 400, "only an amendment takes a reason")
	resp, b = srv.as(t, who["dirB"], "POST", id+"/sign", `{"note": "agreed"}`)
	expect(resp, b, 200, `"status": "signed"`)

	// Signed: immutable; amend needs a reason.
	_, b = srv.as(t, who["bio"], "GET", id, "")
	json.Unmarshal(b, &full)
	full.Conclusion = "changed after signing"
	body, _ = json.Marshal(full)
	resp, b = srv.as(t, who["bio"], "PUT", id, string(body))
	expect(resp, b, 409, "cannot change")
	resp, b = srv.as(t, who["bio"], "POST", id+"/amend", `{}`)
	expect(resp, b, 400, "reason: required")
	resp, b = srv.as(t, who["bio"], "POST", id+"/amend", `{"reason": "transcript", "note": "and more"}`)
	expect(resp, b, 400, "not both")
	resp, b = srv.as(t, who["bio"], "POST", id+"/amend", `{"reason": "transcript"}`)
	expect(resp, b, 200, `"amends": "`+sum.ID+`"`)
	var am report.Summary
	json.Unmarshal(b, &am)
	resp, b = srv.as(t, who["bio"], "GET", "/api/v1/reports/"+am.ID+"/html", "")
	expect(resp, b, 200, "Amended report — replaces report "+sum.ID)

	resp, b = srv.as(t, who["bio"], "GET", "/api/v1/reports?patient="+full.Patient.ID+"&status=signed", "")
	expect(resp, b, 200, sum.ID)
	if strings.Contains(string(b), am.ID) || strings.Contains(string(b), "MRN0042") {
		t.Errorf("list: %s", b)
	}
	resp, b = srv.as(t, who["bio"], "GET", "/api/v1/reports?status=final", "")
	expect(resp, b, 400, "status: must be one of")
	resp, b = srv.as(t, who["bio"], "GET", "/api/v1/reports/rpt-nope", "")
	expect(resp, b, 404, "no such report")
	resp, b = srv.as(t, who["bio"], "POST", "/api/v1/reports/rpt-nope/reopen", "{}")
	expect(resp, b, 404, "no such report")
	resp, b = srv.as(t, srv.tokens[auth.RoleResearcher], "GET", id, "")
	expect(resp, b, 403, "reports:read")

	// The audit trail has the reads with the patient's pseudonymous id.
	evs, err := srv.store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var reads, signs int
	for _, e := range evs {
		if (e.Action == "report.read" || e.Action == "report.render") && e.Patient == full.Patient.ID {
			reads++
		}
		if e.Action == "report.sign" && e.Patient == full.Patient.ID && strings.HasPrefix(e.Actor, "token:") {
			signs++
		}
		if strings.Contains(e.Detail+e.Resource, "MRN0042") || strings.Contains(e.Detail+e.Resource, "Doe") {
			t.Errorf("audit record with patient data: %+v", e)
		}
	}
	if reads != 5 || signs != 1 {
		t.Errorf("audit: %d report reads, %d signs", reads, signs)
	}
}
