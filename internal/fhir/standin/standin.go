// Package standin is the EHR stand-in the tests send reports to and pull
// orders from: the FHIR server in writable mode over the journaled store,
// behind a SMART Backend Services token endpoint (client assertion JWTs
// checked against the client's published JWKS), with fault injection so
// a client's retry paths can be tested against a real process.
package standin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/fhir"
	"github.com/clinomics/clinomics/internal/fhir/server"
)

// Types are the resource types the stand-in keeps.
var Types = []string{"Patient", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport",
	"DocumentReference", "Provenance", "Task", "Practitioner", "Organization", "Device"}

// Config configures the stand-in.
type Config struct {
	DataDir string // the journal lives here
	// ClientID and JWKSURL register the one backend client; with no
	// JWKSURL the FHIR endpoints are open (no token needed).
	ClientID, JWKSURL string
	// JWKSClient fetches JWKSURL; nil: a client trusting the system's
	// roots, with a 10 s timeout. Give one trusting the client's CA when
	// its JWKS is served under a private or self-signed certificate.
	JWKSClient    *http.Client
	TokenLifetime time.Duration // of access tokens; default 5 minutes
	ClockSkew     time.Duration // tolerated for iat; default 1 minute
	// Faults injected at start (also set at run time by POST /_faults).
	FailNext, RejectTokens int
	Log                    *slog.Logger
	Now                    func() time.Time
}

// StandIn is the running stand-in.
type StandIn struct {
	cfg    Config
	store  *server.MemStore
	fhir   *server.Server
	auth   *tokenServer
	faults *Faults
}

// Prefix is the FHIR base path of the stand-in.
const Prefix = "/fhir"

// New opens the journal and builds the stand-in.
func New(cfg Config) (*StandIn, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 5 * time.Minute
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = time.Minute
	}
	if cfg.JWKSURL != "" && cfg.ClientID == "" {
		return nil, errors.New("standin: a JWKS URL needs a client id")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	st, err := server.OpenMem(filepath.Join(cfg.DataDir, "fhir-journal.jsonl"))
	if err != nil {
		return nil, err
	}
	s := &StandIn{cfg: cfg, store: st, faults: &Faults{}}
	s.faults.Set(cfg.FailNext, cfg.RejectTokens)
	if cfg.JWKSURL != "" {
		s.auth = newTokenServer(cfg)
	}
	s.fhir = server.New(server.Options{
		Store: st, Writable: st, Types: Types, Prefix: Prefix, Log: cfg.Log, Now: cfg.Now,
		Check:    s.checkScope,
		Validate: validate,
		Security: s.security(),
	})
	return s, nil
}

// Close closes the journal.
func (s *StandIn) Close() error { return s.store.Close() }

// Faults are the stand-in's injected faults.
func (s *StandIn) Faults() *Faults { return s.faults }

// validate parses the resource with the project's FHIR model; its error
// names elements and types, never values.
func validate(typ string, body []byte) error {
	_, err := fhir.Parse(body)
	return err
}

// Handler serves /fhir/..., /token, /.well-known/smart-configuration and,
// when control is true, POST /_faults (test control; never on a real EHR).
func (s *StandIn) Handler(control bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/smart-configuration", s.smartConfiguration)
	mux.HandleFunc("GET "+Prefix+"/.well-known/smart-configuration", s.smartConfiguration)
	if s.auth != nil {
		mux.HandleFunc("POST /token", s.auth.token)
	}
	if control {
		mux.HandleFunc("POST /_faults", s.faults.control)
	}
	mux.Handle(Prefix+"/", s.authenticate(s.fhir))
	mux.Handle(Prefix, s.authenticate(s.fhir))
	return s.faults.wrap(mux)
}

type scopesKey struct{}

// authenticate requires a valid access token on the FHIR endpoints
// (except metadata) when a client is registered.
func (s *StandIn) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.auth == nil || r.URL.Path == Prefix+"/metadata" {
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fhir"`)
			server.WriteError(w, &server.Error{Status: http.StatusUnauthorized, Code: "login", Public: "a bearer token is required"})
			return
		}
		tok, why := s.auth.lookup(raw)
		if why == "" && s.faults.takeReject() {
			why = "the access token was rejected (injected fault)"
		}
		if why != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fhir", error="invalid_token", error_description="`+why+`"`)
			server.WriteError(w, &server.Error{Status: http.StatusUnauthorized, Code: "expired", Public: why})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), scopesKey{}, tok.scopes)))
	})
}

// checkScope: the token's scopes must allow the type and the interaction.
func (s *StandIn) checkScope(r *http.Request, typ string, write bool) error {
	if s.auth == nil {
		return nil
	}
	scopes, _ := r.Context().Value(scopesKey{}).([]string)
	if server.ScopeAllows(scopes, typ, write) {
		return nil
	}
	what := "read"
	if write {
		what = "write"
	}
	return &server.Error{Status: http.StatusForbidden, Code: "forbidden", Public: "the token's scopes do not allow " + what + " of " + typ}
}

// security is the CapabilityStatement's rest.security: SMART on FHIR with
// the token endpoint.
func (s *StandIn) security() map[string]any {
	if s.auth == nil {
		return nil
	}
	return map[string]any{
		"service": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}},
		"extension": []any{map[string]any{
			"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": []any{map[string]any{"url": "token", "valueUri": "/token"}},
		}},
	}
}

func (s *StandIn) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                                   scheme + "://" + r.Host + "/token",
		"grant_types_supported":                            []string{"client_credentials"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"scopes_supported":                                 []string{"system/*.read", "system/*.write", "system/*.*", "system/*.rs", "system/*.cruds"},
		"capabilities":                                     []string{"client-confidential-asymmetric"},
	})
}
