package tlsconf

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckListen(t *testing.T) {
	for _, tt := range []struct {
		addr  string
		plain bool
		err   string // "" means allowed
	}{
		{"127.0.0.1:8080", true, ""},
		{"127.8.9.10:8080", true, ""},
		{"[::1]:8080", true, ""},
		{"[::ffff:127.0.0.1]:8080", true, ""},
		{"[::1%lo]:8080", true, ""},
		{"localhost:8080", true, ""},
		{"LocalHost:0", true, ""},
		{":8080", true, OptPlainHTTP},
		{"0.0.0.0:8080", true, OptPlainHTTP},
		{"[::]:8080", true, OptPlainHTTP},
		{"10.0.0.5:8080", true, OptPlainHTTP},
		{"192.168.1.2:80", true, OptPlainHTTP},
		{"128.0.0.1:8080", true, OptPlainHTTP},
		{"[fe80::1]:8080", true, OptPlainHTTP},
		{"myhost:8080", true, OptPlainHTTP},
		{"localhost.example:8080", true, OptPlainHTTP},
		{"127.0.0.1.nip.io:8080", true, OptPlainHTTP},
		{":8443", false, ""},
		{"0.0.0.0:8443", false, ""},
		{"genomics.example:443", false, ""},
		{"127.0.0.1", true, "missing port"},
		{"127.0.0.1", false, "missing port"},
	} {
		err := CheckListen(tt.addr, tt.plain)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("CheckListen(%q, %v) = %v, want allowed", tt.addr, tt.plain, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("CheckListen(%q, %v) = %v, want an error naming %q", tt.addr, tt.plain, err, tt.err)
		case tt.err == OptPlainHTTP && !errors.Is(err, ErrPlainHTTP):
			t.Errorf("CheckListen(%q, %v) = %v, not ErrPlainHTTP", tt.addr, tt.plain, err)
		}
	}
}
