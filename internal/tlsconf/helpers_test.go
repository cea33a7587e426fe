package tlsconf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA issues certificates for tests.
type testCA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

var serialSeq struct {
	sync.Mutex
	n int64
}

// issue returns a PEM certificate and key for cn: a server certificate for
// localhost and 127.0.0.1, or a client certificate; RSA or ECDSA P-256.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, useRSA bool) (certPEM, keyPEM []byte) {
	t.Helper()
	var key crypto.Signer
	var err error
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	serialSeq.Lock()
	serialSeq.n++
	serial := serialSeq.n + 1
	serialSeq.Unlock()
	ku := x509.KeyUsageDigitalSignature
	if useRSA {
		ku |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"clinomics test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     ku,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

// writePair writes name.crt and name.key into dir.
func writePair(t *testing.T, dir, name string, certPEM, keyPEM []byte) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func writeFile(t *testing.T, file string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
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

// mark is where the log ends now, for waitFor.
func (s *syncBuffer) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// waitFor waits until the buffer holds want after mark: the server logs a
// failed handshake after the client has seen it fail.
func (s *syncBuffer) waitFor(t *testing.T, mark int, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.String()[mark:], want) {
		if time.Now().After(deadline) {
			t.Fatalf("server log lacks %q; it holds:\n%s", want, s.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testServer is a real HTTPS server as `clinomics serve` runs it.
type testServer struct {
	addr   string // 127.0.0.1:PORT
	port   string
	errLog *syncBuffer // http.Server's log: handshake errors
}

// whoami answers the protocol, the cipher suite and the verified client.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	client := "-"
	if c := VerifiedClient(r.TLS); c != nil {
		client = c.Subject.CommonName
	}
	fmt.Fprintf(w, "proto=%s cipher=%s client=%s\n", tls.VersionName(r.TLS.Version), tls.CipherSuiteName(r.TLS.CipherSuite), client)
})

func startServer(t *testing.T, cfg *tls.Config) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errLog := &syncBuffer{}
	srv := &http.Server{
		Handler:           whoami,
		TLSConfig:         cfg,
		ErrorLog:          log.New(errLog, "", 0),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       10 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &testServer{addr: ln.Addr().String(), port: port, errLog: errLog}
}

// get makes one request on a fresh connection (a full handshake).
func get(cfg *tls.Config, url string) (body string, state *tls.ConnectionState, err error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b.String(), resp.TLS, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return b.String(), resp.TLS, nil
}

// selfSignedServer starts a server with a generated certificate and
// returns it with a client configuration that pins that certificate.
func selfSignedServer(t *testing.T, opts ServerOptions) (*testServer, *tls.Config, Info) {
	t.Helper()
	if opts.SelfSignedDir == "" {
		opts.SelfSignedDir = filepath.Join(t.TempDir(), "tls")
	}
	cfg, info, err := ServerConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := ClientConfig(ClientOptions{PinFile: info.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, cfg), ccfg, info
}
