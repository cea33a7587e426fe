package azureblob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/clinomics/clinomics/internal/lake"
	"github.com/clinomics/clinomics/internal/lake/backendtest"
)

// Azurite's well-known development account: public, not a secret.
const devAccount = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1;"

// azurite returns the connection string of the Azurite that scripts/test
// started, or skips.
func azurite(t *testing.T) string {
	t.Helper()
	cs := os.Getenv("CLINOMICS_TEST_AZURITE")
	if cs == "" {
		t.Skip("CLINOMICS_TEST_AZURITE not set: skipping Azure Blob tests against Azurite (scripts/test starts one)")
	}
	return cs
}

// newBackend opens a fresh container, deleted when the test ends.
func newBackend(t *testing.T, connStr string, retry policy.RetryOptions) *Backend {
	t.Helper()
	b, err := New(context.Background(), Options{ConnectionString: connStr, Container: "t-" + randHex(8), Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.c.Delete(context.Background(), nil) })
	return b
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestConformance(t *testing.T) {
	b := newBackend(t, azurite(t), policy.RetryOptions{})
	backendtest.Run(t, b, "t/")
}

func put(t *testing.T, b lake.Backend, name string, parts ...[]byte) {
	t.Helper()
	ctx := context.Background()
	for i, p := range parts {
		if err := b.WritePart(ctx, name, i, int64(len(parts[0])), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(ctx, name, len(parts)); err != nil {
		t.Fatal(err)
	}
}

func readAll(b lake.Backend, name string) ([]byte, error) {
	r, err := b.ReadRange(context.Background(), name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestArchivedRead(t *testing.T) {
	b := newBackend(t, azurite(t), policy.RetryOptions{})
	ctx := context.Background()
	put(t, b, "cold/blob", []byte("ciphertext"))
	if err := b.SetTier(ctx, "cold/blob", lake.TierCool); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(b, "cold/blob"); err != nil || string(got) != "ciphertext" {
		t.Fatalf("cool read = %q, %v", got, err)
	}
	if err := b.SetTier(ctx, "cold/blob", lake.TierArchive); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(b, "cold/blob")
	if !errors.Is(err, lake.ErrArchived) || !strings.Contains(err.Error(), "cold/blob") || !strings.Contains(err.Error(), "rehydrated") {
		t.Fatalf("archived read = %q, %v; want ErrArchived naming the blob", got, err)
	}
	if n, err := b.Size(ctx, "cold/blob"); err != nil || n != 10 {
		t.Fatalf("archived size = %d, %v", n, err)
	}
	if err := b.SetTier(ctx, "cold/blob", "glacier"); err == nil {
		t.Fatal("unknown tier accepted")
	}
}

func TestAzureNames(t *testing.T) {
	for _, n := range []string{"a/", "a.", "./a", "a/./b", "."} {
		if err := checkName(n); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	for _, n := range []string{"objects/ab/vab12", "a.b/c_d-e"} {
		if err := checkName(n); err != nil {
			t.Errorf("name %q: %v", n, err)
		}
	}
	if blockID(0) == blockID(1) || len(blockID(0)) != len(blockID(MaxParts-1)) {
		t.Fatal("block ids must differ and have one length")
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	secret := "AccountKey=c2VjcmV0LWtleS1kby1ub3QtbGVhaw=="
	for _, o := range []Options{
		{ConnectionString: "nonsense;" + secret, Container: "c"},
		{ConnectionString: devAccount, Container: ""},
		{AccountURL: "http://acct.blob.core.windows.net", Container: "c"},
		{AccountURL: "https://acct.blob.core.windows.net/?sig=" + secret, Container: "c"},
		{Container: "c"},
	} {
		_, err := New(ctx, o)
		if err == nil {
			t.Errorf("%+v accepted", o)
		} else if strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

// A server that accepts connections and never answers: every try runs
// into the per-try timeout, and the error says so.
func TestHungServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			go io.Copy(io.Discard, c)
		}
	}()
	cs := fmt.Sprintf(devAccount, ln.Addr().(*net.TCPAddr).Port)
	_, err = New(context.Background(), Options{ConnectionString: cs, Container: "hung",
		Retry: policy.RetryOptions{MaxRetries: 2, TryTimeout: 200 * time.Millisecond, RetryDelay: 10 * time.Millisecond}})
	var e *Error
	if !errors.As(err, &e) || e.Tries != 3 || e.TryTimeout == 0 {
		t.Fatalf("err = %v, want an *Error after 3 timed-out tries", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "per-try timeout of 200ms") || !strings.Contains(msg, "3 tries") || strings.Contains(msg, "Eby8") {
		t.Fatalf("message = %q", msg)
	}
	t.Log(err)
}

// privateAzurite runs its own Azurite (CLINOMICS_TEST_AZURITE_BIN) so the
// test can stop and restart it.
type privateAzurite struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func startPrivateAzurite(t *testing.T) *privateAzurite {
	bin := os.Getenv("CLINOMICS_TEST_AZURITE_BIN")
	if bin == "" {
		t.Skip("CLINOMICS_TEST_AZURITE_BIN not set: skipping the Azurite outage test (scripts/test sets it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	a := &privateAzurite{t: t, bin: bin, dir: t.TempDir(), port: port}
	a.start()
	t.Cleanup(func() { a.stop(syscall.SIGKILL) })
	return a
}

func (a *privateAzurite) connStr() string { return fmt.Sprintf(devAccount, a.port) }

func (a *privateAzurite) start() {
	a.t.Helper()
	a.cmd = exec.Command(a.bin, "--location", a.dir, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(a.port),
		"--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry")
	var out bytes.Buffer
	a.cmd.Stdout, a.cmd.Stderr = &out, &out
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", a.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.stop(syscall.SIGKILL)
	a.t.Fatalf("azurite did not start: %s", out.String())
}

// stop ends Azurite: SIGTERM lets it close cleanly, SIGKILL is a crash.
func (a *privateAzurite) stop(sig syscall.Signal) {
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Signal(sig)
	a.cmd.Wait()
	a.cmd = nil
}

// TestOutage stops Azurite in the middle of an upload: a short outage is
// ridden out by retries; a long one fails after a bounded number of tries
// with an error naming the blob; once Azurite is back nothing of the
// upload is visible, and it can be finished.
func TestOutage(t *testing.T) {
	az := startPrivateAzurite(t)
	ctx := context.Background()
	b := newBackend(t, az.connStr(), policy.RetryOptions{
		MaxRetries: 5, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: time.Second, TryTimeout: 5 * time.Second,
	})
	const name = "objects/ab/vab-outage"
	parts := [][]byte{bytes.Repeat([]byte("A"), 1<<20), bytes.Repeat([]byte("B"), 1<<20), []byte("tail")}
	if err := b.WritePart(ctx, name, 0, 1<<20, parts[0]); err != nil {
		t.Fatal(err)
	}

	// Short outage: Azurite restarts while the retries are backing off.
	// This client tries for about 30 s: Azurite's own start takes a few
	// seconds on a loaded machine (6 tries, about 3 s, lost that race
	// in 1 CI run of many).
	patient, err := New(ctx, Options{ConnectionString: az.connStr(), Container: b.c.URL()[strings.LastIndex(b.c.URL(), "/")+1:], Retry: policy.RetryOptions{
		MaxRetries: 30, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: time.Second, TryTimeout: 5 * time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	az.stop(syscall.SIGTERM)
	restarted := make(chan struct{})
	go func() {
		time.Sleep(1500 * time.Millisecond)
		az.start()
		close(restarted)
	}()
	if err := patient.WritePart(ctx, name, 1, 1<<20, parts[1]); err != nil {
		t.Fatalf("part written across a short outage: %v", err)
	}
	<-restarted

	// Long outage: Azurite crashes and stays down.
	az.stop(syscall.SIGKILL)
	err = b.WritePart(ctx, name, 2, 1<<20, parts[2])
	var e *Error
	if !errors.As(err, &e) || e.Tries != 6 || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("write while down = %v; want an *Error after 6 tries, naming %s", err, name)
	}
	t.Log(err)
	if err := b.Commit(ctx, name, 3); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("commit while down = %v", err)
	}

	// Back: nothing half-committed is visible.
	az.start()
	visible := func() {
		t.Helper()
		if _, err := b.Size(ctx, name); !errors.Is(err, lake.ErrBlobNotFound) {
			t.Fatalf("size after the outage = %v, want ErrBlobNotFound", err)
		}
		if got, err := b.List(ctx, ""); err != nil || len(got) != 0 {
			t.Fatalf("list after the outage = %v, %v", got, err)
		}
	}
	visible()
	if err := b.Commit(ctx, name, 3); err == nil {
		t.Fatal("commit with a part missing accepted")
	} else {
		t.Log(err)
	}
	visible()

	// The upload resumes: rewrite what may be lost, commit, read back.
	for i, p := range parts {
		if err := b.WritePart(ctx, name, i, 1<<20, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(ctx, name, 3); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(b, name)
	if err != nil || !bytes.Equal(got, bytes.Join(parts, nil)) {
		t.Fatalf("read after resume: %d bytes, %v", len(got), err)
	}
}
