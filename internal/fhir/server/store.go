package server

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors of stores.
var (
	// ErrNotFound: no resource of that type and id.
	ErrNotFound = errors.New("fhir: resource not found")
	// ErrConflict: a write's version is not one more than the stored one
	// (someone else wrote first).
	ErrConflict = errors.New("fhir: version conflict")
)

// Record is the current version of one resource.
type Record struct {
	Type    string
	ID      string
	Version int       // meta.versionId, from 1
	Updated time.Time // meta.lastUpdated
	// Seq orders resources by creation: assigned by the store when the
	// resource is first written, unchanged by updates, never reused.
	Seq int64
	// Patient is the pseudonymous id of the patient the resource is about
	// ("" when none): the resource's own id for a Patient, else its
	// subject's. For the audit trail.
	Patient string
	// Tokens are the search index entries (Index); a store matches them by
	// equality only.
	Tokens []string
	Body   json.RawMessage // the resource, id and meta set
}

// Bound is one _lastUpdated condition.
type Bound struct {
	Op string // "gt", "ge", "lt", "le"
	T  time.Time
}

// Holds reports whether t satisfies the bound.
func (b Bound) Holds(t time.Time) bool {
	switch b.Op {
	case "gt":
		return t.After(b.T)
	case "ge":
		return !t.Before(b.T)
	case "lt":
		return t.Before(b.T)
	case "le":
		return !t.After(b.T)
	}
	return false
}

// Query is a search of one resource type. A record matches when it is of
// Type, its id is one of IDs (when any), for every group of Tokens it has
// at least one of the group's tokens, its Updated satisfies every bound,
// and its Seq is at most MaxSeq (when not 0).
type Query struct {
	Type    string
	IDs     []string
	Tokens  [][]string
	Updated []Bound
	MaxSeq  int64
	Offset  int
	Limit   int // 0: count only
}

// Matches reports whether rec matches q (for stores that filter in Go).
func (q *Query) Matches(rec *Record) bool {
	if rec.Type != q.Type || (q.MaxSeq > 0 && rec.Seq > q.MaxSeq) {
		return false
	}
	if len(q.IDs) > 0 && !contains(q.IDs, rec.ID) {
		return false
	}
	for _, b := range q.Updated {
		if !b.Holds(rec.Updated) {
			return false
		}
	}
	for _, group := range q.Tokens {
		found := false
		for _, tok := range group {
			if contains(rec.Tokens, tok) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Result is one page of a search.
type Result struct {
	Records []Record // in Seq order, from Offset, at most Limit
	Total   int      // all matches within the snapshot
	MaxSeq  int64    // the snapshot: q.MaxSeq, or the store's highest Seq when that was 0
}

// Store is what the server reads.
type Store interface {
	// Get returns the current version of typ/id, or ErrNotFound.
	Get(ctx context.Context, typ, id string) (Record, error)
	// Search returns the matches of q in Seq order.
	Search(ctx context.Context, q Query) (Result, error)
}

// Tx is a write transaction: reads see the committed state (not the
// transaction's own puts).
type Tx interface {
	Get(ctx context.Context, typ, id string) (Record, error)
	Search(ctx context.Context, q Query) (Result, error)
	// Put stages rec. Its Version must be one more than the stored one
	// (1 for a new resource), else Apply fails with ErrConflict. Seq is
	// assigned by the store.
	Put(rec Record) error
}

// WritableStore is what the server writes, in writable mode.
type WritableStore interface {
	Store
	// Apply runs fn and writes what it put atomically and durably, only
	// if fn returns nil: all or nothing, no partial write is left behind.
	// Transactions are serialized.
	Apply(ctx context.Context, fn func(tx Tx) error) error
}
