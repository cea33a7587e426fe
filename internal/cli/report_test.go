package cli_test

import (
	"bytes"
	"context"
	"github.com/clinomics/clinomics/internal/report"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/cli"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/keys"
)

// TestReportCommands drives the report workflow with the CLI against a
// real API server in this process (SQLite catalog, local keyring, audit
// log), as three people: a bioinformatician and two lab directors.
func TestReportCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys.DefaultKDF.MemoryKiB = 8 * 1024
	store, err := catalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	alog, err := audit.Open(ctx, store, kr, audit.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	db, err := clinical.Open(ctx, store, kr)
	if err != nil {
		t.Fatal(err)
	}
	reports := app.NewReports(store, db, alog, log, report.Options{})
	api := &httpapi.Server{Store: store, Log: log, Site: "main", Auth: &auth.Authenticator{Tokens: store}, Audit: alog, Reports: reports}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	tokens := map[string]string{}
	for name, role := range map[string]auth.Role{"bio": auth.RoleBioinformatician, "dirA": auth.RoleLabDirector, "dirB": auth.RoleLabDirector} {
		g := []auth.Grant{{Role: role, Scope: "site:main"}}
		tok, _, err := auth.CreateToken(ctx, store, auth.NewToken{Name: name, Owner: &auth.Principal{Kind: auth.KindUser, ID: name, Grants: g}, Expires: time.Hour}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	t.Setenv("CLINOMICS_CONFIG", "")
	run := func(who string, args ...string) (string, string, int) {
		t.Helper()
		t.Setenv("CLINOMICS_TOKEN", tokens[who])
		var out, errb bytes.Buffer
		code := cli.Main(append(args, "--server", srv.URL), strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
	ok := func(who string, args ...string) string {
		t.Helper()
		out, errs, code := run(who, args...)
		if code != 0 {
			t.Fatalf("clinomics %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	fails := func(who, want string, args ...string) {
		t.Helper()
		out, errs, code := run(who, args...)
		if code == 0 || !strings.Contains(errs, want) {
			t.Fatalf("clinomics %s: exit %d, want a failure with %q\n%s%s", strings.Join(args, " "), code, want, out, errs)
		}
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"Patient": {"ID": "p1"}, "Test": {"Name": "t"}, "Variants": [{"Chrom": "chr1", "Pos": 0}]}`), 0o600)
	fails("bio", "Variants[0].Pos", "report", "create", "--draft", bad)

	// A draft naming only the sample: the patient is the one whose order
	// names it (what `annotate --report-draft --sample` writes).
	var bySamplePID string
	err = db.Update(ctx, func(tx *clinical.Tx) error {
		var err error
		if bySamplePID, err = tx.UpsertPatient(clinical.Patient{Identifiers: []clinical.Identifier{{Value: "MRN-S77", Authority: "HOSP"}}}); err == nil {
			_, err = tx.UpsertOrder(bySamplePID, clinical.Order{PlacerNumber: "PL-S77", PlacerIssuer: "EPIC", SampleID: "S-77", Status: "new"})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bySample := filepath.Join(dir, "by-sample.json")
	os.WriteFile(bySample, []byte(`{"Specimen": {"SampleID": "S-77"}, "Test": {"Name": "t"}}`), 0o600)
	ok("bio", "report", "create", "--draft", bySample)
	if out := ok("bio", "report", "list", "--patient", bySamplePID); !strings.Contains(out, "draft") {
		t.Errorf("the draft by sample is not the patient's:\n%s", out)
	}
	os.WriteFile(bySample, []byte(`{"Specimen": {"SampleID": "S-404"}, "Test": {"Name": "t"}}`), 0o600)
	fails("bio", "Specimen.SampleID", "report", "create", "--draft", bySample)
	out := ok("bio", "report", "create", "--draft", "../report/testdata/draft.json")
	id := regexp.MustCompile(`rpt-[0-9a-f]+`).FindString(out)
	if id == "" {
		t.Fatalf("create said %q", out)
	}
	if out := ok("bio", "report", "list", "--patient", "pat-7f3a9c"); !strings.Contains(out, id) || !strings.Contains(out, "draft") {
		t.Errorf("list:\n%s", out)
	}
	if out := ok("bio", "report", "show", id); !strings.Contains(out, "status    draft") || !strings.Contains(out, "Hereditary cancer panel") {
		t.Errorf("show:\n%s", out)
	}
	fails("bio", "reports:review", "report", "review", id)
	ok("dirA", "report", "review", id, "--note", "checked")
	fails("dirA", "cannot also sign", "report", "sign", id)
	ok("dirA", "report", "reopen", id)
	ok("dirB", "report", "review", id)
	if out := ok("dirA", "report", "sign", id); !strings.Contains(out, "signed") {
		t.Errorf("sign: %s", out)
	}
	fails("bio", "--reason", "report", "amend", id)
	out = ok("bio", "report", "amend", id, "--reason", "transcript corrected")
	amendment := regexp.MustCompile(`report (rpt-[0-9a-f]+) amends`).FindStringSubmatch(out)
	if amendment == nil {
		t.Fatalf("amend said %q", out)
	}
	html := filepath.Join(dir, "a.html")
	ok("bio", "report", "render", amendment[1], "--format", "html", "--out", html)
	if b, _ := os.ReadFile(html); !strings.Contains(string(b), "Amended report — replaces report "+id) || !strings.Contains(string(b), "DRAFT — NOT FOR CLINICAL USE") {
		t.Errorf("rendered amendment lacks the notice or the watermark")
	}
	pdf := filepath.Join(dir, "r.pdf")
	ok("bio", "report", "render", id, "--format", "pdf", "--out", pdf)
	if b, _ := os.ReadFile(pdf); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("render --format pdf wrote %.20q", b)
	}
	fails("bio", "html or pdf", "report", "render", id, "--format", "docx", "--out", pdf)
	// Without --format, the extension of --out says which; else it is required.
	ok("bio", "report", "render", id, "--out", filepath.Join(dir, "r.HTML"))
	if b, _ := os.ReadFile(filepath.Join(dir, "r.HTML")); !bytes.Contains(b, []byte("<html")) {
		t.Errorf("render --out r.HTML wrote %.20q", b)
	}
	ok("bio", "report", "render", id, "--out", filepath.Join(dir, "r2.pdf"))
	if b, _ := os.ReadFile(filepath.Join(dir, "r2.pdf")); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("render --out r2.pdf wrote %.20q", b)
	}
	fails("bio", "--format html or pdf is required", "report", "render", id, "--out", filepath.Join(dir, "x"))
	fails("bio", "--format html or pdf is required", "report", "render", id, "--out", "-")
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("render without a format wrote a file: %v", err)
	}
	fails("bio", "no such report", "report", "show", "rpt-nope")
	if out := ok("bio", "report", "list", "--status", "signed"); !strings.Contains(out, id) || strings.Contains(out, amendment[1]) {
		t.Errorf("list --status signed:\n%s", out)
	}
}
