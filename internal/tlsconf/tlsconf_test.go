package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServerConfigPolicy(t *testing.T) {
	cfg, _, err := ServerConfig(ServerOptions{SelfSignedDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %s", tls.VersionName(cfg.MinVersion))
	}
	if len(cfg.CipherSuites) == 0 {
		t.Fatal("no cipher suites: Go's defaults would apply")
	}
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("cipher suite %s is not ECDHE with AES-GCM or ChaCha20-Poly1305", name)
		}
	}
	for _, c := range cfg.CurvePreferences {
		if !slices.Contains([]tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}, c) {
			t.Errorf("curve %s offered", c)
		}
	}
	if cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("ClientAuth = %v without a client CA", cfg.ClientAuth)
	}
}

// Real Go clients limited to one protocol version or cipher suite against a
// real server: old protocols and CBC or RSA key exchange are refused by the
// server (its log says why), TLS 1.2 with ECDHE-AEAD and TLS 1.3 work.
func TestProtocolsAndCipherSuites(t *testing.T) {
	srv, pinned, _ := selfSignedServer(t, ServerOptions{})
	tests := []struct {
		name     string
		min, max uint16
		suites   []uint16
		curves   []tls.CurveID
		refused  string // in the server's log; "" means accepted
		suite    uint16 // negotiated, when accepted with TLS 1.2
	}{
		{name: "TLS 1.0", min: tls.VersionTLS10, max: tls.VersionTLS10, refused: "client offered only unsupported versions"},
		{name: "TLS 1.1", min: tls.VersionTLS10, max: tls.VersionTLS11, refused: "client offered only unsupported versions"},
		{name: "TLS 1.2 ECDHE-ECDSA-AES128-CBC-SHA", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, refused: "no cipher suite supported by both client and server"},
		{name: "TLS 1.2 ECDHE-ECDSA-AES128-CBC-SHA256", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, refused: "no cipher suite supported by both client and server"},
		{name: "TLS 1.2 ECDHE-ECDSA-AES128-GCM", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{name: "TLS 1.2 ECDHE-ECDSA-AES256-GCM", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, suite: tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{name: "TLS 1.2 ECDHE-ECDSA-CHACHA20", min: tls.VersionTLS12, max: tls.VersionTLS12,
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, suite: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{name: "TLS 1.2 P-384 only", min: tls.VersionTLS12, max: tls.VersionTLS12, curves: []tls.CurveID{tls.CurveP384},
			refused: "no cipher suite supported by both client and server"},
		{name: "TLS 1.2 X25519", min: tls.VersionTLS12, max: tls.VersionTLS12, curves: []tls.CurveID{tls.X25519}},
		{name: "TLS 1.3 P-384 only", min: tls.VersionTLS13, max: tls.VersionTLS13, curves: []tls.CurveID{tls.CurveP384},
			refused: "no key exchanges supported by both client and server"},
		{name: "TLS 1.3", min: tls.VersionTLS13, max: tls.VersionTLS13},
		{name: "TLS 1.3 P-256", min: tls.VersionTLS13, max: tls.VersionTLS13, curves: []tls.CurveID{tls.CurveP256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pinned.Clone()
			cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites = tt.min, tt.max, tt.suites
			if tt.curves != nil {
				cfg.CurvePreferences = tt.curves
			}
			mark := srv.errLog.mark()
			conn, err := tls.Dial("tcp", srv.addr, cfg)
			if tt.refused != "" {
				if err == nil {
					conn.Close()
					t.Fatalf("handshake succeeded with %s", tls.VersionName(conn.ConnectionState().Version))
				}
				srv.errLog.waitFor(t, mark, tt.refused)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v\nserver log:\n%s", err, srv.errLog.String())
			}
			defer conn.Close()
			cs := conn.ConnectionState()
			if cs.Version != tt.max {
				t.Errorf("negotiated %s, want %s", tls.VersionName(cs.Version), tls.VersionName(tt.max))
			}
			if tt.suite != 0 && cs.CipherSuite != tt.suite {
				t.Errorf("negotiated %s", tls.CipherSuiteName(cs.CipherSuite))
			}
		})
	}

	// And a whole request with the CLI's configuration as it is.
	body, cs, err := get(pinned, "https://localhost:"+srv.port+"/")
	if err != nil {
		t.Fatal(err)
	}
	if cs.Version != tls.VersionTLS13 || !strings.Contains(body, "proto=TLS 1.3") {
		t.Errorf("default client negotiated %s: %s", tls.VersionName(cs.Version), body)
	}
}

// An operator's RSA certificate from a CA: RSA key exchange is refused,
// ECDHE-RSA with AES-GCM is accepted.
func TestConfiguredRSACertificate(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "Site CA")
	c, k := ca.issue(t, "clinomics.example", x509.ExtKeyUsageServerAuth, true)
	certFile, keyFile := writePair(t, dir, "server", c, k)
	caFile := writeFile(t, filepath.Join(dir, "ca.pem"), ca.certPEM)

	cfg, info, err := ServerConfig(ServerOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if info.SelfSigned || info.Generated || len(info.Warnings) != 0 {
		t.Errorf("info = %+v", info)
	}
	srv := startServer(t, cfg)
	client, err := ClientConfig(ClientOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		suite   uint16
		refused bool
	}{
		{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, true},
		{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, true},
		{tls.TLS_RSA_WITH_AES_128_CBC_SHA, true},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, true},
		{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, true},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, false},
		{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, false},
	} {
		t.Run(tls.CipherSuiteName(tt.suite), func(t *testing.T) {
			cfg := client.Clone()
			cfg.MaxVersion, cfg.CipherSuites = tls.VersionTLS12, []uint16{tt.suite}
			mark := srv.errLog.mark()
			conn, err := tls.Dial("tcp", srv.addr, cfg)
			if tt.refused {
				if err == nil {
					conn.Close()
					t.Fatal("accepted")
				}
				srv.errLog.waitFor(t, mark, "no cipher suite supported by both client and server")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
		})
	}
	if _, _, err := get(client, "https://127.0.0.1:"+srv.port+"/"); err != nil {
		t.Fatal(err)
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, "Workers CA"), newCA(t, "Some other CA")
	caFile := writeFile(t, filepath.Join(dir, "workers-ca.pem"), ca.certPEM)
	c, k := ca.issue(t, "worker-7", x509.ExtKeyUsageClientAuth, false)
	goodCert, goodKey := writePair(t, dir, "worker", c, k)
	c, k = other.issue(t, "intruder", x509.ExtKeyUsageClientAuth, false)
	otherCert, otherKey := writePair(t, dir, "intruder", c, k)
	c, k = ca.issue(t, "server-cert-as-client", x509.ExtKeyUsageServerAuth, false)
	serverUsageCert, serverUsageKey := writePair(t, dir, "server-usage", c, k)

	for _, required := range []bool{true, false} {
		name := map[bool]string{true: "required", false: "optional"}[required]
		t.Run(name, func(t *testing.T) {
			srv, pinned, info := selfSignedServer(t, ServerOptions{ClientCAFile: caFile, RequireClientCert: required})
			want := map[bool]tls.ClientAuthType{true: tls.RequireAndVerifyClientCert, false: tls.VerifyClientCertIfGiven}[required]
			if info.ClientAuth != want {
				t.Errorf("ClientAuth = %v, want %v", info.ClientAuth, want)
			}
			url := "https://localhost:" + srv.port + "/"
			client := func(certFile, keyFile string) *tls.Config {
				cfg, err := ClientConfig(ClientOptions{PinFile: info.CertFile, CertFile: certFile, KeyFile: keyFile})
				if err != nil {
					t.Fatal(err)
				}
				return cfg
			}
			for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				t.Run(tls.VersionName(v), func(t *testing.T) {
					limit := func(cfg *tls.Config) *tls.Config { cfg = cfg.Clone(); cfg.MaxVersion = v; return cfg }

					mark := srv.errLog.mark()
					body, _, err := get(limit(pinned), url)
					if required {
						if err == nil {
							t.Fatalf("no client certificate accepted: %s", body)
						}
						srv.errLog.waitFor(t, mark, "client didn't provide a certificate")
					} else if err != nil || !strings.Contains(body, "client=-") {
						t.Fatalf("no client certificate: %q, %v", body, err)
					}

					mark = srv.errLog.mark()
					if body, _, err := get(limit(client(otherCert, otherKey)), url); err == nil {
						t.Fatalf("certificate of another CA accepted: %s", body)
					}
					srv.errLog.waitFor(t, mark, "certificate signed by unknown authority")

					mark = srv.errLog.mark()
					if body, _, err := get(limit(client(serverUsageCert, serverUsageKey)), url); err == nil {
						t.Fatalf("certificate not meant for client authentication accepted: %s", body)
					}
					srv.errLog.waitFor(t, mark, "incompatible key usage")

					body, _, err = get(limit(client(goodCert, goodKey)), url)
					if err != nil {
						t.Fatalf("worker certificate refused: %v\nserver log:\n%s", err, srv.errLog.String())
					}
					if !strings.Contains(body, "client=worker-7") {
						t.Errorf("handler saw %q", body)
					}
				})
			}
		})
	}
}

// Replacing the certificate files changes the certificate served, without
// a restart; a half-replaced pair keeps the previous one in service.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "Site CA")
	caFile := writeFile(t, filepath.Join(dir, "ca.pem"), ca.certPEM)
	cA, kA := ca.issue(t, "first", x509.ExtKeyUsageServerAuth, false)
	certFile, keyFile := writePair(t, dir, "server", cA, kA)
	var logBuf syncBuffer
	cfg, info, err := ServerConfig(ServerOptions{CertFile: certFile, KeyFile: keyFile, Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, cfg)
	client, err := ClientConfig(ClientOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		_, cs, err := get(client, "https://localhost:"+srv.port+"/")
		if err != nil {
			t.Fatalf("request: %v\nserver log:\n%s", err, srv.errLog.String())
		}
		return cs.PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" || info.Names[0] != "localhost" {
		t.Fatalf("served %q, info %+v", got, info)
	}

	// As a careful operator does it: new files renamed into place.
	cB, kB := ca.issue(t, "second", x509.ExtKeyUsageServerAuth, false)
	for _, f := range []struct {
		path string
		data []byte
	}{{keyFile, kB}, {certFile, cB}} {
		tmp := writeFile(t, f.path+".new", f.data)
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	if got := served(); got != "second" {
		t.Fatalf("after renaming new files into place, served %q", got)
	}
	if !strings.Contains(logBuf.String(), "TLS certificate reloaded") {
		t.Errorf("reload not logged:\n%s", logBuf.String())
	}

	// Overwritten in place, the certificate first: until the key follows,
	// the pair does not match and the previous one is served. Modification
	// times are set explicitly, as a filesystem's clock may be coarser than
	// the time between these writes.
	cC, kC := ca.issue(t, "third", x509.ExtKeyUsageServerAuth, false)
	later := time.Now().Add(time.Minute)
	writeFile(t, certFile, cC)
	os.Chtimes(certFile, later, later)
	if got := served(); got != "second" {
		t.Fatalf("with only the certificate replaced, served %q", got)
	}
	if got := served(); got != "second" {
		t.Fatalf("served %q", got)
	}
	if n := strings.Count(logBuf.String(), "cannot be loaded"); n != 1 {
		t.Errorf("a mismatched pair logged %d times, want once:\n%s", n, logBuf.String())
	}
	writeFile(t, keyFile, kC)
	os.Chtimes(keyFile, later, later)
	if got := served(); got != "third" {
		t.Fatalf("after the key followed, served %q", got)
	}

	// Files gone: the certificate in memory is still served.
	os.Remove(certFile)
	if got := served(); got != "third" {
		t.Fatalf("with the certificate file removed, served %q", got)
	}
}

func TestClientConfigPin(t *testing.T) {
	srv, pinned, _ := selfSignedServer(t, ServerOptions{})
	_, _, otherInfo := selfSignedServer(t, ServerOptions{})
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, _, err := get(pinned, "https://"+host+":"+srv.port+"/"); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	// Another server's self-signed certificate is not this one.
	wrong, err := ClientConfig(ClientOptions{PinFile: otherInfo.CertFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(wrong, "https://localhost:"+srv.port+"/"); err == nil {
		t.Error("a certificate other than the pinned one was accepted")
	}
	// Without a pin or CA, the system roots do not know it.
	system, err := ClientConfig(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(system, "https://localhost:"+srv.port+"/"); err == nil {
		t.Error("a self-signed certificate was accepted without a pin")
	}
	// A name the certificate does not carry is refused, pinned or not.
	named := pinned.Clone()
	named.ServerName = "elsewhere.example"
	if _, _, err := get(named, "https://127.0.0.1:"+srv.port+"/"); err == nil || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Errorf("wrong name: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	c, k := ca.issue(t, "s", x509.ExtKeyUsageServerAuth, false)
	certFile, keyFile := writePair(t, dir, "s", c, k)
	empty := writeFile(t, filepath.Join(dir, "empty.pem"), nil)
	garbage := writeFile(t, filepath.Join(dir, "garbage.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	missing := filepath.Join(dir, "missing.pem")

	for _, tt := range []struct {
		name string
		opts ServerOptions
		want []string
	}{
		{"cert without key", ServerOptions{CertFile: certFile}, []string{OptCertFile, OptKeyFile}},
		{"no directory", ServerOptions{}, []string{OptCertFile}},
		{"required without CA", ServerOptions{CertFile: certFile, KeyFile: keyFile, RequireClientCert: true}, []string{OptRequireClientCert, OptClientCAFile}},
		{"CA file empty", ServerOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: empty}, []string{OptClientCAFile, empty}},
		{"CA file garbage", ServerOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: garbage}, []string{garbage}},
		{"CA file missing", ServerOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: missing}, []string{missing}},
		{"cert missing", ServerOptions{CertFile: missing, KeyFile: keyFile}, []string{missing}},
		{"key is a certificate", ServerOptions{CertFile: certFile, KeyFile: certFile}, []string{certFile}},
		{"bad host", ServerOptions{SelfSignedDir: dir, Hosts: []string{"bad host!"}}, []string{OptHosts, "bad host!"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ServerConfig(tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	for _, tt := range []struct {
		name string
		opts ClientOptions
		want string
	}{
		{"CA and pin", ClientOptions{CAFile: certFile, PinFile: certFile}, "not both"},
		{"cert without key", ClientOptions{CertFile: certFile}, "both"},
		{"pin missing", ClientOptions{PinFile: missing}, missing},
		{"CA empty", ClientOptions{CAFile: empty}, empty},
	} {
		t.Run("client "+tt.name, func(t *testing.T) {
			if _, err := ClientConfig(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestConfiguredCertificateExpiring(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	c, k := ca.issue(t, "s", x509.ExtKeyUsageServerAuth, false) // valid 90 days
	certFile, keyFile := writePair(t, dir, "s", c, k)
	_, info, err := ServerConfig(ServerOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil || len(info.Warnings) != 0 {
		t.Fatalf("%v, warnings %q", err, info.Warnings)
	}
	_, info, err = ServerConfig(ServerOptions{CertFile: certFile, KeyFile: keyFile, Now: func() time.Time { return time.Now().Add(80 * 24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "expires on") || !strings.Contains(info.Warnings[0], certFile) {
		t.Errorf("warnings %q", info.Warnings)
	}
	_, info, err = ServerConfig(ServerOptions{CertFile: certFile, KeyFile: keyFile, Now: func() time.Time { return time.Now().Add(91 * 24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "expired on") {
		t.Errorf("warnings %q", info.Warnings)
	}
}

func TestFingerprint(t *testing.T) {
	_, info, err := ServerConfig(ServerOptions{SelfSignedDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Fingerprint) != 32*3-1 || strings.ToUpper(info.Fingerprint) != info.Fingerprint || strings.Count(info.Fingerprint, ":") != 31 {
		t.Errorf("fingerprint %q", info.Fingerprint)
	}
	if !bytes.Contains([]byte(strings.Join(info.Warnings, "\n")), []byte(info.Fingerprint)) {
		t.Errorf("warnings do not name the fingerprint: %q", info.Warnings)
	}
}
