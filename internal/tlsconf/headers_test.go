package tlsconf

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/object" {
			w.Header().Set("Cache-Control", "private, max-age=60") // a handler may override
		}
		w.Write([]byte("ok"))
	})
	common := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
	}
	for _, tt := range []struct {
		name    string
		h       http.Handler
		hsts    bool
		browser bool
	}{
		{"API over TLS", SecurityHeaders(inner, true), true, false},
		{"API plain HTTP", SecurityHeaders(inner, false), false, false},
		{"browser over TLS", BrowserHeaders(inner, true), true, true},
		{"browser plain HTTP", BrowserHeaders(inner, false), false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			h := rec.Result().Header
			for k, v := range common {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if got, want := h.Get("Strict-Transport-Security"), map[bool]string{true: "max-age=31536000; includeSubDomains"}[tt.hsts]; got != want {
				t.Errorf("Strict-Transport-Security = %q, want %q", got, want)
			}
			wantCSP := ""
			if tt.browser {
				wantCSP = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
			}
			if got := h.Get("Content-Security-Policy"); got != wantCSP {
				t.Errorf("Content-Security-Policy = %q, want %q", got, wantCSP)
			}

			rec = httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest("GET", "/object", nil))
			if got := rec.Result().Header.Get("Cache-Control"); got != "private, max-age=60" {
				t.Errorf("handler's Cache-Control replaced: %q", got)
			}
		})
	}
}
