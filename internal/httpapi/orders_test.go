package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/fhir/ehr"
	"github.com/clinomics/clinomics/internal/fhir/server"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/keys"
)

// orders is the OrderAcceptor as serve wires it (app.FHIRStore): the
// clinical database, then the sealed FHIR store.
type orders struct {
	db *clinical.DB
	st server.WritableStore
}

func (o orders) AcceptServiceRequest(ctx context.Context, sr []byte, actor string) (server.Record, error) {
	a, err := ehr.Accept(ctx, o.db, sr, actor)
	if err != nil {
		return server.Record{}, err
	}
	return ehr.PutAccepted(ctx, o.st, a, sr, time.Now())
}

// syncBuffer is a log sink the handlers may write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const orderMRN = "MRN-ZQX-4711"

func serviceRequest(placer, subject string) string {
	return `{"resourceType":"ServiceRequest","status":"active","intent":"order",
 "identifier":[{"system":"urn:placer","value":"` + placer + `"}],
 "code":{"coding":[{"system":"http://loinc.org","code":"81247-9"}]},
 "contained":[{"resourceType":"Patient","id":"p","identifier":[{"system":"urn:mrn","value":"` + orderMRN + `"}],"name":[{"family":"Zqxdoe"}]}],
 ` + subject + `}`
}

// newOrderServer serves the FHIR API over the sealed store with orders
// taken; scopes, when not nil, are every credential's SMART scopes.
func newOrderServer(t *testing.T, scopes []string, logs *syncBuffer) *testServer {
	var fst *server.SealedStore
	var db *clinical.DB
	return newServer(t, func(s *httpapi.Server) {
		kr, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), "test")
		if err != nil {
			t.Fatal(err)
		}
		if db, err = clinical.Open(context.Background(), s.Store, kr); err != nil {
			t.Fatal(err)
		}
		fst = server.NewSealed(s.Store, db)
		s.FHIR = &httpapi.FHIRAPI{Store: fst, Scopes: (*auth.Principal).SMARTScopes, Orders: orders{db, fst}}
		if scopes != nil {
			s.FHIR.Scopes = func(*auth.Principal) ([]string, bool) { return scopes, true }
		}
		if logs != nil {
			s.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
}

// TestPostServiceRequest posts orders to the FHIR API (a contained
// patient, then one by identifier), reads them back by patient, checks
// the refusals (OperationOutcome naming the element), the permission and
// SMART scopes, the audit records, and that no patient data is in the
// logs or the audit trail.
func TestPostServiceRequest(t *testing.T) {
	logs := &syncBuffer{}
	srv := newOrderServer(t, nil, logs)
	resp, b := srv.do(t, auth.RoleClinician, "POST", "/fhir/r4/ServiceRequest", serviceRequest("ORD-1", `"subject":{"reference":"#p"}`))
	if resp.StatusCode != 201 || !strings.Contains(resp.Header.Get("Location"), "/fhir/r4/ServiceRequest/") ||
		resp.Header.Get("ETag") != `W/"1"` || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("post: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	var sr map[string]any
	json.Unmarshal(b, &sr)
	pref, _ := sr["subject"].(map[string]any)["reference"].(string)
	pid := strings.TrimPrefix(pref, "Patient/")
	if pid == "" || pid == pref || strings.Contains(string(b), `"#p"`) {
		t.Fatalf("stored request: %s", b)
	}
	// The same patient by identifier, a second order.
	resp, b = srv.do(t, auth.RoleService, "POST", "/fhir/r4/ServiceRequest", `{"resourceType":"ServiceRequest","status":"active","intent":"order",
 "identifier":[{"system":"urn:placer","value":"ORD-2"}],"code":{"coding":[{"system":"http://loinc.org","code":"81247-9"}]},
 "subject":{"identifier":{"system":"urn:mrn","value":"`+orderMRN+`"}}}`)
	if resp.StatusCode != 201 {
		t.Fatalf("by identifier: %d %s", resp.StatusCode, b)
	}
	resp, b = srv.do(t, auth.RoleClinician, "GET", "/fhir/r4/ServiceRequest?patient="+pid, "")
	var bundle struct {
		Total int
		Entry []struct{ Resource map[string]any }
	}
	json.Unmarshal(b, &bundle)
	if resp.StatusCode != 200 || bundle.Total != 2 || len(bundle.Entry) != 2 {
		t.Fatalf("search by patient: %d %s", resp.StatusCode, b)
	}
	resp, b = srv.do(t, auth.RoleClinician, "GET", "/fhir/r4/Patient?identifier=urn:mrn|"+orderMRN, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"total":1`) || !strings.Contains(string(b), `"id":"`+pid+`"`) {
		t.Errorf("patient by MRN: %d %s", resp.StatusCode, b)
	}
	for _, c := range []struct {
		name string
		role auth.Role
		body string
		want int
		path string
	}{
		{"no subject", auth.RoleClinician, serviceRequest("ORD-3", `"status":"active"`), 422, "ServiceRequest.subject"},
		{"not JSON", auth.RoleClinician, `{`, 400, ""},
		{"not a ServiceRequest", auth.RoleClinician, `{"resourceType":"Patient"}`, 400, "ServiceRequest.resourceType"},
		{"no orders:write", auth.RoleLabDirector, serviceRequest("ORD-4", `"subject":{"reference":"#p"}`), 403, ""},
	} {
		resp, b := srv.do(t, c.role, "POST", "/fhir/r4/ServiceRequest", c.body)
		if resp.StatusCode != c.want || !strings.Contains(string(b), "OperationOutcome") || !strings.Contains(string(b), c.path) {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, resp.StatusCode, b, c.want, c.path)
		}
		if strings.Contains(string(b), orderMRN) || strings.Contains(string(b), "Zqxdoe") {
			t.Errorf("%s: the answer repeats patient data: %s", c.name, b)
		}
	}
	evs, err := srv.store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var accepted, created, read bool
	for _, e := range evs {
		if s := e.Detail + e.Resource + e.Action + e.Patient; strings.Contains(s, orderMRN) || strings.Contains(s, "Zqxdoe") {
			t.Errorf("audit record holds patient data: %+v", e)
		}
		accepted = accepted || e.Action == "fhir.order.accept" && e.Patient == pid
		created = created || e.Action == "fhir create" && e.Patient == pid && strings.HasPrefix(e.Resource, "ServiceRequest/")
		read = read || e.Action == "fhir read" && e.Patient == pid
	}
	if !accepted || !created || !read {
		t.Errorf("audit: accepted %v, created %v, read %v", accepted, created, read)
	}
	if l := logs.String(); strings.Contains(l, orderMRN) || strings.Contains(l, "Zqxdoe") {
		t.Errorf("the log holds patient data:\n%s", l)
	}

	// A credential limited to reading ServiceRequests may not post one.
	scoped := newOrderServer(t, []string{"system/ServiceRequest.read"}, nil)
	if resp, b := scoped.do(t, auth.RoleClinician, "POST", "/fhir/r4/ServiceRequest", serviceRequest("ORD-5", `"subject":{"reference":"#p"}`)); resp.StatusCode != 403 {
		t.Errorf("read-scoped post: %d %s", resp.StatusCode, b)
	}
	writer := newOrderServer(t, []string{"system/ServiceRequest.cru"}, nil)
	if resp, b := writer.do(t, auth.RoleClinician, "POST", "/fhir/r4/ServiceRequest", serviceRequest("ORD-6", `"subject":{"reference":"#p"}`)); resp.StatusCode != 201 {
		t.Errorf("write-scoped post: %d %s", resp.StatusCode, b)
	}
	// Without an acceptor, orders are not taken.
	plain := newFHIRServer(t, nil)
	if resp, b := plain.do(t, auth.RoleClinician, "POST", "/fhir/r4/ServiceRequest", serviceRequest("ORD-7", `"subject":{"reference":"#p"}`)); resp.StatusCode != 405 {
		t.Errorf("no acceptor: %d %s", resp.StatusCode, b)
	}
}
