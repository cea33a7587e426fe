package smart

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// MaxAssertionLifetime is the longest a client assertion is valid: SMART
// Backend Services wants exp no more than five minutes ahead.
const MaxAssertionLifetime = 5 * time.Minute

// AssertionType is the client_assertion_type of a JWT client assertion.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Assertion signs a client assertion for clientID to present at the token
// endpoint aud: iss = sub = clientID, aud, iat = now, exp = now + lifetime
// (at most MaxAssertionLifetime; 0 means the maximum), a random jti, and
// the current key's kid and alg in the header. The result is a credential:
// never log it.
func (k *Keys) Assertion(ctx context.Context, clientID, aud string, lifetime time.Duration) (string, error) {
	if clientID == "" || aud == "" {
		return "", errors.New("smart: an assertion needs a client id and an audience")
	}
	if lifetime <= 0 || lifetime > MaxAssertionLifetime {
		lifetime = MaxAssertionLifetime
	}
	kk, err := k.current(ctx)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(kk.alg), Key: jose.JSONWebKey{Key: kk.priv, KeyID: kk.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("smart: signer: %w", err)
	}
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := k.clock()
	claims := jwt.Claims{
		Issuer:   clientID,
		Subject:  clientID,
		Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(lifetime)),
		ID:       jti,
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("smart: signing the assertion: %w", err)
	}
	return s, nil
}

// newJTI is 128 random bits, base64url: never repeated in practice.
func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
