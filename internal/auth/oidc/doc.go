// Package oidc authenticates callers by OpenID Connect bearer tokens (JWT
// access tokens) from any issuer, Entra ID being the target, and obtains such
// tokens for the CLI.
//
// A Verifier checks a token against one issuer: it finds the issuer's keys by
// discovery (/.well-known/openid-configuration, whose "issuer" must match),
// caches the JWKS, and checks the signature (asymmetric algorithms only: RS*,
// PS*, ES*, EdDSA; never HS* or "none"), then iss, aud, exp, nbf and iat with
// a small clock skew. It returns typed Claims, or an error wrapping one of
// the sentinels below, so the HTTP layer can answer a bare 401 and log the
// reason. No error string contains any part of the token.
//
// Keys and the identity provider (IdP):
//
//	token's kid known           verify with the cached key; if the cache is
//	                            older than RefreshInterval, refresh it in the
//	                            background
//	kid unknown                 refresh now and look again, but at most once
//	                            per MinRefreshInterval, so a stream of forged
//	                            kids cannot make us hammer the IdP; after that,
//	                            ErrUnknownKey (and ErrIdPUnavailable as well
//	                            when the last refresh failed)
//	IdP unreachable             cached keys keep working until KeysMaxAge after
//	                            the last successful refresh; then every token
//	                            fails with ErrIdPUnavailable
//
// Client, for the CLI and for services: the client-credentials grant
// (a service principal) and the device authorization grant (RFC 8628) for
// `clinomics login`, plus refresh.
package oidc
