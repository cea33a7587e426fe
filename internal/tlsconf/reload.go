package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// keyPair is a certificate and key read from files and read again when
// either file changes (another inode after a rename, another size or
// modification time after an overwrite). A pair that cannot be loaded, as
// between an operator replacing the certificate and then the key, leaves
// the previous one in service: it is logged once, and tried again when a
// file changes again.
type keyPair struct {
	certFile, keyFile string
	log               *slog.Logger

	mu                sync.Mutex
	cert              *tls.Certificate
	certStat, keyStat os.FileInfo // as last seen, whether or not they loaded
	lastErr           string      // the last failure logged, to log each once
}

// load reads the pair for the first time; any failure is an error.
func (k *keyPair) load() error {
	cs, ks, err := k.stat()
	if err != nil {
		return err
	}
	c, err := k.read()
	if err != nil {
		return err
	}
	k.cert, k.certStat, k.keyStat = c, cs, ks
	return nil
}

func (k *keyPair) current() *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cert
}

// get returns the pair to serve, reading the files again if they changed.
func (k *keyPair) get() *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs, ks, err := k.stat()
	if err != nil {
		k.fail(err)
		return k.cert
	}
	if !changed(k.certStat, cs) && !changed(k.keyStat, ks) {
		return k.cert
	}
	k.certStat, k.keyStat = cs, ks
	c, err := k.read()
	if err != nil {
		k.fail(err)
		return k.cert
	}
	old := Fingerprint(k.cert.Leaf)
	k.cert, k.lastErr = c, ""
	if fp := Fingerprint(c.Leaf); fp != old {
		k.log.Info("TLS certificate reloaded", "cert_file", k.certFile, "fingerprint", fp,
			"not_after", c.Leaf.NotAfter.UTC(), "previous_fingerprint", old)
	}
	return k.cert
}

func (k *keyPair) fail(err error) {
	if msg := err.Error(); msg != k.lastErr {
		k.lastErr = msg
		k.log.Warn("TLS certificate files changed but cannot be loaded: still serving the previous certificate",
			"cert_file", k.certFile, "key_file", k.keyFile, "err", msg)
	}
}

func (k *keyPair) stat() (cs, ks os.FileInfo, err error) {
	if cs, err = os.Stat(k.certFile); err != nil {
		return nil, nil, fmt.Errorf("tlsconf: certificate: %w", err)
	}
	if ks, err = os.Stat(k.keyFile); err != nil {
		return nil, nil, fmt.Errorf("tlsconf: key: %w", err)
	}
	return cs, ks, nil
}

func (k *keyPair) read() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: certificate %s with key %s: %w", k.certFile, k.keyFile, err)
	}
	if c.Leaf == nil { // GODEBUG=x509keypairleaf=0
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsconf: certificate %s: %w", k.certFile, err)
		}
	}
	return &c, nil
}

func changed(was, now os.FileInfo) bool {
	return was == nil || !os.SameFile(was, now) || !was.ModTime().Equal(now.ModTime()) || was.Size() != now.Size()
}
