package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/pipeline"
	"github.com/clinomics/clinomics/internal/reference"
	"github.com/clinomics/clinomics/internal/workflow"
	"github.com/clinomics/clinomics/internal/workflow/executor"
	"github.com/clinomics/clinomics/internal/workflow/executor/local"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests; production uses 64 MiB

// testServer is the API over a real SQLite catalog, run manager and audit
// trail, with a personal API token for each role.
type testServer struct {
	URL    string
	store  catalog.Store
	tokens map[auth.Role]string
}

// newServer serves the API; the requests here are all rejected before any
// pipeline would start.
func newServer(t *testing.T, setup ...func(*httpapi.Server)) *testServer {
	t.Helper()
	dir := t.TempDir()
	store, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.DiscardHandler)
	runner := &pipeline.Runner{Store: store, Log: log, Refs: &reference.Store{Root: filepath.Join(dir, "refs")},
		Engine: &workflow.Engine{Store: store, Exec: local.New(executor.Resources{Threads: 1, MemoryMB: 1000}), WorkDir: filepath.Join(dir, "work")}}
	m := &pipeline.Manager{Runner: runner}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	be, err := lake.NewLocalFS(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(context.Background(), store, kr, audit.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	api := &httpapi.Server{Store: store, Manager: m, Log: log, Site: "main", Lake: lake.New(store, be, kr, log),
		Auth: &auth.Authenticator{Tokens: store}, Audit: alog}
	for _, f := range setup {
		f(api)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	ts := &testServer{URL: srv.URL, store: store, tokens: map[auth.Role]string{}}
	local := &auth.Principal{Kind: auth.KindLocal, ID: "test"}
	for _, r := range auth.Roles {
		tok, _, err := auth.CreateToken(context.Background(), store, auth.NewToken{Name: string(r), Owner: local,
			Grants: []auth.Grant{{Role: r, Scope: "site:main"}}, Expires: time.Hour}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens[r] = tok
	}
	return ts
}

// do sends a request as role ("" for none).
func (ts *testServer) do(t *testing.T, role auth.Role, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+ts.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestEveryRouteDeclaresAPermission(t *testing.T) {
	for _, r := range (&httpapi.Server{}).Routes() {
		if r.Perm == "" {
			t.Errorf("%s %s declares no permission", r.Method, r.Pattern)
		}
		if r.Perm == auth.PermPublic && r.Pattern != "/healthz" {
			t.Errorf("%s %s is public", r.Method, r.Pattern)
		}
	}
}

func TestBadRequests(t *testing.T) {
	srv := newServer(t)
	missing := filepath.Join(t.TempDir(), "absent_R1.fastq.gz")
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"malformed JSON", "POST", "/api/v1/runs", `{"pipeline": "germline",`, 400, "request body: "},
		{"syntax error", "POST", "/api/v1/runs", `{"pipeline": germline}`, 400, "malformed JSON at byte"},
		{"unknown field", "POST", "/api/v1/runs", `{"pipeline":"germline","patient_name":"x"}`, 400, `a field this endpoint does not take`},
		{"wrong type", "POST", "/api/v1/runs", `{"pipeline":"germline","fastq":"a.fq"}`, 400, `field "fastq" must be []string`},
		{"too large", "POST", "/api/v1/runs", `{"sample":"` + strings.Repeat("x", 2<<20) + `"}`, 400, "too large"},
		{"unknown pipeline", "POST", "/api/v1/runs", `{"pipeline":"rnaseq"}`, 400, `pipeline: only "germline"`},
		{"missing FASTQ", "POST", "/api/v1/runs", `{"pipeline":"germline","sample":"S1","fastq":["` + missing + `"],"reference":"/nope.fa","out":"/tmp/o"}`, 400, "--fastq R1: no such file or directory"},
		{"bad limit", "GET", "/api/v1/runs?limit=abc", "", 400, "limit must be an integer"},
		{"unknown run", "GET", "/api/v1/runs/nope", "", 404, "no such run"},
		{"cancel unknown run", "POST", "/api/v1/runs/nope/cancel", "{}", 404, "no such run"},
		{"wrong method", "DELETE", "/api/v1/runs", "", 404, "no such endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := srv.do(t, auth.RoleBioinformatician, c.method, c.path, c.body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			var body map[string]string
			if err := json.Unmarshal(b, &body); err != nil || body["error"] == "" {
				t.Fatalf("error body %q is not {\"error\": ...}", b)
			}
			if !strings.Contains(body["error"], c.want) {
				t.Errorf("error %q, want it to contain %q", body["error"], c.want)
			}
			if strings.Contains(body["error"], "goroutine") || strings.Contains(body["error"], "internal error") {
				t.Errorf("error leaks internals: %q", body["error"])
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", resp.Header)
			}
		})
	}
	_, b := srv.do(t, auth.RoleBioinformatician, "GET", "/api/v1/runs", "")
	var list struct{ Runs []any }
	json.Unmarshal(b, &list)
	if len(list.Runs) != 0 {
		t.Errorf("rejected submissions created runs: %v", list.Runs)
	}
}

// TestRolesAgainstRoutes walks every route with no credential and with a
// token of each role: 401 without, 403 exactly where the role lacks the
// route's permission, and past the guard everywhere else.
func TestRolesAgainstRoutes(t *testing.T) {
	srv := newServer(t)
	for _, rt := range (&httpapi.Server{}).Routes() {
		path := strings.NewReplacer("{id}", "x", "{path...}", "a/b").Replace(rt.Pattern)
		body := ""
		if rt.Method == "POST" || rt.Method == "PATCH" {
			body = "{}"
		}
		resp, _ := srv.do(t, "", rt.Method, path, body)
		if rt.Perm == auth.PermPublic {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s without a credential: %d", rt.Method, rt.Pattern, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without a credential: %d", rt.Method, rt.Pattern, resp.StatusCode)
		}
		for _, role := range auth.Roles {
			resp, b := srv.do(t, role, rt.Method, path, body)
			allowed := slices.Contains(role.Permissions(), rt.Perm)
			switch {
			case allowed && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized):
				t.Errorf("%s %s as %s: %d %s, want past the guard", rt.Method, rt.Pattern, role, resp.StatusCode, b)
			case !allowed && resp.StatusCode != http.StatusForbidden:
				t.Errorf("%s %s as %s: %d, want 403", rt.Method, rt.Pattern, role, resp.StatusCode)
			}
		}
	}
}

func TestAuditOfAccess(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	srv.do(t, "", "GET", "/api/v1/runs", "")
	srv.do(t, auth.RoleResearcher, "GET", "/api/v1/runs", "")
	srv.do(t, auth.RoleClinician, "GET", "/api/v1/runs/nope", "")
	evs, err := srv.store.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Source != "127.0.0.1" {
			t.Errorf("record %d: source %q", e.Seq, e.Source)
		}
		got = append(got, e.Outcome+" "+strings.SplitN(e.Actor, ":", 2)[0]+" "+e.Action)
	}
	want := []string{
		"denied anonymous GET /api/v1/runs",
		"denied token GET /api/v1/runs",
		"ok token GET /api/v1/runs/{id}",
		"error token GET /api/v1/runs/{id}",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// failingAuditor cannot write.
type failingAuditor struct{}

func (failingAuditor) Record(context.Context, catalog.AuditEvent) error {
	return errors.New("disk full")
}

func TestAuditFailsClosed(t *testing.T) {
	store, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	local := &auth.Principal{Kind: auth.KindLocal, ID: "test"}
	tok, _, _ := auth.CreateToken(context.Background(), store, auth.NewToken{Name: "x", Owner: local,
		Grants: []auth.Grant{{Role: auth.RoleClinician, Scope: "*"}}, Expires: time.Hour}, time.Now())
	api := &httpapi.Server{Store: store, Log: slog.New(slog.DiscardHandler), Auth: &auth.Authenticator{Tokens: store}, Audit: failingAuditor{}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(b), "clinician") || strings.Contains(string(b), "disk") {
		t.Fatalf("with the audit down: %d %s", resp.StatusCode, b)
	}
}

func TestBadCredentialsAreRateLimited(t *testing.T) {
	srv := newServer(t, func(s *httpapi.Server) { s.Limiter = &auth.Limiter{Max: 5, Window: time.Minute} })
	for i := range 5 {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/runs", nil)
		req.Header.Set("Authorization", "Bearer clk_guessguessguess_"+strings.Repeat("a", 31)+string(rune('a'+i)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp, b := srv.do(t, auth.RoleClinician, "GET", "/api/v1/runs", "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d %s", resp.StatusCode, b)
	}
}

// personIdP stands in for the identity provider here (auth/oidc is tested
// against a real OpenID provider): the bearer "admin-person" is a person
// with the administrator role.
type personIdP struct{}

func (personIdP) VerifyIdentity(_ context.Context, raw string) (auth.Identity, error) {
	if raw == "admin-person" {
		return auth.Identity{Subject: "person-1", Roles: []string{"administrator"}}, nil
	}
	return auth.Identity{}, errors.New("bad signature")
}

func TestBreakGlass(t *testing.T) {
	srv := newServer(t, func(s *httpapi.Server) { s.Auth.(*auth.Authenticator).IdP = personIdP{} })
	get := func(bearer, reason string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/objects/a/b", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		if reason != "" {
			req.Header.Set(httpapi.BreakGlassHeader, reason)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := get("admin-person", ""); code != http.StatusForbidden || !strings.Contains(b, httpapi.BreakGlassHeader) {
		t.Fatalf("administrator reading an object: %d %s", code, b)
	}
	if code, b := get("admin-person", "on call: patient in resus"); code != http.StatusNotFound {
		t.Fatalf("breaking the glass: %d %s, want past the guard (404: no such object)", code, b)
	}
	if code, _ := get(srv.tokens[auth.RoleAdmin], "patient coding"); code != http.StatusForbidden {
		t.Fatalf("a token breaking the glass: %d", code)
	}
	evs, _ := srv.store.ListAudit(context.Background(), 0, 100)
	flagged := 0
	for _, e := range evs {
		if e.BreakGlass != "" {
			flagged++
			if e.BreakGlass != "on call: patient in resus" || e.Actor != "user:person-1" {
				t.Errorf("flagged record: %+v", e)
			}
		}
	}
	if flagged != 2 { // allowed, then failed (404)
		t.Errorf("%d break-glass records, want 2", flagged)
	}
}

func TestTokenEndpoints(t *testing.T) {
	srv := newServer(t, func(s *httpapi.Server) { s.Auth.(*auth.Authenticator).IdP = personIdP{} })
	call := func(bearer, method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// A person makes a token narrowed to two permissions; it is shown once.
	code, b := call("admin-person", "POST", "/api/v1/tokens", `{"name":"laptop","expires_days":30,"perms":["runs:read","lake:list"]}`)
	var created httpapi.TokenView
	json.Unmarshal(b, &created)
	if code != http.StatusCreated || !strings.HasPrefix(created.Token, auth.TokenPrefix) || created.Owner != "user:person-1" {
		t.Fatalf("create: %d %s", code, b)
	}
	code, b = call(created.Token, "GET", "/api/v1/whoami", "")
	var me httpapi.WhoAmI
	json.Unmarshal(b, &me)
	if code != http.StatusOK || me.Kind != "token" || me.Owner != "user:person-1" || !slices.Equal(me.Permissions, []auth.Permission{auth.PermLakeList, auth.PermRunsRead}) {
		t.Fatalf("whoami with the token: %d %s", code, b)
	}
	if code, _ := call(created.Token, "POST", "/api/v1/runs/x/cancel", "{}"); code != http.StatusForbidden {
		t.Errorf("narrowed token cancels runs: %d", code)
	}
	code, b = call("admin-person", "GET", "/api/v1/tokens", "")
	if code != http.StatusOK || strings.Contains(string(b), created.Token) || !strings.Contains(string(b), created.ID) {
		t.Fatalf("list shows the secret or misses the token: %d %s", code, b)
	}
	// A token lists its owner's tokens (it acts for them).
	code, b = call("admin-person", "POST", "/api/v1/tokens", `{"name":"cli","expires_days":1}`)
	var cliTok httpapi.TokenView
	json.Unmarshal(b, &cliTok)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	code, b = call(cliTok.Token, "GET", "/api/v1/tokens", "")
	if code != http.StatusOK || !strings.Contains(string(b), created.ID) || !strings.Contains(string(b), cliTok.ID) {
		t.Fatalf("a token's list misses its owner's tokens: %d %s", code, b)
	}
	bad := []struct{ bearer, body, want string }{
		{srv.tokens[auth.RoleClinician], `{"name":"x","expires_days":1}`, "not with another token"},
		{"admin-person", `{"name":"x","expires_days":1,"grants":["clinician"]}`, "do not hold"},
		{"admin-person", `{"name":"x","expires_days":400}`, "expires_days"},
		{"admin-person", `{"name":"","expires_days":1}`, "name"},
		{"admin-person", `{"name":"x","expires_days":1,"perms":["root"]}`, "unknown permission"},
		{"admin-person", `{"name":"x","expires_days":1,"grants":["clinician@mars"]}`, "bad scope"},
	}
	for _, c := range bad {
		code, b := call(c.bearer, "POST", "/api/v1/tokens", c.body)
		if code < 400 || code >= 500 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want an error about %q", c.body, code, b, c.want)
		}
	}
	// Others cannot see or revoke it; its owner can.
	if code, _ := call(srv.tokens[auth.RoleClinician], "DELETE", "/api/v1/tokens/"+created.ID, ""); code != http.StatusNotFound {
		t.Errorf("another user revokes: %d", code)
	}
	if code, b := call("admin-person", "DELETE", "/api/v1/tokens/"+created.ID, ""); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _ := call(created.Token, "GET", "/api/v1/whoami", ""); code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", code)
	}
}

// TestOddPathsAreAudited: a path with control bytes or a very long one is
// still recorded (quoted, cut), never turned into an unaudited 503.
func TestOddPathsAreAudited(t *testing.T) {
	srv := newServer(t)
	long := "/api/v1/objects/" + strings.Repeat("a", 1100)
	for _, c := range []struct {
		role auth.Role
		path string
		want int
	}{
		{"", "/api/v1/runs/%01", http.StatusUnauthorized},
		{"", long, http.StatusUnauthorized},
		{auth.RoleResearcher, "/api/v1/runs/%01%7f", http.StatusForbidden},
		{"", "/api/v1/runs/%C2%85", http.StatusUnauthorized}, // a C1 control character
		{auth.RoleBioinformatician, long, http.StatusNotFound},
	} {
		before, _ := srv.store.ListAudit(context.Background(), 0, 1000)
		resp, b := srv.do(t, c.role, "GET", c.path, "")
		if resp.StatusCode != c.want {
			t.Errorf("%s %.40s: %d %s, want %d", c.role, c.path, resp.StatusCode, b, c.want)
		}
		after, _ := srv.store.ListAudit(context.Background(), 0, 1000)
		if len(after) == len(before) {
			t.Errorf("%s %.40s: no audit record", c.role, c.path)
		}
		for _, e := range after[len(before):] {
			if len(e.Resource) > 512 || strings.ContainsAny(e.Resource, "\x01\x7f\u0085") {
				t.Errorf("resource recorded as %q", e.Resource)
			}
		}
	}
}

// TestLakeInputsNeedLakeRead: submitting a run over lake objects is reading
// them; a lab technician may submit runs but not read patient data.
func TestLakeInputsNeedLakeRead(t *testing.T) {
	srv := newServer(t)
	body := `{"pipeline":"germline","sample":"S1","fastq":["lake:p/S1_R1.fastq.gz"],"reference":"/nope.fa","out":"lake:results/S1"}`
	resp, b := srv.do(t, auth.RoleLabTech, "POST", "/api/v1/runs", body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "lake:read") {
		t.Fatalf("lab technician over lake inputs: %d %s", resp.StatusCode, b)
	}
	// A bioinformatician passes the permission; the run is then refused on
	// its parameters, naming the parameter only.
	body = `{"pipeline":"germline","sample":"S1","fastq":["lake:p/S1_R1.fastq.gz"],"reference":"/nope.fa","out":"/tmp/plain"}`
	resp, b = srv.do(t, auth.RoleBioinformatician, "POST", "/api/v1/runs", body)
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "p/S1_R1") {
		t.Fatalf("bioinformatician, local out: %d %s", resp.StatusCode, b)
	}
}
