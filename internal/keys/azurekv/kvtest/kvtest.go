// Package kvtest is a hand-written, in-memory Azure Key Vault for tests. It
// serves the part of the Key Vault keys REST API (api-version 2025-07-01)
// that the azkeys v1.5.0 client sends for create, get, rotate, wrapkey,
// unwrapkey, delete, get deleted and purge: the paths, methods and JSON
// fields (bytes as unpadded base64url, times as Unix seconds) of the REST
// reference, real RSA-OAEP-256 and RSA-OAEP, soft delete with an optional
// purge protection, the bearer challenge the SDK answers (a first 401 with
// WWW-Authenticate naming the tenant and resource), and Key Vault's error
// shape {"error":{"code":...,"message":...}}. Names compare
// case-insensitively, as in Key Vault.
//
// It models the contract, not the service: no access policies, backup,
// listing, import or release; one vault, one token. Anything else is
// answered 501 NotImplemented so that a new call from the SDK shows up.
//
// The vault is served over TLS as https://kvtest.vault.azure.net/ (so the
// SDK's check that the challenge resource matches the vault's domain runs
// as in production); HTTPClient trusts its certificate and dials it
// whatever the host.
package kvtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	// APIVersion is the only api-version the server accepts: the one
	// azkeys v1.5.0 sends.
	APIVersion = "2025-07-01"
	// Host is the vault's host name.
	Host = "kvtest.vault.azure.net"
	// Tenant is the tenant the challenge names.
	Tenant = "00000000-0000-0000-0000-00000000cafe"
	// Resource is the resource the challenge names.
	Resource = "https://vault.azure.net"

	retentionDays = 90
)

// Server is the fake vault.
type Server struct {
	URL   string // the vault URL for the SDK: https://kvtest.vault.azure.net/
	Token string // the bearer token the vault accepts, shaped like a JWT

	srv  *httptest.Server
	tr   *http.Transport
	cred *Credential

	mu              sync.Mutex
	keys            map[string]*key     // by lowercase name
	deleted         map[string]*deleted // by lowercase name
	faults          []Fault
	purgeProtection bool
	deleteLag       int
	requests        int
}

type key struct {
	name     string
	versions []*version // oldest first
}

type version struct {
	id      string
	kty     string
	crv     string
	ops     []string
	enabled bool
	created int64
	tags    map[string]string
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
}

type deleted struct {
	k           *key
	date, purge int64
	lag         int // purge attempts still answered "being deleted"
}

// Fault makes the vault answer requests with an error instead, after
// authentication, as a throttled, failing or forbidding vault would.
type Fault struct {
	Op         string // "create", "rotate", "get", "wrapkey", "unwrapkey", "delete", "getdeleted", "purge"; "" for all
	Status     int
	Code       string
	Message    string
	RetryAfter string // Retry-After header, if any
	Times      int    // requests to fail; 0 for all until ClearFaults
	// EchoAuthorization appends the request's Authorization header to the
	// message, as a misbehaving proxy might.
	EchoAuthorization bool
}

// New starts a vault, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{
		URL:     "https://" + Host + "/",
		Token:   "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + b64(random(24)) + "." + b64(random(32)),
		keys:    map[string]*key{},
		deleted: map[string]*deleted{},
	}
	s.cred = &Credential{token: s.Token}
	cert, pool, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.srv.StartTLS()
	addr := s.srv.Listener.Addr().String()
	s.tr = &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.tr.CloseIdleConnections()
	s.srv.Close()
}

// HTTPClient reaches the vault: it trusts the vault's certificate and
// connects to the server whatever host a request names.
func (s *Server) HTTPClient() *http.Client { return &http.Client{Transport: s.tr} }

// Credential hands out the vault's token.
func (s *Server) Credential() *Credential { return s.cred }

// ClientOptions are SDK client options for this vault: its transport and
// retries small enough for tests (two, a few milliseconds apart).
func (s *Server) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport: s.HTTPClient(),
		Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 20 * time.Millisecond},
	}
}

// SetPurgeProtection turns the vault's purge protection on or off.
func (s *Server) SetPurgeProtection(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeProtection = on
}

// SetDeleteLag makes the next deletions take n purge attempts to finish:
// until then a purge is answered 409 Conflict, as Key Vault does while a
// deletion is in progress.
func (s *Server) SetDeleteLag(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLag = n
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests counts the requests served, challenges included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Info describes a key for tests.
type Info struct {
	Name     string
	Kty      string
	Bits     int // RSA modulus size
	Versions int
	Enabled  bool // of the newest version
	Ops      []string
	Tags     map[string]string
	Deleted  bool // soft-deleted: Info is of the deleted key
}

// Key describes key name (live or soft-deleted), false if there is none.
func (s *Server) Key(name string) (Info, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, del := s.keys[strings.ToLower(name)], false
	if k == nil {
		d := s.deleted[strings.ToLower(name)]
		if d == nil {
			return Info{}, false
		}
		k, del = d.k, true
	}
	v := k.versions[len(k.versions)-1]
	in := Info{Name: k.name, Kty: v.kty, Versions: len(k.versions), Enabled: v.enabled, Ops: v.ops, Tags: v.tags, Deleted: del}
	if v.rsa != nil {
		in.Bits = v.rsa.N.BitLen()
	}
	return in, true
}

// Names lists the live keys' names, sorted.
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range s.keys {
		out = append(out, k.name)
	}
	slices.Sort(out)
	return out
}

// Credential is a static azcore.TokenCredential; it records what it was
// asked for.
type Credential struct {
	token string
	mu    sync.Mutex
	asked []policy.TokenRequestOptions
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, o)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Asked returns the token requests made so far.
func (c *Credential) Asked() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

var validName = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// ServeHTTP routes a Key Vault request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, Tenant, Resource))
		fail(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if v := r.URL.Query().Get("api-version"); v != APIVersion {
		fail(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("The specified version (%s) is not recognized. Consider using the latest supported version (%s).", v, APIVersion))
		return
	}
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(seg) > 2 && seg[len(seg)-1] == "" {
		seg = seg[:len(seg)-1] // GET /keys/NAME/ is the newest version
	}
	op := route(r.Method, seg)
	if op == "" {
		fail(w, http.StatusNotImplemented, "NotImplemented", "kvtest does not implement "+r.Method+" "+r.URL.Path)
		return
	}
	if len(seg) < 2 || !validName.MatchString(seg[1]) {
		fail(w, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid name: "+strings.Join(seg[1:], "/"))
		return
	}
	if s.fault(w, r, op) {
		return
	}
	name := seg[1]
	switch op {
	case "create":
		s.create(w, r, name)
	case "rotate":
		s.rotate(w, name)
	case "get":
		ver := ""
		if len(seg) == 3 {
			ver = seg[2]
		}
		s.get(w, name, ver)
	case "wrapkey", "unwrapkey":
		s.keyOp(w, r, name, seg[2], op)
	case "delete":
		s.delete(w, name)
	case "getdeleted":
		s.getDeleted(w, name)
	case "purge":
		s.purge(w, name)
	}
}

// route names the operation of a request, "" if it is not served.
func route(method string, seg []string) string {
	switch {
	case seg[0] == "keys" && len(seg) == 2 && method == http.MethodGet:
		return "get"
	case seg[0] == "keys" && len(seg) == 2 && method == http.MethodDelete:
		return "delete"
	case seg[0] == "keys" && len(seg) == 3 && method == http.MethodPost && seg[2] == "create":
		return "create"
	case seg[0] == "keys" && len(seg) == 3 && method == http.MethodPost && seg[2] == "rotate":
		return "rotate"
	case seg[0] == "keys" && len(seg) == 3 && method == http.MethodGet:
		return "get"
	case seg[0] == "keys" && len(seg) == 4 && method == http.MethodPost && (seg[3] == "wrapkey" || seg[3] == "unwrapkey"):
		return seg[3]
	case seg[0] == "deletedkeys" && len(seg) == 2 && method == http.MethodGet:
		return "getdeleted"
	case seg[0] == "deletedkeys" && len(seg) == 2 && method == http.MethodDelete:
		return "purge"
	}
	return ""
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request, op string) bool {
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		if f.Times > 0 {
			if f.Times--; f.Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			} else {
				s.faults[i] = f
			}
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		msg := f.Message
		if f.EchoAuthorization {
			msg += " (request had Authorization: " + r.Header.Get("Authorization") + ")"
		}
		fail(w, f.Status, f.Code, msg)
		return true
	}
	return false
}

// createParams is the body of create: CreateKeyParameters in the REST
// reference.
type createParams struct {
	Kty        string   `json:"kty"`
	KeySize    int      `json:"key_size"`
	Crv        string   `json:"crv"`
	KeyOps     []string `json:"key_ops"`
	Attributes *struct {
		Enabled *bool `json:"enabled"`
	} `json:"attributes"`
	Tags map[string]string `json:"tags"`
}

var allOps = map[string][]string{
	"RSA": {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"},
	"EC":  {"sign", "verify"},
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, name string) {
	var p createParams
	if !readJSON(w, r, &p) {
		return
	}
	if _, ok := s.deleted[strings.ToLower(name)]; ok {
		fail(w, http.StatusConflict, "Conflict", fmt.Sprintf("Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.", name))
		return
	}
	v := &version{id: hex.EncodeToString(random(16)), kty: p.Kty, ops: p.KeyOps, enabled: true, created: time.Now().Unix(), tags: p.Tags}
	if p.Attributes != nil && p.Attributes.Enabled != nil {
		v.enabled = *p.Attributes.Enabled
	}
	family := strings.TrimSuffix(p.Kty, "-HSM")
	switch family {
	case "RSA":
		size := p.KeySize
		if size == 0 {
			size = 2048
		}
		if size != 2048 && size != 3072 && size != 4096 {
			fail(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("The key size %d is not supported for key type %s.", size, p.Kty))
			return
		}
		v.rsa, _ = rsa.GenerateKey(rand.Reader, size)
	case "EC":
		v.crv = p.Crv
		if v.crv == "" {
			v.crv = "P-256"
		}
		if v.crv != "P-256" {
			fail(w, http.StatusBadRequest, "BadParameter", "kvtest supports the curve P-256 only.")
			return
		}
		v.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		fail(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("The key type %q is not supported.", p.Kty))
		return
	}
	if v.ops == nil {
		v.ops = allOps[family]
	}
	for _, o := range v.ops {
		if !slices.Contains(allOps[family], o) {
			fail(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("Key operation %q is not valid for key type %s.", o, p.Kty))
			return
		}
	}
	k := s.keys[strings.ToLower(name)]
	if k == nil {
		k = &key{name: name}
		s.keys[strings.ToLower(name)] = k
	}
	k.versions = append(k.versions, v)
	s.writeBundle(w, http.StatusOK, k, v, nil)
}

func (s *Server) rotate(w http.ResponseWriter, name string) {
	k := s.keys[strings.ToLower(name)]
	if k == nil {
		notFound(w, name)
		return
	}
	old := k.versions[len(k.versions)-1]
	v := &version{id: hex.EncodeToString(random(16)), kty: old.kty, crv: old.crv, ops: old.ops, enabled: true, created: time.Now().Unix(), tags: old.tags}
	if old.rsa != nil {
		v.rsa, _ = rsa.GenerateKey(rand.Reader, old.rsa.N.BitLen())
	} else {
		v.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	k.versions = append(k.versions, v)
	s.writeBundle(w, http.StatusOK, k, v, nil)
}

func (s *Server) get(w http.ResponseWriter, name, ver string) {
	k, v := s.find(name, ver)
	if v == nil {
		notFound(w, strings.TrimSuffix(name+"/"+ver, "/"))
		return
	}
	s.writeBundle(w, http.StatusOK, k, v, nil)
}

// find returns key name and its version ver ("" for the newest).
func (s *Server) find(name, ver string) (*key, *version) {
	k := s.keys[strings.ToLower(name)]
	if k == nil {
		return nil, nil
	}
	if ver == "" {
		return k, k.versions[len(k.versions)-1]
	}
	for _, v := range k.versions {
		if strings.EqualFold(v.id, ver) {
			return k, v
		}
	}
	return k, nil
}

// opParams is KeyOperationsParameters in the REST reference.
type opParams struct {
	Alg   string `json:"alg"`
	Value string `json:"value"`
}

func (s *Server) keyOp(w http.ResponseWriter, r *http.Request, name, ver, op string) {
	var p opParams
	if !readJSON(w, r, &p) {
		return
	}
	k, v := s.find(name, ver)
	if v == nil {
		notFound(w, name+"/"+ver)
		return
	}
	opName := map[string]string{"wrapkey": "wrapKey", "unwrapkey": "unwrapKey"}[op]
	if !v.enabled {
		fail(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("Operation %s is not allowed on a disabled key.", opName))
		return
	}
	if !slices.Contains(v.ops, opName) {
		fail(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("Operation %s is not permitted on this key.", opName))
		return
	}
	value, err := base64.RawURLEncoding.DecodeString(p.Value)
	if err != nil || p.Value == "" {
		fail(w, http.StatusBadRequest, "BadParameter", "Content of 'value' is not base64url.\r\nProperty 'value' is required.")
		return
	}
	var h hash.Hash
	switch p.Alg {
	case "RSA-OAEP-256":
		h = sha256.New()
	case "RSA-OAEP":
		h = sha1.New()
	default:
		fail(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("Invalid algorithm: %q is not supported by kvtest.", p.Alg))
		return
	}
	if v.rsa == nil {
		fail(w, http.StatusBadRequest, "BadParameter", "Key and algorithm are not compatible.")
		return
	}
	var out []byte
	if op == "wrapkey" {
		out, err = rsa.EncryptOAEP(h, rand.Reader, &v.rsa.PublicKey, value, nil)
		if err != nil {
			fail(w, http.StatusBadRequest, "BadParameter", "The value is too long for the key and algorithm.")
			return
		}
	} else {
		out, err = rsa.DecryptOAEP(h, nil, v.rsa, value, nil)
		if err != nil {
			fail(w, http.StatusBadRequest, "BadParameter", "Error occurred while decoding OAEP padding.")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"kid": s.kid(k, v), "value": b64(out)})
}

func (s *Server) delete(w http.ResponseWriter, name string) {
	k := s.keys[strings.ToLower(name)]
	if k == nil {
		notFound(w, name)
		return
	}
	now := time.Now().Unix()
	d := &deleted{k: k, date: now, purge: now + retentionDays*86400, lag: s.deleteLag}
	s.deleteLag = 0
	delete(s.keys, strings.ToLower(name))
	s.deleted[strings.ToLower(name)] = d
	s.writeBundle(w, http.StatusOK, k, k.versions[len(k.versions)-1], d)
}

func (s *Server) getDeleted(w http.ResponseWriter, name string) {
	d := s.deleted[strings.ToLower(name)]
	if d == nil {
		notFound(w, name)
		return
	}
	s.writeBundle(w, http.StatusOK, d.k, d.k.versions[len(d.k.versions)-1], d)
}

func (s *Server) purge(w http.ResponseWriter, name string) {
	d := s.deleted[strings.ToLower(name)]
	switch {
	case d == nil:
		notFound(w, name)
	case s.purgeProtection:
		fail(w, http.StatusForbidden, "Forbidden", `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.`)
	case d.lag > 0:
		d.lag--
		fail(w, http.StatusConflict, "Conflict", fmt.Sprintf("Key %s is currently being deleted.", name))
	default:
		delete(s.deleted, strings.ToLower(name))
		w.WriteHeader(http.StatusNoContent)
	}
}

// JSON shapes of the REST reference: KeyBundle, DeletedKeyBundle,
// JsonWebKey, KeyAttributes.
type jsonWebKey struct {
	KID    string   `json:"kid"`
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
}

type keyAttributes struct {
	Enabled         bool   `json:"enabled"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

type keyBundle struct {
	Key                jsonWebKey        `json:"key"`
	Attributes         keyAttributes     `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
}

func (s *Server) writeBundle(w http.ResponseWriter, code int, k *key, v *version, d *deleted) {
	level := "Recoverable+Purgeable"
	if s.purgeProtection {
		level = "Recoverable"
	}
	b := keyBundle{
		Key:        jsonWebKey{KID: s.kid(k, v), Kty: v.kty, KeyOps: v.ops},
		Attributes: keyAttributes{Enabled: v.enabled, Created: v.created, Updated: v.created, RecoveryLevel: level, RecoverableDays: retentionDays},
		Tags:       v.tags,
	}
	switch {
	case v.rsa != nil:
		b.Key.N = b64(v.rsa.N.Bytes())
		b.Key.E = b64(big.NewInt(int64(v.rsa.E)).Bytes())
	case v.ec != nil:
		pt, _ := v.ec.PublicKey.Bytes() // 0x04 || X || Y
		b.Key.Crv, b.Key.X, b.Key.Y = v.crv, b64(pt[1:33]), b64(pt[33:])
	}
	if d != nil {
		b.RecoveryID = s.URL + "deletedkeys/" + k.name
		b.DeletedDate, b.ScheduledPurgeDate = d.date, d.purge
	}
	writeJSON(w, code, b)
}

func (s *Server) kid(k *key, v *version) string { return s.URL + "keys/" + k.name + "/" + v.id }

func notFound(w http.ResponseWriter, what string) {
	fail(w, http.StatusNotFound, "KeyNotFound", fmt.Sprintf("A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", what))
}

// fail writes Key Vault's error shape.
func fail(w http.ResponseWriter, code int, errCode, msg string) {
	type kvError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, code, map[string]kvError{"error": {errCode, msg}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-keyvault-service-version", "kvtest")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		fail(w, http.StatusBadRequest, "BadParameter", "The request body must be application/json.")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "BadParameter", "The request body is not valid JSON.")
		return false
	}
	return true
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// selfSigned makes a certificate for the vault's host and a pool trusting it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: Host},
		DNSNames:              []string{Host, "*.vault.azure.net"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, pool, nil
}
