package oidc

import (
	"log/slog"
	"slices"
	"time"
)

// Claims are what a verified token says about its bearer.
type Claims struct {
	Issuer   string
	Audience []string
	// Subject is the claim named by Options.SubjectClaim ("sub" by default).
	Subject string
	// ObjectID is Entra ID's "oid": the user's or service principal's object
	// id, the same for every application of the tenant.
	ObjectID string
	TenantID string // Entra ID's "tid"
	// Name, PreferredUsername ("preferred_username", or Entra v1's "upn")
	// and Email are for display; they are personal data, so do not log them.
	Name              string
	PreferredUsername string
	Email             string
	Roles             []string // Options.RolesClaim
	Groups            []string // Options.GroupsClaim
	// GroupsOverage: the groups did not fit in the token (Entra ID sends
	// "_claim_names" instead); Groups is then incomplete.
	GroupsOverage bool
	Scopes        []string // "scp" (Entra ID) and "scope" (RFC 9068), split on spaces
	// ClientID is the application the token was issued to: "client_id"
	// (RFC 9068), "azp" (Entra v2) or "appid" (Entra v1).
	ClientID string
	// AppOnly: a token of an application acting as itself (client
	// credentials), not on behalf of a user.
	AppOnly   bool
	TokenID   string // "jti", or Entra ID's "uti"
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	KeyID     string // of the key that signed the token
	Algorithm string
}

// HasScope reports whether the token carries scope s.
func (c Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// LogValue logs the identifiers and authorization of the claims, not the
// names and email address.
func (c Claims) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("subject", c.Subject),
		slog.String("client_id", c.ClientID),
		slog.Bool("app_only", c.AppOnly),
		slog.Any("roles", c.Roles),
		slog.String("token_id", c.TokenID),
	)
}
