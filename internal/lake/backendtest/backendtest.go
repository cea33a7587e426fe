// Package backendtest is the conformance suite every lake.Backend passes:
// the local filesystem and Azure Blob Storage (against Azurite) run the
// same cases.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/clinomics/clinomics/internal/lake"
)

// Run checks b. Blob names start with prefix so runs can share a container.
func Run(t *testing.T, b lake.Backend, prefix string) {
	ctx := context.Background()
	part := func(i, n int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, n) }
	const ps = 1000

	put := func(t *testing.T, name string, parts ...[]byte) {
		t.Helper()
		for i, p := range parts {
			if err := b.WritePart(ctx, name, i, ps, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(ctx, name, len(parts)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(t *testing.T, name string, off, n int64) []byte {
		t.Helper()
		r, err := b.ReadRange(ctx, name, off, n)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("PartsOutOfOrder", func(t *testing.T) {
		name := prefix + "ooo/blob"
		want := append(append(part(0, ps), part(1, ps)...), part(2, 10)...)
		for _, i := range []int{2, 0, 1, 0} { // part 0 rewritten: last write wins
			n := ps
			if i == 2 {
				n = 10
			}
			if err := b.WritePart(ctx, name, i, ps, part(i, n)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Size(ctx, name); !errors.Is(err, lake.ErrBlobNotFound) {
			t.Fatalf("uncommitted blob visible: %v", err)
		}
		if got, err := b.List(ctx, prefix+"ooo/"); err != nil || len(got) != 0 {
			t.Fatalf("uncommitted blob listed: %v, %v", got, err)
		}
		if err := b.Commit(ctx, name, 3); err != nil {
			t.Fatal(err)
		}
		if got := read(t, name, 0, -1); !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes, want %d", len(got), len(want))
		}
		if n, err := b.Size(ctx, name); err != nil || n != int64(len(want)) {
			t.Fatalf("size = %d, %v", n, err)
		}
		if got := read(t, name, 995, 10); !bytes.Equal(got, append(part(0, 5), part(1, 5)...)) {
			t.Fatalf("range across parts = %q", got)
		}
		if got := read(t, name, 2000, -1); !bytes.Equal(got, part(2, 10)) {
			t.Fatalf("tail = %q", got)
		}
		if _, err := b.ReadRange(ctx, name, 2005, 10); err == nil {
			t.Fatal("range past the end accepted")
		}
		if got := read(t, name, 2010, -1); len(got) != 0 {
			t.Fatalf("read from the end = %q", got)
		}
		if r, err := b.ReadRange(ctx, name, 2011, -1); err == nil {
			r.Close()
			t.Fatal("read to the end from past the end accepted")
		}
		if got := read(t, name, 7, 0); len(got) != 0 {
			t.Fatalf("empty range = %q", got)
		}
		if err := b.WritePart(ctx, name, 0, ps, part(5, 4)); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(ctx, name, 1); err == nil {
			t.Fatal("commit over an existing blob accepted")
		}
		if got := read(t, name, 0, -1); !bytes.Equal(got, want) {
			t.Fatalf("refused commit changed the blob: read %d bytes, want %d", len(got), len(want))
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("%sconc/b%d", prefix, i)
				for j := 0; j < 3; j++ {
					if err := b.WritePart(ctx, name, j, ps, part(i+j, ps)); err != nil {
						errs <- err
						return
					}
				}
				errs <- b.Commit(ctx, name, 3)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 4; i++ {
			want := append(append(part(i, ps), part(i+1, ps)...), part(i+2, ps)...)
			if got := read(t, fmt.Sprintf("%sconc/b%d", prefix, i), 0, -1); !bytes.Equal(got, want) {
				t.Fatalf("blob %d differs", i)
			}
		}
	})

	t.Run("Abort", func(t *testing.T) {
		name := prefix + "abort/blob"
		if err := b.WritePart(ctx, name, 0, ps, part(0, 5)); err != nil {
			t.Fatal(err)
		}
		if err := b.Abort(ctx, name); err != nil {
			t.Fatal(err)
		}
		if err := b.Abort(ctx, name); err != nil {
			t.Fatalf("second abort: %v", err)
		}
		if _, err := b.Size(ctx, name); !errors.Is(err, lake.ErrBlobNotFound) {
			t.Fatalf("aborted blob: %v", err)
		}
		// The name is usable afterwards.
		put(t, name, part(3, 7))
		if got := read(t, name, 0, -1); !bytes.Equal(got, part(3, 7)) {
			t.Fatalf("after abort = %q", got)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		name := prefix + "missing/blob"
		if _, err := b.ReadRange(ctx, name, 0, -1); !errors.Is(err, lake.ErrBlobNotFound) {
			t.Fatalf("read: %v", err)
		}
		if _, err := b.Size(ctx, name); !errors.Is(err, lake.ErrBlobNotFound) {
			t.Fatalf("size: %v", err)
		}
		if err := b.Delete(ctx, name); !errors.Is(err, lake.ErrBlobNotFound) {
			t.Fatalf("delete: %v", err)
		}
		if err := b.SetTier(ctx, name, lake.TierArchive); !errors.Is(err, lake.ErrBlobNotFound) {
			t.Fatalf("tier: %v", err)
		}
	})

	t.Run("ListDeleteTier", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			put(t, fmt.Sprintf("%slist/b%d", prefix, i), part(i, 3))
		}
		got, err := b.List(ctx, prefix+"list/")
		if err != nil {
			t.Fatal(err)
		}
		if none, err := b.List(ctx, prefix+"list/none"); err != nil || len(none) != 0 {
			t.Fatalf("list of an unused prefix = %v, %v", none, err)
		}
		if fmt.Sprint(got) != fmt.Sprintf("[%[1]slist/b0 %[1]slist/b1 %[1]slist/b2]", prefix) {
			t.Fatalf("list = %v", got)
		}
		if err := b.SetTier(ctx, prefix+"list/b1", lake.TierArchive); err != nil {
			t.Fatal(err)
		}
		if n, err := b.Size(ctx, prefix+"list/b1"); err != nil || n != 3 {
			t.Fatalf("archived size = %d, %v", n, err)
		}
		if got, _ := b.List(ctx, prefix+"list/"); len(got) != 3 {
			t.Fatalf("list after tiering = %v", got)
		}
		if err := b.Delete(ctx, prefix+"list/b1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.List(ctx, prefix+"list/"); len(got) != 2 {
			t.Fatalf("list after delete = %v", got)
		}
	})

	t.Run("BadName", func(t *testing.T) {
		for _, n := range []string{"", "../x", "/abs", "UPPER", "a//b"} {
			if err := b.WritePart(ctx, n, 0, ps, []byte("x")); err == nil {
				t.Errorf("name %q accepted", n)
			}
		}
	})
}
