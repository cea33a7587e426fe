package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinomics/clinomics/internal/auth/oidc/oidctest"
)

func TestClientCredentials(t *testing.T) {
	p := oidctest.Shared(t)
	v, err := New(Options{Issuer: p.Issuer, Audiences: []string{p.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client Client
		roles  []string
		want   string // OAuth error code; "": a token
	}{
		{"basic auth, by discovery", Client{Issuer: p.Issuer, ClientID: oidctest.ServiceClient, ClientSecret: p.ClientSecret, Resource: p.Audience}, []string{"service"}, ""},
		{"secret in body", Client{Issuer: p.Issuer, ClientID: oidctest.ServiceClientES, ClientSecret: p.ClientSecret, Resource: p.Audience, SecretInBody: true}, []string{"service"}, ""},
		{"token URL given", Client{TokenURL: p.Issuer + "/token", ClientID: oidctest.NoRoleClient, ClientSecret: p.ClientSecret, Resource: p.Audience}, nil, ""},
		{"wrong secret", Client{Issuer: p.Issuer, ClientID: oidctest.ServiceClient, ClientSecret: "wrong", Resource: p.Audience}, nil, "invalid_client"},
		{"unknown client", Client{Issuer: p.Issuer, ClientID: "nobody", ClientSecret: p.ClientSecret, Resource: p.Audience}, nil, "invalid_client"},
		{"unknown resource", Client{Issuer: p.Issuer, ClientID: oidctest.ServiceClient, ClientSecret: p.ClientSecret, Resource: "api://other"}, nil, "invalid_target"},
		{"public client may not", Client{Issuer: p.Issuer, ClientID: oidctest.CLIClient, ClientSecret: "x", Resource: p.Audience}, nil, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.client.ClientCredentials(context.Background())
			if tc.want != "" {
				var oe *OAuthError
				if !errors.As(err, &oe) || oe.Code != tc.want {
					t.Fatalf("ClientCredentials: %v, want OAuth error %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.Expired(time.Now(), time.Minute) || tok.RefreshToken != "" {
				t.Errorf("token %v", tok)
			}
			for _, s := range []string{tok.String(), tok.GoString()} {
				if strings.Contains(s, tok.AccessToken[:20]) {
					t.Errorf("String shows the token: %s", s)
				}
			}
			c, err := v.Verify(context.Background(), tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if !c.AppOnly || c.ClientID != tc.client.ClientID || !slices.Equal(c.Roles, tc.roles) {
				t.Errorf("claims: app-only %v client %q roles %q", c.AppOnly, c.ClientID, c.Roles)
			}
		})
	}
}

// pollRecorder records the OAuth error codes of the token endpoint's
// answers, leaving them readable.
type pollRecorder struct {
	mu    sync.Mutex
	codes []string
}

func (r *pollRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(body, &e)
	r.mu.Lock()
	r.codes = append(r.codes, e.Error)
	r.mu.Unlock()
	return resp, nil
}

func (r *pollRecorder) count(code string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.codes {
		if c == code {
			n++
		}
	}
	return n
}

// lineWriter hands each line written to it to a channel.
type lineWriter struct {
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

var completeURL = regexp.MustCompile(`\(or open (\S+)\)`)

// The device flow of `clinomics login`: the user is told where to go, the
// test approves it through the provider's own pages, polling copes with
// authorization_pending and slow_down, and the token verifies as the user.
func TestDeviceLogin(t *testing.T) {
	p := oidctest.Shared(t)
	v, err := New(Options{Issuer: p.Issuer, Audiences: []string{p.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		login string
		roles []string
		want  error // nil: a token
	}{
		{"bioinformatician", []string{"bioinformatician"}, nil},
		{"labtech", []string{"lab-technician"}, nil},
		{"mallory", nil, ErrAccessDenied}, // no such account: sign-in refused
	}
	for _, tc := range tests {
		t.Run(tc.login, func(t *testing.T) {
			rec := &pollRecorder{}
			c := &Client{Issuer: p.Issuer, ClientID: oidctest.CLIClient, Resource: p.Audience,
				Scopes:     []string{"openid", "profile", "email", "offline_access", oidctest.APIScope},
				HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second},
				// Poll faster than the provider's 1 s interval to be told
				// slow_down, and back off by less than the RFC's 5 s.
				pollInterval: 200 * time.Millisecond, slowDown: 300 * time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w := &lineWriter{lines: make(chan string, 10)}
			approved := make(chan error, 1)
			go func() {
				for line := range w.lines {
					if m := completeURL.FindStringSubmatch(line); m != nil {
						time.Sleep(1500 * time.Millisecond) // let the CLI poll a few times
						approved <- p.ApproveDevice(ctx, m[1], tc.login)
						return
					}
				}
			}()
			tok, err := c.DeviceLogin(ctx, w)
			close(w.lines)
			appErr := <-approved
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("DeviceLogin: %v, want %v", err, tc.want)
				}
				if appErr == nil {
					t.Error("the provider accepted the sign-in")
				}
				return
			}
			if appErr != nil {
				t.Fatal(appErr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.count("authorization_pending") == 0 || rec.count("slow_down") == 0 {
				t.Errorf("token endpoint answers %q: want authorization_pending and slow_down among them", rec.codes)
			}
			if tok.RefreshToken == "" || tok.IDToken == "" {
				t.Errorf("token %v: want a refresh token and an ID token", tok)
			}
			claims, err := v.Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if claims.Subject != tc.login || claims.AppOnly || claims.ClientID != oidctest.CLIClient ||
				!slices.Equal(claims.Roles, tc.roles) || claims.Email != tc.login+"@clinomics.test" {
				t.Errorf("claims %+v", claims)
			}

			again, err := c.Refresh(ctx, tok.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if again.AccessToken == tok.AccessToken || again.RefreshToken == "" {
				t.Errorf("refreshed token %v", again)
			}
			if claims, err := v.Verify(ctx, again.AccessToken); err != nil || claims.Subject != tc.login {
				t.Errorf("refreshed token: %v, subject %q", err, claims.Subject)
			}
			if _, err := c.Refresh(ctx, "not-a-refresh-token"); !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("Refresh with a bad token: %v, want ErrInvalidGrant", err)
			}
		})
	}
}

// Polling stops when the context ends, and a device code that is never
// approved expires.
func TestPollDeviceStops(t *testing.T) {
	p := oidctest.Shared(t)
	c := &Client{Issuer: p.Issuer, ClientID: oidctest.CLIClient, Resource: p.Audience}
	ctx := context.Background()
	d, err := c.StartDevice(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Interval != time.Second || d.UserCode == "" || !strings.HasPrefix(d.VerificationURI, p.Issuer) || time.Until(d.ExpiresAt) < time.Minute {
		t.Errorf("device authorization %+v", d)
	}
	short, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	if _, err := c.PollDevice(short, d); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PollDevice with an ending context: %v", err)
	}
	d.ExpiresAt = time.Now()
	if _, err := c.PollDevice(ctx, d); !errors.Is(err, ErrDeviceCodeExpired) {
		t.Errorf("PollDevice past expiry: %v", err)
	}
}

func TestClientNeedsEndpoints(t *testing.T) {
	tests := []struct {
		name string
		c    Client
		run  func(c *Client) error
		want string
	}{
		{"no issuer", Client{ClientID: "a", ClientSecret: "b"}, func(c *Client) error { _, err := c.ClientCredentials(context.Background()); return err }, "issuer"},
		{"no secret", Client{Issuer: "https://x.example", ClientID: "a"}, func(c *Client) error { _, err := c.ClientCredentials(context.Background()); return err }, "secret"},
		{"plain http token URL", Client{TokenURL: "http://idp.example/token", ClientID: "a", ClientSecret: "b"}, func(c *Client) error { _, err := c.ClientCredentials(context.Background()); return err }, "https"},
		{"no device endpoint", Client{TokenURL: "https://idp.example/token", ClientID: "a"}, func(c *Client) error { _, err := c.StartDevice(context.Background()); return err }, "issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(&tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`900`, 900 * time.Second, true},
		{`"900"`, 900 * time.Second, true},
		{`1.5`, 1500 * time.Millisecond, true},
		{`null`, 0, false},
		{``, 0, false},
		{`-1`, 0, false},
		{`"soon"`, 0, false},
		{`1e300`, 0, false},
	}
	for _, tc := range tests {
		got, ok := seconds(json.RawMessage(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("seconds(%s) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
