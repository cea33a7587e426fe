package tlsconf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	certs, err := readCerts(file, "test")
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func TestSelfSignedGenerated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opts := ServerOptions{SelfSignedDir: dir, Hosts: []string{"genomics.hospital.example", "10.1.2.3", "fd00::7", " "}, Now: func() time.Time { return start }}
	_, info, err := ServerConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !info.SelfSigned || !info.Generated || info.CertFile != SelfSignedCertPath(dir) || info.KeyFile != filepath.Join(dir, SelfSignedKeyName) {
		t.Fatalf("info %+v", info)
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "self-signed") || !strings.Contains(info.Warnings[0], info.Fingerprint) {
		t.Errorf("warnings %q", info.Warnings)
	}
	for _, f := range []string{info.CertFile, info.KeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the two files (no temporary ones)", len(entries))
	}

	c := readCert(t, info.CertFile)
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", c.PublicKey)
	}
	if c.IsCA || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("IsCA %v, usage %v", c.IsCA, c.ExtKeyUsage)
	}
	if got := c.NotAfter.Sub(start); got != SelfSignedValidity || !c.NotBefore.Before(start) {
		t.Errorf("valid %s to %s", c.NotBefore, c.NotAfter)
	}
	host, _ := os.Hostname()
	for _, n := range []string{"localhost", strings.ToLower(host), "genomics.hospital.example"} {
		if !slices.Contains(c.DNSNames, n) {
			t.Errorf("DNS names %q lack %q", c.DNSNames, n)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3", "fd00::7"} {
		if !slices.ContainsFunc(c.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("IP addresses %v lack %s", c.IPAddresses, ip)
		}
	}
	if info.Fingerprint != Fingerprint(c) {
		t.Errorf("info fingerprint %s, file %s", info.Fingerprint, Fingerprint(c))
	}

	// Second start: the same certificate.
	keyBefore, _ := os.ReadFile(info.KeyFile)
	_, again, err := ServerConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	keyAfter, _ := os.ReadFile(info.KeyFile)
	if again.Generated || again.Fingerprint != info.Fingerprint || !bytes.Equal(keyBefore, keyAfter) {
		t.Errorf("second start: generated %v, fingerprint %s, was %s", again.Generated, again.Fingerprint, info.Fingerprint)
	}
	if len(again.Warnings) != 1 {
		t.Errorf("second start warnings %q", again.Warnings)
	}
}

func TestSelfSignedRenewal(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		later time.Duration
		hosts []string
		why   string // in the warning; "" means reused
	}{
		{name: "ten months on", later: 300 * 24 * time.Hour},
		{name: "within 30 days of expiry", later: 340 * 24 * time.Hour, why: "it expires on 2027-03-01"},
		{name: "expired", later: 400 * 24 * time.Hour, why: "it expired on 2027-03-01"},
		{name: "clock moved back", later: -48 * time.Hour, why: "not valid before"},
		{name: "a name added", hosts: []string{"new.example"}, why: "lacked the names new.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, first, err := ServerConfig(ServerOptions{SelfSignedDir: dir, Now: func() time.Time { return start }})
			if err != nil {
				t.Fatal(err)
			}
			now := start.Add(tt.later)
			_, info, err := ServerConfig(ServerOptions{SelfSignedDir: dir, Hosts: tt.hosts, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if tt.why == "" {
				if info.Generated || info.Fingerprint != first.Fingerprint {
					t.Errorf("regenerated: %q", info.Warnings)
				}
				return
			}
			if !info.Generated || info.Fingerprint == first.Fingerprint {
				t.Fatal("not regenerated")
			}
			if !strings.Contains(strings.Join(info.Warnings, "\n"), tt.why) {
				t.Errorf("warnings %q lack %q", info.Warnings, tt.why)
			}
			if c := readCert(t, info.CertFile); !c.NotAfter.Equal(now.Add(SelfSignedValidity)) {
				t.Errorf("new certificate valid until %s", c.NotAfter)
			}
		})
	}
}

// A self-signed file that cannot be parsed is an error naming it, and is
// never replaced: it may be the only copy of something the operator needs.
func TestSelfSignedCorrupt(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		data       []byte
	}{
		{"key not PEM", SelfSignedKeyName, []byte("not a key\n")},
		{"key empty", SelfSignedKeyName, nil},
		{"key truncated", SelfSignedKeyName, []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n")},
		{"key of garbage", SelfSignedKeyName, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")})},
		{"certificate not PEM", SelfSignedCertName, []byte("not a certificate\n")},
		{"certificate of garbage", SelfSignedCertName, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := ServerConfig(ServerOptions{SelfSignedDir: dir}); err != nil {
				t.Fatal(err)
			}
			bad := writeFile(t, filepath.Join(dir, tt.file), tt.data)
			_, _, err := ServerConfig(ServerOptions{SelfSignedDir: dir})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), OptCertFile) {
				t.Errorf("error %q does not name %s and the option", err, bad)
			}
			if got, _ := os.ReadFile(bad); !bytes.Equal(got, tt.data) {
				t.Errorf("%s was overwritten", bad)
			}
		})
	}
}

// Files that parse but do not make a pair (a crash between the two renames
// of a regeneration, or one removed) are replaced, with a warning.
func TestSelfSignedIncompletePair(t *testing.T) {
	otherKey := func() []byte {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	for _, tt := range []struct {
		name   string
		damage func(dir string)
		why    string
	}{
		{"another key", func(dir string) { os.WriteFile(filepath.Join(dir, SelfSignedKeyName), otherKey(), 0o600) }, "did not match"},
		{"key removed", func(dir string) { os.Remove(filepath.Join(dir, SelfSignedKeyName)) }, "key file was missing"},
		{"certificate removed", func(dir string) { os.Remove(filepath.Join(dir, SelfSignedCertName)) }, "certificate file was missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, first, err := ServerConfig(ServerOptions{SelfSignedDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(dir)
			_, info, err := ServerConfig(ServerOptions{SelfSignedDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if !info.Generated || info.Fingerprint == first.Fingerprint || !strings.Contains(strings.Join(info.Warnings, "\n"), tt.why) {
				t.Errorf("generated %v, warnings %q", info.Generated, info.Warnings)
			}
		})
	}
}

func TestSelfSignedKeyReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ServerConfig(ServerOptions{SelfSignedDir: dir}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, SelfSignedKeyName), 0o644)
	_, info, err := ServerConfig(ServerOptions{SelfSignedDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(info.Warnings, "\n"), "readable by others") {
		t.Errorf("warnings %q", info.Warnings)
	}
}
