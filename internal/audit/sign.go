package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/keys"
)

// SigningKeyName is the key provider's key that wraps the checkpoint-signing key.
const SigningKeyName = "audit-signing"

// KeyStore is where the wrapped signing keys are kept (the catalog).
type KeyStore interface {
	// PutAuditKey stores k; an existing ID is left unchanged.
	PutAuditKey(ctx context.Context, k catalog.AuditKey) error
	// ListAuditKeys returns the keys, oldest first.
	ListAuditKeys(ctx context.Context) ([]catalog.AuditKey, error)
}

// Wrapper is the part of keys.Provider that protects the signing key.
type Wrapper interface {
	// Wrap encrypts dek under the newest version of key name, creating the key if needed.
	Wrap(ctx context.Context, name string, dek []byte) (keys.Wrapped, error)
	// Unwrap returns the data key; it never returns material w's key did not wrap.
	Unwrap(ctx context.Context, w keys.Wrapped) ([]byte, error)
}

// Signer signs checkpoints with one Ed25519 key.
type Signer struct {
	id   string
	priv ed25519.PrivateKey
}

// KeyID names a public key: the first 16 hex digits of its sha256.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// NewSigner returns a signer over priv (for tests and benchmarks; a
// server uses LoadSigner).
func NewSigner(priv ed25519.PrivateKey) *Signer {
	return &Signer{id: KeyID(priv.Public().(ed25519.PublicKey)), priv: priv}
}

// LoadSigner returns the newest signing key in ks, unwrapped by kp. When
// there is none it generates one, wraps its seed under SigningKeyName and
// stores it. A stored key whose seed does not unwrap, or unwraps to another
// public key than the one stored beside it, is an error.
func LoadSigner(ctx context.Context, ks KeyStore, kp Wrapper) (*Signer, error) {
	list, err := ks.ListAuditKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: signing key: %w", err)
	}
	if len(list) == 0 {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		w, err := kp.Wrap(ctx, SigningKeyName, seed)
		if err != nil {
			return nil, fmt.Errorf("audit: wrap signing key: %w", err)
		}
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		k := catalog.AuditKey{ID: KeyID(pub), PublicKey: pub, KeyName: w.Key, KeyVersion: w.Version, Wrapped: w.Blob, Created: time.Now()}
		if err := ks.PutAuditKey(ctx, k); err != nil {
			return nil, fmt.Errorf("audit: store signing key: %w", err)
		}
		// Another process may have stored its own key at the same time:
		// both are valid; use whichever is newest, as every later start will.
		if list, err = ks.ListAuditKeys(ctx); err != nil {
			return nil, fmt.Errorf("audit: signing key: %w", err)
		}
	}
	k := list[len(list)-1]
	priv, err := unwrapKey(ctx, kp, k)
	if err != nil {
		return nil, err
	}
	return &Signer{id: k.ID, priv: priv}, nil
}

// PublicKeys returns the public key of every signing key in ks, each
// checked by unwrapping its private key with kp: a key someone added to the
// catalog without the key provider is an error, not a trusted key.
func PublicKeys(ctx context.Context, ks KeyStore, kp Wrapper) ([]catalog.AuditKey, error) {
	list, err := ks.ListAuditKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: signing keys: %w", err)
	}
	for _, k := range list {
		if _, err := unwrapKey(ctx, kp, k); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// unwrapKey returns k's private key, checking it against k's public key.
func unwrapKey(ctx context.Context, kp Wrapper, k catalog.AuditKey) (ed25519.PrivateKey, error) {
	seed, err := kp.Unwrap(ctx, keys.Wrapped{Key: k.KeyName, Version: k.KeyVersion, Blob: k.Wrapped})
	if err != nil {
		return nil, fmt.Errorf("audit: unwrap signing key %s: %w", k.ID, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit: signing key %s: seed is %d bytes", k.ID, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), k.PublicKey) || KeyID(k.PublicKey) != k.ID {
		return nil, fmt.Errorf("audit: signing key %s: the stored public key does not belong to the wrapped private key", k.ID)
	}
	return priv, nil
}

// KeyID names the signer's key.
func (s *Signer) KeyID() string { return s.id }

// PublicKey returns the key checkpoints are verified with.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Sign makes the checkpoint stating that record seq has hash at time t.
func (s *Signer) Sign(seq int64, hash string, t time.Time) catalog.AuditCheckpoint {
	t = time.Unix(0, t.UnixNano()).UTC()
	return catalog.AuditCheckpoint{Seq: seq, Hash: hash, Time: t, KeyID: s.id,
		Signature: ed25519.Sign(s.priv, checkpointMessage(seq, hash, t))}
}

// checkpointMessage is what a checkpoint's signature covers. The first
// line keeps the signature from being valid for anything else.
func checkpointMessage(seq int64, hash string, t time.Time) []byte {
	return fmt.Appendf(nil, "clinomics audit checkpoint v1\nseq %d\nhash %s\ntime %d\n", seq, hash, t.UnixNano())
}

// checkSignature reports whether c was signed by pub.
func checkSignature(pub ed25519.PublicKey, c catalog.AuditCheckpoint) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, checkpointMessage(c.Seq, c.Hash, c.Time), c.Signature)
}

// PublicKeyPEM encodes pub as a PEM "PUBLIC KEY" (PKIX), which OpenSSL reads.
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKeys reads the Ed25519 public keys of PEM "PUBLIC KEY" blocks.
func ParsePublicKeys(b []byte) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("audit: public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("audit: public key is not Ed25519")
		}
		out = append(out, pub)
	}
	if len(out) == 0 {
		return nil, errors.New("audit: no PEM PUBLIC KEY block")
	}
	return out, nil
}
