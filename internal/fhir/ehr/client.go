package ehr

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenSource gives access tokens (smart.TokenSource).
type TokenSource interface {
	// Token returns a valid access token.
	Token(ctx context.Context) (string, error)
	// Invalidate forgets token when it is still the cached one.
	Invalidate(token string)
}

// Client talks to one EHR's FHIR API.
type Client struct {
	Base    string      // the FHIR base URL, e.g. https://ehr.example.org/fhir/R4
	Tokens  TokenSource // nil: requests go without Authorization (tests)
	HTTP    *http.Client
	Timeout time.Duration // bound on one request; default 60 s
	// MaxResponse bounds what is read of one answer; default 32 MiB.
	MaxResponse int64
	Log         *slog.Logger // may be nil
}

// fhirJSON is the media type of every body sent and asked for.
const fhirJSON = "application/fhir+json"

// answer is a read HTTP response.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// base is Base without a trailing slash.
func (c *Client) base() string { return strings.TrimRight(c.Base, "/") }

// do sends one request with a bearer token; on 401 it drops the token and
// tries once more with a new one. The error is a transport error (no
// answer); an answer of any status is returned as is.
func (c *Client) do(ctx context.Context, method, u string, body []byte) (*answer, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for try := 0; ; try++ {
		token := ""
		if c.Tokens != nil {
			var err error
			if token, err = c.Tokens.Token(ctx); err != nil {
				return nil, fmt.Errorf("access token: %w", err)
			}
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", fhirJSON)
		if body != nil {
			req.Header.Set("Content-Type", fhirJSON)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, unwrapURL(err)
		}
		limit := c.MaxResponse
		if limit <= 0 {
			limit = 32 << 20
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("the answer is over %d bytes", limit)
		}
		if resp.StatusCode == http.StatusUnauthorized && c.Tokens != nil && try == 0 {
			// The token expired early or was revoked (invalid_token): one
			// more try with a fresh one.
			c.Tokens.Invalidate(token)
			if c.Log != nil {
				c.Log.Info("ehr: access token refused; renewing it", "challenge", challengeError(resp.Header.Get("WWW-Authenticate")))
			}
			continue
		}
		return &answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
	}
}

// challengeError is the error code of a Bearer challenge (RFC 6750), e.g.
// invalid_token; never its description.
func challengeError(h string) string {
	i := strings.Index(h, `error="`)
	if i < 0 {
		return ""
	}
	rest := h[i+len(`error="`):]
	if j := strings.IndexByte(rest, '"'); j >= 0 && j < 64 {
		return rest[:j]
	}
	return ""
}

// unwrapURL keeps the cause of a *url.Error without repeating the URL.
func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// sameOrigin reports whether u is on the EHR's scheme and host: a token
// is never sent anywhere else (a next link, an absolute reference).
func (c *Client) sameOrigin(u string) bool {
	a, err1 := url.Parse(c.Base)
	b, err2 := url.Parse(u)
	return err1 == nil && err2 == nil && strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// resolve turns a reference or link into an absolute URL on the EHR.
func (c *Client) resolve(ref string) (string, error) {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		if !c.sameOrigin(ref) {
			return "", fmt.Errorf("%q is not on the EHR's server", ref)
		}
		return ref, nil
	}
	return c.base() + "/" + strings.TrimLeft(ref, "/"), nil
}
