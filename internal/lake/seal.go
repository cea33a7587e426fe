package lake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// The stored form of an object is a sequence of chunks, each sealed on its
// own with AES-256-GCM under the object's data key:
//
//	nonce (12 random bytes) | ciphertext (up to ChunkSize bytes) | tag (16)
//
// The additional data binds each chunk to its version id, its index and
// whether it is the last one, so chunks cannot be reordered, moved between
// objects or dropped from the end without failing authentication. Every
// object has at least one chunk (an empty object is one empty final chunk).
// Random nonces keep a re-sent part of a resumed upload from ever reusing
// a nonce under the same key.
const (
	ChunkSize     = 64 << 10
	chunkOverhead = 12 + 16
	sealedChunk   = ChunkSize + chunkOverhead
	chunksPerPart = 64
	// PartSize is the plaintext size of an upload part.
	PartSize = ChunkSize * chunksPerPart
	// storedPart is the ciphertext size of a full part.
	storedPart = sealedChunk * chunksPerPart
	formatTag  = "clinomics-lake/1\x00"
)

// ErrIntegrity means stored data failed verification: a chunk did not
// authenticate, the stored size is wrong, or the plaintext's sha256 differs
// from the one recorded when it was written. Never silently returned data.
var ErrIntegrity = errors.New("integrity check failed")

func newAEAD(dek []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(dek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func chunkAAD(dst []byte, version string, idx int64, final bool) []byte {
	dst = append(dst[:0], formatTag...)
	dst = append(dst, version...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(idx))
	if final {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// sealPart appends the sealed chunks of plain (chunks first, first+1, ...)
// to dst; final marks the object's last chunk.
func sealPart(a cipher.AEAD, dst []byte, version string, first int64, plain []byte, final bool) []byte {
	var ad []byte
	for i := 0; ; i++ {
		n := min(ChunkSize, len(plain))
		last := final && n == len(plain)
		ad = chunkAAD(ad, version, first+int64(i), last)
		off := len(dst)
		dst = append(dst, make([]byte, 12)...)
		rand.Read(dst[off:])
		dst = a.Seal(dst, dst[off:off+12], plain[:n], ad)
		plain = plain[n:]
		if len(plain) == 0 {
			return dst
		}
	}
}

// numChunks is how many chunks an object of size plaintext bytes has.
func numChunks(size int64) int64 {
	if size == 0 {
		return 1
	}
	return (size + ChunkSize - 1) / ChunkSize
}

// storedSize is the ciphertext size of an object of size plaintext bytes.
func storedSize(size int64) int64 {
	return size + numChunks(size)*chunkOverhead
}

// openChunk decrypts one sealed chunk (idx) in place into dst.
func openChunk(a cipher.AEAD, dst, sealed []byte, version string, idx int64, final bool, ad []byte) ([]byte, error) {
	if len(sealed) < chunkOverhead {
		return nil, fmt.Errorf("chunk %d: short: %w", idx, ErrIntegrity)
	}
	out, err := a.Open(dst, sealed[:12], sealed[12:], chunkAAD(ad, version, idx, final))
	if err != nil {
		return nil, fmt.Errorf("chunk %d does not authenticate: %w", idx, ErrIntegrity)
	}
	return out, nil
}
