package mllp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mshFields returns the fields of a message's MSH segment, numbered as HL7
// numbers them: f[1] is the field separator, f[2] the encoding characters,
// f[10] the message control id. Good enough for tests; the real parser is
// in internal/hl7.
func mshFields(msg []byte) []string {
	seg, _, _ := bytes.Cut(msg, []byte("\r"))
	seg, _, _ = bytes.Cut(seg, []byte("\n"))
	if len(seg) < 4 || !bytes.HasPrefix(seg, []byte("MSH")) {
		return nil
	}
	sep := string(seg[3])
	parts := strings.Split(string(seg[4:]), sep)
	return append([]string{"MSH", sep}, parts...)
}

func field(f []string, n int) string {
	if n < len(f) {
		return f[n]
	}
	return ""
}

// testACK builds an original-mode ACK by hand from the message's MSH: AA
// with MSA-2 the control id, or AR for what has no MSH.
func testACK(msg []byte) []byte {
	f := mshFields(msg)
	if f == nil {
		return []byte("MSH|^~\\&|CLINOMICS|TEST|||20240101000000||ACK|ACK0|P|2.5\rMSA|AR|\r")
	}
	sep := f[1]
	enc := field(f, 2)
	if len(enc) < 1 || strings.ContainsAny(enc, "\x0b\x1c") {
		enc = "^~\\&"
	}
	trigger := ""
	if t := strings.Split(field(f, 9), string(enc[0])); len(t) > 1 {
		trigger = t[1]
	}
	ctl := field(f, 10)
	msh := []string{"MSH", enc, field(f, 5), field(f, 6), field(f, 3), field(f, 4),
		time.Now().Format("20060102150405"), "", "ACK" + string(enc[0]) + trigger, "ACK" + ctl, field(f, 11), field(f, 12)}
	ack := strings.Join(msh, sep) + "\rMSA" + sep + "AA" + sep + ctl + "\r"
	return []byte(strings.Map(func(r rune) rune {
		if r == StartBlock || r == EndBlock {
			return -1
		}
		return r
	}, ack))
}

// ackControlID returns MSA-2 of an ACK.
func ackControlID(ack []byte) string {
	for _, seg := range strings.FieldsFunc(string(ack), func(r rune) bool { return r == '\r' || r == '\n' }) {
		if len(seg) > 4 && strings.HasPrefix(seg, "MSA") {
			parts := strings.Split(seg, seg[3:4])
			if len(parts) > 2 {
				return parts[2]
			}
		}
	}
	return ""
}

// ackCode returns MSA-1 of an ACK.
func ackCode(ack []byte) string {
	for _, seg := range strings.FieldsFunc(string(ack), func(r rune) bool { return r == '\r' || r == '\n' }) {
		if len(seg) > 4 && strings.HasPrefix(seg, "MSA") {
			parts := strings.Split(seg, seg[3:4])
			if len(parts) > 1 {
				return parts[1]
			}
		}
	}
	return ""
}

// syncBuffer is a log destination shared by goroutines.
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

// testLog returns a debug logger whose output is checked when the test
// ends: no message content (no segment) may ever be in it.
func testLog(t *testing.T) (*slog.Logger, *syncBuffer) { return testLogAt(t, slog.LevelDebug) }

// testLogAt is testLog at a level: info where debug would log every message.
func testLogAt(t *testing.T, level slog.Level) (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	t.Cleanup(func() {
		out := buf.String()
		for _, seg := range []string{"MSH|", "PID|", "MSA|", "OBX|", "MSH^"} {
			if strings.Contains(out, seg) {
				t.Errorf("the log holds message content (%q):\n%s", seg, out)
			}
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("server log:\n%s", out)
		}
	})
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level})), buf
}

// serve starts srv on a loopback port and returns its address; the server
// is closed when the test ends.
func serve(t testing.TB, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// ackHandler answers every message with testACK and counts them.
type ackHandler struct{ n atomic.Int64 }

func (h *ackHandler) HandleMLLP(_ context.Context, _ Peer, msg []byte) []byte {
	h.n.Add(1)
	return testACK(msg)
}

// testMessage is an ADT^A01 with a control id, about size bytes long.
func testMessage(ctl string, size int) []byte {
	m := "MSH|^~\\&|EPIC|HOSP|CLINOMICS|LAB|20240501120000||ADT^A01^ADT_A01|" + ctl + "|P|2.5.1\r" +
		"EVN|A01|20240501120000\r" +
		"PID|1||MRN" + ctl + "^^^HOSP^MR||DOE^JANE^Q||19800101|F|||1 MAIN ST^^SPRINGFIELD^IL^62701||555-0100\r" +
		"PV1|1|I|WARD^101^A||||1234^SMITH^JOHN|||MED||||ADM|||||||||||||||||||||||||20240501120000\r"
	if pad := size - len(m) - len("NTE|1||\r"); pad > 0 {
		m += "NTE|1||" + strings.Repeat("x", pad) + "\r"
	}
	return []byte(m)
}

// pki is a test CA with a server certificate for 127.0.0.1 and localhost
// and client certificates, written as PEM files.
type pki struct {
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	next int64
}

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, key: key, next: 1}
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func (p *pki) caFile() string { return filepath.Join(p.dir, "ca.pem") }

// issue writes NAME-cert.pem and NAME-key.pem: a server certificate when
// server, else a client one, with the subject given.
func (p *pki) issue(t testing.TB, name string, subject pkix.Name, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.next++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.next), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, name+"-cert.pem"), filepath.Join(p.dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", pk)
	return certFile, keyFile
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// rawConn is a test peer that writes whatever bytes it likes.
type rawConn struct {
	t testing.TB
	net.Conn
	r *Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, Conn: nc, r: NewReader(nc)}
}

func (c *rawConn) send(b string) {
	c.t.Helper()
	if _, err := c.Write([]byte(b)); err != nil {
		c.t.Fatal(err)
	}
}

// ack reads one frame with a 10 s deadline.
func (c *rawConn) ack() ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c.r.Next()
}

// closed says whether the server closed the connection: the next read ends
// the stream (or resets it) within 10 s.
func (c *rawConn) closed() bool {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 1)
	for {
		_, err := c.Conn.Read(b)
		if err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}
