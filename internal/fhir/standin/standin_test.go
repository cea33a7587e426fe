package standin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// client is a backend client with an RSA and an EC key, its JWKS served.
type client struct {
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	jwks *httptest.Server
}

func newClient(t *testing.T) *client {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: rk.Public(), KeyID: "rsa1", Algorithm: "RS384", Use: "sig"},
		{Key: ek.Public(), KeyID: "ec1", Algorithm: "ES384", Use: "sig"},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(set) }))
	t.Cleanup(srv.Close)
	return &client{rsa: rk, ec: ek, jwks: srv}
}

func (c *client) assertion(t *testing.T, alg jose.SignatureAlgorithm, claims jwt.Claims) string {
	var key jose.SigningKey
	if alg == jose.ES384 {
		key = jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: c.ec, KeyID: "ec1"}}
	} else {
		key = jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: c.rsa, KeyID: "rsa1"}}
	}
	sig, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func post(t *testing.T, u string, form url.Values) (int, map[string]any) {
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func get(t *testing.T, u, token string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestTokenEndpointAndBearer(t *testing.T) {
	c := newClient(t)
	clk := &clock{t: time.Now()}
	si, err := New(Config{DataDir: t.TempDir(), ClientID: "lab", JWKSURL: c.jwks.URL, TokenLifetime: time.Minute, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer si.Close()
	srv := httptest.NewServer(si.Handler(true))
	defer srv.Close()
	tokenURL := srv.URL + "/token"
	n := 0
	claims := func(mod func(*jwt.Claims)) jwt.Claims {
		n++
		now := clk.now()
		c := jwt.Claims{Issuer: "lab", Subject: "lab", Audience: jwt.Audience{tokenURL}, ID: "jti-" + string(rune('a'+n)),
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute))}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	form := func(assertion, scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType},
			"client_assertion": {assertion}, "scope": {scope}}
	}
	replayed := c.assertion(t, jose.RS384, claims(nil))
	for _, tc := range []struct {
		name      string
		assertion string
		scope     string
		want      string // "" ok, else in error_description or error
	}{
		{"RS384", replayed, "system/*.read", ""},
		{"ES384", c.assertion(t, jose.ES384, claims(nil)), "system/DiagnosticReport.write system/*.read", ""},
		{"replayed jti", replayed, "system/*.read", "jti was already used"},
		{"wrong alg", c.assertion(t, jose.RS256, claims(nil)), "system/*.read", "RS384 or ES384"},
		{"wrong aud", c.assertion(t, jose.RS384, claims(func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://elsewhere/token"} })), "system/*.read", "aud"},
		{"wrong iss", c.assertion(t, jose.RS384, claims(func(c *jwt.Claims) { c.Issuer = "other" })), "system/*.read", "iss and sub"},
		{"expired", c.assertion(t, jose.RS384, claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(clk.now().Add(-time.Second)) })), "system/*.read", "expired"},
		{"exp too far", c.assertion(t, jose.RS384, claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(clk.now().Add(time.Hour)) })), "system/*.read", "no more than 5 minutes"},
		{"iat in the future", c.assertion(t, jose.RS384, claims(func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(clk.now().Add(3 * time.Minute)) })), "system/*.read", "clock skew"},
		{"no jti", c.assertion(t, jose.RS384, claims(func(c *jwt.Claims) { c.ID = "" })), "system/*.read", "jti is required"},
		{"no system scope", c.assertion(t, jose.RS384, claims(nil)), "patient/*.read", "invalid_scope"},
	} {
		code, m := post(t, tokenURL, form(tc.assertion, tc.scope))
		got := strings.Join([]string{str(m["error"]), str(m["error_description"])}, " ")
		switch {
		case tc.want == "" && (code != 200 || m["access_token"] == "" || m["token_type"] != "bearer" || m["scope"] != tc.scope):
			t.Errorf("%s: %d %v", tc.name, code, m)
		case tc.want != "" && (code != 400 || !strings.Contains(got, tc.want)):
			t.Errorf("%s: %d %q, want 400 with %q", tc.name, code, got, tc.want)
		}
	}
	_, m := post(t, tokenURL, form(c.assertion(t, jose.ES384, claims(nil)), "system/*.read"))
	tok := m["access_token"].(string)
	if m["expires_in"] != float64(60) {
		t.Errorf("expires_in %v", m["expires_in"])
	}
	if resp, _ := get(t, srv.URL+"/fhir/Patient", ""); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if resp, body := get(t, srv.URL+"/fhir/Patient", tok); resp.StatusCode != 200 {
		t.Errorf("with token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/fhir/metadata", ""); resp.StatusCode != 200 {
		t.Errorf("metadata without token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/fhir/Patient", strings.NewReader(`{"resourceType":"Patient"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 403 {
		t.Errorf("write with a read scope: %d", resp.StatusCode)
	}
	clk.add(61 * time.Second)
	resp, _ := get(t, srv.URL+"/fhir/Patient", tok)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func str(v any) string { s, _ := v.(string); return s }

func TestFaults(t *testing.T) {
	si, err := New(Config{DataDir: t.TempDir(), FailNext: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer si.Close()
	srv := httptest.NewServer(si.Handler(true))
	defer srv.Close()
	var codes []int
	for range 3 {
		resp, _ := get(t, srv.URL+"/fhir/Patient", "")
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	if codes[0] != 503 || codes[1] != 503 || codes[2] != 200 {
		t.Errorf("codes %v", codes)
	}
	if resp, err := http.Post(srv.URL+"/_faults?fail=1&reject=0", "", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("control: %v", err)
	}
	if resp, _ := get(t, srv.URL+"/fhir/Patient", ""); resp.StatusCode != 503 {
		t.Errorf("after control: %d", resp.StatusCode)
	}
}

// TestJWKSOverTLS: a JWKS served under a certificate the system does not
// trust (the platform's self-signed one) is fetched only with a
// JWKSClient trusting it (`fhir standin --jwks-ca`).
func TestJWKSOverTLS(t *testing.T) {
	c := newClient(t)
	c.jwks.Close()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: c.ec.Public(), KeyID: "ec1", Algorithm: "ES384", Use: "sig"}}}
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(set) }))
	defer jwks.Close()
	for _, tc := range []struct {
		name   string
		client *http.Client
		want   int
	}{{"system roots", nil, 400}, {"trusting the certificate", jwks.Client(), 200}} {
		si, err := New(Config{DataDir: t.TempDir(), ClientID: "lab", JWKSURL: jwks.URL, JWKSClient: tc.client})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(si.Handler(false))
		now := time.Now()
		a := c.assertion(t, jose.ES384, jwt.Claims{Issuer: "lab", Subject: "lab", Audience: jwt.Audience{srv.URL + "/token"},
			ID: tc.name, IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))})
		code, m := post(t, srv.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType},
			"client_assertion": {a}, "scope": {"system/*.read"}})
		if code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, code, m, tc.want)
		}
		srv.Close()
		si.Close()
	}
}
