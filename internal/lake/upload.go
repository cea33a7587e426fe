package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/clinomics/clinomics/internal/catalog"
)

// ErrOffset: an upload was continued from another offset than the one the
// lake has stored; the client asks for the status and resumes from there.
var ErrOffset = errors.New("upload offset mismatch")

// uploadLocks serialises writers of the same upload within this process.
var uploadLocks sync.Map

func lockUpload(id string) func() {
	m, _ := uploadLocks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// BeginUpload starts a resumable upload of size bytes (required) to path.
// With o.SHA256 the object is committed only if the data hashes to it.
func (l *Lake) BeginUpload(ctx context.Context, path string, size int64, o PutOptions) (catalog.Upload, error) {
	if size < 0 {
		return catalog.Upload{}, errors.New("lake: an upload needs its size")
	}
	u, dek, err := l.newUpload(ctx, path, o, size)
	clear(dek) // unwrapped again per request; never kept
	if err != nil {
		return catalog.Upload{}, err
	}
	if err := l.idx.PutUpload(ctx, u); err != nil {
		return catalog.Upload{}, err
	}
	return l.idx.GetUpload(ctx, u.ID)
}

// Upload returns an upload's progress; ErrNotFound when it does not exist
// (finished, cancelled, or never begun).
func (l *Lake) Upload(ctx context.Context, id string) (catalog.Upload, error) {
	u, err := l.idx.GetUpload(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return u, fmt.Errorf("lake: upload %s: %w", id, ErrNotFound)
	}
	return u, err
}

// WriteUpload continues upload id at offset with the bytes of r. Whole
// parts are stored and the progress saved after each; bytes of a part cut
// short (the connection broke) are dropped and the upload resumes from the
// last whole part. When the declared size is reached the object is
// committed and its version returned.
func (l *Lake) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (catalog.Upload, *catalog.ObjectVersion, error) {
	defer lockUpload(id)()
	u, err := l.Upload(ctx, id)
	if err != nil {
		return u, nil, err
	}
	if offset != u.Offset {
		return u, nil, fmt.Errorf("lake: upload %s: %w: stored up to %d, sent from %d", id, ErrOffset, u.Offset, offset)
	}
	v := catalog.ObjectVersion{Path: u.Path, ID: u.VersionID, KeyName: u.KeyName, KeyVersion: u.KeyVersion, WrappedKey: u.WrappedKey}
	dek, err := l.dataKey(ctx, v)
	if err != nil {
		return u, nil, err
	}
	w, err := newPartWriter(l.be, u, dek)
	clear(dek)
	if err != nil {
		return u, nil, err
	}
	if u.Offset < u.Size || u.Size == 0 && u.Parts == 0 {
		save := func() error {
			u.Parts, u.Offset, u.HashState = w.parts, w.off, w.state
			return l.idx.PutUpload(context.WithoutCancel(ctx), u)
		}
		if _, err := w.stream(ctx, io.LimitReader(r, u.Size-u.Offset), u.Size-u.Offset, save); err != nil {
			return u, nil, fmt.Errorf("lake: upload %s: %w", id, err)
		}
	}
	if extra, _ := r.Read(make([]byte, 1)); extra > 0 {
		return u, nil, fmt.Errorf("lake: upload %s: more data than the declared %d bytes", id, u.Size)
	}
	if !w.done && w.off < u.Size {
		return u, nil, nil // more to come
	}
	ver, err := l.commit(ctx, w)
	if err != nil {
		if errors.Is(err, ErrChecksum) {
			l.idx.DeleteUpload(context.WithoutCancel(ctx), id)
		}
		return u, nil, err
	}
	if err := l.idx.DeleteUpload(ctx, id); err != nil {
		return u, &ver, err
	}
	u.Offset = u.Size
	return u, &ver, nil
}

// CancelUpload drops an upload and its stored parts.
func (l *Lake) CancelUpload(ctx context.Context, id string) error {
	defer lockUpload(id)()
	u, err := l.Upload(ctx, id)
	if err != nil {
		return err
	}
	if err := l.be.Abort(ctx, u.Blob); err != nil {
		return err
	}
	return l.idx.DeleteUpload(ctx, id)
}
