package tlsconf

import (
	"context"
	"crypto/x509"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/testtools"
)

// These tests hold the server to a TLS implementation other than Go's:
// OpenSSL's s_client (Debian package openssl, which scripts/install-deps
// test installs). They run whenever openssl is on PATH; without it they
// are skipped, unless CLINOMICS_TEST_TOOLS is set, which makes its absence
// a failure.
func needOpenSSL(t *testing.T) string {
	t.Helper()
	return testtools.Need(t, "openssl")[0]
}

// openssl runs the command with stdin and returns its combined output and
// whether it exited 0.
func openssl(t *testing.T, bin, stdin string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("openssl %s: timed out\n%s", strings.Join(args, " "), out)
	}
	return string(out), err == nil
}

func TestOpenSSLClient(t *testing.T) {
	bin := needOpenSSL(t)
	srv, _, info := selfSignedServer(t, ServerOptions{})
	// Verify the server against its pinned certificate, by name, failing
	// the handshake on any verification error.
	verify := []string{"s_client", "-connect", srv.addr, "-servername", "localhost",
		"-CAfile", info.CertFile, "-verify_hostname", "localhost", "-verify_return_error"}
	const request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

	for _, tt := range []struct {
		name    string
		args    []string
		refused string // in the server's log; "" means accepted
		want    []string
	}{
		// OpenSSL 3 itself allows TLS 1.0 and 1.1 only at security level 0:
		// lowered here so that the client really offers them.
		{name: "TLS 1.0", args: []string{"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"}, refused: "client offered only unsupported versions"},
		{name: "TLS 1.1", args: []string{"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, refused: "client offered only unsupported versions"},
		{name: "TLS 1.2 AES128-SHA", args: []string{"-tls1_2", "-cipher", "AES128-SHA"}, refused: "no cipher suite supported by both client and server"},
		{name: "TLS 1.2 AES128-GCM-SHA256 (RSA key exchange)", args: []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, refused: "no cipher suite supported by both client and server"},
		{name: "TLS 1.2 ECDHE-ECDSA-AES128-SHA", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}, refused: "no cipher suite supported by both client and server"},
		{name: "TLS 1.2 ECDHE-ECDSA-AES256-SHA384", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384"}, refused: "no cipher suite supported by both client and server"},
		{name: "TLS 1.3 P-384 only", args: []string{"-tls1_3", "-groups", "P-384"}, refused: "no key exchanges supported by both client and server"},
		{name: "TLS 1.2", args: []string{"-tls1_2"}, want: []string{"Protocol  : TLSv1.2", "Cipher    : ECDHE-ECDSA-", "Verify return code: 0 (ok)", "proto=TLS 1.2"}},
		{name: "TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"},
			want: []string{"Cipher    : ECDHE-ECDSA-CHACHA20-POLY1305", "cipher=TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}},
		{name: "TLS 1.2 P-256", args: []string{"-tls1_2", "-groups", "P-256"}, want: []string{"Protocol  : TLSv1.2", "Verify return code: 0 (ok)"}},
		{name: "TLS 1.3", args: []string{"-tls1_3"}, want: []string{"Protocol  : TLSv1.3", "Verify return code: 0 (ok)", "proto=TLS 1.3"}},
		{name: "TLS 1.3 P-256", args: []string{"-tls1_3", "-groups", "P-256"}, want: []string{"Protocol  : TLSv1.3", "proto=TLS 1.3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mark := srv.errLog.mark()
			args := append(append(append([]string(nil), verify...), tt.args...), "-ign_eof")
			out, ok := openssl(t, bin, request, args...)
			if tt.refused != "" {
				if ok || strings.Contains(out, "HTTP/1.1 200") {
					t.Fatalf("accepted:\n%s", out)
				}
				srv.errLog.waitFor(t, mark, tt.refused)
				return
			}
			if !ok {
				t.Fatalf("refused:\n%s\nserver log:\n%s", out, srv.errLog.String()[mark:])
			}
			for _, w := range append(tt.want, "HTTP/1.1 200") {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	// The fingerprint the operator is told is the one OpenSSL computes.
	out, ok := openssl(t, bin, "", "x509", "-noout", "-fingerprint", "-sha256", "-in", info.CertFile)
	_, fp, _ := strings.Cut(strings.TrimSpace(out), "=")
	if !ok || !strings.EqualFold(fp, info.Fingerprint) {
		t.Errorf("openssl says %q, Info.Fingerprint %s", out, info.Fingerprint)
	}
	// And OpenSSL reads the generated key.
	if out, ok := openssl(t, bin, "", "pkey", "-in", info.KeyFile, "-noout", "-text"); !ok || !strings.Contains(out, "NIST CURVE: P-256") {
		t.Errorf("openssl pkey:\n%s", out)
	}
}

func TestOpenSSLMutualTLS(t *testing.T) {
	bin := needOpenSSL(t)
	dir := t.TempDir()
	ca, other := newCA(t, "Workers CA"), newCA(t, "Some other CA")
	caFile := writeFile(t, filepath.Join(dir, "ca.pem"), ca.certPEM)
	c, k := ca.issue(t, "agent-3", x509.ExtKeyUsageClientAuth, false)
	goodCert, goodKey := writePair(t, dir, "agent", c, k)
	c, k = other.issue(t, "intruder", x509.ExtKeyUsageClientAuth, false)
	otherCert, otherKey := writePair(t, dir, "intruder", c, k)
	srv, _, info := selfSignedServer(t, ServerOptions{ClientCAFile: caFile, RequireClientCert: true})
	const request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

	for _, version := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(version, func(t *testing.T) {
			base := []string{"s_client", "-connect", srv.addr, "-servername", "localhost", "-CAfile", info.CertFile, "-verify_return_error", "-ign_eof", version}
			for _, tt := range []struct {
				name      string
				cert, key string
				refused   string
			}{
				{"no certificate", "", "", "client didn't provide a certificate"},
				{"another CA", otherCert, otherKey, "certificate signed by unknown authority"},
				{"the workers' CA", goodCert, goodKey, ""},
			} {
				t.Run(tt.name, func(t *testing.T) {
					args := append([]string(nil), base...)
					if tt.cert != "" {
						args = append(args, "-cert", tt.cert, "-key", tt.key)
					}
					mark := srv.errLog.mark()
					out, ok := openssl(t, bin, request, args...)
					if tt.refused != "" {
						// With TLS 1.3 the client finishes its handshake before the
						// server has checked its certificate, so s_client may exit 0:
						// what matters is that no response came.
						if strings.Contains(out, "HTTP/1.1 200") {
							t.Fatalf("accepted:\n%s", out)
						}
						srv.errLog.waitFor(t, mark, tt.refused)
						return
					}
					if !ok || !strings.Contains(out, "client=agent-3") {
						t.Fatalf("exit ok %v, output:\n%s\nserver log:\n%s", ok, out, srv.errLog.String()[mark:])
					}
				})
			}
		})
	}
}

// With an RSA certificate, RSA key exchange would be possible: it is
// refused, as CBC is; ECDHE-RSA with AES-GCM is accepted.
func TestOpenSSLRSACertificate(t *testing.T) {
	bin := needOpenSSL(t)
	dir := t.TempDir()
	ca := newCA(t, "Site CA")
	caFile := writeFile(t, filepath.Join(dir, "ca.pem"), ca.certPEM)
	c, k := ca.issue(t, "clinomics.example", x509.ExtKeyUsageServerAuth, true)
	certFile, keyFile := writePair(t, dir, "server", c, k)
	cfg, _, err := ServerConfig(ServerOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, cfg)
	for _, tt := range []struct {
		cipher  string
		refused bool
	}{
		{"AES128-SHA", true},
		{"AES128-GCM-SHA256", true},
		{"AES256-GCM-SHA384", true},
		{"ECDHE-RSA-AES128-SHA", true},
		{"ECDHE-RSA-AES256-SHA384", true},
		{"ECDHE-RSA-AES128-GCM-SHA256", false},
		{"ECDHE-RSA-AES256-GCM-SHA384", false},
		{"ECDHE-RSA-CHACHA20-POLY1305", false},
	} {
		t.Run(tt.cipher, func(t *testing.T) {
			mark := srv.errLog.mark()
			out, ok := openssl(t, bin, "", "s_client", "-connect", srv.addr, "-servername", "localhost", "-CAfile", caFile,
				"-verify_return_error", "-tls1_2", "-cipher", tt.cipher)
			if tt.refused {
				if ok {
					t.Fatalf("accepted:\n%s", out)
				}
				srv.errLog.waitFor(t, mark, "no cipher suite supported by both client and server")
				return
			}
			if !ok || !strings.Contains(out, "Cipher    : "+tt.cipher) {
				t.Fatalf("exit ok %v:\n%s", ok, out)
			}
		})
	}
}
