// Package keys holds the key-encryption keys (KEKs) that protect the lake's
// per-object data keys, behind one Provider interface: a local keyring
// sealed by a passphrase (the embedded default) and Azure Key Vault.
//
// A key has a name ("lake" for objects without a patient, "patient-<id>" for
// a patient's objects, so that destroying one key crypto-shreds exactly that
// patient's data) and numbered versions. Wrap always uses the newest version;
// Unwrap uses the version recorded with the wrapped key, so rotation only
// has to re-wrap data keys, never re-encrypt data.
package keys

import (
	"context"
	"errors"
)

var (
	// ErrNotFound: the key (or the version) does not exist.
	ErrNotFound = errors.New("key not found")
	// ErrDestroyed: the key was destroyed (crypto-shredded); what it
	// protected can never be read again.
	ErrDestroyed = errors.New("key destroyed")
	// ErrUnwrap: the wrapped key is not one this key produced (wrong key,
	// tampered blob). Never returns garbage key material.
	ErrUnwrap = errors.New("wrapped key does not open with this key")
	// ErrSealed: the keyring is sealed and no passphrase was given.
	ErrSealed = errors.New("keyring is sealed")
)

// Wrapped is a data key encrypted under one version of a named key.
type Wrapped struct {
	Key     string // key name
	Version string // the version that wrapped it
	Blob    []byte // provider-specific ciphertext
}

// Provider wraps and unwraps data keys. Implementations are safe for
// concurrent use.
type Provider interface {
	// Wrap encrypts dek under the newest version of key name, creating the
	// key first if it does not exist. A destroyed key returns ErrDestroyed.
	Wrap(ctx context.Context, name string, dek []byte) (Wrapped, error)
	// Unwrap returns the data key; errors wrap ErrNotFound, ErrDestroyed
	// or ErrUnwrap. It never returns material that was not wrapped by w's key.
	Unwrap(ctx context.Context, w Wrapped) ([]byte, error)
	// Rotate makes a new version of key name the one Wrap uses and returns
	// it; older versions still unwrap.
	Rotate(ctx context.Context, name string) (string, error)
	// Destroy deletes every version of key name, irreversibly. Destroying
	// a key that does not exist returns ErrNotFound.
	Destroy(ctx context.Context, name string) error
	// Describe names the provider for logs and reports ("local keyring",
	// "azure key vault https://…"); never secret.
	Describe() string
}

// PatientKey is the key name that protects one patient's objects; pid is the
// internal pseudonymous patient id, never an MRN.
func PatientKey(pid string) string { return "patient-" + pid }

// DefaultKey protects objects that belong to no patient.
const DefaultKey = "lake"
