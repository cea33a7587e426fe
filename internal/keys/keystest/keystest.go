// Package keystest is the conformance suite every keys.Provider passes.
package keystest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/clinomics/clinomics/internal/keys"
)

// Run checks wrap/unwrap, rotation, tampering and destruction on p, using
// key names that start with prefix (so runs against a shared vault do not
// collide).
func Run(t *testing.T, p keys.Provider, prefix string) {
	ctx := context.Background()
	dek := make([]byte, 32)
	rand.Read(dek)

	t.Run("WrapUnwrap", func(t *testing.T) {
		w, err := p.Wrap(ctx, prefix+"a", dek)
		if err != nil {
			t.Fatal(err)
		}
		if w.Key != prefix+"a" || w.Version == "" || len(w.Blob) == 0 {
			t.Fatalf("wrapped = %+v", w)
		}
		if bytes.Contains(w.Blob, dek) {
			t.Fatal("wrapped blob contains the data key")
		}
		got, err := p.Unwrap(ctx, w)
		if err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("unwrap = %x, %v", got, err)
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		w, err := p.Wrap(ctx, prefix+"a", dek)
		if err != nil {
			t.Fatal(err)
		}
		w.Blob = bytes.Clone(w.Blob)
		w.Blob[len(w.Blob)-1] ^= 1
		if got, err := p.Unwrap(ctx, w); !errors.Is(err, keys.ErrUnwrap) {
			t.Fatalf("tampered unwrap = %x, %v; want ErrUnwrap", got, err)
		}
	})

	t.Run("WrongKey", func(t *testing.T) {
		w, err := p.Wrap(ctx, prefix+"a", dek)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wrap(ctx, prefix+"b", dek); err != nil {
			t.Fatal(err)
		}
		w.Key = prefix + "b"
		if got, err := p.Unwrap(ctx, w); err == nil {
			t.Fatalf("unwrap under another key = %x", got)
		}
		w.Key = prefix + "never-made"
		if _, err := p.Unwrap(ctx, w); !errors.Is(err, keys.ErrNotFound) {
			t.Fatalf("unknown key: %v; want ErrNotFound", err)
		}
	})

	t.Run("Rotate", func(t *testing.T) {
		old, err := p.Wrap(ctx, prefix+"r", dek)
		if err != nil {
			t.Fatal(err)
		}
		v, err := p.Rotate(ctx, prefix+"r")
		if err != nil {
			t.Fatal(err)
		}
		if v == old.Version {
			t.Fatalf("rotate kept version %s", v)
		}
		nw, err := p.Wrap(ctx, prefix+"r", dek)
		if err != nil {
			t.Fatal(err)
		}
		if nw.Version != v {
			t.Fatalf("wrap after rotate used version %s, want %s", nw.Version, v)
		}
		for _, w := range []keys.Wrapped{old, nw} {
			if got, err := p.Unwrap(ctx, w); err != nil || !bytes.Equal(got, dek) {
				t.Fatalf("unwrap version %s: %v", w.Version, err)
			}
		}
		if _, err := p.Rotate(ctx, prefix+"never-made"); !errors.Is(err, keys.ErrNotFound) {
			t.Fatalf("rotate unknown: %v", err)
		}
	})

	t.Run("Destroy", func(t *testing.T) {
		w, err := p.Wrap(ctx, prefix+"d", dek)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Destroy(ctx, prefix+"d"); err != nil {
			t.Fatal(err)
		}
		if got, err := p.Unwrap(ctx, w); err == nil || got != nil {
			t.Fatalf("unwrap after destroy = %x, %v", got, err)
		} else if !errors.Is(err, keys.ErrDestroyed) && !errors.Is(err, keys.ErrNotFound) {
			t.Fatalf("unwrap after destroy: %v; want ErrDestroyed or ErrNotFound", err)
		}
		// A destroyed key is never silently made anew: what it protected
		// stays shredded, and nothing new is encrypted under its name.
		if _, err := p.Wrap(ctx, prefix+"d", dek); !errors.Is(err, keys.ErrDestroyed) {
			t.Fatalf("wrap after destroy: %v; want ErrDestroyed", err)
		}
		if err := p.Destroy(ctx, prefix+"never-made"); !errors.Is(err, keys.ErrNotFound) {
			t.Fatalf("destroy unknown: %v", err)
		}
	})
}
