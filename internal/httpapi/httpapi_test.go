package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/pipeline"
	"github.com/clinomics/clinomics/internal/reference"
	"github.com/clinomics/clinomics/internal/workflow"
	"github.com/clinomics/clinomics/internal/workflow/executor"
	"github.com/clinomics/clinomics/internal/workflow/executor/local"
)

// newServer is the API over a real SQLite catalog and run manager; the
// requests here are all rejected before any pipeline would start.
func newServer(t *testing.T) *httptest.Server {
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
	srv := httptest.NewServer((&httpapi.Server{Store: store, Manager: m, Log: log}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestEveryRouteDeclaresAPermission(t *testing.T) {
	for _, r := range (&httpapi.Server{}).Routes() {
		if r.Perm == "" {
			t.Errorf("%s %s declares no permission", r.Method, r.Pattern)
		}
		if r.Perm == httpapi.PermPublic && r.Pattern != "/healthz" {
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
		{"unknown field", "POST", "/api/v1/runs", `{"pipeline":"germline","patient_name":"x"}`, 400, `unknown field`},
		{"wrong type", "POST", "/api/v1/runs", `{"pipeline":"germline","fastq":"a.fq"}`, 400, `field "fastq" must be []string`},
		{"too large", "POST", "/api/v1/runs", `{"sample":"` + strings.Repeat("x", 2<<20) + `"}`, 400, "too large"},
		{"unknown pipeline", "POST", "/api/v1/runs", `{"pipeline":"rnaseq"}`, 400, `pipeline "rnaseq": only "germline"`},
		{"missing FASTQ", "POST", "/api/v1/runs", `{"pipeline":"germline","sample":"S1","fastq":["` + missing + `"],"reference":"/nope.fa","out":"/tmp/o"}`, 400, "absent_R1.fastq.gz"},
		{"bad limit", "GET", "/api/v1/runs?limit=abc", "", 400, "limit must be an integer"},
		{"unknown run", "GET", "/api/v1/runs/nope", "", 404, "no such run"},
		{"cancel unknown run", "POST", "/api/v1/runs/nope/cancel", "{}", 404, "no such run"},
		{"wrong method", "DELETE", "/api/v1/runs", "", 404, "no such endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
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
	resp, err := http.Get(srv.URL + "/api/v1/runs")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Runs []any }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Runs) != 0 {
		t.Errorf("rejected submissions created runs: %v", list.Runs)
	}
}
