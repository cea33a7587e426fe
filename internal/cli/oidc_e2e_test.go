package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth/oidc/oidctest"
)

// TestSignInThroughTheIdentityProvider runs the server against a real
// OpenID provider: a service principal's client-credentials token, a
// person signing in with `clinomics login` (device code, approved at the
// provider), break-the-glass access by an administrator, and refused
// tokens; then checks the audit trail verifies and flags the emergency.
func TestSignInThroughTheIdentityProvider(t *testing.T) {
	needTools(t)
	idp := oidctest.Shared(t)
	s := newSandbox(t, t.TempDir())
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	site := fmt.Sprintf("auth:\n  oidc:\n    issuer: %s\n    audience: [%s]\n    client_id: %s\n    resource: %s\n    scopes: [openid, offline_access, %s]\n",
		idp.Issuer, idp.Audience, oidctest.CLIClient, idp.Audience, oidctest.APIScope)
	if err := os.WriteFile(cfg, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "CLINOMICS_CONFIG="+cfg, "XDG_CONFIG_HOME="+t.TempDir())
	server, stop := startServer(t, s)
	defer stop()

	as := func(bearer, path string, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", server+path, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := s.client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// A service principal (client credentials, app role "service").
	svc := idp.ServiceToken(t, oidctest.ServiceClient)
	if code, b := as(svc, "/api/v1/whoami"); code != 200 || !strings.Contains(b, `"service:`+oidctest.ServiceClient+`"`) || !strings.Contains(b, "runs:submit") {
		t.Fatalf("service principal: %d %s", code, b)
	}
	if code, _ := as(svc, "/api/v1/tokens"); code != http.StatusForbidden {
		t.Errorf("a service principal lists tokens: %d", code)
	}
	// A client without any app role is authenticated but granted nothing.
	if code, _ := as(idp.ServiceToken(t, oidctest.NoRoleClient), "/api/v1/whoami"); code != http.StatusUnauthorized {
		t.Errorf("a principal without roles: %d", code)
	}
	for _, bad := range []string{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", svc[:len(svc)-4] + "AAAA", "x.y.z"} {
		if code, b := as(bad, "/api/v1/whoami"); code != http.StatusUnauthorized || strings.Contains(b, "signature") {
			t.Errorf("bad token %q...: %d %s", bad[:10], code, b)
		}
	}

	// A person signs in at the terminal; the test approves the code at the provider.
	env := withoutToken(s.env)
	cmd := exec.Command(binary, "login", "--server", server)
	cmd.Env = env
	stderr, _ := cmd.StderrPipe()
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	approved := false
	for sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "(or open "); ok && !approved {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := idp.ApproveDevice(ctx, strings.TrimSuffix(u, ")"), "clinician"); err != nil {
				t.Fatal(err)
			}
			cancel()
			approved = true
		}
	}
	if err := cmd.Wait(); err != nil || !approved || !strings.Contains(out.String(), "signed in to "+server+" as user:clinician") {
		t.Fatalf("login: %v (approved %v)\n%s", err, approved, out.String())
	}
	run := func(args ...string) (string, string, int) {
		c := exec.Command(binary, args...)
		c.Env = env
		var o, e strings.Builder
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return o.String(), e.String(), code
	}
	if o, e, code := run("whoami", "--server", server); code != 0 || !strings.Contains(o, "user:clinician") || !strings.Contains(o, "clinician") {
		t.Fatalf("whoami after login: %d %s %s", code, o, e)
	}
	if o, e, code := run("runs", "submit", "germline", "--server", server, "--sample", "S1", "--fastq", r1, r2, "--reference", ref, "--out", t.TempDir()); code == 0 || !strings.Contains(e, "runs:submit") {
		t.Errorf("a clinician submits a run: %d %s %s", code, o, e)
	}

	// An administrator reads patient data only by breaking the glass.
	admin := idp.UserToken(t, "admin")
	if code, b := as(admin, "/api/v1/objects/a/b.fastq"); code != http.StatusForbidden || !strings.Contains(b, "X-Break-Glass-Reason") {
		t.Fatalf("administrator without a reason: %d %s", code, b)
	}
	if code, b := as(admin, "/api/v1/objects/a/b.fastq", "X-Break-Glass-Reason", "ED attending, patient unconscious"); code != http.StatusNotFound {
		t.Fatalf("administrator breaking the glass: %d %s", code, b)
	}
	stop()
	if _, e, code := s.run(nil, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %d %s", code, e)
	}
	trail, _, _ := s.run(nil, "audit", "export", "--jsonl", "-")
	if !strings.Contains(trail, "ED attending, patient unconscious") || !strings.Contains(trail, `"user:admin"`) {
		t.Fatalf("break-the-glass access not in the audit trail:\n%s", trail)
	}
}

// withoutToken drops CLINOMICS_TOKEN from an environment.
func withoutToken(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "CLINOMICS_TOKEN=") {
			out = append(out, kv)
		}
	}
	return out
}
