package keys

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"
)

// Local is a keyring kept in one file, sealed with AES-256-GCM under a key
// derived from a passphrase with Argon2id (memory-hard). Key material only
// ever exists in memory unsealed. Changes (new key, rotation, destruction)
// are written to a temporary file, synced and renamed, under an exclusive
// file lock, so concurrent processes (the server and a CLI command) never
// lose each other's changes and a crash never leaves a torn keyring.
//
// Destroying a key removes its material from the keyring file; copies of the
// file in backups still hold it until those backups expire, which the
// operations guide says.
type Local struct {
	path string
	pass []byte

	mu   sync.Mutex
	seal []byte // derived from pass and the file's salt
	salt []byte
	kdf  kdfParams
	ring ring
	stat fileStamp // of the file ring was read from
}

// kdfParams are stored in the file so they can be raised later.
type kdfParams struct {
	Alg       string `json:"alg"` // "argon2id"
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

type sealedFile struct {
	Format     string    `json:"format"`
	KDF        kdfParams `json:"kdf"`
	Nonce      []byte    `json:"nonce"`
	Ciphertext []byte    `json:"ciphertext"`
}

type ring struct {
	Keys map[string]*ringKey `json:"keys"`
}

type ringKey struct {
	Versions  []ringVersion `json:"versions,omitempty"`
	Destroyed int64         `json:"destroyed,omitempty"` // unix seconds; material gone
}

type ringVersion struct {
	ID      string `json:"id"`
	Key     []byte `json:"key"`
	Created int64  `json:"created"`
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

const keyringFormat = "clinomics-keyring/1"

// DefaultKDF is the Argon2id cost for new keyrings: 64 MiB, 3 passes.
var DefaultKDF = struct {
	Time      uint32
	MemoryKiB uint32
}{3, 64 * 1024}

var _ Provider = (*Local)(nil)

// OpenLocal opens the keyring at path with passphrase, creating an empty
// one (mode 0600) if the file does not exist. A wrong passphrase is
// ErrUnwrap; an empty passphrase is ErrSealed.
func OpenLocal(path, passphrase string) (*Local, error) {
	if passphrase == "" {
		return nil, fmt.Errorf("keyring %s: %w: set the passphrase (keys.local.passphrase_env names the variable)", path, ErrSealed)
	}
	l := &Local{path: path, pass: []byte(passphrase)}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	unlock, err := l.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		salt := make([]byte, 16)
		rand.Read(salt)
		l.kdf = kdfParams{Alg: "argon2id", Salt: salt, Time: DefaultKDF.Time, MemoryKiB: DefaultKDF.MemoryKiB, Threads: 2}
		l.seal = l.derive(l.kdf)
		l.ring = ring{Keys: map[string]*ringKey{}}
		if err := l.write(); err != nil {
			return nil, err
		}
		return l, nil
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Local) derive(p kdfParams) []byte {
	return argon2.IDKey(l.pass, p.Salt, p.Time, p.MemoryKiB, p.Threads, 32)
}

// Describe names the keyring file.
func (l *Local) Describe() string { return "local keyring " + l.path }

// lock takes an exclusive lock on path+".lock" for changes and reloads.
func (l *Local) lock() (func(), error) {
	f, err := os.OpenFile(l.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("keyring: lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// load reads and unseals the file; the caller holds the file lock.
func (l *Local) load() error {
	data, err := os.ReadFile(l.path)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	st, err := os.Stat(l.path)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	var sf sealedFile
	if err := json.Unmarshal(data, &sf); err != nil || sf.Format != keyringFormat {
		return fmt.Errorf("keyring %s: not a clinomics keyring file", l.path)
	}
	if sf.KDF.Alg != "argon2id" || sf.KDF.MemoryKiB < 8*1024 || sf.KDF.MemoryKiB > 4<<20 || sf.KDF.Time == 0 || sf.KDF.Time > 100 || sf.KDF.Threads == 0 || len(sf.KDF.Salt) < 16 {
		return fmt.Errorf("keyring %s: unsupported key-derivation parameters", l.path)
	}
	if l.seal == nil || !bytes.Equal(sf.KDF.Salt, l.salt) {
		l.seal = l.derive(sf.KDF)
	}
	plain, err := gcmOpen(l.seal, sf.Nonce, sf.Ciphertext, []byte(keyringFormat))
	if err != nil {
		return fmt.Errorf("keyring %s: wrong passphrase or damaged file: %w", l.path, ErrUnwrap)
	}
	var r ring
	if err := json.Unmarshal(plain, &r); err != nil {
		return fmt.Errorf("keyring %s: damaged contents", l.path)
	}
	clear(plain)
	if r.Keys == nil {
		r.Keys = map[string]*ringKey{}
	}
	l.ring, l.kdf, l.salt = r, sf.KDF, sf.KDF.Salt
	l.stat = fileStamp{st.Size(), st.ModTime()}
	return nil
}

// write seals the ring to a temporary file, syncs it and renames it over
// the keyring; the caller holds the file lock.
func (l *Local) write() error {
	plain, err := json.Marshal(l.ring)
	if err != nil {
		return err
	}
	nonce, ct := gcmSeal(l.seal, plain, []byte(keyringFormat))
	clear(plain)
	data, err := json.MarshalIndent(sealedFile{Format: keyringFormat, KDF: l.kdf, Nonce: nonce, Ciphertext: ct}, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("keyring: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("keyring: sync: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		d.Sync()
		d.Close()
	}
	st, err := os.Stat(l.path)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	l.salt = l.kdf.Salt
	l.stat = fileStamp{st.Size(), st.ModTime()}
	return nil
}

// refresh reloads the ring if another process changed the file.
func (l *Local) refresh() error {
	st, err := os.Stat(l.path)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if st.Size() == l.stat.size && st.ModTime().Equal(l.stat.mtime) {
		return nil
	}
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return l.load()
}

// change runs fn on a freshly loaded ring under the file lock and writes it.
func (l *Local) change(fn func() error) error {
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.load(); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	return l.write()
}

func newVersion(k *ringKey) string {
	id := strconv.Itoa(len(k.Versions) + 1)
	m := make([]byte, 32)
	rand.Read(m)
	k.Versions = append(k.Versions, ringVersion{ID: id, Key: m, Created: time.Now().Unix()})
	return id
}

// Wrap implements Provider.
func (l *Local) Wrap(ctx context.Context, name string, dek []byte) (Wrapped, error) {
	if err := validName(name); err != nil {
		return Wrapped{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return Wrapped{}, err
	}
	k := l.ring.Keys[name]
	if k == nil {
		err := l.change(func() error {
			if k = l.ring.Keys[name]; k == nil {
				k = &ringKey{}
				l.ring.Keys[name] = k
				newVersion(k)
			}
			return nil
		})
		if err != nil {
			return Wrapped{}, err
		}
	}
	if k.Destroyed != 0 {
		return Wrapped{}, fmt.Errorf("key %s: %w", name, ErrDestroyed)
	}
	v := k.Versions[len(k.Versions)-1]
	nonce, ct := gcmSeal(v.Key, dek, aad(name, v.ID))
	return Wrapped{Key: name, Version: v.ID, Blob: append(nonce, ct...)}, nil
}

// Unwrap implements Provider.
func (l *Local) Unwrap(ctx context.Context, w Wrapped) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return nil, err
	}
	k := l.ring.Keys[w.Key]
	if k == nil {
		return nil, fmt.Errorf("key %s: %w", w.Key, ErrNotFound)
	}
	if k.Destroyed != 0 {
		return nil, fmt.Errorf("key %s: %w", w.Key, ErrDestroyed)
	}
	for _, v := range k.Versions {
		if v.ID != w.Version {
			continue
		}
		if len(w.Blob) < 12 {
			return nil, fmt.Errorf("key %s version %s: %w", w.Key, w.Version, ErrUnwrap)
		}
		dek, err := gcmOpen(v.Key, w.Blob[:12], w.Blob[12:], aad(w.Key, v.ID))
		if err != nil {
			return nil, fmt.Errorf("key %s version %s: %w", w.Key, w.Version, ErrUnwrap)
		}
		return dek, nil
	}
	return nil, fmt.Errorf("key %s version %s: %w", w.Key, w.Version, ErrNotFound)
}

// Rotate implements Provider.
func (l *Local) Rotate(ctx context.Context, name string) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var id string
	err := l.change(func() error {
		k := l.ring.Keys[name]
		if k == nil {
			return fmt.Errorf("key %s: %w", name, ErrNotFound)
		}
		if k.Destroyed != 0 {
			return fmt.Errorf("key %s: %w", name, ErrDestroyed)
		}
		id = newVersion(k)
		return nil
	})
	return id, err
}

// Destroy implements Provider: the material of every version is removed
// from the keyring file; a tombstone remains so reads say "destroyed".
func (l *Local) Destroy(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.change(func() error {
		k := l.ring.Keys[name]
		if k == nil {
			return fmt.Errorf("key %s: %w", name, ErrNotFound)
		}
		for i := range k.Versions {
			clear(k.Versions[i].Key)
		}
		k.Versions = nil
		if k.Destroyed == 0 {
			k.Destroyed = time.Now().Unix()
		}
		return nil
	})
}

// Names lists the keys in the keyring with their newest version ("" when
// destroyed), for `clinomics keys list`.
func (l *Local) Names() (map[string]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for n, k := range l.ring.Keys {
		if len(k.Versions) > 0 {
			out[n] = k.Versions[len(k.Versions)-1].ID
		} else {
			out[n] = ""
		}
	}
	return out, nil
}

func validName(name string) error {
	if name == "" || len(name) > 127 {
		return fmt.Errorf("key name %q: must be 1 to 127 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("key name %q: only letters, digits and '-'", name)
		}
	}
	return nil
}

func aad(name, version string) []byte { return []byte("clinomics-dek\x00" + name + "\x00" + version) }

func gcmSeal(key, plain, ad []byte) (nonce, ct []byte) {
	g := newGCM(key)
	nonce = make([]byte, g.NonceSize())
	rand.Read(nonce)
	return nonce, g.Seal(nil, nonce, plain, ad)
}

func gcmOpen(key, nonce, ct, ad []byte) ([]byte, error) {
	g := newGCM(key)
	if len(nonce) != g.NonceSize() {
		return nil, errors.New("bad nonce")
	}
	return g.Open(nil, nonce, ct, ad)
}

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // keys are always 32 bytes here
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}
