package standin

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The process test runs `clinomics fhir standin` as a separate process,
// as the EHR client's tests do. It builds the binary, so it runs when
// CLINOMICS_TEST_TOOLS is set (scripts/test sets it).

func buildBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("CLINOMICS_TEST_TOOLS") == "" {
		t.Skip("builds and runs the clinomics binary: set CLINOMICS_TEST_TOOLS=1 (scripts/test does)")
	}
	bin := filepath.Join(t.TempDir(), "clinomics")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/clinomics").CombinedOutput(); err != nil {
		t.Fatalf("building clinomics: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startStandin starts the stand-in and waits for it to listen.
func startStandin(t *testing.T, bin, addr, dir string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"fhir", "standin", "--listen", addr, "--data", dir, "--fault-control"}, extra...)...)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "listening") {
		t.Fatalf("stand-in did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return cmd
}

func send(t *testing.T, method, u, token, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const txBundle = `{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"urn:uuid:aaaaaaaa-1111-4111-8111-111111111111","resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"MRN-%[1]s"}]},
  "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:mrn|MRN-%[1]s"}},
 {"fullUrl":"urn:uuid:aaaaaaaa-3333-4333-8333-333333333333","resource":{"resourceType":"DiagnosticReport","status":"final",
  "identifier":[{"system":"urn:acc","value":"ACC-%[2]s"}],"code":{"coding":[{"system":"http://loinc.org","code":"51969-4"}]},
  "subject":{"reference":"urn:uuid:aaaaaaaa-1111-4111-8111-111111111111"}},
  "request":{"method":"POST","url":"DiagnosticReport","ifNoneExist":"identifier=urn:acc|ACC-%[2]s"}}]}`

func TestStandinProcessSurvivesKill(t *testing.T) {
	bin := buildBinary(t)
	c := newClient(t)
	addr, dir := freeAddr(t), t.TempDir()
	base := "http://" + addr
	args := []string{"--jwks-url", c.jwks.URL, "--client-id", "lab", "--token-lifetime", "2s"}
	cmd := startStandin(t, bin, addr, dir, args...)
	token := func() string {
		now := time.Now()
		a := c.assertion(t, jose.ES384, jwt.Claims{Issuer: "lab", Subject: "lab", Audience: jwt.Audience{base + "/token"},
			ID: fmt.Sprint(now.UnixNano()), IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))})
		resp, err := http.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType},
			"client_assertion": {a}, "scope": {"system/*.read system/*.write"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		tok, _, _ := strings.Cut(strings.TrimPrefix(string(b), `{"access_token":"`), `"`)
		if resp.StatusCode != 200 || tok == "" {
			t.Fatalf("token: %d %s", resp.StatusCode, b)
		}
		return tok
	}
	tok := token()
	if code, body, _ := send(t, "POST", base+"/fhir", tok, fmt.Sprintf(txBundle, "1", "1")); code != 200 || strings.Count(body, "201 Created") != 2 {
		t.Fatalf("transaction: %d %s", code, body)
	}
	// The client's retry path: one 503, then the same request goes through;
	// a rejected token, then a fresh one works.
	http.Post(base+"/_faults?fail=1&reject=1", "", nil)
	if code, _, h := send(t, "POST", base+"/fhir", tok, fmt.Sprintf(txBundle, "1", "1")); code != 503 || h.Get("Retry-After") == "" {
		t.Errorf("injected fault: %d", code)
	}
	if code, _, h := send(t, "GET", base+"/fhir/Patient", tok, ""); code != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("rejected token: %d", code)
	}
	if code, body, _ := send(t, "POST", base+"/fhir", tok, fmt.Sprintf(txBundle, "1", "1")); code != 200 || strings.Count(body, "200 OK") != 2 {
		t.Errorf("retried transaction (conditional creates): %d %s", code, body)
	}
	time.Sleep(2100 * time.Millisecond)
	if code, _, h := send(t, "GET", base+"/fhir/Patient", tok, ""); code != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired token: %d", code)
	}
	// kill -9 between two writes, then restart on the same data.
	tok = token()
	send(t, "POST", base+"/fhir", tok, fmt.Sprintf(txBundle, "2", "2"))
	cmd.Process.Signal(os.Kill)
	cmd.Wait()
	startStandin(t, bin, addr, dir, args...)
	if code, _, _ := send(t, "GET", base+"/fhir/Patient", tok, ""); code != 401 {
		t.Errorf("a token of the killed process: %d", code)
	}
	tok = token()
	code, body, _ := send(t, "GET", base+"/fhir/DiagnosticReport?_include=DiagnosticReport:subject", tok, "")
	if code != 200 || !strings.Contains(body, `"total":2`) || strings.Count(body, `"mode":"include"`) != 2 {
		t.Errorf("after restart: %d %s", code, body)
	}
	if code, body, _ := send(t, "POST", base+"/fhir", tok, fmt.Sprintf(txBundle, "2", "3")); code != 200 || !strings.Contains(body, "200 OK") || !strings.Contains(body, "201 Created") {
		t.Errorf("conditional create after restart: %d %s", code, body)
	}
	if code, body, _ := send(t, "GET", base+"/fhir/Patient?identifier=urn:mrn|MRN-2", tok, ""); code != 200 || !strings.Contains(body, `"total":1`) {
		t.Errorf("patient duplicated: %s", body)
	}
}
