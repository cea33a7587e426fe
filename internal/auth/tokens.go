package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Personal API tokens for the CLI and scripts: "clk_<id>_<secret>". The
// secret is shown once, when the token is made; the catalog keeps only its
// sha256 (the secret has 160 random bits, so a fast hash is enough). A
// token carries a copy of its owner's grants at creation, optionally
// narrowed to some permissions, and always expires.

// TokenPrefix starts every personal API token.
const TokenPrefix = "clk_"

// MaxTokenLifetime bounds how long a token may live.
const MaxTokenLifetime = 366 * 24 * time.Hour

// Errors of token handling.
var (
	ErrTokenInvalid = errors.New("invalid API token")
	ErrTokenExpired = errors.New("API token expired")
	ErrTokenRevoked = errors.New("API token revoked")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// TokenStore is where tokens are kept (the catalog).
type TokenStore interface {
	PutAPIToken(ctx context.Context, t catalog.APIToken) error
	GetAPIToken(ctx context.Context, id string) (catalog.APIToken, error)
	ListAPITokens(ctx context.Context, owner string) ([]catalog.APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
}

// NewToken is a token request.
type NewToken struct {
	Name  string
	Owner *Principal // who makes it; the token holds a copy of their grants
	// For, when set, is the person the token is made for, as the subject
	// of a user principal (user:<For>): the token is then theirs, not
	// Owner's. It acts as them (the report workflow's four eyes counts it
	// as theirs, and two people need two names), and they can list and
	// revoke it. Only the local CLI may set it (Owner of KindLocal: the
	// operator of the server machine, who holds the catalog and the
	// keyring and so could make any token anyway); the caller audits who
	// made it for whom. See CheckPersonID for what For may hold.
	For     string
	Grants  []Grant       // when set, must be held by Owner; else Owner's grants
	Perms   []Permission  // optional narrowing
	Expires time.Duration // at most MaxTokenLifetime
}

// CreateToken makes a token and returns its secret form (shown once).
func CreateToken(ctx context.Context, st TokenStore, n NewToken, now time.Time) (string, catalog.APIToken, error) {
	if n.Owner == nil || n.Owner.Kind == KindToken {
		return "", catalog.APIToken{}, errors.New("API tokens are made by a signed-in person or on the server machine, not with another token")
	}
	if n.Expires <= 0 || n.Expires > MaxTokenLifetime {
		return "", catalog.APIToken{}, fmt.Errorf("expiry must be between 1 second and %d days", int(MaxTokenLifetime.Hours()/24))
	}
	name := strings.TrimSpace(n.Name)
	if name == "" || len(name) > 100 {
		return "", catalog.APIToken{}, errors.New("name: 1 to 100 characters")
	}
	owner := n.Owner.Actor()
	if n.For != "" {
		if n.Owner.Kind != KindLocal {
			return "", catalog.APIToken{}, fmt.Errorf("%w: only the operator of the server machine (token create --local) makes a token for someone else", ErrDenied)
		}
		if err := CheckPersonID(n.For); err != nil {
			return "", catalog.APIToken{}, err
		}
		if len(n.Grants) == 0 {
			return "", catalog.APIToken{}, errors.New("a token made for someone else needs its grants named")
		}
		owner = (&Principal{Kind: KindUser, ID: n.For}).Actor()
	}
	grants := n.Grants
	if len(grants) == 0 {
		grants = n.Owner.Grants
	}
	for _, g := range grants {
		if n.Owner.Kind != KindLocal && !slices.Contains(n.Owner.Grants, g) {
			return "", catalog.APIToken{}, fmt.Errorf("%w: cannot give a token the grant %s you do not hold", ErrDenied, g)
		}
	}
	if len(grants) == 0 {
		return "", catalog.APIToken{}, errors.New("a token needs at least one grant")
	}
	idb, secret := make([]byte, 10), make([]byte, 20)
	rand.Read(idb)
	rand.Read(secret)
	id := strings.ToLower(b32.EncodeToString(idb))
	sum := sha256.Sum256(secret)
	t := catalog.APIToken{
		ID: id, Name: name, Owner: owner, Hash: hex.EncodeToString(sum[:]),
		Grants: encodeGrants(grants), Perms: encodePerms(n.Perms),
		Created: now.UTC(), Expires: now.Add(n.Expires).UTC(),
	}
	if err := st.PutAPIToken(ctx, t); err != nil {
		return "", t, err
	}
	return TokenPrefix + id + "_" + strings.ToLower(b32.EncodeToString(secret)), t, nil
}

// MaxPersonID bounds the length of a person's id (NewToken.For).
const MaxPersonID = 128

// CheckPersonID checks the id of a person a token is made for: what the
// identity provider gives as their subject (with Entra ID, their object
// id, the subject_claim oid), so that their tokens and their sign-ins are
// one person, or a stable staff id where there is no identity provider.
// It appears in the audit trail as user:<id>: use pseudonymous ids, not
// names. 1 to MaxPersonID printable ASCII characters, without spaces,
// commas or colons. Errors do not repeat the value.
func CheckPersonID(id string) error {
	if id == "" || len(id) > MaxPersonID {
		return fmt.Errorf("person id: 1 to %d characters", MaxPersonID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == ',' || c == ':' {
			return errors.New("person id: printable ASCII without spaces, commas or colons (the identity provider's subject, or a staff id)")
		}
	}
	return nil
}

// IsToken reports whether a bearer credential is a personal API token.
func IsToken(raw string) bool { return strings.HasPrefix(raw, TokenPrefix) }

// VerifyToken checks a personal API token and returns its principal.
// Errors never say more than invalid, expired or revoked.
func VerifyToken(ctx context.Context, st TokenStore, raw string, now time.Time) (*Principal, error) {
	id, secretText, ok := strings.Cut(strings.TrimPrefix(raw, TokenPrefix), "_")
	if !IsToken(raw) || !ok || len(id) != 16 || len(secretText) != 32 {
		return nil, ErrTokenInvalid
	}
	secret, err := b32.DecodeString(strings.ToUpper(secretText))
	if err != nil {
		return nil, ErrTokenInvalid
	}
	t, err := st.GetAPIToken(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(secret)
	want, _ := hex.DecodeString(t.Hash)
	if subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return nil, ErrTokenInvalid
	}
	switch {
	case !t.Revoked.IsZero():
		return nil, ErrTokenRevoked
	case !now.Before(t.Expires):
		return nil, ErrTokenExpired
	}
	grants, err := decodeGrants(t.Grants)
	if err != nil {
		return nil, fmt.Errorf("token %s: stored grants: %w", t.ID, err)
	}
	return &Principal{Kind: KindToken, ID: t.ID, Name: t.Name, TokenID: t.ID, Grants: grants, Perms: decodePerms(t.Perms)}, nil
}

func encodeGrants(gs []Grant) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = g.String()
	}
	return strings.Join(s, " ")
}

func decodeGrants(s string) ([]Grant, error) {
	var out []Grant
	for _, f := range strings.Fields(s) {
		g, err := ParseGrant(f)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// ParseGrants reads grants separated by commas or spaces.
func ParseGrants(s string) ([]Grant, error) {
	return decodeGrants(strings.ReplaceAll(s, ",", " "))
}

func encodePerms(ps []Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, " ")
}

func decodePerms(s string) []Permission {
	var out []Permission
	for _, f := range strings.Fields(s) {
		out = append(out, Permission(f))
	}
	return out
}

// ParsePerms reads permissions separated by commas or spaces; each must be
// one some role grants.
func ParsePerms(s string) ([]Permission, error) {
	known := map[Permission]bool{}
	for _, ps := range rolePerms {
		for _, p := range ps {
			known[p] = true
		}
	}
	out := decodePerms(strings.ReplaceAll(s, ",", " "))
	for _, p := range out {
		if !known[p] {
			return nil, errors.New("unknown permission (see `clinomics whoami` for yours)")
		}
	}
	return out, nil
}
