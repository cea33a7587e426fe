package audit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// SDID is the SD-ID of the structured data element carrying a record's
// fields. 32473 is the private enterprise number reserved for
// documentation (RFC 5612); a site with its own number may change it.
var SDID = "clinomics-audit@32473"

// Syslog sends records as RFC 5424 messages over TLS (RFC 5425): each
// message framed by its length in octets, a TLS 1.2 or newer connection,
// the server's certificate verified against the configured CAs. Every
// field of a record travels in one structured data element; the message
// text repeats actor, action, resource and outcome for people reading a
// plain log. The only patient data is the pseudonymous patient id.
//
// RFC 5425 has no acknowledgements: after each Send, Syslog waits a
// moment for the server to close or reset the connection (a receiver that
// stopped) and reports that as a failure, so the batch is sent again;
// messages a receiver accepted into its socket but lost before it
// processed them cannot be detected this way.
type Syslog struct {
	addr     string
	tls      *tls.Config
	hostname string
	// Timeout bounds the dial, the handshake and each write (10s).
	Timeout time.Duration
	// Settle is how long Send waits for the server to hang up (20ms).
	Settle time.Duration

	conn *tls.Conn
}

// NewSyslog returns a sink for the receiver at addr (host:port). cfg must
// carry the CAs the server's certificate is verified against (RootCAs)
// and, for mutual TLS, the client certificate; TLS versions below 1.2 are
// never offered, and ServerName defaults to addr's host.
func NewSyslog(addr string, cfg *tls.Config) (*Syslog, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("audit: syslog address %q: %w", addr, err)
	}
	c := cfg.Clone()
	if c == nil {
		c = &tls.Config{}
	}
	if c.InsecureSkipVerify {
		return nil, errors.New("audit: syslog: the server's certificate must be verified")
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "-"
	}
	return &Syslog{addr: addr, tls: c, hostname: name, Timeout: 10 * time.Second, Settle: 20 * time.Millisecond}, nil
}

func (s *Syslog) Send(ctx context.Context, evs []catalog.AuditEvent) error {
	if s.conn == nil {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: s.Timeout}, Config: s.tls}
		dctx, cancel := context.WithTimeout(ctx, s.Timeout)
		c, err := d.DialContext(dctx, "tcp", s.addr)
		cancel()
		if err != nil {
			return fmt.Errorf("audit: syslog %s: %w", s.addr, err)
		}
		s.conn = c.(*tls.Conn)
	}
	var buf []byte
	for _, e := range evs {
		msg := FormatRFC5424(e, s.hostname)
		buf = strconv.AppendInt(buf, int64(len(msg)), 10)
		buf = append(append(buf, ' '), msg...)
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.Timeout))
	if _, err := s.conn.Write(buf); err != nil {
		s.Close()
		return fmt.Errorf("audit: syslog %s: %w", s.addr, err)
	}
	// The server never sends anything: a read that times out means the
	// connection is still up; EOF or a reset means it went away.
	s.conn.SetReadDeadline(time.Now().Add(s.Settle))
	var one [1]byte
	_, err := s.conn.Read(one[:])
	s.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		s.Close()
		return fmt.Errorf("audit: syslog %s: connection lost: %w", s.addr, err)
	}
	return nil
}

// Close closes the connection; the next Send opens a new one.
func (s *Syslog) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// Facility 13 is "log audit" (RFC 5424, table 1).
const facilityLogAudit = 13

// severity ranks a record: denials and break-glass access stand out.
func severity(e catalog.AuditEvent) int {
	switch {
	case e.Outcome == Error:
		return 3 // error
	case e.Outcome == Denied, e.BreakGlass != "":
		return 4 // warning
	case e.Outcome == Refused:
		return 5 // notice
	}
	return 6 // informational
}

// FormatRFC5424 renders e as an RFC 5424 message (without framing).
func FormatRFC5424(e catalog.AuditEvent, hostname string) []byte {
	b := fmt.Appendf(nil, "<%d>1 %s %s clinomics - audit [%s", facilityLogAudit*8+severity(e),
		e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), headerField(hostname, 255), SDID)
	for _, p := range []struct{ name, value string }{
		{"seq", strconv.FormatInt(e.Seq, 10)}, {"actor", e.Actor}, {"action", e.Action}, {"resource", e.Resource},
		{"patient", e.Patient}, {"source", e.Source}, {"outcome", e.Outcome}, {"detail", e.Detail},
		{"breakGlass", e.BreakGlass}, {"prev", e.Prev}, {"hash", e.Hash},
	} {
		if p.value != "" || p.name == "outcome" {
			b = append(b, ' ')
			b = append(b, p.name...)
			b = append(b, '=', '"')
			b = appendParamValue(b, p.value)
			b = append(b, '"')
		}
	}
	b = append(b, "] "...)
	b = append(append(append(b, e.Actor...), ' '), e.Action...)
	if e.Resource != "" {
		b = append(append(b, ' '), e.Resource...)
	}
	return append(append(b, ": "...), e.Outcome...)
}

// appendParamValue escapes '"', '\' and ']' as RFC 5424 section 6.3.3 requires.
func appendParamValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\', ']':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// headerField makes s a header field: printable US-ASCII, at most max
// characters, "-" when empty.
func headerField(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	if s == "" {
		return "-"
	}
	return s
}
