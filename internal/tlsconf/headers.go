package tlsconf

import "net/http"

// HSTS is the Strict-Transport-Security value: one year, subdomains too.
const HSTS = "max-age=31536000; includeSubDomains"

// CSP is the Content-Security-Policy of browser routes: scripts, styles,
// images and connections from this origin only; no plugins, no <base>, no
// framing by any page, forms posted to this origin only.
const CSP = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"

// SecurityHeaders sets the security headers of API responses before next
// runs (so a handler may still override one, such as Cache-Control on a
// public object): nosniff, no referrer, no framing, no caching of anything
// (patient data), and with hsts, which the caller sets when serving TLS,
// Strict-Transport-Security.
func SecurityHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCommon(w.Header(), hsts)
		next.ServeHTTP(w, r)
	})
}

// BrowserHeaders is SecurityHeaders with the strict CSP, for browser routes.
func BrowserHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		setCommon(h, hsts)
		h.Set("Content-Security-Policy", CSP)
		next.ServeHTTP(w, r)
	})
}

func setCommon(h http.Header, hsts bool) {
	if hsts {
		h.Set("Strict-Transport-Security", HSTS)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}
