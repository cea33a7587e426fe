package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of the token endpoint that a caller acts on; an *OAuthError with
// that code matches them with errors.Is.
var (
	// ErrAccessDenied: the user declined (device flow), or the client may
	// not have the token it asked for.
	ErrAccessDenied = errors.New("oidc: access denied")
	// ErrDeviceCodeExpired: the user did not approve the device code in time.
	ErrDeviceCodeExpired = errors.New("oidc: device code expired")
	// ErrInvalidGrant: the refresh token (or device code) is no longer valid;
	// sign in again.
	ErrInvalidGrant = errors.New("oidc: grant invalid or expired")
)

// OAuthError is an error answer of a token or device authorization
// endpoint (RFC 6749 section 5.2). Its description comes from the IdP.
type OAuthError struct {
	StatusCode  int
	Code        string // "invalid_client", "authorization_pending", ...
	Description string
}

func (e *OAuthError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("oidc: %s: %s", e.Code, e.Description)
	}
	return "oidc: " + e.Code
}

// Is maps the codes callers act on to ErrAccessDenied,
// ErrDeviceCodeExpired and ErrInvalidGrant.
func (e *OAuthError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Code == "access_denied"
	case ErrDeviceCodeExpired:
		return e.Code == "expired_token"
	case ErrInvalidGrant:
		return e.Code == "invalid_grant"
	}
	return false
}

// Token is a token endpoint's answer. Its String, GoString and LogValue
// never show the tokens themselves; encoding/json does (for a token cache).
type Token struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Scope        string    `json:"scope,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"` // zero: the IdP did not say
}

// Expired reports whether the access token is expired at now, or will be
// within leeway. A token without an expiry never is.
func (t *Token) Expired(now time.Time, leeway time.Duration) bool {
	return !t.ExpiresAt.IsZero() && !now.Add(leeway).Before(t.ExpiresAt)
}

func (t *Token) String() string {
	if t == nil {
		return "oidc.Token(nil)"
	}
	return fmt.Sprintf("oidc.Token{type: %s, expires: %s, refresh: %t}",
		t.TokenType, t.ExpiresAt.Format(time.RFC3339), t.RefreshToken != "")
}

func (t *Token) GoString() string { return t.String() }

func (t *Token) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("nil")
	}
	return slog.GroupValue(slog.String("type", t.TokenType), slog.Time("expires", t.ExpiresAt),
		slog.Bool("refresh", t.RefreshToken != ""))
}

// Client obtains tokens from an identity provider: client credentials for
// a service principal, the device authorization grant for a person at a
// terminal, and refresh.
type Client struct {
	// Issuer is used to discover the endpoints that are not set below.
	Issuer                 string
	TokenURL               string
	DeviceAuthorizationURL string
	ClientID               string
	// ClientSecret of a confidential client; empty for a public client (the
	// CLI's device flow), which sends only client_id.
	ClientSecret string
	// SecretInBody sends the secret as client_secret in the form
	// (client_secret_post) instead of HTTP Basic (client_secret_basic).
	SecretInBody bool
	// Resource is the RFC 8707 resource indicator of the API
	// ("api://clinomics"), sent as "resource". Entra ID v1 endpoints take
	// it; v2 endpoints refuse it and want Scopes such as
	// "api://clinomics/.default" instead.
	Resource string
	// Scopes asked for, sent as "scope".
	Scopes []string
	// HTTPClient; default one with a 10 s timeout.
	HTTPClient *http.Client

	// pollInterval, when set, replaces the server's device-flow interval,
	// and slowDown the 5 s that slow_down adds (RFC 8628 section 3.5); tests
	// set them to stay fast.
	pollInterval time.Duration
	slowDown     time.Duration
}

// endpoints fills TokenURL and DeviceAuthorizationURL from discovery when
// one that is needed is missing.
func (c *Client) endpoints(ctx context.Context, needDevice bool) (token, device string, err error) {
	token, device = c.TokenURL, c.DeviceAuthorizationURL
	if token == "" || (needDevice && device == "") {
		if c.Issuer == "" {
			return "", "", errors.New("oidc: client needs an issuer or the endpoint URLs")
		}
		m, err := Discover(ctx, c.HTTPClient, c.Issuer)
		if err != nil {
			return "", "", err
		}
		if token == "" {
			token = m.TokenEndpoint
		}
		if device == "" {
			device = m.DeviceAuthorizationEndpoint
		}
	}
	if token == "" {
		return "", "", errors.New("oidc: the identity provider has no token endpoint")
	}
	if needDevice && device == "" {
		return "", "", errors.New("oidc: the identity provider does not offer the device authorization grant")
	}
	for _, e := range []struct{ name, u string }{{"token endpoint", token}, {"device authorization endpoint", device}} {
		if e.u != "" {
			if err := checkEndpoint(e.name, e.u); err != nil {
				return "", "", err
			}
		}
	}
	return token, device, nil
}

// ClientCredentials gets a token for the client itself (a service
// principal): the client-credentials grant, RFC 6749 section 4.4.
func (c *Client) ClientCredentials(ctx context.Context) (*Token, error) {
	if c.ClientID == "" || c.ClientSecret == "" {
		return nil, errors.New("oidc: client credentials need a client id and secret")
	}
	tokenURL, _, err := c.endpoints(ctx, false)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	c.addResource(form, true)
	return c.token(ctx, tokenURL, form)
}

// Refresh exchanges a refresh token for a new token. The answer may omit a
// refresh token, in which case the old one is kept in the result.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, errors.New("oidc: no refresh token")
	}
	tokenURL, _, err := c.endpoints(ctx, false)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	c.addResource(form, false)
	t, err := c.token(ctx, tokenURL, form)
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

func (c *Client) addResource(form url.Values, scopes bool) {
	if c.Resource != "" {
		form.Set("resource", c.Resource)
	}
	if scopes && len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
}

// DeviceAuthorization is the answer to the start of a device flow.
type DeviceAuthorization struct {
	DeviceCode              string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string // may be empty
	ExpiresAt               time.Time
	Interval                time.Duration
	Message                 string // the IdP's own instructions, if it gives any
}

// StartDevice starts the device authorization grant (RFC 8628 section 3.1).
func (c *Client) StartDevice(ctx context.Context) (*DeviceAuthorization, error) {
	if c.ClientID == "" {
		return nil, errors.New("oidc: the device flow needs a client id")
	}
	_, deviceURL, err := c.endpoints(ctx, true)
	if err != nil {
		return nil, err
	}
	form := url.Values{}
	c.addResource(form, true)
	resp, err := c.post(ctx, deviceURL, form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, oauthError(resp)
	}
	var r struct {
		DeviceCode              string          `json:"device_code"`
		UserCode                string          `json:"user_code"`
		VerificationURI         string          `json:"verification_uri"`
		VerificationURL         string          `json:"verification_url"` // Entra ID v1
		VerificationURIComplete string          `json:"verification_uri_complete"`
		ExpiresIn               json.RawMessage `json:"expires_in"`
		Interval                json.RawMessage `json:"interval"`
		Message                 string          `json:"message"`
	}
	if err := decodeJSON(resp, &r); err != nil {
		return nil, fmt.Errorf("oidc: device authorization: %w", err)
	}
	d := &DeviceAuthorization{
		DeviceCode:              r.DeviceCode,
		UserCode:                r.UserCode,
		VerificationURI:         firstOf(r.VerificationURI, r.VerificationURL),
		VerificationURIComplete: r.VerificationURIComplete,
		Message:                 r.Message,
	}
	if d.DeviceCode == "" || d.UserCode == "" || d.VerificationURI == "" {
		return nil, errors.New("oidc: device authorization answer lacks device_code, user_code or verification_uri")
	}
	expiresIn, ok := seconds(r.ExpiresIn)
	if !ok || expiresIn <= 0 {
		return nil, errors.New("oidc: device authorization answer lacks expires_in")
	}
	d.ExpiresAt = time.Now().Add(expiresIn)
	d.Interval, ok = seconds(r.Interval)
	if !ok || d.Interval <= 0 {
		d.Interval = 5 * time.Second // RFC 8628 section 3.2
	}
	return d, nil
}

// PollDevice polls the token endpoint until the user approves or declines
// the device code, the code expires, or ctx ends (RFC 8628 section 3.4).
// It waits Interval between polls and 5 s longer after each slow_down.
func (c *Client) PollDevice(ctx context.Context, d *DeviceAuthorization) (*Token, error) {
	tokenURL, _, err := c.endpoints(ctx, false)
	if err != nil {
		return nil, err
	}
	interval := d.Interval
	if c.pollInterval > 0 {
		interval = c.pollInterval
	}
	step := 5 * time.Second
	if c.slowDown > 0 {
		step = c.slowDown
	}
	form := url.Values{
		"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {d.DeviceCode},
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
		}
		if !d.ExpiresAt.IsZero() && time.Now().After(d.ExpiresAt) {
			return nil, &OAuthError{Code: "expired_token", Description: "the code was not approved in time"}
		}
		t, err := c.token(ctx, tokenURL, form)
		var oe *OAuthError
		switch {
		case err == nil:
			return t, nil
		case errors.As(err, &oe) && oe.Code == "authorization_pending":
		case errors.As(err, &oe) && oe.Code == "slow_down":
			interval += step
		default:
			return nil, err
		}
		timer.Reset(interval)
	}
}

// DeviceLogin runs the whole device flow: it starts it, tells the user on w
// where to go and which code to enter, and polls until done.
func (c *Client) DeviceLogin(ctx context.Context, w io.Writer) (*Token, error) {
	d, err := c.StartDevice(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "To sign in, open %s in a browser and enter the code %s\n", d.VerificationURI, d.UserCode)
	if d.VerificationURIComplete != "" {
		fmt.Fprintf(w, "(or open %s)\n", d.VerificationURIComplete)
	}
	fmt.Fprintf(w, "Waiting for approval; the code expires at %s.\n", d.ExpiresAt.Format("15:04:05"))
	return c.PollDevice(ctx, d)
}

// token POSTs form to the token endpoint and reads a token answer.
func (c *Client) token(ctx context.Context, tokenURL string, form url.Values) (*Token, error) {
	resp, err := c.post(ctx, tokenURL, form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, oauthError(resp)
	}
	var r struct {
		AccessToken  string          `json:"access_token"`
		TokenType    string          `json:"token_type"`
		RefreshToken string          `json:"refresh_token"`
		IDToken      string          `json:"id_token"`
		Scope        string          `json:"scope"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
	}
	if err := decodeJSON(resp, &r); err != nil {
		return nil, fmt.Errorf("oidc: token endpoint: %w", err)
	}
	if r.AccessToken == "" {
		return nil, errors.New("oidc: token endpoint answered without an access token")
	}
	if !strings.EqualFold(r.TokenType, "Bearer") {
		return nil, fmt.Errorf("oidc: token endpoint answered with token type %q, not Bearer", r.TokenType)
	}
	t := &Token{AccessToken: r.AccessToken, TokenType: "Bearer", RefreshToken: r.RefreshToken,
		IDToken: r.IDToken, Scope: r.Scope}
	if d, ok := seconds(r.ExpiresIn); ok && d > 0 {
		t.ExpiresAt = time.Now().Add(d)
	}
	return t, nil
}

// post sends a form with the client's authentication.
func (c *Client) post(ctx context.Context, endpoint string, form url.Values) (*http.Response, error) {
	switch {
	case c.ClientSecret == "":
		form.Set("client_id", c.ClientID)
	case c.SecretInBody:
		form.Set("client_id", c.ClientID)
		form.Set("client_secret", c.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.ClientSecret != "" && !c.SecretInBody {
		// RFC 6749 section 2.3.1: both are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	}
	resp, err := httpClient(c.HTTPClient).Do(req)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// oauthError reads an error answer; one that is not OAuth JSON becomes an
// *OAuthError with the HTTP status as code.
func oauthError(resp *http.Response) error {
	var r struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := decodeJSON(resp, &r); err != nil || r.Error == "" {
		return &OAuthError{StatusCode: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode)}
	}
	const maxDescription = 300
	if len(r.Description) > maxDescription {
		r.Description = r.Description[:maxDescription] + "..."
	}
	return &OAuthError{StatusCode: resp.StatusCode, Code: r.Error, Description: r.Description}
}

// seconds reads a JSON number of seconds, or a string holding one (as
// older Entra ID endpoints send).
func seconds(raw json.RawMessage) (time.Duration, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		n = json.Number(s)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e9 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
