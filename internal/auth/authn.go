package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Errors of Authenticate. The HTTP layer answers all of them with a bare
// 401; the reason is only logged.
var (
	// ErrNoCredential: the request carries no credential.
	ErrNoCredential = errors.New("no credential")
	// ErrBadCredential: a credential is present but not accepted.
	ErrBadCredential = errors.New("credential not accepted")
	// ErrNoRoles: the credential is valid but maps to no role here.
	ErrNoRoles = errors.New("no role is granted to this identity")
)

// Identity is what an identity provider vouches for in a bearer token.
type Identity struct {
	Subject  string   // the IdP's stable subject ("sub"/"oid"); for apps, the client id
	ClientID string   // the client the token was issued to
	App      bool     // an app-only token (client credentials): a service principal
	Roles    []string // app roles ("roles")
	Groups   []string // group ids ("groups")
	// Scopes are the OAuth scopes the token was issued with ("scp" and
	// "scope", split on spaces); nil when it has none.
	Scopes []string
}

// IdentityVerifier checks a bearer JWT (auth/oidc).
type IdentityVerifier interface {
	VerifyIdentity(ctx context.Context, raw string) (Identity, error)
}

// Authenticator turns a request's credential into a principal: a personal
// API token, an IdP's bearer token (mapped to grants by RoleMap), or a
// client certificate verified by the TLS layer (mapped by CertGrants).
type Authenticator struct {
	Tokens TokenStore
	IdP    IdentityVerifier // nil: no identity provider configured
	// RoleMap maps a role or group value of the IdP's token to grants; an
	// app role that is itself a role name ("clinician") grants that role
	// everywhere unless RoleMap says otherwise. Groups grant only through
	// RoleMap.
	RoleMap map[string][]Grant
	// CertGrants maps a client certificate's subject common name to the
	// grants of that worker or agent (mutual TLS).
	CertGrants map[string][]Grant
	Now        func() time.Time
}

// Authenticate returns who is asking, or an error wrapping
// ErrNoCredential, ErrBadCredential or ErrNoRoles.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if p := a.fromCert(r); p != nil {
			return p, nil
		}
		return nil, ErrNoCredential
	}
	scheme, raw, ok := strings.Cut(authz, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || len(raw) > 16<<10 {
		return nil, ErrBadCredential
	}
	if IsToken(raw) {
		p, err := VerifyToken(ctx, a.Tokens, raw, a.now())
		if err != nil {
			return nil, errors.Join(ErrBadCredential, err)
		}
		return p, nil
	}
	if a.IdP == nil {
		return nil, errors.Join(ErrBadCredential, errors.New("no identity provider is configured"))
	}
	id, err := a.IdP.VerifyIdentity(ctx, raw)
	if err != nil {
		return nil, errors.Join(ErrBadCredential, err)
	}
	p := &Principal{Kind: KindUser, ID: id.Subject, Grants: a.mapRoles(id), Scopes: id.Scopes}
	if id.App {
		p.Kind, p.ID = KindService, id.ClientID
	}
	if len(p.Grants) == 0 {
		return nil, ErrNoRoles
	}
	return p, nil
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Authenticator) mapRoles(id Identity) []Grant {
	var out []Grant
	seen := map[Grant]bool{}
	add := func(gs ...Grant) {
		for _, g := range gs {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	// App roles are assigned by the IdP's administrators: one named like a
	// role grants it. Groups can often be made by users themselves, so a
	// group grants only what auth.role_map says.
	for _, v := range id.Roles {
		if gs, ok := a.RoleMap[v]; ok {
			add(gs...)
		} else if r, err := ParseRole(v); err == nil {
			add(Grant{Role: r, Scope: AllScopes})
		}
	}
	for _, v := range id.Groups {
		add(a.RoleMap[v]...)
	}
	return out
}

// fromCert maps a verified client certificate to a service principal.
func (a *Authenticator) fromCert(r *http.Request) *Principal {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return nil
	}
	cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
	if gs := a.CertGrants[cn]; cn != "" && len(gs) > 0 {
		return &Principal{Kind: KindService, ID: "cert:" + cn, Grants: gs}
	}
	return nil
}

// Limiter slows down guessing: a source that fails to authenticate Max
// times within Window is refused until the window has passed.
type Limiter struct {
	Max    int
	Window time.Duration
	mu     sync.Mutex
	fails  map[string][]time.Time
}

// maxSources bounds the limiter's memory under a spray of addresses.
const maxSources = 100_000

// Blocked reports whether source is refused now, and for how long.
func (l *Limiter) Blocked(source string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(source, now)
	if len(f) < l.Max {
		return false, 0
	}
	return true, f[0].Add(l.Window).Sub(now)
}

// Fail records a failed attempt from source.
func (l *Limiter) Fail(source string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fails == nil || len(l.fails) >= maxSources {
		l.fails = map[string][]time.Time{}
	}
	l.fails[source] = append(l.recent(source, now), now)
}

func (l *Limiter) recent(source string, now time.Time) []time.Time {
	f := l.fails[source]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.Window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, source)
	} else {
		l.fails[source] = f
	}
	return f
}

// Source is where a request comes from, for the audit and the limiter:
// the peer's IP address (proxies are not trusted).
func Source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
