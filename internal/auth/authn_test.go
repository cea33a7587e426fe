package auth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth"
)

// idp stands in for auth/oidc here (which is tested against a real
// OpenID provider): it accepts the token "good-user" and "good-app".
type idp struct{}

func (idp) VerifyIdentity(_ context.Context, raw string) (auth.Identity, error) {
	switch raw {
	case "good-user":
		return auth.Identity{Subject: "u-123", Roles: []string{"Clinomics.Clinician", "unknown"}, Groups: []string{"g-research"}, Scopes: []string{"openid", "access_as_user"}}, nil
	case "smart-app":
		return auth.Identity{Subject: "app-7", ClientID: "ehr-app", App: true, Roles: []string{"service"},
			Scopes: []string{"system/Observation.rs", "openid", "system/DiagnosticReport.read"}}, nil
	case "good-app":
		return auth.Identity{Subject: "app-9", ClientID: "ehr-bridge", App: true, Roles: []string{"service"}}, nil
	case "no-roles":
		return auth.Identity{Subject: "u-456", Roles: []string{"nothing"}}, nil
	case "self-made-group":
		// A group a user made and named like a role grants nothing.
		return auth.Identity{Subject: "u-789", Groups: []string{"administrator", "Administrator"}}, nil
	}
	return auth.Identity{}, errors.New("signature")
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Now()
	local := &auth.Principal{Kind: auth.KindLocal, ID: "root"}
	admin, _ := auth.ParseGrant("administrator")
	tok, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "t", Owner: local, Grants: []auth.Grant{admin}, Expires: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	clin, _ := auth.ParseGrant("clinician@site:main")
	res, _ := auth.ParseGrant("researcher")
	a := &auth.Authenticator{Tokens: st, IdP: idp{}, RoleMap: map[string][]auth.Grant{"Clinomics.Clinician": {clin}, "g-research": {res}}}
	cases := []struct {
		header  string
		want    error
		actor   string
		nGrants int
	}{
		{"", auth.ErrNoCredential, "", 0},
		{"Basic dXNlcjpwYXNz", auth.ErrBadCredential, "", 0},
		{"Bearer ", auth.ErrBadCredential, "", 0},
		{"Bearer bad", auth.ErrBadCredential, "", 0},
		{"Bearer clk_nope_nope", auth.ErrBadCredential, "", 0},
		{"Bearer no-roles", auth.ErrNoRoles, "", 0},
		{"Bearer self-made-group", auth.ErrNoRoles, "", 0},
		{"Bearer good-user", nil, "user:u-123", 2},
		{"bearer good-app", nil, "service:ehr-bridge", 1},
		{"Bearer " + tok, nil, "", 1},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/v1/runs", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		p, err := a.Authenticate(r)
		if !errors.Is(err, c.want) || err == nil && c.want != nil {
			t.Errorf("%q: %v, want %v", c.header, err, c.want)
			continue
		}
		if err == nil && (c.actor != "" && p.Actor() != c.actor || len(p.Grants) != c.nGrants) {
			t.Errorf("%q: %s with %v", c.header, p.Actor(), p.Grants)
		}
	}
	// Without an identity provider a JWT is refused, tokens still work.
	a.IdP = nil
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer good-user")
	if _, err := a.Authenticate(r); !errors.Is(err, auth.ErrBadCredential) {
		t.Errorf("no IdP: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	l := &auth.Limiter{Max: 3, Window: time.Minute}
	t0 := time.Now()
	for i := range 3 {
		if b, _ := l.Blocked("10.0.0.1", t0); b {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("10.0.0.1", t0.Add(time.Duration(i)*time.Second))
	}
	if b, wait := l.Blocked("10.0.0.1", t0.Add(3*time.Second)); !b || wait != 57*time.Second {
		t.Fatalf("after 3 failures: %v %v", b, wait)
	}
	if b, _ := l.Blocked("10.0.0.2", t0); b {
		t.Fatal("another source is blocked")
	}
	if b, _ := l.Blocked("10.0.0.1", t0.Add(61*time.Second)); b {
		t.Fatal("still blocked after the window")
	}
}

// TestClientCertificates maps a verified client certificate (mutual TLS,
// checked by the TLS layer: internal/tlsconf) to a worker's grants.
func TestClientCertificates(t *testing.T) {
	svc, _ := auth.ParseGrant("service@site:main")
	a := &auth.Authenticator{Tokens: openStore(t), CertGrants: map[string][]auth.Grant{"worker-7": {svc}}}
	req := func(cn string, verified bool) *http.Request {
		r := httptest.NewRequest("GET", "/api/v1/runs", nil)
		cert := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		if verified {
			r.TLS.VerifiedChains = [][]*x509.Certificate{{cert}}
		}
		return r
	}
	p, err := a.Authenticate(req("worker-7", true))
	if err != nil || p.Actor() != "service:cert:worker-7" || len(p.Grants) != 1 {
		t.Fatalf("worker-7: %v %v", p, err)
	}
	if _, err := a.Authenticate(req("worker-7", false)); !errors.Is(err, auth.ErrNoCredential) {
		t.Errorf("an unverified certificate: %v", err)
	}
	if _, err := a.Authenticate(req("laptop", true)); !errors.Is(err, auth.ErrNoCredential) {
		t.Errorf("a certificate with no grants: %v", err)
	}
}

// TestSMARTScopes: an IdP token's scopes reach the principal; only SMART
// resource scopes make a credential scope-limited, and an API token is
// never limited beyond its role permissions.
func TestSMARTScopes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	local := &auth.Principal{Kind: auth.KindLocal, ID: "root"}
	clin, _ := auth.ParseGrant("clinician")
	tok, _, err := auth.CreateToken(ctx, st, auth.NewToken{Name: "t", Owner: local, Grants: []auth.Grant{clin}, Expires: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a := &auth.Authenticator{Tokens: st, IdP: idp{}, RoleMap: map[string][]auth.Grant{"Clinomics.Clinician": {clin}}}
	for _, c := range []struct {
		bearer  string
		scopes  string
		limited bool
	}{
		{"smart-app", "[system/Observation.rs system/DiagnosticReport.read]", true},
		{"good-user", "[]", false},
		{tok, "[]", false},
	} {
		r := httptest.NewRequest("GET", "/fhir/r4/Observation", nil)
		r.Header.Set("Authorization", "Bearer "+c.bearer)
		p, err := a.Authenticate(r)
		if err != nil {
			t.Fatalf("%s: %v", c.bearer[:4], err)
		}
		scopes, limited := p.SMARTScopes()
		if got := fmt.Sprint(scopes); got != c.scopes || limited != c.limited {
			t.Errorf("%s: %s limited=%v, want %s %v", c.bearer[:4], got, limited, c.scopes, c.limited)
		}
		if p.Kind == auth.KindToken && p.Scopes != nil {
			t.Errorf("an API token carries scopes %v", p.Scopes)
		}
	}
	if p := (*auth.Principal)(nil); p != nil {
		t.Fatal()
	} else if _, limited := p.SMARTScopes(); limited {
		t.Error("no principal is limited")
	}
}
