package smart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/tlsconf"
)

// TokenSource gets and caches access tokens for one client at one EHR. It
// is safe for concurrent use: callers that find no valid token share one
// request to the token endpoint.
type TokenSource struct {
	Keys     *Keys
	ClientID string
	Scopes   []string
	// FHIRBase is the EHR's FHIR base URL; the token endpoint is
	// discovered from FHIRBase/.well-known/smart-configuration.
	FHIRBase string
	// TokenURL is used when discovery fails (or FHIRBase is empty).
	TokenURL string
	HTTP     *http.Client  // default: a client with a 30 s timeout
	Timeout  time.Duration // bound on one token request; default 30 s
	Log      *slog.Logger  // may be nil

	mu       sync.Mutex
	token    string
	renewAt  time.Time
	endpoint string
	flight   *flight
	now      func() time.Time
}

type flight struct {
	done  chan struct{}
	token string
	err   error
}

// Token returns a valid access token, fetching a new one when the cached
// one is missing or about to expire. The token is a credential: never log it.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.token != "" && s.clock().Before(s.renewAt) {
		t := s.token
		s.mu.Unlock()
		return t, nil
	}
	f := s.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.flight = f
		// The request outlives a caller that gives up: the others wait on it.
		go s.fetch(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Invalidate forgets token if it is still the cached one: the FHIR server
// answered 401 invalid_token, so the next Token call fetches a new one.
func (s *TokenSource) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token, s.renewAt = "", time.Time{}
	}
}

func (s *TokenSource) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *TokenSource) client() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (s *TokenSource) fetch(ctx context.Context, f *flight) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, ttl, err := s.request(ctx)
	s.mu.Lock()
	if err == nil {
		s.token, s.renewAt = tok, s.clock().Add(ttl-renewMargin(ttl))
	}
	s.flight = nil
	s.mu.Unlock()
	f.token, f.err = tok, err
	close(f.done)
}

// renewMargin is how long before expiry a token is renewed: a tenth of its
// lifetime, between 5 s and 1 min.
func renewMargin(ttl time.Duration) time.Duration {
	return min(max(ttl/10, 5*time.Second), time.Minute, ttl/2)
}

// defaultTTL is assumed when the endpoint does not say (SMART recommends
// tokens of five minutes at most).
const defaultTTL = 5 * time.Minute

// maxAnswer bounds what is read of a token or discovery answer.
const maxAnswer = 1 << 20

// tokenAnswer is the token endpoint's JSON (success or error).
type tokenAnswer struct {
	AccessToken      string          `json:"access_token"`
	TokenType        string          `json:"token_type"`
	ExpiresIn        json.RawMessage `json:"expires_in"`
	Scope            string          `json:"scope"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

func (s *TokenSource) request(ctx context.Context) (string, time.Duration, error) {
	endpoint, err := s.tokenEndpoint(ctx)
	if err != nil {
		return "", 0, err
	}
	assertion, err := s.Keys.Assertion(ctx, s.ClientID, endpoint, MaxAssertionLifetime)
	if err != nil {
		return "", 0, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {strings.Join(s.Scopes, " ")},
		"client_assertion_type": {AssertionType},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client().Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("smart: token endpoint %s: %w", endpoint, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return "", 0, fmt.Errorf("smart: token endpoint %s: reading the answer: %w", endpoint, err)
	}
	var a tokenAnswer
	jerr := json.Unmarshal(body, &a)
	if resp.StatusCode != http.StatusOK || a.Error != "" {
		te := &TokenError{Status: resp.StatusCode, Code: a.Error, Description: cut(a.ErrorDescription, 300), Endpoint: endpoint,
			ClientID: s.ClientID, Scopes: s.Scopes, OurClock: s.clock()}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			te.TheirClock = d
		}
		if te.Code == "" {
			if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
				return "", 0, fmt.Errorf("smart: token endpoint %s answered %s; will try again", endpoint, resp.Status)
			}
			te.Code = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return "", 0, te
	}
	if jerr != nil || a.AccessToken == "" {
		return "", 0, fmt.Errorf("smart: token endpoint %s: the answer holds no access_token", endpoint)
	}
	if a.TokenType != "" && !strings.EqualFold(a.TokenType, "bearer") {
		return "", 0, fmt.Errorf("smart: token endpoint %s: token_type %q is not bearer", endpoint, cut(a.TokenType, 40))
	}
	ttl := defaultTTL
	if n, err := parseExpiresIn(a.ExpiresIn); err == nil && n > 0 {
		ttl = time.Duration(n) * time.Second
	}
	if s.Log != nil {
		// The token itself is never logged.
		s.Log.Info("smart: access token obtained", "endpoint", endpoint, "client", s.ClientID, "expires_in", ttl.String(), "scope", cut(a.Scope, 500))
	}
	return a.AccessToken, ttl, nil
}

// parseExpiresIn reads expires_in, a number (or, from some servers, a
// string of one).
func parseExpiresIn(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 {
		return 0, errors.New("absent")
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return int64(f), nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, err
	}
	var n int64
	_, err := fmt.Sscan(str, &n)
	return n, err
}

// smartConfiguration is the part of .well-known/smart-configuration we use.
type smartConfiguration struct {
	TokenEndpoint    string   `json:"token_endpoint"`
	AuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	SigningAlgValues []string `json:"token_endpoint_auth_signing_alg_values_supported"`
}

// tokenEndpoint discovers the token endpoint once (falling back to TokenURL).
func (s *TokenSource) tokenEndpoint(ctx context.Context) (string, error) {
	s.mu.Lock()
	ep := s.endpoint
	s.mu.Unlock()
	if ep != "" {
		return ep, nil
	}
	var derr error
	if s.FHIRBase != "" {
		ep, derr = s.discover(ctx)
	}
	if ep == "" {
		if s.TokenURL == "" {
			if derr == nil {
				derr = errors.New("no FHIR base URL to discover it from")
			}
			return "", fmt.Errorf("smart: no token endpoint: %w; set fhir.ehr.token_url", derr)
		}
		if derr != nil && s.Log != nil {
			s.Log.Warn("smart: discovery failed; using the configured token URL", "token_url", s.TokenURL, "err", derr.Error())
		}
		ep = s.TokenURL
	}
	if err := CheckURL(ep); err != nil {
		return "", fmt.Errorf("smart: token endpoint: %w", err)
	}
	s.mu.Lock()
	s.endpoint = ep
	s.mu.Unlock()
	return ep, nil
}

func (s *TokenSource) discover(ctx context.Context) (string, error) {
	u := strings.TrimRight(s.FHIRBase, "/") + "/.well-known/smart-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery at %s: %w", u, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery at %s answered %s", u, resp.Status)
	}
	var c smartConfiguration
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&c); err != nil {
		return "", fmt.Errorf("discovery at %s: %w", u, err)
	}
	if c.TokenEndpoint == "" {
		return "", fmt.Errorf("discovery at %s names no token_endpoint", u)
	}
	if s.Log != nil {
		if len(c.AuthMethods) > 0 && !slices.Contains(c.AuthMethods, "private_key_jwt") {
			s.Log.Warn("smart: the EHR does not list private_key_jwt among its token endpoint auth methods", "methods", strings.Join(c.AuthMethods, " "))
		}
		if alg := s.Keys.alg(); len(c.SigningAlgValues) > 0 && !slices.Contains(c.SigningAlgValues, alg) {
			s.Log.Warn("smart: the EHR does not list our signing algorithm", "alg", alg, "supported", strings.Join(c.SigningAlgValues, " "))
		}
	}
	return c.TokenEndpoint, nil
}

// redactURLError keeps a *url.Error's cause and operation but not its URL
// query (none of ours holds a secret, but an endpoint configured with one
// should not leak into logs).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// CheckURL accepts https URLs, and http only to this machine (tests,
// a local stand-in).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && tlsconf.IsLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: must be https (plain http only to this machine)", raw)
}
