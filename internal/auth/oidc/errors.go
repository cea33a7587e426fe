package oidc

import "errors"

// Why Verify rejected a token. Verify's errors wrap exactly one of these,
// except that a token whose key is unknown while the IdP cannot be reached
// wraps both ErrUnknownKey and ErrIdPUnavailable. None of the messages
// contains any part of the token.
var (
	// ErrMissing: the token is empty.
	ErrMissing = errors.New("oidc: no token")
	// ErrMalformed: not a compact JWS (three base64url parts), bad JSON,
	// a "crit" header, missing exp or subject, or over the size limit.
	ErrMalformed = errors.New("oidc: malformed token")
	// ErrAlgorithm: the "alg" header is not one of the allowed asymmetric
	// algorithms ("none" and HS* never are), or does not fit the key.
	ErrAlgorithm = errors.New("oidc: signing algorithm not allowed")
	// ErrSignature: the signature does not verify with the issuer's key,
	// for instance because the header or payload was changed.
	ErrSignature = errors.New("oidc: invalid signature")
	// ErrUnknownKey: no key of the issuer has the token's "kid", even after
	// a refresh of the JWKS (or a refresh was not allowed yet).
	ErrUnknownKey = errors.New("oidc: unknown signing key")
	// ErrIdPUnavailable: the issuer's discovery document or JWKS could not
	// be fetched and no usable cached key applies.
	ErrIdPUnavailable = errors.New("oidc: identity provider unavailable")
	// ErrIssuer: "iss" is not the configured issuer.
	ErrIssuer = errors.New("oidc: token from another issuer")
	// ErrAudience: "aud" names none of the configured audiences.
	ErrAudience = errors.New("oidc: token not issued for this audience")
	// ErrExpired: "exp" has passed (beyond the clock skew), or "iat" is
	// older than MaxTokenAge.
	ErrExpired = errors.New("oidc: token expired")
	// ErrNotYetValid: "nbf" or "iat" is in the future (beyond the clock skew).
	ErrNotYetValid = errors.New("oidc: token not yet valid")
)
