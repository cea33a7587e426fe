package oidc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxTokenSize is the longest token Verify looks at (Entra ID tokens with
// many groups stay well under it).
const MaxTokenSize = 32 << 10

// Algorithms are the signing algorithms a Verifier can allow: asymmetric
// only. HS256/384/512 and "none" are refused by New and by Verify.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Defaults of Options.
const (
	DefaultClockSkew          = 60 * time.Second
	MaxClockSkew              = 5 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultRefreshInterval    = time.Hour
	DefaultKeysMaxAge         = 24 * time.Hour
	DefaultFetchTimeout       = 10 * time.Second
)

// Options configure a Verifier. Issuer and Audiences are required.
type Options struct {
	// Issuer is the issuer identifier, compared exactly with the discovery
	// document's "issuer" and each token's "iss". Entra ID:
	// https://login.microsoftonline.com/TENANT_ID/v2.0 (v2 tokens) or
	// https://sts.windows.net/TENANT_ID/ (v1 tokens). It must be https,
	// or http on a loopback address.
	Issuer string
	// Audiences: a token's "aud" must contain one of them. Entra ID: the
	// application ID URI ("api://clinomics") and/or the application
	// (client) id, which v2 tokens carry.
	Audiences []string
	// JWKSURL skips discovery and fetches keys from here.
	JWKSURL string
	// Algorithms allowed in the token header; default all of Algorithms.
	// Anything not in Algorithms is an error.
	Algorithms []string
	// TokenTypes, when set, are the header "typ" values accepted
	// (compared without case and an "application/" prefix): "at+jwt"
	// (RFC 9068) keeps ID tokens from passing as access tokens. Entra ID
	// sends "JWT" on both, so leave it empty there and rely on Audiences.
	TokenTypes []string
	// ClockSkew tolerated on exp, nbf and iat; default 60 s, at most 5 min.
	ClockSkew time.Duration
	// MaxTokenAge, when set, also rejects tokens issued ("iat") longer ago.
	MaxTokenAge time.Duration
	// HTTPClient for discovery and JWKS; default one with a 10 s timeout.
	HTTPClient *http.Client
	// SubjectClaim names the claim that identifies the caller; default
	// "sub". With Entra ID use "oid": the object id is the same for every
	// application, "sub" is not.
	SubjectClaim string
	// RolesClaim and GroupsClaim name the claims holding app roles and
	// groups; default "roles" and "groups" (Entra ID's). A name that is not
	// a top-level claim but contains dots is a path ("realm_access.roles").
	RolesClaim  string
	GroupsClaim string
	// MinRefreshInterval is the least time between two fetches of the JWKS
	// (a token with an unknown kid triggers one); default 30 s.
	MinRefreshInterval time.Duration
	// RefreshInterval: keys older than this are refreshed in the background
	// while still in use; default 1 h.
	RefreshInterval time.Duration
	// KeysMaxAge: keys not confirmed by a successful fetch for this long
	// are no longer trusted (what an IdP outage can last); default 24 h.
	KeysMaxAge time.Duration
	// FetchTimeout bounds one refresh (discovery plus JWKS); default 10 s.
	FetchTimeout time.Duration
	// Logger gets key refreshes (Info) and failed fetches (Warn); never
	// any token. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens of one issuer. It is safe for concurrent use.
type Verifier struct {
	opts   Options
	algs   []jose.SignatureAlgorithm
	aud    map[string]bool
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetched   time.Time // last successful fetch
	attempted time.Time // start of the last fetch
	lastErr   error     // error of the last fetch; nil if it succeeded
	jwksURL   string
	inflight  *fetchCall
}

// New checks opts and returns a Verifier. It does not contact the issuer:
// keys are fetched on first use (or by Refresh).
func New(opts Options) (*Verifier, error) {
	if err := checkEndpoint("issuer", opts.Issuer); err != nil {
		return nil, err
	}
	if opts.JWKSURL != "" {
		if err := checkEndpoint("JWKS URL", opts.JWKSURL); err != nil {
			return nil, err
		}
	}
	aud := map[string]bool{}
	for _, a := range opts.Audiences {
		if a = strings.TrimSpace(a); a != "" {
			aud[a] = true
		}
	}
	if len(aud) == 0 {
		return nil, errors.New("oidc: at least one audience is required")
	}
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = Algorithms
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range opts.Algorithms {
		if !slices.Contains(Algorithms, a) {
			return nil, fmt.Errorf("oidc: algorithm %q is not allowed (asymmetric only: %s)", a, strings.Join(Algorithms, ", "))
		}
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	switch {
	case opts.ClockSkew == 0:
		opts.ClockSkew = DefaultClockSkew
	case opts.ClockSkew < 0 || opts.ClockSkew > MaxClockSkew:
		return nil, fmt.Errorf("oidc: clock skew %v out of range (0 to %v)", opts.ClockSkew, MaxClockSkew)
	}
	if opts.MaxTokenAge < 0 {
		return nil, errors.New("oidc: negative max token age")
	}
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{
		{&opts.MinRefreshInterval, DefaultMinRefreshInterval},
		{&opts.RefreshInterval, DefaultRefreshInterval},
		{&opts.KeysMaxAge, DefaultKeysMaxAge},
		{&opts.FetchTimeout, DefaultFetchTimeout},
	} {
		if *d.p < 0 {
			return nil, errors.New("oidc: negative interval")
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if opts.KeysMaxAge < opts.RefreshInterval {
		return nil, fmt.Errorf("oidc: keys max age %v is shorter than the refresh interval %v", opts.KeysMaxAge, opts.RefreshInterval)
	}
	if opts.SubjectClaim == "" {
		opts.SubjectClaim = "sub"
	}
	if opts.RolesClaim == "" {
		opts.RolesClaim = "roles"
	}
	if opts.GroupsClaim == "" {
		opts.GroupsClaim = "groups"
	}
	v := &Verifier{opts: opts, algs: algs, aud: aud, client: httpClient(opts.HTTPClient),
		log: opts.Logger, now: opts.Now, jwksURL: opts.JWKSURL}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Issuer returns the issuer this Verifier trusts.
func (v *Verifier) Issuer() string { return v.opts.Issuer }

// Verify checks raw, a compact JWS access token, and returns its claims.
// Errors wrap one of the package's sentinels (see ErrMalformed and the
// others) and contain no part of the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	if raw == "" {
		return Claims{}, ErrMissing
	}
	if len(raw) > MaxTokenSize {
		return Claims{}, fmt.Errorf("%w: over %d bytes", ErrMalformed, MaxTokenSize)
	}
	h, err := v.header(raw)
	if err != nil {
		return Claims{}, err
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return Claims{}, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	// Both parsers must read the same alg and kid (JSON decoders differ on
	// duplicate and differently cased keys).
	if sh := jws.Signatures[0].Header; sh.Algorithm != h.Alg || sh.KeyID != h.Kid {
		return Claims{}, fmt.Errorf("%w: ambiguous header", ErrMalformed)
	}
	keys, err := v.keysFor(ctx, h.Kid, h.Alg)
	if err != nil {
		return Claims{}, err
	}
	var payload []byte
	for _, k := range keys {
		if p, err := jws.Verify(k); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return Claims{}, ErrSignature
	}
	c, err := v.claims(payload)
	if err != nil {
		return Claims{}, err
	}
	c.KeyID, c.Algorithm = h.Kid, h.Alg
	return c, nil
}

// tokenHeader is the JOSE header of a token, as far as Verify reads it.
type tokenHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// header decodes and checks the token's header before anything else, so
// that an algorithm we never accept is refused as such.
func (v *Verifier) header(raw string) (tokenHeader, error) {
	var h tokenHeader
	if strings.Count(raw, ".") != 2 {
		return h, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	enc, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return h, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&h); err != nil || d.More() {
		return h, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	if h.Crit != nil {
		return h, fmt.Errorf("%w: critical header parameters are not supported", ErrMalformed)
	}
	if !slices.Contains(v.opts.Algorithms, h.Alg) {
		return h, ErrAlgorithm
	}
	if len(v.opts.TokenTypes) > 0 && !slices.ContainsFunc(v.opts.TokenTypes, func(t string) bool { return sameType(t, h.Typ) }) {
		return h, fmt.Errorf("%w: token type not accepted", ErrMalformed)
	}
	return h, nil
}

// sameType compares media types as RFC 7515 section 4.1.9 says for "typ".
func sameType(a, b string) bool {
	trim := func(s string) string {
		s = strings.ToLower(s)
		return strings.TrimPrefix(s, "application/")
	}
	return trim(a) == trim(b)
}

// claims decodes the verified payload and checks iss, aud, exp, nbf, iat.
func (v *Verifier) claims(payload []byte) (Claims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return Claims{}, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	var c Claims
	var err error
	str := func(name string) string {
		s, e := stringClaim(m, name)
		if e != nil && err == nil {
			err = e
		}
		return s
	}
	c.Issuer = str("iss")
	if err != nil {
		return Claims{}, err
	}
	if c.Issuer != v.opts.Issuer {
		return Claims{}, ErrIssuer
	}
	if c.Audience, err = listClaim(m, "aud", false); err != nil {
		return Claims{}, err
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return v.aud[a] }) {
		return Claims{}, ErrAudience
	}

	now := v.now()
	skew := v.opts.ClockSkew
	exp, ok, err := timeClaim(m, "exp")
	if err != nil {
		return Claims{}, err
	}
	if !ok {
		return Claims{}, fmt.Errorf("%w: no exp", ErrMalformed)
	}
	if now.After(exp.Add(skew)) {
		return Claims{}, ErrExpired
	}
	nbf, ok, err := timeClaim(m, "nbf")
	if err != nil {
		return Claims{}, err
	}
	if ok && nbf.After(now.Add(skew)) {
		return Claims{}, fmt.Errorf("%w: nbf is in the future", ErrNotYetValid)
	}
	iat, ok, err := timeClaim(m, "iat")
	if err != nil {
		return Claims{}, err
	}
	if ok && iat.After(now.Add(skew)) {
		return Claims{}, fmt.Errorf("%w: issued in the future", ErrNotYetValid)
	}
	if v.opts.MaxTokenAge > 0 {
		if !ok {
			return Claims{}, fmt.Errorf("%w: no iat, and a max token age is set", ErrMalformed)
		}
		if now.Sub(iat) > v.opts.MaxTokenAge+skew {
			return Claims{}, fmt.Errorf("%w: issued too long ago", ErrExpired)
		}
	}
	c.Expiry, c.NotBefore, c.IssuedAt = exp, nbf, iat

	c.Subject = str(v.opts.SubjectClaim)
	c.ObjectID = str("oid")
	c.TenantID = str("tid")
	c.Name = str("name")
	c.PreferredUsername = firstOf(str("preferred_username"), str("upn"))
	c.Email = str("email")
	c.ClientID = firstOf(str("client_id"), str("azp"), str("appid"))
	c.TokenID = firstOf(str("jti"), str("uti"))
	idtyp := str("idtyp")
	if err != nil {
		return Claims{}, err
	}
	if c.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no subject", ErrMalformed)
	}
	if c.Roles, err = listClaim(m, v.opts.RolesClaim, false); err != nil {
		return Claims{}, err
	}
	if c.Groups, err = listClaim(m, v.opts.GroupsClaim, false); err != nil {
		return Claims{}, err
	}
	scp, err := listClaim(m, "scp", true)
	if err != nil {
		return Claims{}, err
	}
	scope, err := listClaim(m, "scope", true)
	if err != nil {
		return Claims{}, err
	}
	c.Scopes = append(scp, scope...)
	c.GroupsOverage = groupsOverage(m)

	// App-only (client credentials) tokens: Entra ID's optional "idtyp"
	// says so outright; RFC 9068 makes "sub" the client id; Entra ID's
	// app tokens have sub == oid (the service principal) and no "scp".
	sub, _ := stringClaim(m, "sub")
	switch idtyp {
	case "app":
		c.AppOnly = true
	case "user":
	default:
		_, hasScp := m["scp"]
		c.AppOnly = (sub != "" && sub == c.ClientID) || (c.ObjectID != "" && sub == c.ObjectID && !hasScp)
	}
	return c, nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// claim finds name at the top level, or else, if it has dots, as a path
// through nested objects.
func claim(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	parts := strings.Split(name, ".")
	cur := m
	for i, p := range parts {
		v, ok := cur[p]
		if !ok {
			return nil, false
		}
		if i == len(parts)-1 {
			return v, true
		}
		cur = nil
		if json.Unmarshal(v, &cur) != nil || cur == nil {
			return nil, false
		}
	}
	return nil, false
}

// stringClaim returns a string claim; absent or null is "".
func stringClaim(m map[string]json.RawMessage, name string) (string, error) {
	v, ok := claim(m, name)
	if !ok || string(v) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: claim %s is not a string", ErrMalformed, name)
	}
	return s, nil
}

// listClaim returns a claim that is an array of strings or one string; with
// spaces, a string is split on spaces (OAuth scope syntax).
func listClaim(m map[string]json.RawMessage, name string, spaces bool) ([]string, error) {
	v, ok := claim(m, name)
	if !ok || string(v) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if spaces {
			return strings.Fields(s), nil
		}
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var l []string
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("%w: claim %s is not a string or a list of strings", ErrMalformed, name)
	}
	return l, nil
}

// timeClaim returns a NumericDate claim (seconds since the epoch).
func timeClaim(m map[string]json.RawMessage, name string) (time.Time, bool, error) {
	v, ok := m[name]
	if !ok || string(v) == "null" {
		return time.Time{}, false, nil
	}
	var f float64
	// Up to the year 33658: far enough, and no overflow in time.Duration math.
	if err := json.Unmarshal(v, &f); err != nil || math.IsNaN(f) || f < 0 || f > 1e12 {
		return time.Time{}, false, fmt.Errorf("%w: claim %s is not a date", ErrMalformed, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// groupsOverage reports Entra ID's sign that the groups did not fit in the
// token ("_claim_names" naming "groups", or "hasgroups": true).
func groupsOverage(m map[string]json.RawMessage) bool {
	var names map[string]json.RawMessage
	if v, ok := m["_claim_names"]; ok && json.Unmarshal(v, &names) == nil {
		if _, ok := names["groups"]; ok {
			return true
		}
	}
	var has bool
	if v, ok := m["hasgroups"]; ok && json.Unmarshal(v, &has) == nil && has {
		return true
	}
	return false
}
