package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/clinomics/clinomics/internal/audit"
	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/auth/oidc"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/tlsconf"
)

// NewAuthenticator builds the server's authenticator from auth.*: personal
// API tokens in the catalog, the identity provider (idp; nil when none is
// configured) with its role map, and client-certificate grants.
func NewAuthenticator(cfg *config.Config, store catalog.Store, idp auth.IdentityVerifier) (*auth.Authenticator, error) {
	roleMap, err := grantMap("auth.role_map", cfg.Auth.RoleMap)
	if err != nil {
		return nil, err
	}
	certs, err := grantMap("auth.cert_grants", cfg.Auth.CertGrants)
	if err != nil {
		return nil, err
	}
	return &auth.Authenticator{Tokens: store, IdP: idp, RoleMap: roleMap, CertGrants: certs}, nil
}

func grantMap(key string, m map[string][]string) (map[string][]auth.Grant, error) {
	out := map[string][]auth.Grant{}
	for k, vs := range m {
		gs, err := auth.ParseGrants(strings.Join(vs, " "))
		if err != nil {
			return nil, fmt.Errorf("%s[%q]: %w", key, k, err)
		}
		out[k] = gs
	}
	return out, nil
}

// NewLimiter builds the failed-authentication limiter of auth.lockout.
func NewLimiter(cfg *config.Config) *auth.Limiter {
	return &auth.Limiter{Max: cfg.Auth.Lockout.MaxFailures, Window: cfg.Auth.Lockout.Window}
}

// NewIdP builds the verifier of the configured identity provider; nil when
// auth.oidc.issuer is empty. It does not contact the IdP.
func NewIdP(cfg *config.Config, log *slog.Logger) (*IdP, error) {
	o := cfg.Auth.OIDC
	if o.Issuer == "" {
		return nil, nil
	}
	v, err := oidc.New(oidc.Options{Issuer: o.Issuer, Audiences: o.Audience, SubjectClaim: o.SubjectClaim,
		RolesClaim: o.RolesClaim, GroupsClaim: o.GroupsClaim, KeysMaxAge: o.KeysMaxAge, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("auth.oidc: %w", err)
	}
	return &IdP{v}, nil
}

// IdP adapts the OIDC verifier to the authenticator.
type IdP struct{ *oidc.Verifier }

// VerifyIdentity implements auth.IdentityVerifier.
func (p *IdP) VerifyIdentity(ctx context.Context, raw string) (auth.Identity, error) {
	c, err := p.Verify(ctx, raw)
	if err != nil {
		return auth.Identity{}, err
	}
	return auth.Identity{Subject: c.Subject, ClientID: c.ClientID, App: c.AppOnly, Roles: c.Roles, Groups: c.Groups, Scopes: c.Scopes}, nil
}

// AuditExporter builds the exporter of audit.syslog; nil when no address
// is configured.
func AuditExporter(cfg *config.Config, store catalog.Store, log *slog.Logger) (*audit.Exporter, io.Closer, error) {
	sl := cfg.Audit.Syslog
	if sl.Address == "" {
		return nil, nil, nil
	}
	tc, err := tlsconf.ClientConfig(tlsconf.ClientOptions{CAFile: sl.CAFile, CertFile: sl.CertFile, KeyFile: sl.KeyFile})
	if err != nil {
		return nil, nil, fmt.Errorf("audit.syslog: %w", err)
	}
	sink, err := audit.NewSyslog(sl.Address, tc)
	if err != nil {
		return nil, nil, err
	}
	return &audit.Exporter{Store: store, Sink: sink, Cursor: "syslog:" + sl.Address, Follow: true, Log: log}, sink, nil
}

// OpenAudit opens the audit log with the configured checkpoints; its
// signing key is wrapped by the key provider.
func OpenAudit(ctx context.Context, cfg *config.Config, store catalog.Store, kp keys.Provider, log *slog.Logger) (*audit.Log, error) {
	return audit.Open(ctx, store, kp, audit.Options{CheckpointEvery: cfg.Audit.CheckpointEvery, CheckpointInterval: cfg.Audit.CheckpointInterval, Log: log})
}
