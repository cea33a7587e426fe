package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/clinomics/clinomics/internal/catalog"
)

// hashMemo computes each input's sha256 once per execution, trusting the
// catalog's record when the file's size and modification time are unchanged.
type hashMemo struct {
	store catalog.Store
	mu    sync.Mutex
	m     map[string]*hashEntry
}

type hashEntry struct {
	once sync.Once
	sum  string
	err  error
}

func (h *hashMemo) get(ctx context.Context, path string) (string, error) {
	h.mu.Lock()
	e, ok := h.m[path]
	if !ok {
		e = &hashEntry{}
		h.m[path] = e
	}
	h.mu.Unlock()
	e.once.Do(func() { e.sum, e.err = FileSHA256(ctx, h.store, path) })
	return e.sum, e.err
}

// FileSHA256 returns the sha256 of the file at path, using the catalog's
// record when size and modification time match it, and recording a fresh
// hash otherwise. A missing file is an error naming it.
func FileSHA256(ctx context.Context, store catalog.Store, path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	rec, err := store.GetFile(ctx, path)
	switch {
	case err == nil && rec.Size == fi.Size() && rec.ModTime.Equal(fi.ModTime()):
		return rec.SHA256, nil
	case err != nil && !errors.Is(err, catalog.ErrNotFound):
		return "", err
	}
	sum, size, err := hashFile(path, false)
	if err != nil {
		return "", err
	}
	rec.Path, rec.Size, rec.ModTime, rec.SHA256 = path, size, fi.ModTime().UTC(), sum
	if err := store.PutFile(ctx, rec); err != nil {
		return "", err
	}
	return sum, nil
}

// hashFile returns a file's sha256 and size; with flush it also syncs the
// file to disk (a freshly written output, before it is renamed into place).
func hashFile(path string, flush bool) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	if flush {
		if err := f.Sync(); err != nil {
			return "", 0, fmt.Errorf("syncing %s: %w", path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
