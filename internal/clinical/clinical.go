// Package clinical is the clinical database: patients and their
// identifiers, encounters, orders and results, kept in the catalog with
// every piece of patient data sealed.
//
// Names, dates, identifier values, result values and message bodies are
// encrypted with AES-256-GCM under the "clinical" data key (itself wrapped
// by the key provider, like the lake's data keys) before they reach the
// catalog; the additional data binds each sealed record to its table and
// id, so records cannot be swapped. Lookups by identifier go through
// keyed hashes (HMAC-SHA256 under a second key): the catalog can find the
// patient with MRN 12345 at authority HOSP without ever holding "12345".
// Patient ids are random and pseudonymous: they are what the lake, the
// audit trail and the pipelines use.
//
// Updates are idempotent (records are found by their business keys:
// identifiers, visit numbers, placer order numbers) and in order per
// patient: demographics from a message older than the last one applied
// are not written over newer ones.
package clinical

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
	"github.com/clinomics/clinomics/internal/extract"
	"github.com/clinomics/clinomics/internal/keys"
)

// KeyName is the key provider's key that wraps the clinical data key.
const KeyName = "clinical"

// ErrNotFound: no such patient or record.
var ErrNotFound = errors.New("not found")

// DB is the clinical database over the catalog.
type DB struct {
	st   catalog.Clinical
	aead cipher.AEAD
	mac  []byte
	macs sync.Pool // of hash.Hash: HMAC-SHA256 under mac, reset before use
	now  func() time.Time
	auth authorities // the other names of assigning authorities (identity.go)
	// schemeID is part of every visit and order key: keys made under
	// other authority names never equal these (identity.go).
	schemeID string
	rekey    bool // Open may key the database again (Rekey)
	log      *slog.Logger
}

// Open loads the clinical data key (making it on first use) and returns
// the database. When the patient identifiers were hashed under another
// matching scheme (identity.go), Open hashes them again first.
func Open(ctx context.Context, st catalog.Clinical, kp keys.Provider, opts ...Option) (*DB, error) {
	k, err := st.GetSealingKey(ctx, KeyName)
	if errors.Is(err, catalog.ErrNotFound) {
		raw := make([]byte, 64)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		w, werr := kp.Wrap(ctx, KeyName, raw)
		clear(raw)
		if werr != nil {
			return nil, fmt.Errorf("clinical: wrapping the data key: %w", werr)
		}
		if err := st.PutSealingKey(ctx, catalog.SealingKey{Name: KeyName, KeyName: w.Key, KeyVersion: w.Version, Wrapped: w.Blob, Created: time.Now()}); err != nil {
			return nil, err
		}
		k, err = st.GetSealingKey(ctx, KeyName) // another process may have won the race
	}
	if err != nil {
		return nil, err
	}
	raw, err := kp.Unwrap(ctx, keys.Wrapped{Key: k.KeyName, Version: k.KeyVersion, Blob: k.Wrapped})
	if err != nil {
		return nil, fmt.Errorf("clinical: the data key does not unwrap: %w", err)
	}
	if len(raw) != 64 {
		return nil, errors.New("clinical: the data key has the wrong length")
	}
	block, err := aes.NewCipher(raw[:32])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	d := &DB{st: st, aead: aead, mac: raw[32:], now: time.Now, log: slog.Default()}
	d.macs.New = func() any { return hmac.New(sha256.New, d.mac) }
	for _, o := range opts {
		if err := o(d); err != nil {
			return nil, err
		}
	}
	d.schemeID = d.scheme()
	if err := d.reindex(ctx); errors.Is(err, ErrOtherScheme) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("clinical: re-indexing patient identifiers: %w", err)
	}
	return d, nil
}

// seal encrypts v's JSON, bound to kind and id.
func (d *DB) seal(kind, id string, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return d.SealRaw(kind, id, plain)
}

// open decrypts what seal made for kind and id into v.
func (d *DB) open(kind, id string, b []byte, v any) error {
	plain, err := d.OpenRaw(kind, id, b)
	if err != nil {
		return err
	}
	defer clear(plain)
	return json.Unmarshal(plain, v)
}

// hash is the keyed hash (blind index) of a business key.
func (d *DB) hash(kind string, parts ...string) string {
	m := d.macs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, kind)
	for _, p := range parts {
		m.Write([]byte{0})
		io.WriteString(m, p)
	}
	var sum [sha256.Size]byte
	out := hex.EncodeToString(m.Sum(sum[:0]))
	d.macs.Put(m)
	return out
}

// parallel calls fn over [0, n) split into ranges, one goroutine per CPU
// when n is large enough to be worth it: the sealing and hashing of a
// batch, done before (not in) its transaction's serial part.
func parallel(n int, fn func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), n/64)
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := range w {
		lo, hi := k*n/w, (k+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// Hash is the keyed hash (blind index) of a business key, for other
// parts that keep lookups beside sealed records (the FHIR store's search
// tokens): equal inputs give equal hashes under this database's key, and
// the hash reveals nothing of them without it.
func (d *DB) Hash(kind string, parts ...string) string { return d.hash(kind, parts...) }

// keyOrderedIDs returns n new random ids, the i-th for the item whose
// key key(i) gives, handed out so that key order is id order: a batch's
// new rows are then written in key order in every index (by id and by
// key), a few neighbouring pages a statement rather than a page a row,
// and the ids are as random as before.
func keyOrderedIDs(prefix string, n int, key func(i int) string) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID(prefix)
	}
	slices.Sort(ids)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	out := make([]string, n)
	for k, i := range order {
		out[i] = ids[k]
	}
	return out
}

func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// ErrOtherScheme: the clinical database was re-indexed under other
// authority names (another process with another clinical.authorities)
// since this one opened it; its keys would no longer find records.
var ErrOtherScheme error = publicError("clinical: the database is keyed under other authority names than this configuration's (clinical.authorities): use the server's configuration, or restart `clinomics serve` with the new names to key it again")

// publicError is an error whose text holds no patient data: logs may
// show it (extract.PublicError).
type publicError string

func (e publicError) Error() string  { return string(e) }
func (e publicError) Public() string { return string(e) }

var _ extract.PublicError = publicError("")

// begin is the Tx of a transaction, after checking that the database's
// keys are still this DB's scheme.
func (d *DB) begin(ctx context.Context, tx catalog.ClinicalTx) (*Tx, error) {
	if err := tx.LockScheme(ctx, false); err != nil {
		return nil, err
	}
	got, err := tx.Setting(ctx, schemeSetting)
	if err != nil {
		return nil, err
	}
	if got != d.schemeID {
		return nil, ErrOtherScheme
	}
	return &Tx{d: d, tx: tx, ctx: ctx}, nil
}

// Update runs fn in one durable transaction.
func (d *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return d.st.InClinicalTx(ctx, func(tx catalog.ClinicalTx) error {
		t, err := d.begin(ctx, tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

// UpdateNoWait runs fn in one transaction and returns once it is
// committed; durable returns once the commit is on stable storage (as
// Update's return means), sharing one disk sync with other commits while
// the caller goes on with its next transaction. Acknowledge nothing to a
// sender before durable returns nil.
func (d *DB) UpdateNoWait(ctx context.Context, fn func(*Tx) error) (durable func() error, err error) {
	return d.st.InClinicalTxNoWait(ctx, func(tx catalog.ClinicalTx) error {
		t, err := d.begin(ctx, tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

// Tx is the clinical database inside one transaction.
type Tx struct {
	d   *DB
	tx  catalog.ClinicalTx
	ctx context.Context
}
