package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// LocalFS is a Backend on a local (or shared) filesystem: committed blobs
// under root/hot/<name> (root/archive/<name> once archived), parts being
// assembled in root/staging/<name>, written in place at their offsets and
// renamed into place on Commit.
type LocalFS struct {
	root string
}

var _ Backend = (*LocalFS)(nil)

// NewLocalFS returns a backend rooted at dir, creating it (mode 0700).
func NewLocalFS(dir string) (*LocalFS, error) {
	for _, d := range []string{"hot", "archive", "staging"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("lake: %w", err)
		}
	}
	return &LocalFS{root: dir}, nil
}

// Describe implements Backend.
func (b *LocalFS) Describe() string { return "local " + b.root }

func (b *LocalFS) path(tier, name string) string {
	return filepath.Join(b.root, tier, filepath.FromSlash(name))
}

// find returns the committed blob's path and tier directory.
func (b *LocalFS) find(name string) (string, error) {
	if err := CheckBlobName(name); err != nil {
		return "", err
	}
	for _, t := range []string{"hot", "archive"} {
		p := b.path(t, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("lake: %w", err)
		}
	}
	return "", fmt.Errorf("lake: %s: %w", name, ErrBlobNotFound)
}

// WritePart implements Backend.
func (b *LocalFS) WritePart(ctx context.Context, name string, idx int, partSize int64, data []byte) error {
	if err := CheckBlobName(name); err != nil {
		return err
	}
	p := b.path("staging", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("lake: %w", diskErr(err))
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("lake: %w", diskErr(err))
	}
	if _, err := f.WriteAt(data, int64(idx)*partSize); err != nil {
		f.Close()
		return fmt.Errorf("lake: write %s: %w", name, diskErr(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("lake: write %s: %w", name, diskErr(err))
	}
	return nil
}

// diskErr names a full disk plainly.
func diskErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w (%s): %w", ErrNoSpace, "local disk", err)
	}
	return err
}

// Commit implements Backend. The staging file's length is trusted to be
// the sum of its parts: the lake checks the committed size.
func (b *LocalFS) Commit(ctx context.Context, name string, parts int) error {
	if err := CheckBlobName(name); err != nil {
		return err
	}
	if _, err := b.find(name); err == nil {
		return fmt.Errorf("lake: commit %s: blob exists", name)
	}
	src := b.path("staging", name)
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("lake: commit %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("lake: commit %s: %w", name, diskErr(err))
	}
	f.Close()
	dst := b.path("hot", name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("lake: commit %s: %w", name, err)
	}
	syncDir(filepath.Dir(dst))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Abort implements Backend.
func (b *LocalFS) Abort(ctx context.Context, name string) error {
	if err := CheckBlobName(name); err != nil {
		return err
	}
	if err := os.Remove(b.path("staging", name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lake: %w", err)
	}
	return nil
}

type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionCloser) Close() error { return s.f.Close() }

// ReadRange implements Backend.
func (b *LocalFS) ReadRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	p, err := b.find(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lake: %w", err)
	}
	if length < 0 && off >= 0 && off <= st.Size() {
		length = st.Size() - off
	}
	if off < 0 || length < 0 || off+length > st.Size() {
		f.Close()
		return nil, fmt.Errorf("lake: %s: range %d+%d beyond size %d", name, off, length, st.Size())
	}
	return sectionCloser{io.NewSectionReader(f, off, length), f}, nil
}

// Size implements Backend.
func (b *LocalFS) Size(ctx context.Context, name string) (int64, error) {
	p, err := b.find(name)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return 0, fmt.Errorf("lake: %w", err)
	}
	return st.Size(), nil
}

// Delete implements Backend.
func (b *LocalFS) Delete(ctx context.Context, name string) error {
	p, err := b.find(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	return nil
}

// List implements Backend.
func (b *LocalFS) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	for _, t := range []string{"hot", "archive"} {
		base := filepath.Join(b.root, t)
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(base, p)
			if name := filepath.ToSlash(rel); strings.HasPrefix(name, prefix) {
				out = append(out, name)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("lake: list: %w", err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// SetTier implements Backend: archive moves the blob to root/archive;
// hot and cool are both the hot folder.
func (b *LocalFS) SetTier(ctx context.Context, name string, t Tier) error {
	p, err := b.find(name)
	if err != nil {
		return err
	}
	dir := "hot"
	switch t {
	case TierArchive:
		dir = "archive"
	case TierHot, TierCool:
	default:
		return fmt.Errorf("lake: unknown tier %q", t)
	}
	dst := b.path(dir, name)
	if dst == p {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	if err := os.Rename(p, dst); err != nil {
		return fmt.Errorf("lake: tier %s: %w", name, err)
	}
	syncDir(filepath.Dir(dst))
	return nil
}
