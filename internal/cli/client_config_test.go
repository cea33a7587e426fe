package cli_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clinomics/clinomics/internal/app"
	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/cli"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/httpapi"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/report"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

// siteServer serves the API over HTTPS with the self-signed certificate
// of a data directory, on the address a site file's server.listen names,
// as `clinomics serve --config site.yaml` would. It returns the site file
// and the address.
func siteServer(t *testing.T) (string, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	keys.DefaultKDF.MemoryKiB = 8 * 1024
	store, err := catalog.Open(ctx, filepath.Join(data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	alog, err := audit.Open(ctx, store, kr, audit.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	db, err := clinical.Open(ctx, store, kr)
	if err != nil {
		t.Fatal(err)
	}
	reports := app.NewReports(store, db, alog, log, report.Options{})
	api := &httpapi.Server{Store: store, Log: log, Site: "main", Auth: &auth.Authenticator{Tokens: store}, Audit: alog, Reports: reports}
	tc, _, err := tlsconf.ServerConfig(tlsconf.ServerOptions{SelfSignedDir: filepath.Join(data, "tls")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: api.Handler(), ErrorLog: nil}
	go hs.Serve(tls.NewListener(ln, tc))
	t.Cleanup(func() { hs.Close() })
	site := filepath.Join(dir, "site.yaml")
	os.WriteFile(site, []byte("data_dir: "+data+"\nserver:\n  listen: "+ln.Addr().String()+"\n  site: main\n"), 0o600)
	for _, v := range []string{"CLINOMICS_CONFIG", "CLINOMICS_SERVER", "CLINOMICS_DATA_DIR", "CLINOMICS_CATALOG_DSN", "CLINOMICS_CA_FILE", "CLINOMICS_TOKEN"} {
		t.Setenv(v, "")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no stored credentials
	return site, ln.Addr().String()
}

func clinomics(t *testing.T, token string, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("CLINOMICS_TOKEN", token)
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// TestClientCommandsReadConfig: the bug where `whoami --config site.yaml`
// dialled 127.0.0.1:8080 whatever server.listen said, and with --server
// failed on the self-signed certificate, because only $CLINOMICS_CONFIG
// was read to find the server and its certificate.
func TestClientCommandsReadConfig(t *testing.T) {
	site, addr := siteServer(t)
	tok, errs, code := clinomics(t, "", "token", "create", "--local", "--config", site, "--name", "bootstrap", "--grant", "administrator")
	if code != 0 {
		t.Fatalf("token create --local: %d %s", code, errs)
	}
	tok = strings.TrimSpace(tok)
	for _, args := range [][]string{
		{"whoami", "--config", site},
		{"whoami", "--config", site, "--server", "https://" + addr},
		{"runs", "list", "--config", site},
	} {
		if out, errs, code := clinomics(t, tok, args...); code != 0 || args[0] == "whoami" && !strings.Contains(out, "administrator") {
			t.Errorf("clinomics %s: %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	// $CLINOMICS_CONFIG does the same.
	t.Setenv("CLINOMICS_CONFIG", site)
	var out, errb bytes.Buffer
	t.Setenv("CLINOMICS_TOKEN", tok)
	if code := cli.Main([]string{"whoami"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Errorf("whoami with $CLINOMICS_CONFIG: %d %s", code, errb.String())
	}
	// A broken site file is reported, not ignored.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("server:\n  colour: blue\n"), 0o600)
	if _, errs, code := clinomics(t, tok, "whoami", "--config", bad); code == 0 || !strings.Contains(errs, "colour") {
		t.Errorf("broken config: %d %s", code, errs)
	}
}

// TestFourEyesOnOneMachine: the bug where two tokens made with
// `token create --local` were both cli:root's, so one person's review and
// another's sign-out could not be done on the server machine. Tokens made
// --for a named person are theirs: four eyes holds per person, and the
// audit trail names the operator who made each and for whom.
func TestFourEyesOnOneMachine(t *testing.T) {
	site, _ := siteServer(t)
	mint := func(person, grant string) string {
		t.Helper()
		out, errs, code := clinomics(t, "", "token", "create", "--local", "--config", site, "--for", person, "--name", "sign-out", "--grant", grant)
		if code != 0 || !strings.Contains(errs, "made for user:"+person) {
			t.Fatalf("token for %s: %d %s", person, code, errs)
		}
		return strings.TrimSpace(out)
	}
	bio, dirA, dirA2, dirB := mint("bio-1", "bioinformatician@site:main"), mint("dir-a", "lab-director@site:main"), mint("dir-a", "lab-director@site:main"), mint("dir-b", "lab-director@site:main")
	if _, errs, code := clinomics(t, "", "token", "create", "--for", "dir-a", "--name", "x", "--grant", "lab-director", "--config", site); code != 2 || !strings.Contains(errs, "--for needs --local") {
		t.Errorf("--for without --local: %d %s", code, errs)
	}
	if _, errs, code := clinomics(t, "", "token", "create", "--local", "--for", "Jane Doe", "--name", "x", "--grant", "lab-director", "--config", site); code != 1 || strings.Contains(errs, "Jane") {
		t.Errorf("--for with a name: %d %s", code, errs)
	}
	if out, _, _ := clinomics(t, dirA, "whoami", "--config", site); !strings.Contains(out, "token:") || !strings.Contains(out, "(token of user:dir-a)") {
		t.Errorf("whoami: %s", out)
	}
	out, errs, code := clinomics(t, bio, "report", "create", "--config", site, "--draft", "../report/testdata/draft.json")
	id := regexp.MustCompile(`rpt-[0-9a-f]+`).FindString(out)
	if code != 0 || id == "" {
		t.Fatalf("report create: %d %s %s", code, out, errs)
	}
	if _, errs, code := clinomics(t, dirA, "report", "review", id, "--config", site); code != 0 {
		t.Fatalf("review: %s", errs)
	}
	if _, errs, code := clinomics(t, dirA2, "report", "sign", id, "--config", site); code == 0 || !strings.Contains(errs, "cannot also sign") {
		t.Fatalf("the reviewer signed with a second token: %d %s", code, errs)
	}
	if out, errs, code := clinomics(t, dirB, "report", "sign", id, "--config", site); code != 0 || !strings.Contains(out, "signed") {
		t.Fatalf("sign by another person: %d %s %s", code, out, errs)
	}
	out, _, _ = clinomics(t, dirB, "report", "show", id, "--config", site)
	if !strings.Contains(out, "user:dir-a") || !strings.Contains(out, "user:dir-b") {
		t.Errorf("sign-out history does not name the people:\n%s", out)
	}

	// The accounting of disclosures names the person behind each token.
	out, errs, _ = clinomics(t, "", "audit", "report", "--patient", "pat-7f3a9c", "--config", site)
	if !strings.Contains(out, "(user:dir-a)") || !strings.Contains(out, "(user:dir-b)") {
		t.Errorf("audit report does not name the people behind the tokens:\n%s%s", out, errs)
	}

	// The audit trail: the operator made each token, for whom.
	st, err := catalog.Open(context.Background(), filepath.Join(filepath.Dir(site), "data", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	made := 0
	for _, ev := range evs {
		if ev.Action == "token.create" {
			made++
			if !strings.HasPrefix(ev.Actor, "cli:") || !strings.Contains(ev.Detail, "owner user:") {
				t.Errorf("token.create record: %+v", ev)
			}
		}
	}
	if made != 4 {
		t.Errorf("%d token.create records, want 4", made)
	}
}
