package oidc

import (
	"github.com/clinomics/clinomics/internal/tlsconf"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxDocument bounds every document read from an identity provider
// (discovery, JWKS, token responses).
const maxDocument = 1 << 20

// defaultHTTPTimeout bounds one request to the identity provider when the
// caller gives no http.Client.
const defaultHTTPTimeout = 10 * time.Second

var defaultHTTPClient = &http.Client{Timeout: defaultHTTPTimeout}

// Metadata is the part of an OpenID provider's discovery document
// (OpenID Connect Discovery 1.0, RFC 8414) that this package uses.
type Metadata struct {
	Issuer                      string   `json:"issuer"`
	JWKSURI                     string   `json:"jwks_uri"`
	TokenEndpoint               string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint"`
	AuthorizationEndpoint       string   `json:"authorization_endpoint"`
	IDTokenSigningAlgs          []string `json:"id_token_signing_alg_values_supported"`
}

// DiscoveryURL is where issuer publishes its discovery document.
func DiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// Discover fetches issuer's discovery document. Its "issuer" must equal
// issuer exactly, and every endpoint it names must be https (or http on a
// loopback address, for tests and local development). A nil client means a
// default one with a 10 s timeout.
func Discover(ctx context.Context, client *http.Client, issuer string) (*Metadata, error) {
	if err := checkEndpoint("issuer", issuer); err != nil {
		return nil, err
	}
	var m Metadata
	if err := getJSON(ctx, client, DiscoveryURL(issuer), &m); err != nil {
		return nil, fmt.Errorf("oidc: discovery: %w", err)
	}
	if m.Issuer != issuer {
		return nil, fmt.Errorf("oidc: discovery document of %s names another issuer", issuer)
	}
	for _, e := range []struct{ name, url string }{
		{"jwks_uri", m.JWKSURI},
		{"token_endpoint", m.TokenEndpoint},
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint},
		{"authorization_endpoint", m.AuthorizationEndpoint},
	} {
		if e.url == "" {
			continue
		}
		if err := checkEndpoint(e.name, e.url); err != nil {
			return nil, fmt.Errorf("oidc: discovery document of %s: %w", issuer, err)
		}
	}
	return &m, nil
}

// checkEndpoint accepts an absolute https URL, or http on a loopback host.
func checkEndpoint(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("oidc: %s %q is not an absolute URL", name, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if tlsconf.IsLoopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("oidc: %s %q must be https (http only on a loopback address)", name, raw)
}

// getJSON GETs url and decodes a JSON body of at most maxDocument bytes.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient(client).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return decodeJSON(resp, v)
}

// decodeJSON reads resp's body (at most maxDocument bytes) as one JSON value.
func decodeJSON(resp *http.Response, v any) error {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return fmt.Errorf("%s %s: content type %q is not JSON", resp.Request.Method, resp.Request.URL, ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return err
	}
	if len(body) > maxDocument {
		return fmt.Errorf("%s %s: response over %d bytes", resp.Request.Method, resp.Request.URL, maxDocument)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: invalid JSON: %w", resp.Request.Method, resp.Request.URL, err)
	}
	return nil
}

func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return defaultHTTPClient
}
