package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fuzzIssuer is the issuer of the fuzz seeds; nothing listens there, the
// keys come from a JWKS served by the test (Options.JWKSURL).
const fuzzIssuer = "http://127.0.0.1:1"

func seeds(f *testing.F, dir string) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/%s: %v", dir, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSpace(string(b)))
	}
}

// fuzzVerifier trusts the test keys, served from a JWKS on loopback.
func fuzzVerifier(f *testing.F) (*Verifier, testKeySet) {
	k := testKeys(f)
	doc := mustJSONF(f, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.rsa.Public(), k.ec.Public()}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	f.Cleanup(srv.Close)
	v, err := New(Options{Issuer: fuzzIssuer, Audiences: []string{"api://clinomics"}, JWKSURL: srv.URL})
	if err != nil {
		f.Fatal(err)
	}
	return v, k
}

func mustJSONF(f *testing.F, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// Verify never panics on any string, and its errors always wrap one of the
// sentinels and never show a long run of the token.
func FuzzVerify(f *testing.F) {
	v, k := fuzzVerifier(f)
	seeds(f, "tokens")
	now := time.Now()
	f.Add(forge(f, k.rsa, goodClaims(fuzzIssuer, "api://clinomics", now), nil))
	f.Add(forge(f, k.ec, goodClaims(fuzzIssuer, "api://clinomics", now), nil))
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil {
			if c.Subject == "" || c.Issuer != fuzzIssuer {
				t.Fatalf("accepted a token without subject or with issuer %q", c.Issuer)
			}
			return
		}
		if !isSentinel(err) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		for _, part := range strings.Split(tok, ".") {
			if len(part) >= 16 && strings.Contains(err.Error(), part) {
				t.Fatalf("error %q shows part of the token", err)
			}
		}
	})
}

// The claim checks, after the signature, never panic on any payload.
func FuzzClaims(f *testing.F) {
	v, _ := fuzzVerifier(f)
	seeds(f, "claims")
	f.Add(string(mustJSONF(f, goodClaims(fuzzIssuer, "api://clinomics", time.Now()))))
	f.Fuzz(func(t *testing.T, payload string) {
		c, err := v.claims([]byte(payload))
		if err == nil && (c.Subject == "" || c.Expiry.IsZero()) {
			t.Fatalf("accepted claims without subject or expiry")
		}
		if err != nil && !isSentinel(err) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
