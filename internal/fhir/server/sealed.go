package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/clinomics/clinomics/internal/catalog"
)

// Sealer seals resources and hashes search tokens: the clinical database
// (clinical.DB), whose data key and hash key keep patient data in the
// catalog.
type Sealer interface {
	// SealRaw encrypts b bound to kind/id; OpenRaw fails when b was not
	// sealed for kind/id under the key (tampered, swapped, or another key).
	SealRaw(kind, id string, b []byte) ([]byte, error)
	OpenRaw(kind, id string, b []byte) ([]byte, error)
	// Hash is a keyed hash: equal for equal inputs, and revealing nothing
	// of them without the key.
	Hash(kind string, parts ...string) string
}

// SealKind is the kind resources are sealed as (bound to "Type/id"), and
// TokenKind the kind search tokens are hashed as.
const (
	SealKind  = "fhir"
	TokenKind = "fhir-token"
)

// SealedStore is the WritableStore of the platform's own FHIR API, in the
// catalog: each resource's JSON is sealed (bound to its type and id) and
// its search tokens are kept as keyed hashes, so the catalog holds no
// identifier, name or result in the clear. In the clear are the type, the
// id (ours: pseudonymous), the version, the last update, the insertion
// order and the pseudonymous patient id.
//
// A read checks that the opened resource is the one the row says (type,
// id and version), so a row's sealed content cannot be swapped for
// another resource's or an older version's without being noticed.
// Records read back carry no Tokens (only their hashes are kept).
type SealedStore struct {
	cat  catalog.FHIR
	seal Sealer
}

var _ WritableStore = (*SealedStore)(nil)

// NewSealed returns the store over the catalog's FHIR tables.
func NewSealed(cat catalog.FHIR, s Sealer) *SealedStore {
	return &SealedStore{cat: cat, seal: s}
}

// ErrTampered: a stored resource does not open, or is not the resource
// its row names.
var ErrTampered = errors.New("fhir: stored resource does not match its record")

// Get implements Store.
func (s *SealedStore) Get(ctx context.Context, typ, id string) (Record, error) {
	return s.get(ctx, s.cat, typ, id)
}

// Search implements Store.
func (s *SealedStore) Search(ctx context.Context, q Query) (Result, error) {
	return s.search(ctx, s.cat, q)
}

// reader is what Get and Search read through: the catalog or a
// transaction of it.
type reader interface {
	GetFHIR(ctx context.Context, typ, id string) (catalog.FHIRRow, error)
	SearchFHIR(ctx context.Context, q catalog.FHIRQuery) (catalog.FHIRResult, error)
}

func (s *SealedStore) get(ctx context.Context, rd reader, typ, id string) (Record, error) {
	row, err := rd.GetFHIR(ctx, typ, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}
	return s.open(row)
}

func (s *SealedStore) search(ctx context.Context, rd reader, q Query) (Result, error) {
	cq := catalog.FHIRQuery{Type: q.Type, IDs: q.IDs, MaxSeq: q.MaxSeq, Offset: q.Offset, Limit: q.Limit}
	for _, g := range q.Tokens {
		hg := make([]string, len(g))
		for i, tok := range g {
			hg[i] = s.hashToken(q.Type, tok)
		}
		cq.Tokens = append(cq.Tokens, hg)
	}
	for _, b := range q.Updated {
		cq.Updated = append(cq.Updated, catalog.FHIRBound{Op: b.Op, T: b.T})
	}
	res, err := rd.SearchFHIR(ctx, cq)
	if err != nil {
		return Result{}, err
	}
	out := Result{Total: res.Total, MaxSeq: res.MaxSeq}
	for _, row := range res.Rows {
		rec, err := s.open(row)
		if err != nil {
			return Result{}, err
		}
		out.Records = append(out.Records, rec)
	}
	return out, nil
}

func (s *SealedStore) hashToken(typ, tok string) string { return s.seal.Hash(TokenKind, typ, tok) }

// sealKey is what a resource's sealed body is bound to: its type, id and
// version, so that a body moved to another row, or an older version put
// back under the current version number, does not open.
func sealKey(typ, id string, version int) string {
	return typ + "/" + id + "/" + strconv.Itoa(version)
}

// open unseals a row: the sealing binds the body to the row's type, id and
// version, so a body that opens is the resource the row names.
func (s *SealedStore) open(row catalog.FHIRRow) (Record, error) {
	body, err := s.seal.OpenRaw(SealKind, sealKey(row.Type, row.ID, row.Version), row.Sealed)
	if err != nil {
		return Record{}, fmt.Errorf("%s/%s: %w", row.Type, row.ID, ErrTampered)
	}
	return Record{Type: row.Type, ID: row.ID, Version: row.Version, Updated: row.Updated, Seq: row.Seq,
		Patient: row.PatientID, Body: body}, nil
}

// Apply implements WritableStore: the puts are sealed and written in one
// catalog transaction, after fn returns nil.
func (s *SealedStore) Apply(ctx context.Context, fn func(tx Tx) error) error {
	return s.cat.InFHIRTx(ctx, func(ctlTx catalog.FHIRTx) error {
		tx := &sealedTx{s: s, tx: ctlTx}
		if err := fn(tx); err != nil {
			return err
		}
		staged := map[string]bool{}
		for _, rec := range tx.puts {
			key := rec.Type + "/" + rec.ID
			if staged[key] {
				return fmt.Errorf("%w: %s written twice in one transaction", ErrConflict, key)
			}
			staged[key] = true
			if !validType(rec.Type) || !validID(rec.ID) {
				return fmt.Errorf("fhir: %q/%q is not a valid type and id", rec.Type, rec.ID)
			}
			sealed, err := s.seal.SealRaw(SealKind, sealKey(rec.Type, rec.ID, rec.Version), rec.Body)
			if err != nil {
				return fmt.Errorf("fhir: sealing %s: %w", key, err)
			}
			row := catalog.FHIRRow{Type: rec.Type, ID: rec.ID, Version: rec.Version, Updated: rec.Updated,
				PatientID: rec.Patient, Sealed: sealed}
			for _, tok := range rec.Tokens {
				row.Tokens = append(row.Tokens, s.hashToken(rec.Type, tok))
			}
			if _, err := ctlTx.PutFHIR(ctx, row); err != nil {
				if errors.Is(err, catalog.ErrStale) {
					return fmt.Errorf("%w: %s", ErrConflict, key)
				}
				return err
			}
		}
		return nil
	})
}

// sealedTx reads the committed state (its puts are written after fn).
type sealedTx struct {
	s    *SealedStore
	tx   catalog.FHIRTx
	puts []Record
}

func (t *sealedTx) Get(ctx context.Context, typ, id string) (Record, error) {
	return t.s.get(ctx, t.tx, typ, id)
}

func (t *sealedTx) Search(ctx context.Context, q Query) (Result, error) {
	return t.s.search(ctx, t.tx, q)
}

func (t *sealedTx) Put(rec Record) error {
	t.puts = append(t.puts, rec)
	return nil
}
