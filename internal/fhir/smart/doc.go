// Package smart is the platform's side of SMART Backend Services
// (the client-confidential-asymmetric profile): how clinomics, with no
// user at a keyboard, gets an access token from the EHR's authorization
// server to write results and read orders.
//
// Three parts:
//
//   - Keys: the platform's signing keys (EC P-384 for ES384, or RSA 3072
//     for RS384), made on first use and kept in the catalog sealed under
//     the clinical data key (which the key provider wraps). Each key has a
//     kid (its RFC 7638 thumbprint). Rotation makes a new current key and
//     keeps publishing the previous public key for an overlap period, so
//     an EHR that cached our JWKS keeps accepting assertions.
//   - JWKSHandler: the public keys as a JWK Set, for the EHR to fetch
//     from the JWKS URL registered with it (/.well-known/jwks.json).
//   - TokenSource: signs a short-lived client assertion (iss = sub =
//     client id, aud = token endpoint, exp at most five minutes ahead, a
//     random jti), posts it with grant_type=client_credentials, and caches
//     the access token until shortly before it expires. Concurrent callers
//     share one request. The token endpoint is discovered from
//     [base]/.well-known/smart-configuration, with a configured URL as
//     fallback.
//
// Errors from the token endpoint are explained (see TokenError): an
// assertion refused for its times points at clock skew and NTP, a refused
// scope is named. Neither the assertion nor the token is ever logged or
// put in an error.
package smart
