package oidc

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clinomics/clinomics/internal/auth/oidc/oidctest"
)

var sentinels = []error{ErrMissing, ErrMalformed, ErrAlgorithm, ErrSignature, ErrUnknownKey,
	ErrIdPUnavailable, ErrIssuer, ErrAudience, ErrExpired, ErrNotYetValid}

// Tokens the provider itself issues, by client credentials and by the
// device flow, verify and say who they are for.
func TestVerifyProviderTokens(t *testing.T) {
	p := oidctest.Shared(t)
	v, err := New(Options{Issuer: p.Issuer, Audiences: []string{p.Audience}, TokenTypes: []string{"at+jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		token     func() string
		alg       string
		subject   string
		clientID  string
		roles     []string
		groups    []string
		scopes    []string
		appOnly   bool
		name_     string
		preferred string
	}{
		{name: "service RS256", token: func() string { return p.ServiceToken(t, oidctest.ServiceClient) },
			alg: "RS256", subject: oidctest.ServiceClient, clientID: oidctest.ServiceClient, roles: []string{"service"}, appOnly: true},
		{name: "service ES256", token: func() string { return p.ServiceToken(t, oidctest.ServiceClientES) },
			alg: "ES256", subject: oidctest.ServiceClientES, clientID: oidctest.ServiceClientES, roles: []string{"service"}, appOnly: true},
		{name: "service without roles", token: func() string { return p.ServiceToken(t, oidctest.NoRoleClient) },
			alg: "RS256", subject: oidctest.NoRoleClient, clientID: oidctest.NoRoleClient, appOnly: true},
		{name: "user by device flow", token: func() string { return p.UserToken(t, "clinician") },
			alg: "RS256", subject: "clinician", clientID: oidctest.CLIClient, roles: []string{"clinician"},
			groups: []string{"clinomics-clinical"}, scopes: []string{oidctest.APIScope},
			name_: "Test Clinician", preferred: "clinician@clinomics.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tc.token())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Issuer != p.Issuer || !slices.Contains(c.Audience, p.Audience) {
				t.Errorf("iss %q aud %q", c.Issuer, c.Audience)
			}
			if c.Algorithm != tc.alg || c.KeyID == "" {
				t.Errorf("alg %q kid %q, want alg %s", c.Algorithm, c.KeyID, tc.alg)
			}
			if c.Subject != tc.subject || c.ClientID != tc.clientID || c.AppOnly != tc.appOnly {
				t.Errorf("subject %q client %q app-only %v, want %q %q %v", c.Subject, c.ClientID, c.AppOnly, tc.subject, tc.clientID, tc.appOnly)
			}
			if !slices.Equal(c.Roles, tc.roles) || !slices.Equal(c.Groups, tc.groups) || !slices.Equal(c.Scopes, tc.scopes) {
				t.Errorf("roles %q groups %q scopes %q, want %q %q %q", c.Roles, c.Groups, c.Scopes, tc.roles, tc.groups, tc.scopes)
			}
			if c.Name != tc.name_ || c.PreferredUsername != tc.preferred {
				t.Errorf("name %q preferred %q", c.Name, c.PreferredUsername)
			}
			if c.TokenID == "" || c.IssuedAt.IsZero() || time.Until(c.Expiry) <= 0 {
				t.Errorf("jti %q iat %v exp %v", c.TokenID, c.IssuedAt, c.Expiry)
			}
		})
	}
}

// Every bad token is refused with the right sentinel, and the error shows
// no part of the token.
func TestVerifyRejects(t *testing.T) {
	k := testKeys(t)
	p := oidctest.Start(t, k.jwks)
	v, err := New(Options{Issuer: p.Issuer, Audiences: []string{p.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := goodClaims(p.Issuer, p.Audience, now)
	valid := forge(t, k.rsa, good, nil)
	parts := strings.Split(valid, ".")

	pub, err := x509.MarshalPKIXPublicKey(k.rsa.Public().Key)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	hmacWithPublicKey := forge(t, jose.JSONWebKey{Key: pubPEM, KeyID: k.rsa.KeyID, Algorithm: "HS256"}, good, nil)

	tampered := with(good, "roles", []string{"administrator"})
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, tampered)) + "." + parts[2]
	sig := []byte(parts[2])
	mid := len(sig) / 2
	sig[mid] = map[bool]byte{true: 'B', false: 'A'}[sig[mid] == 'A']
	tamperedSig := parts[0] + "." + parts[1] + "." + string(sig)
	ecWithRSAKid := forge(t, k.ec, good, map[jose.HeaderKey]any{"kid": k.rsa.KeyID})

	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"valid RS256", valid, nil},
		{"valid ES256", forge(t, k.ec, good, nil), nil},
		{"expired within skew", forge(t, k.rsa, with(good, "exp", now.Add(-30*time.Second).Unix()), nil), nil},
		{"nbf within skew", forge(t, k.rsa, with(good, "nbf", now.Add(30*time.Second).Unix()), nil), nil},
		{"audience in a list", forge(t, k.rsa, with(good, "aud", []string{"api://other", p.Audience}), nil), nil},
		{"no nbf or iat", forge(t, k.rsa, with(good, "nbf", nil, "iat", nil), nil), nil},

		{"missing", "", ErrMissing},
		{"one part", "abc", ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"five parts (JWE)", valid + ".x.y", ErrMalformed},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], ErrMalformed},
		{"header not JSON", rawToken("{alg", good, parts[2]), ErrMalformed},
		{"too long", parts[0] + "." + strings.Repeat("A", MaxTokenSize) + "." + parts[2], ErrMalformed},
		{"ambiguous kid", rawToken(`{"alg":"RS256","kid":"test-rsa-1","KID":"test-stranger"}`, good, parts[2]), ErrMalformed},
		{"critical header", forge(t, k.rsa, good, map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}), ErrMalformed},
		{"payload not JSON", forgeRaw(t, k.rsa, []byte("not json")), ErrMalformed},
		{"no exp", forge(t, k.rsa, with(good, "exp", nil), nil), ErrMalformed},
		{"exp not a number", forge(t, k.rsa, with(good, "exp", "tomorrow"), nil), ErrMalformed},
		{"no subject", forge(t, k.rsa, with(good, "sub", nil), nil), ErrMalformed},
		{"roles not strings", forge(t, k.rsa, with(good, "roles", []int{1}), nil), ErrMalformed},
		{"expired", forge(t, k.rsa, with(good, "exp", now.Add(-2*time.Minute).Unix()), nil), ErrExpired},
		{"not yet valid", forge(t, k.rsa, with(good, "nbf", now.Add(2*time.Minute).Unix()), nil), ErrNotYetValid},
		{"issued in the future", forge(t, k.rsa, with(good, "iat", now.Add(10*time.Minute).Unix()), nil), ErrNotYetValid},
		{"wrong audience", forge(t, k.rsa, with(good, "aud", "api://other"), nil), ErrAudience},
		{"no audience", forge(t, k.rsa, with(good, "aud", nil), nil), ErrAudience},
		{"wrong issuer", forge(t, k.rsa, with(good, "iss", "https://login.example.com/other/v2.0"), nil), ErrIssuer},
		{"alg none", rawToken(map[string]string{"alg": "none", "kid": k.rsa.KeyID}, good, ""), ErrAlgorithm},
		{"alg none, signature kept", rawToken(map[string]string{"alg": "none"}, good, parts[2]), ErrAlgorithm},
		{"HS256 with the public key as secret", hmacWithPublicKey, ErrAlgorithm},
		{"no alg", rawToken(map[string]string{"kid": k.rsa.KeyID}, good, parts[2]), ErrAlgorithm},
		{"ES256 header on an RSA key", ecWithRSAKid, ErrAlgorithm},
		{"tampered payload", tamperedPayload, ErrSignature},
		{"tampered signature", tamperedSig, ErrSignature},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrSignature},
		{"unknown kid", forge(t, k.stranger, good, nil), ErrUnknownKey},
		{"known kid, other key", forge(t, jose.JSONWebKey{Key: k.stranger.Key, KeyID: k.rsa.KeyID, Algorithm: "RS256"}, good, nil), ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "user-123" || !slices.Equal(c.Roles, []string{"clinician"}) || !c.HasScope("access_as_user") {
					t.Errorf("claims %+v", c)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			for _, s := range sentinels {
				if s != tc.want && errors.Is(err, s) {
					t.Errorf("error %v also matches %v", err, s)
				}
			}
			for _, secret := range secretsOf(tc.token) {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows part of the token", err)
				}
			}
			for _, s := range []string{"user-123", "Test Person", "person@clinomics.test", k.rsa.KeyID, k.stranger.KeyID} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows token content %q", err, s)
				}
			}
		})
	}
}

func forgeRaw(t *testing.T, key jose.JSONWebKey, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key.Key},
		(&jose.SignerOptions{}).WithHeader("kid", key.KeyID))
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

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Claims come from the configured claim names, with Entra ID's shapes.
func TestVerifyClaimShapes(t *testing.T) {
	k := testKeys(t)
	p := oidctest.Start(t, k.jwks)
	now := time.Now()
	base := goodClaims(p.Issuer, p.Audience, now)
	tests := []struct {
		name   string
		opts   Options
		claims map[string]any
		check  func(c Claims) string // nil: want is the error
		want   error
		header map[jose.HeaderKey]any
	}{
		{"Entra app token: sub == oid, no scp", Options{SubjectClaim: "oid"},
			with(base, "sub", "sp-oid", "oid", "sp-oid", "scp", nil, "client_id", nil, "azp", nil, "appid", "app-guid",
				"roles", []string{"service"}, "tid", "tenant-1", "uti", "uti-1", "jti", nil),
			func(c Claims) string {
				if !c.AppOnly || c.Subject != "sp-oid" || c.ClientID != "app-guid" || c.TenantID != "tenant-1" || c.TokenID != "uti-1" {
					return fmt.Sprintf("%+v", c)
				}
				return ""
			}, nil, nil},
		{"Entra user token: sub pairwise, oid subject", Options{SubjectClaim: "oid"},
			with(base, "sub", "pairwise", "oid", "user-oid", "upn", "u@example.org", "client_id", nil),
			func(c Claims) string {
				if c.AppOnly || c.Subject != "user-oid" || c.PreferredUsername != "u@example.org" || c.ClientID != "clinomics-cli" {
					return fmt.Sprintf("%+v", c)
				}
				return ""
			}, nil, nil},
		{"idtyp app", Options{}, with(base, "idtyp", "app"),
			func(c Claims) string { return map[bool]string{false: "not app-only"}[c.AppOnly] }, nil, nil},
		{"idtyp user beats sub == client_id", Options{}, with(base, "idtyp", "user", "sub", "clinomics-cli"),
			func(c Claims) string { return map[bool]string{true: "app-only"}[c.AppOnly] }, nil, nil},
		{"roles at a path, scope string", Options{RolesClaim: "realm_access.roles", GroupsClaim: "grp"},
			with(base, "roles", nil, "realm_access", map[string]any{"roles": []string{"auditor"}}, "grp", "one",
				"scp", nil, "scope", "a b  c"),
			func(c Claims) string {
				if !slices.Equal(c.Roles, []string{"auditor"}) || !slices.Equal(c.Groups, []string{"one"}) || !slices.Equal(c.Scopes, []string{"a", "b", "c"}) {
					return fmt.Sprintf("roles %q groups %q scopes %q", c.Roles, c.Groups, c.Scopes)
				}
				return ""
			}, nil, nil},
		{"groups overage", Options{}, with(base, "groups", nil, "_claim_names", map[string]string{"groups": "src1"}),
			func(c Claims) string {
				if !c.GroupsOverage || c.Groups != nil {
					return fmt.Sprintf("overage %v groups %q", c.GroupsOverage, c.Groups)
				}
				return ""
			}, nil, nil},
		{name: "max token age", opts: Options{MaxTokenAge: time.Minute},
			claims: with(base, "iat", now.Add(-5*time.Minute).Unix()), want: ErrExpired},
		{name: "max token age, no iat", opts: Options{MaxTokenAge: time.Minute},
			claims: with(base, "iat", nil), want: ErrMalformed},
		{name: "token type at+jwt", opts: Options{TokenTypes: []string{"at+jwt"}}, claims: base,
			header: map[jose.HeaderKey]any{"typ": "application/AT+JWT"}, check: func(Claims) string { return "" }},
		{name: "ID token where at+jwt is required", opts: Options{TokenTypes: []string{"at+jwt"}}, claims: base,
			header: map[jose.HeaderKey]any{"typ": "JWT"}, want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Issuer, tc.opts.Audiences = p.Issuer, []string{p.Audience}
			v, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), forge(t, k.rsa, tc.claims, tc.header))
			if tc.check == nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify: %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// After the provider rotates its keys, tokens signed with the new key
// verify: the unknown kid makes the verifier fetch the JWKS again. Tokens
// of a key that is still published keep verifying; those of a retired key
// stop once the verifier has refreshed.
func TestVerifyKeyRotation(t *testing.T) {
	p := oidctest.Start(t, nil)
	count := &countingTransport{}
	v, err := New(Options{Issuer: p.Issuer, Audiences: []string{p.Audience},
		HTTPClient: &http.Client{Transport: count}, MinRefreshInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	verify := func(name, tok string) Claims {
		t.Helper()
		time.Sleep(2 * time.Millisecond) // past MinRefreshInterval
		c, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}
	tokA := p.ServiceToken(t, oidctest.ServiceClient)
	a := verify("first token", tokA)

	kids := p.Rotate(t, nil, true)
	b := verify("token of the new key", p.ServiceToken(t, oidctest.ServiceClient))
	if b.KeyID == a.KeyID || !slices.Contains(kids, b.KeyID) {
		t.Errorf("kid %q after rotation (before %q, new %q)", b.KeyID, a.KeyID, kids)
	}
	verify("token of the old, still published key", tokA)

	kids = p.Rotate(t, nil, false)
	c := verify("token of the newest key", p.ServiceToken(t, oidctest.ServiceClient))
	if !slices.Contains(kids, c.KeyID) {
		t.Errorf("kid %q, want one of %q", c.KeyID, kids)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := v.Verify(ctx, tokA); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of a retired key: %v, want ErrUnknownKey", err)
	}
	if n := count.counts["/jwks"]; n != 4 {
		t.Errorf("%d JWKS fetches, want 4 (first use, two rotations, retired kid)", n)
	}
	if n := count.counts["/.well-known/openid-configuration"]; n != 1 {
		t.Errorf("%d discovery fetches, want 1", n)
	}
}

// With the IdP stopped, tokens signed by cached keys keep verifying until
// KeysMaxAge; unknown kids fail with ErrUnknownKey and ErrIdPUnavailable,
// and however many arrive, the IdP is asked at most once per
// MinRefreshInterval.
func TestVerifyIdPDown(t *testing.T) {
	k := testKeys(t)
	p := oidctest.Start(t, k.jwks)
	clock := &fakeClock{t: time.Now()}
	count := &countingTransport{}
	v, err := New(Options{Issuer: p.Issuer, Audiences: []string{p.Audience},
		HTTPClient:         &http.Client{Transport: count, Timeout: 2 * time.Second},
		MinRefreshInterval: time.Minute, RefreshInterval: 2 * time.Minute, KeysMaxAge: 5 * time.Minute,
		Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	claims := goodClaims(p.Issuer, p.Audience, clock.Now())
	cached := forge(t, k.rsa, claims, nil)
	unknown := func(i int) string {
		return forge(t, jose.JSONWebKey{Key: k.stranger.Key, KeyID: fmt.Sprintf("forged-%d", i), Algorithm: "RS256"}, claims, nil)
	}
	if _, err := v.Verify(ctx, cached); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, p.ServiceToken(t, oidctest.ServiceClient)); err != nil {
		t.Fatal(err)
	}
	p.Stop(t)
	start := count.total()

	step := func(name string, advance time.Duration, tok string, want ...error) {
		t.Helper()
		clock.Advance(advance)
		_, err := v.Verify(ctx, tok)
		waitIdle(t, v)
		if len(want) == 0 && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, w := range want {
			if !errors.Is(err, w) {
				t.Errorf("%s: %v, want %v", name, err, w)
			}
		}
	}
	step("cached key, IdP down", 0, cached)
	if n := count.total() - start; n != 0 {
		t.Errorf("%d requests for a cached key", n)
	}
	// Unknown kids within MinRefreshInterval of the last fetch: no fetch.
	for i := range 50 {
		step("unknown kid, rate-limited", 0, unknown(i), ErrUnknownKey)
	}
	if n := count.total() - start; n != 0 {
		t.Errorf("%d requests for 50 unknown kids within MinRefreshInterval, want 0", n)
	}
	// After it, one fetch, which fails; then none again for a while.
	step("unknown kid, refresh fails", time.Minute, unknown(100), ErrUnknownKey, ErrIdPUnavailable)
	for i := range 50 {
		step("unknown kid, IdP down", time.Second, unknown(200+i), ErrUnknownKey, ErrIdPUnavailable)
	}
	if n := count.total() - start; n != 1 {
		t.Errorf("%d requests for 51 unknown kids in 110 s of outage, want 1", n)
	}
	step("cached key, stale, IdP down", time.Minute, cached)
	if n := count.total() - start; n != 2 {
		t.Errorf("%d requests after the keys went stale, want 2 (one background refresh)", n)
	}
	// Past KeysMaxAge without a successful fetch: cached keys no longer trusted.
	step("cached key past max age", 4*time.Minute, cached, ErrIdPUnavailable)

	p.Restart(t)
	step("IdP back", time.Minute, cached)
	if age := v.keyAge(); age != 0 {
		t.Errorf("keys %v old after the IdP came back", age)
	}
}

// Many concurrent unknown kids cause one fetch, not one each.
func TestVerifyConcurrentRefresh(t *testing.T) {
	k := testKeys(t)
	p := oidctest.Start(t, k.jwks)
	count := &countingTransport{}
	v, err := New(Options{Issuer: p.Issuer, Audiences: []string{p.Audience},
		HTTPClient: &http.Client{Transport: count}, MinRefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	claims := goodClaims(p.Issuer, p.Audience, time.Now())
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := k.rsa
			if i%2 == 1 {
				key = jose.JSONWebKey{Key: k.stranger.Key, KeyID: fmt.Sprintf("forged-%d", i), Algorithm: "RS256"}
			}
			_, err := v.Verify(context.Background(), forge(t, key, claims, nil))
			if (i%2 == 0) != (err == nil) {
				errs <- fmt.Errorf("token %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count.total(); n != 2 {
		t.Errorf("%d requests to the IdP, want 2 (discovery and JWKS, once)", n)
	}
}

func TestNewOptions(t *testing.T) {
	ok := Options{Issuer: "https://login.example.com/tenant/v2.0", Audiences: []string{"api://clinomics"}}
	tests := []struct {
		name   string
		change func(o *Options)
		want   string // "" : accepted
	}{
		{"defaults", func(o *Options) {}, ""},
		{"loopback http issuer", func(o *Options) { o.Issuer = "http://127.0.0.1:9999" }, ""},
		{"localhost http issuer", func(o *Options) { o.Issuer = "http://localhost:9999/realms/x" }, ""},
		{"all asymmetric algorithms", func(o *Options) { o.Algorithms = Algorithms }, ""},
		{"http issuer", func(o *Options) { o.Issuer = "http://login.example.com" }, "https"},
		{"relative issuer", func(o *Options) { o.Issuer = "/tenant" }, "absolute"},
		{"no issuer", func(o *Options) { o.Issuer = "" }, "absolute"},
		{"no audience", func(o *Options) { o.Audiences = []string{" "} }, "audience"},
		{"HS256", func(o *Options) { o.Algorithms = []string{"RS256", "HS256"} }, "not allowed"},
		{"none", func(o *Options) { o.Algorithms = []string{"none"} }, "not allowed"},
		{"skew too large", func(o *Options) { o.ClockSkew = time.Hour }, "skew"},
		{"negative skew", func(o *Options) { o.ClockSkew = -time.Second }, "skew"},
		{"max age under refresh", func(o *Options) { o.KeysMaxAge = time.Minute }, "max age"},
		{"http JWKS URL", func(o *Options) { o.JWKSURL = "http://keys.example.com/jwks" }, "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.change(&o)
			_, err := New(o)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	k := testKeys(t)
	pubJSON := func(key jose.JSONWebKey) string { return string(mustJSON(t, key.Public())) }
	privJSON := string(mustJSON(t, k.rsa))
	tests := []struct {
		name string
		doc  string
		kids []string // nil: an error
	}{
		{"two keys", `{"keys":[` + pubJSON(k.rsa) + `,` + pubJSON(k.ec) + `]}`, []string{"test-rsa-1", "test-ec-1"}},
		{"private key skipped", `{"keys":[` + privJSON + `,` + pubJSON(k.ec) + `]}`, []string{"test-ec-1"}},
		{"symmetric key skipped", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},` + pubJSON(k.ec) + `]}`, []string{"test-ec-1"}},
		{"encryption key skipped", `{"keys":[` + strings.Replace(pubJSON(k.rsa), `"use":"sig"`, `"use":"enc"`, 1) + `]}`, nil},
		{"unknown kty skipped", `{"keys":[{"kty":"XYZ","kid":"x"},` + pubJSON(k.ec) + `]}`, []string{"test-ec-1"}},
		{"small RSA key skipped", `{"keys":[{"kty":"RSA","kid":"small","n":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 64)) + `","e":"AQAB"}]}`, nil},
		{"empty", `{"keys":[]}`, nil},
		{"not JSON", `<html>`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseJWKS([]byte(tc.doc))
			if tc.kids == nil {
				if err == nil {
					t.Fatalf("parsed %d keys, want an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range got {
				kids = append(kids, k.KeyID)
				if !k.IsPublic() {
					t.Errorf("key %s is private", k.KeyID)
				}
			}
			if !slices.Equal(kids, tc.kids) {
				t.Errorf("kids %q, want %q", kids, tc.kids)
			}
		})
	}
}
