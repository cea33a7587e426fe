package cli_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/tlsconf"
)

// startServer starts `clinomics serve` for s on a free port and returns
// its URL and a func that kills it.
func startServer(t *testing.T, s *sandbox) (string, func()) {
	t.Helper()
	return startServerAt(t, s, freePort(t))
}

// startServerAt starts `clinomics serve` on addr, with a personal API
// token for s's requests (made on the server machine with --local, as a
// site's first administrator does).
func startServerAt(t *testing.T, s *sandbox, addr string) (string, func()) {
	t.Helper()
	s.login(t)
	server := "https://" + addr
	cmd := exec.Command(binary, "serve", "--listen", addr)
	cmd.Env = s.env
	logf, _ := os.OpenFile(filepath.Join(s.data, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() }
	for i := 0; i < 100; i++ {
		if resp, err := s.client(t).Get(server + "/healthz"); err == nil {
			resp.Body.Close()
			return server, stop
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	t.Fatal("server did not start")
	return "", nil
}

// login makes s's API token once: administrator and bioinformatician
// rights at the default site.
func (s *sandbox) login(t *testing.T) {
	t.Helper()
	if s.token != "" {
		return
	}
	stdout, stderr, code := s.run(nil, "token", "create", "--local", "--name", "e2e", "--grant", "bioinformatician", "--grant", "administrator")
	if code != 0 {
		t.Fatalf("token create --local: %s", stderr)
	}
	s.token = strings.TrimSpace(stdout)
	s.env = append(s.env, "CLINOMICS_TOKEN="+s.token)
}

// client is an HTTPS client that trusts only the server's self-signed
// certificate in s's data directory (as the CLI on the server machine does).
func (s *sandbox) client(t *testing.T) *http.Client {
	t.Helper()
	pin := tlsconf.SelfSignedCertPath(filepath.Join(s.data, "tls"))
	if _, err := os.Stat(pin); err != nil {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}} // refuses all until the server made its certificate
	}
	cc, err := tlsconf.ClientConfig(tlsconf.ClientOptions{PinFile: pin})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cc}}
}

// get is a GET with s's token.
func (s *sandbox) get(t *testing.T, url string, header ...string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.client(t).Do(req)
}

// TestUploadResumesAndStoresNoPlaintext uploads a large file with a marker,
// kills the uploading client part-way, reruns it (it resumes where the
// server stopped), reads the object back, and searches every byte under
// the data directory for the marker.
func TestUploadResumesAndStoresNoPlaintext(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	server, stop := startServer(t, s)
	defer stop()

	marker := []byte("@PATIENT-MARKER-93b1c\n")
	src := filepath.Join(t.TempDir(), "S1_R1.fastq")
	f, _ := os.Create(src)
	line := bytes.Repeat(marker, 1000)
	for i := 0; i < 24000; i++ { // about 500 MiB
		f.Write(line)
	}
	f.Close()
	want := fileSum(t, src)

	cmd := exec.Command(binary, "upload", "--server", server, "--to", "runs/x", "--patient", "p42", "--quiet", src)
	cmd.Env = s.env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has stored some parts, then kill the client.
	var id string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		states, _ := filepath.Glob(filepath.Join(s.data, "uploads", "*.json"))
		if len(states) == 1 {
			var st struct{ ID string }
			b, _ := os.ReadFile(states[0])
			if json.Unmarshal(b, &st) == nil && st.ID != "" {
				id = st.ID
				var v struct{ Offset int64 }
				if resp, err := s.get(t, server+"/api/v1/uploads/"+id); err == nil {
					json.NewDecoder(resp.Body).Decode(&v)
					resp.Body.Close()
					if v.Offset > 0 {
						break
					}
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if id == "" {
		t.Fatal("no upload started")
	}
	// Nothing is visible before the upload completes.
	if resp, err := s.get(t, server+"/api/v1/objects/runs/x/S1_R1.fastq"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("partial object visible: %v %v", resp.StatusCode, err)
	}
	stdout, stderr, code := s.run(nil, "upload", "--server", server, "--to", "runs/x", "--patient", "p42", src)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "resuming at byte") || !strings.Contains(stdout, want) {
		t.Fatalf("resume did not resume or checksum differs:\n%s\n%s", stdout, stderr)
	}
	// A range read over HTTP.
	resp, err := s.get(t, server+"/api/v1/objects/runs/x/S1_R1.fastq", "Range", "bytes=22-43")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, marker) {
		t.Fatalf("range read: %d %q", resp.StatusCode, got)
	}
	stop()
	out := filepath.Join(t.TempDir(), "back.fastq")
	if _, stderr, code := s.run(nil, "lake", "get", "runs/x/S1_R1.fastq", out); code != 0 {
		t.Fatalf("lake get: %s", stderr)
	}
	if fileSum(t, out) != want {
		t.Fatal("object read back differs")
	}
	filepath.WalkDir(s.data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, marker[1:20]) {
			t.Errorf("%s holds plaintext patient data", p)
		}
		return nil
	})
}

func fileSum(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// TestServeTransport: HTTPS with HSTS by default, old TLS refused, plain
// HTTP refused off loopback.
func TestServeTransport(t *testing.T) {
	needTools(t)
	s := newSandbox(t, t.TempDir())
	server, stop := startServer(t, s)
	defer stop()
	resp, err := s.get(t, server+"/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") || resp.TLS == nil {
		t.Fatalf("no HSTS over TLS: %v", resp.Header)
	}
	old := s.client(t)
	old.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11
	old.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS10
	if resp, err := old.Get(server + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
	cfg := filepath.Join(t.TempDir(), "site.yaml")
	os.WriteFile(cfg, []byte("server:\n  tls:\n    plain_http: true\n"), 0o644)
	_, stderr, code := s.run([]string{"CLINOMICS_CONFIG=" + cfg}, "serve", "--listen", "0.0.0.0:"+strings.Split(freePort(t), ":")[1])
	if code == 0 || !strings.Contains(stderr, "server.tls.plain_http") {
		t.Fatalf("plain HTTP on all interfaces: exit %d\n%s", code, stderr)
	}
}
