package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Names of the self-signed certificate and key in ServerOptions.SelfSignedDir.
const (
	SelfSignedCertName = "selfsigned-cert.pem"
	SelfSignedKeyName  = "selfsigned-key.pem"
)

// SelfSignedCertPath is where the self-signed certificate of a server with
// this SelfSignedDir is kept: the file a client pins (ClientOptions.PinFile).
func SelfSignedCertPath(dir string) string { return filepath.Join(dir, SelfSignedCertName) }

// ensureSelfSigned reuses the self-signed certificate in dir, or writes a
// new one when there is none, it has expired or expires within
// RenewBefore, it lacks one of the names wanted, or its key and certificate
// do not belong together (a regeneration interrupted between the two
// renames). A file that is there but cannot be parsed is an error naming
// it, and is left as it is.
func ensureSelfSigned(dir string, hosts []string, now time.Time) (Info, error) {
	dnsNames, ips, err := wantedNames(hosts)
	if err != nil {
		return Info{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Info{}, fmt.Errorf("tlsconf: self-signed certificate directory: %w", err)
	}
	info := Info{SelfSigned: true, CertFile: filepath.Join(dir, SelfSignedCertName), KeyFile: filepath.Join(dir, SelfSignedKeyName)}

	key, err := readKey(info.KeyFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Info{}, err
	}
	cert, err := readSelfSignedCert(info.CertFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Info{}, err
	}
	reason := ""
	switch {
	case key == nil && cert == nil:
		// First start.
	case key == nil:
		reason = "its key file was missing"
	case cert == nil:
		reason = "its certificate file was missing"
	case !samePublicKey(cert.PublicKey, key.Public()):
		reason = "its key and certificate did not match (an interrupted regeneration?)"
	case !now.Before(cert.NotAfter):
		reason = "it expired on " + cert.NotAfter.UTC().Format(time.RFC3339)
	case cert.NotAfter.Sub(now) < RenewBefore:
		reason = "it expires on " + cert.NotAfter.UTC().Format(time.RFC3339)
	case now.Before(cert.NotBefore):
		reason = "it is not valid before " + cert.NotBefore.UTC().Format(time.RFC3339)
	default:
		if missing := missingNames(cert, dnsNames, ips); len(missing) > 0 {
			reason = "it lacked the names " + strings.Join(missing, ", ") + " (" + OptHosts + " or the host name changed)"
		}
	}
	if key == nil || cert == nil || reason != "" {
		if err := generate(info.CertFile, info.KeyFile, dnsNames, ips, now); err != nil {
			return Info{}, err
		}
		info.Generated = true
		if reason != "" {
			info.Warnings = append(info.Warnings, "regenerated the self-signed certificate because "+reason+
				": clients that pinned the previous one must pin the new one")
		}
	}
	if fi, err := os.Stat(info.KeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		info.Warnings = append(info.Warnings, fmt.Sprintf("self-signed key %s is readable by others (mode %v): chmod 600 it", info.KeyFile, fi.Mode().Perm()))
	}
	return info, nil
}

// wantedNames are the names a self-signed certificate must carry.
func wantedNames(hosts []string) (dnsNames []string, ips []net.IP, err error) {
	dnsNames = []string{"localhost"}
	ips = []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	add := func(h string) bool {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			return true
		}
		if ip := net.ParseIP(h); ip != nil {
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			return true
		}
		if !validDNSName(h) {
			return false
		}
		if !slices.Contains(dnsNames, h) {
			dnsNames = append(dnsNames, h)
		}
		return true
	}
	if hn, err := os.Hostname(); err == nil {
		add(hn) // a host name no certificate can carry is left out
	}
	for _, h := range hosts {
		if !add(h) {
			return nil, nil, fmt.Errorf("tlsconf: %s: %q is neither a DNS name nor an IP address", OptHosts, h)
		}
	}
	return dnsNames, ips, nil
}

func validDNSName(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func missingNames(c *x509.Certificate, dnsNames []string, ips []net.IP) []string {
	var missing []string
	for _, n := range dnsNames {
		if !slices.ContainsFunc(c.DNSNames, func(have string) bool { return strings.EqualFold(have, n) }) {
			missing = append(missing, n)
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			missing = append(missing, ip.String())
		}
	}
	return missing
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// readKey reads a PEM private key; a missing file is fs.ErrNotExist, one
// that cannot be parsed an error naming it.
func readKey(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("tlsconf: self-signed key: %w", err)
	}
	corrupt := func(why string) error {
		return fmt.Errorf("tlsconf: self-signed key %s cannot be read (%s); it is left as it is: move it away to generate a new certificate, or set %s and %s",
			file, why, OptCertFile, OptKeyFile)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, corrupt("no PEM private key in it")
		}
		if !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			continue
		}
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
			if k, err = x509.ParseECPrivateKey(blk.Bytes); err != nil {
				return nil, corrupt("not a PKCS #8 or EC private key")
			}
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, corrupt(fmt.Sprintf("unusable key type %T", k))
		}
		return s, nil
	}
}

func readSelfSignedCert(file string) (*x509.Certificate, error) {
	if _, err := os.Stat(file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("tlsconf: self-signed certificate: %w", err)
	}
	certs, err := readCerts(file, "self-signed certificate")
	if err != nil {
		return nil, fmt.Errorf("%w; it is left as it is: move it away to generate a new certificate, or set %s and %s", err, OptCertFile, OptKeyFile)
	}
	return certs[0], nil
}

// generate writes a new ECDSA P-256 key and a certificate valid for
// SelfSignedValidity, each file atomically (temporary file, fsync, rename,
// fsync of the directory), the key first: a crash leaves every file whole,
// at worst a new key beside the previous certificate, which the next start
// finds mismatched and replaces.
func generate(certFile, keyFile string, dnsNames []string, ips []net.IP, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tlsconf: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("tlsconf: generate serial: %w", err)
	}
	cn := "localhost"
	if len(dnsNames) > 1 {
		cn = dnsNames[1] // the host name
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"clinomics self-signed"}},
		NotBefore:             now.Add(-time.Hour), // tolerate clients whose clocks are a little behind
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("tlsconf: create self-signed certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tlsconf: encode key: %w", err)
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// writeFileAtomic replaces file with data, mode 0600: readers see the old
// content or the new, never part of it, also after a crash.
func writeFileAtomic(file string, data []byte) (err error) {
	dir := filepath.Dir(file)
	f, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp*")
	if err != nil {
		return fmt.Errorf("tlsconf: write %s: %w", file, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("tlsconf: write %s: %w", file, err)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), file); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
