package app

import (
	"fmt"
	"strings"

	"github.com/clinomics/clinomics/internal/auth"
	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/config"
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
