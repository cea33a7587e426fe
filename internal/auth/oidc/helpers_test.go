package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testKeySet holds signing keys made by the tests: published ones that a
// private provider signs with and serves, and one it never knew.
type testKeySet struct {
	rsa, ec, stranger jose.JSONWebKey
	jwks              []byte // {"keys": [rsa, ec]} with private parts, for the provider
}

var (
	keysOnce sync.Once
	keys     testKeySet
)

func testKeys(t testing.TB) testKeySet {
	t.Helper()
	keysOnce.Do(func() {
		r, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		keys.rsa = jose.JSONWebKey{Key: r, KeyID: "test-rsa-1", Algorithm: "RS256", Use: "sig"}
		keys.ec = jose.JSONWebKey{Key: e, KeyID: "test-ec-1", Algorithm: "ES256", Use: "sig"}
		keys.stranger = jose.JSONWebKey{Key: s, KeyID: "test-stranger", Algorithm: "RS256", Use: "sig"}
		keys.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{keys.rsa, keys.ec}})
		if err != nil {
			t.Fatal(err)
		}
	})
	if keys.jwks == nil {
		t.Fatal("test keys could not be made")
	}
	return keys
}

// forge signs claims with key, setting kid (unless the header says
// otherwise) and the extra header fields.
func forge(t testing.TB, key jose.JSONWebKey, claims map[string]any, header map[jose.HeaderKey]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	if _, ok := header["kid"]; !ok {
		opts = opts.WithHeader("kid", key.KeyID)
	}
	for k, v := range header {
		opts = opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key.Key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken assembles a token from a header and payload as given, with sig
// as its third part.
func rawToken(header, payload any, sig string) string {
	enc := func(v any) string {
		var b []byte
		switch v := v.(type) {
		case string:
			b = []byte(v)
		default:
			b, _ = json.Marshal(v)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(payload) + "." + sig
}

// goodClaims are the claims of a token the verifier accepts.
func goodClaims(issuer, audience string, now time.Time) map[string]any {
	return map[string]any{
		"iss":       issuer,
		"aud":       audience,
		"sub":       "user-123",
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"roles":     []string{"clinician"},
		"groups":    []string{"g1", "g2"},
		"scp":       "access_as_user other",
		"azp":       "clinomics-cli",
		"name":      "Test Person",
		"email":     "person@clinomics.test",
		"jti":       "token-1",
		"client_id": "clinomics-cli",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingTransport counts the requests that go through it, by path.
type countingTransport struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// waitIdle waits until no key refresh is running.
func waitIdle(t testing.TB, v *Verifier) {
	t.Helper()
	for range 500 {
		v.mu.Lock()
		idle := v.inflight == nil
		v.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("key refresh still running after 5 s")
}

// secretsOf returns the parts of a token that an error must not show.
func secretsOf(tok string) []string {
	parts := strings.Split(tok, ".")
	var out []string
	for _, p := range parts {
		if len(p) >= 8 {
			out = append(out, p)
		}
	}
	return out
}

// keyAge is how long ago the keys were last fetched successfully; -1 if never.
func (v *Verifier) keyAge() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fetched.IsZero() {
		return -1
	}
	return v.now().Sub(v.fetched)
}
