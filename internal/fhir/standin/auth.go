package standin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SMART Backend Services constants.
const (
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxAssertion  = 5 * time.Minute // exp may be at most this far in the future
	jwksRefresh   = 5 * time.Minute
	maxJWKS       = 1 << 20
)

// tokenServer is the token endpoint and the access tokens it gave.
type tokenServer struct {
	cfg    Config
	client *http.Client

	mu      sync.Mutex
	keys    *jose.JSONWebKeySet
	fetched time.Time
	jtis    map[string]time.Time // used jti -> the assertion's exp
	tokens  map[string]accessToken
}

type accessToken struct {
	scopes  []string
	expires time.Time
}

func newTokenServer(cfg Config) *tokenServer {
	client := cfg.JWKSClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &tokenServer{cfg: cfg, client: client,
		jtis: map[string]time.Time{}, tokens: map[string]accessToken{}}
}

// oauthError is an RFC 6749 error answer.
type oauthError struct {
	status      int
	code, descr string
}

func (e *oauthError) Error() string { return e.code + ": " + e.descr }

func invalidClient(format string, a ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_client", fmt.Sprintf(format, a...)}
}

// token answers POST /token (client_credentials with a client assertion).
func (a *tokenServer) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	resp, err := a.issue(r)
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) {
			a.cfg.Log.Error("token endpoint", "err", err.Error())
			oe = &oauthError{http.StatusInternalServerError, "server_error", "internal error"}
		}
		a.cfg.Log.Info("token refused", "error", oe.code, "reason", oe.descr)
		writeJSON(w, oe.status, map[string]string{"error": oe.code, "error_description": oe.descr})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *tokenServer) issue(r *http.Request) (map[string]any, error) {
	if err := r.ParseForm(); err != nil {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded"}
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		return nil, &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials"}
	case f.Get("client_assertion_type") != assertionType:
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "client_assertion_type must be " + assertionType}
	case f.Get("client_assertion") == "":
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "client_assertion is required"}
	}
	var granted []string
	for _, sc := range strings.Fields(f.Get("scope")) {
		if strings.HasPrefix(sc, "system/") {
			granted = append(granted, sc)
		}
	}
	if len(granted) == 0 {
		return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "ask for system/ scopes, e.g. system/*.read"}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if err := a.verify(r.Context(), f.Get("client_assertion"), scheme+"://"+r.Host+"/token"); err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	rand.Read(b)
	raw := base64.RawURLEncoding.EncodeToString(b)
	now := a.cfg.Now()
	a.mu.Lock()
	for k, t := range a.tokens {
		if now.After(t.expires.Add(time.Hour)) {
			delete(a.tokens, k)
		}
	}
	a.tokens[raw] = accessToken{scopes: granted, expires: now.Add(a.cfg.TokenLifetime)}
	a.mu.Unlock()
	return map[string]any{"access_token": raw, "token_type": "bearer",
		"expires_in": int(a.cfg.TokenLifetime.Seconds()), "scope": strings.Join(granted, " ")}, nil
}

// verify checks a client assertion: signed RS384 or ES384 by a key of the
// client's JWKS, iss = sub = the client id, aud the token URL, exp in the
// future and at most five minutes away, iat not in the future beyond the
// clock skew, jti not used before.
func (a *tokenServer) verify(ctx context.Context, raw, tokenURL string) error {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS384, jose.ES384})
	if err != nil {
		return invalidClient("client_assertion is not a JWT signed with RS384 or ES384")
	}
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	keys, err := a.keysFor(ctx, kid)
	if err != nil {
		return invalidClient("the client's JWKS could not be fetched")
	}
	var c jwt.Claims
	verified := false
	for _, k := range keys {
		if err := tok.Claims(k.Key, &c); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return invalidClient("the signature does not verify with any key of the client's JWKS")
	}
	now := a.cfg.Now()
	skew := a.cfg.ClockSkew
	switch {
	case c.Issuer != a.cfg.ClientID || c.Subject != a.cfg.ClientID:
		return invalidClient("iss and sub must be the registered client id")
	case !c.Audience.Contains(tokenURL):
		return invalidClient("aud must be the token URL %s", tokenURL)
	case c.Expiry == nil:
		return invalidClient("exp is required")
	case !now.Before(c.Expiry.Time()):
		return invalidClient("the assertion expired (exp is in the past)")
	case c.Expiry.Time().After(now.Add(maxAssertion + skew)):
		return invalidClient("exp must be no more than 5 minutes in the future")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(skew)):
		return invalidClient("iat is in the future beyond the allowed clock skew of %s: check the client's clock", skew)
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(skew)):
		return invalidClient("nbf is in the future beyond the allowed clock skew of %s", skew)
	case c.ID == "":
		return invalidClient("jti is required")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for j, exp := range a.jtis {
		if now.After(exp.Add(skew)) {
			delete(a.jtis, j)
		}
	}
	if _, used := a.jtis[c.ID]; used {
		return invalidClient("jti was already used: a client assertion may be used once")
	}
	a.jtis[c.ID] = c.Expiry.Time()
	return nil
}

// keysFor returns the client's keys with kid (all when kid is ""),
// fetching the JWKS when it is stale or does not hold kid.
func (a *tokenServer) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	a.mu.Lock()
	set, fetched := a.keys, a.fetched
	a.mu.Unlock()
	find := func(set *jose.JSONWebKeySet) []jose.JSONWebKey {
		if set == nil {
			return nil
		}
		if kid == "" {
			return set.Keys
		}
		return set.Key(kid)
	}
	if ks := find(set); len(ks) > 0 && time.Since(fetched) < jwksRefresh {
		return ks, nil
	}
	set, err := a.fetch(ctx)
	if err != nil {
		return nil, err
	}
	return find(set), nil
}

func (a *tokenServer) fetch(ctx context.Context) (*jose.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.cfg.Log.Warn("JWKS fetch failed", "url", a.cfg.JWKSURL, "err", err.Error())
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		a.cfg.Log.Warn("JWKS fetch failed", "url", a.cfg.JWKSURL, "status", resp.StatusCode)
		return nil, fmt.Errorf("JWKS: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS))
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	a.mu.Lock()
	a.keys, a.fetched = &set, time.Now()
	a.mu.Unlock()
	return &set, nil
}

// lookup returns the token's grant, or why it is refused.
func (a *tokenServer) lookup(raw string) (accessToken, string) {
	a.mu.Lock()
	t, ok := a.tokens[raw]
	a.mu.Unlock()
	switch {
	case !ok:
		return accessToken{}, "the access token is not known"
	case !a.cfg.Now().Before(t.expires):
		return accessToken{}, "the access token expired"
	}
	return t, ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
