package audit_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/catalog"
)

func TestFormatRFC5424(t *testing.T) {
	e := catalog.AuditEvent{Seq: 42, Time: time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC), Actor: "user:3f2a", Action: "object.read",
		Resource: `results/S1/S1.vcf.gz`, Patient: "P123", Source: "10.0.0.7", Outcome: audit.OK,
		Detail: `quote " backslash \ bracket ]`, BreakGlass: "code blue", Prev: "aa", Hash: "bb"}
	got := string(audit.FormatRFC5424(e, "host one"))
	want := `<108>1 2026-01-02T03:04:05.678901Z hostone clinomics - audit [clinomics-audit@32473 seq="42" actor="user:3f2a" action="object.read" ` +
		`resource="results/S1/S1.vcf.gz" patient="P123" source="10.0.0.7" outcome="ok" detail="quote \" backslash \\ bracket \]" ` +
		`breakGlass="code blue" prev="aa" hash="bb"] user:3f2a object.read results/S1/S1.vcf.gz: ok`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	e = catalog.AuditEvent{Seq: 1, Time: e.Time, Actor: "token:t1", Action: "runs.submit", Outcome: audit.Error, Hash: "cc"}
	want = `<107>1 2026-01-02T03:04:05.678901Z - clinomics - audit [clinomics-audit@32473 seq="1" actor="token:t1" action="runs.submit" outcome="error" hash="cc"] token:t1 runs.submit: error`
	if got := string(audit.FormatRFC5424(e, "")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// testCA is a throwaway CA and a server certificate for 127.0.0.1.
type testCA struct {
	caPEM, certPEM, keyPEM []byte
	pool                   *x509.CertPool
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clinomics test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	must(t, err)
	ca, err = x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testCA{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pool:    pool,
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// rsyslog is a real rsyslogd (Debian rsyslog + rsyslog-gnutls) receiving
// RFC 5425 syslog over TLS on a port of its own and writing what it parsed
// of each clinomics message to a file, one line each:
// facility|severity|hostname|app-name|procid|msgid|timestamp|structured-data|msg
type rsyslog struct {
	bin, dir, port, out string
	cmd                 *exec.Cmd
}

const rsyslogConf = `global(workDirectory="{{dir}}/work" maxMessageSize="64k"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile="{{dir}}/ca.pem"
  defaultNetstreamDriverCertFile="{{dir}}/server.pem"
  defaultNetstreamDriverKeyFile="{{dir}}/server.key")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="{{port}}")
template(name="fields" type="list") {
  property(name="syslogfacility") constant(value="|")
  property(name="syslogseverity") constant(value="|")
  property(name="hostname") constant(value="|")
  property(name="app-name") constant(value="|")
  property(name="procid") constant(value="|")
  property(name="msgid") constant(value="|")
  property(name="timereported" dateFormat="rfc3339") constant(value="|")
  property(name="structured-data") constant(value="|")
  property(name="msg") constant(value="\n")
}
if $app-name == "clinomics" then {
  action(type="omfile" file="{{dir}}/received.log" template="fields")
  stop
}
action(type="omfile" file="{{dir}}/rsyslogd.log")
`

func newRsyslog(t *testing.T, ca testCA) *rsyslog {
	t.Helper()
	bin := os.Getenv("CLINOMICS_TEST_RSYSLOGD")
	if bin == "" {
		t.Skip("CLINOMICS_TEST_RSYSLOGD not set: no rsyslogd with the gtls driver (scripts/test installs rsyslog and rsyslog-gnutls)")
	}
	dir := t.TempDir()
	r := &rsyslog{bin: bin, dir: dir, port: freePort(t), out: filepath.Join(dir, "received.log")}
	must(t, os.MkdirAll(filepath.Join(dir, "work"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "ca.pem"), ca.caPEM, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "server.pem"), ca.certPEM, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "server.key"), ca.keyPEM, 0o600))
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", r.port).Replace(rsyslogConf)
	must(t, os.WriteFile(filepath.Join(dir, "rsyslog.conf"), []byte(conf), 0o600))
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

func (r *rsyslog) addr() string { return "127.0.0.1:" + r.port }

func (r *rsyslog) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(r.bin, "-n", "-f", filepath.Join(r.dir, "rsyslog.conf"), "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	log, err := os.OpenFile(filepath.Join(r.dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	must(t, err)
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	must(t, cmd.Start())
	r.cmd = cmd
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// A TLS handshake, not just a TCP connect: the driver is up.
		c, err := tls.Dial("tcp", r.addr(), &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(r.dir, "stderr.log"))
			t.Fatalf("rsyslogd exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(r.dir, "stderr.log"))
			t.Fatalf("rsyslogd not listening on %s after 20s: %s", r.addr(), b)
		}
	}
}

// stop stops rsyslogd (SIGTERM: it writes out what it received first).
func (r *rsyslog) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
	}
	r.cmd = nil
}

var sdParam = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// received parses what rsyslog wrote: the fields of each message by seq,
// and the seqs in arrival order.
func (r *rsyslog) received(t *testing.T) (map[int64]map[string]string, []int64) {
	t.Helper()
	f, err := os.Open(r.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	must(t, err)
	defer f.Close()
	byseq := map[int64]map[string]string{}
	var order []int64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 9)
		if len(parts) != 9 {
			t.Fatalf("rsyslog line %q", sc.Text())
		}
		m := map[string]string{"facility": parts[0], "severity": parts[1], "hostname": parts[2], "app": parts[3], "procid": parts[4],
			"msgid": parts[5], "timestamp": parts[6], "sd": parts[7], "msg": parts[8]}
		for _, p := range sdParam.FindAllStringSubmatch(parts[7], -1) {
			m[p[1]] = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\]`, `]`).Replace(p[2])
		}
		seq, err := strconv.ParseInt(m["seq"], 10, 64)
		if err != nil {
			t.Fatalf("rsyslog line without a seq: %q", sc.Text())
		}
		byseq[seq] = m
		order = append(order, seq)
	}
	must(t, sc.Err())
	return byseq, order
}

// waitReceived waits until rsyslog has written record last.
func (r *rsyslog) waitReceived(t *testing.T, last int64) map[int64]map[string]string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, _ := r.received(t)
		if _, ok := got[last]; ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog has %d records, not record %d, after 20s", len(got), last)
		}
	}
}

func TestSyslogToRsyslog(t *testing.T) {
	ca := newTestCA(t)
	rs := newRsyslog(t, ca)
	s, _, _ := trail(t) // 33 records
	// One record with everything that needs escaping.
	tricky, err := s.AppendAudit(ctx, catalog.AuditEvent{Actor: "user:ü", Action: "object.read", Resource: `a "b" [c] \d`, Patient: "P9",
		Source: "2001:db8::1", Outcome: audit.Denied, Detail: "no grant for site ]x[", BreakGlass: "trauma bay 2"})
	must(t, err)
	sink, err := audit.NewSyslog(rs.addr(), &tls.Config{RootCAs: ca.pool})
	must(t, err)
	defer sink.Close()
	x := &audit.Exporter{Store: s, Sink: sink, Cursor: "syslog:" + rs.addr(), Batch: 10}
	n, err := x.Run(ctx)
	must(t, err)
	if n != 34 {
		t.Fatalf("exported %d, want 34", n)
	}
	got := rs.waitReceived(t, 34)
	evs, err := s.ListAudit(ctx, 0, 0)
	must(t, err)
	host, _ := os.Hostname()
	for _, e := range evs {
		m := got[e.Seq]
		if m == nil {
			t.Fatalf("record %d not received", e.Seq)
		}
		wantSev := map[string]string{audit.OK: "6", audit.Denied: "4"}[e.Outcome]
		if e.BreakGlass != "" {
			wantSev = "4"
		}
		ts, err := time.Parse(time.RFC3339Nano, m["timestamp"])
		if err != nil || !ts.Equal(e.Time.Truncate(time.Microsecond)) {
			t.Errorf("record %d: timestamp %q, want %v (%v)", e.Seq, m["timestamp"], e.Time, err)
		}
		for k, want := range map[string]string{"facility": "13", "severity": wantSev, "hostname": host, "app": "clinomics", "msgid": "audit",
			"actor": e.Actor, "action": e.Action, "resource": e.Resource, "patient": e.Patient, "source": e.Source, "outcome": e.Outcome,
			"detail": e.Detail, "breakGlass": e.BreakGlass, "prev": e.Prev, "hash": e.Hash} {
			if m[k] != want {
				t.Errorf("record %d: rsyslog parsed %s = %q, want %q", e.Seq, k, m[k], want)
			}
		}
	}
	if m := got[tricky.Seq]; !strings.Contains(m["msg"], `user:ü object.read a "b" [c] \d: denied`) {
		t.Errorf("message text %q", m["msg"])
	}
	if c, _ := s.GetAuditCursor(ctx, x.Cursor); c != 34 {
		t.Errorf("cursor %d, want 34", c)
	}

	// A server whose certificate is not from the configured CA is refused,
	// and nothing moves.
	other := newTestCA(t)
	bad, err := audit.NewSyslog(rs.addr(), &tls.Config{RootCAs: other.pool})
	must(t, err)
	_, err = (&audit.Exporter{Store: s, Sink: bad, Cursor: "syslog:untrusted", Retries: 1, Backoff: time.Millisecond}).Run(ctx)
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Errorf("export to a server from another CA: %v, want an unknown-authority error", err)
	}
	if c, _ := s.GetAuditCursor(ctx, "syslog:untrusted"); c != 0 {
		t.Errorf("cursor moved to %d on a refused server", c)
	}
}

func TestSyslogOutageResumes(t *testing.T) {
	ca := newTestCA(t)
	rs := newRsyslog(t, ca)
	s, _, _ := trail(t) // 33 records
	sink, err := audit.NewSyslog(rs.addr(), &tls.Config{RootCAs: ca.pool})
	must(t, err)
	defer sink.Close()
	cursor := "syslog:" + rs.addr()
	x := &audit.Exporter{Store: s, Sink: sink, Cursor: cursor, Batch: 5, Follow: true, Poll: 10 * time.Millisecond, Backoff: 20 * time.Millisecond}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := x.Run(fctx); done <- err }()
	waitCursor := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if c, _ := s.GetAuditCursor(ctx, cursor); c == want {
				return
			}
			if time.Now().After(deadline) {
				c, _ := s.GetAuditCursor(ctx, cursor)
				t.Fatalf("cursor at %d, want %d", c, want)
			}
		}
	}
	waitCursor(33)
	rs.waitReceived(t, 33)

	// The receiver stops; new records arrive; the export keeps trying and
	// its cursor stays where delivery stopped.
	rs.stop()
	for i := range 12 {
		_, err := s.AppendAudit(ctx, catalog.AuditEvent{Actor: "service:hl7", Action: "hl7.oru", Resource: fmt.Sprint("msg/", i), Patient: "P2", Outcome: audit.OK})
		must(t, err)
	}
	time.Sleep(300 * time.Millisecond) // several attempts into the outage
	if c, _ := s.GetAuditCursor(ctx, cursor); c != 33 {
		t.Fatalf("cursor moved to %d while the receiver was down", c)
	}
	rs.start(t)
	waitCursor(45)
	got := rs.waitReceived(t, 45)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("follow ended with %v", err)
	}
	for seq := int64(1); seq <= 45; seq++ {
		if got[seq] == nil {
			t.Errorf("record %d never reached the receiver", seq)
		}
	}
}

func TestSyslogRefusesOldTLS(t *testing.T) {
	ca := newTestCA(t)
	cert, err := tls.X509KeyPair(ca.certPEM, ca.keyPEM)
	must(t, err)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	must(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	sink, err := audit.NewSyslog(l.Addr().String(), &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS10})
	must(t, err)
	err = sink.Send(ctx, []catalog.AuditEvent{{Seq: 1, Actor: "a", Action: "b", Outcome: audit.OK}})
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 server: %v, want a protocol version error", err)
	}
	if _, err := audit.NewSyslog(l.Addr().String(), &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("a sink that does not verify the server was accepted")
	}
}
