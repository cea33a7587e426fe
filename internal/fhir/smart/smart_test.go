package smart

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	_ "modernc.org/sqlite"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/clinical"
	"github.com/clinomics/clinomics/internal/keys"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests

// newKeys returns signing keys over a fresh catalog and keyring.
func newKeys(t *testing.T, alg string) (*Keys, catalog.Store, *clinical.DB) {
	t.Helper()
	dir := t.TempDir()
	st, err := catalog.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keys.OpenLocal(filepath.Join(dir, "keyring"), "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := clinical.Open(context.Background(), st, kr)
	if err != nil {
		t.Fatal(err)
	}
	return &Keys{Store: st, Sealer: db, Alg: alg}, st, db
}

// servedJWKS fetches the key set through JWKSHandler, as an EHR would.
func servedJWKS(t *testing.T, k *Keys) jose.JSONWebKeySet {
	t.Helper()
	srv := httptest.NewServer(JWKSHandler(k, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("content type %q", ct)
	}
	var raw map[string][]map[string]any
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range raw["keys"] {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS publishes private member %q", private)
			}
		}
	}
	rb, _ := json.Marshal(raw)
	if err := json.Unmarshal(rb, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// verify checks an assertion against the served key set and returns its
// claims.
func verify(t *testing.T, set jose.JSONWebKeySet, s, alg string) (jwt.Claims, string) {
	t.Helper()
	tok, err := jwt.ParseSigned(s, []jose.SignatureAlgorithm{jose.RS384, jose.ES384})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	if h.Algorithm != alg {
		t.Fatalf("alg %q, want %q", h.Algorithm, alg)
	}
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "JWT" {
		t.Errorf("typ %q", typ)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", h.KeyID, len(keys))
	}
	var c jwt.Claims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("signature does not verify with the served key: %v", err)
	}
	return c, h.KeyID
}

func TestAssertion(t *testing.T) {
	for _, alg := range []string{ES384, RS384} {
		t.Run(alg, func(t *testing.T) {
			k, _, _ := newKeys(t, alg)
			ctx := context.Background()
			kid, err := k.KeyID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			set := servedJWKS(t, k)
			n := 1000
			if alg == RS384 {
				n = 50 // RSA signing is slow; uniqueness is checked on ES384
			}
			jtis := map[string]bool{}
			for range n {
				s, err := k.Assertion(ctx, "clinomics-client", "https://ehr.example/token", 0)
				if err != nil {
					t.Fatal(err)
				}
				c, gotKid := verify(t, set, s, alg)
				if gotKid != kid {
					t.Fatalf("kid %q, want %q", gotKid, kid)
				}
				if c.Issuer != "clinomics-client" || c.Subject != "clinomics-client" || len(c.Audience) != 1 || c.Audience[0] != "https://ehr.example/token" {
					t.Fatalf("claims %+v", c)
				}
				if c.Expiry == nil || c.IssuedAt == nil || c.Expiry.Time().Sub(c.IssuedAt.Time()) > 300*time.Second || !c.Expiry.Time().After(time.Now()) {
					t.Fatalf("exp %v iat %v", c.Expiry, c.IssuedAt)
				}
				if c.ID == "" || jtis[c.ID] {
					t.Fatalf("jti %q repeated or empty", c.ID)
				}
				jtis[c.ID] = true
			}
			// A longer lifetime asked for is cut to five minutes.
			s, _ := k.Assertion(ctx, "c", "https://ehr.example/token", time.Hour)
			c, _ := verify(t, set, s, alg)
			if d := c.Expiry.Time().Sub(c.IssuedAt.Time()); d != MaxAssertionLifetime {
				t.Fatalf("lifetime %v", d)
			}
		})
	}
}

func TestKeysPersistAndRotate(t *testing.T) {
	ctx := context.Background()
	k, st, db := newKeys(t, ES384)
	now := time.Now()
	k.now = func() time.Time { return now }
	kid1, err := k.KeyID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another process over the same catalog uses the same key.
	other := &Keys{Store: st, Sealer: db, Alg: ES384}
	if kid, err := other.KeyID(ctx); err != nil || kid != kid1 {
		t.Fatalf("second process: kid %q, %v; want %q", kid, err, kid1)
	}
	kid2, err := k.Rotate(ctx)
	if err != nil || kid2 == kid1 {
		t.Fatalf("rotate: %q, %v", kid2, err)
	}
	set, _ := k.JWKS(ctx)
	if len(set.Keys) != 2 || len(set.Key(kid1)) != 1 || len(set.Key(kid2)) != 1 {
		t.Fatalf("after rotation the JWKS has %d keys", len(set.Keys))
	}
	for _, key := range set.Keys {
		if !key.IsPublic() {
			t.Fatal("JWKS holds a private key")
		}
	}
	s, _ := k.Assertion(ctx, "c", "https://ehr.example/token", 0)
	if _, kid := verify(t, set, s, ES384); kid != kid2 {
		t.Fatalf("signed with %q after rotation, want %q", kid, kid2)
	}
	now = now.Add(DefaultOverlap + time.Minute)
	set, _ = k.JWKS(ctx)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != kid2 {
		t.Fatalf("after the overlap the JWKS has %d keys", len(set.Keys))
	}
	// Changing the algorithm makes a new key of that algorithm.
	rsa := &Keys{Store: st, Sealer: db, Alg: RS384}
	s, err = rsa.Assertion(ctx, "c", "https://ehr.example/token", 0)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, servedJWKS(t, rsa), s, RS384)
}

// tokenEndpoint is a test double of an EHR authorization server: it
// verifies each assertion against our keys and counts tokens issued.
type tokenEndpoint struct {
	t        *testing.T
	keys     *Keys
	srv      *httptest.Server
	issued   atomic.Int64
	answer   func(w http.ResponseWriter) bool // when set and true, it answered instead
	discover bool
	delay    time.Duration
}

func newTokenEndpoint(t *testing.T, k *Keys) *tokenEndpoint {
	te := &tokenEndpoint{t: t, keys: k, discover: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/.well-known/smart-configuration", func(w http.ResponseWriter, r *http.Request) {
		if !te.discover {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token_endpoint": te.srv.URL + "/auth/token",
			"token_endpoint_auth_methods_supported": []string{"private_key_jwt"}})
	})
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_assertion_type") != AssertionType {
			t.Errorf("form %v", r.Form)
		}
		set, err := te.keys.JWKS(context.Background())
		if err != nil {
			t.Error(err)
		}
		c, _ := verify(t, set, r.Form.Get("client_assertion"), ES384)
		if c.Audience[0] != te.srv.URL+"/auth/token" {
			t.Errorf("aud %v", c.Audience)
		}
		if te.answer != nil && te.answer(w) {
			return
		}
		time.Sleep(te.delay)
		n := te.issued.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("token-%d", n), "token_type": "bearer", "expires_in": 300, "scope": r.Form.Get("scope")})
	})
	te.srv = httptest.NewServer(mux)
	t.Cleanup(te.srv.Close)
	return te
}

func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	k, _, _ := newKeys(t, ES384)
	te := newTokenEndpoint(t, k)
	te.delay = 50 * time.Millisecond
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ts := &TokenSource{Keys: k, ClientID: "c", Scopes: []string{"system/DiagnosticReport.write"}, FHIRBase: te.srv.URL + "/fhir", now: clock}

	var wg sync.WaitGroup
	got := make([]string, 64)
	for i := range got {
		wg.Go(func() {
			tok, err := ts.Token(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		})
	}
	wg.Wait()
	if n := te.issued.Load(); n != 1 {
		t.Fatalf("%d tokens issued for 64 concurrent callers, want 1", n)
	}
	for _, g := range got {
		if g != "token-1" {
			t.Fatalf("token %q", g)
		}
	}
	if tok, _ := ts.Token(ctx); tok != "token-1" || te.issued.Load() != 1 {
		t.Fatalf("cached token not reused: %q", tok)
	}
	// Shortly before expiry (300 s, renewed 30 s early) a new one is fetched.
	mu.Lock()
	now = now.Add(271 * time.Second)
	mu.Unlock()
	if tok, _ := ts.Token(ctx); tok != "token-2" {
		t.Fatalf("after expiry: %q, want token-2", tok)
	}
	// A 401 from the FHIR server drops the token.
	ts.Invalidate("token-1") // an old token: nothing happens
	if tok, _ := ts.Token(ctx); tok != "token-2" {
		t.Fatalf("invalidating an old token dropped the current one: %q", tok)
	}
	ts.Invalidate("token-2")
	if tok, _ := ts.Token(ctx); tok != "token-3" {
		t.Fatalf("after invalidate: %q, want token-3", tok)
	}
}

func TestTokenURLFallback(t *testing.T) {
	k, _, _ := newKeys(t, ES384)
	te := newTokenEndpoint(t, k)
	te.discover = false
	ts := &TokenSource{Keys: k, ClientID: "c", FHIRBase: te.srv.URL + "/fhir", TokenURL: te.srv.URL + "/auth/token"}
	if tok, err := ts.Token(context.Background()); err != nil || tok != "token-1" {
		t.Fatalf("fallback: %q, %v", tok, err)
	}
	ts = &TokenSource{Keys: k, ClientID: "c", FHIRBase: te.srv.URL + "/fhir"}
	if _, err := ts.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "fhir.ehr.token_url") {
		t.Fatalf("no endpoint: %v", err)
	}
}

func TestTokenErrors(t *testing.T) {
	k, _, _ := newKeys(t, ES384)
	te := newTokenEndpoint(t, k)
	cases := []struct {
		name, code, desc string
		date             time.Time
		want             []string
		skew             bool
	}{
		{"iat in the future", "invalid_client", "JWT iat is in the future", time.Time{}, []string{"clock skew", "NTP", "our clock reads"}, true},
		{"expired", "invalid_client", "assertion has expired", time.Time{}, []string{"clock skew", "NTP"}, true},
		{"clocks apart", "invalid_client", "bad assertion", time.Now().Add(-10 * time.Minute), []string{"clock skew", "apart", "NTP"}, true},
		{"expected audience is not skew", "invalid_client", "expected audience mismatch", time.Time{}, []string{"JWKS"}, false},
		{"scope", "invalid_scope", "scope system/Patient.write not allowed", time.Time{}, []string{"scope system/Patient.write", "fhir.ehr.scopes"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			te.answer = func(w http.ResponseWriter) bool {
				if !c.date.IsZero() {
					w.Header().Set("Date", c.date.UTC().Format(http.TimeFormat))
				}
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"error": c.code, "error_description": c.desc})
				return true
			}
			ts := &TokenSource{Keys: k, ClientID: "c", Scopes: []string{"system/DiagnosticReport.write", "system/Patient.write"}, FHIRBase: te.srv.URL + "/fhir"}
			_, err := ts.Token(context.Background())
			te, ok := err.(*TokenError)
			if !ok {
				t.Fatalf("error %T %v", err, err)
			}
			if te.ClockSkew() != c.skew {
				t.Errorf("ClockSkew() = %v", te.ClockSkew())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Error("the error holds a JWT")
			}
		})
	}
	te.answer = nil
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{"https://ehr.example/t": true, "http://127.0.0.1:8080/t": true, "http://localhost/t": true,
		"http://ehr.example/t": false, "ftp://x/y": false, "/token": false} {
		if err := CheckURL(u); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
}
