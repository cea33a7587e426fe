package smart

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Signing algorithms SMART Backend Services requires servers to support.
const (
	RS384 = "RS384" // RSA 3072, PKCS #1 v1.5 with SHA-384
	ES384 = "ES384" // ECDSA P-384 with SHA-384
)

// KeyPrefix names the catalog's records of signing keys: generation n is
// stored as KeyPrefix + n, n from 1.
const KeyPrefix = "smart-signing-"

// DefaultOverlap is how long a replaced key stays in the JWKS.
const DefaultOverlap = 7 * 24 * time.Hour

// KeyStore is where the sealed signing keys are kept (the catalog's
// sealing-key records).
type KeyStore interface {
	// GetSealingKey returns catalog.ErrNotFound (wrapped) when no key has name.
	GetSealingKey(ctx context.Context, name string) (catalog.SealingKey, error)
	// PutSealingKey inserts k; a key of that name already stored is left
	// unchanged (read it back).
	PutSealingKey(ctx context.Context, k catalog.SealingKey) error
}

// Sealer seals the private keys (clinical.DB: AES-GCM under the clinical
// data key, itself wrapped by the key provider).
type Sealer interface {
	Seal(kind, id string, b []byte) ([]byte, error)
	Open(kind, id string, b []byte) ([]byte, error)
}

// Keys is the platform's set of signing keys. It is safe for concurrent
// use; keys are read from the store once and cached.
type Keys struct {
	Store  KeyStore
	Sealer Sealer
	// Alg is the algorithm of new keys: RS384 or ES384 (default ES384).
	// A current key of another algorithm is replaced (rotated) on load.
	Alg string
	// Overlap is how long a replaced key's public half stays published
	// (default DefaultOverlap).
	Overlap time.Duration

	mu       sync.Mutex
	loaded   []key // by generation, oldest first
	loadedAt time.Time
	now      func() time.Time
}

// reloadAfter is how long the keys read from the store are trusted before
// they are read again (a rotation by another process shows within it).
const reloadAfter = time.Minute

// key is one generation of signing key.
type key struct {
	gen     int
	alg     string
	kid     string
	priv    crypto.Signer
	created time.Time
}

// sealedKey is what the sealed blob holds.
type sealedKey struct {
	Alg   string `json:"alg"`
	PKCS8 []byte `json:"pkcs8"`
}

func (k *Keys) clock() time.Time {
	if k.now != nil {
		return k.now()
	}
	return time.Now()
}

func (k *Keys) alg() string {
	if k.Alg == "" {
		return ES384
	}
	return k.Alg
}

// CheckAlg reports whether alg is one this package signs with.
func CheckAlg(alg string) error {
	switch alg {
	case RS384, ES384:
		return nil
	}
	return fmt.Errorf("signing algorithm %q is not RS384 or ES384", alg)
}

// load reads every generation from the store (once), and makes the first
// key, or a new one when the current key's algorithm is not Alg. It
// returns the keys, oldest first. k.mu is held.
func (k *Keys) load(ctx context.Context) ([]key, error) {
	if len(k.loaded) > 0 && k.loaded[len(k.loaded)-1].alg == k.alg() && k.clock().Sub(k.loadedAt) < reloadAfter {
		return k.loaded, nil
	}
	if err := CheckAlg(k.alg()); err != nil {
		return nil, err
	}
	var list []key
	for gen := 1; ; gen++ {
		sk, err := k.Store.GetSealingKey(ctx, KeyPrefix+strconv.Itoa(gen))
		if errors.Is(err, catalog.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("smart: signing key %d: %w", gen, err)
		}
		kk, err := k.open(gen, sk)
		if err != nil {
			return nil, err
		}
		list = append(list, kk)
	}
	if len(list) == 0 || list[len(list)-1].alg != k.alg() {
		kk, err := k.create(ctx, len(list)+1)
		if err != nil {
			return nil, err
		}
		list = append(list, kk)
	}
	k.loaded, k.loadedAt = list, k.clock()
	return list, nil
}

// create makes generation gen and stores it; when another process stored
// that generation first, its key is the one returned.
func (k *Keys) create(ctx context.Context, gen int) (key, error) {
	priv, err := generate(k.alg())
	if err != nil {
		return key{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return key{}, err
	}
	plain, err := json.Marshal(sealedKey{Alg: k.alg(), PKCS8: der})
	clear(der)
	if err != nil {
		return key{}, err
	}
	name := KeyPrefix + strconv.Itoa(gen)
	sealed, err := k.Sealer.Seal("smart-key", name, plain)
	clear(plain)
	if err != nil {
		return key{}, fmt.Errorf("smart: sealing the signing key: %w", err)
	}
	if err := k.Store.PutSealingKey(ctx, catalog.SealingKey{Name: name, KeyName: "clinical", Wrapped: sealed, Created: k.clock().UTC()}); err != nil {
		return key{}, fmt.Errorf("smart: storing the signing key: %w", err)
	}
	sk, err := k.Store.GetSealingKey(ctx, name) // another process may have won the race
	if err != nil {
		return key{}, fmt.Errorf("smart: signing key %d: %w", gen, err)
	}
	return k.open(gen, sk)
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RS384:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, CheckAlg(alg)
}

// open unseals one stored generation and checks it is a key of its alg.
func (k *Keys) open(gen int, sk catalog.SealingKey) (key, error) {
	plain, err := k.Sealer.Open("smart-key", sk.Name, sk.Wrapped)
	if err != nil {
		return key{}, fmt.Errorf("smart: signing key %d does not open: %w", gen, err)
	}
	var s sealedKey
	err = json.Unmarshal(plain, &s)
	clear(plain)
	if err != nil {
		return key{}, fmt.Errorf("smart: signing key %d: %w", gen, err)
	}
	p, err := x509.ParsePKCS8PrivateKey(s.PKCS8)
	clear(s.PKCS8)
	if err != nil {
		return key{}, fmt.Errorf("smart: signing key %d: %w", gen, err)
	}
	ok := false
	switch pk := p.(type) {
	case *ecdsa.PrivateKey:
		ok = s.Alg == ES384 && pk.Curve == elliptic.P384()
	case *rsa.PrivateKey:
		ok = s.Alg == RS384 && pk.N.BitLen() >= 2048
	}
	if !ok {
		return key{}, fmt.Errorf("smart: signing key %d is not a key for %s", gen, s.Alg)
	}
	signer := p.(crypto.Signer)
	kid, err := thumbprint(signer.Public())
	if err != nil {
		return key{}, err
	}
	return key{gen: gen, alg: s.Alg, kid: kid, priv: signer, created: sk.Created}, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url.
func thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	t, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("smart: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// current returns the key assertions are signed with.
func (k *Keys) current(ctx context.Context) (key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	list, err := k.load(ctx)
	if err != nil {
		return key{}, err
	}
	return list[len(list)-1], nil
}

// KeyID returns the kid of the current key (making the key on first use).
func (k *Keys) KeyID(ctx context.Context) (string, error) {
	c, err := k.current(ctx)
	return c.kid, err
}

// Rotate makes a new current key; the one it replaces stays in the JWKS
// for Overlap. It returns the new key's kid.
func (k *Keys) Rotate(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	list, err := k.load(ctx)
	if err != nil {
		return "", err
	}
	kk, err := k.create(ctx, list[len(list)-1].gen+1)
	if err != nil {
		return "", err
	}
	if kk.gen == list[len(list)-1].gen+1 {
		k.loaded = append(list, kk)
	}
	return kk.kid, nil
}

// JWKS returns the public keys to publish: the current key and every key
// replaced less than Overlap ago. It never holds private material.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	k.mu.Lock()
	list, err := k.load(ctx)
	k.mu.Unlock()
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	overlap := k.Overlap
	if overlap <= 0 {
		overlap = DefaultOverlap
	}
	now := k.clock()
	var set jose.JSONWebKeySet
	for i, kk := range list {
		if i < len(list)-1 && now.Sub(list[i+1].created) >= overlap {
			continue // replaced long enough ago
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: kk.priv.Public(), KeyID: kk.kid, Algorithm: kk.alg, Use: "sig"})
	}
	return set, nil
}
