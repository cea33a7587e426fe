package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Tier is a storage tier. Hot is where objects start; Archive is cheaper,
// slower storage (an Azure access tier, or a separate folder locally).
type Tier string

const (
	TierHot     Tier = "hot"
	TierCool    Tier = "cool"
	TierArchive Tier = "archive"
)

// ErrBlobNotFound is returned (wrapped) by a Backend for a missing blob.
var ErrBlobNotFound = errors.New("blob not found")

// Backend stores immutable blobs of ciphertext under flat names made of
// [a-z0-9/._-]. It knows nothing of keys, versions or retention: the lake
// does. Every method is safe for concurrent use on different names.
//
// A blob is written in parts: WritePart may be called for parts in any
// order and again for the same part (the last write wins), and nothing is
// visible under the name until Commit; a crash or a failed Commit leaves no
// partial blob behind. Every part but the last has the same size, passed as
// partSize, so a backend can place part i at offset i*partSize.
type Backend interface {
	// WritePart stores part idx (from 0) of the blob being assembled under name.
	WritePart(ctx context.Context, name string, idx int, partSize int64, data []byte) error
	// Commit makes parts 0..parts-1 visible as the blob name, atomically and
	// durably. Committing over an existing blob is an error.
	Commit(ctx context.Context, name string, parts int) error
	// Abort discards the parts of an uncommitted blob; no error if none.
	Abort(ctx context.Context, name string) error
	// ReadRange returns length bytes from off (length < 0: to the end).
	// A missing blob is ErrBlobNotFound; a range past the end is an error.
	ReadRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	// Size returns the committed blob's size, or ErrBlobNotFound.
	Size(ctx context.Context, name string) (int64, error)
	// Delete removes a committed blob; a missing blob is ErrBlobNotFound.
	Delete(ctx context.Context, name string) error
	// List returns the committed blob names with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// SetTier moves a committed blob to tier t.
	SetTier(ctx context.Context, name string, t Tier) error
	// Describe names the backend for reports ("local /data/lake"); never secret.
	Describe() string
}

// CheckBlobName reports whether name is a valid blob name for a Backend:
// made of [a-z0-9/._-], relative, without ".." or "//", at most 512 bytes.
func CheckBlobName(name string) error {
	if name == "" || len(name) > 512 || strings.HasPrefix(name, "/") || strings.Contains(name, "..") || strings.Contains(name, "//") {
		return fmt.Errorf("lake: bad blob name %q", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("lake: bad blob name %q", name)
		}
	}
	return nil
}
