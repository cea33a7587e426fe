package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// MemStore is a WritableStore in memory, optionally kept in a journal
// file: each transaction is one JSON line, appended and fsync'd before
// Apply returns, and replayed by OpenMem. A torn last line (a crash in the
// middle of an append) is cut off at open; it was never acknowledged.
type MemStore struct {
	mu     sync.RWMutex
	recs   map[string]*Record   // by Type/id
	byType map[string][]*Record // in Seq order
	seq    int64
	f      *os.File // nil: memory only
	size   int64    // the journal's length up to its last whole line
}

var _ WritableStore = (*MemStore)(nil)

// maxJournalLine bounds one transaction in the journal.
const maxJournalLine = 64 << 20

// OpenMem opens the store, replaying the journal at path ("" for memory only).
func OpenMem(path string) (*MemStore, error) {
	s := &MemStore{recs: map[string]*Record{}, byType: map[string][]*Record{}}
	if path == "" {
		return s, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fhir journal: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a torn tail (no newline) is dropped below
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("fhir journal: %w", err)
		}
		line++
		if len(b) > maxJournalLine {
			f.Close()
			return nil, fmt.Errorf("fhir journal: line %d: too long", line)
		}
		var recs []Record
		if err := json.Unmarshal(b, &recs); err != nil {
			f.Close()
			return nil, fmt.Errorf("fhir journal: line %d: %w", line, err)
		}
		s.apply(recs)
		s.size += int64(len(b))
	}
	if err := f.Truncate(s.size); err != nil {
		f.Close()
		return nil, fmt.Errorf("fhir journal: %w", err)
	}
	if _, err := f.Seek(s.size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("fhir journal: %w", err)
	}
	s.f = f
	return s, nil
}

// Close closes the journal.
func (s *MemStore) Close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// apply puts committed records in the maps (the caller holds mu or owns s).
func (s *MemStore) apply(recs []Record) {
	for i := range recs {
		rec := recs[i]
		key := rec.Type + "/" + rec.ID
		if old, ok := s.recs[key]; ok {
			*old = rec // keeps its place in byType
		} else {
			p := &rec
			s.recs[key] = p
			s.byType[rec.Type] = append(s.byType[rec.Type], p)
		}
		s.seq = max(s.seq, rec.Seq)
	}
}

// Get implements Store.
func (s *MemStore) Get(ctx context.Context, typ, id string) (Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.get(typ, id)
}

func (s *MemStore) get(typ, id string) (Record, error) {
	if r, ok := s.recs[typ+"/"+id]; ok {
		return *r, nil
	}
	return Record{}, ErrNotFound
}

// Search implements Store.
func (s *MemStore) Search(ctx context.Context, q Query) (Result, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.search(q), nil
}

func (s *MemStore) search(q Query) Result {
	if q.MaxSeq == 0 {
		q.MaxSeq = s.seq
	}
	res := Result{MaxSeq: q.MaxSeq}
	for _, r := range s.byType[q.Type] {
		if r.Seq > q.MaxSeq {
			break // byType is in Seq order
		}
		if !q.Matches(r) {
			continue
		}
		if res.Total >= q.Offset && len(res.Records) < q.Limit {
			res.Records = append(res.Records, *r)
		}
		res.Total++
	}
	return res
}

// Apply implements WritableStore.
func (s *MemStore) Apply(ctx context.Context, fn func(tx Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &memTx{s: s}
	if err := fn(tx); err != nil {
		return err
	}
	if len(tx.puts) == 0 {
		return nil
	}
	seq := s.seq
	staged := map[string]bool{}
	for i := range tx.puts {
		rec := &tx.puts[i]
		key := rec.Type + "/" + rec.ID
		old, ok := s.recs[key]
		switch {
		case staged[key]:
			return fmt.Errorf("%w: %s written twice in one transaction", ErrConflict, key)
		case ok && rec.Version != old.Version+1, !ok && rec.Version != 1:
			return ErrConflict
		case ok:
			rec.Seq = old.Seq
		default:
			seq++
			rec.Seq = seq
		}
		staged[key] = true
	}
	if s.f != nil {
		line, err := json.Marshal(tx.puts)
		if err != nil {
			return err
		}
		line = append(line, '\n')
		if bytes.Count(line, []byte{'\n'}) != 1 {
			return errors.New("fhir journal: encoded line holds a newline")
		}
		if _, err := s.f.Write(line); err != nil {
			s.f.Truncate(s.size) // no partial line is left behind
			s.f.Seek(s.size, io.SeekStart)
			return fmt.Errorf("fhir journal: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			s.f.Truncate(s.size)
			s.f.Seek(s.size, io.SeekStart)
			return fmt.Errorf("fhir journal: %w", err)
		}
		s.size += int64(len(line))
	}
	s.apply(tx.puts)
	return nil
}

// memTx reads the committed state under the store's write lock.
type memTx struct {
	s    *MemStore
	puts []Record
}

func (t *memTx) Get(ctx context.Context, typ, id string) (Record, error) { return t.s.get(typ, id) }
func (t *memTx) Search(ctx context.Context, q Query) (Result, error) {
	return t.s.search(q), nil
}
func (t *memTx) Put(rec Record) error {
	t.puts = append(t.puts, rec)
	return nil
}
