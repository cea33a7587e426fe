package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// InClinicalTxNoWait is InClinicalTx split in two: it returns once the
// transaction is committed — visible, and safe from a crash of this
// process — and durable waits until it is on stable storage as well, as
// InClinicalTx's return means. Several commits share one disk sync, and
// the next transaction can run while the previous one's sync is under
// way: that is what makes a single writer (the HL7 inbox) fast. Nothing
// must be acknowledged to anyone before durable returns nil; an error
// from durable is sticky (the store has lost track of what is on disk).
//
// On SQLite the commit runs with synchronous=NORMAL, which in WAL mode
// appends the transaction to the write-ahead log without syncing it, and
// durable syncs the log file; SQLite syncs the log itself before it
// copies anything from it into the database (checkpoints). On
// PostgreSQL the commit is synchronous and durable returns at once.
func (s *sqlStore) InClinicalTxNoWait(ctx context.Context, fn func(tx ClinicalTx) error) (durable func() error, err error) {
	if s.postgres || s.wal == nil {
		return func() error { return nil }, s.InClinicalTx(ctx, fn)
	}
	var inner error
	err = func() error {
		tx, err := s.db.BeginTx(ctx, nil) // synchronous=NORMAL: the connection's default
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if inner = fn(&clinicalTx{s: s, tx: tx}); inner != nil {
			return inner
		}
		return tx.Commit()
	}()
	if inner != nil {
		return nil, inner
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	gen := s.wal.committed.Add(1)
	if gen-s.wal.pokedAt.Load() >= checkpointEvery {
		if now := time.Now().UnixNano(); now-s.wal.pokedWhen.Load() >= int64(checkpointGap) {
			s.wal.pokedAt.Store(gen)
			s.wal.pokedWhen.Store(now)
			s.wal.poke()
		}
	}
	return func() error { return s.wal.syncThrough(gen) }, nil
}

// checkpointEvery and checkpointGap: the background checkpointer copies
// the write-ahead log into the database every 16 commits, but not more
// often than every 50 ms. A checkpoint copies each page once however
// many commits wrote it since the last one, and many commits write the
// same pages (page 1, the rightmost leaves of the tables that grow at
// their end), so a writer that commits small groups fast (the HL7
// inbox: a commit a message for a lone sender, two groups for its
// senders when the machine has CPU to spare) would spend about twice
// the CPU on checkpoints for the same messages. At 5,000 messages/s in
// groups of 16 (300 commits a second) the two limits are the same.
const (
	checkpointEvery = 16
	checkpointGap   = 50 * time.Millisecond
)

// walCheckpointBackstop is the main connection's wal_autocheckpoint (in
// pages, 40 MiB): the connection that writes copies the log into the
// database itself only when the background checkpointer falls behind.
// SQLite's default (1000 pages) made the inbox's writer do that work
// itself every few dozen commits.
const walCheckpointBackstop = 10000

// walSync makes commits to a SQLite database in WAL mode durable by
// syncing its write-ahead log: on Linux, fsync of any descriptor of a
// file writes the file's data, whoever wrote it.
type walSync struct {
	db        string        // the database file; its log is db + "-wal"
	committed atomic.Uint64 // commits made, counted after each returned
	pokedAt   atomic.Uint64 // the commit that last poked the checkpointer
	pokedWhen atomic.Int64  // and when (Unix ns)

	// The checkpointer: a connection of its own that copies the log into
	// the database (PASSIVE: never in a writer's way) off the writer's
	// goroutine, when poked and every second.
	ckpt    *sql.DB
	pokes   chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	mu     sync.Mutex
	synced uint64 // commits known to be on stable storage
	f      *os.File
	ino    uint64
	err    error // sticky
}

// syncThrough returns once commit number gen (and every one before it) is
// on stable storage: one sync covers every commit made when it starts.
func (w *walSync) syncThrough(gen uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.synced >= gen {
		return nil
	}
	upTo := w.committed.Load()
	if err := w.sync(); err != nil {
		w.err = fmt.Errorf("catalog: syncing the write-ahead log: %w", err)
		return w.err
	}
	w.synced = upTo
	return nil
}

func (w *walSync) sync() error {
	path := w.db + "-wal"
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		// No log: everything was checkpointed into the database (and the
		// log removed, as SQLite does when the last connection closes).
		return syncFile(w.db)
	}
	if err != nil {
		return err
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	if w.f == nil || ino != w.ino {
		// First use, or SQLite made a new log: sync its directory entry too.
		if w.f != nil {
			w.f.Close()
		}
		if w.f, err = os.Open(path); err != nil {
			w.f = nil
			return err
		}
		w.ino = ino
		if err := syncFile(filepath.Dir(path)); err != nil {
			return err
		}
	}
	return w.f.Sync()
}

// startCheckpointer opens the checkpointer's connection (dsn: the
// store's) and starts it.
func (w *walSync) startCheckpointer(dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	w.ckpt, w.pokes, w.stop, w.stopped = db, make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-w.pokes:
			case <-tick.C:
			}
			// Busy (another checkpointer at work) or failed: the next
			// poke tries again, and the backstop stands behind it.
			w.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}()
	return nil
}

func (w *walSync) poke() {
	select {
	case w.pokes <- struct{}{}:
	default:
	}
}

// stopCheckpointer stops the checkpointer and closes its connection,
// before the store's own closes (the last connection to close
// checkpoints the whole log and removes it).
func (w *walSync) stopCheckpointer() {
	if w.ckpt == nil {
		return
	}
	close(w.stop)
	<-w.stopped
	w.ckpt.Close()
	w.ckpt = nil
}

func (w *walSync) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
