package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// maxKeys bounds how many keys of a JWKS are kept.
const maxKeys = 100

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// parseJWKS returns the usable public signing keys of a JWKS document.
// Keys that carry private or symmetric material, are not for signatures,
// or are of a type we do not know are skipped, as RFC 7517 section 5 asks;
// a set with no usable key is an error.
func parseJWKS(doc []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			continue
		}
		if hasAny(members, "d", "p", "q", "dp", "dq", "qi", "k", "priv") {
			continue // never trust a published private or symmetric key
		}
		var k jose.JSONWebKey
		if k.UnmarshalJSON(raw) != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		keys = append(keys, k)
		if len(keys) == maxKeys {
			break
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return keys, nil
}

func hasAny(m map[string]json.RawMessage, names ...string) bool {
	for _, n := range names {
		if _, ok := m[n]; ok {
			return true
		}
	}
	return false
}

// fits reports whether key can verify a signature made with alg.
func fits(k jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// fetchCall is one refresh of the keys; done is closed when it ends.
type fetchCall struct {
	done chan struct{}
	err  error
}

// keysFor returns the cached keys that may have signed a token with this
// kid and alg, refreshing the cache as the package comment describes. An
// empty kid matches every key that fits alg.
func (v *Verifier) keysFor(ctx context.Context, kid, alg string) ([]jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()

	if !v.haveKeys() {
		// Nothing usable cached (first use, or the cache outlived
		// KeysMaxAge): wait for a refresh if one may run.
		if err := v.refreshLocked(ctx); err != nil {
			return nil, err
		}
		if !v.haveKeys() {
			return nil, fmt.Errorf("%w: no signing keys (last fetch: %v)", ErrIdPUnavailable, v.lastErr)
		}
	}

	known, match := v.lookup(kid, alg)
	if !known {
		if err := v.refreshLocked(ctx); err != nil {
			return nil, err
		}
		known, match = v.lookup(kid, alg)
		if !known {
			if v.lastErr != nil {
				return nil, fmt.Errorf("%w; %w: %v", ErrUnknownKey, ErrIdPUnavailable, v.lastErr)
			}
			return nil, ErrUnknownKey
		}
	} else if v.now().Sub(v.fetched) > v.opts.RefreshInterval && v.mayFetch() {
		v.startFetch() // stale but still trusted: refresh in the background
	}
	if len(match) == 0 {
		return nil, fmt.Errorf("%w: no key with this id fits the algorithm", ErrAlgorithm)
	}
	return match, nil
}

// haveKeys reports whether the cache holds keys younger than KeysMaxAge.
// v.mu is held.
func (v *Verifier) haveKeys() bool {
	return len(v.keys) > 0 && v.now().Sub(v.fetched) <= v.opts.KeysMaxAge
}

// lookup returns whether any cached key has kid (any key at all, when kid
// is empty) and those of them that fit alg. v.mu is held.
func (v *Verifier) lookup(kid, alg string) (known bool, match []jose.JSONWebKey) {
	for _, k := range v.keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		known = true
		if fits(k, alg) {
			match = append(match, k)
		}
	}
	return known, match
}

// mayFetch reports whether a refresh may start now: none is running and
// the last one started at least MinRefreshInterval ago. v.mu is held.
func (v *Verifier) mayFetch() bool {
	return v.inflight == nil && (v.attempted.IsZero() || v.now().Sub(v.attempted) >= v.opts.MinRefreshInterval)
}

// refreshLocked waits for a running refresh, or starts one if mayFetch, and
// returns ctx's error if ctx ends first. A refresh that is not allowed yet,
// or that fails, is not an error here: the caller looks at the cache and
// v.lastErr. v.mu is held, and released while waiting.
func (v *Verifier) refreshLocked(ctx context.Context) error {
	call := v.inflight
	if call == nil {
		if !v.mayFetch() {
			return nil
		}
		call = v.startFetch()
	}
	v.mu.Unlock()
	select {
	case <-call.done:
		v.mu.Lock()
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		return fmt.Errorf("%w: %w", ErrIdPUnavailable, ctx.Err())
	}
}

// startFetch starts a refresh in its own goroutine, bounded by FetchTimeout
// and independent of any caller's context (callers may give up waiting; the
// refresh still completes for the next one). v.mu is held.
func (v *Verifier) startFetch() *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	v.inflight = call
	v.attempted = v.now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), v.opts.FetchTimeout)
		defer cancel()
		keys, err := v.fetch(ctx)
		v.mu.Lock()
		if err != nil {
			v.lastErr = err
			v.log.Warn("oidc: could not refresh the identity provider's signing keys",
				"issuer", v.opts.Issuer, "err", err, "cached_keys", len(v.keys))
		} else {
			v.keys, v.fetched, v.lastErr = keys, v.now(), nil
			kids := make([]string, len(keys))
			for i, k := range keys {
				kids[i] = k.KeyID
			}
			v.log.Info("oidc: signing keys refreshed", "issuer", v.opts.Issuer, "kids", kids)
		}
		call.err = err
		v.inflight = nil
		v.mu.Unlock()
		close(call.done)
	}()
	return call
}

// fetch gets the JWKS, finding its URL by discovery the first time.
func (v *Verifier) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	v.mu.Lock()
	jwksURL := v.jwksURL
	v.mu.Unlock()
	if jwksURL == "" {
		m, err := Discover(ctx, v.client, v.opts.Issuer)
		if err != nil {
			return nil, err
		}
		if m.JWKSURI == "" {
			return nil, fmt.Errorf("oidc: discovery document of %s has no jwks_uri", v.opts.Issuer)
		}
		jwksURL = m.JWKSURI
		v.mu.Lock()
		v.jwksURL = jwksURL
		v.mu.Unlock()
	}
	var doc json.RawMessage
	if err := getJSON(ctx, v.client, jwksURL, &doc); err != nil {
		return nil, fmt.Errorf("oidc: JWKS: %w", err)
	}
	keys, err := parseJWKS(doc)
	if err != nil {
		return nil, fmt.Errorf("oidc: %s: %w", jwksURL, err)
	}
	return keys, nil
}

// Refresh fetches the issuer's keys now, whatever the rate limit, and
// returns the error of that fetch. Call it at start-up to learn early that
// the IdP cannot be reached; Verify works without it.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.mu.Lock()
	call := v.inflight
	if call == nil {
		call = v.startFetch()
	}
	v.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
