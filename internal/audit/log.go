package audit

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/clinomics/clinomics/internal/catalog"
)

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: log is closed")

// Store is the part of the catalog a Log writes to.
type Store interface {
	KeyStore
	// AppendAuditBatch appends es in order, all or none, and returns them
	// with Seq, Prev and Hash filled; nil means they are on stable storage.
	AppendAuditBatch(ctx context.Context, es []catalog.AuditEvent) ([]catalog.AuditEvent, error)
	// PutAuditCheckpoint stores c durably; one already at c.Seq is kept.
	PutAuditCheckpoint(ctx context.Context, c catalog.AuditCheckpoint) error
}

// Options tune a Log; zero values take the defaults.
type Options struct {
	// CheckpointEvery is how many records a checkpoint may leave unsigned (1000).
	CheckpointEvery int
	// CheckpointInterval is the longest a record waits for a checkpoint (1 minute).
	CheckpointInterval time.Duration
	// MaxBatch caps the records committed in one transaction (1000).
	MaxBatch int
	// Log receives checkpoint failures (which fail no request: the
	// records are written; the next checkpoint covers them).
	Log *slog.Logger
}

// Log is the audit trail's writer. Its methods are safe for concurrent use.
type Log struct {
	store  Store
	signer *Signer // nil: no checkpoints
	opts   Options

	mu     sync.RWMutex // held for reading while queuing, for writing by Close
	closed bool
	reqs   chan *request
	ext    chan []catalog.AuditEvent // records appended in other transactions
	done   chan struct{}

	// Owned by the committer goroutine.
	last      catalog.AuditEvent // newest record written
	unsigned  int                // records written since the last checkpoint
	oldestNew time.Time          // when the first of those was written
}

type request struct {
	e    Event
	done chan error
}

// Open loads (or creates, the first time) the signing key, wrapped by kp,
// and returns a Log writing to st.
func Open(ctx context.Context, st Store, kp Wrapper, opts Options) (*Log, error) {
	s, err := LoadSigner(ctx, st, kp)
	if err != nil {
		return nil, err
	}
	return New(st, s, opts), nil
}

// New returns a Log writing to st and signing checkpoints with signer (none
// when nil). Close it to write the last checkpoint.
func New(st Store, signer *Signer, opts Options) *Log {
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 1000
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Minute
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	l := &Log{store: st, signer: signer, opts: opts, reqs: make(chan *request, 4*opts.MaxBatch), ext: make(chan []catalog.AuditEvent, 64), done: make(chan struct{})}
	go l.run()
	return l
}

// Record appends e to the trail and returns once it is on stable storage.
// An error means the action must be treated as unaudited and fail; the
// record may still have been written when ctx ended first. Seq, Prev and
// Hash of e are ignored; a zero Time is now.
func (l *Log) Record(ctx context.Context, e Event) error {
	e, err := clean(e)
	if err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Seq, e.Prev, e.Hash = 0, "", ""
	r := &request{e: e, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.reqs <- r:
		l.mu.RUnlock()
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued, signs a last checkpoint and stops the Log.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.reqs)
	}
	l.mu.Unlock()
	<-l.done
	return nil
}

// run is the committer: it takes what is queued, up to MaxBatch records,
// and appends it in one transaction; whatever arrives meanwhile is the
// next batch.
func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(max(l.opts.CheckpointInterval/4, 10*time.Millisecond))
	defer tick.Stop()
	batch := make([]*request, 0, l.opts.MaxBatch)
	for {
		select {
		case r, ok := <-l.reqs:
			if !ok {
				l.checkpoint(true)
				return
			}
			batch = append(batch[:0], r)
			// Let the callers the last commit woke queue their next
			// records first, so they join this batch instead of
			// waiting for the next one.
			runtime.Gosched()
		fill:
			for len(batch) < l.opts.MaxBatch {
				select {
				case r, ok := <-l.reqs:
					if !ok {
						break fill // closed: commit this batch, then the loop ends
					}
					batch = append(batch, r)
				default:
					break fill
				}
			}
			l.commit(batch)
			l.checkpoint(false)
		case es := <-l.ext:
			l.noted(es)
			l.checkpoint(false)
		case <-tick.C:
			l.checkpoint(false)
		}
	}
}

func (l *Log) commit(batch []*request) {
	es := make([]catalog.AuditEvent, len(batch))
	for i, r := range batch {
		es[i] = r.e
	}
	out, err := l.store.AppendAuditBatch(context.Background(), es)
	for _, r := range batch {
		r.done <- err
	}
	if err != nil {
		return
	}
	l.noted(out)
}

// noted counts records written (by the Log or, through Appended, by
// another writer) towards the next checkpoint.
func (l *Log) noted(out []catalog.AuditEvent) {
	if len(out) == 0 {
		return
	}
	if l.unsigned == 0 {
		l.oldestNew = time.Now()
	}
	if last := out[len(out)-1]; last.Seq > l.last.Seq {
		l.last = last
	}
	l.unsigned += len(out)
}

// Appended tells the Log about records appended in another transaction
// (the HL7 inbox writes its records with the messages they describe), so
// its signed checkpoints cover them too. es must be as appended (with
// Seq and Hash).
func (l *Log) Appended(es []catalog.AuditEvent) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed || len(es) == 0 {
		return
	}
	l.ext <- es
}

// Check validates e as Record does, returning it with its free text made
// safe: for writers that append records in their own transactions.
func Check(e Event) (Event, error) { return clean(e) }

// checkpoint signs the newest record written when enough records or time
// have passed since the last checkpoint, or when final and any have.
func (l *Log) checkpoint(final bool) {
	if l.signer == nil || l.unsigned == 0 {
		return
	}
	if !final && l.unsigned < l.opts.CheckpointEvery && time.Since(l.oldestNew) < l.opts.CheckpointInterval {
		return
	}
	c := l.signer.Sign(l.last.Seq, l.last.Hash, time.Now())
	if err := l.store.PutAuditCheckpoint(context.Background(), c); err != nil {
		l.opts.Log.Error("audit: checkpoint not written; retrying with the next one", "seq", c.Seq, "err", err.Error())
		return
	}
	l.unsigned = 0
}
