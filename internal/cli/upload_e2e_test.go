package cli_test

import (
	"bytes"
	"crypto/sha256"
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
	server := "http://" + addr
	cmd := exec.Command(binary, "serve", "--listen", addr)
	cmd.Env = s.env
	logf, _ := os.OpenFile(filepath.Join(s.data, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() }
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(server + "/healthz"); err == nil {
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
	return http.DefaultClient.Do(req)
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
