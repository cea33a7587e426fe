package keys_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/clinomics/clinomics/internal/keys"
	"github.com/clinomics/clinomics/internal/keys/keystest"
)

func init() { keys.DefaultKDF.MemoryKiB = 8 * 1024 } // fast tests; production uses 64 MiB

func TestLocalConformance(t *testing.T) {
	l, err := keys.OpenLocal(filepath.Join(t.TempDir(), "keyring"), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	keystest.Run(t, l, "t-")
}

func TestLocalSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	l, err := keys.OpenLocal(path, "pass one")
	if err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{7}, 32)
	w, err := l.Wrap(context.Background(), "lake", dek)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("lake")) {
		t.Error("keyring file shows key names in the clear")
	}
	if _, err := keys.OpenLocal(path, "wrong"); !errors.Is(err, keys.ErrUnwrap) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := keys.OpenLocal(path, ""); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("empty passphrase: %v", err)
	}
	// A second process sees the first one's keys, and changes made by
	// another opener (rotation) are picked up.
	l2, err := keys.OpenLocal(path, "pass one")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l2.Unwrap(context.Background(), w); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("reopen unwrap: %v", err)
	}
	v, err := l2.Rotate(context.Background(), "lake")
	if err != nil {
		t.Fatal(err)
	}
	w2, err := l.Wrap(context.Background(), "lake", dek)
	if err != nil {
		t.Fatal(err)
	}
	if w2.Version != v {
		t.Fatalf("first opener wrapped with version %s after another rotated to %s", w2.Version, v)
	}
	os.WriteFile(path, []byte("{garbage"), 0o600)
	if _, err := keys.OpenLocal(path, "pass one"); err == nil {
		t.Fatal("damaged keyring opened")
	}
}
