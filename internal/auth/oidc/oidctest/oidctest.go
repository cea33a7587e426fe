// Package oidctest gives tests a real OpenID provider: npm oidc-provider,
// configured by scripts/node/oidc-provider.mjs. Shared returns the one that
// scripts/services/oidc.sh started for the whole test run; Start runs a
// private one (with keys the test chose, if it likes) that the test may
// stop, restart and rotate keys on without disturbing other packages.
// Both skip the test, saying why, when the environment lacks the provider.
//
// The provider's clients and accounts are fixed by the script: see the
// constants and Accounts here.
package oidctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The provider's clients.
const (
	// ServiceClient: confidential, client credentials, tokens signed RS256,
	// app role "service".
	ServiceClient = "clinomics-service"
	// ServiceClientES: the same with ES256.
	ServiceClientES = "clinomics-service-es"
	// NoRoleClient: confidential, client credentials, no app role.
	NoRoleClient = "clinomics-norole"
	// CLIClient: public, device authorization grant and refresh_token.
	CLIClient = "clinomics-cli"
	// APIScope is the API's scope that user tokens carry.
	APIScope = "access_as_user"
)

// Accounts maps each test account's login to its app roles. Their tokens
// also carry groups, name, preferred_username (LOGIN@clinomics.test), email,
// oid and tid.
var Accounts = map[string][]string{
	"admin":            {"administrator"},
	"labtech":          {"lab-technician"},
	"bioinformatician": {"bioinformatician"},
	"clinician":        {"clinician"},
	"researcher":       {"researcher"},
	"auditor":          {"auditor"},
	"nobody":           nil,
}

// Environment variables set by scripts/services/oidc.sh.
const (
	EnvIssuer       = "CLINOMICS_TEST_OIDC_ISSUER"
	EnvAudience     = "CLINOMICS_TEST_OIDC_AUDIENCE"
	EnvClientSecret = "CLINOMICS_TEST_OIDC_CLIENT_SECRET"
	EnvAdminToken   = "CLINOMICS_TEST_OIDC_ADMIN_TOKEN"
	EnvNode         = "CLINOMICS_TEST_OIDC_NODE"
	EnvScript       = "CLINOMICS_TEST_OIDC_SCRIPT"
)

// Provider is a running test OpenID provider.
type Provider struct {
	Issuer       string // http://127.0.0.1:PORT
	Audience     string // the API's audience and resource indicator
	ClientSecret string // of every confidential client
	AdminToken   string // for the /admin routes

	// A private provider (Start) only:
	node, script, state string
	port                int
	mu                  sync.Mutex
	cmd                 *exec.Cmd
	done                chan struct{}
	output              *lockedBuffer
}

// Shared returns the provider started by scripts/services/oidc.sh, or skips
// t when CLINOMICS_TEST_OIDC_ISSUER is not set.
func Shared(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{
		Issuer:       os.Getenv(EnvIssuer),
		Audience:     os.Getenv(EnvAudience),
		ClientSecret: os.Getenv(EnvClientSecret),
		AdminToken:   os.Getenv(EnvAdminToken),
	}
	if p.Issuer == "" {
		t.Skipf("%s not set: no OpenID provider (scripts/test starts one; or source scripts/services/oidc.sh and run oidc_start DIR)", EnvIssuer)
	}
	if p.Audience == "" || p.ClientSecret == "" {
		t.Fatalf("%s is set but %s or %s is not", EnvIssuer, EnvAudience, EnvClientSecret)
	}
	return p
}

// Start runs a private provider for t on a free port and stops it when t
// ends. keys, if not nil, is a JWKS with private keys (JSON) that the
// provider signs with and publishes; otherwise it makes an RSA and a P-256
// key. Skips t when CLINOMICS_TEST_OIDC_NODE or _SCRIPT is not set.
func Start(t testing.TB, keys []byte) *Provider {
	t.Helper()
	p := &Provider{
		node:         os.Getenv(EnvNode),
		script:       os.Getenv(EnvScript),
		state:        t.TempDir(),
		Audience:     "api://clinomics",
		ClientSecret: randomString(t),
		AdminToken:   randomString(t),
		output:       &lockedBuffer{},
	}
	if p.node == "" || p.script == "" {
		t.Skipf("%s or %s not set: cannot start a private OpenID provider (scripts/test sets them)", EnvNode, EnvScript)
	}
	if keys != nil {
		if err := os.WriteFile(filepath.Join(p.state, "keys.json"), keys, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("oidc-provider output:\n%s", p.output.String())
		}
	})
	if err := p.start(0); err != nil {
		t.Fatal(err)
	}
	return p
}

// Stop stops a private provider; its keys stay in its state folder.
func (p *Provider) Stop(t testing.TB) {
	t.Helper()
	if p.script == "" {
		t.Fatal("oidctest: Stop on the shared provider")
	}
	p.stop()
}

// Restart starts a stopped private provider again, on the same port and
// with the same keys.
func (p *Provider) Restart(t testing.TB) {
	t.Helper()
	if p.script == "" {
		t.Fatal("oidctest: Restart on the shared provider")
	}
	p.stop()
	var err error
	for range 20 { // the port may linger for a moment
		if err = p.start(p.port); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
}

func (p *Provider) start(port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.node, p.script, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--state", p.state)
	cmd.Env = append(os.Environ(),
		"OIDC_CLIENT_SECRET="+p.ClientSecret,
		"OIDC_ADMIN_TOKEN="+p.AdminToken,
		"OIDC_AUDIENCE="+p.Audience,
		"OIDC_DEVICE_INTERVAL=1",
	)
	cmd.Dir = filepath.Dir(p.script)
	hello := &firstLine{w: p.output, line: make(chan string, 1)}
	cmd.Stdout = hello
	cmd.Stderr = p.output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("oidctest: starting %s: %w", p.script, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var err error
	select {
	case line := <-hello.line:
		var h struct {
			Issuer string `json:"issuer"`
			Port   int    `json:"port"`
		}
		if json.Unmarshal([]byte(line), &h) != nil || h.Issuer == "" {
			err = fmt.Errorf("oidctest: provider said %q, not its issuer", line)
		} else {
			p.Issuer, p.port = h.Issuer, h.Port
		}
	case <-done:
		err = errors.New("oidctest: provider exited before it was ready")
	case <-time.After(30 * time.Second):
		err = errors.New("oidctest: provider not ready after 30 s")
	}
	if err != nil {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w\n%s", err, p.output.String())
	}
	p.cmd, p.done = cmd, done
	return nil
}

func (p *Provider) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// Rotate makes new signing keys current: keys (a JWKS with private keys,
// JSON) or, if nil, freshly generated ones. The old keys stay published
// unless keep is false. It returns the new keys' kids.
func (p *Provider) Rotate(t testing.TB, keys []byte, keep bool) []string {
	t.Helper()
	u := p.Issuer + "/admin/rotate"
	if !keep {
		u += "?keep=0"
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(keys))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.AdminToken)
	var out struct {
		Kids []string `json:"kids"`
	}
	if err := doJSON(http.DefaultClient, req, &out); err != nil {
		t.Fatalf("oidctest: rotate keys: %v", err)
	}
	return out.Kids
}

// ServiceToken returns an access token for the API from the
// client-credentials grant of clientID (one of the confidential clients).
func (p *Provider) ServiceToken(t testing.TB, clientID string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {p.Audience}}
	req, err := http.NewRequest(http.MethodPost, p.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, p.ClientSecret)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(http.DefaultClient, req, &out); err != nil || out.AccessToken == "" {
		t.Fatalf("oidctest: client credentials for %s: %v", clientID, err)
	}
	return out.AccessToken
}

// UserToken runs the device flow of CLIClient for the account login,
// approving it as ApproveDevice does, and returns the API access token.
func (p *Provider) UserToken(t testing.TB, login string) string {
	t.Helper()
	form := url.Values{"client_id": {CLIClient}, "scope": {"openid profile email " + APIScope}, "resource": {p.Audience}}
	var start struct {
		DeviceCode string `json:"device_code"`
		Complete   string `json:"verification_uri_complete"`
		Interval   int    `json:"interval"`
	}
	if err := doJSON(http.DefaultClient, postForm(t, p.Issuer+"/device/auth", form), &start); err != nil {
		t.Fatalf("oidctest: device authorization: %v", err)
	}
	if err := p.ApproveDevice(context.Background(), start.Complete, login); err != nil {
		t.Fatal(err)
	}
	poll := url.Values{"client_id": {CLIClient}, "device_code": {start.DeviceCode},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(http.DefaultClient, postForm(t, p.Issuer+"/token", poll), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("oidctest: device token: %v", err)
	}
	return tok.AccessToken
}

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)"/>`)
	loginForm   = regexp.MustCompile(`<form id="login" method="post" action="(/interaction/[A-Za-z0-9_-]+/login)">`)
)

// ApproveDevice does what a person does in the browser for a device code:
// opens verificationURIComplete, confirms the code, signs in as login
// (an account of Accounts, or another name to be refused) and lets the
// provider grant consent. A nil error means the provider said the sign-in
// succeeded; the device's next poll gets its tokens.
func (p *Provider) ApproveDevice(ctx context.Context, verificationURIComplete, login string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		return readPage(c.Do(req))
	}
	post := func(u string, form url.Values) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return readPage(c.Do(req))
	}
	hidden := func(page string) url.Values {
		v := url.Values{}
		for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
			v.Set(m[1], htmlUnescape(m[2]))
		}
		return v
	}

	// 1. The verification page with the code filled in posts itself.
	page, err := get(verificationURIComplete)
	if err != nil {
		return fmt.Errorf("oidctest: open verification page: %w", err)
	}
	form := hidden(page)
	if form.Get("xsrf") == "" || form.Get("user_code") == "" {
		return errors.New("oidctest: verification page has no code form")
	}
	// 2. The confirm page: post it with confirm=yes.
	if page, err = post(p.Issuer+"/device", form); err != nil {
		return fmt.Errorf("oidctest: submit user code: %w", err)
	}
	form = hidden(page)
	if form.Get("confirm") != "yes" {
		return errors.New("oidctest: the provider did not accept the user code")
	}
	// 3. Redirected to the login form of the interaction.
	if page, err = post(p.Issuer+"/device", form); err != nil {
		return fmt.Errorf("oidctest: confirm user code: %w", err)
	}
	m := loginForm.FindStringSubmatch(page)
	if m == nil {
		return errors.New("oidctest: no login form after confirming the code")
	}
	// 4. Sign in; consent follows automatically, then the success page.
	if page, err = post(p.Issuer+m[1], url.Values{"login": {login}}); err != nil {
		return fmt.Errorf("oidctest: sign in: %w", err)
	}
	if !strings.Contains(page, `id="device-success"`) {
		return fmt.Errorf("oidctest: sign-in as %q not accepted", login)
	}
	return nil
}

func readPage(resp *http.Response, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.Status)
	}
	return string(b), nil
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&#x27;", "'").Replace(s)
}

func postForm(t testing.TB, u string, form url.Values) *http.Request {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func doJSON(c *http.Client, req *http.Request, v any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

func randomString(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// firstLine passes output on to w and sends its first line on line.
type firstLine struct {
	w    io.Writer
	buf  []byte
	sent bool
	line chan string
}

func (f *firstLine) Write(p []byte) (int, error) {
	if !f.sent {
		f.buf = append(f.buf, p...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.line <- string(f.buf[:i])
			f.sent = true
			f.buf = nil
		}
	}
	return f.w.Write(p)
}

// lockedBuffer collects the provider's output from two goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
