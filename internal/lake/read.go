package lake

import (
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Reader reads plaintext from one object version, decrypting and
// authenticating chunk by chunk. A Reader over the whole object also checks
// the plaintext's sha256 at the end: a mismatch is returned instead of io.EOF.
type Reader struct {
	v      catalog.ObjectVersion
	aead   cipher.AEAD
	src    io.ReadCloser
	idx    int64 // next chunk
	last   int64 // last chunk to read
	final  int64 // the object's final chunk
	skip   int   // plaintext bytes to drop from the first chunk
	remain int64 // plaintext bytes still to return
	sealed []byte
	plain  []byte
	buf    []byte // undelivered plaintext
	sha    hash.Hash
	err    error
}

// Version is the object version being read.
func (r *Reader) Version() catalog.ObjectVersion { return r.v }

// Open reads the current version of a live object.
func (l *Lake) Open(ctx context.Context, path string) (*Reader, error) {
	_, v, err := l.Stat(ctx, path)
	if err != nil {
		return nil, err
	}
	return l.openRange(ctx, v, 0, -1)
}

// OpenVersion reads one version by id, the current one or an older one.
func (l *Lake) OpenVersion(ctx context.Context, id string) (*Reader, error) {
	v, err := l.idx.GetObjectVersion(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("lake: version %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return l.openRange(ctx, v, 0, -1)
}

// ReadRange reads n plaintext bytes from off of the current version of
// path (n < 0: to the end), touching only the chunks that hold them.
func (l *Lake) ReadRange(ctx context.Context, path string, off, n int64) (*Reader, error) {
	_, v, err := l.Stat(ctx, path)
	if err != nil {
		return nil, err
	}
	return l.openRange(ctx, v, off, n)
}

func (l *Lake) openRange(ctx context.Context, v catalog.ObjectVersion, off, n int64) (*Reader, error) {
	if !v.Purged.IsZero() {
		return nil, fmt.Errorf("lake: %s (version %s): data purged after deletion: %w", v.Path, v.ID, ErrNotFound)
	}
	if n < 0 {
		n = v.Size - off
	}
	if off < 0 || n < 0 || off+n > v.Size {
		return nil, fmt.Errorf("lake: %s: range %d+%d outside the object's %d bytes", v.Path, off, n, v.Size)
	}
	if v.ChunkSize != ChunkSize {
		return nil, fmt.Errorf("lake: %s: chunk size %d not supported", v.Path, v.ChunkSize)
	}
	dek, err := l.dataKey(ctx, v)
	if err != nil {
		return nil, err
	}
	a, err := newAEAD(dek)
	clear(dek)
	if err != nil {
		return nil, fmt.Errorf("lake: %s: data key: %w", v.Path, ErrUnreadable)
	}
	r := &Reader{v: v, aead: a, final: numChunks(v.Size) - 1, remain: n, sealed: make([]byte, sealedChunk), plain: make([]byte, 0, ChunkSize)}
	r.idx = off / ChunkSize
	r.skip = int(off % ChunkSize)
	r.last = r.final
	if n > 0 {
		r.last = (off + n - 1) / ChunkSize
	} else if v.Size > 0 {
		r.last = r.idx - 1 // nothing to read
	}
	if off == 0 && n == v.Size {
		r.sha = sha256.New()
	}
	if r.last < r.idx {
		return r, nil
	}
	if size, err := l.be.Size(ctx, v.Blob); err != nil {
		return nil, fmt.Errorf("lake: %s (version %s): %w", v.Path, v.ID, err)
	} else if size != v.StoredSize {
		return nil, fmt.Errorf("lake: %s (version %s): stored %d bytes, recorded %d: %w", v.Path, v.ID, size, v.StoredSize, ErrIntegrity)
	}
	start := r.idx * sealedChunk
	end := min(v.StoredSize, (r.last+1)*sealedChunk)
	r.src, err = l.be.ReadRange(ctx, v.Blob, start, end-start)
	if err != nil {
		return nil, fmt.Errorf("lake: %s (version %s): %w", v.Path, v.ID, err)
	}
	return r, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.idx > r.last || r.remain == 0 && r.sha == nil {
			r.err = io.EOF
			if r.sha != nil {
				if got := hex.EncodeToString(r.sha.Sum(nil)); got != r.v.SHA256 {
					r.err = fmt.Errorf("lake: %s (version %s): plaintext sha256 %s, recorded %s: %w", r.v.Path, r.v.ID, got, r.v.SHA256, ErrIntegrity)
				}
			}
			continue
		}
		r.err = r.next()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// next decrypts chunk r.idx into r.buf.
func (r *Reader) next() error {
	want := sealedChunk
	if r.idx == r.final {
		want = int(r.v.StoredSize - r.final*sealedChunk)
	}
	if _, err := io.ReadFull(r.src, r.sealed[:want]); err != nil {
		return fmt.Errorf("lake: %s (version %s): chunk %d: %w", r.v.Path, r.v.ID, r.idx, err)
	}
	out, err := openChunk(r.aead, r.plain[:0], r.sealed[:want], r.v.ID, r.idx, r.idx == r.final, nil)
	if err != nil {
		return fmt.Errorf("lake: %s (version %s): %w", r.v.Path, r.v.ID, err)
	}
	if r.sha != nil {
		r.sha.Write(out)
	}
	out = out[r.skip:]
	r.skip = 0
	if int64(len(out)) > r.remain {
		out = out[:r.remain]
	}
	r.remain -= int64(len(out))
	r.buf = out
	r.idx++
	return nil
}

// Close releases the stored data.
func (r *Reader) Close() error {
	if r.src != nil {
		return r.src.Close()
	}
	return nil
}

// Verify reads a version whole, checking every chunk and the sha256.
func (l *Lake) Verify(ctx context.Context, v catalog.ObjectVersion) error {
	r, err := l.openRange(ctx, v, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err
}
