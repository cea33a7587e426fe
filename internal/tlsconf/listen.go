package tlsconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrPlainHTTP is wrapped by the error of CheckListen for plain HTTP on an
// address that is not loopback.
var ErrPlainHTTP = errors.New("plain HTTP is only served on a loopback address")

// CheckListen says whether the server may listen on addr (HOST:PORT). With
// TLS any address will do. Plain HTTP must be asked for (plainHTTP, the
// option server.tls.plain_http) and is allowed only on a loopback address:
// 127.0.0.0/8, ::1 or the name localhost; never on all interfaces (an empty
// host, 0.0.0.0, ::) nor on any other name, which is not resolved.
func CheckListen(addr string, plainHTTP bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("tlsconf: listen address %q: %w", addr, err)
	}
	if !plainHTTP || IsLoopback(host) {
		return nil
	}
	return fmt.Errorf("tlsconf: %s is set but the listen address %q is not loopback (127.0.0.1, ::1, localhost): %w; "+
		"serve HTTPS there (unset %s) or listen on 127.0.0.1", OptPlainHTTP, addr, ErrPlainHTTP, OptPlainHTTP)
}

// IsLoopback reports whether host names this machine only: localhost or a
// loopback address (IPv4-mapped included).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
